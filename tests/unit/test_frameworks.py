"""The criteria framework spreadsheet without the bot: reading, every error located, the
template read back, and which importer a workbook is for."""

import io

import openpyxl
import pytest

from bot.frameworks import FRAMEWORK
from bot.frameworks import ROSTER
from bot.frameworks import UNKNOWN
from bot.frameworks import RosterInvalid
from bot.frameworks import read_framework
from bot.frameworks import sniff
from bot.frameworks import template_bytes
from bot.frameworks import template_row
from bot.roster import write_template as roster_template
from rules.rulebooks import rulebook

HD21 = rulebook("hd21-2019")
HEADER = ["Mã tiêu chí", "Nội dung tiêu chí", "Điểm tối đa", "Áp dụng cho", "Cách chấm"]


def book(rows, header=HEADER, title="Khung tiêu chí") -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = title
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def errors(content: bytes) -> list[str]:
    with pytest.raises(RosterInvalid) as raised:
        read_framework("khung.xlsx", content, HD21)
    return [str(e) for e in raised.value.errors]


def test_numbers_typed_by_a_spreadsheet_program_are_read():
    rows = [[1, "Chính trị, tư tưởng", 20], [1.1, "Học tập nghị quyết", "12,5"],
            ["1.2", "Định hướng tư tưởng", 7.5], ["2", "Nhiệm vụ chính trị", 80, "", "Chỉ tiêu"]]
    framework = read_framework("khung.xlsx", book(rows), HD21)
    assert [(r.code, r.parent, r.max_tenths) for r in framework.rows] == [
        ("1", None, 200), ("1.1", "1", 125), ("1.2", "1", 75), ("2", None, 800)]
    assert framework.rows[3].guidance == "Chỉ tiêu"
    assert framework.rows[0].kinds == {"grassroots", "cell", "grassroots_cell"}


def test_every_row_error_is_located():
    rows = [["1", "A", 50], ["1", "B", 10], ["x.1", "C", 5], ["3.1", "D", 5], ["4", "", 0.25],
            ["5", "E", 10, "Chi bộ thôn"], ["6", "F", 10, "Chi bộ cơ sở"],
            ["6.1", "G", 10, "Đảng bộ cơ sở"], ["7", "=HYPERLINK(\"x\")", "-3"]]
    assert errors(book(rows)) == [
        "Khung tiêu chí, row 3, column «Mã tiêu chí»: Criterion 1 is already in row 2.",
        "Khung tiêu chí, row 4, column «Mã tiêu chí»: «x.1» is not a criterion number: write "
        "numbers separated by dots, such as 1, 1.2 or 1.2.a (at most 16 characters).",
        "Khung tiêu chí, row 5, column «Mã tiêu chí»: Criterion 3.1 belongs to criterion 3, "
        "which is not in an earlier row.",
        "Khung tiêu chí, row 6, column «Nội dung tiêu chí»: A value is required.",
        "Khung tiêu chí, row 6, column «Điểm tối đa»: «0.25» is not a number of points: write a "
        "number above 0 with at most one decimal.",
        "Khung tiêu chí, row 7, column «Áp dụng cho»: Unknown kind of organisation «Chi bộ "
        "thôn». Allowed: «Đảng bộ cơ sở», «Chi bộ trực thuộc», «Chi bộ cơ sở».",
        "Khung tiêu chí, row 9, column «Áp dụng cho»: Criterion 6.1 cannot apply to «Đảng bộ cơ "
        "sở»: its criterion 6 does not.",
        # A formula is no text: the file holds no value for it.
        "Khung tiêu chí, row 10, column «Nội dung tiêu chí»: A value is required.",
        "Khung tiêu chí, row 10, column «Điểm tối đa»: «-3» is not a number of points: write a "
        "number above 0 with at most one decimal.",
    ]


def test_sums_per_kind():
    rows = [["1", "A", 60], ["1.1", "B", 30], ["1.2", "C", 20, "Chi bộ trực thuộc"],
            ["2", "D", 40]]
    assert errors(book(rows)) == [
        "Khung tiêu chí, row 2, column «Điểm tối đa»: For «Đảng bộ cơ sở», the sub-criteria of 1 "
        "add up to 30 points, not the 60 of the criterion.",
        "Khung tiêu chí, row 2, column «Điểm tối đa»: For «Chi bộ trực thuộc», the sub-criteria "
        "of 1 add up to 50 points, not the 60 of the criterion.",
        "Khung tiêu chí, row 2, column «Điểm tối đa»: For «Chi bộ cơ sở», the sub-criteria of 1 "
        "add up to 30 points, not the 60 of the criterion.",
    ]


def test_columns_and_sheets():
    assert errors(book([["1", "A", 100]], header=["Mã tiêu chí", "Nội dung", "Điểm tối đa"])) == [
        "Khung tiêu chí, column «Nội dung»: Unknown column. The columns of this sheet are: "
        "«Mã tiêu chí», «Nội dung tiêu chí», «Điểm tối đa», «Áp dụng cho», «Cách chấm».",
        "Khung tiêu chí, column «Nội dung tiêu chí»: This required column is missing.",
    ]
    assert errors(book([], title="Sheet")) == ["khung.xlsx: The workbook has no sheet «Khung tiêu chí»."]
    assert errors(book([])) == ["Khung tiêu chí: There is nothing to import: the sheet has no criteria."]
    assert errors(b"not a workbook") == [
        "khung.xlsx: A criteria framework is read from an Excel workbook (.xlsx) only."]


def test_template_reads_back_and_keeps_text_as_text():
    assert len(read_framework("mau.xlsx", template_bytes(), HD21).rows) == 7
    rows = [template_row("1", "=SUM(A1:A2)", 1000, frozenset({"cell"}), None)]
    sheet = openpyxl.load_workbook(io.BytesIO(template_bytes(rows)))["Khung tiêu chí"]
    assert sheet["B2"].value == "=SUM(A1:A2)" and sheet["B2"].data_type == "s"
    assert sheet["C2"].value == 100 and sheet["D2"].value == "Chi bộ trực thuộc"


def test_sniff_routes_by_sheet():
    roster = io.BytesIO()
    roster_template(roster)
    assert sniff(template_bytes()) == FRAMEWORK
    assert sniff(roster.getvalue()) == ROSTER
    assert sniff(book([], title="Bảng điểm")) == UNKNOWN
    assert sniff(b"PK\x03\x04 damaged") == ROSTER  # the roster's reader says what is wrong
