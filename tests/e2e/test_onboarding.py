"""Invite links, /start, greeting by name, /help by role, /ngon_ngu, and group chats."""

import datetime as dt
from urllib.parse import parse_qs
from urllib.parse import urlparse

import openpyxl
import pytest

from tests.e2e.harness import MEMBERS
from tests.e2e.harness import ORGS
from tests.e2e.harness import ROLES
from tests.e2e.harness import roster_workbook
from tests.e2e.harness import run_cli


async def _import(tmp_path, cli_env):
    result = await run_cli(
        "import-roster",
        str(roster_workbook(tmp_path / "ds.xlsx", orgs=ORGS, members=MEMBERS, roles=ROLES)),
        env=cli_env,
    )
    assert result.code == 0, result.err


async def _invite_tokens(tmp_path, cli_env, org="DBCS01") -> dict[str, str]:
    """member code -> token, from the spreadsheet `kiemdiem invite --out` writes."""
    out = tmp_path / f"moi-{org}.xlsx"
    result = await run_cli("invite", "--org", org, "--out", str(out), env=cli_env)
    assert result.code == 0, result.err
    sheet = openpyxl.load_workbook(out).active
    tokens = {}
    for code, _name, _cell, link, _expires in sheet.iter_rows(min_row=2, values_only=True):
        url = urlparse(link)
        assert url.netloc == "t.me" and url.path == "/kiemdiem_test_bot"
        tokens[code] = parse_qs(url.query)["start"][0]
    return tokens


@pytest.fixture
async def tokens(tmp_path, cli_env, bot):
    await _import(tmp_path, cli_env)
    return await _invite_tokens(tmp_path, cli_env)


async def _join(fake, name, token, language_code="vi"):
    first, _, last = name.partition(" ")
    user = fake.user(first, last or None, language_code=language_code)
    await user.send(f"/start {token}")
    return user, await user.wait_message()


async def test_invite_links_are_random_short_and_single_use(tokens, fake_telegram):
    assert set(tokens) == {"DV001", "DV002", "DV003", "DV004", "DV005"}
    assert len(set(tokens.values())) == 5
    for token in tokens.values():
        assert 22 <= len(token) <= 64  # at least 128 bits, inside Telegram's limit
        assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")

    an, greeting = await _join(fake_telegram, "Nguyễn Văn An", tokens["DV001"])
    assert "Xin chào đồng chí Nguyễn Văn An!" in greeting.text
    assert "Chi bộ Khu phố 1" in greeting.text
    assert "bí thư Chi bộ Khu phố 1" in greeting.text
    assert "/moi" in greeting.text

    thief, refusal = await _join(fake_telegram, "Kẻ Gian", tokens["DV001"])
    assert "đã được sử dụng" in refusal.text
    await fake_telegram.wait_idle()
    assert len(thief.messages()) == 1  # the refusal alone: no greeting, nothing linked


async def test_unknown_expired_and_foreign_tokens_change_nothing(tokens, fake_telegram, clock):
    stranger, reply = await _join(fake_telegram, "Người Lạ", "khong-phai-ma-moi")
    assert "không hợp lệ" in reply.text

    binh, greeting = await _join(fake_telegram, "Trần Thị Bình", tokens["DV002"])
    assert "Trần Thị Bình" in greeting.text
    # Bình now opens Cường's link: her account is already someone's.
    await binh.send(f"/start {tokens['DV003']}")
    reply = await binh.wait_message()
    assert "đã được liên kết với Trần Thị Bình" in reply.text
    # ... and Cường's link still works for Cường.
    clock.advance(days=15)
    cuong, reply = await _join(fake_telegram, "Lê Văn Cường", tokens["DV003"])
    assert "đã hết hạn" in reply.text
    clock.advance(days=-15)
    cuong2, greeting = await _join(fake_telegram, "Lê Văn Cường", tokens["DV003"])
    assert "Xin chào đồng chí Lê Văn Cường!" in greeting.text


async def test_repeated_wrong_tokens_are_slowed_down(tokens, fake_telegram, clock):
    guesser = fake_telegram.user("Đoán", language_code="vi")
    for attempt in range(3):
        await guesser.send(f"/start sai-{attempt}")
        assert "không hợp lệ" in (await guesser.wait_message()).text
    await guesser.send(f"/start {tokens['DV005']}")
    reply = await guesser.wait_message()
    assert "Vui lòng đợi 30 giây" in reply.text
    clock.advance(seconds=31)
    await guesser.send(f"/start {tokens['DV005']}")
    assert "Xin chào đồng chí Hoàng Văn Em!" in (await guesser.wait_message()).text


async def test_start_without_token_and_help_by_role(tokens, fake_telegram):
    nobody = fake_telegram.user("Khách", language_code="vi")
    await nobody.send("/start")
    text = (await nobody.wait_message()).text
    assert "đường liên kết mời riêng" in text and "/moi" not in text

    member, _ = await _join(fake_telegram, "Trần Thị Bình", tokens["DV002"])
    secretary, _ = await _join(fake_telegram, "Nguyễn Văn An", tokens["DV001"])
    committee, _ = await _join(fake_telegram, "Hoàng Văn Em", tokens["DV005"])
    helps = {}
    for name, user in (("member", member), ("secretary", secretary), ("committee", committee)):
        await user.send("/help")
        helps[name] = (await user.wait_message()).text
    assert "/ngon_ngu" in helps["member"] and "/moi" not in helps["member"]
    assert "/moi" in helps["secretary"] and "tệp danh sách (.xlsx)" in helps["secretary"]
    assert "/moi" in helps["committee"] and "tệp danh sách (.xlsx)" not in helps["committee"]
    # Deciding levels is for the grassroots committee, not for a cell under it.
    assert "/quyet_dinh" in helps["committee"] and "/quyet_dinh" not in helps["secretary"]
    assert "/quyet_dinh" not in helps["member"] and "/hop" not in helps["member"]


