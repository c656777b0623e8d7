"""Drivers: the self-review (every step), returning a review (reason, confirmation), the
meeting date (calendar, then time)."""

from __future__ import annotations

from sqlalchemy import select

from rules.review_form import sections_for
from storage.models import Meeting
from storage.models import ReviewPiece
from storage.models import SelfReview
from tests.e2e.flows import Reached
from tests.e2e.flows import World
from tests.e2e.flows import answer_of
from tests.e2e.flows import ask
from tests.e2e.test_status_tree import query

PREVIEW_LABEL = "📨 Nộp"
WHOLE = "👁 Xem toàn bộ"
POINTS, LEVEL = "✏️ Sửa điểm", "✏️ Sửa mức xếp loại"
REASON = "Phần hạn chế còn chung chung, đề nghị nêu cụ thể."


def _review_of(world: World, code: str):
    member_id = world.tree.member_ids[code]

    async def snapshot():
        reviews = await world.rows(SelfReview, SelfReview.member_id == member_id)
        pieces = await world.rows(ReviewPiece, ReviewPiece.review_id.in_([r[0] for r in reviews]))
        return reviews, pieces

    return snapshot


async def _preview(world: World):
    """Dũng (DV104, a draft that reached its preview) at the preview, wherever she stood."""
    dung = world.user("DV104")
    dung._msg_cursor[dung.chat_id] = len(dung._fake._chats[dung.chat_id].bot_messages)
    await dung.send("/kiem_diem")
    last = await _prompt(dung)
    if PREVIEW_LABEL not in last.button_labels():
        await dung.wait_answer(await dung.press(WHOLE, message=last))
        last = await _prompt(dung)
    assert PREVIEW_LABEL in last.button_labels(), last
    return dung, last


async def _prompt(user):
    """The next message with buttons (a long screen's buttons are under its last part)."""
    message = await user.wait_message(timeout=30)
    while not message.buttons:
        message = await user.wait_message(timeout=30)
    return message


async def self_review_preview(world: World) -> Reached:
    dung, preview = await _preview(world)
    return Reached(dung, preview, _review_of(world, "DV104"))


async def self_review_section(world: World) -> Reached:
    dung, preview = await _preview(world)
    label = next(b for b in preview.button_labels() if b.startswith("✏️ I"))
    prompt = await answer_of(dung, label, preview)
    return Reached(dung, prompt, _review_of(world, "DV104"))


async def self_review_scores_general(world: World) -> Reached:
    dung, preview = await _preview(world)
    prompt = await answer_of(dung, POINTS, preview)
    return Reached(dung, prompt, _review_of(world, "DV104"))


async def self_review_scores_tasks(world: World) -> Reached:
    dung, preview = await _preview(world)
    await answer_of(dung, POINTS, preview)
    prompt = await ask(dung, "25")
    assert "từ 0 đến 70" in prompt.text, prompt
    return Reached(dung, prompt, _review_of(world, "DV104"))


async def self_review_level(world: World) -> Reached:
    dung, preview = await _preview(world)
    prompt = await answer_of(dung, LEVEL, preview)
    return Reached(dung, prompt, _review_of(world, "DV104"))


async def _complete(world: World, code: str) -> None:
    """Every part written, the points and the level given (as the form would leave them)."""
    member_id = world.tree.member_ids[code]

    async def run(session):
        review = await session.scalar(select(SelfReview).where(SelfReview.member_id == member_id))
        for number, section in enumerate(sections_for(review.form_code), 1):
            session.add(ReviewPiece(review_id=review.id, section_key=section.key, seq=100 + number,
                                    text=f"Phần {number}: tôi tự đánh giá cụ thể, có dẫn chứng."))
        review.general_score, review.task_score, review.proposed_level = 25, 57, "HTT"
        await session.commit()

    await query(world.database_url, run)


async def self_review_submit(world: World) -> Reached:
    await _complete(world, "DV104")
    dung, preview = await _preview(world)
    question = await answer_of(dung, PREVIEW_LABEL, preview)
    assert "Nộp" in " ".join(question.button_labels()), question
    return Reached(dung, question, _review_of(world, "DV104"))


async def _return_prompt(world: World):
    an = world.user("DV101")  # the secretary of CB11
    an._msg_cursor[an.chat_id] = len(an._fake._chats[an.chat_id].bot_messages)
    await an.send("/kiem_diem_chi_bo")
    listing = await _prompt(an)  # a long list: its buttons are on the last part
    opened = await answer_of(an, "📄 Lê Văn Cường", listing)
    return an, await answer_of(an, "↩️ Trả lại để sửa", opened)


def _cuong(world: World):
    member_id = world.tree.member_ids["DV103"]
    return lambda: world.rows(SelfReview, SelfReview.member_id == member_id)


async def return_review_reason(world: World) -> Reached:
    an, prompt = await _return_prompt(world)
    return Reached(an, prompt, _cuong(world))


async def return_review_confirm(world: World) -> Reached:
    an, _ = await _return_prompt(world)
    question = await ask(an, REASON)
    assert "✅ Xác nhận" in question.button_labels(), question
    return Reached(an, question, _cuong(world))


def _meeting(world: World):
    cell_id = world.tree.org_ids["CB11"]
    return lambda: world.rows(Meeting, Meeting.org_id == cell_id)


async def meeting_date(world: World) -> Reached:
    an = world.user("DV101")
    prompt = await ask(an, "/lich_hop")
    return Reached(an, prompt, _meeting(world))


async def meeting_time(world: World) -> Reached:
    an = world.user("DV101")
    calendar = await ask(an, "/lich_hop")
    day = next(b["callback_data"] for row in calendar.buttons for b in row
               if b.get("callback_data", "").startswith("lh1:d:"))
    await an.wait_answer(await an.press_data(day, message=calendar))
    await an.wait_edit(calendar)
    assert "08:00" in calendar.button_labels(), calendar
    return Reached(an, calendar, _meeting(world))


DRIVERS = {
    ("self_review", "section"): self_review_section,
    ("self_review", "scores_general"): self_review_scores_general,
    ("self_review", "scores_tasks"): self_review_scores_tasks,
    ("self_review", "level"): self_review_level,
    ("self_review", "preview"): self_review_preview,
    ("self_review", "submit"): self_review_submit,
    ("return_review", "reason"): return_review_reason,
    ("return_review", "confirm"): return_review_confirm,
    ("meeting_date", "date"): meeting_date,
    ("meeting_date", "time"): meeting_time,
}
