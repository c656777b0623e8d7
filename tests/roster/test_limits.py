"""Issue 12 item 7: a roster file is bounded before and while it is read."""

from __future__ import annotations

import io
import re
import time
import zipfile

import pytest
from openpyxl import Workbook

from bot import roster as r

from .helpers import TODAY
from .helpers import make_xlsx
from .helpers import members

SMALL = r.Limits(file_bytes=100_000, unzipped_bytes=1_000_000, zip_members=50, rows=50, columns=20)


def _book(cells: dict[tuple[int, int], str], title: str = "Đảng viên") -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = title
    sheet.append(["Mã đảng viên", "Họ và tên"])
    for (row, column), value in cells.items():
        sheet.cell(row=row, column=column, value=value)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _lying_dimension(content: bytes) -> bytes:
    """The same workbook with every sheet declaring itself to be the single cell A1."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                data = re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1"/>', data)
            dst.writestr(item.filename, data)
    return out.getvalue()


def _codes(content: bytes, name: str = "x.xlsx", limits: r.Limits = SMALL) -> list[tuple]:
    with pytest.raises(r.RosterInvalid) as caught:
        r.load_roster([(name, content)], today=TODAY, limits=limits)
    return [(e.msgid, e.params) for e in caught.value.errors]


@pytest.mark.parametrize("lie", [False, True])
def test_rows_and_columns_beyond_the_limits(lie):
    far = _book({(20_000, 2): "x"})
    wide = _book({(10, 100): "x"})
    if lie:
        far, wide = _lying_dimension(far), _lying_dimension(wide)
    start = time.monotonic()
    assert _codes(far) == [(r.E_LIMIT_ROWS, {"rows": 51 if lie else 20_000, "max": 50})]
    assert _codes(wide) == [(r.E_LIMIT_COLUMNS, {"columns": "CV", "max": 20})]
    assert time.monotonic() - start < 2  # refused, not read through


def test_zip_bomb_and_file_size():
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(_book({})), "r") as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item.filename))
        dst.writestr("xl/media/padding.bin", b"\0" * 2_000_000)
    bomb = out.getvalue()
    assert len(bomb) < SMALL.file_bytes
    assert _codes(bomb) == [(r.E_LIMIT_UNZIPPED, {"max": "1"})]
    assert _codes(b"a;b\n" * 30_000, "x.csv") == [(r.E_LIMIT_FILE, {"size": "0.1", "max": "0.1"})]
    assert _codes(("Mã đảng viên;Họ và tên\n" + "x;y\n" * 60).encode(), "x.csv")[0][0] == r.E_LIMIT_ROWS
    assert _codes(("Mã đảng viên;Họ và tên" + ";z" * 30 + "\n").encode(), "x.csv")[0][0] == r.E_LIMIT_COLUMNS


def test_a_file_within_the_limits_reads_as_before():
    rows = members()
    roster = r.read_roster([("x.xlsx", make_xlsx({"Đảng viên": rows}))], SMALL)
    assert [m.code for m in roster.members] == [row[0] for row in rows[1:]]
    # The operator's CLI reads far bigger files.
    assert r.CLI_LIMITS.rows > 100 * r.BOT_LIMITS.rows
