"""Organisations and collectives under review (issue 14; DOMAIN §1, §5; seed 004 B.1, B.3).

The shared base of the four parts that rate units: the collective's report and draft score
sheet (step 1), the meeting (members' scores and the unit's vote), the participants' opinions
and the decision (steps 2 and 3), and the files. It answers: which subjects (the organisation
itself, its leadership collective) a unit is reviewed as; their review rows in a plan; who takes
part (a cell's members, or a đảng bộ's committee); who prepares (the head); who decides; which
criteria the unit is scored on; and the live rating of a review.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from typing import Self

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.cycles import cycle_for_org
from bot.services.cycles import cycle_rulebook
from bot.services.frameworks import framework_for
from bot.services.reviews import grassroots_root
from rules.eligibility import org_review_status
from rules.org_scoring import RATED_KINDS
from rules.org_scoring import Addition
from rules.org_scoring import Criterion
from rules.org_scoring import Deduction
from rules.org_scoring import Framework
from rules.org_scoring import OrgScore
from rules.org_scoring import points
from rules.org_scoring import score_org
from rules.people import OrgFacts
from rules.people import OrgKind as RulesOrgKind
from rules.people import name_sort_key
from rules.rulebooks import Rulebook
from storage.models import AdjustmentKind
from storage.models import Cycle
from storage.models import Member
from storage.models import Organisation
from storage.models import OrgKind
from storage.models import RatingState
from storage.models import Role
from storage.models import RoleKind
from storage.models import ScoreAdjustment
from storage.models import UnitRating
from storage.models import UnitReview
from storage.models import UnitSubject

# The roles that make up a unit's leadership collective (cấp ủy: chi ủy, đảng ủy).
LEADER_ROLES = (RoleKind.SECRETARY, RoleKind.DEPUTY, RoleKind.COMMITTEE_MEMBER)
# Seed 004 B.3.1: a collective is rated only where it has two direct leaders or more.
COLLECTIVE_MIN_LEADERS = 2
# The grassroots organisations, whose leadership collective is rated (seed 004 B.3.1).
GRASSROOTS_KINDS = (OrgKind.GRASSROOTS, OrgKind.GRASSROOTS_CELL)


def is_rated_kind(org: Organisation) -> bool:
    """Seed 004 B.1.1: grassroots organisations and the cells under a grassroots committee."""
    return org.kind in RATED_KINDS


def subjects_for(org: Organisation, leader_count: int) -> tuple[UnitSubject, ...]:
    """What of `org` is reviewed and rated: the organisation, and for a grassroots
    organisation with at least two leaders its committee too (seed 004 B.1.1, B.3.1)."""
    if not is_rated_kind(org):
        return ()
    if OrgKind(org.kind) in GRASSROOTS_KINDS and leader_count >= COLLECTIVE_MIN_LEADERS:
        return (UnitSubject.ORGANISATION, UnitSubject.COMMITTEE)
    return (UnitSubject.ORGANISATION,)


async def leaders(session: AsyncSession, org_id: int) -> list[Member]:
    """The members holding a leadership role on the organisation itself (its cấp ủy), in
    Vietnamese name order."""
    found = await session.scalars(
        select(Member)
        .join(Role, Role.member_id == Member.id)
        .where(Role.org_id == org_id, Role.role.in_([r.value for r in LEADER_ROLES]))
        .distinct()
    )
    return sorted(found.all(), key=lambda m: name_sort_key(m.full_name))


async def heads(session: AsyncSession, org_id: int) -> list[Member]:
    """Who prepares the unit's report (seed 004 B.1.4 step 1): its secretary, and its deputy
    (who agrees it with the secretary where there is no committee)."""
    found = await session.scalars(
        select(Member)
        .join(Role, Role.member_id == Member.id)
        .where(Role.org_id == org_id, Role.role.in_([RoleKind.SECRETARY, RoleKind.DEPUTY]))
        .distinct()
    )
    return sorted(found.all(), key=lambda m: name_sort_key(m.full_name))


async def subjects_of(session: AsyncSession, org: Organisation) -> tuple[UnitSubject, ...]:
    if not is_rated_kind(org):
        return ()
    return subjects_for(org, len(await leaders(session, org.id)))


async def participants(session: AsyncSession, review: UnitReview) -> list[Member]:
    """Who takes part in the unit's review and scores it: at a cell, its members (not exempt,
    not suspended: R-E1), for the cell and for its chi ủy alike (seed 004 A.2.1: the chi ủy is
    reviewed at the cell's meeting); at a đảng bộ cơ sở, its committee (the đảng ủy's meeting)."""
    org = await session.get(Organisation, review.org_id)
    if org is None:
        return []
    if OrgKind(org.kind).is_cell:
        found = await session.scalars(
            select(Member).where(
                Member.org_id == org.id, Member.exempt.is_(False), Member.suspended.is_(False)
            )
        )
        return sorted(found.all(), key=lambda m: name_sort_key(m.full_name))
    return await leaders(session, org.id)


async def deciding_org(session: AsyncSession, org: Organisation) -> Organisation | None:
    """Who decides a unit's level (seed 004 B.1.3): the đảng ủy cơ sở for the cells under it;
    the upper committee for a grassroots organisation and its committee."""
    kind = OrgKind(org.kind)
    if kind == OrgKind.CELL:
        root = await grassroots_root(session, org)
        return root if root.id != org.id else None
    if kind in GRASSROOTS_KINDS and org.parent_id is not None:
        return await session.get(Organisation, org.parent_id)
    return None


_RULES_KIND = {
    OrgKind.GRASSROOTS: RulesOrgKind.GRASSROOTS_COMMITTEE,
    OrgKind.GRASSROOTS_CELL: RulesOrgKind.GRASSROOTS_CELL,
    OrgKind.CELL: RulesOrgKind.CELL,
}


def org_facts(org: Organisation) -> OrgFacts:
    """The organisation as the pure rules see it (R-E4 reads its founding date; R-C4's
    exception whether it is a village or residential cell)."""
    kind = _RULES_KIND.get(OrgKind(org.kind), RulesOrgKind.UPPER_COMMITTEE)
    return OrgFacts(
        org_id=str(org.id), kind=kind, founded_on=org.founded_on, residential=org.residential
    )


async def plan_of(session: AsyncSession, org: Organisation) -> Cycle | None:
    return await cycle_for_org(session, org)


async def criteria_of(session: AsyncSession, org: Organisation) -> Framework | None:
    """The criteria `org` is scored on (its nearest committee's framework for its plan's
    year, the criteria for its kind), or None when no framework applies."""
    found = await framework_for(session, org)
    return found.as_rules().for_kind(org.kind) if found is not None else None


@dataclass
class UnitContext:
    """What a unit's review is read against: the organisation, its plan and rulebook, the
    review, the criteria for its kind and whether it is rated. The base of the head's draft
    (unit_review.Draft) and of the meeting's scoring (unit_scoring.Scoring)."""

    org: Organisation
    cycle: Cycle
    rulebook: Rulebook
    review: UnitReview | None  # None: the organisation is not reviewed yet
    framework: Framework | None  # None: no framework applies to the unit's kind
    rated: bool  # R-E4: an organisation founded under 6 months is reviewed, not rated

    @classmethod
    async def load(
        cls,
        session: AsyncSession,
        org: Organisation,
        cycle: Cycle,
        review: UnitReview | None,
        day: dt.date,
        **rest: Any,
    ) -> Self:
        """The context of `org`'s review as of `day` (R-E4 counts six months to it), with the
        subclass's own fields in `rest`."""
        rulebook = cycle_rulebook(cycle)
        return cls(
            org=org,
            cycle=cycle,
            rulebook=rulebook,
            review=review,
            framework=await criteria_of(session, org),
            rated=org_review_status(org_facts(org), rulebook, day).rated,
            **rest,
        )

    def leaves(self) -> tuple[Criterion, ...]:
        return self.framework.leaves() if self.framework is not None else ()

    def score_with(
        self, marks: dict[str, Decimal], adjustments: list[ScoreAdjustment]
    ) -> OrgScore:
        """A sheet's total (marks in points) with these deductions and additions."""
        deductions = [
            Deduction(a.criterion, points(a.shortfall_tenths or 0), a.reason, a.responsible)
            for a in adjustments
            if a.kind == AdjustmentKind.DEDUCTION
        ]
        additions = [
            Addition(a.criterion, points(a.points_tenths or 0), a.reason, a.responsible)
            for a in adjustments
            if a.kind == AdjustmentKind.ADDITION
        ]
        return score_org(self.framework, self.org.kind, marks, self.rulebook,
                         deductions=deductions, additions=additions)


