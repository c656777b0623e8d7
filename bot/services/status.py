"""Where every unit of a subtree stands (/tinh_trang, /bieu_do, /bao_cao): figures by child.

The figures are counted by ``bot.services.aggregates``, one organisation's own rows at a time,
and kept per organisation: ``subtree_status`` reads the organisation's kept row and its
children's (counted again only where a write touched them), so a province's status reads a
few hundred rows. ``count_status`` counts the same from the base tables, keeping nothing.

The breaches are named from what the figures already tell: caps are read only where the
figures count some (the members a cap can concern, in one query), and a unit's quota breach
(R-Q5, counted over the unit from its levels) needs only the names of its HTXS members. On a
large subtree only enough breaches for the lines shown are read, unit by unit, in code order.

Who is to be reviewed is ``rules.eligibility.review_status`` written as SQL: not exempt, not
suspended (R-E1), and under a rulebook that does not review new members, admitted at least
``new_member_months`` before today (R-E3). Today stands for each cell's meeting date, so a
member admitted close to the six months may be counted differently than at the meeting.
Who is to be rated: the same, with new members left out under every rulebook.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field

from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import aggregates
from bot.services.checks import restrict
from bot.services.cycles import cycle_rulebook
from bot.services.unit_rating_status import UnitFigures
from bot.services.unit_rating_status import kept_figures
from bot.services.unit_rating_status import quota_breaches
from rules.breaches import Breach
from rules.breaches import Severity
from rules.levels import LEVELS_DESC
from rules.levels import Level
from rules.org_scoring import RATED_KINDS
from rules.people import name_sort_key
from rules.quotas import QuotaScope
from rules.quotas import check_quota
from storage.db import settled
from storage.models import Cycle
from storage.models import Member
from storage.models import Organisation
from storage.models import Rating
from storage.queries import path_ids
from storage.queries import subtree_range

LEVEL_CODES = tuple(level.value for level in LEVELS_DESC)
UNIT_KINDS = aggregates.UNIT_KINDS


def by_member(session: AsyncSession, column):
    """`column` + 0 on SQLite, where it keeps the planner from reading a whole cycle through
    the cycle index when rows are looked up by member or cell; the column itself on
    PostgreSQL, whose planner the "+ 0" misleads (it estimated 438 rows where there were
    88,023 and hashed the whole year's ratings; measured with benchmarks/province.py)."""
    bind = session.bind
    return column + 0 if bind is None or bind.dialect.name == "sqlite" else column


# The figures summed over a subtree: what the kept rows count, and the deadline breaches.
SUMMED = (*aggregates.COUNTS, "deadline_breaches")


@dataclass
class Figures:
    """The figures of one organisation's subtree: the levels, and the counts (SUMMED)."""

    proposed: Counter = field(default_factory=Counter)  # level code -> live proposals
    decided: Counter = field(default_factory=Counter)  # level code -> decided levels
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
        for name in SUMMED:
            setattr(self, name, getattr(self, name) + sign * getattr(other, name))
        if not (other.proposed or other.decided):
            return
        if sign > 0:
            self.proposed.update(other.proposed)
            self.decided.update(other.decided)
        else:
            self.proposed.subtract(other.proposed)
            self.decided.subtract(other.decided)
            self.proposed, self.decided = +self.proposed, +self.decided

    def subtract(self, other: Figures) -> None:
        self.add(other, -1)

    @classmethod
    def sum(cls, items: Iterable[Figures]) -> Figures:
        """The figures of several subtrees together (a hundred children at every read)."""
        items = list(items)
        total = cls(**{name: sum(getattr(f, name) for f in items) for name in SUMMED})
        for f in items:
            total.proposed.update(f.proposed)
            total.decided.update(f.decided)
        return total

    @classmethod
    def of(cls, counts: aggregates.Counts) -> Figures:
        return cls(
            **{name: counts.values[name] for name in aggregates.COUNTS},
            proposed=Counter(counts.proposed),
            decided=Counter(counts.decided),
        )


@dataclass
class UnitBreach:
    """A breach and the organisation it is reported on."""

    org_id: int
    breach: Breach


# What a status reads of the organisations around it, as plain rows (not ORM objects: a
# province has a hundred children, read at every /tinh_trang).
UNIT_COLUMNS = (
    Organisation.id,
    Organisation.parent_id,
    Organisation.code,
    Organisation.name,
    Organisation.kind,
    Organisation.path,
    Organisation.depth,
)


@dataclass
class Status:
    org: Organisation
    cycle: Cycle | None  # the plan that applies to the organisation (or the subtree's newest)
    cycle_ids: list[int]
    total: Figures
    # each child as a row (``aggregates.Node``: id, parent_id, code, name, kind, path, depth)
    children: list[tuple[Organisation, Figures]]
    breaches: list[UnitBreach]
    finish_by_passed: bool
    breach_count: int = 0  # every breach of the subtree (``breaches`` may hold only the first)
    # The organisations and collectives of the subtree (issue 14; ``unit_rating_status``).
    units: UnitFigures | None = None


@dataclass(frozen=True)
class Plans:
    main: Cycle | None  # the plan covering the organisation (or the subtree's newest)
    ids: list[int]  # the plans of its year set inside or above the organisation
    year_ids: list[int]  # every plan of that year


def _ancestor_ids(org: Organisation) -> list[int]:
    return path_ids(org.path)


async def plans_for(session: AsyncSession, org: Organisation) -> Plans:
    """The plan covering `org` (the newest set on it or its nearest ancestor; else the newest
    set inside its subtree, nearest the top) and the other plans of its year, in one query."""
    ancestors = _ancestor_ids(org)
    newest_above = select(func.max(Cycle.year)).where(Cycle.org_id.in_(ancestors))
    newest_inside = (
        select(func.max(Cycle.year))
        .join(Organisation, Cycle.org_id == Organisation.id)
        .where(subtree_range(org.path))
    )
    year = func.coalesce(newest_above.scalar_subquery(), newest_inside.scalar_subquery())
    rows = (
        await session.execute(
            select(Cycle, Organisation.path, Organisation.depth)
            .join(Organisation, Cycle.org_id == Organisation.id)
            .where(Cycle.year == year)
        )
    ).all()
    above = [(depth, cycle.id, cycle) for cycle, _, depth in rows if cycle.org_id in ancestors]
    inside = [(depth, cycle.id, cycle) for cycle, path, depth in rows if path.startswith(org.path)]
    if above:
        main = max(above, key=lambda item: item[:2])[2]
    elif inside:
        main = min(inside, key=lambda item: (item[0], -item[1]))[2]
    else:
        return Plans(None, [], [])
    ids = sorted({c.id for _, _, c in above + inside})
    return Plans(main, ids, sorted(cycle.id for cycle, _, _ in rows))


async def status_cycles(session: AsyncSession, org: Organisation) -> tuple[Cycle | None, list[int]]:
    """The plan covering `org` and every plan of the same year set inside or above it."""
    plans = await plans_for(session, org)
    return plans.main, plans.ids


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


def counting_scope(
    plans: Plans, *, now: dt.datetime, today: dt.date, kept: bool = True
) -> aggregates.Scope:
    """What the figures of a status are counted under (see ``aggregates.Scope``)."""
    cycle = plans.main
    if cycle is None:
        return aggregates.Scope(None, [], today, now, kept=False)
    cutoff = months_back(today, cycle_rulebook(cycle).new_member_months)
    return aggregates.Scope(cycle, sorted({*plans.year_ids, *plans.ids}), cutoff, now, kept=kept)


async def subtree_status(
    session: AsyncSession,
    org: Organisation,
    *,
    now: dt.datetime,
    today: dt.date,
    with_breaches: bool = True,
    breach_limit: int | None = None,
    kept: bool = True,
    with_units: bool = True,
) -> Status:
    """The figures of `org` and of each of its children, from the figures kept per
    organisation (``bot.services.aggregates``; `kept=False` counts them from the base tables
    and keeps nothing). The breaches themselves (with names) are read when `with_breaches`:
    all of them, or with `breach_limit` on a large subtree only enough for that many lines,
    unit by unit (``Status.breach_count`` counts them all)."""
    plans = await plans_for(session, org)
    scope = counting_scope(plans, now=now, today=today, kept=kept)
    # The ancestors (for the unit above) and the children, with their kept rows, in one query.
    ancestors = set(_ancestor_ids(org))
    around = await aggregates.nodes(
        session, scope, or_(Organisation.id.in_(ancestors), Organisation.parent_id == org.id)
    )
    children = sorted((o for o in around if o.parent_id == org.id), key=lambda o: o.code)
    units = [o for o in around if o.id in ancestors and o.kind in UNIT_KINDS]
    unit_above = max(units, key=lambda o: o.depth) if units else None
    wanted = [org.id, *(c.id for c in children)]
    if unit_above is not None:
        wanted.append(unit_above.id)
    counts = await aggregates.unit_counts(session, scope, wanted, known=around)
    figures = {child.id: Figures.of(counts[child.id]) for child in children}
    own = Figures.of(counts[org.id])
    own.subtract(Figures.sum(figures.values()))
    if unit_above is not None:  # the unit's quota is told on `org`, whatever is below it
        for f in figures.values():
            f.quota_breaches = 0
        own.quota_breaches = counts[unit_above.id].own_quota
    figures[org.id] = own
    cycle = plans.main
    finish_by_passed = cycle is not None and today > cycle.finish_by
    if finish_by_passed:
        for f in figures.values():
            f.deadline_breaches = max(f.to_rate - f.decided_total, 0)
    total = Figures.sum(figures.values())
    found: list[UnitBreach] = []
    if with_breaches and cycle is not None and (total.quota_breaches or total.cap_breaches):
        # Named once, then kept with the organisation's figures while they (and those of the
        # unit above, whose quota it is told) hold: a status reads no member.
        unit = counts[unit_above.id] if unit_above is not None else None
        stamp = _stamp(unit) if unit is not None else None
        keeps = unit is None or stamp is not None
        kept = _kept_breaches(counts[org.id], breach_limit, stamp) if keeps else None
        if kept is not None:
            found = kept
        else:
            view = _View(session, scope, org)
            if unit_above is not None:
                found = await view.within_unit(unit_above, unit, total)
            elif breach_limit is None or total.members <= SMALL_SUBTREE:
                found = await view.breaches(org, total, None)
            else:  # the first lines, unit by unit
                listed = [(c, figures[c.id]) for c in children]
                found = await view.breaches(org, total, breach_limit, listed, own)
            if keeps and (breach_limit is not None or len(found) <= KEEP_BREACHES):
                complete = breach_limit is None or len(found) < breach_limit
                await aggregates.annotate(
                    session, scope, org.id, counts[org.id], BREACHES,
                    {"limit": None if complete else breach_limit, "unit": stamp,
                     "found": [_breach_json(b) for b in found]},
                )
    units = None
    if with_units and cycle is not None:  # the units of the subtree, kept with its figures
        units = await _unit_section(session, org, counts[org.id], plans, with_breaches)
    return Status(
        org=org,
        cycle=cycle,
        cycle_ids=plans.ids,
        total=total,
        children=[(child, figures[child.id]) for child in children],
        breaches=found,
        finish_by_passed=finish_by_passed,
        breach_count=total.quota_breaches + total.cap_breaches,
        units=units,
    )


async def rebuild_figures(
    db, *, now: dt.datetime, today: dt.date, year: int | None = None
) -> tuple[int, int, int | None]:
    """Drop every kept figure, then count again and keep the subtree of every plan of `year`
    (the newest year by default), as their first reads would. Returns the organisations
    counted, the plans and the year. For figures that drifted (rows written around the ORM)
    or to spare the first readers after a restore."""
    async with db.session() as session:
        await aggregates.forget(session)
    async with db.session() as session:
        if year is None:
            year = await session.scalar(select(func.max(Cycle.year)))
        cycles = (await session.scalars(select(Cycle).where(Cycle.year == year))).all()
        counted: set[int] = set()
        for cycle in cycles:
            org = await session.get(Organisation, cycle.org_id)
            scope = counting_scope(await plans_for(session, org), now=now, today=today)
            if scope.cycle is not None and scope.cycle.id == cycle.id:
                counted.add(org.id)
                await aggregates.unit_counts(session, scope, [org.id])
    await settled(db.engine)  # the rows are written in the background
    async with db.session() as session:
        kept = await aggregates.kept_rows(session)
    return kept, len(counted), year


BREACHES = "breaches"  # the breaches a status named, kept with the organisation's figures
KEEP_BREACHES = 20  # a longer list (a report's) is named again at each read


async def _unit_section(
    session: AsyncSession,
    org: Organisation,
    counts: aggregates.Counts,
    plans: Plans,
    with_breaches: bool,
) -> UnitFigures:
    """The organisations' section (``unit_rating_status.unit_figures``) from the subtree's kept
    counts. Its R-Q7 breaches too, kept per deciding level, but where `org` is itself a rated
    unit: its peer group (its siblings) lies outside its subtree, counted at the read."""
    units, levelled = kept_figures(counts.units)
    if not with_breaches or not levelled:
        return units
    if org.kind in RATED_KINDS:
        units.breaches = await quota_breaches(session, org, plans.ids)
    else:  # the groups decided inside it, in the order of the plans and deciders
        ordered = sorted(counts.unit_breaches, key=lambda item: item[:2])
        units.breaches = [_breach_of(item[1:]) for item in ordered]
    return units


def _stamp(counts: aggregates.Counts) -> list | None:
    """Which kept row of the unit above these figures are (its quota is told below it)."""
    row = counts.kept
    return None if row is None else [row.fresh, row.computed_at.isoformat()]


def _kept_breaches(
    counts: aggregates.Counts, limit: int | None, stamp: list | None
) -> list[UnitBreach] | None:
    """The breaches kept with the figures, if they still answer: named under the same row of
    the unit above, and all of them or at least `limit`."""
    kept = counts.notes.get(BREACHES)
    if kept is None or kept["unit"] != stamp:
        return None
    if kept["limit"] is not None and (limit is None or kept["limit"] < limit):
        return None
    return [_breach_of(item) for item in kept["found"]]


def _breach_json(item: UnitBreach) -> list:
    b = item.breach
    return [item.org_id, b.code, b.rule_ids, b.msgid, b.params, b.member_ids, b.member_names,
            b.severity.value]


def _breach_of(data: list) -> UnitBreach:
    org_id, code, rule_ids, msgid, params, ids, names, severity = data
    return UnitBreach(
        org_id,
        Breach(code, tuple(rule_ids), msgid, params, tuple(ids), tuple(names), Severity(severity)),
    )


# Up to this many members the status reads every breach whatever it shows.
SMALL_SUBTREE = 5000


async def count_status(
    session: AsyncSession,
    org: Organisation,
    *,
    now: dt.datetime,
    today: dt.date,
    with_breaches: bool = True,
) -> Status:
    """The same as ``subtree_status``, counted from the base tables (nothing kept is read or
    written): what the kept figures must equal."""
    return await subtree_status(
        session, org, now=now, today=today, with_breaches=with_breaches, kept=False
    )


# --- the breaches, named ------------------------------------------------------------------------


class _View:
    """Names the breaches the figures count under `org`, for a reader who may see `org`'s
    subtree: caps on rated members (reported on their cell), the peer quota of each grassroots
    unit (R-Q5, reported on it, or on `org` when the unit is above it). A quota counted over a
    unit above `org` keeps its figures but names only the members of `org`'s subtree."""

    def __init__(self, session: AsyncSession, scope: aggregates.Scope, org: Organisation):
        self.session = session
        self.scope = scope
        self.cycle: Cycle = scope.cycle
        self.org = org

    async def within_unit(
        self, unit: Organisation, counts: aggregates.Counts, total: Figures
    ) -> list[UnitBreach]:
        """`org` is inside `unit` (or is it): its members' caps and the unit's quota."""
        found = await self.caps(subtree_range(self.org.path)) if total.cap_breaches else []
        if counts.own_quota:
            found += await self.quotas({unit.id: (unit.path, counts.live)}, unit.path, self.org.id)
        return found

    async def breaches(
        self,
        org: Organisation,
        total: Figures,
        limit: int | None,
        children: list[tuple[Organisation, Figures]] | None = None,
        own: Figures | None = None,
    ) -> list[UnitBreach]:
        """The breaches of `org`'s subtree (`org` above the units): all of them, or at least
        `limit`, child by child in code order (on a subtree of at most SMALL_SUBTREE members:
        its caps, then its units' quotas in path order)."""
        if limit is None or total.members <= SMALL_SUBTREE:
            found = await self.caps(subtree_range(org.path)) if total.cap_breaches else []
            if total.quota_breaches and (limit is None or len(found) < limit):
                found += await self.unit_quotas(org, None if limit is None else limit - len(found))
            return found
        if children is None:
            children = await self._children(org)
        if own is None:  # what `org` counts of its own: its total less its children's
            own = Figures.sum([total])
            own.subtract(Figures.sum(f for _, f in children))
        found = await self.caps(Member.org_id == org.id) if own.cap_breaches else []
        for child, f in children:
            if len(found) >= limit:
                break
            if not (f.quota_breaches or f.cap_breaches):
                continue
            if child.kind not in UNIT_KINDS:
                found += await self.breaches(child, f, limit - len(found))
                continue
            found += await self.caps(subtree_range(child.path)) if f.cap_breaches else []
            if f.quota_breaches:  # units do not nest: the unit's own
                live = f.proposed + f.decided
                found += await self.quotas({child.id: (child.path, live)}, child.path)
        return found

    async def _children(self, org: Organisation) -> list[tuple[Organisation, Figures]]:
        children = (
            await self.session.execute(
                select(*UNIT_COLUMNS)
                .where(Organisation.parent_id == org.id)
                .order_by(Organisation.code)
            )
        ).all()
        counts = await aggregates.unit_counts(self.session, self.scope, [c.id for c in children])
        return [(c, Figures.of(counts[c.id])) for c in children]

    async def unit_quotas(self, org: Organisation, limit: int | None = None) -> list[UnitBreach]:
        """The quota breach of every unit inside `org`'s subtree (or of the first `limit`), in
        path order."""
        units = dict(
            (
                await self.session.execute(
                    select(Organisation.id, Organisation.path).where(
                        subtree_range(org.path), Organisation.kind.in_(UNIT_KINDS)
                    )
                )
            ).all()
        )
        counts = await aggregates.unit_counts(self.session, self.scope, list(units))
        breaking = sorted((units[u], u) for u, c in counts.items() if c.own_quota)
        if limit is not None:
            breaking = breaking[:limit]
        listed = {u: (path, counts[u].live) for path, u in breaking}
        return await self.quotas(listed, org.path) if listed else []

    async def caps(self, where) -> list[UnitBreach]:
        """Caps on the rated members `where` says, in name order."""
        from bot.services import breaches  # it imports this module

        found = await breaches.cap_breaches_where(self.session, self.cycle, where, by_org=True)
        return [UnitBreach(org_id, breach) for org_id, breach in found]

    async def quotas(
        self, units: dict[int, tuple[str, Counter]], within: str, told_on: int | None = None
    ) -> list[UnitBreach]:
        """The quota breach of each of `units` (id -> path and live levels; each breaks its
        quota; all inside the subtree at path `within`), in path order, naming its HTXS members
        in view; reported on the unit, or on `told_on`."""
        paths = [path for path, _ in units.values()]
        if len(paths) > FEW_UNITS:
            paths = [within]
        inside = select(Organisation.id).where(or_(*(subtree_range(p) for p in paths)))
        from bot.services.breaches import LEVEL  # it imports this module
        from bot.services.breaches import live_ratings  # it imports this module

        rows = await self.session.execute(
            select(Member.id, Member.full_name, Organisation.path)
            .join(Organisation, Member.org_id == Organisation.id)
            .join(Rating, Rating.member_id == Member.id)
            .where(
                Member.org_id.in_(inside),
                *live_ratings(self.cycle, self.session),
                LEVEL == Level.HTXS.value,
            )
        )
        top: dict[int, list[tuple[tuple, int, str, str]]] = {unit: [] for unit in units}
        for member_id, name, path in rows:
            unit = next((i for i in path_ids(path) if i in top), None)
            if unit is not None:
                top[unit].append((name_sort_key(name), member_id, name, path))
        found = []
        for unit in sorted(units, key=lambda u: units[u][0]):
            named = sorted(top[unit])
            names = {str(member_id): name for _, member_id, name, _ in named}
            in_view = {str(m) for _, m, _, path in named if path.startswith(self.org.path)}
            proposals = aggregates.quota_proposals(units[unit][1], names)
            for b in check_quota(
                proposals, self.scope.rulebook, None, scope=QuotaScope.PEER_GROUP, names=names
            ):
                found.append(UnitBreach(told_on or unit, restrict(b, in_view.__contains__)))
        return found


FEW_UNITS = 20  # more units than this: their HTXS members are read over the whole subtree


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


async def _capped_rows_of(session: AsyncSession, cycle: Cycle, org_ids) -> Counter:
    """Cap breaches counted per organisation, over the members of `org_ids` themselves (a
    list of ids or a subquery of them)."""
    from bot.services import breaches  # it imports this module

    found = await breaches.cap_breaches_where(session, cycle, Member.org_id.in_(org_ids),
                                              by_org=True)
    return Counter(org_id for org_id, _breach in found)


async def enclosing_unit(session: AsyncSession, org: Organisation) -> Organisation | None:
    """The grassroots committee or grassroots cell at or above `org`, if any."""
    return await session.scalar(
        select(Organisation)
        .where(Organisation.id.in_(_ancestor_ids(org)), Organisation.kind.in_(UNIT_KINDS))
        .order_by(Organisation.depth.desc())
        .limit(1)
    )
