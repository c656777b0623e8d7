"""The decision (DOMAIN §1 step 6), re-rating (R-A2) and the people to tell (R-A3).

The deciding level of a cell is its grassroots committee (đảng ủy cơ sở), or the cell itself
when it is a grassroots cell (chi bộ cơ sở); ``Action.DECIDE`` is checked on that level. A
decision turns every live proposal of the unit into a decided level, appends a "decided"
change to each rating's history, and is recorded as a Decision and in the audit log, with the
written reason when a standing quota or cap breach was overridden.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from dataclasses import field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.checks import RatedMember
from bot.services.checks import cell_breaches
from bot.services.checks import rated_members
from bot.services.checks import unit_breaches
from bot.services.cycles import cycle_for_org
from bot.services.ratings import record_change
from bot.services.reviews import grassroots_root
from bot.services.unit_rating import head_caps
from rules.breaches import Breach
from rules.breaches import Severity
from rules.people import name_sort_key
from storage.models import AuditEntry
from storage.models import Cycle
from storage.models import Decision
from storage.models import Member
from storage.models import Organisation
from storage.models import OrgKind
from storage.models import Rating
from storage.models import RatingState
from storage.models import Role
from storage.models import RoleKind
from storage.models import TelegramAccount
from storage.queries import with_referenced

COMMITTEE_ROLES = (RoleKind.SECRETARY, RoleKind.DEPUTY, RoleKind.COMMITTEE_MEMBER)


async def deciding_level(session: AsyncSession, org: Organisation) -> Organisation | None:
    """The organisation that decides for `org`: None when `org` is above the grassroots."""
    kind = OrgKind(org.kind)
    if kind in (OrgKind.GRASSROOTS, OrgKind.GRASSROOTS_CELL):
        return org
    if kind.is_cell:
        return await grassroots_root(session, org)
    return None


@dataclass
class DecisionView:
    unit: Organisation  # the cell or grassroots unit whose levels are decided
    cycle: Cycle
    proposals: list[RatedMember]  # live proposals, to be decided
    decided: list[RatedMember]
    breaches: list[Breach]  # standing errors: they block unless overridden
    # Heads whose units are still to be decided (R-C4): they wait, outside this decision.
    waiting: list[RatedMember] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        return bool(self.breaches)


async def decision_view(session: AsyncSession, unit: Organisation, cycle: Cycle) -> DecisionView:
    rated = await rated_members(session, cycle, unit)
    proposals = [r for r in rated if r.rating.state == RatingState.PROPOSED]
    decided = [r for r in rated if r.rating.state == RatingState.DECIDED]
    heads = await head_caps(session, cycle, [r.member for r in proposals])
    waits = {member_id for member_id, cap in heads.items() if cap.waits}
    waiting = [r for r in proposals if r.member.id in waits]
    proposals = [r for r in proposals if r.member.id not in waits]
    if OrgKind(unit.kind) is OrgKind.CELL:
        found = await cell_breaches(session, cycle, unit)
    else:
        found = (await unit_breaches(session, cycle, unit)).get(unit.id, [])
    pending = {str(r.member.id) for r in proposals}
    breaches = [
        b
        for b in found
        if b.severity is Severity.ERROR
        and (b.code.startswith("quota.") or any(m in pending for m in b.member_ids))
    ]
    return DecisionView(unit, cycle, proposals, decided, breaches, waiting)


async def unit_cycle(session: AsyncSession, unit: Organisation) -> Cycle | None:
    return await cycle_for_org(session, unit)


async def decide(
    session: AsyncSession,
    view: DecisionView,
    *,
    actor: str,
    now: dt.datetime,
    reason: str | None = None,
) -> list[RatedMember]:
    """Confirm every live proposal of the unit; returns what was decided."""
    for r in view.proposals:
        rating = r.rating
        rating.state = RatingState.DECIDED
        rating.decided_level = rating.proposed_level
        rating.decided_at = now
        rating.decided_by = actor
        record_change(
            session, rating.id, "decided", actor=actor, now=now, level=rating.decided_level,
            reason=reason,
        )
    session.add(
        Decision(
            cycle_id=view.cycle.id,
            org_id=view.unit.id,
            at=now,
            actor=actor,
            decided_count=len(view.proposals),
            override_reason=reason,
        )
    )
    session.add(
        AuditEntry.record(
            actor,
            "rating.decide",
            "organisation",
            view.unit.code,
            year=view.cycle.year,
            count=len(view.proposals),
            overridden=[b.code for b in view.breaches] if reason else [],
            reason=reason,
        )
    )
    await session.flush()
    return list(view.proposals)


async def cancel_decided(
    session: AsyncSession, rating: Rating, *, actor: str, now: dt.datetime, reason: str
) -> Rating:
    """R-A2: the decided rating is cancelled (kept as history) and a new one reopened."""
    old_level = rating.decided_level
    rating.state = RatingState.CANCELLED
    record_change(
        session, rating.id, "cancelled", actor=actor, now=now, level=old_level, reason=reason
    )
    await session.flush()  # the cancelled row no longer counts as live
    fresh = Rating(cycle_id=rating.cycle_id, member_id=rating.member_id, state=RatingState.PROPOSED)
    session.add(fresh)
    await session.flush()
    record_change(session, fresh.id, "reopened", actor=actor, now=now, reason=reason)
    session.add(
        AuditEntry.record(
            actor,
            "rating.cancel",
            "rating",
            rating.id,
            member=rating.member_id,
            level=old_level,
            reopened=fresh.id,
            reason=reason,
        )
    )
    return fresh


async def reachable_account(session: AsyncSession, member_id: int) -> TelegramAccount | None:
    """The member's account if the bot may write to it (started, not blocked)."""
    account = await session.scalar(
        select(TelegramAccount).where(TelegramAccount.member_id == member_id)
    )
    if account is None or account.started_at is None or account.blocked_at is not None:
        return None
    return account


