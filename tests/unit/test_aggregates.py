"""Issue 13 item 3: the figures kept per organisation (bot/services/aggregates.py) equal the
figures counted from scratch (``count_status``, which keeps nothing) and the same figures
counted member by member in Python with the pure rules (``_by_hand``), at every organisation,
after each of a sequence of writes made the ways the bot makes them: proposals and decisions through the services, a
review submitted, a member excused and moved, a meeting held as time passes, a ballot round
opened and voided, a new member admitted whom the cut-off of new members reaches later."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from benchmarks.status import NOW
from benchmarks.status import TODAY
from benchmarks.status import build
from bot.cli import main
from bot.services import aggregates
from bot.services import ballot
from bot.services import decision
from bot.services import ratings
from bot.services import status as status_service
from bot.services.aggregates import Counts
from bot.services.checks import cap_breaches
from bot.services.checks import rated_members
from bot.services.cycles import cycle_rulebook
from bot.services.cycles import member_facts
from bot.services.status import UNIT_KINDS
from bot.services.status import Figures
from bot.services.status import count_status
from bot.services.status import status_cycles
from bot.services.status import subtree_status
from rules.eligibility import review_status
from rules.quotas import check_quota
from storage import models
from storage.db import Database
from storage.db import settled

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
    async with db.session() as session:
        by_hand = await _by_hand(session, now, today)
    for org_id in org_ids:
        async with db.session() as session:
            org = await session.get(models.Organisation, org_id)
            kept = await subtree_status(session, org, now=now, today=today)
            counted = await count_status(session, org, now=now, today=today)
        await settled(db.engine)  # what the read kept is written in the background
        assert _flat(kept.total) == _flat(counted.total), org.code
        assert kept.breach_count == len(counted.breaches), org.code
        # The breaches named (kept with the figures after a first read) are those named now.
        assert _named(kept) == _named(counted), org.code
        assert [(o.id, _flat(f)) for o, f in kept.children] == [
            (o.id, _flat(f)) for o, f in counted.children
        ], org.code
        # Both share the counting code: the same figures, counted member by member here.
        assert _plain(kept.total) == by_hand.total(org), org.code
        assert [(o.id, _plain(f)) for o, f in kept.children] == [
            (o.id, by_hand.total(o)) for o, _ in kept.children
        ], org.code
        assert kept.breach_count == by_hand.breaches(org), org.code


def _named(status) -> list:
    return [(b.org_id, b.breach.code, b.breach.member_ids, b.breach.params.get("count"))
            for b in status.breaches]


PLAIN = FIELDS[:10]  # the counts (breaches are compared as a whole)


def _plain(figures) -> tuple:
    return (*(getattr(figures, n) for n in PLAIN), dict(+figures.proposed), dict(+figures.decided))


@dataclass
class ByHand:
    """Each organisation's own figures counted in Python, member by member, with the pure rules
    and the checks' own queries (``checks.rated_members``): what the SQL must give."""

    orgs: dict[int, models.Organisation]
    own: dict[int, Figures]
    caps: dict[int, int]  # cap breaches of each organisation's own members
    quota: dict[int, int]  # quota breaches of each grassroots unit

    def _inside(self, org: models.Organisation) -> list[int]:
        return [i for i, o in self.orgs.items() if o.path.startswith(org.path)]

    def total(self, org: models.Organisation) -> tuple:
        total = Figures()
        for i in self._inside(org):
            total.add(self.own[i])
        return _plain(total)

    def breaches(self, org: models.Organisation) -> int:
        """Caps inside `org`, the quotas of the units inside it or of the unit it is in."""
        above = {int(p) for p in org.path.strip("/").split("/")}
        units = set(self._inside(org)) | above
        return sum(self.caps.get(i, 0) for i in self._inside(org)) + sum(
            self.quota.get(i, 0) for i in units
        )