async def review_by_id(session: AsyncSession, review_id: int) -> UnitReview | None:
    return await session.get(UnitReview, review_id)


async def find_review(
    session: AsyncSession, cycle_id: int, org_id: int, subject: UnitSubject
) -> UnitReview | None:
    return await session.scalar(
        select(UnitReview).where(
            UnitReview.cycle_id == cycle_id,
            UnitReview.org_id == org_id,
            UnitReview.subject == subject.value,
        )
    )


async def ensure_review(
    session: AsyncSession, cycle: Cycle, org: Organisation, subject: UnitSubject
) -> UnitReview:
    """The review of `subject` of `org` in `cycle`, created on first use. Two people may
    open it at once (updates of different chats run side by side): the loser of the insert
    reads the winner's row."""
    found = await find_review(session, cycle.id, org.id, subject)
    if found is not None:
        return found
    review = UnitReview(cycle_id=cycle.id, org_id=org.id, subject=subject.value)
    try:
        async with session.begin_nested():
            session.add(review)
    except IntegrityError:
        found = await find_review(session, cycle.id, org.id, subject)
        if found is None:
            raise
        return found
    return review


async def reviews_of(session: AsyncSession, cycle_id: int, org_id: int) -> list[UnitReview]:
    """The unit's reviews in a plan, the organisation first (seed 004 B.3: then its committee)."""
    order = {s.value: i for i, s in enumerate(UnitSubject)}
    found = await session.scalars(
        select(UnitReview).where(UnitReview.cycle_id == cycle_id, UnitReview.org_id == org_id)
    )
    return sorted(found.all(), key=lambda r: order.get(r.subject, len(order)))


