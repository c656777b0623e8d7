"""Quota and cap breaches over many units at once (/bao_cao, the deadline monitor): the checks
of ``bot.services.checks`` batched per peer group in SQL, not member by member.

- **Quotas** (R-Q1..R-Q5): the live levels are counted per organisation in one GROUP BY; a
  group's counts alone decide whether it breaks its quota (``rules.quotas.quota_exceeded``),
  so only the HTXS members of the groups that do are read, to be named, in one query per
  chunk of organisations.
- **Caps** (R-C1, R-C3, R-C5): only the rated members a cap can concern at their level are
  read (``_capped``, in SQL); the rules (``checks.cap_breaches``) decide on them.

Either way the cost follows the breaches, not the members: a province's 150,000 members are
counted by the database, and Python reads the few thousand rows that name someone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import and_
from sqlalchemy import false
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.checks import RatedMember
from bot.services.checks import cap_breaches
from bot.services.checks import restrict
from bot.services.cycles import cycle_rulebook
from bot.services.status import FACT_COLUMNS
from bot.services.status import UNIT_KINDS
from bot.services.status import by_member
from bot.services.status import enclosing_unit
from rules.breaches import Breach
from rules.levels import Level
from rules.people import name_sort_key
from rules.quotas import QuotaScope
from rules.quotas import check_quota
from rules.quotas import quota_exceeded
from rules.rulebooks import Rulebook
from storage.models import Cycle
from storage.models import Member
from storage.models import Organisation
from storage.models import Rating
from storage.models import RatingState
from storage.models import SelfReview
from storage.queries import path_ids
from storage.queries import subtree_range

LEVEL = func.coalesce(Rating.decided_level, Rating.proposed_level)
CHUNK = 500  # organisation ids per IN list (SQLite allows 32,766 parameters)


def live_ratings(cycle: Cycle, session: AsyncSession | None = None) -> tuple:
    """Live ratings with a level in the cycle; with `session`, looked up by member (the rows
    are reached from the members: see ``status.by_member``), else read by the cycle."""
    cycle_id = Rating.cycle_id if session is None else by_member(session, Rating.cycle_id)
    return cycle_id == cycle.id, Rating.state != RatingState.CANCELLED, LEVEL.is_not(None)


def _chunks(values: list) -> Iterable[list]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


@dataclass(frozen=True)
class OrgCounts:
    """The live levels of one organisation's own members."""

    path: str
    levels: Counter  # level code ("HTXS") -> members: strings hash faster than Level


async def level_counts(
    session: AsyncSession, cycle: Cycle, org: Organisation | None = None
) -> dict[int, OrgCounts]:
    """The live levels per organisation, of `org`'s subtree (or of the whole cycle), in one
    GROUP BY."""
    query = (
        select(Organisation.id, Organisation.path, LEVEL, func.count())
        .select_from(Member)
        .join(Organisation, Member.org_id == Organisation.id)
        .join(Rating, Rating.member_id == Member.id)
        .group_by(Organisation.id, Organisation.path, LEVEL)
    )
    if org is None:
        query = query.where(*live_ratings(cycle))
    else:
        query = query.where(subtree_range(org.path), *live_ratings(cycle, session))
    found: dict[int, OrgCounts] = {}
    for org_id, path, code, count in await session.execute(query):
        counted = found.get(org_id)
        if counted is None:  # not a Counter made per row for setdefault to drop
            counted = found[org_id] = OrgCounts(path, Counter())
        counted.levels[code] += count
    return found


@dataclass
class Group:
    """A group whose HTXS share is checked (R-Q5): a grassroots unit over all its members, or
    a cell alone (a warning, with the cell's size for R-Q4)."""

    key: int  # the unit the group is told on
    org_ids: list[int]
    levels: Counter  # level code -> members
    scope: QuotaScope = QuotaScope.PEER_GROUP
    size: int | None = None


async def quota_breaches(
    session: AsyncSession, cycle: Cycle, groups: list[Group]
) -> dict[tuple[int, QuotaScope], list[Breach]]:
    """The quota breach of each group that has one, by (key, scope). Only the HTXS members of
    those groups are read: the quota is decided from the counts."""
    rulebook = cycle_rulebook(cycle)
    decided: dict[tuple, bool] = {}

    def exceeded(group: Group) -> bool:
        levels = group.levels
        key = (levels.get(Level.HTXS.value, 0), levels.get(Level.HTT.value, 0), group.size)
        if key not in decided:
            decided[key] = quota_exceeded(_by_level(levels), rulebook, group.size)
        return decided[key]

    breaking = [group for group in groups if exceeded(group)]
    top = await _htxs_members(session, cycle, sorted({o for g in breaking for o in g.org_ids}))
    found = {}
    for group in breaking:
        members = sorted(
            (m for org_id in group.org_ids for m in top.get(org_id, ())),
            key=lambda m: (name_sort_key(m[1]), m[0]),
        )
        names = {str(member_id): name for member_id, name in members}
        found[(group.key, group.scope)] = check_quota(
            dict.fromkeys(names, Level.HTXS),
            rulebook,
            group.size,
            scope=group.scope,
            names=names,
            counts=_by_level(group.levels),
        )
    return found


def _by_level(levels: Counter) -> dict[Level, int]:
    return {Level(code): count for code, count in levels.items()}