async def test_language_switch_changes_every_later_message(tokens, fake_telegram):
    binh, greeting = await _join(fake_telegram, "Trần Thị Bình", tokens["DV002"])
    assert "Xin chào" in greeting.text
    await binh.send("/ngon_ngu")
    menu = await binh.wait_message()
    assert menu.text == "Chọn ngôn ngữ:"
    answer = await binh.wait_answer(await binh.press("English"))
    assert answer.text == "Language: English"
    edited = await binh.wait_edit(menu)
    assert edited.text == "From now on I will write to you in English."
    await binh.send("/help")
    assert (await binh.wait_message()).text.startswith("What you can do:")
    await binh.send("/start")
    assert "Hello, comrade Trần Thị Bình!" in (await binh.wait_message()).text
    await binh.send("/ngon_ngu")
    await binh.press("Tiếng Việt", message=await binh.wait_message())
    assert (await binh.wait_edit()).text == "Từ nay tôi sẽ nhắn cho đồng chí bằng tiếng Việt."


async def test_english_telegram_users_get_english(tokens, fake_telegram):
    user, greeting = await _join(fake_telegram, "Hoàng Văn Em", tokens["DV005"], language_code="en")
    assert "Hello, comrade Hoàng Văn Em!" in greeting.text
    assert "committee member of Đảng bộ Phường Bến Thành" in greeting.text


async def test_commands_are_registered_in_both_languages(bot, fake_telegram):
    vi = fake_telegram.my_commands("vi", "all_private_chats")
    en = fake_telegram.my_commands("en", "all_private_chats")
    default = fake_telegram.my_commands("", "all_private_chats")
    # Everyone's default menu: what an unlinked user can do (a member's own menu has the rest).
    assert {c["command"] for c in vi} == {c["command"] for c in en} == {"start", "help", "huy", "ngon_ngu"}
    assert {c["command"]: c["description"] for c in vi}["ngon_ngu"] == "Đổi ngôn ngữ"
    assert {c["command"]: c["description"] for c in en}["ngon_ngu"] == "Change language"
    assert default == vi


async def test_commands_in_a_group_point_to_the_private_chat(tokens, fake_telegram):
    an, _ = await _join(fake_telegram, "Nguyễn Văn An", tokens["DV001"])
    group = fake_telegram.group("Chi bộ Khu phố 1")
    for command in ("/moi", "/help", f"/start {tokens['DV002']}"):
        await an.send(command, chat=group)
        reply = await an.wait_message(chat=group)
        assert "trò chuyện riêng" in reply.text
        assert reply.buttons[0][0]["url"] == "https://t.me/kiemdiem_test_bot"
        assert "t.me/kiemdiem_test_bot?start=" not in reply.text
    # The token sent in the group was not used: Bình can still join with it.
    binh, greeting = await _join(fake_telegram, "Trần Thị Bình", tokens["DV002"])
    assert "Xin chào đồng chí Trần Thị Bình!" in greeting.text


async def test_moi_gives_a_secretary_the_links_of_their_cell(tokens, fake_telegram, clock):
    an, _ = await _join(fake_telegram, "Nguyễn Văn An", tokens["DV001"])
    await an.send("/moi")
    listing = await an.wait_message()
    assert "Chi bộ Khu phố 1" in listing.text and "2 đảng viên" in listing.text
    assert "Trần Thị Bình (DV002)" in listing.text and "Nguyễn Văn An" not in listing.text
    assert "Phạm Thị Dung" not in listing.text  # another cell
    expiry = (clock() + dt.timedelta(days=14)).astimezone(dt.timezone(dt.timedelta(hours=7)))
    assert expiry.strftime("%d/%m/%Y") in listing.text
    sheet = await an.wait_message()
    assert sheet.document.file_name == "moi-CB01.xlsx"
    rows = list(openpyxl.load_workbook(__import__("io").BytesIO(sheet.document.content)).active.values)
    assert [r[0] for r in rows[1:]] == ["DV003", "DV002"] or [r[0] for r in rows[1:]] == ["DV002", "DV003"]
    # The newest link works; the one from before /moi was replaced.
    new_link = next(line for line in listing.text.splitlines() if "DV002" in line).split()[-1]
    binh, reply = await _join(fake_telegram, "Trần Thị Bình", tokens["DV002"])
    assert "đã được thay bằng đường liên kết mới hơn" in reply.text
    await binh.send("/start " + parse_qs(urlparse(new_link).query)["start"][0])
    assert "Xin chào đồng chí Trần Thị Bình!" in (await binh.wait_message()).text


async def test_moi_refuses_outside_the_subtree_and_plain_members(tokens, fake_telegram):
    an, _ = await _join(fake_telegram, "Nguyễn Văn An", tokens["DV001"])
    await an.send("/moi CB02")
    assert (await an.wait_message()).text == "Không có tổ chức mã CB02 trong phạm vi của đồng chí."
    binh, _ = await _join(fake_telegram, "Trần Thị Bình", tokens["DV002"])
    await binh.send("/moi")
    assert "Chỉ bí thư, phó bí thư và cấp ủy viên" in (await binh.wait_message()).text
    dung, _ = await _join(fake_telegram, "Phạm Thị Dung", tokens["DV004"])
    await dung.send("/moi CB01")  # secretary of the grassroots committee: CB01 is in her subtree
    assert "Chi bộ Khu phố 1" in (await dung.wait_message()).text
    await dung.wait_message()  # the spreadsheet
