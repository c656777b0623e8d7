"""R-D1 in the deadline monitor (issue 14, part A): the collective's draft report reaches the
participants at least ``draft_report_working_days_before`` working days before the meeting.

For each review a unit has in a plan (the organisation; its committee where rated), once its
meeting is set, the head (the unit's secretary, else its deputies) is reminded 3 days and 1 day
before the day the draft is due and on that day (``draft_due``, stages d3, d1, d0), and warned
when it passed without the draft going out (``draft_late``); every committee member of the
deciding level (the đảng ủy cơ sở for its cells, the upper committee for a grassroots unit) is
told of the breach, one message per person per run listing the units (``draft_late_upper``).

Each notice goes once: the monitor's ledger (``sent_notices``, bot/services/notify.py) is read
before anything else about what is due, and ``notify.send_run`` claims, sends and marks it
(one ledger for the run).
``run`` is called by the monitor's run (bot/jobs.py) inside its lock and outside quiet hours.

Set-based and linear in what is due: per active plan, one query for the meetings in the window
(with their units), one for the units' leader counts, one for the reviews already sent and one
for the heads (each filtered by the window's units as a subquery, not by lists of ids), one of
the ledger for the stages due and, where a breach stands, one for the units above and one for
their committee members (those lists read in chunks of ``CHUNK``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import Select
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator
from bot.i18n import locale_for
from bot.services import Services
from bot.services import notify
from bot.services import units
from bot.services.cycles import cycle_rulebook
from bot.services.notify import COMMITTEE_ROLES
from bot.services.notify import Key
from bot.services.notify import member_target
from bot.services.unit_rating_status import decider_of
from bot.services.unit_rating_status import grassroots_among
from bot.services.unit_review import SUBJECT_NAMES
from bot.text import esc
from rules.deadlines import draft_report_due
from rules.deadlines import reminder_stage
from rules.org_scoring import RATED_KINDS
from storage.models import Cycle
from storage.models import Meeting
from storage.models import NoticeState
from storage.models import Organisation
from storage.models import OrgKind
from storage.models import Role
from storage.models import RoleKind
from storage.models import SentNotice
from storage.models import UnitReview
from storage.models import UnitSubject
from storage.queries import path_ids

log = logging.getLogger(__name__)

REMINDER_DAYS = (3, 1, 0)  # days before the draft is due (rules.deadlines.reminder_stage)
LOOKBACK_DAYS = 31  # meetings this long past still owe their warning; so long a plan is watched
CHUNK = 500
DUE, LATE, LATE_UPPER = "draft_due", "draft_late", "draft_late_upper"


@dataclass(frozen=True)
class Owed:
    """One review whose draft has not gone out, with what its dates call for today."""

    cycle_id: int
    org: Unit
    subject: str
    meeting_at: dt.datetime
    due: dt.date
    working_days: int
    stage: str | None  # d3, d1, d0: a reminder is due today
    late: bool

    @property
    def key(self) -> str:
        return f"{self.org.id}:{self.subject}:{self.due.isoformat()}"


@dataclass(frozen=True)
class Notice:
    member_id: int
    kind: str
    cycle_id: int
    stage: str
    owed: Owed


def _chunks(values: list) -> list[list]:
    return [values[i : i + CHUNK] for i in range(0, len(values), CHUNK)]


def _window(today: dt.date, working_days: int, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """The meetings whose draft can be due between a month ago and REMINDER_DAYS ahead: a due
    day is `working_days` working days before the meeting, at most two weekend days per five."""
    ahead = REMINDER_DAYS[0] + working_days + 2 * (working_days // 5 + 1) + 1
    start = dt.datetime.combine(today - dt.timedelta(days=LOOKBACK_DAYS), dt.time(), tz)
    end = dt.datetime.combine(today + dt.timedelta(days=ahead + 1), dt.time(), tz)
    return start, end


class Unit(NamedTuple):
    """An organisation as the monitor needs it (plain values, no ORM object per unit)."""

    id: int
    name: str
    path: str
    kind: str
    parent_id: int | None


def _in_window(cycle: Cycle, start: dt.datetime, end: dt.datetime):
    """The plan's rated units whose meeting falls in [start, end): a subquery of their ids, so
    the statements below filter by it in the database instead of by long lists of ids."""
    return (select(Meeting.org_id)
            .join(Organisation, Organisation.id == Meeting.org_id)
            .where(Meeting.cycle_id == cycle.id, Meeting.scheduled_at >= start,
                   Meeting.scheduled_at < end, Organisation.kind.in_(RATED_KINDS)))


async def owed_drafts(
    session: AsyncSession, cycle: Cycle, today: dt.date, tz: dt.tzinfo
) -> tuple[list[Owed], Select]:
    """The reviews of the plan's units with a meeting in the window whose draft has not gone
    out, and what is due for them today; and the window's units (a subquery)."""
    rulebook = cycle_rulebook(cycle)
    days = rulebook.draft_report_working_days_before
    start, end = _window(today, days, tz)
    window = _in_window(cycle, start, end)
    rows = (await session.execute(
        select(Meeting.scheduled_at, Organisation.id, Organisation.name, Organisation.path,
               Organisation.kind, Organisation.parent_id)
        .join(Organisation, Organisation.id == Meeting.org_id)
        .where(Meeting.cycle_id == cycle.id, Meeting.scheduled_at >= start,
               Meeting.scheduled_at < end, Organisation.kind.in_(RATED_KINDS))
    )).all()
    if not rows:
        return [], window
    leaders = dict((await session.execute(
        select(Role.org_id, func.count(func.distinct(Role.member_id)))
        .where(Role.org_id.in_(window), Role.role.in_([r.value for r in units.LEADER_ROLES]))
        .group_by(Role.org_id)
    )).all())
    circulated = set((await session.execute(
        select(UnitReview.org_id, UnitReview.subject)
        .where(UnitReview.cycle_id == cycle.id, UnitReview.org_id.in_(window),
               UnitReview.circulated_at.is_not(None))
    )).all())
    found = []
    for meeting_at, *columns in rows:
        org = Unit(*columns)
        due = draft_report_due(meeting_at.astimezone(tz).date(), rulebook)
        stage, late = reminder_stage(due, today, REMINDER_DAYS), today > due
        if stage is None and not late:
            continue
        for subject in units.subjects_for(org, leaders.get(org.id, 0)):
            if (org.id, subject.value) not in circulated:
                found.append(Owed(cycle.id, org, subject.value, meeting_at, due, days, stage,
                                  late))
    return found, window


