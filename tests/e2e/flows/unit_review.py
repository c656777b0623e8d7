"""Drivers: the head's draft of a unit review (/tap_the: a part of the report, the Word file, a
criterion's mark, a deduction, the confirmation before circulating) and a participant's comment
(/gop_y). Sơn (DV403) is the secretary of CB21, whose meeting is ten days ahead; Phúc (DV401)
is one of its members. The criteria framework is written on the province for the plan's year,
as /mau_khung would load it."""

from __future__ import annotations

from sqlalchemy import select

from bot.frameworks import read_framework
from bot.frameworks import template_bytes
from bot.roster import BOT_LIMITS
from bot.services import units
from bot.services.frameworks import apply_framework
from bot.services.frameworks import framework_for
from bot.services.frameworks import target_for
from bot.services.unit_report import SECTIONS
from bot.services.unit_review import draft_sheet
from storage.models import Cycle
from storage.models import Organisation
from storage.models import ScoreAdjustment
from storage.models import ScoreMark
from storage.models import ScoreSheet
from storage.models import UnitComment
from storage.models import UnitReportPiece
from storage.models import UnitReview
from storage.models import UnitSubject
from tests.e2e.flows import Reached
from tests.e2e.flows import World
from tests.e2e.flows import answer_of
from tests.e2e.flows import ask
from tests.e2e.test_status_tree import query


async def _review(world: World, *, circulated: bool = False, complete: bool = False) -> int:
    """CB21's review, with the province's framework loaded; circulated and complete (every
    part written, every criterion marked) if asked."""

    async def run(session):
        province = await session.scalar(select(Organisation).where(Organisation.code == "TINH"))
        cell = await session.scalar(select(Organisation).where(Organisation.code == "CB21"))
        if await framework_for(session, cell) is None:
            target = await target_for(session, province)
            parsed = read_framework("khung.xlsx", template_bytes(), target.rulebook, BOT_LIMITS)
            await apply_framework(session, target, parsed, filename="khung.xlsx", actor="test")
        cycle = await session.get(Cycle, world.tree.cycle_id)
        review = await units.ensure_review(session, cycle, cell, UnitSubject.ORGANISATION)
        if complete:
            for number, section in enumerate(SECTIONS, 1):
                session.add(UnitReportPiece(review_id=review.id, section_key=section.key,
                                            seq=100 + number, text=f"Phần {number} của chi bộ."))
            sheet = await draft_sheet(session, review.id, create=True)
            framework = await units.criteria_of(session, cell)
            for criterion in framework.leaves():
                if await session.get(ScoreMark, (sheet.id, criterion.code)) is None:
                    session.add(ScoreMark(sheet_id=sheet.id, criterion=criterion.code,
                                          tenths=criterion.max_tenths - 10, grade="good",
                                          result="Hoàn thành."))
        if circulated and review.circulated_at is None:
            review.state, review.circulated_at = "circulated", review.updated_at
        await session.commit()
        return review.id

    return await query(world.database_url, run)


def _snapshot(world: World, review_id: int):
    async def snapshot():
        sheets = await world.rows(ScoreSheet, ScoreSheet.review_id == review_id)
        return (
            await world.rows(UnitReview, UnitReview.id == review_id),
            await world.rows(UnitReportPiece, UnitReportPiece.review_id == review_id),
            sheets,
            await world.rows(ScoreMark, ScoreMark.sheet_id.in_([s[0] for s in sheets]),
                             order_by=ScoreMark.criterion),
            await world.rows(ScoreAdjustment, ScoreAdjustment.review_id == review_id),
            await world.rows(UnitComment, UnitComment.review_id == review_id),
        )

    return snapshot


async def _with_cancel(user):
    """The next message with «✖ Hủy» under it (a draft shown first has other buttons)."""
    message = await user.wait_message(timeout=30)
    while "✖ Hủy" not in message.button_labels():
        message = await user.wait_message(timeout=30)
    return message


async def _home(world: World, **state):
    review_id = await _review(world, **state)
    son = world.user("DV403")
    home = await ask(son, "/tap_the")
    assert home.text.startswith("📋 Kiểm điểm Chi bộ Nhà máy số 01"), home.text
    return son, home, review_id


async def _then(son, label: str, message):
    await son.wait_answer(await son.press(label, message=message))
    return await son.wait_edit(message)


async def unit_part(world: World) -> Reached:
    son, home, review_id = await _home(world)
    report = await _then(son, "📝 Báo cáo", home)
    label = next(b for b in report.button_labels() if b.startswith("✏️ I."))
    prompt = await answer_of(son, label, report)
    return Reached(son, prompt, _snapshot(world, review_id))


async def unit_report_file(world: World) -> Reached:
    son, home, review_id = await _home(world)
    prompt = await answer_of(son, "📎 Tệp Word", home)
    return Reached(son, prompt, _snapshot(world, review_id))


async def unit_mark(world: World) -> Reached:
    son, home, review_id = await _home(world)
    sheet = await _then(son, "📊 Phiếu chấm điểm", home)
    label = next(b for b in sheet.button_labels() if b.endswith(" 1.1"))
    prompt = await answer_of(son, label, sheet)
    assert "Tiêu chí 1.1" in prompt.text, prompt.text
    return Reached(son, prompt, _snapshot(world, review_id))


async def unit_adjustment(world: World) -> Reached:
    son, home, review_id = await _home(world)
    adjust = await _then(son, "± Trừ, cộng điểm", home)
    prompt = await answer_of(son, "➖ Đề xuất trừ điểm", adjust)
    return Reached(son, prompt, _snapshot(world, review_id))


async def unit_circulate(world: World) -> Reached:
    son, home, review_id = await _home(world, complete=True)
    label = next(b for b in home.button_labels() if b.startswith("📤 Gửi"))
    question = await answer_of(son, label, home)
    assert "✅ Gửi dự thảo" in question.button_labels(), question
    return Reached(son, question, _snapshot(world, review_id))


async def unit_comment(world: World) -> Reached:
    review_id = await _review(world, circulated=True)
    phuc = world.user("DV401")
    phuc._msg_cursor[phuc.chat_id] = len(phuc._fake._chats[phuc.chat_id].bot_messages)
    await phuc.send("/gop_y CB21")
    prompt = await _with_cancel(phuc)
    assert prompt.text.startswith("💬 Góp ý của đồng chí"), prompt.text
    return Reached(phuc, prompt, _snapshot(world, review_id))


DRIVERS = {
    ("unit_review", "part"): unit_part,
    ("unit_review", "report_file"): unit_report_file,
    ("unit_review", "mark"): unit_mark,
    ("unit_review", "adjustment"): unit_adjustment,
    ("unit_review", "circulate"): unit_circulate,
    ("unit_comment", "text"): unit_comment,
}
