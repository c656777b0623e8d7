"""The year's cycle (kế hoạch) that applies to an organisation, and the rule inputs it needs."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rules.people import DisciplineForm, MemberFacts, Status
from rules.rulebooks import Rulebook, rulebook
from storage.models import Cycle, Member, Organisation


async def cycle_for_org(session: AsyncSession, org: Organisation) -> Cycle | None:
    """The newest cycle set on this organisation or its nearest ancestor that has one."""
    ancestor_ids = [int(part) for part in org.path.strip("/").split("/")]
    return await session.scalar(
        select(Cycle)
        .join(Organisation, Cycle.org_id == Organisation.id)
        .where(Cycle.org_id.in_(ancestor_ids))
        .order_by(Cycle.year.desc(), Organisation.depth.desc())
        .limit(1)
    )


def cycle_rulebook(cycle: Cycle) -> Rulebook:
    return rulebook(cycle.rulebook, **(json.loads(cycle.overrides) if cycle.overrides else {}))


def member_facts(member: Member) -> MemberFacts:
    """The member as the pure rules see them (DOMAIN §3)."""
    form = DisciplineForm(member.discipline_form) if member.discipline_form else None
    return MemberFacts(
        member_id=str(member.id),
        name=member.full_name,
        status=Status(member.status),
        admitted_on=member.admitted_on,
        exempt=member.exempt,
        suspended=member.suspended,
        committee_suspended=member.committee_suspended,
        temporary=member.temporary_org_id is not None,
        leader=member.leader,
        head=member.head,
        sick_leave_months=member.sick_leave_months,
        maternity=member.maternity,
        disciplined=form is not None,
        discipline_form=form,
        discipline_in_official_duties=member.discipline_in_official_duties,
        outside_political_system=member.outside_political_system,
        transferred_in_on=member.transferred_in_on,
    )
