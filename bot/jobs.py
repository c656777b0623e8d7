"""The deadline monitor (R-D*, R-Q*, R-C*): reminders and warnings, each sent once.

``run_monitor(services, bot, now=...)`` decides everything from the database: the cycles,
their units' effective deadlines (bot/services/plans.py), meetings, self-reviews, ballot
rounds, ratings and the ledger of what was already sent (``sent_notices``, see
bot/services/notify.py for the claim → send → mark protocol and why a notice is sent at
most once). Nothing it decides comes from memory, so a restart changes nothing.

JobQueue runs it at start-up, every hour, and at 07:00 in the bot's time zone. Between 21:00
and 07:00 it sends nothing: what fell due then goes out at the 07:00 run.

What it sends (kind / stage):

- ``review_due`` to each member to be reviewed whose self-review is not submitted: 3 days and
  1 day before the due date (R-D2) and on the day (stage ``<due>:d3|d1|d0``; a stage missed
  while the bot was down is sent late only until the next one applies);
- ``reviews_missing`` to the secretary once the due date has passed, with the names;
- ``no_meeting`` to the secretary from 7 days before the unit's finish-by with no meeting;
- ``no_ballot`` to the secretary once the meeting day has passed with no ballot round closed;
- ``not_decided`` to the secretary once the finish-by date has passed with levels not decided;
- ``breach`` to each member of an upper committee (secretary, deputy, committee member,
  organising office on an ancestor; on the grassroots committee itself for its own quota):
  every breach of caps and quotas standing in their subtree, one message per person per run
  listing the units (stage: the unit and a digest of the breach, so a changed breach is told
  again);
- ``blocked`` to the secretary when a member's account has blocked the bot (403), once per
  member and cycle.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator, locale_for
from bot.services import Services, notify
from bot.services.checks import cell_breaches
from bot.services.cycles import cycle_for_org, cycle_rulebook, member_facts
from bot.services.notify import COMMITTEE_ROLES, Key, Outcome, member_target
from bot.services.plans import FINISH_BY, deadline_rows, effective_from_rows
from bot.text import esc
from rules.breaches import Breach
from rules.deadlines import self_review_due
from rules.eligibility import review_status
from storage.models import (
    BallotRound,
    Cycle,
    Meeting,
    Member,
    Organisation,
    OrgKind,
    Rating,
    RatingState,
    ReviewState,
    SelfReview,
    TelegramAccount,
)
from storage.queries import subtree_range

log = logging.getLogger(__name__)

JOB_NAME = "deadline-monitor"
STARTUP_JOB_NAME = "deadline-monitor-startup"
MORNING_JOB_NAME = "deadline-monitor-morning"
INTERVAL_SECONDS = 3600
QUIET_FROM = dt.time(21, 0)  # nothing is sent from 21:00 …
QUIET_UNTIL = dt.time(7, 0)  # … until 07:00, in settings.tz
REMINDER_DAYS = (3, 1, 0)  # R-D2 reminders: days before the self-review is due
NO_MEETING_DAYS = 7  # warn when no meeting is set this many days before finish-by
ACTIVE_DAYS_AFTER_REPORT = 31  # a cycle is watched until a month after its report-by date
MAX_NAMES = 40



def quiet(local: dt.datetime) -> bool:
    """21:00–07:00 in the bot's time zone."""
    clock = local.time()
    return clock >= QUIET_FROM or clock < QUIET_UNTIL


def reminder_stage(due: dt.date, today: dt.date) -> str | None:
    """ "d3" from 3 days before until 2, "d1" the day before, "d0" on the day; None otherwise."""
    left = (due - today).days
    if left < 0 or left > REMINDER_DAYS[0]:
        return None
    if left > REMINDER_DAYS[1]:
        return f"d{REMINDER_DAYS[0]}"
    return f"d{left}"


@dataclass
class Item:
    """One thing to tell one member."""

    kind: str
    cycle_id: int
    stage: str
    render: Callable[[Translator], str]
    cell_id: int | None = None  # whose secretary hears of a 403
    unit: Organisation | None = None  # for grouped breaches


