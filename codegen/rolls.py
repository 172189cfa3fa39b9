"""CSV rows of a code package: ``seq,serial,code,url[,inner_code,inner_url]``.

Row text is one ``str.join`` over the interleaved columns (``zip`` + ``chain``), all in C:
no per-row Python code at all, and no csv module (every field is plain ASCII without commas
or quotes, so nothing ever needs quoting).
"""

from __future__ import annotations

from itertools import chain, repeat

from .codes import INNER, OUTER, Codec

HEADER = "seq,serial,code,url"
PAIRED_HEADER = HEADER + ",inner_code,inner_url"
CHUNK_ROWS = 10_000


def header_line(paired: bool) -> str:
    """The CSV header line (with its newline)."""
    return (PAIRED_HEADER if paired else HEADER) + "\n"


def rows_text(codec: Codec, batch: int, prefix: str, paired: bool, start: int, stop: int) -> str:
    """The CSV rows for serials ``start..stop-1`` (seq = serial + 1), no header."""
    numbers = list(map(str, range(start, stop + 1)))  # serials, and shifted by one the seqs
    sep, url = repeat(","), repeat("," + prefix)
    outer = codec.encode_range(batch, start, stop, OUTER)
    if not paired:
        fields = zip(numbers[1:], sep, numbers, sep, outer, url, outer, repeat("\n"))
    else:
        inner = codec.encode_range(batch, start, stop, INNER)
        fields = zip(numbers[1:], sep, numbers, sep, outer, url, outer, sep, inner, url, inner, repeat("\n"))
    return "".join(chain.from_iterable(fields))


def roll_bytes(codec: Codec, batch: int, prefix: str, paired: bool, start: int, stop: int) -> bytes:
    """One roll file's bytes: the header then the rows of ``start..stop-1``."""
    return (header_line(paired) + rows_text(codec, batch, prefix, paired, start, stop)).encode("ascii")


def chunk_ranges(start: int, stop: int, size: int = CHUNK_ROWS) -> list[tuple[int, int]]:
    """Split ``start..stop`` into consecutive ranges of at most ``size``."""
    return [(a, min(a + size, stop)) for a in range(start, stop, size)]
