"""A unit's written appeal against its decided level (R-A1; seed 004 B.6), filed by its head
(secretary or deputy), answered in writing by the deciding level, as members' appeals are.

The text and the answer are kept for the unit's file (R-A4) and never logged: the audit log
records only who filed or answered which appeal.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.appeal import answer_appeal as members_answer
from bot.services.unit_decision import RatedUnit
from bot.services.unit_decision import is_head
from bot.services.unit_decision import rating_unit
from bot.services.units import deciding_org
from storage.models import AuditEntry
from storage.models import Cycle
from storage.models import Member
from storage.models import Organisation
from storage.models import UnitAppeal


@dataclass
class UnitFiling:
    """A unit's decided rating an appeal is against, and who decided it."""

    unit: RatedUnit
    cycle: Cycle
    deciding_org: Organisation


async def filing(
    session: AsyncSession, member: Member, rating_id: int, today: dt.date
) -> UnitFiling | None:
    """The unit rating if it is still decided and `member` heads the unit; None otherwise."""
    found = await rating_unit(session, rating_id, today)
    if found is None:
        return None
    unit, cycle = found
    if not unit.decided or not await is_head(session, member, unit.org):
        return None
    decider = await deciding_org(session, unit.org)
    return UnitFiling(unit, cycle, decider) if decider is not None else None


async def file_appeal(
    session: AsyncSession,
    found: UnitFiling,
    member: Member,
    text: str,
    *,
    actor: str,
    now: dt.datetime,
) -> UnitAppeal:
    appeal = UnitAppeal(
        rating_id=found.unit.rating.id,
        filed_by=member.id,
        deciding_org_id=found.deciding_org.id,
        text=text,
        filed_at=now,
    )
    session.add(appeal)
    await session.flush()
    session.add(
        AuditEntry.record(actor, "unit_appeal.file", "unit_appeal", appeal.id,
                          rating=found.unit.rating.id, org=found.unit.org.code)
    )
    return appeal


def answer_appeal(
    session: AsyncSession, appeal: UnitAppeal, answer: str, *, actor: str, now: dt.datetime
) -> None:
    members_answer(session, appeal, answer, actor=actor, now=now, kind="unit_appeal")


async def appeal_parties(
    session: AsyncSession, appeal_id: int
) -> tuple[UnitAppeal, Member, Organisation] | None:
    """The appeal, the head who filed it and the deciding level, or None."""
    appeal = await session.get(UnitAppeal, appeal_id)
    if appeal is None:
        return None
    member = await session.get(Member, appeal.filed_by)
    return appeal, member, await session.get(Organisation, appeal.deciding_org_id)


async def appealed_unit(session: AsyncSession, appeal: UnitAppeal, today: dt.date) -> RatedUnit | None:
    found = await rating_unit(session, appeal.rating_id, today)
    return found[0] if found is not None else None
