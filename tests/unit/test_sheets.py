"""Issue 12 item 6: text from users is written into spreadsheets as text, never a formula."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook
from openpyxl import load_workbook

from bot.services.sheets import FORMULA_STARTS
from bot.services.sheets import append_text_row
from bot.services.sheets import looks_like_formula
from bot.services.sheets import set_text

HOSTILE = ['=HYPERLINK("https://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


def _reopen(book: Workbook):
    buffer = io.BytesIO()
    book.save(buffer)
    return load_workbook(io.BytesIO(buffer.getvalue())).active


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_text_stays_text(value):
    book = Workbook()
    append_text_row(book.active, [value, "Nguyễn Văn An", 42, None])
    set_text(book.active, 2, 1, value)
    sheet = _reopen(book)
    for cell in (sheet["A1"], sheet["A2"]):
        assert cell.data_type != "f" and cell.value == value
    assert (sheet["B1"].value, sheet["C1"].value, sheet["C1"].data_type) == ("Nguyễn Văn An", 42, "n")


def test_plain_openpyxl_would_have_written_a_formula():
    book = Workbook()
    book.active.append([HOSTILE[0]])
    assert _reopen(book)["A1"].data_type == "f"  # what the helpers prevent
    assert all(looks_like_formula(start + "x") for start in FORMULA_STARTS)
    assert not looks_like_formula("Chi bộ 1") and not looks_like_formula(-1)


def test_streamed_text_is_what_openpyxl_would_keep():
    """The streamed rows' cells (bot/services/sheets.py ``text_content``): the quick path for a
    plain value gives what the full one gives, for values that are plain or not."""
    import random

    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    from bot.services.sheets import text_cell_xml
    from bot.services.sheets import text_content

    rng = random.Random(7)
    alphabet = "ab7 <>&\r\n\t=+-@\x00\x01\x0b\x1f\x7fĐảng² \u3000\u00a0\u2028\x1c\x85"
    for _ in range(20000):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))
        attributes, content = text_content(value, ' s="3"')
        assert (attributes, content) == text_cell_xml(value, ' s="3"')
        kept = ILLEGAL_CHARACTERS_RE.sub("", value)
        assert (' s="3"' in attributes) == looks_like_formula(kept)
        assert "<" not in content[len("<is><t") :].split(">", 1)[1].rsplit("</t>", 1)[0]
