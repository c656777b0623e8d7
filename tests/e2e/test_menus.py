"""Issue 10 item 4: each person's Telegram menu lists the commands of their roles only, in their
language, and follows their roles when a roster import changes them, even across a restart."""

import openpyxl

from storage.db import Database
from storage.models import TelegramAccount
from tests.e2e.harness import MEMBERS
from tests.e2e.harness import ORGS
from tests.e2e.harness import ROLES
from tests.e2e.harness import roster_workbook
from tests.e2e.harness import run_cli

EVERYONE = {"start", "help", "huy", "ngon_ngu"}
MEMBER = EVERYONE | {
    "kiem_diem", "tai_ban_kiem_diem", "phieu", "kiem_tra_phieu", "tinh_trang", "khieu_nai", "ket_qua",
    "cham_diem", "gop_y",
}
# A secretary or deputy of a chi bộ (/tap_the: the secretary or deputy of any unit).
CELL = {"lich_hop", "kiem_diem_chi_bo", "hop", "bo_phieu", "tap_the"}
MANAGER = {"moi", "bieu_do", "bao_cao", "ke_hoach"}  # any role
DECIDING = {"quyet_dinh", "xep_loai_lai"}  # a role on a deciding level (the đảng ủy)
COMMITTEE = {"mau_khung", "khung_tieu_chi", "goi_y"}  # a role above the cells
# Issue 14 part D: every member has their own file; any role reads the minutes and files.
MEMBER |= {"ho_so"}
MANAGER |= {"bien_ban"}


async def _setup(tmp_path, cli_env, roles, orgs=ORGS, top="DBCS01"):
    path = roster_workbook(tmp_path / "ds.xlsx", orgs=orgs, members=MEMBERS, roles=roles)
    result = await run_cli("import-roster", str(path), env=cli_env)
    assert result.code == 0, result.err
    out = tmp_path / "moi.xlsx"
    result = await run_cli("invite", "--org", top, "--out", str(out), env=cli_env)
    assert result.code == 0, result.err
    rows = openpyxl.load_workbook(out).active.iter_rows(min_row=2, values_only=True)
    return {row[0]: row[3].split("start=")[1] for row in rows}


async def _join(fake, name, token, language_code="vi"):
    user = fake.user(name, language_code=language_code)
    await user.send(f"/start {token}")
    assert "Xin chào đồng chí" in (await user.wait_message()).text or language_code == "en"
    return user


async def _menu(fake, user) -> dict[str, str]:
    await fake.wait_idle()
    return {c["command"]: c["description"] for c in fake.menu(user)}


def _chat_menu_calls(fake, user) -> int:
    return sum(
        1 for c in fake.calls
        if c.method in ("setMyCommands", "deleteMyCommands")
        and (c.params.get("scope") or {}).get("chat_id") == user.id
    )


