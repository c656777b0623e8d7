"""Issue 10: the self-review, the return of a review and the meeting date as declared flows:
/huy keeps every piece and score and /kiem_diem goes on where the member stood; a return is
confirmed, and the confirmation is checked again when pressed."""

from tests.e2e.reviewkit import local
from tests.e2e.reviewkit import planned_cell
from tests.e2e.reviewkit import schedule
from tests.e2e.reviewkit import submit
from tests.e2e.reviewkit import write_sections
from tests.e2e.test_self_review_more import BINH
from tests.e2e.test_self_review_more import _write_and_submit

LEFT = "Đã dừng việc viết bản tự kiểm điểm."


async def _cell(tmp_path, cli_env, fake_telegram, clock):
    """The cell of the review kit on 21/11/2026, its meeting set for 05/12: (Bình, An)."""
    clock.current = local(2026, 11, 21, 10, 0)
    users = await planned_cell(tmp_path, cli_env, fake_telegram)
    await schedule(users["DV001"])
    return users["DV002"], users["DV001"]


async def test_huy_keeps_pieces_and_points_and_kiem_diem_goes_on(tmp_path, cli_env, bot, fake_telegram, clock):
    binh, _ = await _cell(tmp_path, cli_env, fake_telegram, clock)
    await binh.send("/kiem_diem")
    await binh.wait_message()  # the introduction
    prompt = await write_sections(binh, await binh.wait_message(), BINH)
    await binh.send("25")
    tasks = await binh.wait_message()
    assert "từ 0 đến 70" in tasks.text
    await binh.send("/huy")
    left = await binh.wait_message()
    assert left.text.startswith(LEFT) and "/kiem_diem" in left.text
    assert "✖ Hủy" not in tasks.button_labels() and not prompt.button_labels()
    await binh.send("57")  # nothing waits for it now
    assert (await binh.wait_message()).text.startswith("Tôi chưa hiểu tin nhắn này.")
    await binh.send("/kiem_diem")
    assert "tiếp tục" in (await binh.wait_message()).text
    again = await binh.wait_message()
    assert "từ 0 đến 70" in again.text  # the general points were kept, the tasks are next
    await binh.send("57")
    levels = await binh.wait_message()
    assert "82/100" in levels.text
    await binh.press(next(label for label in levels.button_labels() if label.startswith("HTT")))
    preview = await binh.wait_message()
    while "📨 Nộp" not in preview.button_labels():
        preview = await binh.wait_message()
    assert BINH[1][:40] in "\n".join(m.text or "" for m in binh.messages()[-3:])
    assert not levels.button_labels()  # the finished step's keyboard is gone
    assert "Đã nộp" in (await submit(binh)).text
    assert not fake_telegram.refused


async def test_a_return_is_confirmed_and_a_stale_confirmation_refused(tmp_path, cli_env, bot, fake_telegram, clock):
    binh, an = await _cell(tmp_path, cli_env, fake_telegram, clock)
    await _write_and_submit(binh, BINH)
    binh._msg_cursor[binh.chat_id] = len(binh.messages())
    await an.send("/kiem_diem_chi_bo")
    listing = await an.wait_message()
    await an.press("📄 Trần Thị Bình", message=listing)
    opened = await an.wait_message()
    await an.press("↩️ Trả lại để sửa", message=opened)
    await an.wait_message()
    await an.send("Phần hạn chế còn chung chung.")
    question = await an.wait_message()
    confirm = next(b["callback_data"] for row in question.buttons for b in row if b["text"] == "✅ Xác nhận")
    await an.send("/huy")
    assert (await an.wait_message()).text.startswith("Đã dừng")
    assert not question.button_labels()
    # The old question's button, pressed anyway: refused, nothing returned, nobody told.
    stale = await an.wait_answer(await an.press_data(confirm, message=question))
    assert stale.text == "Nút này không còn hiệu lực."
    await an.send("/kiem_diem_chi_bo")
    assert "Trần Thị Bình: đã nộp" in (await an.wait_message()).text
    await fake_telegram.wait_idle()
    assert not binh.messages()[binh._msg_cursor[binh.chat_id]:]
    assert not fake_telegram.refused


async def test_meeting_moved_by_day_then_time_typed(tmp_path, cli_env, bot, fake_telegram, clock):
    _, an = await _cell(tmp_path, cli_env, fake_telegram, clock)
    await an.send("/lich_hop")
    menu = await an.wait_message()
    await an.press("25", message=menu)
    times = await an.wait_edit(menu)
    assert "25/11/2026" in times.text and "✖ Hủy" in times.button_labels()
    await an.send("06/12/2026 19:30")  # the time step takes a typed date and time too
    done = await an.wait_message()
    assert "19:30 06/12/2026" in done.text
    assert not menu.button_labels()
    assert not fake_telegram.refused
