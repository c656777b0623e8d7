"""Issue 14, item 1: a grassroots committee loads its criteria framework by sending the
spreadsheet to the bot: the template, a file with an error (row-level message, nothing
changed), the fixed file's preview and confirmation, the framework its cells inherit, and the
units and people outside its reach."""

from __future__ import annotations

import io

import openpyxl
from sqlalchemy import func
from sqlalchemy import select

from storage.db import Database
from storage.models import AuditEntry
from storage.models import CriteriaFramework
from storage.models import FrameworkCriterion
from tests.e2e.harness import run_cli
from tests.e2e.reviewkit import planned_cell

OTHER = [["DBCS02", "Đảng bộ Phường Đa Kao", "Đảng bộ cơ sở", "", "01/01/2000"],
         ["CB03", "Chi bộ Khu phố 3", "Chi bộ trực thuộc", "DBCS02", "01/01/2005"]]


def _edit(content: bytes, changes: dict[str, object]) -> bytes:
    book = openpyxl.load_workbook(io.BytesIO(content))
    sheet = book["Khung tiêu chí"]
    for cell, value in changes.items():
        sheet[cell] = value
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def _stored(database_url):
    db = Database(database_url)
    try:
        async with db.session() as session:
            frameworks = (await session.scalars(select(CriteriaFramework))).all()
            criteria = await session.scalar(select(func.count()).select_from(FrameworkCriterion))
            audit = (await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "framework.load"))).all()
            return [(f.org_id, f.year) for f in frameworks], criteria, audit
    finally:
        await db.dispose()