async def test_menus_follow_roles_language_and_roster_imports(
    tmp_path, cli_env, bot, fake_telegram, database_url
):
    # Bình starts as the cell's deputy secretary; the cell secretary's upload will remove that.
    tokens = await _setup(tmp_path, cli_env, ROLES + [["DV002", "CB01", "Phó bí thư"]])

    # Before linking, everyone has the default menu: what an unlinked user can do.
    guest = fake_telegram.user("Khách")
    await guest.send("/start")
    await guest.wait_message()
    menu = await _menu(fake_telegram, guest)
    assert set(menu) == EVERYONE and menu["ngon_ngu"] == "Đổi ngôn ngữ"
    assert _chat_menu_calls(fake_telegram, guest) == 0
    # An unlinked user who chooses English gets the same commands in English, then the
    # default menu again when they choose Vietnamese, the default menu's language.
    await guest.send("/ngon_ngu en")
    assert (await guest.wait_message()).text == "From now on I will write to you in English."
    assert await _menu(fake_telegram, guest) == {
        "start": "Start, or link your account with an invite",
        "help": "What I can do for you",
        "huy": "Stop what you are doing",
        "ngon_ngu": "Change language",
    }
    await guest.send("/ngon_ngu vi")
    await guest.wait_message()
    assert set(await _menu(fake_telegram, guest)) == EVERYONE
    assert fake_telegram.my_commands(scope_type="chat", chat_id=guest.id) == []

    member = await _join(fake_telegram, "Cường", tokens["DV003"])
    menu = await _menu(fake_telegram, member)
    assert set(menu) == MEMBER
    assert menu["kiem_diem"] == "Viết bản tự kiểm điểm"

    secretary = await _join(fake_telegram, "An", tokens["DV001"])
    assert set(await _menu(fake_telegram, secretary)) == MEMBER | CELL | MANAGER

    upper = await _join(fake_telegram, "Dung", tokens["DV004"])  # secretary of CB02 and of the đảng ủy
    assert set(await _menu(fake_telegram, upper)) == MEMBER | CELL | MANAGER | DECIDING | COMMITTEE

    deputy = await _join(fake_telegram, "Bình", tokens["DV002"])
    assert set(await _menu(fake_telegram, deputy)) == MEMBER | CELL | MANAGER
    await deputy.send("/ngon_ngu en")
    await deputy.wait_message()
    menu = await _menu(fake_telegram, deputy)
    assert set(menu) == MEMBER | CELL | MANAGER
    assert menu["ngon_ngu"] == "Change language" and menu["lich_hop"] == "Set the cell meeting date"

    # The cell secretary sends the cell's roster without Bình's role: it leaves her menu.
    calls_before = _chat_menu_calls(fake_telegram, secretary)
    members = [row for row in MEMBERS if row[3] == "CB01"]
    content = roster_workbook(
        tmp_path / "cb01.xlsx", members=members, roles=[["DV001", "CB01", "Bí thư"]]
    ).read_bytes()
    await secretary.send_document(content, "cb01.xlsx")
    preview = await secretary.wait_message()
    await secretary.wait_answer(await secretary.press("✅ Cập nhật"))
    await secretary.wait_edit(preview)
    menu = await _menu(fake_telegram, deputy)
    assert set(menu) == MEMBER and menu["kiem_diem"] == "Write your self-review"
    # Only the chats whose menu changed were called: the secretary's roles did not change.
    assert _chat_menu_calls(fake_telegram, secretary) == calls_before
    assert set(await _menu(fake_telegram, secretary)) == MEMBER | CELL | MANAGER


    # While the bot is down, the operator's import takes An's role away. An account of a
    # user who never started the bot (seen only in a group) is owed a menu too: it is skipped,
    # since Telegram refuses a chat it does not know. The restart loses neither.
    await bot.stop()
    path = roster_workbook(tmp_path / "ds2.xlsx", orgs=ORGS, members=MEMBERS, roles=ROLES[1:])
    result = await run_cli("import-roster", str(path), env=cli_env)
    assert result.code == 0, result.err
    never_started = fake_telegram.user("Nhóm")
    db = Database(database_url)
    async with db.session() as session:
        session.add(TelegramAccount(telegram_id=never_started.id, failed_invites=0, menu_owed=1))
    await db.dispose()
    await bot.start()
    assert set(await _menu(fake_telegram, secretary)) == MEMBER
    assert set(await _menu(fake_telegram, upper)) == MEMBER | CELL | MANAGER | DECIDING | COMMITTEE
    assert _chat_menu_calls(fake_telegram, never_started) == 0
    db = Database(database_url)
    async with db.session() as session:
        account = await session.get(TelegramAccount, secretary.id)
        assert account.menu_owed == 0 and account.menu is not None
        assert (await session.get(TelegramAccount, never_started.id)).menu_owed == 1
    await db.dispose()


