"""A cell secretary sends the roster spreadsheet to the bot: preview, confirm, apply."""

import io

import openpyxl
from sqlalchemy import select

from storage.db import Database
from storage.models import AuditEntry
from storage.models import Member
from storage.models import Role
from storage.models import TelegramAccount
from tests.e2e.harness import MEMBERS
from tests.e2e.harness import ORGS
from tests.e2e.harness import ROLES
from tests.e2e.harness import roster_workbook
from tests.e2e.harness import run_cli


async def _setup(tmp_path, cli_env, fake):
    result = await run_cli(
        "import-roster", str(roster_workbook(tmp_path / "ds.xlsx", orgs=ORGS, members=MEMBERS, roles=ROLES)),
        env=cli_env,
    )
    assert result.code == 0, result.err
    out = tmp_path / "moi.xlsx"
    assert (await run_cli("invite", "--org", "CB01", "--out", str(out), env=cli_env)).code == 0
    links = {row[0]: row[3] for row in openpyxl.load_workbook(out).active.iter_rows(min_row=2, values_only=True)}
    users = {}
    for code, name in (("DV001", "An"), ("DV002", "Bình")):
        user = fake.user(name, language_code="vi")
        await user.send("/start " + links[code].split("start=")[1])
        assert "Xin chào đồng chí" in (await user.wait_message()).text
        users[code] = user
    return users


def _cell_file(tmp_path, members, name="cb01.xlsx"):
    buffer = roster_workbook(tmp_path / name, members=members, roles=[["DV001", "CB01", "Bí thư"]])
    return buffer.read_bytes()


async def _db_members(database_url):
    db = Database(database_url)
    try:
        async with db.session() as session:
            return {m.code: m for m in (await session.scalars(select(Member))).all()}
    finally:
        await db.dispose()


async def test_secretary_previews_then_applies(tmp_path, cli_env, bot, fake_telegram, database_url):
    users = await _setup(tmp_path, cli_env, fake_telegram)
    secretary = users["DV001"]
    cell_members = [row[:] for row in MEMBERS if row[3] == "CB01" and row[0] != "DV003"]  # Cường left
    cell_members[1][4] = "Tổ trưởng"  # Bình's post changes
    cell_members.append(["DV010", "Vũ Thị Giang", "05/05/1995", "CB01", "", "Dự bị", "01/03/2026"])
    await secretary.send_document(_cell_file(tmp_path, cell_members), "cb01.xlsx")
    preview = await secretary.wait_message()
    text = preview.text
    assert "Xem trước nội dung cập nhật cho Chi bộ Khu phố 1" in text
    assert "Đảng viên thêm mới: 1" in text and "Vũ Thị Giang (DV010)" in text
    assert "Đảng viên có thay đổi: 1" in text and "Trần Thị Bình (DV002)" in text
    assert "không có trong tệp (vẫn giữ, không xóa): 1" in text and "Lê Văn Cường (DV003)" in text
    assert "DV010" not in await _db_members(database_url)  # nothing written before confirming
    apply_data = preview.buttons[0][0]["callback_data"]

    answer = await secretary.wait_answer(await secretary.press("✅ Cập nhật"))
    assert answer.text == "Đã cập nhật"
    done = await secretary.wait_edit(preview)
    assert done.text.startswith("Đã cập nhật danh sách cho Chi bộ Khu phố 1.")
    assert done.buttons == []
    members = await _db_members(database_url)
    assert members["DV010"].full_name == "Vũ Thị Giang"
    assert members["DV002"].position == "Tổ trưởng"
    assert "DV003" in members  # reported, never deleted

    db = Database(database_url)
    async with db.session() as session:
        account = await session.get(TelegramAccount, users["DV002"].id)
        assert account.member_id == members["DV002"].id  # the Telegram link survived the update
        roles = (await session.scalars(select(Role))).all()
        assert len(roles) == 4
        audit = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "roster.import"))).all()
        assert audit[-1].actor == f"tg:{secretary.id}" and "DV010" in audit[-1].details
    await db.dispose()

    # A second press on the same preview changes nothing and says why.
    again = await secretary.wait_answer(await secretary.press_data(apply_data, message=preview))
    assert "đã được cập nhật hoặc đã hủy" in again.text


async def test_cancel_and_files_that_are_refused(tmp_path, cli_env, bot, fake_telegram, database_url):
    users = await _setup(tmp_path, cli_env, fake_telegram)
    secretary, member = users["DV001"], users["DV002"]
    cell_members = [row[:] for row in MEMBERS if row[3] == "CB01"]
    cell_members[0][1] = "Nguyễn Văn An Khang"
    await secretary.send_document(_cell_file(tmp_path, cell_members), "cb01.xlsx")
    preview = await secretary.wait_message()
    await secretary.wait_answer(await secretary.press("✖ Hủy", message=preview))
    assert (await secretary.wait_message()).text == "Đã dừng việc nhập danh sách. Không có gì thay đổi."
    assert preview.buttons == []  # the preview's buttons are gone
    assert (await _db_members(database_url))["DV001"].full_name == "Nguyễn Văn An"

    # Errors: every one listed with its place, nothing written.
    broken = [row[:] for row in cell_members]
    broken[1][6] = "hôm qua"
    broken[2][5] = "Tạm thời"
    await secretary.send_document(_cell_file(tmp_path, broken, "loi.xlsx"), "loi.xlsx")
    errors = (await secretary.wait_message()).text
    assert "Tệp có 2 lỗi" in errors
    assert "Đảng viên, dòng 3, cột «Ngày kết nạp»" in errors and "Đảng viên, dòng 4, cột «Loại đảng viên»" in errors

    # Another cell's members: out of this secretary's reach.
    other = [row[:] for row in MEMBERS if row[3] == "CB02"]
    await secretary.send_document(_cell_file(tmp_path, other, "cb02.xlsx"), "cb02.xlsx")
    assert "ngoài phạm vi chi bộ" in (await secretary.wait_message()).text

    # Not a spreadsheet; and a plain member may not import.
    await secretary.send_document(b"%PDF-1.4", "bao-cao.pdf")
    assert ".xlsx" in (await secretary.wait_message()).text
    await member.send_document(_cell_file(tmp_path, cell_members), "cb01.xlsx")
    assert "Chỉ bí thư hoặc phó bí thư chi bộ" in (await member.wait_message()).text
    assert (await _db_members(database_url))["DV001"].full_name == "Nguyễn Văn An"


async def test_invite_spreadsheet_from_the_cli(tmp_path, cli_env, bot, fake_telegram):
    await _setup(tmp_path, cli_env, fake_telegram)
    out = tmp_path / "moi-lai.xlsx"
    result = await run_cli("invite", "--org", "DBCS01", "--out", str(out), env=cli_env)
    assert result.code == 0
    rows = list(openpyxl.load_workbook(io.BytesIO(out.read_bytes())).active.values)
    assert rows[0] == ("Mã đảng viên", "Họ và tên", "Chi bộ", "Đường liên kết mời", "Hết hạn")
    assert sorted(r[0] for r in rows[1:]) == ["DV003", "DV004", "DV005"]  # DV001 and DV002 are linked