async def role_accounts(
    session: AsyncSession, org_id: int, roles: tuple[RoleKind, ...]
) -> list[tuple[Member, TelegramAccount]]:
    """Holders of `roles` on the organisation whom the bot may write to."""
    rows = await session.execute(
        select(Member, TelegramAccount)
        .join(Role, Role.member_id == Member.id)
        .join(TelegramAccount, TelegramAccount.member_id == Member.id)
        .where(
            Role.org_id == org_id,
            Role.role.in_([r.value for r in roles]),
            TelegramAccount.started_at.is_not(None),
            TelegramAccount.blocked_at.is_(None),
        )
        .order_by(Member.id)
    )
    seen, found = set(), []
    for member, account in sorted(rows, key=lambda row: name_sort_key(row[0].full_name)):
        if member.id not in seen:
            seen.add(member.id)
            found.append((member, account))
    return found


# --- reads for the edge (handlers hold no SQL) ------------------------------------------------


async def organisation(session: AsyncSession, org_id: int | None) -> Organisation | None:
    return await session.get(Organisation, org_id) if org_id is not None else None


async def decided_rating(session: AsyncSession, cycle: Cycle, member: Member) -> Rating | None:
    """The member's decided rating in the cycle, if there is one."""
    return await session.scalar(
        select(Rating).where(
            Rating.cycle_id == cycle.id,
            Rating.member_id == member.id,
            Rating.state == RatingState.DECIDED,
        )
    )


async def rating_subject(
    session: AsyncSession, rating_id: int
) -> tuple[Rating, Member, Cycle] | None:
    """The rating with its member and cycle, or None when it is gone."""
    return await with_referenced(
        session, Rating, rating_id, (Member, "member_id"), (Cycle, "cycle_id")
    )


@dataclass
class Audience:
    """Who is told of a decision: each member (None: the bot cannot write to them) and each
    cell's secretaries with the cell's decided members."""

    members: list[tuple[RatedMember, TelegramAccount | None]]
    cells: list[tuple[Organisation, list[RatedMember], list[TelegramAccount]]]
    decider: Organisation


async def decision_audience(
    session: AsyncSession, view: DecisionView, decided: list[RatedMember]
) -> Audience:
    members = [(r, await reachable_account(session, r.member.id)) for r in decided]
    by_cell: dict[int, list[RatedMember]] = {}
    for r in decided:
        by_cell.setdefault(r.member.org_id, []).append(r)
    cells = []
    for cell_id, rated in by_cell.items():
        accounts = [a for _m, a in await role_accounts(session, cell_id, (RoleKind.SECRETARY,))]
        cells.append((await session.get(Organisation, cell_id), rated, accounts))
    decider = await deciding_level(session, view.unit) or view.unit
    return Audience(members, cells, decider)


async def secretary_accounts(session: AsyncSession, org_id: int) -> list[TelegramAccount]:
    return [a for _m, a in await role_accounts(session, org_id, (RoleKind.SECRETARY,))]