async def adjustments(
    session: AsyncSession, review_id: int, *, proposed_only: bool = False
) -> list[ScoreAdjustment]:
    """A review's additions and deductions in the order they were typed; with `proposed_only`,
    those the meeting has not agreed yet (the head's draft shows these)."""
    query = select(ScoreAdjustment).where(ScoreAdjustment.review_id == review_id)
    if proposed_only:
        query = query.where(ScoreAdjustment.agreed.is_(False))
    return list(await session.scalars(query.order_by(ScoreAdjustment.id)))


async def live_rating(session: AsyncSession, review_id: int) -> UnitRating | None:
    """The review's rating that is not cancelled (R-A2 keeps cancelled ones as history)."""
    return await session.scalar(
        select(UnitRating)
        .where(UnitRating.review_id == review_id, UnitRating.state != RatingState.CANCELLED)
        .order_by(UnitRating.id.desc())
        .limit(1)
    )


async def led_units(session: AsyncSession, member: Member) -> list[Organisation]:
    """The rated units `member` heads (R-C4): those where they are the secretary, in the order
    of the tree (an upper unit first)."""
    found = await session.scalars(
        select(Organisation)
        .join(Role, Role.org_id == Organisation.id)
        .where(Role.member_id == member.id, Role.role == RoleKind.SECRETARY)
        .order_by(Organisation.depth, Organisation.id)
    )
    return [org for org in found.all() if is_rated_kind(org)]
