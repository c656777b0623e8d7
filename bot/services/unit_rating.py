"""Unit ratings as the members' checks read them (issue 14, part C): R-C4 and the quota groups.

- R-C4: a head (the secretary of a rated unit, ``units.led_units``) is not rated above the
  decided level of the units they lead (the organisation, and its committee where rated).
  While one of those units is under review in the plan and not decided yet, the head's own
  decision waits ("chờ kết quả xếp loại tập thể"); the rulebook's exceptions (a village or
  residential cell's secretary who is not a public servant, a head transferred in during the
  year) lift both, unit by unit. A unit with no review in the plan is not being rated: nothing
  waits for it. Only where the rulebook applies R-C4 (``head_cap``; off under qd366-2025).
- R-Q5 and R-Q1: the groups a grassroots đảng bộ's members are counted in (the whole đảng bộ,
  or under qd366-2025 the peer groups its deciding level set on its cells) and whether each
  counts at the outstanding units' share (plan settings, ``bot.services.plans``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import plans
from bot.services.cycles import cycle_rulebook
from bot.services.cycles import member_facts
from bot.services.units import is_rated_kind
from bot.services.units import org_facts
from rules.caps import head_exception
from rules.levels import Level
from rules.levels import lowest
from rules.people import HeadException
from rules.quotas import group_outstanding
from rules.quotas import peer_groups
from storage.models import Cycle
from storage.models import Member
from storage.models import Organisation
from storage.models import OrgKind
from storage.models import RatingState
from storage.models import Role
from storage.models import RoleKind
from storage.models import UnitRating
from storage.models import UnitReview

CHUNK = 500  # ids per IN list (SQLite's parameter limit)


@dataclass(frozen=True)
class HeadCap:
    """R-C4 for one head: the lowest decided level of the units they lead (None: none decided
    with a level), the units still to be decided, and those an exception lifts."""

    level: Level | None
    pending: tuple[Organisation, ...] = ()
    excepted: tuple[tuple[Organisation, HeadException], ...] = ()

    @property
    def waits(self) -> bool:
        return bool(self.pending)


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


async def live_unit_ratings(session: AsyncSession, review_ids: list[int]) -> dict[int, UnitRating]:
    """The live (not cancelled) rating of each review, by review id: the newest one."""
    found: dict[int, UnitRating] = {}
    for chunk in _chunks(sorted(set(review_ids))):
        rows = await session.scalars(
            select(UnitRating)
            .where(UnitRating.review_id.in_(chunk), UnitRating.state != RatingState.CANCELLED)
            .order_by(UnitRating.id)
        )
        found.update({rating.review_id: rating for rating in rows})
    return found


async def head_caps(
    session: AsyncSession, cycle: Cycle, members: Iterable[Member]
) -> dict[int, HeadCap]:
    """R-C4 for the heads among `members`, by member id (three queries; none when the rulebook
    does not apply R-C4)."""
    if not cycle_rulebook(cycle).head_cap:
        return {}
    by_id = {m.id: m for m in members}
    led: dict[int, list[Organisation]] = {}
    for chunk in _chunks(sorted(by_id)):
        rows = await session.execute(
            select(Role.member_id, Organisation)
            .join(Organisation, Role.org_id == Organisation.id)
            .where(Role.member_id.in_(chunk), Role.role == RoleKind.SECRETARY)
            .order_by(Organisation.depth, Organisation.id)
        )
        for member_id, org in rows:
            if is_rated_kind(org):
                led.setdefault(member_id, []).append(org)
    if not led:
        return {}
    org_ids = sorted({org.id for orgs in led.values() for org in orgs})
    reviews: dict[int, list[UnitReview]] = {}
    for chunk in _chunks(org_ids):
        rows = await session.scalars(
            select(UnitReview).where(UnitReview.cycle_id == cycle.id, UnitReview.org_id.in_(chunk))
        )
        for review in rows:
            reviews.setdefault(review.org_id, []).append(review)
    ratings = await live_unit_ratings(session, [r.id for rs in reviews.values() for r in rs])
    caps = {}
    for member_id, orgs in led.items():
        cap = _cap(member_facts(by_id[member_id]), orgs, reviews, ratings, cycle.year)
        if cap is not None:
            caps[member_id] = cap
    return caps


def _cap(facts, orgs, reviews, ratings, year: int) -> HeadCap | None:
    levels: list[Level] = []
    pending: list[Organisation] = []
    excepted: list[tuple[Organisation, HeadException]] = []
    for org in orgs:
        if not reviews.get(org.id):
            continue  # not under review in this plan
        exception = head_exception(facts, org_facts(org), year)
        if exception is not None:
            excepted.append((org, exception))
            continue
        for review in reviews[org.id]:
            rating = ratings.get(review.id)
            if rating is None or rating.state != RatingState.DECIDED:
                if org not in pending:
                    pending.append(org)
            elif rating.decided_level and not rating.not_rated:
                levels.append(Level(rating.decided_level))
    if not (levels or pending or excepted):
        return None
    return HeadCap(lowest(levels) if levels else None, tuple(pending), tuple(excepted))


# --- the groups a đảng bộ's members are counted in (R-Q5) and their share (R-Q1) -------------


@dataclass(frozen=True)
class QuotaGroup:
    """Members counted together: of these cells (None: the whole đảng bộ), at the raised share
    or not."""

    cell_ids: frozenset[int] | None
    outstanding: bool = False

    def holds(self, cell_id: int) -> bool:
        return self.cell_ids is None or cell_id in self.cell_ids


@dataclass(frozen=True)
class MemberQuota:
    """How the members under a grassroots root are counted: its groups, and the cells that
    count their own share (the warning) at the raised share."""

    groups: list[QuotaGroup]
    outstanding_cells: frozenset[int] = field(default_factory=frozenset)

    def group_of(self, cell_id: int) -> QuotaGroup:
        return next((g for g in self.groups if g.holds(cell_id)), self.groups[0])


async def member_quota(session: AsyncSession, cycle: Cycle, root: Organisation) -> MemberQuota:
    """The quota groups under `root` (a đảng bộ cơ sở, or a chi bộ cơ sở alone), read from the
    plan's unit settings the rulebook applies (one query for the settings, one for the cells)."""
    applied = plans.unit_settings_apply(cycle_rulebook(cycle))
    if not applied:
        return MemberQuota([QuotaGroup(None)])
    cells = []
    if OrgKind(root.kind) is not OrgKind.GRASSROOTS_CELL:
        cells = list(
            await session.scalars(
                select(Organisation)
                .where(Organisation.parent_id == root.id, Organisation.kind == OrgKind.CELL)
                .order_by(Organisation.id)
            )
        )
    settings = await plans.unit_settings(session, cycle.id, [root.id, *(c.id for c in cells)])

    def flag(org_id: int) -> bool:
        return plans.OUTSTANDING in applied and bool(settings.get(org_id, {}).get(plans.OUTSTANDING))

    outstanding = frozenset(c.id for c in cells if flag(c.id) or flag(root.id))
    if plans.PEER_GROUP not in applied or not cells:
        return MemberQuota([QuotaGroup(None, flag(root.id))], outstanding)
    labels = {str(c.id): settings.get(c.id, {}).get(plans.PEER_GROUP) for c in cells}
    if not any(labels.values()):
        return MemberQuota([QuotaGroup(None, flag(root.id))], outstanding)
    groups = [
        QuotaGroup(
            frozenset(int(i) for i in ids),
            group_outstanding(flag(root.id), (flag(int(i)) for i in ids)),
        )
        for ids in peer_groups(labels, cycle_rulebook(cycle))
    ]
    return MemberQuota(groups, outstanding)
