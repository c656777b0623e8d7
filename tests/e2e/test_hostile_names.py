"""Issue 12, item 5: names, codes, positions, review text and reasons are escaped once where
they enter HTML. A tree whose organisation is called `Chi bộ <a href="https://evil.example/">
Bình Hai</a>` and whose secretary is `<Hai> & "Ba"` walks every view (greetings, help, status
with its drill-down, the cell's reviews, the meeting, invites, decisions, results, plans,
refusals, a returned self-review with a hostile reason, typed text echoed back), through the
real bot. No message may carry a live link to evil.example, the fake (which refuses HTML
Telegram cannot parse) must refuse nothing, and the names must show literally, not escaped
twice."""

from __future__ import annotations

from tests.e2e.hostile import CELL_NAME
from tests.e2e.hostile import COMMITTEE
from tests.e2e.hostile import COMMITTEE_SECRETARY
from tests.e2e.hostile import DEPUTY
from tests.e2e.hostile import MEMBER_NAME
from tests.e2e.hostile import PLAIN
from tests.e2e.hostile import SECRETARY
from tests.e2e.hostile import hostile_tree
from tests.e2e.hostile import live_evil_links
from tests.e2e.reviewkit import fill_form
from tests.e2e.reviewkit import local
from tests.e2e.reviewkit import submit

ERROR = "Xin lỗi, đã có lỗi"
COMMANDS = [
    "/start", "/help", "/tinh_trang", "/tinh_trang CB01", "/tinh_trang CB02", "/tinh_trang DBCS01",
    "/kiem_diem_chi_bo", "/kiem_diem_chi_bo CB02", "/lich_hop", "/lich_hop CB02", "/moi",
    "/moi CB02", "/quyet_dinh DBCS01", "/quyet_dinh CB01", "/ket_qua", "/ke_hoach CB01",
    "/ke_hoach DBCS01", "/xep_loai_lai DV001", "/khieu_nai", "/hop", "/tinh_trang <b>X</b>",
    '/xep_loai_lai <a href="https://evil.example/">x</a>',
]
# Buttons pressed on the answers: drill-downs, reviews, calendars (not the secret ballot).
SKIP_PREFIXES = ("bv1:", "bs1:", "bc1:", "hop1:", "ttf1:", "kdcb1:all", "kdcb1:doc", "lh1:t:")


def texts(user) -> list[str]:
    return [m.text or m.caption or "" for m in user.messages()]


async def next_with(user, needle: str):
    """The user's next message containing `needle` (the ones before it are passed over)."""
    while True:
        message = await user.wait_message(timeout=30)
        if needle in (message.text or ""):
            return message


async def walk(user) -> None:
    for command in COMMANDS:
        await user.send(command)
        answers = await user.collect(quiet=0.15, timeout=30)
        for message in answers:
            for row in message.buttons:
                for button in row:
                    data = button.get("callback_data", "")
                    if data and not data.startswith(SKIP_PREFIXES) and not message.deleted:
                        await user.press_data(data, message=message)
                        await user.collect(quiet=0.1, timeout=30)
        await user.send("/help")  # leave whatever the command waits for
        await user.collect(quiet=0.1, timeout=30)


async def test_hostile_names_are_shown_not_obeyed(bot, fake_telegram, tmp_path, cli_env, clock):
    clock.current = local(2026, 11, 21, 10, 0)
    tree = await hostile_tree(tmp_path, cli_env, fake_telegram)
    users = tree.users
    secretary, deputy = users[SECRETARY], users[DEPUTY]

    # Typed text echoed back: a date the bot cannot read.
    await secretary.send("/lich_hop")
    await secretary.wait_message()  # the calendar
    await secretary.send('<a href="https://evil.example/">mai</a> & <b>')
    echo = await secretary.wait_message()
    assert '<a href="https://evil.example/">mai</a>' in echo.text
    await secretary.send("05/12/2026 08:00")
    await next_with(secretary, "Đã đặt lịch họp")

    # A self-review with hostile text, submitted, opened and returned with a hostile reason.
    deputy._msg_cursor[deputy.chat_id] = len(deputy.messages())  # the greeting was read
    await deputy.send("/kiem_diem")
    await deputy.wait_message()  # the introduction
    await fill_form(deputy, {1: '<a href="https://evil.example/">Tôi</a> & "chúng tôi" <i>'})
    await submit(deputy)
    await deputy.collect(quiet=0.1)
    await secretary.send("/kiem_diem_chi_bo")
    listing = await secretary.wait_message()
    assert "Trần <i>Thị</i> Bình" in listing.text
    await secretary.press("📄 Trần <i>Thị</i> Bình", message=listing)
    opened = await secretary.wait_message()
    assert '<a href="https://evil.example/">Tôi</a> & "chúng tôi" <i>' in opened.text
    await secretary.press("↩️ Trả lại để sửa", message=opened)
    await secretary.wait_message()  # the reason is asked
    await secretary.send('Viết lại <a href="https://evil.example/">phần 1</a> & <b>rõ hơn')
    question = await secretary.wait_message()  # the return is confirmed first
    assert '<a href="https://evil.example/">phần 1</a> & <b>rõ hơn' in question.text
    await secretary.press("✅ Xác nhận", message=question)
    await secretary.wait_edit(question)
    notice = await next_with(deputy, "phần 1")
    assert '<a href="https://evil.example/">phần 1</a> & <b>rõ hơn' in notice.text
    await deputy.send("/kiem_diem")  # the returned review shows the reason again
    again = "\n".join(m.text or "" for m in await deputy.collect(quiet=0.1))
    assert '<a href="https://evil.example/">phần 1</a> & <b>rõ hơn' in again

    for code in (SECRETARY, DEPUTY, PLAIN, COMMITTEE_SECRETARY, COMMITTEE):
        await walk(users[code])
    await walk(tree.stranger)

    greeting = "\n".join(texts(secretary))
    assert f"Xin chào đồng chí {MEMBER_NAME}!" in greeting  # shown literally, escaped once
    assert CELL_NAME in greeting
    assert "Đảng bộ <b>Phường</b> & <i>Bến Thành" in "\n".join(texts(users[COMMITTEE]))
    everything = [text for user in [*users.values(), tree.stranger] for text in texts(user)]
    twice = [text for text in everything if any(e in text for e in ("&lt;", "&gt;", "&amp;", "&quot;"))]
    assert not twice, twice[:3]
    assert not [text for text in everything if ERROR in text]
    assert not live_evil_links(fake_telegram)
    assert not fake_telegram.refused
