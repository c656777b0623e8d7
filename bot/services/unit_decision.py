"""The decision on units (issue 14, part C; seed 004 B.1.3, B.1.4 step 3, B.3.4 step 3).

The deciding level of a unit (``units.deciding_org``: the đảng ủy cơ sở for its cells, the
upper committee for a grassroots organisation and its committee) sees each unit's proposal —
the level it voted for itself with its combined score — the participants' opinions and the
checks, then decides (``Action.DECIDE`` on the deciding level):

- R-Q7 over the peer group: the units that level decides in the plan, organisations and
  leadership collectives counted apart, and under qd366-2025 the peer groups it set on them
  (``plans.PEER_GROUP``); the outstanding units' share where the upper level granted it
  (``plans.OUTSTANDING``, on the deciding level or on every unit of the group).
- R-E4: a unit founded less than 6 months before its review, or whose proposal says so, is
  decided as reviewed, not rated.

A standing breach blocks the decision unless it is overridden with a typed, confirmed reason
(kept with each unit's history and in the audit log). The deciding level may lower a proposal
with a reason first. Each unit's head is told the level. A decided level can be cancelled with
a reason (R-A2): it stays as history and a new, empty proposal reopens it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from dataclasses import field
from functools import partial

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import plans
from bot.services.cycles import cycle_for_org
from bot.services.cycles import cycle_rulebook
from bot.services.decision import RatedMember
from bot.services.decision import rated_members
from bot.services.decision import role_accounts
from bot.services.ratings import record_change
from bot.services.unit_opinion import opinions_of
from bot.services.unit_rating import head_caps
from bot.services.units import deciding_org
from bot.services.units import is_rated_kind
from bot.services.units import org_facts
from rules.breaches import Breach
from rules.eligibility import org_review_status
from rules.levels import Level
from rules.quotas import check_org_quota
from rules.quotas import group_outstanding
from rules.quotas import peer_groups
from rules.rulebooks import Rulebook
from rules.text import Explanation
from storage.models import AuditEntry
from storage.models import Cycle
from storage.models import Member
from storage.models import Organisation
from storage.models import ParticipantOpinion
from storage.models import RatingState
from storage.models import Role
from storage.models import RoleKind
from storage.models import TelegramAccount
from storage.models import UnitRating
from storage.models import UnitRatingChange
from storage.models import UnitReview
from storage.models import UnitSubject

HEAD_ROLES = (RoleKind.SECRETARY, RoleKind.DEPUTY)


@dataclass(frozen=True)
class RatedUnit:
    """A unit review with its live rating and the opinions given on it."""

    review: UnitReview
    org: Organisation
    rating: UnitRating
    opinions: tuple[ParticipantOpinion, ...] = ()
    young: Explanation | None = None  # R-E4: founded too recently to be rated

    @property
    def subject(self) -> UnitSubject:
        return UnitSubject(self.review.subject)

    @property
    def not_rated(self) -> bool:
        return self.rating.not_rated or self.young is not None

    @property
    def level(self) -> Level | None:
        """The decided level, else the proposed one; None when not rated or not proposed."""
        if self.not_rated:
            return None
        code = self.rating.decided_level if self.decided else self.rating.proposed_level
        return Level(code) if code else None

    @property
    def decided(self) -> bool:
        return self.rating.state == RatingState.DECIDED

    @property
    def ready(self) -> bool:
        """A proposal the deciding level can decide: the unit's vote gave a level, or it was
        reviewed and is not to be rated (R-E4). A review with no rating yet waits."""
        proposed = self.rating.id is not None and not self.decided
        return proposed and (self.not_rated or self.rating.proposed_level is not None)

    @property
    def key(self) -> str:
        return str(self.review.id)


@dataclass
class UnitDecisionView:
    decider: Organisation
    scope: Organisation  # the units shown: those of `scope`'s subtree the decider decides
    cycle: Cycle
    proposals: list[RatedUnit]  # in scope, ready to decide
    decided: list[RatedUnit]
    waiting: list[RatedUnit] = field(default_factory=list)  # in scope, no proposal yet
    breaches: list[Breach] = field(default_factory=list)  # standing errors: they block

    @property
    def blocked(self) -> bool:
        return bool(self.breaches)

    @property
    def empty(self) -> bool:
        return not (self.proposals or self.decided or self.waiting)


async def decided_orgs(session: AsyncSession, decider: Organisation) -> list[Organisation]:
    """The rated units whose level `decider` decides (its cells, or its grassroots units)."""
    children = await session.scalars(
        select(Organisation).where(Organisation.parent_id == decider.id).order_by(Organisation.path)
    )
    found = []
    for org in children:
        if is_rated_kind(org):
            above = await deciding_org(session, org)
            if above is not None and above.id == decider.id:
                found.append(org)
    return found


async def scope_of(session: AsyncSession, org: Organisation) -> tuple[Organisation, Organisation] | None:
    """(deciding level, scope) of the units ``/quyet_dinh ORG`` shows: the units `org` decides,
    or, for a unit that decides none, the unit itself under its deciding level."""
    if await decided_orgs(session, org):
        return org, org
    if is_rated_kind(org):
        decider = await deciding_org(session, org)
        if decider is not None:
            return decider, org
    return None


async def plan_of(session: AsyncSession, org: Organisation) -> Cycle | None:
    return await cycle_for_org(session, org)


async def _rated_units(
    session: AsyncSession, cycle: Cycle, orgs: list[Organisation], today: dt.date
) -> list[RatedUnit]:
    """Every review of `orgs` in the plan with its live rating (a review not yet rated gets an
    unsaved empty proposal, shown as waiting)."""
    by_id = {org.id: org for org in orgs}
    if not by_id:
        return []
    reviews = list(
        await session.scalars(
            select(UnitReview)
            .where(UnitReview.cycle_id == cycle.id, UnitReview.org_id.in_(sorted(by_id)))
            .order_by(UnitReview.id)
        )
    )
    ratings: dict[int, UnitRating] = {}
    if reviews:
        rows = await session.scalars(
            select(UnitRating)
            .where(
                UnitRating.review_id.in_([r.id for r in reviews]),
                UnitRating.state != RatingState.CANCELLED,
            )
            .order_by(UnitRating.id)
        )
        ratings = {rating.review_id: rating for rating in rows}
    opinions = await opinions_of(session, [r.id for r in reviews])
    order = {org.id: i for i, org in enumerate(orgs)}
    subjects = {s.value: i for i, s in enumerate(UnitSubject)}
    found = []
    for review in sorted(reviews, key=lambda r: (order[r.org_id], subjects.get(r.subject, 9))):
        org = by_id[review.org_id]
        rating = ratings.get(review.id) or UnitRating(review_id=review.id, state=RatingState.PROPOSED)
        young = _young(org, review, cycle, today)
        found.append(RatedUnit(review, org, rating, tuple(opinions.get(review.id, ())), young))
    return found


def _young(org: Organisation, review: UnitReview, cycle: Cycle, today: dt.date) -> Explanation | None:
    """R-E4: why the unit is reviewed but not rated (founded too recently), or None."""
    day = review.reviewed_at.date() if review.reviewed_at else today
    status = org_review_status(org_facts(org), cycle_rulebook(cycle), day)
    return None if status.rated else status.reasons[0]


def quota_breaches(
    group: list[RatedUnit],
    cycle: Cycle,
    settings: dict[int, dict],
    decider: Organisation,
    pending: set[str] | None = None,
    rulebook: Rulebook | None = None,
) -> list[Breach]:
    """R-Q7 over the units one deciding level decides: organisations and collectives apart,
    each in the peer groups the deciding level set (R-Q5, qd366-2025), at the outstanding
    share where granted (R-Q1). With `pending`, only the groups holding one of those units.
    `rulebook`: the plan's, when the caller checks many groups of one plan."""
    rulebook = rulebook or cycle_rulebook(cycle)
    applied = plans.unit_settings_apply(rulebook)

    def flag(org_id: int) -> bool:
        return plans.OUTSTANDING in applied and bool(settings.get(org_id, {}).get(plans.OUTSTANDING))

    found: list[Breach] = []
    for subject in UnitSubject:
        mine = {u.key: u for u in group if u.subject is subject}
        labels = {key: settings.get(u.org.id, {}).get(plans.PEER_GROUP) for key, u in mine.items()}
        for keys in peer_groups(labels, rulebook):
            if pending is not None and not pending.intersection(keys):
                continue
            members = [mine[key] for key in keys]
            levels = {u.key: u.level for u in members if u.level is not None}
            outstanding = group_outstanding(flag(decider.id), (flag(u.org.id) for u in members))
            names = {u.key: u.org.name for u in members}
            found += check_org_quota(levels, rulebook, outstanding_unit=outstanding, names=names)
    return found


