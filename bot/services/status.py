"""Where every unit of a subtree stands (/tinh_trang, /bieu_do, /bao_cao): figures by child.

``subtree_status`` reads the figures kept per organisation (``bot.services.aggregates``: the
organisation's row and its children's, counted again only where a write touched them), so a
province's status reads a few hundred rows. ``count_status`` counts them from scratch, as
described below; the kept figures must equal it (``tests/unit/test_aggregates.py``).

Counted from scratch, every figure is a grouped aggregate over the subtree: a mapping (child, organisation) is built
by joining each child to the organisations whose path falls in the child's range (an index
range scan per child, see ``storage.queries.subtree_range``), then members, self-reviews,
meetings, ballot rounds and ratings are counted with one GROUP BY child each. Nothing loops
over units in Python except the pure quota and cap rules over the rated members, which are
read in one query.

Who is to be reviewed is ``rules.eligibility.review_status`` written as SQL: not exempt, not
suspended (R-E1), and under a rulebook that does not review new members, admitted at least
``new_member_months`` before today (R-E3). Today stands for each cell's meeting date, so a
member admitted close to the six months may be counted differently than at the meeting.
Who is to be rated: the same, with new members left out under every rulebook.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import and_, case, func, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.services import aggregates
from bot.services.checks import RatedMember, cap_breaches, restrict
from bot.services.cycles import cycle_for_org, cycle_rulebook
from rules.breaches import Breach
from rules.levels import LEVELS_DESC, Level
from rules.people import name_sort_key
from rules.quotas import QuotaScope, check_quota, htt_base, htxs_limit
from storage.models import (
    BallotRound,
    Cycle,
    Meeting,
    Member,
    Organisation,
    OrgKind,
    Rating,
    RatingState,
    ReviewState,
    SelfReview,
)
from storage.queries import subtree_range

LEVEL_CODES = tuple(level.value for level in LEVELS_DESC)


def by_member(session: AsyncSession, column):
    """`column` + 0 on SQLite, where it keeps the planner from reading a whole cycle through
    the cycle index when rows are looked up by member or cell; the column itself on
    PostgreSQL, whose planner the "+ 0" misleads (it estimated 438 rows where there were
    88,023 and hashed the whole year's ratings; measured with benchmarks/province.py)."""
    bind = session.bind
    return column + 0 if bind is None or bind.dialect.name == "sqlite" else column


CELL_KINDS = (OrgKind.CELL.value, OrgKind.GRASSROOTS_CELL.value)
UNIT_KINDS = (OrgKind.GRASSROOTS.value, OrgKind.GRASSROOTS_CELL.value)


@dataclass
class Figures:
    """The figures of one organisation's subtree."""

    members: int = 0
    to_review: int = 0
    to_rate: int = 0
    submitted: int = 0
    late: int = 0
    cells: int = 0
    meetings_held: int = 0
    meetings_scheduled: int = 0
    ballots_open: int = 0
    ballots_closed: int = 0
    proposed: Counter = field(default_factory=Counter)  # level code -> live proposals
    decided: Counter = field(default_factory=Counter)  # level code -> decided levels
    quota_breaches: int = 0
    cap_breaches: int = 0
    deadline_breaches: int = 0  # members still undecided after the plan's finish-by date

    @property
    def missing(self) -> int:
        return max(self.to_review - self.submitted, 0)

    @property
    def decided_total(self) -> int:
        return sum(self.decided.values())

    @property
    def proposed_total(self) -> int:
        return sum(self.proposed.values())

    @property
    def breaches(self) -> int:
        return self.quota_breaches + self.cap_breaches + self.deadline_breaches

    def add(self, other: Figures, sign: int = 1) -> None:
        for name in (
            "members",
            "to_review",
            "to_rate",
            "submitted",
            "late",
            "cells",
            "meetings_held",
            "meetings_scheduled",
            "ballots_open",
            "ballots_closed",
            "quota_breaches",
            "cap_breaches",
            "deadline_breaches",
        ):
            setattr(self, name, getattr(self, name) + sign * getattr(other, name))
        if sign > 0:
            self.proposed.update(other.proposed)
            self.decided.update(other.decided)
        else:
            self.proposed.subtract(other.proposed)
            self.decided.subtract(other.decided)
            self.proposed, self.decided = +self.proposed, +self.decided

    def subtract(self, other: Figures) -> None:
        self.add(other, -1)


@dataclass
class UnitBreach:
    """A breach and the organisation it is reported on."""

    org_id: int
    breach: Breach


@dataclass
class Status:
    org: Organisation
    cycle: Cycle | None  # the plan that applies to the organisation (or the subtree's newest)
    cycle_ids: list[int]
    total: Figures
    children: list[tuple[Organisation, Figures]]
    breaches: list[UnitBreach]
    finish_by_passed: bool
    breach_count: int = 0  # every breach of the subtree (``breaches`` may hold only the first)


async def status_cycles(session: AsyncSession, org: Organisation) -> tuple[Cycle | None, list[int]]:
    """The plan covering `org` and every plan of the same year set inside or above it."""
    main = await cycle_for_org(session, org)
    if main is None:
        main = await session.scalar(
            select(Cycle)
            .join(Organisation, Cycle.org_id == Organisation.id)
            .where(subtree_range(org.path))
            .order_by(Cycle.year.desc(), Organisation.depth)
            .limit(1)
        )
    if main is None:
        return None, []
    ancestors = [int(part) for part in org.path.strip("/").split("/")]
    ids = (
        await session.scalars(
            select(Cycle.id)
            .join(Organisation, Cycle.org_id == Organisation.id)
            .where(
                Cycle.year == main.year,
                or_(Cycle.org_id.in_(ancestors), subtree_range(org.path)),
            )
        )
    ).all()
    return main, list(ids)


def _mapping(org: Organisation):
    """(key, org_id): each organisation of the subtree under the child it belongs to; the
    organisation itself under its own id."""
    child = aliased(Organisation)
    unit = aliased(Organisation)
    upper = func.substr(child.path, 1, func.length(child.path) - 1).concat("0")
    children = (
        select(child.id.label("key"), unit.id.label("org_id"))
        .join(unit, and_(unit.path >= child.path, unit.path < upper))
        .where(child.parent_id == org.id)
    )
    own = select(literal(org.id).label("key"), literal(org.id).label("org_id"))
    return union_all(children, own).subquery("m")


def months_back(day: dt.date, months: int) -> dt.date:
    """The same day `months` months earlier, clamped to the month's end."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    for last in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


async def subtree_status(
    session: AsyncSession,
    org: Organisation,
    *,
    now: dt.datetime,
    today: dt.date,
    with_breaches: bool = True,
    breach_limit: int | None = None,
) -> Status:
    """The figures of `org` and of each of its children, from the figures kept per
    organisation (``bot.services.aggregates``). The breaches themselves (with names) are read
    when `with_breaches`: all of them, or with `breach_limit` on a large subtree only enough
    for that many lines, unit by unit (``Status.breach_count`` counts them all)."""
    cycle, cycle_ids = await status_cycles(session, org)
    if cycle is None:
        return await count_status(session, org, now=now, today=today, with_breaches=False)
    children = (
        await session.scalars(
            select(Organisation).where(Organisation.parent_id == org.id).order_by(Organisation.code)
        )
    ).all()
    rulebook = cycle_rulebook(cycle)
    cutoff = months_back(today, rulebook.new_member_months)
    unit_above = await enclosing_unit(session, org)
    wanted = [org.id, *(c.id for c in children)]
    if unit_above is not None:
        wanted.append(unit_above.id)
    counts = await aggregates.unit_counts(
        session, cycle, cycle_ids, wanted, now=now, today=today, new_member_cutoff=cutoff
    )
    figures = {child.id: _figures(counts[child.id]) for child in children}
    own = _figures(counts[org.id])
    for child in children:
        own.subtract(figures[child.id])
    if unit_above is not None:  # the unit's quota is told on `org`, whatever is below it
        for f in figures.values():
            f.quota_breaches = 0
        own.quota_breaches = counts[unit_above.id].own_quota
    figures[org.id] = own
    finish_by_passed = today > cycle.finish_by
    if finish_by_passed:
        for f in figures.values():
            f.deadline_breaches = max(f.to_rate - f.decided_total, 0)
    total = Figures()
    for f in figures.values():
        total.add(f)
    found: list[UnitBreach] = []
    if with_breaches and (total.quota_breaches or total.cap_breaches):
        if breach_limit is None or total.members <= SMALL_SUBTREE or unit_above is not None:
            found = await subtree_breaches(session, cycle, org)
        else:
            for child in children:  # enough for the lines shown, unit by unit, in code order
                if figures[child.id].quota_breaches or figures[child.id].cap_breaches:
                    found += await subtree_breaches(session, cycle, child)
                    if len(found) >= breach_limit:
                        break
    return Status(
        org=org,
        cycle=cycle,
        cycle_ids=cycle_ids,
        total=total,
        children=[(child, figures[child.id]) for child in children],
        breaches=found,
        finish_by_passed=finish_by_passed,
        breach_count=total.quota_breaches + total.cap_breaches,
    )


# Up to this many members the status reads every breach whatever it shows.
SMALL_SUBTREE = 5000


def _figures(counts: aggregates.Counts) -> Figures:
    values = counts.values
    return Figures(
        **{name: values[name] for name in aggregates.COUNTS},
        proposed=Counter(counts.proposed),
        decided=Counter(counts.decided),
    )


async def count_status(
    session: AsyncSession,
    org: Organisation,
    *,
    now: dt.datetime,
    today: dt.date,
    with_breaches: bool = True,
) -> Status:
    """The figures of `org` and of each of its children, counted from scratch over the
    subtree (what the kept figures must equal; used when no plan covers the subtree)."""
    cycle, cycle_ids = await status_cycles(session, org)
    children = (
        await session.scalars(
            select(Organisation).where(Organisation.parent_id == org.id).order_by(Organisation.code)
        )
    ).all()
    figures: dict[int, Figures] = {child.id: Figures() for child in children}
    figures[org.id] = Figures()
    m = _mapping(org)

    # Cells.
    rows = await session.execute(
        select(m.c.key, func.count())
        .select_from(m)
        .join(Organisation, Organisation.id == m.c.org_id)
        .where(Organisation.kind.in_(CELL_KINDS))
        .group_by(m.c.key)
    )
    for key, count in rows:
        figures[key].cells = count

    rulebook = cycle_rulebook(cycle) if cycle else None
    cutoff = months_back(today, rulebook.new_member_months) if rulebook else today
    not_excused = and_(Member.exempt.is_(False), Member.suspended.is_(False))
    rated = and_(not_excused, Member.admitted_on <= cutoff)
    reviewed = not_excused if rulebook and rulebook.new_member_reviewed else rated
    submitted = and_(reviewed, SelfReview.state == ReviewState.SUBMITTED)
    one = literal(1)
    # "+ 0" in the joins below: rows are looked up by member or cell, never by scanning a
    # whole cycle (SQLite's planner would otherwise pick the cycle index on small subtrees).
    review_join = and_(
        SelfReview.member_id == Member.id, by_member(session, SelfReview.cycle_id).in_(cycle_ids)
    )
    rows = await session.execute(
        select(
            m.c.key,
            func.count(Member.id),
            func.sum(case((reviewed, one), else_=0)),
            func.sum(case((rated, one), else_=0)),
            func.sum(case((submitted, one), else_=0)),
            func.sum(case((and_(submitted, SelfReview.late.is_(True)), one), else_=0)),
        )
        .select_from(m)
        .join(Member, Member.org_id == m.c.org_id)
        .outerjoin(SelfReview, review_join)
        .group_by(m.c.key)
    )
    for key, members, to_review, to_rate, done, late in rows:
        f = figures[key]
        f.members, f.to_review, f.to_rate = members, to_review or 0, to_rate or 0
        f.submitted, f.late = done or 0, late or 0

    if cycle_ids:
        held = Meeting.scheduled_at <= now
        rows = await session.execute(
            select(
                m.c.key,
                func.sum(case((held, one), else_=0)),
                func.sum(case((held, 0), else_=1)),
            )
            .select_from(m)
            .join(Meeting, Meeting.org_id == m.c.org_id)
            .where(by_member(session, Meeting.cycle_id).in_(cycle_ids))
            .group_by(m.c.key)
        )
        for key, held_count, scheduled in rows:
            figures[key].meetings_held = held_count or 0
            figures[key].meetings_scheduled = scheduled or 0

        is_open = BallotRound.state == "open"
        rows = await session.execute(
            select(
                m.c.key,
                func.sum(case((is_open, one), else_=0)),
                func.sum(case((is_open, 0), else_=1)),
            )
            .select_from(m)
            .join(Meeting, Meeting.org_id == m.c.org_id)
            .join(BallotRound, BallotRound.meeting_id == Meeting.id)
            .where(by_member(session, Meeting.cycle_id).in_(cycle_ids))
            .group_by(m.c.key)
        )
        for key, opened, closed in rows:
            figures[key].ballots_open = opened or 0
            figures[key].ballots_closed = closed or 0

        level = func.coalesce(Rating.decided_level, Rating.proposed_level)
        rows = await session.execute(
            select(m.c.key, Rating.state, level, func.count())
            .select_from(m)
            .join(Member, Member.org_id == m.c.org_id)
            .join(Rating, Rating.member_id == Member.id)
            .where(
                by_member(session, Rating.cycle_id).in_(cycle_ids),
                Rating.state != RatingState.CANCELLED,
                level.is_not(None),
            )
            .group_by(m.c.key, Rating.state, level)
        )
        for key, state, code, count in rows:
            target = figures[key].decided if state == RatingState.DECIDED else figures[key].proposed
            target[code] += count

    finish_by_passed = cycle is not None and today > cycle.finish_by
    if finish_by_passed:
        for f in figures.values():
            f.deadline_breaches = max(f.to_rate - f.decided_total, 0)

    found: list[UnitBreach] = []
    if with_breaches and cycle is not None:
        found = await subtree_breaches(session, cycle, org)
        if found:
            keys = await _keys_of(session, org, {b.org_id for b in found})
            for item in found:
                f = figures[keys.get(item.org_id, org.id)]
                if item.breach.code.startswith("quota."):
                    f.quota_breaches += 1
                else:
                    f.cap_breaches += 1

    total = Figures()
    for f in figures.values():
        total.add(f)
    return Status(
        org=org,
        cycle=cycle,
        cycle_ids=cycle_ids,
        total=total,
        children=[(child, figures[child.id]) for child in children],
        breaches=found,
        finish_by_passed=finish_by_passed,
        breach_count=len(found),
    )


async def _keys_of(session: AsyncSession, org: Organisation, org_ids: set[int]) -> dict[int, int]:
    """Which child of `org` (or `org` itself) each organisation belongs to."""
    rows = await session.execute(
        select(Organisation.id, Organisation.path).where(Organisation.id.in_(org_ids))
    )
    keys = {}
    prefix = len(org.path.strip("/").split("/"))
    for org_id, path in rows:
        parts = path.strip("/").split("/")
        keys[org_id] = int(parts[prefix]) if len(parts) > prefix else org.id
    return keys


async def enclosing_unit(session: AsyncSession, org: Organisation) -> Organisation | None:
    """The grassroots committee or grassroots cell at or above `org`, if any."""
    ids = [int(part) for part in org.path.strip("/").split("/")]
    return await session.scalar(
        select(Organisation)
        .where(Organisation.id.in_(ids), Organisation.kind.in_(UNIT_KINDS))
        .order_by(Organisation.depth.desc())
        .limit(1)
    )


# The member columns the pure rules read (``cycles.member_facts``), loaded as plain rows: on a
# province, building ORM objects for every rated member costs seconds.
FACT_COLUMNS = (
    Member.id,
    Member.full_name,
    Member.status,
    Member.admitted_on,
    Member.exempt,
    Member.suspended,
    Member.committee_suspended,
    Member.temporary_org_id,
    Member.leader,
    Member.head,
    Member.sick_leave_months,
    Member.maternity,
    Member.discipline_form,
    Member.discipline_in_official_duties,
    Member.outside_political_system,
    Member.transferred_in_on,
    Member.public_servant,
    Member.org_id,
)


def _may_be_capped(row) -> bool:
    """Only these facts can cap a level (R-C1, R-C3, R-C4, R-C5); others need no check."""
    return bool(
        row.sick_leave_months
        or row.discipline_form
        or row.head
        or (row.general_score is not None and row.task_score is not None)
    )


def _live(session: AsyncSession, cycle: Cycle):
    level = func.coalesce(Rating.decided_level, Rating.proposed_level)
    return level, (
        # Look ratings up by member, not by scanning the whole cycle (see by_member).
        by_member(session, Rating.cycle_id) == cycle.id,
        Rating.state != RatingState.CANCELLED,
        level.is_not(None),
    )


async def _capped_rows(session: AsyncSession, cycle: Cycle, org: Organisation) -> list:
    """The rated members of the subtree a cap can concern (``_may_be_capped``, in SQL), as
    plain rows with the facts the rules read, by name."""
    return await _capped_where(session, cycle, subtree_range(org.path))


async def _capped_rows_of(session: AsyncSession, cycle: Cycle, org_ids: list[int]) -> Counter:
    """Cap breaches counted per organisation, over the members of `org_ids` themselves."""
    capped = [
        RatedMember(row, None, Level(row.level), row)
        for row in await _capped_where(session, cycle, Member.org_id.in_(org_ids))
    ]
    org_of = {str(r.member.id): r.member.org_id for r in capped}
    return Counter(org_of[b.member_ids[0]] for b in cap_breaches(capped, cycle) if b.member_ids)


async def _capped_where(session: AsyncSession, cycle: Cycle, where) -> list:
    level, live = _live(session, cycle)
    rows = await session.execute(
        select(*FACT_COLUMNS, level.label("level"), SelfReview.general_score, SelfReview.task_score)
        .join(Organisation, Member.org_id == Organisation.id)
        .join(Rating, Rating.member_id == Member.id)
        .outerjoin(
            SelfReview, (SelfReview.member_id == Member.id) & (SelfReview.cycle_id == cycle.id)
        )
        .where(
            where,
            *live,
            or_(
                Member.sick_leave_months > 0,
                Member.discipline_form.is_not(None),
                Member.head.is_(True),
                and_(SelfReview.general_score.is_not(None), SelfReview.task_score.is_not(None)),
            ),
        )
        .order_by(Member.id)
    )
    return sorted(
        (row for row in rows if _may_be_capped(row)), key=lambda row: name_sort_key(row.full_name)
    )


async def subtree_breaches(
    session: AsyncSession, cycle: Cycle, org: Organisation
) -> list[UnitBreach]:
    """Caps on every rated member of the subtree (reported on their cell) and the peer quota
    of every grassroots unit (reported on it, or on `org` when the unit is above it): the
    same rules as ``checks.unit_breaches``. The quotas are decided from the levels counted per
    organisation in one GROUP BY; only the units whose HTXS count may exceed their quota are
    read member by member. Breaches name members of `org`'s subtree only (issue 12 item 2)."""
    unit_above = await enclosing_unit(session, org)
    scope = unit_above or org
    rulebook = cycle_rulebook(cycle)
    level, live = _live(session, cycle)
    counts = (
        await session.execute(
            select(Organisation.id, Organisation.path, level, func.count())
            .select_from(Member)
            .join(Organisation, Member.org_id == Organisation.id)
            .join(Rating, Rating.member_id == Member.id)
            .where(subtree_range(scope.path), *live)
            .group_by(Organisation.id, Organisation.path, level)
        )
    ).all()
    if not counts:
        return []
    if unit_above is not None:
        units = {unit_above.id: unit_above.path}
    else:
        units = dict(
            (
                await session.execute(
                    select(Organisation.id, Organisation.path).where(
                        subtree_range(org.path), Organisation.kind.in_(UNIT_KINDS)
                    )
                )
            ).all()
        )
    per_unit: dict[int, Counter] = {}
    orgs_of: dict[int, list[int]] = {}
    for org_id, path, code, count in counts:
        unit = next((int(p) for p in path.strip("/").split("/") if int(p) in units), None)
        if unit is not None:
            per_unit.setdefault(unit, Counter())[code] += count
            orgs_of.setdefault(unit, []).append(org_id)

    found = []
    capped = [
        RatedMember(row, None, Level(row.level), row)
        for row in await _capped_rows(session, cycle, org)
    ]
    org_of = {str(r.member.id): r.member.org_id for r in capped}
    found = [
        UnitBreach(org_of[b.member_ids[0]] if b.member_ids else org.id, b)
        for b in cap_breaches(capped, cycle)
    ]

    limits: dict[tuple[int, int], int] = {}

    def may_exceed(counter: Counter) -> bool:
        """From the counts alone (the exact check then runs on the unit's members)."""
        htxs = counter.get(Level.HTXS.value, 0)
        key = (htxs, counter.get(Level.HTT.value, 0))
        if key not in limits:
            proposals = {f"{c}{i}": Level(c) for c, n in counter.items() for i in range(n)}
            limits[key] = htxs_limit(htt_base(proposals, rulebook), rulebook).limit
        return htxs > limits[key]

    candidates = sorted(
        (u for u, counter in per_unit.items() if may_exceed(counter)), key=lambda u: units[u]
    )
    if not candidates:
        return found
    wanted = [o for u in candidates for o in orgs_of[u]]
    unit_of = {o: u for u in candidates for o in orgs_of[u]}
    groups: dict[int, dict[str, Level]] = {u: {} for u in candidates}
    names: dict[str, str] = {}
    paths: dict[str, str] = {}
    for start in range(0, len(wanted), 500):
        rows = await session.execute(
            select(Member.id, Member.full_name, Member.org_id, Organisation.path, level)
            .join(Organisation, Member.org_id == Organisation.id)
            .join(Rating, Rating.member_id == Member.id)
            .where(Member.org_id.in_(wanted[start : start + 500]), *live)
            .order_by(Member.full_name, Member.id)
        )
        for member_id, name, member_org, path, code in rows:
            groups[unit_of[member_org]][str(member_id)] = Level(code)
            names[str(member_id)] = name
            paths[str(member_id)] = path

    # A quota counted over a unit above `org` keeps its figures but names only the members
    # of `org`'s subtree: who may read this status may see those and no others.
    def in_view(member_id: str) -> bool:
        return paths[member_id].startswith(org.path)

    for unit in candidates:
        proposals = dict(
            sorted(groups[unit].items(), key=lambda kv: (name_sort_key(names[kv[0]]), int(kv[0])))
        )
        for b in check_quota(
            proposals,
            rulebook,
            None,
            scope=QuotaScope.PEER_GROUP,
            names={member_id: names[member_id] for member_id in proposals},
        ):
            found.append(
                UnitBreach(org.id if unit_above is not None else unit, restrict(b, in_view))
            )
    return found
