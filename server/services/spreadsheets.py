"""Tables as CSV and XLSX downloads, streamed: never the whole file in memory.

CSV is UTF-8 with a BOM (so Excel opens Chinese correctly) and every text cell a spreadsheet would run
as a formula (= + - @, tab, CR) gets a leading apostrophe. XLSX is written by XlsxWriter in
constant-memory mode (each row goes to disk as it is written) into a temporary file that is then sent in
chunks and deleted; its text cells are typed as strings, never formulas or links.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable, Iterator
from decimal import Decimal

BOM = b"\xef\xbb\xbf"
CHUNK_ROWS = 500
CHUNK_BYTES = 64 * 1024
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def safe_cell(value):
    """Text that a spreadsheet would run as a formula gets a leading apostrophe (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        try:
            float(value)  # a plain negative number stays a number
            return value
        except ValueError:
            return "'" + value
    return value


def iter_csv(header: list[str], rows: Iterable[Iterable]) -> Iterator[bytes]:
    """The BOM and header, then the rows in chunks of CHUNK_ROWS."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    yield BOM + out.getvalue().encode("utf-8")
    pending = 0
    out.seek(0)
    out.truncate()
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
        pending += 1
        if pending == CHUNK_ROWS:
            yield out.getvalue().encode("utf-8")
            out.seek(0)
            out.truncate()
            pending = 0
    if pending:
        yield out.getvalue().encode("utf-8")


def iter_xlsx(header: list[str], rows: Iterable[Iterable], sheet: str = "data") -> Iterator[bytes]:
    """One worksheet written row by row to a temporary file, then read back in chunks and deleted."""
    import xlsxwriter

    with tempfile.TemporaryDirectory(prefix="codeloop-xlsx-") as folder:
        path = os.path.join(folder, "table.xlsx")
        book = xlsxwriter.Workbook(
            path,
            {
                "constant_memory": True,
                "tmpdir": folder,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
            },
        )
        worksheet = book.add_worksheet(sheet[:31])
        worksheet.write_row(0, 0, header, book.add_format({"bold": True}))
        for number, row in enumerate(rows, start=1):
            for column, value in enumerate(row):
                _write(worksheet, number, column, value)
        book.close()
        with open(path, "rb") as fh:
            while chunk := fh.read(CHUNK_BYTES):
                yield chunk


def _write(worksheet, row: int, column: int, value) -> None:
    if value is None:
        return
    if isinstance(value, Decimal):  # PostgreSQL's sums of BIGINT
        value = int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        worksheet.write_string(row, column, str(value))
    else:
        worksheet.write_number(row, column, value)