async def decision_view(
    session: AsyncSession, decider: Organisation, scope: Organisation, cycle: Cycle, today: dt.date
) -> UnitDecisionView:
    group = await _rated_units(session, cycle, await decided_orgs(session, decider), today)
    settings = await plans.unit_settings(session, cycle.id, [decider.id, *(u.org.id for u in group)])
    shown = [u for u in group if u.org.path.startswith(scope.path)]
    proposals = [u for u in shown if u.ready]
    decided = [u for u in shown if u.decided]
    waiting = [u for u in shown if not u.decided and not u.ready]
    # A share counted over the peer group blocks every decision in it, as for members.
    pending = {u.key for u in proposals}
    breaches = quota_breaches(group, cycle, settings, decider, pending) if pending else []
    return UnitDecisionView(decider, scope, cycle, proposals, decided, waiting, breaches)


async def decide(
    session: AsyncSession,
    view: UnitDecisionView,
    *,
    actor: str,
    now: dt.datetime,
    reason: str | None = None,
) -> list[RatedUnit]:
    """Decide every proposal of the view (R-E4 ones as reviewed, not rated); returns them."""
    decided = []
    for unit in view.proposals:
        rating = unit.rating
        rating.state = RatingState.DECIDED
        rating.not_rated = unit.not_rated
        rating.decided_level = None if unit.not_rated else rating.proposed_level
        rating.decided_at, rating.decided_by = now, actor
        _change(session, rating.id, "decided", actor=actor, now=now, level=rating.decided_level,
                reason=reason)
        decided.append(unit)
    session.add(
        AuditEntry.record(
            actor,
            "unit_rating.decide",
            "organisation",
            view.decider.code,
            year=view.cycle.year,
            units=[u.review.id for u in decided],
            overridden=[b.code for b in view.breaches] if reason else [],
            reason=reason,
        )
    )
    await session.flush()
    return decided


