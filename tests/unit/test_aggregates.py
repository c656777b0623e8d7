"""Issue 13 item 3: the figures kept per organisation (bot/services/aggregates.py) equal the
figures counted from scratch (``count_status``) at every organisation, after each of a sequence
of writes made the ways the bot makes them: proposals and decisions through the services, a
review submitted, a member excused and moved, a meeting held as time passes, a ballot round
opened and voided, a new member admitted whom the cut-off of new members reaches later."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import func, select

from benchmarks.status import NOW, TODAY, build
from bot.services import aggregates, ballot, decision, ratings
from bot.services.status import count_status, subtree_status
from storage.db import Database
from storage.models import (
    BallotRound,
    Cycle,
    Meeting,
    Member,
    Organisation,
    Rating,
    RatingState,
    ReviewState,
    SelfReview,
    UnitFigures,
)

FIELDS = (
    "members", "to_review", "to_rate", "submitted", "late", "cells", "meetings_held",
    "meetings_scheduled", "ballots_open", "ballots_closed", "quota_breaches", "cap_breaches",
    "deadline_breaches",
)


def _flat(figures) -> tuple:
    return (
        *(getattr(figures, name) for name in FIELDS),
        dict(+figures.proposed),
        dict(+figures.decided),
    )


async def _same_everywhere(db: Database, org_ids: list[int], now: dt.datetime, today: dt.date):
    for org_id in org_ids:
        async with db.session() as session:
            org = await session.get(Organisation, org_id)
            kept = await subtree_status(session, org, now=now, today=today)
            counted = await count_status(session, org, now=now, today=today)
        assert _flat(kept.total) == _flat(counted.total), org.code
        assert kept.breach_count == len(counted.breaches), org.code
        assert [(o.id, _flat(f)) for o, f in kept.children] == [
            (o.id, _flat(f)) for o, f in counted.children
        ], org.code


async def test_kept_figures_equal_a_count_from_scratch_after_every_write(database_url, monkeypatch):
    db = Database(database_url)
    await db.migrate()
    try:
        ids = await build(db, 600, 10)  # 1 province, 100 upper units, 6 committees, 60 cells
        rng = random.Random(13)
        cells, committees = ids[3], ids[2]
        uppers = [u for u in ids[1] if u in await _parents(db, committees)]
        looked_at = ids[0] + uppers[:2] + committees[:2] + cells[:12:3]
        now, today = NOW, TODAY
        await _same_everywhere(db, looked_at, now, today)  # counted for the first time
        async with db.session() as session:
            assert await session.scalar(select(func.count()).select_from(UnitFigures))
        await _same_everywhere(db, looked_at, now, today)  # read back as kept

        async def step(write) -> None:
            async with db.session() as session:
                await write(session)
            await _same_everywhere(db, looked_at, now, today)

        async def members_of(session, cell_id: int) -> list[int]:
            return list((await session.scalars(
                select(Member.id).where(Member.org_id == cell_id).order_by(Member.id))).all())

        async def propose(session):  # proposals through the ratings service
            for cell in rng.sample(cells[:12], 4):
                members = await members_of(session, cell)
                await ratings.record_proposals(
                    session, 1, {m: rng.choice(["HTXS", "HTXS", "HTT", "HT"]) for m in members},
                    actor="test", now=now)

        async def decide(session):  # a unit's decision
            rated = await ratings.live_rating(session, 1, (await members_of(session, cells[0]))[0])
            rated.state, rated.decided_level = RatingState.DECIDED, rated.proposed_level
            rated.decided_at = now

        async def re_rate(session):  # R-A2 through the decision service
            rating = await session.scalar(
                select(Rating).where(Rating.state == RatingState.DECIDED).limit(1))
            await decision.cancel_decided(session, rating, actor="test", now=now, reason="x")

        async def submit(session):
            member = (await members_of(session, cells[5]))[-1]
            review = await session.scalar(select(SelfReview).where(SelfReview.member_id == member))
            if review is None:
                review = SelfReview(cycle_id=1, member_id=member, form_code="2B", stage="preview")
                session.add(review)
            review.state, review.late = ReviewState.SUBMITTED, True

        async def excuse_and_move(session):
            first, second = (await members_of(session, cells[2]))[:2]
            (await session.get(Member, first)).exempt = True
            (await session.get(Member, second)).org_id = cells[3]

        async def next_id(session, model) -> int:
            # The builder writes its own ids, which PostgreSQL's sequences do not see.
            return (await session.scalar(select(func.max(model.id)))) + 1

        async def admit(session):  # new: reviewed, not rated until six months have passed
            session.add(Member(id=await next_id(session, Member), code="NEW1", full_name="Đảng viên mới", org_id=cells[4],
                               status="probationary", admitted_on=today - dt.timedelta(days=20)))

        async def meeting_later(session):
            session.add(Meeting(id=await next_id(session, Meeting), cycle_id=1, org_id=cells[9],
                                scheduled_at=now + dt.timedelta(hours=5)))

        async def round_opened_and_voided(session):
            meeting = await session.scalar(
                select(Meeting).where(Meeting.org_id.in_(cells[:12])).limit(1))
            round_ = BallotRound(id=await next_id(session, BallotRound), meeting_id=meeting.id,
                                 number=9, state="pending",
                                 counting_rule="cumulative", denominator_rule="convened",
                                 opened_by="test", opened_at=now)
            session.add(round_)
            await session.flush()
            assert await ballot.activate(session, round_.id)

        async def void_pending(session):
            meeting = await session.scalar(
                select(Meeting).where(Meeting.org_id.in_(cells[:12])).limit(1))
            round_ = BallotRound(id=await next_id(session, BallotRound), meeting_id=meeting.id,
                                 number=10, state="pending",
                                 counting_rule="cumulative", denominator_rule="convened",
                                 opened_by="test", opened_at=now)
            session.add(round_)
            await session.flush()
            await ballot.void(session, round_.id)

        for write in (propose, decide, re_rate, submit, excuse_and_move, admit, meeting_later,
                      round_opened_and_voided, void_pending):
            await step(write)

        # Time passes: the meeting is held, the new member's six months are over, the plan's
        # finish-by date passed (deadline breaches), and its quota setting changes.
        now, today = now + dt.timedelta(days=200), today + dt.timedelta(days=200)
        await _same_everywhere(db, looked_at, now, today)
        async with db.session() as session:
            (await session.get(Cycle, 1)).overrides = '{"htxs_quota_percent": 50}'
        await _same_everywhere(db, looked_at, now, today)

        # Kept rows that drifted (written around the ORM) are dropped by `forget`; counted
        # again in one pass over the subtree (as a province's first read is).
        async with db.session() as session:
            await aggregates.forget(session)
            assert not await session.scalar(select(func.count()).select_from(UnitFigures))
        monkeypatch.setattr(aggregates, "BULK", 0)
        await _same_everywhere(db, looked_at, now, today)
    finally:
        await db.dispose()


async def _parents(db: Database, org_ids: list[int]) -> set[int]:
    async with db.session() as session:
        return set((await session.scalars(
            select(Organisation.parent_id).where(Organisation.id.in_(org_ids)))).all())
