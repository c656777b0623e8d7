"""Writing user-supplied text into spreadsheets without it becoming a formula.

A name, code or position typed into a roster ("=HYPERLINK(…)", "+1…", "@SUM(…)") must not be
written as a live formula into an export (OWASP "CSV injection"). openpyxl turns every string
that begins with "=" into a formula; these helpers keep such strings, and the other dangerous
first characters, as plain text (a shared string, which Excel and LibreOffice never evaluate).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from openpyxl.cell.cell import Cell
from openpyxl.worksheet.worksheet import Worksheet

# First characters that make a spreadsheet program read a cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def looks_like_formula(value: object) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def text_cell(cell: Cell) -> Cell:
    """Keep the cell's string value as text, never a formula; returns the cell."""
    if looks_like_formula(cell.value):
        cell.data_type = "s"
    return cell


def set_text(sheet: Worksheet, row: int, column: int, value: Any) -> Cell:
    """`sheet.cell(row, column, value)` for a value that may come from a user."""
    return text_cell(sheet.cell(row=row, column=column, value=value))


def append_text_row(sheet: Worksheet, values: Iterable[Any]) -> None:
    """`sheet.append(values)`, every string kept as text (the bot writes no formulas)."""
    sheet.append([text_cell(Cell(sheet, value=value)) for value in values])


# --- a large sheet, streamed ----------------------------------------------------------------
#
# openpyxl builds an object per cell, even in write-only mode (about 8 s for a province's
# 900,000 cells). A sheet of many plain rows is written here as the worksheet's XML instead, the
# same XML openpyxl writes: every string an inline string (``t="inlineStr"``: text, never a
# formula; one that looks like a formula also gets a quote-prefix style so that Excel keeps it
# text when the cell is edited), a date a serial number with a date style. The rows go straight
# into the workbook's zip (deflated as they come), so memory stays bounded and the file's size
# on disk is known as it grows.

SPREADSHEET_EPOCH = dt.date(1899, 12, 30)  # day 0 of the 1900 date system
_SHEET_DATA_END = b"</sheetData>"


# Characters XML 1.0 cannot hold (openpyxl's ILLEGAL_CHARACTERS_RE) go; markup is escaped; a
# carriage return is kept as a character reference (XML readers would turn it into a newline).
_UNWRITABLE = dict.fromkeys([*range(0o0, 0o11), 0o13, 0o14, *range(0o16, 0o40)])
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_TO_CLEAN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f&<>\r]")  # either of the above


def text_cell_xml(value: str, quoted_style: str = "") -> tuple[str, str]:
    """The attributes and the content of a cell holding `value` as text: ``<c r="A1"`` +
    attributes + ``>`` + content + ``</c>`` (``quoted_style``: `` s="N"``, the style with the
    quote prefix, used when the value looks like a formula)."""
    escaped = value
    if _TO_CLEAN.search(value):  # rare: most names and codes are written as they are
        value = value.translate(_UNWRITABLE)
        escaped = value.translate(_ESCAPES)
    style = quoted_style if looks_like_formula(value) else ""
    space = ' xml:space="preserve"' if value[:1].isspace() or value[-1:].isspace() else ""
    return f'{style} t="inlineStr"', f"<is><t{space}>{escaped}</t></is>"


# A value that needs none of the above (no character to drop or escape, no formula start, no
# space at either end) is written as it is: most names and codes.
_PLAIN = re.compile(r"[=+\-@]|\s|.*\s$|.*[\x00-\x08\x0b\x0c\x0e-\x1f&<>\r]", re.DOTALL)


def text_content(value: str, quoted_style: str = "") -> tuple[str, str]:
    """``text_cell_xml``, quicker for a plain value (a code made of letters and digits only
    is one without looking further: no space, markup, control character or formula start)."""
    if value.isalnum() or _PLAIN.match(value) is None:
        return ' t="inlineStr"', f"<is><t>{value}</t></is>"
    return text_cell_xml(value, quoted_style)


class StreamedSheet:
    """A workbook saved by openpyxl (``template``) copied to `path`, with rows streamed into
    one of its sheets (``part``, e.g. ``xl/worksheets/sheet2.xml``, which holds its header
    only): ``write`` takes rows as XML, ``close`` finishes the file and returns its size."""

    def __init__(self, path: Path, template: bytes, part: str, *, level: int = 6) -> None:
        self.path = path
        self._zip = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=level)
        with zipfile.ZipFile(io.BytesIO(template)) as source:
            for info in source.infolist():
                data = source.read(info.filename)
                if info.filename == part:
                    self._head, self._tail = data.split(_SHEET_DATA_END, 1)
                    self._info = zipfile.ZipInfo(info.filename, info.date_time)
                    self._info.compress_type = zipfile.ZIP_DEFLATED
                else:
                    self._zip.writestr(info, data)
        self._part = self._zip.open(self._info, "w", force_zip64=True)
        self._part.write(self._head)

    def write(self, xml: str) -> None:
        self._part.write(xml.encode())

    def size(self) -> int:
        """Bytes written to the file so far (the compressor may hold some back)."""
        return self._zip.fp.tell()

    def close(self) -> int:
        self._part.write(_SHEET_DATA_END + self._tail)
        self._part.close()
        self._zip.close()
        return self.path.stat().st_size