# Append to a unit rating's history (lowered, decided, cancelled, reopened).
_change = partial(record_change, history=UnitRatingChange)


async def rating_unit(
    session: AsyncSession, rating_id: int, today: dt.date
) -> tuple[RatedUnit, Cycle] | None:
    """A unit rating with its review, organisation and plan, or None when it is gone."""
    rating = await session.get(UnitRating, rating_id)
    review = await session.get(UnitReview, rating.review_id) if rating is not None else None
    if review is None:
        return None
    cycle = await session.get(Cycle, review.cycle_id)
    org = await session.get(Organisation, review.org_id)
    opinions = (await opinions_of(session, [review.id])).get(review.id, ())
    return RatedUnit(review, org, rating, tuple(opinions), _young(org, review, cycle, today)), cycle


class NotLowerable(Exception):
    """The proposal is decided, gone, or not above the level asked."""


async def lower(
    session: AsyncSession,
    unit: RatedUnit,
    level: Level,
    reason: str,
    *,
    actor: str,
    now: dt.datetime,
) -> None:
    """The deciding level lowers a unit's proposal, with its reason (history, audit log)."""
    rating = unit.rating
    old = rating.proposed_level
    if rating.state != RatingState.PROPOSED or old is None or not level < Level(old):
        raise NotLowerable()
    rating.proposed_level = level.value
    _change(session, rating.id, "lowered", actor=actor, now=now, level=level.value, reason=reason)
    session.add(
        AuditEntry.record(actor, "unit_rating.lower", "unit_review", unit.review.id,
                          org=unit.org.code, old=old, new=level.value, reason=reason)
    )
    await session.flush()