async def _by_hand(session, now: dt.datetime, today: dt.date) -> ByHand:
    top = await session.scalar(select(models.Organisation).where(models.Organisation.parent_id.is_(None)))
    cycle, cycle_ids = await status_cycles(session, top)
    rulebook = cycle_rulebook(cycle)
    orgs = {o.id: o for o in (await session.scalars(select(models.Organisation))).all()}
    own = {i: Figures(cells=int(models.OrgKind(o.kind).is_cell)) for i, o in orgs.items()}
    member_org = {}
    reviews = {r.member_id: r for r in (await session.scalars(
        select(models.SelfReview).where(models.SelfReview.cycle_id.in_(cycle_ids)))).all()}
    for member in (await session.scalars(select(models.Member))).all():
        member_org[member.id] = member.org_id
        f = own[member.org_id]
        status = review_status(member_facts(member), rulebook, today)
        f.members += 1
        f.to_review += status.reviewed
        f.to_rate += status.rated
        review = reviews.get(member.id)
        if status.reviewed and review is not None and review.state == models.ReviewState.SUBMITTED:
            f.submitted += 1
            f.late += bool(review.late)
    meetings = {m.id: m for m in (await session.scalars(
        select(models.Meeting).where(models.Meeting.cycle_id.in_(cycle_ids)))).all()}
    for meeting in meetings.values():
        held = meeting.scheduled_at <= now
        own[meeting.org_id].meetings_held += held
        own[meeting.org_id].meetings_scheduled += not held
    for round_ in (await session.scalars(select(models.BallotRound))).all():
        if round_.meeting_id in meetings:
            f = own[meetings[round_.meeting_id].org_id]
            f.ballots_open += round_.state == "open"
            f.ballots_closed += round_.state != "open"
    for rating in (await session.scalars(select(models.Rating).where(
            models.Rating.cycle_id.in_(cycle_ids), models.Rating.state != models.RatingState.CANCELLED))).all():
        level = rating.decided_level or rating.proposed_level
        if level is not None:
            f = own[member_org[rating.member_id]]
            (f.decided if rating.state == models.RatingState.DECIDED else f.proposed)[level] += 1
    caps: dict[int, int] = {}
    for r in await rated_members(session, cycle, top):
        caps[r.member.org_id] = caps.get(r.member.org_id, 0) + len(cap_breaches([r], cycle))
    quota = {}
    for unit in (o for o in orgs.values() if o.kind in UNIT_KINDS):
        rated = await rated_members(session, cycle, unit)
        quota[unit.id] = len(check_quota({str(r.member.id): r.level for r in rated}, rulebook))
    return ByHand(orgs, own, caps, quota)


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
            assert await session.scalar(select(func.count()).select_from(models.UnitFigures))
        await _same_everywhere(db, looked_at, now, today)  # read back as kept

        async def step(write) -> None:
            async with db.session() as session:
                await write(session)
            await _same_everywhere(db, looked_at, now, today)

        async def members_of(session, cell_id: int) -> list[int]:
            return list((await session.scalars(
                select(models.Member.id).where(models.Member.org_id == cell_id).order_by(models.Member.id))).all())

        async def propose(session):  # proposals through the ratings service
            for cell in rng.sample(cells[:12], 4):
                members = await members_of(session, cell)
                await ratings.record_proposals(
                    session, 1, {m: rng.choice(["HTXS", "HTXS", "HTT", "HT"]) for m in members},
                    actor="test", now=now)

        async def decide(session):  # a unit's decision
            rated = await ratings.live_rating(session, 1, (await members_of(session, cells[0]))[0])
            rated.state, rated.decided_level = models.RatingState.DECIDED, rated.proposed_level
            rated.decided_at = now

        async def re_rate(session):  # R-A2 through the decision service
            rating = await session.scalar(
                select(models.Rating).where(models.Rating.state == models.RatingState.DECIDED).limit(1))
            await decision.cancel_decided(session, rating, actor="test", now=now, reason="x")

        async def submit(session):
            member = (await members_of(session, cells[5]))[-1]
            review = await session.scalar(select(models.SelfReview).where(models.SelfReview.member_id == member))
            if review is None:
                review = models.SelfReview(cycle_id=1, member_id=member, form_code="2B", stage="preview")
                session.add(review)
            review.state, review.late = models.ReviewState.SUBMITTED, True

        async def excuse_and_move(session):
            first, second = (await members_of(session, cells[2]))[:2]
            (await session.get(models.Member, first)).exempt = True
            (await session.get(models.Member, second)).org_id = cells[3]

        async def next_id(session, model) -> int:
            # The builder writes its own ids, which PostgreSQL's sequences do not see.
            return (await session.scalar(select(func.max(model.id)))) + 1

        async def admit(session):  # new: reviewed, not rated until six months have passed
            session.add(models.Member(id=await next_id(session, models.Member), code="NEW1", full_name="Đảng viên mới", org_id=cells[4],
                               status="probationary", admitted_on=today - dt.timedelta(days=20)))

        async def meeting_later(session):
            session.add(models.Meeting(id=await next_id(session, models.Meeting), cycle_id=1, org_id=cells[9],
                                scheduled_at=now + dt.timedelta(hours=5)))

        async def round_opened_and_voided(session):
            meeting = await session.scalar(
                select(models.Meeting).where(models.Meeting.org_id.in_(cells[:12])).limit(1))
            round_ = models.BallotRound(id=await next_id(session, models.BallotRound), meeting_id=meeting.id,
                                 number=9, state="pending",
                                 counting_rule="cumulative", denominator_rule="convened",
                                 opened_by="test", opened_at=now)
            session.add(round_)
            await session.flush()
            assert await ballot.activate(session, round_.id)

        async def void_pending(session):
            meeting = await session.scalar(
                select(models.Meeting).where(models.Meeting.org_id.in_(cells[:12])).limit(1))
            round_ = models.BallotRound(id=await next_id(session, models.BallotRound), meeting_id=meeting.id,
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
            (await session.get(models.Cycle, 1)).overrides = '{"htxs_quota_percent": 50}'
        await _same_everywhere(db, looked_at, now, today)

        # Kept rows that drifted (written around the ORM) are dropped by `forget`; counted
        # again in one pass over the subtree (as a province's first read is).
        async with db.session() as session:
            await aggregates.forget(session)
            assert not await session.scalar(select(func.count()).select_from(models.UnitFigures))
        monkeypatch.setattr(aggregates, "BULK", 0)
        await _same_everywhere(db, looked_at, now, today)
    finally:
        await db.dispose()


async def _parents(db: Database, org_ids: list[int]) -> set[int]:
    async with db.session() as session:
        return set((await session.scalars(
            select(models.Organisation.parent_id).where(models.Organisation.id.in_(org_ids)))).all())


def test_the_rebuild_command_counts_the_kept_figures_again(database_url, monkeypatch, capsys):
    """`kiemdiem rebuild-figures`: kept rows that drifted (written around the ORM) are dropped
    and every plan's subtree counted again; the figures read after it are right."""

    async def drifted() -> models.Organisation:
        db = Database(database_url)
        await db.migrate()
        try:
            ids = await build(db, 200, 10)
            async with db.session() as session:
                top = await session.get(models.Organisation, ids[0][0])
                await subtree_status(session, top, now=NOW, today=TODAY)  # kept
            await settled(db.engine)
            async with db.session() as session:
                await session.execute(update(models.UnitFigures).values(figures=Counts().to_json()))
            return top
        finally:
            await db.dispose()

    async def read(top: models.Organisation) -> tuple[int, tuple, tuple]:
        db = Database(database_url)
        try:
            async with db.session() as session:
                org = await session.get(models.Organisation, top.id)
                kept = await subtree_status(session, org, now=NOW, today=TODAY)
                counted = await count_status(session, org, now=NOW, today=TODAY)
                rows = await aggregates.kept_rows(session)
            return rows, _flat(kept.total), _flat(counted.total)
        finally:
            await db.dispose()

    top = asyncio.run(drifted())
    _rows, wrong, right = asyncio.run(read(top))
    assert wrong != right  # the drifted rows are trusted (within a day) until rebuilt
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("BOT_DEFAULT_LOCALE", "vi")
    assert main(["rebuild-figures"]) == 0
    out = capsys.readouterr().out
    rows, kept, counted = asyncio.run(read(top))
    assert f"Đã tính lại số liệu tình trạng năm 2026: {rows} tổ chức" in out, out
    assert rows == 1 + 100 + 2 + 20 and kept == counted  # every organisation under the plan


async def test_a_large_subtree_keeps_its_first_breaches_while_its_figures_hold(
    database_url, monkeypatch
):
    """The first breach lines of a large subtree's status are kept with its figures: read
    again as they were, and named afresh once a write touched the subtree."""
    monkeypatch.setattr(status_service, "SMALL_SUBTREE", 10)  # every subtree here is large
    db = Database(database_url)
    await db.migrate()
    try:
        ids = await build(db, 600, 10)

        async def first_lines() -> list:
            async with db.session() as session:
                top = await session.get(models.Organisation, ids[0][0])
                status = await subtree_status(session, top, now=NOW, today=TODAY, breach_limit=3)
                every = await count_status(session, top, now=NOW, today=TODAY)
            lines = [(b.org_id, b.breach.render()) for b in status.breaches]
            assert len(lines) >= min(3, len(every.breaches)) and status.breach_count == len(
                every.breaches)
            return lines

        counted = await first_lines()
        await settled(db.engine)
        async with db.session() as session:
            kept = await session.scalar(select(models.UnitFigures.figures).where(
                models.UnitFigures.org_id == ids[0][0]))
        assert status_service.BREACHES in kept  # kept with the province's figures
        assert await first_lines() == counted  # read back as they were
        async with db.session() as session:  # every member of the first cells proposed HTXS
            for cell in ids[3][:6]:
                members = (await session.scalars(select(models.Member.id).where(
                    models.Member.org_id == cell))).all()
                await ratings.record_proposals(
                    session, 1, dict.fromkeys(members, "HTXS"), actor="test", now=NOW)
        again = await first_lines()
        assert again != counted  # named afresh: the quota of the first unit changed
    finally:
        await db.dispose()
