"""The year's cycle (kế hoạch) that applies to an organisation, and the rule inputs it needs."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from rules.people import DisciplineForm
from rules.people import MemberFacts
from rules.people import Status
from rules.rulebooks import RULEBOOKS
from rules.rulebooks import Rulebook
from rules.rulebooks import rulebook
from storage.models import AuditEntry
from storage.models import Cycle
from storage.models import Member
from storage.models import Organisation
from storage.queries import path_ids


async def cycle_for_org(session: AsyncSession, org: Organisation) -> Cycle | None:
    """The newest cycle set on this organisation or its nearest ancestor that has one."""
    ancestor_ids = path_ids(org.path)
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
        public_servant=member.public_servant,
    )


class CycleError(ValueError):
    """A plan that cannot be opened; `msgid` and `params` say why, for the user's language."""

    def __init__(self, msgid: str, **params: object) -> None:
        super().__init__(msgid)
        self.msgid, self.params = msgid, params


def check_rulebook_code(code: str) -> None:
    """CycleError unless `code` names a rulebook that ships."""
    if code not in RULEBOOKS:
        raise CycleError(
            N_("Unknown rulebook {code}; choose {choices}."), code=code, choices=", ".join(RULEBOOKS)
        )


def date_problem(
    year: int, finish_by: dt.date | None, report_by: dt.date | None
) -> CycleError | None:
    """Why a plan of `year` cannot have these dates (None: it can): results reported before
    the reviews are finished, or a finish-by date far from the end of the year."""
    if finish_by is not None and report_by is not None and report_by < finish_by:
        return CycleError(N_("The report date must not be before the finish-by date."))
    if finish_by is not None and not year - 1 <= finish_by.year <= year + 1:
        return CycleError(N_("The finish-by date must be near the end of {year}."), year=year)
    return None


async def create_cycle(
    session: AsyncSession,
    org: Organisation,
    *,
    year: int,
    rulebook_code: str,
    finish_by: dt.date,
    report_by: dt.date,
    actor: str,
) -> Cycle:
    check_rulebook_code(rulebook_code)
    if problem := date_problem(year, finish_by, report_by):
        raise problem
    existing = await session.scalar(select(Cycle).where(Cycle.org_id == org.id, Cycle.year == year))
    if existing is not None:
        raise CycleError(N_("{org} already has a plan for {year}."), org=org.name, year=year)
    cycle = Cycle(
        org_id=org.id, year=year, rulebook=rulebook_code, finish_by=finish_by, report_by=report_by
    )
    session.add(cycle)
    session.add(
        AuditEntry.record(
            actor,
            "cycle.create",
            "organisation",
            org.code,
            year=year,
            rulebook=rulebook_code,
            finish_by=finish_by,
            report_by=report_by,
        )
    )
    await session.flush()
    return cycle


async def list_cycles(session: AsyncSession) -> list[tuple[Cycle, Organisation]]:
    rows = await session.execute(
        select(Cycle, Organisation)
        .join(Organisation, Cycle.org_id == Organisation.id)
        .order_by(Cycle.year.desc(), Organisation.path)
    )
    return [(cycle, org) for cycle, org in rows]