async def test_committee_loads_its_framework(tmp_path, cli_env, bot, fake_telegram, database_url):
    users = await planned_cell(tmp_path, cli_env, fake_telegram, rulebook="hd21-2019",
                               extra_orgs=OTHER)
    committee, cell_secretary = users["DV004"], users["DV001"]  # đảng ủy secretary; CB01's

    await committee.send("/mau_khung")
    intro = await committee.wait_message()
    assert "Mẫu khung tiêu chí cho Đảng bộ Phường Bến Thành, có các dòng ví dụ" in intro.text
    template = await committee.wait_message()
    assert template.document.file_name == "mau-khung-tieu-chi.xlsx"
    book = openpyxl.load_workbook(io.BytesIO(template.document.content))
    assert book.sheetnames[0] == "Hướng dẫn"
    assert book["Hướng dẫn"]["A1"].value == "Hướng dẫn điền khung tiêu chí"
    rows = list(book["Khung tiêu chí"].values)
    assert rows[0][:4] == ("Mã tiêu chí", "Nội dung tiêu chí", "Điểm tối đa", "Áp dụng cho")
    assert sum(r[2] for r in rows[1:] if "." not in r[0]) == 100

    # An error: nothing is written, the row and column are named in Vietnamese.
    content = template.document.content
    broken = _edit(content, {"D4": "Chi bộ thôn", "C6": "mười"})
    await committee.send_document(broken, "khung.xlsx")
    errors = (await committee.wait_message()).text
    assert "Khung tiêu chí có 2 lỗi; chưa có gì thay đổi" in errors
    assert "Khung tiêu chí, dòng 4, cột «Áp dụng cho»: Loại tổ chức «Chi bộ thôn»" in errors
    assert "Khung tiêu chí, dòng 6, cột «Điểm tối đa»: «mười» không phải số điểm" in errors
    # Sums are checked once the rows are right: 2 becomes 35, and 2.1 a cells-only 5 points.
    uneven = _edit(content, {"C5": 35, "A9": "2.1", "B9": "Phát triển kinh tế", "C9": 5,
                             "D9": "Chi bộ trực thuộc"})
    await committee.send_document(uneven, "khung.xlsx")
    errors = (await committee.wait_message()).text
    assert "Với «Chi bộ trực thuộc», tổng điểm các tiêu chí thành phần của 2 là 5" in errors
    assert "Với «Đảng bộ cơ sở», tổng điểm các tiêu chí là 95, không phải 100" in errors
    assert await _stored(database_url) == ([], 0, [])

    # Fixed: a preview, nothing written until the press.
    fixed = _edit(content, {"D6": "Chi bộ trực thuộc; Chi bộ cơ sở", "A9": "6",
                            "B9": "Công tác dân vận", "C9": 20, "D9": "Đảng bộ cơ sở"})
    await committee.send_document(fixed, "khung-2026.xlsx")
    preview = await committee.wait_message()
    assert "Xem trước khung tiêu chí cho Đảng bộ Phường Bến Thành" in preview.text
    assert "• Đảng bộ cơ sở: 7 tiêu chí, 6 tiêu chí được chấm điểm, tổng 100 điểm" in preview.text
    assert "• Chi bộ trực thuộc: 7 tiêu chí" in preview.text
    assert await _stored(database_url) == ([], 0, [])
    await committee.press("✅ Nạp khung")
    done = await committee.wait_edit(preview)
    assert done.text.startswith("Đã nạp khung tiêu chí cho Đảng bộ Phường Bến Thành.")
    assert done.buttons == []
    frameworks, criteria, audit = await _stored(database_url)
    assert [year for _org, year in frameworks] == [2026] and criteria == 8
    assert audit[-1].actor == f"tg:{committee.id}"

    # The cells inherit it, on the criteria for their kind.
    await cell_secretary.send("/khung_tieu_chi")
    shown = (await cell_secretary.wait_message()).text
    assert "Khung tiêu chí chấm điểm Chi bộ Khu phố 1 (Chi bộ trực thuộc, năm 2026), do Đảng bộ " \
           "Phường Bến Thành nạp" in shown
    assert "3. Công tác tổ chức" in shown and "Công tác dân vận" not in shown
    assert "Tổng cộng: 100 điểm." in shown

    # Sent again unchanged: nothing to do. The template now starts from it.
    await committee.send_document(fixed, "khung-2026.xlsx")
    assert "không có gì thay đổi" in (await committee.wait_message()).text
    await committee.send("/mau_khung DBCS01")
    assert "điền sẵn khung tiêu chí năm 2026" in (await committee.wait_message()).text
    again = openpyxl.load_workbook(io.BytesIO((await committee.wait_message()).document.content))
    assert list(again["Khung tiêu chí"].values)[-1][:4] == (
        "6", "Công tác dân vận", 20, "Đảng bộ cơ sở")

    # Outside the committee's subtree, a cell secretary, an unknown spreadsheet: refused.
    await committee.send_document(fixed, "khung.xlsx", caption="DBCS02")
    assert "Không có tổ chức mã DBCS02 trong phạm vi của đồng chí." == (await committee.wait_message()).text
    await committee.send_document(fixed, "khung.xlsx", caption="CB01")
    assert "chi bộ: khung tiêu chí do cấp ủy cấp trên" in (await committee.wait_message()).text
    await cell_secretary.send_document(fixed, "khung.xlsx")
    assert "Chỉ bí thư, phó bí thư, cấp ủy viên hoặc ban tổ chức của cấp ủy cấp trên" in (
        await cell_secretary.wait_message()).text
    other = openpyxl.Workbook()
    other.active.append(["Họ tên", "Điểm"])
    buffer = io.BytesIO()
    other.save(buffer)
    await committee.send_document(buffer.getvalue(), "bang-diem.xlsx")
    assert "Tôi không nhận ra bảng tính này" in (await committee.wait_message()).text
    assert (await _stored(database_url))[1] == 8

    # The command line: the same checks, a dry run writes nothing.
    path = tmp_path / "khung.xlsx"
    path.write_bytes(broken)
    result = await run_cli("import-framework", "--org", "DBCS01", str(path), env=cli_env)
    assert result.code == 1 and "dòng 4, cột «Áp dụng cho»" in result.err
    path.write_bytes(_edit(fixed, {"B2": "Giáo dục chính trị, tư tưởng"}))
    result = await run_cli("import-framework", "--org", "DBCS01", "--dry-run", str(path),
                           env=cli_env)
    assert result.code == 0, result.err
    assert "Thay đổi: 1" in result.out and "Khung này thay khung tiêu chí" in result.out
    assert len((await _stored(database_url))[2]) == 1
    assert not fake_telegram.refused