@dataclass
class Plan:
    """What this run would send, per recipient member id."""

    items: dict[int, list[Item]] = field(default_factory=lambda: defaultdict(list))

    def add(self, member_id: int, item: Item) -> None:
        self.items[member_id].append(item)


def _names(members: list[Member]) -> str:
    shown = [esc(m.full_name) for m in members[:MAX_NAMES]]
    if len(members) > MAX_NAMES:
        shown.append(f"… (+{len(members) - MAX_NAMES})")
    return ", ".join(shown)


# --- deciding ----------------------------------------------------------------------------------


async def _active_cycles(session: AsyncSession, today: dt.date) -> list[Cycle]:
    since = today - dt.timedelta(days=ACTIVE_DAYS_AFTER_REPORT)
    return list(await session.scalars(select(Cycle).where(Cycle.report_by >= since)))


async def _cells(session: AsyncSession, cycle: Cycle) -> list[Organisation]:
    root = await session.get(Organisation, cycle.org_id)
    cells = await session.scalars(
        select(Organisation)
        .where(
            subtree_range(root.path),
            Organisation.kind.in_([OrgKind.CELL, OrgKind.GRASSROOTS_CELL]),
        )
        .order_by(Organisation.path)
    )
    governed = []
    for cell in cells:
        governing = await cycle_for_org(session, cell)
        if governing is not None and governing.id == cycle.id:
            governed.append(cell)
    return governed


async def decide(session: AsyncSession, services: Services, now: dt.datetime) -> Plan:
    tz = services.settings.tz
    today = now.astimezone(tz).date()
    plan = Plan()
    for cycle in await _active_cycles(session, today):
        rows = await deadline_rows(session, cycle)
        breaches_by_unit: dict[int, tuple[Organisation, dict[str, Breach]]] = {}
        for cell in await _cells(session, cycle):
            deadlines = effective_from_rows(cycle, cell, rows)
            await _cell_notices(session, plan, cycle, cell, deadlines[FINISH_BY], today, tz)
            await _collect_breaches(session, cycle, cell, breaches_by_unit)
        await _upper_notices(session, plan, cycle, breaches_by_unit)
    return plan