async def _ledger(session: AsyncSession, cycle_id: int, stages: set[str]) -> set[tuple[str, str, str]]:
    """(kind, target, stage) already sent or claimed (a failed one is retried)."""
    found: set[tuple[str, str, str]] = set()
    for chunk in _chunks(sorted(stages)):
        found.update(tuple(row) for row in await session.execute(
            select(SentNotice.kind, SentNotice.target, SentNotice.stage).where(
                SentNotice.cycle_id == cycle_id, SentNotice.stage.in_(chunk),
                SentNotice.state != NoticeState.FAILED)))
    return found


async def _heads(session: AsyncSession, window: Select) -> dict[int, list[int]]:
    """Each unit's secretaries, else its deputies (member ids), as the monitor tells them."""
    found: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for org_id, role, member_id in await session.execute(
        select(Role.org_id, Role.role, Role.member_id)
        .where(Role.org_id.in_(window),
               Role.role.in_([RoleKind.SECRETARY.value, RoleKind.DEPUTY.value]))
        .order_by(Role.member_id)
    ):
        found[org_id][role].append(member_id)
    return {org_id: roles.get(RoleKind.SECRETARY.value) or roles.get(RoleKind.DEPUTY.value) or []
            for org_id, roles in found.items()}


async def _deciders(session: AsyncSession, late: list[Owed]) -> dict[int, list[int]]:
    """Per late unit, the committee members of its deciding level."""
    deciding = await deciding_ids(session, [o.org for o in late])
    holders = await committee_members(session, set(deciding.values()))
    return {org_id: holders.get(upper, []) for org_id, upper in deciding.items()}


async def deciding_ids(session: AsyncSession, orgs: list[Unit]) -> dict[int, int]:
    """Per unit, the id of its deciding level (units.deciding_org, for many units at once): the
    nearest đảng bộ cơ sở above a cell, the parent of a grassroots unit."""
    grassroots = await grassroots_among(session, {
        a for org in orgs if org.kind == OrgKind.CELL for a in path_ids(org.path)[:-1]})
    deciding = {org.id: decider_of(org.kind, org.path, org.parent_id, grassroots) for org in orgs}
    return {org_id: decider for org_id, decider in deciding.items() if decider is not None}


async def committee_members(session: AsyncSession, org_ids: set[int]) -> dict[int, list[int]]:
    """Per organisation, the members holding a committee role on it (COMMITTEE_ROLES)."""
    holders: dict[int, list[int]] = defaultdict(list)
    for chunk in _chunks(sorted(org_ids)):
        for org_id, member_id in await session.execute(
            select(Role.org_id, Role.member_id).where(
                Role.org_id.in_(chunk), Role.role.in_([r.value for r in COMMITTEE_ROLES]))
            .order_by(Role.member_id)
        ):
            if member_id not in holders[org_id]:
                holders[org_id].append(member_id)
    return holders