async def test_a_members_menu_follows_telegrams_language_until_they_choose(
    tmp_path, cli_env, bot, fake_telegram
):
    """A linked member who never chose a language is spoken to in Telegram's: when it changes
    (seen on their next update), their menu is set again in the new language, once."""
    tokens = await _setup(tmp_path, cli_env, ROLES)
    member = await _join(fake_telegram, "Cường", tokens["DV003"])
    assert (await _menu(fake_telegram, member))["kiem_diem"] == "Viết bản tự kiểm điểm"
    chooser = await _join(fake_telegram, "Bình", tokens["DV002"])
    await chooser.send("/ngon_ngu vi")
    await chooser.wait_message()
    guest = fake_telegram.user("Khách")
    await guest.send("/start")
    await guest.wait_message()
    await fake_telegram.wait_idle()
    before = {u.id: _chat_menu_calls(fake_telegram, u) for u in (member, chooser, guest)}

    for user in (member, chooser, guest):
        user.language_code = "en"
        await user.send("/help")
        assert (await user.wait_message()).text.startswith(
            "What you can do:" if user is not chooser else "Đồng chí có thể:")
    menu = await _menu(fake_telegram, member)
    assert set(menu) == MEMBER and menu["kiem_diem"] == "Write your self-review"
    assert menu["ngon_ngu"] == "Change language"
    assert _chat_menu_calls(fake_telegram, member) == before[member.id] + 1
    # Bình chose Vietnamese with /ngon_ngu: Telegram's language no longer counts. The guest has
    # no menu of their own: the default menu already follows Telegram's language.
    assert (await _menu(fake_telegram, chooser))["kiem_diem"] == "Viết bản tự kiểm điểm"
    assert _chat_menu_calls(fake_telegram, chooser) == before[chooser.id]
    assert _chat_menu_calls(fake_telegram, guest) == before[guest.id] == 0
    assert (await _menu(fake_telegram, guest))["ngon_ngu"] == "Change language"

    # The same language again changes nothing; back to Vietnamese sets the menu once more.
    await member.send("/help")
    await member.wait_message()
    await _menu(fake_telegram, member)
    assert _chat_menu_calls(fake_telegram, member) == before[member.id] + 1
    member.language_code = "vi"
    await member.send("/help")
    assert (await member.wait_message()).text.startswith("Đồng chí có thể:")
    assert (await _menu(fake_telegram, member))["kiem_diem"] == "Viết bản tự kiểm điểm"
    assert _chat_menu_calls(fake_telegram, member) == before[member.id] + 2
    assert not fake_telegram.refused


async def test_tap_the_is_in_the_menu_of_a_rated_units_head_only(
    tmp_path, cli_env, bot, fake_telegram
):
    """/tap_the is for the secretary or deputy of a unit that writes its collective's report
    (a đảng bộ cơ sở, a chi bộ): the secretary of the upper committee above the đảng bộ cơ sở
    writes none, and neither her menu nor her /help offers it."""
    orgs = [
        ["TREN01", "Đảng bộ phường Tân Định", "Đảng bộ cấp trên trực tiếp", "", "01/01/1990"],
        *[[*row[:3], row[3] or "TREN01", row[4]] for row in ORGS],
    ]
    roles = ROLES + [["DV005", "TREN01", "Bí thư"]]  # Em: also secretary of the upper committee
    tokens = await _setup(tmp_path, cli_env, roles, orgs, "TREN01")

    upper = await _join(fake_telegram, "Em", tokens["DV005"])
    menu = set(await _menu(fake_telegram, upper))
    assert menu == MEMBER | MANAGER | DECIDING | COMMITTEE
    assert "tap_the" not in menu
    await upper.send("/help")
    assert "/tap_the" not in (await upper.wait_message()).text
    # The đảng ủy's secretary heads a rated unit (and a chi bộ): /tap_the is hers.
    head = await _join(fake_telegram, "Dung", tokens["DV004"])
    assert set(await _menu(fake_telegram, head)) == MEMBER | CELL | MANAGER | DECIDING | COMMITTEE
    assert not fake_telegram.refused
