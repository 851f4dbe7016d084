"""Tables as files: CSV for German Excel and XLSX. Pure: rows in, bytes out.

Cells a spreadsheet would run as a formula (starting with = + - @, also after leading spaces, or starting
with a tab or carriage return) get a leading single quote, so they are shown as text (§10).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date, datetime

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

FORMULA_STARTS = ("=", "+", "-", "@")
CONTROL_STARTS = ("\t", "\r")

Cell = str | int | float | date | datetime | None


def neutralise(value: Cell) -> Cell:
    """The value, with a leading `'` if it is text a spreadsheet could take for a formula."""
    if not isinstance(value, str):
        return value
    if value.startswith(CONTROL_STARTS) or value.lstrip().startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _columns(rows: Sequence[dict[str, Cell]], columns: Sequence[str] | None) -> list[str]:
    if columns is not None:
        return list(columns)
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def to_csv(rows: Sequence[dict[str, Cell]], columns: Sequence[str] | None = None) -> bytes:
    """CSV as German Excel opens it: UTF-8 with BOM, `;` separated, CRLF line ends; header row first."""
    names = _columns(rows, columns)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    if names:
        writer.writerow([neutralise(name) for name in names])
    for row in rows:
        writer.writerow(["" if (v := row.get(name)) is None else neutralise(v) for name in names])
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx(rows: Sequence[dict[str, Cell]], sheet: str = "Fälle", columns: Sequence[str] | None = None) -> bytes:
    """An XLSX workbook with one sheet: a bold header row, then one row per dict; every text cell as text."""
    names = _columns(rows, columns)
    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet(title=sheet[:31])
    if names:
        worksheet.append([_header_cell(worksheet, name) for name in names])
    for row in rows:
        worksheet.append([_xlsx_value(row.get(name)) for name in names])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _header_cell(worksheet, name: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(worksheet, value=_xlsx_value(name))
    cell.font = Font(bold=True)
    return cell


def _xlsx_value(value: Cell) -> Cell:
    if isinstance(value, str):
        # first drop the control characters XLSX cannot hold, then neutralise what is left
        return neutralise(ILLEGAL_CHARACTERS_RE.sub("", value))
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)  # XLSX has no time zones; callers pass Berlin wall time
    return value