async def cancel_decided(
    session: AsyncSession, unit: RatedUnit, *, actor: str, now: dt.datetime, reason: str
) -> UnitRating:
    """R-A2: the unit's decided level is cancelled (kept as history) and a new, empty
    proposal reopens it."""
    rating = unit.rating
    old_level = rating.decided_level
    rating.state = RatingState.CANCELLED
    _change(session, rating.id, "cancelled", actor=actor, now=now, level=old_level, reason=reason)
    await session.flush()  # the cancelled row no longer counts as live
    fresh = UnitRating(review_id=rating.review_id, state=RatingState.PROPOSED)
    session.add(fresh)
    await session.flush()
    _change(session, fresh.id, "reopened", actor=actor, now=now, reason=reason)
    session.add(
        AuditEntry.record(actor, "unit_rating.cancel", "unit_review", unit.review.id,
                          org=unit.org.code, level=old_level, reopened=fresh.id, reason=reason)
    )
    return fresh


async def decided_of(session: AsyncSession, org: Organisation, today: dt.date) -> list[RatedUnit]:
    """The unit's decided ratings in its plan (the organisation, and its committee)."""
    cycle = await cycle_for_org(session, org)
    if cycle is None:
        return []
    return [u for u in await _rated_units(session, cycle, [org], today) if u.decided]


# --- who is told ------------------------------------------------------------------------------


async def head_accounts(session: AsyncSession, org_id: int) -> list[tuple[Member, TelegramAccount]]:
    """The unit's secretary and deputies whom the bot may write to (R-A3: the head is told)."""
    return await role_accounts(session, org_id, HEAD_ROLES)


async def is_head(session: AsyncSession, member: Member, org: Organisation) -> bool:
    """Whether `member` heads `org` (its secretary or deputy: who appeals for it, R-A1)."""
    found = await session.scalar(
        select(Role.id).where(
            Role.member_id == member.id, Role.org_id == org.id, Role.role.in_(HEAD_ROLES)
        )
    )
    return found is not None


@dataclass(frozen=True)
class CappedHead:
    """A head whose proposal is now above the decided level of a unit they lead (R-C4)."""

    rated: RatedMember
    cap: Level


async def capped_heads(session: AsyncSession, cycle: Cycle, units: list[RatedUnit]) -> list[CappedHead]:
    """After units are decided: the heads (their secretaries) whose undecided proposal now
    stands above the collective's level, so the deciding level sees them at once."""
    org_ids = {u.org.id for u in units}
    found = []
    for org_id in sorted(org_ids):
        org = next(u.org for u in units if u.org.id == org_id)
        rated = [r for r in await rated_members(session, cycle, org) if r.rating.state == RatingState.PROPOSED]
        secretaries = set(
            await session.scalars(
                select(Role.member_id).where(Role.org_id == org_id, Role.role == RoleKind.SECRETARY)
            )
        )
        heads = [r for r in rated if r.member.id in secretaries]
        caps = await head_caps(session, cycle, [r.member for r in heads])
        for r in heads:
            cap = caps.get(r.member.id)
            if cap is not None and not cap.waits and cap.level is not None and r.level > cap.level:
                found.append(CappedHead(r, cap.level))
    return found

