"""Streaming exports: ``codes.csv``, the whole package as a ZIP (no temp files), and any folder as a ZIP."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from .codes import Codec
from .layout import finish_files, roll_entry, roll_plan
from .rolls import chunk_ranges, header_line, roll_bytes, rows_text
from .spec import BatchSpec

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def iter_codes_csv(
    secret: bytes, spec: BatchSpec, start: int = 0, stop: int | None = None
) -> Iterator[bytes]:
    """Stream one CSV (one header) of serials ``start..stop-1`` in chunks of 10,000 rows."""
    stop = spec.quantity if stop is None else stop
    if not 0 <= start <= stop <= spec.quantity:
        raise ValueError(f"serial range {start}..{stop} is outside 0..{spec.quantity}")
    codec = Codec(secret)
    prefix = spec.urls.prefix()
    yield header_line(spec.paired).encode("ascii")
    for a, b in chunk_ranges(start, stop):
        yield rows_text(codec, spec.batch, prefix, spec.paired, a, b).encode("ascii")


class _Sink:
    """A write-only, non-seekable file object that buffers until drained."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def drain(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def zip_date_time(created_at: str) -> tuple[int, int, int, int, int, int]:
    """The entries' timestamp: the batch's created_at (so the ZIP is reproducible)."""
    try:
        t = datetime.fromisoformat(created_at)
    except (TypeError, ValueError):
        return ZIP_EPOCH
    return (t.year, t.month, t.day, t.hour, t.minute, t.second) if t.year >= 1980 else ZIP_EPOCH


def _add(zf: zipfile.ZipFile, name: str, data: bytes, when: tuple) -> None:
    info = zipfile.ZipInfo(name, date_time=when)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)


def iter_directory_zip(path: str | Path, *, chunk_size: int = 1 << 20) -> Iterator[bytes]:
    """Stream the regular files of a folder (sorted by name, not recursive) as a ZIP.

    Entries carry a fixed 1980-01-01 timestamp, so the same files give the same ZIP bytes.
    """
    sink = _Sink()
    zf = zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_DEFLATED)
    for file in sorted(p for p in Path(path).iterdir() if p.is_file()):
        info = zipfile.ZipInfo(file.name, date_time=ZIP_EPOCH)
        info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
        info.file_size = file.stat().st_size  # lets zipfile pick ZIP64 up front for big files
        with open(file, "rb") as src, zf.open(info, "w") as dest:
            while block := src.read(chunk_size):
                dest.write(block)
                yield sink.drain()
        yield sink.drain()
    zf.close()
    yield sink.drain()


def iter_package_zip(
    secret: bytes, spec: BatchSpec, *, roll_size: int = 10_000, proof_count: int = 20
) -> Iterator[bytes]:
    """Stream the code package as a ZIP (same files and bytes as ``write_package``)."""
    codec = Codec(secret)
    prefix = spec.urls.prefix()
    when = zip_date_time(spec.created_at)
    sink = _Sink()
    zf = zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_DEFLATED)
    rolls = []
    for name, a, b in roll_plan(spec.quantity, roll_size):
        data = roll_bytes(codec, spec.batch, prefix, spec.paired, a, b)
        rolls.append(roll_entry(name, a, b, data))
        _add(zf, name, data, when)
        yield sink.drain()
    files, _ = finish_files(codec, spec, roll_size, rolls, proof_count)
    for name, data in files:
        _add(zf, name, data, when)
        yield sink.drain()
    zf.close()
    yield sink.drain()
