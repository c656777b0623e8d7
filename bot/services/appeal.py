"""Written appeals (R-A1), a member's levels by year, and HTXS five years running (R-A5).

An appeal's text and answer are stored for the file (R-A4) and never logged: the audit log
records only who filed or answered which appeal.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.decision import deciding_level
from rules.people import name_sort_key
from storage.models import Appeal
from storage.models import AuditEntry
from storage.models import Cycle
from storage.models import Member
from storage.models import Organisation
from storage.models import Rating
from storage.models import RatingState
from storage.models import UnitAppeal
from storage.queries import subtree_range
from storage.queries import with_referenced

RUN_YEARS = 5  # R-A5: rated HTXS five years in a row


async def latest_decided(session: AsyncSession, member_id: int) -> tuple[Rating, Cycle] | None:
    row = (
        await session.execute(
            select(Rating, Cycle)
            .join(Cycle, Rating.cycle_id == Cycle.id)
            .where(Rating.member_id == member_id, Rating.state == RatingState.DECIDED)
            .order_by(Cycle.year.desc())
            .limit(1)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def file_appeal(
    session: AsyncSession,
    rating: Rating,
    deciding_org: Organisation,
    text: str,
    *,
    actor: str,
    now: dt.datetime,
) -> Appeal:
    appeal = Appeal(
        rating_id=rating.id,
        member_id=rating.member_id,
        deciding_org_id=deciding_org.id,
        text=text,
        filed_at=now,
    )
    session.add(appeal)
    await session.flush()
    session.add(AuditEntry.record(actor, "appeal.file", "appeal", appeal.id, rating=rating.id))
    return appeal


def answer_appeal(
    session: AsyncSession,
    appeal: Appeal | UnitAppeal,
    answer: str,
    *,
    actor: str,
    now: dt.datetime,
    kind: str = "appeal",
) -> None:
    """Record the deciding level's written answer (a member's appeal, or with `kind`
    "unit_appeal" a unit's); the audit log names the appeal, never the text."""
    appeal.answer = answer
    appeal.answered_at = now
    appeal.answered_by = actor
    session.add(AuditEntry.record(actor, f"{kind}.answer", kind, appeal.id))


async def levels_by_year(session: AsyncSession, member_id: int) -> list[tuple[int, str, str]]:
    """(year, level code, state) of the member's live ratings with a level, oldest first."""
    rows = await session.execute(
        select(Cycle.year, Rating.decided_level, Rating.proposed_level, Rating.state)
        .join(Cycle, Rating.cycle_id == Cycle.id)
        .where(Rating.member_id == member_id, Rating.state != RatingState.CANCELLED)
        .order_by(Cycle.year)
    )
    found = []
    for year, decided, proposed, state in rows:
        if state == RatingState.DECIDED and decided:
            found.append((year, decided, state))
        elif proposed:
            found.append((year, proposed, state))
    return found


@dataclass(frozen=True)
class Outstanding:
    member: Member
    cell: Organisation
    first_year: int
    last_year: int


async def htxs_runs(session: AsyncSession, root: Organisation) -> list[Outstanding]:
    """R-A5: members of the subtree whose decided level was HTXS in each of the last five
    years that have decided levels in it (one grouped query)."""
    decided = (Rating.state == RatingState.DECIDED,)
    last = await session.scalar(
        select(func.max(Cycle.year))
        .select_from(Rating)
        .join(Cycle, Rating.cycle_id == Cycle.id)
        .join(Member, Rating.member_id == Member.id)
        .join(Organisation, Member.org_id == Organisation.id)
        .where(subtree_range(root.path), *decided)
    )
    if last is None:
        return []
    first = last - RUN_YEARS + 1
    runs = (
        select(Rating.member_id)
        .join(Cycle, Rating.cycle_id == Cycle.id)
        .join(Member, Rating.member_id == Member.id)
        .join(Organisation, Member.org_id == Organisation.id)
        .where(
            subtree_range(root.path),
            *decided,
            Rating.decided_level == "HTXS",
            Cycle.year.between(first, last),
        )
        .group_by(Rating.member_id)
        .having(func.count(func.distinct(Cycle.year)) == RUN_YEARS)
    )
    rows = await session.execute(
        select(Member, Organisation)
        .join(Organisation, Member.org_id == Organisation.id)
        .where(Member.id.in_(runs))
        .order_by(Organisation.path, Member.code)
    )
    ordered = sorted(rows, key=lambda row: (row[1].path, name_sort_key(row[0].full_name)))
    return [Outstanding(member, cell, first, last) for member, cell in ordered]


# --- reads for the edge (handlers hold no SQL) ------------------------------------------------


@dataclass
class Filing:
    """A member's decided rating that an appeal is against, and who decided it."""

    rating: Rating
    cycle: Cycle
    cell: Organisation
    deciding_org: Organisation


async def filing(session: AsyncSession, member: Member, rating_id: int) -> Filing | None:
    """The member's rating, if it is still decided, with its cycle and deciding level."""
    rating = await session.get(Rating, rating_id)
    if rating is None or rating.member_id != member.id or rating.state != RatingState.DECIDED:
        return None
    cell = await session.get(Organisation, member.org_id)
    root = await deciding_level(session, cell) or cell
    return Filing(rating, await session.get(Cycle, rating.cycle_id), cell, root)


async def appeal_parties(
    session: AsyncSession, appeal_id: int
) -> tuple[Appeal, Member, Organisation] | None:
    """The appeal, the member who filed it and the deciding level, or None."""
    return await with_referenced(
        session, Appeal, appeal_id, (Member, "member_id"), (Organisation, "deciding_org_id")
    )


async def organisations(session: AsyncSession, org_ids: list[int]) -> list[Organisation]:
    return [await session.get(Organisation, org_id) for org_id in org_ids]
