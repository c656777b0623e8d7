"""The organising office's tools: template, import by CLI (good and bad files)."""

import openpyxl
from sqlalchemy import func
from sqlalchemy import select

from storage.db import Database
from storage.models import Member
from storage.models import Organisation
from storage.models import Role
from tests.e2e.harness import MEMBER_HEADERS
from tests.e2e.harness import MEMBERS
from tests.e2e.harness import ORG_HEADERS
from tests.e2e.harness import ORGS
from tests.e2e.harness import ROLE_HEADERS
from tests.e2e.harness import ROLES
from tests.e2e.harness import roster_workbook
from tests.e2e.harness import run_cli


async def _count(database_url, model):
    db = Database(database_url)
    try:
        async with db.session() as session:
            return await session.scalar(select(func.count()).select_from(model))
    finally:
        await db.dispose()


async def test_template_then_import_then_reimport(tmp_path, cli_env, database_url):
    template = tmp_path / "mau.xlsx"
    result = await run_cli("roster-template", str(template), env=cli_env)
    assert result.code == 0, result.err
    workbook = openpyxl.load_workbook(template)
    assert {"Tổ chức", "Đảng viên", "Vai trò"} <= set(workbook.sheetnames)
    assert workbook["Đảng viên"]["A1"].value == "Mã đảng viên"

    # Fill the template the way an office would: keep its headers, replace the example rows.
    for title, rows in (("Tổ chức", ORGS), ("Đảng viên", MEMBERS), ("Vai trò", ROLES)):
        sheet = workbook[title]
        headers = [cell.value for cell in sheet[1]]
        sheet.delete_rows(2, sheet.max_row)
        names = {"Tổ chức": ORG_HEADERS, "Đảng viên": MEMBER_HEADERS, "Vai trò": ROLE_HEADERS}[title]
        for row in rows:
            values = dict(zip(names, row, strict=True))
            sheet.append([values.get(h) for h in headers])
    filled = tmp_path / "danh-sach.xlsx"
    workbook.save(filled)

    result = await run_cli("import-roster", str(filled), env=cli_env)
    assert result.code == 0, result.err
    assert "Đảng viên thêm mới: 5" in result.out
    assert await _count(database_url, Member) == 5
    assert await _count(database_url, Organisation) == 3
    assert await _count(database_url, Role) == 4

    # A second file: one member renamed, one gone. The gone one is reported, not deleted.
    members = [row[:] for row in MEMBERS if row[0] != "DV005"]
    members[1][1] = "Trần Thị Bình An"
    second = roster_workbook(tmp_path / "lan-2.xlsx", members=members)
    result = await run_cli("import-roster", str(second), env=cli_env)
    assert result.code == 0, result.err
    assert "Đảng viên có thay đổi: 1" in result.out
    assert "Hoàng Văn Em (DV005)" in result.out
    assert await _count(database_url, Member) == 5


async def test_a_file_with_several_errors_writes_nothing(tmp_path, cli_env, database_url):
    orgs = ORGS + [["CB03", "Chi bộ 3", "Chi bộ trực thuộc", "KHONGCO", ""]]  # unknown parent
    members = [row[:] for row in MEMBERS]
    members[1][6] = "31/02/2008"  # no such date
    members[2][5] = "Tạm"  # unknown status
    members.append(members[0][:])  # duplicate code
    roles = ROLES + [["DV002", "CB02", "Bí thư"]]  # a secretary of CB02 who is not its member
    bad = roster_workbook(tmp_path / "loi.xlsx", orgs=orgs, members=members, roles=roles)

    result = await run_cli("import-roster", str(bad), env=cli_env)
    assert result.code == 1
    err = result.err
    assert "Traceback" not in err
    for expected in ("KHONGCO", "31/02/2008", "Tạm", "DV001", "Mã tổ chức cấp trên", "Ngày kết nạp", "Loại đảng viên"):
        assert expected in err, (expected, err)
    assert "dòng 3" in err and "dòng 4" in err and "dòng 7" in err  # rows as the office sees them
    assert await _count(database_url, Member) == 0
    assert await _count(database_url, Organisation) == 0


async def test_missing_file_and_csv(tmp_path, cli_env, database_url):
    result = await run_cli("import-roster", str(tmp_path / "nope.xlsx"), env=cli_env)
    assert result.code == 1 and "Không tìm thấy tệp" in result.err
    orgs_csv = tmp_path / "to-chuc.csv"
    orgs_csv.write_text(
        "\ufeffMã tổ chức;Tên tổ chức;Loại;Mã tổ chức cấp trên;Ngày thành lập\n"
        "CBCS9;Chi bộ cơ sở Trường Tiểu học;Chi bộ cơ sở;;\n",
        encoding="utf-8",
    )
    members_csv = tmp_path / "dang-vien.csv"
    members_csv.write_text(
        "Mã đảng viên,Họ và tên,Ngày sinh,Mã chi bộ,Chức vụ,Loại đảng viên,Ngày kết nạp\n"
        "DV900,Đỗ Thị Hoa,01/01/1980,CBCS9,Giáo viên,Chính thức,01/01/2010\n",
        encoding="utf-8",
    )
    result = await run_cli("import-roster", str(orgs_csv), str(members_csv), env=cli_env)
    assert result.code == 0, result.err
    assert await _count(database_url, Member) == 1
