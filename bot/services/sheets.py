"""Writing user-supplied text into spreadsheets without it becoming a formula.

A name, code or position typed into a roster ("=HYPERLINK(…)", "+1…", "@SUM(…)") must not be
written as a live formula into an export (OWASP "CSV injection"). openpyxl turns every string
that begins with "=" into a formula; these helpers keep such strings, and the other dangerous
first characters, as plain text (a shared string, which Excel and LibreOffice never evaluate).
"""

from __future__ import annotations

from collections.abc import Iterable
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
