"""Issue 14 part B test kit: a cell (or a đảng bộ's committee) ready for its meeting, with a
criteria framework of 22 scored criteria on its đảng bộ and the head's draft score sheet
with one proposed addition, written straight to the database; and the presses a meeting
takes through the fake Bot API."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from storage.models import CriteriaFramework
from storage.models import Cycle
from storage.models import FrameworkCriterion
from storage.models import Organisation
from storage.models import ScoreAdjustment
from storage.models import ScoreMark
from storage.models import ScoreSheet
from storage.models import UnitReview
from storage.models import UnitReviewState
from tests.e2e.test_ballot import newest
from tests.e2e.test_ballot import press
from tests.e2e.test_ballot import query

ORDER = "📋 Trình tự hội nghị"
SCORING = "🧮 Chấm điểm"
EVERYONE = "✅ Tất cả có mặt"
AGREE_DRAFT = "✅ Đồng ý như dự thảo, gửi phiếu"
SUBMIT = "📨 Gửi phiếu"
CONFIRM = "✅ Xác nhận"
SHEET = "Phiếu chấm điểm"

# The framework: criteria 1..5 (20, 40, 20, 10, 10 points) with 22 scored sub-criteria.
SUBS = {"1": (4, 50), "2": (8, 50), "3": (4, 50), "4": (2, 50), "5": (4, 25)}
TITLES = {
    "1": "Công tác giáo dục chính trị, tư tưởng",
    "2": "Lãnh đạo thực hiện nhiệm vụ chính trị",
    "3": "Công tác tổ chức, cán bộ, đảng viên",
    "4": "Công tác kiểm tra, giám sát",
    "5": "Lãnh đạo chính quyền, đoàn thể",
}
KINDS = "cell,grassroots,grassroots_cell"


def leaves() -> list[tuple[str, int]]:
    """(code, max tenths) of the 22 scored criteria, in order."""
    return [(f"{top}.{i}", each) for top, (count, each) in SUBS.items() for i in range(1, count + 1)]


# The head's draft: every criterion at its maximum but these (tenths).
DRAFT_BELOW = {"1.2": 45, "2.3": 40, "2.7": 35, "3.4": 40, "5.2": 20}
DRAFT_ADDITION = ("3", 10, "Mô hình “Dân vận khéo” được huyện biểu dương", "Chi bộ")


def draft_marks() -> dict[str, int]:
    return {code: DRAFT_BELOW.get(code, top) for code, top in leaves()}


async def add_framework(database_url: str, owner_code: str, year: int) -> None:
    async def run(session):
        owner = await session.scalar(select(Organisation).where(Organisation.code == owner_code))
        framework = CriteriaFramework(org_id=owner.id, year=year, filename="khung.xlsx",
                                      loaded_by="cli")
        session.add(framework)
        await session.flush()
        position = 0
        for top, (count, each) in SUBS.items():
            session.add(FrameworkCriterion(
                framework_id=framework.id, position=position, code=top, parent_code=None,
                text=TITLES[top], max_tenths=count * each, kinds=KINDS))
            position += 1
            for i in range(1, count + 1):
                session.add(FrameworkCriterion(
                    framework_id=framework.id, position=position, code=f"{top}.{i}",
                    parent_code=top, text=f"{TITLES[top]}: nội dung {i}", max_tenths=each,
                    kinds=KINDS, guidance="Đạt đầy đủ: điểm tối đa." if i == 1 else None))
                position += 1
    await query(database_url, run)


async def add_draft(database_url: str, org_code: str, *, circulated: bool = True) -> None:
    """The head's draft sheet and one proposed addition (not agreed yet), on the unit's
    organisation review (part A prepares these; written here directly)."""
    async def run(session):
        org = await session.scalar(select(Organisation).where(Organisation.code == org_code))
        cycle = await session.scalar(select(Cycle))
        review = UnitReview(cycle_id=cycle.id, org_id=org.id, subject="organisation",
                            state=UnitReviewState.CIRCULATED if circulated else "drafting",
                            prepared_by="tg:1")
        session.add(review)
        await session.flush()
        sheet = ScoreSheet(review_id=review.id, member_id=None)
        session.add(sheet)
        await session.flush()
        for code, value in draft_marks().items():
            session.add(ScoreMark(sheet_id=sheet.id, criterion=code, tenths=value, grade="good"))
        criterion, tenths, reason, who = DRAFT_ADDITION
        session.add(ScoreAdjustment(review_id=review.id, agreed=False, kind="addition",
                                    criterion=criterion, points_tenths=tenths, reason=reason,
                                    responsible=who, entered_by="tg:1"))
    await query(database_url, run)


def points(tenths: int) -> Decimal:
    return Decimal(tenths) / 10


async def to_order(secretary, meeting):
    """From the meeting screen to the order of the meeting (the same message)."""
    await press(secretary, ORDER, meeting)
    return meeting


async def newest_sheet(user):
    return newest(user, SHEET)


def vietnam_now(clock) -> dt.datetime:
    return clock()