async def _cell_notices(
    session: AsyncSession,
    plan: Plan,
    cycle: Cycle,
    cell: Organisation,
    finish_by: dt.date,
    today: dt.date,
    tz: dt.tzinfo,
) -> None:
    rb = cycle_rulebook(cycle)
    members = list(
        await session.scalars(
            select(Member).where(Member.org_id == cell.id).order_by(Member.full_name, Member.id)
        )
    )
    secretaries = await notify.secretaries_of(session, cell.id)
    meeting = await session.scalar(
        select(Meeting).where(Meeting.cycle_id == cycle.id, Meeting.org_id == cell.id)
    )
    year, cid, name = cycle.year, cycle.id, cell.name

    def to_secretaries(kind: str, stage: str, render: Callable[[Translator], str]) -> None:
        for secretary in secretaries:
            plan.add(secretary.id, Item(kind, cid, stage, render, cell.id))

    if meeting is None:
        if finish_by - dt.timedelta(days=NO_MEETING_DAYS) <= today <= finish_by:
            to_secretaries(
                "no_meeting",
                finish_by.isoformat(),
                lambda t: (
                    "📅 "
                    + t(
                        "{cell} has no review meeting scheduled, and the plan's finish-by date is "
                        "{date}. Set it with /lich_hop.",
                        cell=f"<b>{esc(name)}</b>",
                        date=t.date(finish_by),
                    )
                ),
            )
        meeting_day = None
    else:
        meeting_day = meeting.scheduled_at.astimezone(tz).date()
        due = self_review_due(meeting_day, rb)
        reviews = {
            r.member_id: r
            for r in await session.scalars(
                select(SelfReview)
                .where(SelfReview.cycle_id == cycle.id)
                .join(Member, Member.id == SelfReview.member_id)
                .where(Member.org_id == cell.id)
            )
        }
        to_review = [m for m in members if review_status(member_facts(m), rb, meeting_day).reviewed]
        missing = [
            m
            for m in to_review
            if (r := reviews.get(m.id)) is None or r.state != ReviewState.SUBMITTED
        ]
        stage = reminder_stage(due, today)
        if stage is not None:
            left = (due - today).days
            for member in missing:
                plan.add(
                    member.id,
                    Item(
                        "review_due",
                        cid,
                        f"{due.isoformat()}:{stage}",
                        lambda t, left=left: (
                            "📝 "
                            + (
                                t(
                                    "Your self-review for {year} is due today, {date}. Send "
                                    "/kiem_diem to finish and submit it.",
                                    year=year,
                                    date=t.date(due),
                                )
                                if left == 0
                                else t(
                                    "Your self-review for {year} is due on {date}, in {days} days. "
                                    "Send /kiem_diem to write and submit it.",
                                    year=year,
                                    date=t.date(due),
                                    days=left,
                                )
                            )
                        ),
                        cell.id,
                    ),
                )
        if today > due and missing:
            to_secretaries(
                "reviews_missing",
                due.isoformat(),
                lambda t: (
                    "⏰ "
                    + t(
                        "The self-reviews of {cell} were due on {date}; {count} not submitted: "
                        "{names}.",
                        cell=f"<b>{esc(name)}</b>",
                        date=t.date(due),
                        count=len(missing),
                        names=_names(missing),
                    )
                ),
            )
        if today > meeting_day:
            closed = await session.scalar(
                select(BallotRound.id)
                .where(BallotRound.meeting_id == meeting.id, BallotRound.state == "closed")
                .limit(1)
            )
            if closed is None:
                to_secretaries(
                    "no_ballot",
                    meeting_day.isoformat(),
                    lambda t: (
                        "🗳 "
                        + t(
                            "The meeting of {cell} was on {date}, and no secret ballot has been "
                            "closed. Run it with /bo_phieu.",
                            cell=f"<b>{esc(name)}</b>",
                            date=t.date(meeting_day),
                        )
                    ),
                )
    if today > finish_by:
        ratings = {
            r.member_id: r
            for r in await session.scalars(
                select(Rating)
                .join(Member, Member.id == Rating.member_id)
                .where(
                    Rating.cycle_id == cycle.id,
                    Member.org_id == cell.id,
                    Rating.state != RatingState.CANCELLED,
                )
            )
        }
        review_day = meeting_day or finish_by
        to_rate = [m for m in members if review_status(member_facts(m), rb, review_day).rated]
        undecided = [
            m for m in to_rate if (r := ratings.get(m.id)) is None or r.state != RatingState.DECIDED
        ]
        if undecided:
            to_secretaries(
                "not_decided",
                finish_by.isoformat(),
                lambda t: (
                    "⚠️ "
                    + t(
                        "The plan's finish-by date {date} has passed, and the levels of {count} "
                        "members of {cell} are not decided: {names}.",
                        date=t.date(finish_by),
                        count=len(undecided),
                        cell=f"<b>{esc(name)}</b>",
                        names=_names(undecided),
                    )
                ),
            )


async def _collect_breaches(
    session: AsyncSession,
    cycle: Cycle,
    cell: Organisation,
    found: dict[int, tuple[Organisation, dict[str, Breach]]],
) -> None:
    """Caps and the cell's own quota on the cell; the peer-group quota (R-Q5) on the
    grassroots committee it is counted in."""
    has_rating = await session.scalar(
        select(Rating.id)
        .join(Member, Member.id == Rating.member_id)
        .where(Rating.cycle_id == cycle.id, Member.org_id == cell.id)
        .limit(1)
    )
    if has_rating is None:
        return
    root = None
    for breach in await cell_breaches(session, cycle, cell):
        peer = breach.code.startswith("quota.") and "R-Q5" not in breach.rule_ids
        unit = cell
        if peer and cell.parent_id is not None and cell.org_kind is OrgKind.CELL:
            root = root or await _grassroots(session, cell)
            unit = root
        found.setdefault(unit.id, (unit, {}))[1].setdefault(_digest(breach), breach)


