"""Issue 14 part B as plain async services (no Telegram), the way the whole-cycle test sets a
meeting up: the order (R-D3), the members' sheets from the draft, agreed adjustments checked by
rules.org_scoring, the combined score, and the unit's round recording the proposal; and two
secretaries opening scoring at once give each member one sheet."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func
from sqlalchemy import select

from bot.services import ballot
from bot.services import unit_ballot
from bot.services import unit_meeting
from bot.services import unit_scoring
from rules.people import Presence
from storage.db import Database
from storage.models import AdjustmentKind
from storage.models import CriteriaFramework
from storage.models import Cycle
from storage.models import FrameworkCriterion
from storage.models import Member
from storage.models import Organisation
from storage.models import Role
from storage.models import ScoreAdjustment
from storage.models import ScoreMark
from storage.models import ScoreSheet
from storage.models import UnitRating
from storage.models import UnitReview
from storage.models import UnitSubject
from storage.queries import place_org

NOW = dt.datetime(2026, 12, 5, 1, 0, tzinfo=dt.UTC)
TODAY = NOW.date()


@pytest.fixture
async def db(database_url):
    database = Database(database_url)
    await database.migrate()
    yield database
    await database.dispose()


async def _unit(db: Database, members: int = 4, *, draft: bool = True):
    """A cell with a framework of three criteria (1.1: 40, 1.2: 30, 2: 30) on its đảng bộ,
    the head's draft (35, 30, 25) with one proposed addition, everyone present."""
    async with db.session() as session:
        root = Organisation(code="DB", name="Đảng bộ", kind="grassroots", path="")
        await place_org(session, root, None)
        cell = Organisation(code="CB", name="Chi bộ Một", kind="cell", path="")
        await place_org(session, cell, root)
        cycle = Cycle(org_id=root.id, year=2026, rulebook="hd21-2019",
                      finish_by=dt.date(2026, 12, 31), report_by=dt.date(2027, 2, 20))
        session.add(cycle)
        framework = CriteriaFramework(org_id=root.id, year=2026, filename="k.xlsx", loaded_by="t")
        session.add(framework)
        await session.flush()
        for position, (code, parent, most) in enumerate(
            [("1", None, 700), ("1.1", "1", 400), ("1.2", "1", 300), ("2", None, 300)]
        ):
            session.add(FrameworkCriterion(framework_id=framework.id, position=position, code=code,
                                           parent_code=parent, text=f"Tiêu chí {code}",
                                           max_tenths=most, kinds="cell"))
        people = [Member(code=f"M{i}", full_name=f"Đảng viên {i}", org_id=cell.id,
                         status="official", admitted_on=dt.date(2000, 1, 1)) for i in range(members)]
        session.add_all(people)
        await session.flush()
        session.add(Role(member_id=people[0].id, org_id=cell.id, role="secretary"))
        if draft:
            review = UnitReview(cycle_id=cycle.id, org_id=cell.id, subject="organisation",
                                state="circulated")
            session.add(review)
            await session.flush()
            sheet = ScoreSheet(review_id=review.id, member_id=None)
            session.add(sheet)
            await session.flush()
            for code, value in (("1.1", 350), ("1.2", 300), ("2", 250)):
                session.add(ScoreMark(sheet_id=sheet.id, criterion=code, tenths=value))
            session.add(ScoreAdjustment(review_id=review.id, kind="addition", criterion="2",
                                        points_tenths=10, reason="Mô hình tốt", responsible="Chi bộ",
                                        entered_by="t"))
        meeting = await ballot.meeting_for_cell(session, cell, NOW, create=True)
        await ballot.set_presence(session, meeting, [p.id for p in people], Presence.PRESENT)
        return meeting.id, [p.id for p in people]