async def decide(session: AsyncSession, now: dt.datetime, tz: dt.tzinfo) -> list[Notice]:
    """Everything R-D1 calls for now that the ledger does not show as sent."""
    today = now.astimezone(tz).date()
    since = today - dt.timedelta(days=LOOKBACK_DAYS)
    notices: list[Notice] = []
    for cycle in await session.scalars(select(Cycle).where(Cycle.report_by >= since)):
        owed, window = await owed_drafts(session, cycle, today, tz)
        if not owed:
            continue
        heads = await _heads(session, window)
        late = [o for o in owed if o.late]
        upper = await _deciders(session, late) if late else {}
        wanted: list[Notice] = []
        for item in owed:
            for member_id in heads.get(item.org.id, []):
                if item.stage is not None:
                    wanted.append(Notice(member_id, DUE, cycle.id, f"{item.key}:{item.stage}", item))
                if item.late:
                    wanted.append(Notice(member_id, LATE, cycle.id, item.key, item))
            if item.late:
                for member_id in upper.get(item.org.id, []):
                    wanted.append(Notice(member_id, LATE_UPPER, cycle.id, item.key, item))
        sent = await _ledger(session, cycle.id, {n.stage for n in wanted})
        notices += [n for n in wanted
                    if (n.kind, member_target(n.member_id), n.stage) not in sent]
    return notices


# --- what is said ------------------------------------------------------------------------------


def _unit(t: Translator, owed: Owed) -> str:
    return t("{org} ({subject})", org=f"<b>{esc(owed.org.name)}</b>",
             subject=t(SUBJECT_NAMES[UnitSubject(owed.subject)]))


def render_due(t: Translator, owed: Owed, today: dt.date) -> str:
    left = (owed.due - today).days
    when = t("today") if left == 0 else t("in {days} days", days=left)
    return "📄 " + t(
        "The draft review report of {unit} must reach the participants by {date} ({when}), "
        "{days} working days before the meeting of {meeting}. Prepare and send it with /tap_the.",
        unit=_unit(t, owed), date=t.date(owed.due), when=when, days=owed.working_days,
        meeting=t.datetime(owed.meeting_at))


def render_late(t: Translator, owed: Owed) -> str:
    return "⏰ " + t(
        "The draft review report of {unit} was due to reach the participants by {date}, {days} "
        "working days before the meeting of {meeting}, and has not been sent. Send it now with "
        "/tap_the; the upper committee has been told.",
        unit=_unit(t, owed), date=t.date(owed.due), days=owed.working_days,
        meeting=t.datetime(owed.meeting_at))


def render_upper(t: Translator, items: list[Owed]) -> str:
    lines = ["⏰ <b>" + esc(t(
        "Draft review reports that did not reach the participants {days} working days before "
        "the meeting:", days=items[0].working_days)) + "</b>"]
    lines += ["• " + t("{unit}: due by {date}, meeting {meeting}", unit=_unit(t, o),
                       date=t.date(o.due), meeting=t.datetime(o.meeting_at)) for o in items]
    return "\n".join(lines)


# --- sending -----------------------------------------------------------------------------------


def _messages(t: Translator, member_id: int, items: list[Notice], today: dt.date):
    """(the notices' ledger keys, how to say the ones claimed): a reminder or warning alone, the
    breaches told to an upper committee member together."""
    def key(n: Notice) -> Key:
        return Key(n.kind, member_target(member_id), n.cycle_id, n.stage)

    for n in items:
        if n.kind == DUE:
            yield [key(n)], lambda _keys, n=n: render_due(t, n.owed, today)
        elif n.kind == LATE:
            yield [key(n)], lambda _keys, n=n: render_late(t, n.owed)
    upper = {key(n): n.owed for n in items if n.kind == LATE_UPPER}
    if upper:
        yield list(upper), lambda keys: render_upper(t, [upper[k] for k in keys])


async def run(services: Services, bot, now: dt.datetime) -> int:
    """Send what R-D1 calls for now, each notice once; the messages Telegram accepted. One
    ledger for the run (``notify.send_run``, as the monitor's own notices), the accounts read
    as plain rows, one translator per language."""
    tz = services.settings.tz
    async with services.db.session() as session:
        notices = await decide(session, now, tz)
        accounts = await notify.contacts_by_member(session, [n.member_id for n in notices])
    by_member: dict[int, list[Notice]] = defaultdict(list)
    for notice in notices:
        by_member[notice.member_id].append(notice)
    today = now.astimezone(tz).date()
    translators: dict[str, Translator] = {}
    messages = []
    for member_id, items in by_member.items():
        account = accounts.get(member_id)
        if not notify.reachable(account):
            continue
        locale = locale_for(account.language_code, account.chosen_locale,
                            services.settings.default_locale)
        t = translators.get(locale) or translators.setdefault(locale, Translator(locale, tz))
        messages += [notify.Outgoing(keys, account.telegram_id, render)
                     for keys, render in _messages(t, member_id, items, today)]
    sent = await notify.send_run(services.db, bot, messages, now)
    if sent:
        log.info("draft report deadlines: %d messages sent", sent)
    return sent