async def _grassroots(session: AsyncSession, cell: Organisation) -> Organisation:
    from bot.services.reviews import grassroots_root

    return await grassroots_root(session, cell)


def _digest(breach: Breach) -> str:
    params = {k: v for k, v in breach.params.items() if k != "rules"}
    text = f"{breach.code}|{sorted(breach.member_ids)}|{sorted(params.items(), key=str)}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


async def _upper_notices(
    session: AsyncSession,
    plan: Plan,
    cycle: Cycle,
    found: dict[int, tuple[Organisation, dict[str, Breach]]],
) -> None:
    for unit, breaches in found.values():
        ancestors = [int(p) for p in unit.path.strip("/").split("/")]
        above = ancestors if not unit.org_kind.is_cell else ancestors[:-1]
        holders = await notify.role_holders(session, above, COMMITTEE_ROLES)
        for member_id in dict.fromkeys(m.id for m, _ in holders):
            for digest, breach in breaches.items():
                plan.add(
                    member_id,
                    Item(
                        "breach",
                        cycle.id,
                        f"{unit.id}:{digest}",
                        lambda t, b=breach: breach_line(t, b),
                        unit=unit,
                    ),
                )


def breach_line(t: Translator, breach: Breach) -> str:
    """A breach with its rule, figures and the members concerned."""
    text = esc(breach.render(t.gettext))
    names = [n for n in breach.member_names if n]
    if names and not any(n in text for n in names):
        text += " — " + ", ".join(esc(n) for n in names)
    return text


# --- sending -----------------------------------------------------------------------------------


def translator(account: TelegramAccount, services: Services) -> Translator:
    locale = locale_for(
        account.language_code, account.chosen_locale, services.settings.default_locale
    )
    return Translator(locale, services.settings.tz)


def _render_group(t: Translator, items: list[Item]) -> str:
    """One message for one person: simple notices one after another; breaches by unit."""
    lines: list[str] = []
    simple = [i for i in items if i.kind != "breach"]
    lines += [i.render(t) for i in simple]
    breaches = [i for i in items if i.kind == "breach"]
    if breaches:
        if lines:
            lines.append("")
        lines.append(
            "⚠️ <b>" + esc(t("Proposed levels that break a quota or a cap in your area:")) + "</b>"
        )
        by_unit: dict[int, list[Item]] = {}
        for item in breaches:
            by_unit.setdefault(item.unit.id, []).append(item)
        for unit_items in by_unit.values():
            lines.append("")
            lines.append(f"<b>{esc(unit_items[0].unit.name)}</b>")
            lines += [f"• {i.render(t)}" for i in unit_items]
        lines += ["", esc(t("The unit must re-rate or lower these proposals (R-Q6)."))]
    return "\n".join(lines)


async def run_monitor(services: Services, bot, *, now: dt.datetime | None = None) -> int:
    """One run: decide from the database, send what is due and not yet sent. Returns the
    number of messages Telegram accepted. Does nothing in quiet hours."""
    now = now or services.now()
    if quiet(now.astimezone(services.settings.tz)):
        log.info("deadline monitor: quiet hours, nothing sent")
        return 0
    # One run at a time per process (start-up, hourly and 07:00 jobs may meet); the ledger's
    # UNIQUE key keeps two processes from sending the same notice anyway.
    lock = getattr(services, "_monitor_lock", None)
    if lock is None:
        lock = services._monitor_lock = asyncio.Lock()
    async with lock:
        return await _run(services, bot, now)