async def test_order_scores_and_the_units_round_as_services(db):
    meeting_id, people = await _unit(db)
    async with db.session() as session:
        meeting = await unit_meeting.meeting_by_id(session, meeting_id)
        order = await unit_meeting.order_of(session, meeting, TODAY)
        assert [c.subject for c in order.collectives] == [UnitSubject.ORGANISATION]
        assert [i.member.id for i in order.individuals][0] == people[0]  # the head first
        assert await unit_meeting.ballot_waits(session, meeting, TODAY) is not None
        with pytest.raises(unit_scoring.ScoringError):  # scoring waits for the collectives
            await unit_scoring.open_scoring(session, meeting, TODAY, actor="t", now=NOW)
        await unit_meeting.mark_reviewed(session, meeting, UnitSubject.ORGANISATION,
                                         actor="t", now=NOW, today=TODAY)
        assert await unit_meeting.ballot_waits(session, meeting, TODAY) is None

        scoring, made = await unit_scoring.open_scoring(session, meeting, TODAY, actor="t", now=NOW)
        assert len(made) == 4 and all(s.marks == {"1.1": 350, "1.2": 300, "2": 250} for s in made)
        views = [unit_scoring.SheetView(scoring, s) for s in made]
        await unit_scoring.set_mark(session, views[0], "2", 300, now=NOW)
        with pytest.raises(unit_scoring.ScoringError):  # above the criterion's maximum
            await unit_scoring.set_mark(session, views[1], "2", 301, now=NOW)
        for view in views[:3]:
            await unit_scoring.submit(session, view, now=NOW)

        scoring = await unit_scoring.scoring_of(session, meeting, TODAY)
        draft_addition = scoring.adjustments[0]
        await unit_scoring.set_agreed(session, scoring, draft_addition.id, True, actor="t", now=NOW)
        deduction = unit_scoring.AdjustmentInput(AdjustmentKind.DEDUCTION, "1.1", 120,
                                                 "Chỉ tiêu đạt 88%", "Đồng chí A")
        await unit_scoring.save_adjustment(session, scoring, deduction, adjustment_id=None,
                                           actor="t", now=NOW)
        bad = unit_scoring.AdjustmentInput(AdjustmentKind.ADDITION, "9", 10, "Lý do", "Ai đó")
        with pytest.raises(unit_scoring.AdjustmentRefused):  # no criterion 9 in the framework
            await unit_scoring.save_adjustment(session, scoring, bad, adjustment_id=None,
                                               actor="t", now=NOW)
        blank = unit_scoring.AdjustmentInput(AdjustmentKind.ADDITION, "2", 10, "  ", "Ai đó")
        with pytest.raises(unit_scoring.AdjustmentRefused):  # an addition needs its reason
            await unit_scoring.save_adjustment(session, scoring, blank, adjustment_id=None,
                                               actor="t", now=NOW)

        closed = await unit_scoring.close_scoring(session, meeting, TODAY, actor="t", now=NOW)
        # The draft totals 90; one sheet raised 2 to 30 (95); +1 −1 agreed; the fourth member
        # did not submit: the mean of 95, 90, 90 is 91,666… → 91,7, in the band of HTXS.
        assert sorted(score.total for _m, score in closed.totals) == [90, 90, 95]
        assert closed.combined == Decimal("91.7") and closed.band.value == "HTXS"

    async with db.session() as session:
        meeting = await unit_meeting.meeting_by_id(session, meeting_id)
        reviews = await unit_ballot.review_ids_to_rate(session, meeting, TODAY)
        state = await ballot.meeting_state(session, meeting, TODAY)
        opened = await ballot.open_round(session, state, actor="t", now=NOW, reviews=reviews)
        assert opened.round.kind == "units"
        shares = list(opened.shares)
        await ballot.activate(session, opened.round.id)
    for member_id in people:
        async with db.session() as session:
            await ballot.cast(session, opened.round.id, member_id, {0: "HTT"})
    async with db.session() as session:
        await ballot.end_voting(session, opened.round.id, now=NOW)
        ballot_round = await ballot.round_by_id(session, opened.round.id)
        result = await ballot.open_box(session, opened.round.id,
                                       ballot.unlock(ballot_round, shares), actor="t", now=NOW)
        assert result.results[0].decision.level.value == "HTT"
        assert result.results[0].member.score_tenths == 917
    async with db.session() as session:
        rating = await session.scalar(select(UnitRating))
        assert (rating.proposed_level, rating.score_tenths) == ("HTT", 917)
        meeting = await unit_meeting.meeting_by_id(session, meeting_id)
        with pytest.raises(unit_ballot.UnitBallotError):  # nothing left to vote on
            await unit_ballot.review_ids_to_rate(session, meeting, TODAY)


async def test_two_secretaries_opening_scoring_at_once_give_one_sheet_each(db):
    meeting_id, people = await _unit(db, members=6, draft=False)
    async with db.session() as session:
        meeting = await unit_meeting.meeting_by_id(session, meeting_id)
        await unit_meeting.mark_reviewed(session, meeting, UnitSubject.ORGANISATION,
                                         actor="t", now=NOW, today=TODAY)

    async def press() -> int:
        async with db.session() as session:
            meeting = await unit_meeting.meeting_by_id(session, meeting_id)
            _scoring, made = await unit_scoring.open_scoring(session, meeting, TODAY,
                                                             actor="t", now=NOW)
            return len(made)

    made = await asyncio.gather(press(), press(), press())
    assert sorted(made) == [0, 0, 6]
    async with db.session() as session:
        sheets = await session.scalar(
            select(func.count()).select_from(ScoreSheet).where(ScoreSheet.member_id.is_not(None)))
        assert sheets == 6


async def test_a_units_round_under_the_strict_rule_counts_htxs_over_every_official_member(db):
    """R-B5 strict in a round of kind "units": HTXS needs two thirds of the cell's official
    members (7), not of those present (5); 4 HTXS and 1 HTT adopt HTT."""
    meeting_id, people = await _unit(db, members=7)
    async with db.session() as session:
        cycle = await session.scalar(select(Cycle))
        cycle.overrides = '{"counting_rule": "strict-2011"}'
        meeting = await unit_meeting.meeting_by_id(session, meeting_id)
        await ballot.set_presence(session, meeting, people[5:], Presence.ABSENT_EXCUSED)
        await unit_meeting.mark_reviewed(session, meeting, UnitSubject.ORGANISATION,
                                         actor="t", now=NOW, today=TODAY)
        review = await session.scalar(select(UnitReview))
        review.combined_tenths = 925
        reviews = await unit_ballot.review_ids_to_rate(session, meeting, TODAY)
        state = await ballot.meeting_state(session, meeting, TODAY)
        opened = await ballot.open_round(session, state, actor="t", now=NOW, reviews=reviews)
        assert opened.round.counting_rule == "strict-2011"
        shares = list(opened.shares)
        await ballot.activate(session, opened.round.id)
    for member_id, level in zip(people[:5], ("HTXS",) * 4 + ("HTT",), strict=True):
        async with db.session() as session:
            await ballot.cast(session, opened.round.id, member_id, {0: level})
    async with db.session() as session:
        await ballot.end_voting(session, opened.round.id, now=NOW)
        ballot_round = await ballot.round_by_id(session, opened.round.id)
        result = await ballot.open_box(session, opened.round.id,
                                       ballot.unlock(ballot_round, shares), actor="t", now=NOW)
        assert result.results[0].decision.level.value == "HTT"
    async with db.session() as session:
        rating = await session.scalar(select(UnitRating))
        assert (rating.proposed_level, rating.score_tenths) == ("HTT", 925)
