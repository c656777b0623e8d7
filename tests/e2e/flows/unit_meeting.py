"""Drivers (issue 14 part B): the meeting's order and scoring screens, the reason for voting
before the collectives, a member's criterion, a deduction step by step, closing the scoring.

CB21's secretary (Sơn, DV403) runs the scoring: a framework is loaded on its đảng bộ once,
the cell's collective is marked reviewed and scoring opened; Phúc (DV401) scores. The reason
is asked at CBCS1 (Lan, DV301), whose collectives are never reviewed here.
"""

from __future__ import annotations

from sqlalchemy import select

from storage.models import Meeting
from storage.models import Organisation
from storage.models import ScoreAdjustment
from storage.models import ScoreMark
from storage.models import ScoreSheet
from storage.models import UnitReview
from tests.e2e.flows import Reached
from tests.e2e.flows import World
from tests.e2e.flows import answer_of
from tests.e2e.flows import ask
from tests.e2e.meetingkit import EVERYONE
from tests.e2e.meetingkit import ORDER
from tests.e2e.meetingkit import SCORING
from tests.e2e.meetingkit import add_framework
from tests.e2e.test_status_tree import YEAR
from tests.e2e.test_status_tree import query

SETUP = "unit_scoring_open"


async def _press(user, label: str, message) -> None:
    await user.wait_answer(await user.press(label, message=message))


def _unit(world: World, code: str):
    org_id = world.tree.org_ids[code]

    async def snapshot():
        meetings = await world.rows(Meeting, Meeting.org_id == org_id)
        reviews = await world.rows(UnitReview, UnitReview.org_id == org_id)
        review_ids = [row[0] for row in reviews]
        sheets = await world.rows(ScoreSheet, ScoreSheet.review_id.in_(review_ids))
        marks = await world.rows(ScoreMark, ScoreMark.sheet_id.in_([row[0] for row in sheets]),
                                 order_by=ScoreMark.criterion)
        adjustments = await world.rows(ScoreAdjustment,
                                       ScoreAdjustment.review_id.in_(review_ids))
        return meetings, reviews, sheets, marks, adjustments

    return snapshot


async def _scoring_screen(world: World):
    """Sơn's scoring screen of CB21 (the framework, the collective reviewed and scoring open
    the first time)."""
    son = world.user("DV403")
    if SETUP not in world.notes:
        await add_framework(world.database_url, "DBCS2", YEAR)
        meeting = await ask(son, "/hop")
        await _press(son, EVERYONE, meeting)
        world.notes[SETUP] = True
    meeting = await ask(son, "/hop")
    await _press(son, ORDER, meeting)
    # Marked reviewed the first time; again after the draft's walk (unit_review.py) sent
    # CB21's draft out anew.
    name = await query(world.database_url, lambda s: s.scalar(
        select(Organisation.name).where(Organisation.code == "CB21")))
    if f"✅ Đã kiểm điểm: {name}" in meeting.button_labels():
        await _press(son, f"✅ Đã kiểm điểm: {name}", meeting)
    await _press(son, SCORING, meeting)
    assert "đã chấm" in meeting.text, meeting
    return son, meeting


async def order(world: World) -> Reached:
    an = world.user("DV101")
    meeting = await ask(an, "/hop")
    await _press(an, ORDER, meeting)
    assert "Trình tự hội nghị" in meeting.text, meeting
    return Reached(an, meeting, _unit(world, "CB11"))


async def scoring(world: World) -> Reached:
    son, meeting = await _scoring_screen(world)
    return Reached(son, meeting, _unit(world, "CB21"))


async def _reason_prompt(world: World):
    lan = world.user("DV301")  # CBCS1's collectives are never reviewed in these walks
    await ask(lan, "/hop")
    refused = await ask(lan, "/bo_phieu")
    assert "Kiểm điểm tập thể trước" in refused.text, refused
    prompt = await answer_of(lan, "✍ Ghi lý do bỏ phiếu trước", refused)
    return lan, prompt


async def order_reason(world: World) -> Reached:
    lan, prompt = await _reason_prompt(world)
    return Reached(lan, prompt, _unit(world, "CBCS1"))


async def order_reason_confirm(world: World) -> Reached:
    lan, _prompt = await _reason_prompt(world)
    confirm = await ask(lan, "Đồng chí bí thư phải đi công tác, hội nghị bỏ phiếu trước.")
    assert "✅ Xác nhận" in confirm.button_labels(), confirm
    return Reached(lan, confirm, _unit(world, "CBCS1"))


async def score_mark(world: World) -> Reached:
    await _scoring_screen(world)
    phuc = world.user("DV401")
    sheet = next(m for m in reversed(phuc.messages()) if "Phiếu chấm điểm" in (m.text or ""))
    await _press(phuc, next(b for b in sheet.button_labels() if b.startswith("1.1:")), sheet)
    assert "Tiêu chí 1.1" in sheet.text, sheet
    return Reached(phuc, sheet, _unit(world, "CB21"))


async def _adjust(world: World, steps: list[str]):
    son, meeting = await _scoring_screen(world)
    prompt = await answer_of(son, "➖ Trừ điểm", meeting)
    assert "Tiêu chí nào?" in prompt.text, prompt
    if steps:
        prompt = await answer_of(son, "2", prompt)
    for text in steps[1:]:
        prompt = await ask(son, text)
    return Reached(son, prompt, _unit(world, "CB21"))


async def adjust_criterion(world: World) -> Reached:
    return await _adjust(world, [])


async def adjust_amount(world: World) -> Reached:
    return await _adjust(world, ["2"])


async def adjust_reason(world: World) -> Reached:
    return await _adjust(world, ["2", "12"])


async def adjust_responsible(world: World) -> Reached:
    return await _adjust(world, ["2", "12", "Sản lượng chỉ đạt 88% kế hoạch năm."])


async def close_confirm(world: World) -> Reached:
    son, meeting = await _scoring_screen(world)
    prompt = await answer_of(son, "🔒 Kết thúc chấm điểm", meeting)
    assert "Không thể hoàn tác" in prompt.text, prompt
    return Reached(son, prompt, _unit(world, "CB21"))


DRIVERS = {
    ("meeting", "order"): order,
    ("meeting", "scoring"): scoring,
    ("order_reason", "reason"): order_reason,
    ("order_reason", "confirm"): order_reason_confirm,
    ("unit_score", "mark"): score_mark,
    ("unit_adjust", "criterion"): adjust_criterion,
    ("unit_adjust", "amount"): adjust_amount,
    ("unit_adjust", "reason"): adjust_reason,
    ("unit_adjust", "responsible"): adjust_responsible,
    ("scoring_close", "confirm"): close_confirm,
}