async def _run(services: Services, bot, now: dt.datetime) -> int:
    db = services.db
    async with db.session() as session:
        plan = await decide(session, services, now)
        accounts = await notify.accounts_by_member(session, list(plan.items))
    sent = 0
    blocked: list[tuple[int, Item]] = []  # (member id, an item of theirs)
    for member_id, items in plan.items.items():
        account = accounts.get(member_id)
        if not notify.reachable(account):
            continue
        t = translator(account, services)
        by_key = {Key(i.kind, member_target(member_id), i.cycle_id, i.stage): i for i in items}
        keys = list(by_key)
        # Simple notices one message each; breaches grouped into one message per person.
        groups = [[k] for k in keys if k.kind != "breach"]
        grouped = [k for k in keys if k.kind == "breach"]
        if grouped:
            groups.append(grouped)
        for group in groups:
            outcome, claimed = await notify.send_once(
                db,
                bot,
                group,
                account.telegram_id,
                lambda claimed_keys, t=t, by_key=by_key: _render_group(
                    t, [by_key[k] for k in claimed_keys]
                ),
                now,
            )
            if outcome == Outcome.SENT:
                sent += 1
            elif outcome == Outcome.BLOCKED:
                blocked.append((member_id, by_key[claimed[0]]))
                break
    sent += await _tell_blocked(services, bot, blocked, now)
    log.info("deadline monitor: %d messages sent", sent)
    return sent


async def _tell_blocked(
    services: Services, bot, blocked: list[tuple[int, Item]], now: dt.datetime
) -> int:
    """403: the secretary of the member's cell hears of it once per member and cycle."""
    sent = 0
    for member_id, item in blocked:
        async with services.db.session() as session:
            member = await session.get(Member, member_id)
            secretaries = await notify.secretaries_of(session, member.org_id)
            accounts = await notify.accounts_by_member(session, [s.id for s in secretaries])
        for secretary in secretaries:
            account = accounts.get(secretary.id)
            if secretary.id == member_id or not notify.reachable(account):
                continue
            t = translator(account, services)
            key = Key("blocked", member_target(secretary.id), item.cycle_id, f"member:{member_id}")
            outcome, _ = await notify.send_once(
                services.db,
                bot,
                [key],
                account.telegram_id,
                lambda _keys, t=t, name=member.full_name: (
                    "🚫 "
                    + t(
                        "{name} has blocked the bot, so reminders cannot reach them. Please tell "
                        "them in person, or ask them to open the bot again.",
                        name=f"<b>{esc(name)}</b>",
                    )
                ),
                now,
            )
            if outcome == Outcome.SENT:
                sent += 1
    return sent


# --- scheduling --------------------------------------------------------------------------------


async def monitor_job(context) -> None:
    services = context.application.bot_data["services"]
    try:
        await run_monitor(services, context.bot)
    except Exception:
        log.exception("deadline monitor run failed")


def schedule_monitor(application, tz: dt.tzinfo) -> None:
    """At start-up, then every hour, plus 07:00 sharp for what waited out the quiet hours.

    Jobs added in post_init wait for the scheduler to start; APScheduler then moves an
    interval job whose first run is already past (``first=0``) to the next interval, an hour
    later. So the start-up run is a one-off job with no misfire limit, and the hourly job
    starts an hour after it.
    """
    queue = application.job_queue
    if queue is None:
        log.warning("no JobQueue: the deadline monitor does not run")
        return
    for name in (STARTUP_JOB_NAME, JOB_NAME, MORNING_JOB_NAME):
        for job in queue.get_jobs_by_name(name):
            job.schedule_removal()
    queue.run_once(
        monitor_job, when=0, name=STARTUP_JOB_NAME, job_kwargs={"misfire_grace_time": None}
    )
    queue.run_repeating(
        monitor_job,
        interval=INTERVAL_SECONDS,
        first=INTERVAL_SECONDS,
        name=JOB_NAME,
        job_kwargs={"misfire_grace_time": None, "coalesce": True},
    )
    queue.run_daily(
        monitor_job,
        time=dt.time(QUIET_UNTIL.hour, QUIET_UNTIL.minute, 30, tzinfo=tz),
        name=MORNING_JOB_NAME,
        job_kwargs={"misfire_grace_time": 3600, "coalesce": True},
    )
