"""Issue 12, items 4 and 8: no parse raises, and every input gets an answer in the user's
language: stickers and photos, unknown commands, buttons no module knows, Unicode digits
and huge numbers typed or forged into buttons, garbage calendar dates, reasons and appeals
near Telegram's 4,096 characters."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import Organisation
from tests.e2e.harness import MEMBERS
from tests.e2e.reviewkit import local
from tests.e2e.reviewkit import planned_cell
from tests.e2e.reviewkit import write_sections
from tests.e2e.test_status_tree import build_tree
from tests.e2e.test_status_tree import query

INVALID = "Nút này không còn hiệu lực."
NOT_UNDERSTOOD = "Tôi chưa hiểu tin nhắn này ở đây. Gửi /help để xem đồng chí có thể làm gì."


async def ask(user, text: str) -> list[str]:
    """Send, then every message of the answer (the first waited for, however slow)."""
    await user.collect(quiet=0.05)
    await user.send(text)
    first = await user.wait_message(timeout=30)
    return [m.text or "" for m in [first, *await user.collect(quiet=0.15)]]


async def test_media_unknown_commands_and_buttons_are_answered(bot, fake_telegram):
    vi, en = fake_telegram.user("Hai", language_code="vi"), fake_telegram.user("Ann", language_code="en")
    for kind in ("sticker", "photo", "voice", "video", "location", "contact", "dice"):
        await vi.send_media(kind)
        assert (await vi.wait_message()).text == NOT_UNDERSTOOD
    await en.send_media("sticker")
    assert (await en.wait_message()).text == (
        "I do not understand this message here. Send /help to see what you can do.")
    await vi.send("/xyz 12")
    assert (await vi.wait_message()).text == "Không có lệnh /xyz. Gửi /help để xem đồng chí có thể làm gì."
    await vi.send("/xyz@<b>x</b>")
    reply = await vi.wait_message()
    assert reply.text.startswith("Không có lệnh /xyz@<b>x</b>.")
    await vi.send(f"/help@{fake_telegram.bot_username}")  # a known command for this bot
    assert "Đồng chí có thể" in (await vi.wait_message()).text
    greeting = vi.messages()[-1]
    for data in ("zz:1", "x", "🙂", "tt:o:²:0", "kdcb1:doc:18446744073709551616", "lang:xx",
                 "qd:ok:٣", "kn:a:99999999999999999999", "kh1:year:²⁰²⁶:", "lh1:d:1:20261340:"):
        press = await vi.press_data(data, message=greeting)
        answered = await vi.wait_answer(press)
        assert answered.text, data
    assert (await vi.wait_answer(await vi.press_data("zz:1", message=greeting))).text == INVALID
    # Buttons of the hand-parsed formats still in users' chats, and forged typed ones, are
    # told they are no longer valid (never an error).
    for data in ("tt:o:1:0", "tt:c:1", "tt:x:1", "lang:en", "lang:vi", "khung:apply:1",
                 "khung:cancel:1", "tt1:1:²", "tt2:1:0", "ttf1:pdf:1", "lang1:fr",
                 "khung1:load:1", "khung1:apply:-1"):
        assert (await vi.wait_answer(await vi.press_data(data, message=greeting))).text == INVALID, data
    # In a group only presses are answered: other bots' commands are not ours to judge.
    group = fake_telegram.group("Chi bộ")
    await vi.send("/xyz@other_bot", chat=group)
    await fake_telegram.wait_idle(quiet=0.2)
    assert not group.messages()
    assert not fake_telegram.refused


async def test_numbers_and_dates_typed_or_forged(tmp_path, cli_env, bot, fake_telegram, clock):
    clock.current = local(2026, 11, 21, 10, 0)
    users = await planned_cell(tmp_path, cli_env, fake_telegram, members=MEMBERS)
    an, binh = users["DV001"], users["DV002"]
    # The meeting: Unicode digits and impossible dates, typed or in a forged calendar button.
    await an.send("/lich_hop")
    menu = await an.wait_message()
    for typed in ("٠٥/١٢/٢٠٢٦ ٠٨:٠٠", "05/12/10000 08:00", "31/02/2026 08:00"):
        assert "Không đọc được" in (await ask(an, typed))[-1], typed
    assert "đã qua" in (await ask(an, "01/01/0001 00:00"))[-1]
    cell_id = await query(bot.database_url, lambda s: s.scalar(
        select(Organisation.id).where(Organisation.code == "CB01")))
    for data in (f"lh1:d:{cell_id}:20261340:", f"lh1:m:{cell_id}:00010101:", f"lh1:m:{cell_id}:99991201:",
                 f"lh1:t:{cell_id}:20261205:2599", f"lh1:d:{cell_id}:２０２６１２０５:", "lh1:d:²:20261205:",
                 f"lh1:t:{cell_id}:20000101:0800", f"lh1:m:{cell_id}:20261205:"):
        press = await an.wait_answer(await an.press_data(data, message=menu))
        assert press.text == INVALID, data
    await an.send("05/12/2026 08:00")
    assert "05/12/2026" in (await an.wait_message()).text
    # A score typed in other digits, or too big, is explained, never an error.
    await binh.send("/kiem_diem")
    await binh.wait_message()  # the introduction
    prompt = await write_sections(binh, await binh.wait_message())
    assert "điểm nhóm tiêu chí chung" in prompt.text
    for typed in ("²", "٣", "１２", "18446744073709551616", "9" * 4000, "-1", "31"):
        assert "Hãy nhập một số nguyên từ 0 đến 30" in (await ask(binh, typed))[-1], typed
    assert "điểm" in (await ask(binh, "25"))[-1]
    # Plans: a year of 0, 10000 or 2**64, or in Arabic-Indic digits, is asked again.
    dung = users["DV004"]
    await dung.send("/ke_hoach DBCS01")
    await dung.collect(quiet=0.2)
    for typed in ("0", "10000", "18446744073709551616", "٢٠٢٦", "２０２６", "2⁰²⁶"):
        answer = (await ask(dung, typed))[-1]
        assert "không phải năm có thể lập kế hoạch: gõ 2025, 2026 hoặc 2027" in answer, typed
    assert not fake_telegram.refused


async def test_long_reason_and_long_appeal(bot, fake_telegram, tmp_path, cli_env, database_url, clock):
    tree = await build_tree(tmp_path, cli_env, fake_telegram, database_url, clock(), rounds=False)
    minh, lan = tree.users["DV302"], tree.users["DV301"]  # a decided member, the cell's secretary
    await lan.collect(quiet=0.1)
    answer = await ask(minh, "/khieu_nai")
    assert "HT" in answer[-1]
    appeal = "Tôi đề nghị xem xét lại <mức> & \"lý do\". " * 90
    appeal = appeal[:3990]
    await minh.send(appeal)
    confirm = await minh.wait_message(timeout=30)
    await minh.wait_answer(await minh.press("✅ Xác nhận", message=confirm))
    told = (await minh.wait_message(timeout=30)).text
    assert told.startswith("Đơn khiếu nại của đồng chí đã được gửi đến 1 đồng chí"), told
    first = await lan.wait_message(timeout=30)
    parts = [m.text for m in [first, *await lan.collect(quiet=0.2)]]
    assert len(parts) == 2 and parts[0].startswith("Đơn khiếu nại của đồng chí Dương Văn Minh")
    assert " ".join(appeal.split()) in " ".join(" ".join(parts).split())  # all of it, unescaped
    assert "✍️ Trả lời" in lan.messages()[-1].button_labels()

    # A return reason too long for the notice is refused with the limit, and still awaited.
    await lan.send("/kiem_diem_chi_bo")
    listing = await lan.wait_message()
    await lan.press("📄 Ngô Thị Lan", message=listing)
    opened = await lan.wait_message()
    await lan.press("↩️ Trả lại để sửa", message=opened)
    assert "Nhập lý do" in (await lan.wait_message()).text
    told = (await ask(lan, "Chưa rõ. " * 200))[-1]
    assert told == "Lý do dài 1.799 ký tự, chỉ được tối đa 1.000 ký tự. Đồng chí hãy rút gọn rồi gửi lại."
    assert "Trả lại bản tự kiểm điểm" in (await ask(lan, "Phần hạn chế còn chung chung."))[-1]
    question = lan.messages()[-1]  # returning is confirmed before it is done
    await lan.press("✅ Xác nhận", message=question)
    assert "Đảng viên đã được thông báo" in (await lan.wait_edit(question)).text
    assert not fake_telegram.refused