async def _htxs_members(
    session: AsyncSession, cycle: Cycle, org_ids: list[int]
) -> dict[int, list[tuple[int, str]]]:
    """(id, name) of the members proposed or decided HTXS, per organisation."""
    found: dict[int, list[tuple[int, str]]] = {}
    for chunk in _chunks(org_ids):
        rows = await session.execute(
            select(Member.id, Member.full_name, Member.org_id)
            .join(Rating, Rating.member_id == Member.id)
            .where(
                Member.org_id.in_(chunk), *live_ratings(cycle, session), LEVEL == Level.HTXS.value
            )
        )
        for member_id, name, org_id in rows:
            found.setdefault(org_id, []).append((member_id, name))
    return found


# --- caps ----------------------------------------------------------------------------------


def _may_be_capped(rulebook: Rulebook):
    """SQL: the rated members a cap can concern at their level, a superset of those
    ``rules.caps.check_member`` finds above a cap as ``checks.cap_breaches`` asks it (no
    collective level, so never the head's cap, R-C4): long sick leave (R-C1), a discipline
    (R-C3), a total score below the least the level needs (R-C5)."""
    concerns = [Member.discipline_form.is_not(None)]
    if rulebook.sick_leave_cap_months is not None:
        concerns.append(Member.sick_leave_months >= rulebook.sick_leave_cap_months)
    if rulebook.score_bands:
        total = SelfReview.general_score + SelfReview.task_score
        least = (
            (Level.HTXS, rulebook.score_htxs_min),
            (Level.HTT, rulebook.score_htt_min),
            (Level.HT, rulebook.score_ht_min),
        )
        concerns.append(
            and_(
                SelfReview.general_score.is_not(None),
                SelfReview.task_score.is_not(None),
                or_(*(and_(LEVEL == level.value, total < points) for level, points in least)),
            )
        )
    return or_(false(), *concerns)


async def cap_breaches_where(
    session: AsyncSession, cycle: Cycle, where, *, by_org: bool = False
) -> list[tuple[int, Breach]]:
    """The cap breaches of the rated members `where` selects (a condition on ``Member`` or
    ``Organisation``), each with the member's organisation, in name order."""
    rulebook = cycle_rulebook(cycle)
    rows = await session.execute(
        select(*FACT_COLUMNS, LEVEL.label("level"), SelfReview.general_score, SelfReview.task_score)
        .join(Organisation, Member.org_id == Organisation.id)
        .join(Rating, Rating.member_id == Member.id)
        .outerjoin(
            SelfReview, (SelfReview.member_id == Member.id) & (SelfReview.cycle_id == cycle.id)
        )
        .where(where, *live_ratings(cycle, session if by_org else None), _may_be_capped(rulebook))
    )
    rated = [
        RatedMember(row, None, Level(row.level), row)
        for row in sorted(rows, key=lambda row: (name_sort_key(row.full_name), row.id))
    ]
    org_of = {str(r.member.id): r.member.org_id for r in rated}
    return [(org_of[b.member_ids[0]], b) for b in cap_breaches(rated, cycle)]


# --- a subtree, as /bao_cao shows it -------------------------------------------------------


async def subtree_breaches(
    session: AsyncSession, cycle: Cycle, org: Organisation
) -> list[tuple[int, Breach]]:
    """Caps on every rated member of the subtree (told on their cell), then the peer quota of
    every grassroots unit (told on it, or on `org` when the unit is above it), as
    ``subtree_status`` names them (``status._View``). Breaches name members of `org`'s subtree only
    (issue 12 item 2)."""
    unit_above = await enclosing_unit(session, org)
    found = await cap_breaches_where(session, cycle, subtree_range(org.path), by_org=True)
    scope = unit_above or org
    counts = await level_counts(session, cycle, scope)
    if not counts:
        return found
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
    groups: dict[int, Group] = {}
    for org_id, counted in counts.items():
        ids = path_ids(counted.path)
        unit = next((i for i in ids if i in units), None)
        if unit is not None:
            group = groups.get(unit)
            if group is None:
                group = groups[unit] = Group(unit, [], Counter())
            group.org_ids.append(org_id)
            group.levels.update(counted.levels)
    breaches = await quota_breaches(session, cycle, list(groups.values()))
    in_view = await _in_view(session, org, breaches.values()) if unit_above else None
    for unit in sorted(groups, key=units.__getitem__):
        for breach in breaches.get((unit, QuotaScope.PEER_GROUP), ()):
            if in_view is not None:
                found.append((org.id, restrict(breach, in_view)))
            else:
                found.append((unit, breach))
    return found


async def _in_view(session: AsyncSession, org: Organisation, breaches: Iterable[list[Breach]]):
    """Whether a member named by these breaches is in `org`'s subtree: a quota counted over a
    unit above `org` keeps its figures but names only them."""
    ids = sorted({int(i) for found in breaches for b in found for i in b.member_ids})
    inside: set[str] = set()
    for chunk in _chunks(ids):
        rows = await session.scalars(
            select(Member.id)
            .join(Organisation, Member.org_id == Organisation.id)
            .where(Member.id.in_(chunk), subtree_range(org.path))
        )
        inside.update(str(i) for i in rows)
    return inside.__contains__
