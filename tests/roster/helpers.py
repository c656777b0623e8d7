"""Builders for roster files: XLSX workbooks and CSV files from lists of rows."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import openpyxl

from bot import roster as r

TODAY = date(2025, 11, 21)

ORG_HEADER = ["Mã tổ chức", "Tên tổ chức", "Loại", "Mã tổ chức cấp trên", "Ngày thành lập"]
MEMBER_HEADER = [
    "Mã đảng viên", "Họ và tên", "Ngày sinh", "Mã chi bộ", "Loại đảng viên", "Ngày kết nạp",
    "Miễn công tác", "Số tháng nghỉ ốm", "Hình thức kỷ luật",
    "Kỷ luật do vi phạm trong thực thi công vụ", "Sinh hoạt tạm thời tại",
]
ROLE_HEADER = ["Mã đảng viên", "Mã tổ chức", "Vai trò"]


def orgs() -> list[list[Any]]:
    return [
        list(ORG_HEADER),
        ["DB-BV", "Đảng bộ Bệnh viện tỉnh", "Đảng bộ cơ sở", "", None],  # row 2
        ["CB-NOI", "Chi bộ Khoa Nội", "Chi bộ trực thuộc", "DB-BV", "15/03/2010"],  # row 3
        ["CB-NGOAI", "Chi bộ Khoa Ngoại", "Chi bộ trực thuộc", "DB-BV", date(2011, 1, 1)],
    ]


def members() -> list[list[Any]]:
    return [
        list(MEMBER_HEADER),
        ["DV01", "Nguyễn Thị Lan", date(1982, 5, 12), "CB-NOI", "Chính thức", date(2008, 2, 3),
         "Không", None, None, None, None],  # row 2
        ["DV02", "Trần Văn Hùng", "01/02/1990", "CB-NGOAI", "Dự bị", "2024-06-01",
         None, 2, "", "", ""],  # row 3
    ]


def roles() -> list[list[Any]]:
    return [
        list(ROLE_HEADER),
        ["DV01", "CB-NOI", "Bí thư"],  # row 2
        ["DV01", "DB-BV", "Cấp ủy viên"],  # row 3
    ]


def make_xlsx(sheets: dict[str, list[list[Any]] | None]) -> bytes:
    """A workbook with one sheet per entry (None entries are left out)."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        if rows is None:
            continue
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def full_xlsx(**overrides: list[list[Any]] | None) -> bytes:
    sheets: dict[str, list[list[Any]] | None] = {
        r.ORG_SHEET: orgs(), r.MEMBER_SHEET: members(), r.ROLE_SHEET: roles(),
    }
    names = {"orgs": r.ORG_SHEET, "members": r.MEMBER_SHEET, "roles": r.ROLE_SHEET}
    for key, value in overrides.items():
        sheets[names[key]] = value
    return make_xlsx(sheets)


def _csv_value(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, date):
        return v.strftime("%d/%m/%Y")
    return str(v)


def make_csv(rows: list[list[Any]], delimiter: str = ";", bom: bool = True) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    for row in rows:
        writer.writerow([_csv_value(v) for v in row])
    return (b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode("utf-8")


Err = tuple[str, "int | None", "str | None", str]


def errors(sources: list[tuple[str, bytes]], **kw: Any) -> list[Err]:
    """The (sheet, row, column, msgid) of every error load_roster raises."""
    kw.setdefault("today", TODAY)
    try:
        r.load_roster(sources, **kw)
    except r.RosterInvalid as exc:
        return [(e.sheet, e.row, e.column, e.msgid) for e in exc.errors]
    return []


def xlsx_errors(**overrides: Any) -> list[Err]:
    kw = {k: overrides.pop(k) for k in ("known_orgs", "known_members") if k in overrides}
    return errors([("ds.xlsx", full_xlsx(**overrides))], **kw)
