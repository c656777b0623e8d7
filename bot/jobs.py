"""The deadline monitor (R-D*, R-Q*, R-C*): reminders and warnings, each sent once.

``run_monitor(services, bot, now=...)`` decides everything from the database: the cycles,
their units' effective deadlines (bot/services/plans.py), meetings, self-reviews, ballot
rounds, ratings and the ledger of what was already sent (``sent_notices``, see
bot/services/notify.py for the claim → send → mark protocol and why a notice is sent at
most once). Nothing it decides comes from memory, so a restart changes nothing; at start-up
the notices a stop left claimed are reconciled first (``notify.reconcile``: sent if Telegram
had accepted them, else never sent again).

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
import functools
import gc
import hashlib
import logging
from collections import Counter
from collections import defaultdict
from collections.abc import AsyncIterator
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from contextlib import contextmanager
from contextlib import nullcontext
from dataclasses import dataclass
from dataclasses import field

from sqlalchemy import String
from sqlalchemy import and_
from sqlalchemy import cast
from sqlalchemy import func
from sqlalchemy import literal
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import true
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery import Outcome
from bot.i18n import N_
from bot.i18n import Translator
from bot.i18n import locale_for
from bot.services import Services
from bot.services import breaches
from bot.services import notify
from bot.services import unit_deadlines
from bot.services import unit_rating_deadline
from bot.services.cycles import cycle_rulebook
from bot.services.cycles import member_facts
from bot.services.notify import COMMITTEE_ROLES
from bot.services.notify import Key
from bot.services.notify import member_target
from bot.services.plans import FINISH_BY
from bot.services.plans import deadline_rows
from bot.services.status import FACT_COLUMNS
from bot.text import esc
from rules.breaches import Breach
from rules.deadlines import reminder_stage
from rules.deadlines import self_review_due
from rules.eligibility import review_status
from rules.people import name_sort_key
from rules.quotas import QuotaScope
from storage.models import BallotRound
from storage.models import Cycle
from storage.models import Meeting
from storage.models import Member
from storage.models import NoticeState
from storage.models import Organisation
from storage.models import OrgKind
from storage.models import Rating
from storage.models import RatingState
from storage.models import ReviewState
from storage.models import Role
from storage.models import RoleKind
from storage.models import SelfReview
from storage.models import SentNotice
from storage.queries import path_ids
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
    members = sorted(members, key=lambda m: name_sort_key(m.full_name))
    shown = [esc(m.full_name) for m in members[:MAX_NAMES]]
    if len(members) > MAX_NAMES:
        shown.append(f"… (+{len(members) - MAX_NAMES})")
    return ", ".join(shown)


# --- deciding ----------------------------------------------------------------------------------
#
# A run decides from set-based queries, never a query per cell or per member, and sends as it
# decides: the cells of each plan are decided ``CELLS_AT_ONCE`` at a time, each block in a short
# read transaction of its own, and what a block owes goes out before the next block is read,
# so the first reminders leave within a second of the run's start and no transaction stays
# open while Telegram is called. What a run reads:
#
# 1. once: the plans (all of them: which plan governs a cell is decided in Python from the
#    paths), the cells under each plan's organisation, its finish-by deadlines and meetings;
#    from the dates alone, what may be due for each cell;
# 2. per block of cells: the secretaries (and deputies) of the cells with something due; the
#    ledger rows of what is due (``sent_notices`` by cycle and stage), so that what was sent is
#    left out before anything else is read; the members owed a reminder and not yet reminded
#    (the ledger is consulted in the same query, so an hourly run after the reminders went out
#    reads no member); the members still owing a self-review, or a decided level, in the cells
#    whose secretaries were not yet told; the closed ballot rounds of the meetings past;
# 3. once per plan, at the end: the breaches, checked per peer group in SQL
#    (bot/services/breaches.py: the levels counted per organisation in one GROUP BY, only the
#    HTXS members of the groups over their quota and the members a cap can concern read), and
#    the committee members above the units with breaches, in one query.
#
# Its cost grows with what is due (and with one GROUP BY over the plan's ratings); long Python
# loops yield to the event loop every ``YIELD_EVERY`` items, and every query is an await, so
# other users are answered while a province is swept.

CHUNK = 500  # ids per IN list (SQLite allows 32,766 parameters; keep statements small)
CELLS_AT_ONCE = 1000  # cells decided (then their notices sent) at a time
YIELD_EVERY = 2000
Sessions = Callable[[], AbstractAsyncContextManager[AsyncSession]]


@dataclass(frozen=True)
class Unit:
    """An organisation as the monitor needs it (plain values, no ORM object per cell), read
    as ``UNIT_COLUMNS``."""

    id: int
    name: str
    path: str
    kind: str
    parent_id: int | None

    @property
    def org_kind(self) -> OrgKind:
        return OrgKind(self.kind)

    @functools.cached_property
    def ancestors(self) -> list[int]:
        return path_ids(self.path)


@dataclass
class CellPlan:
    """What may be due for one cell this run, from the dates, before the ledger is read."""

    cell: Unit
    finish_by: dt.date
    meeting_id: int | None = None
    meeting_day: dt.date | None = None
    due: dt.date | None = None
    stage: str | None = None  # the self-review reminder stage, if one applies today
    notices: list[tuple[str, str]] = field(default_factory=list)  # (kind, stage) to secretaries


@dataclass
class CyclePlan:
    cycle: Cycle
    cells: list[Unit]
    plans: list[CellPlan]


UNIT_COLUMNS = (
    Organisation.id,
    Organisation.name,
    Organisation.path,
    Organisation.kind,
    Organisation.parent_id,
)


def _chunks(values: list) -> list[list]:
    return [values[i : i + CHUNK] for i in range(0, len(values), CHUNK)]


async def _pause(index: int) -> None:
    if index % YIELD_EVERY == YIELD_EVERY - 1:
        await asyncio.sleep(0)


async def _active_cycles(session: AsyncSession, today: dt.date) -> list[Cycle]:
    since = today - dt.timedelta(days=ACTIVE_DAYS_AFTER_REPORT)
    return list(await session.scalars(select(Cycle).where(Cycle.report_by >= since)))


async def _governed_cells(
    session: AsyncSession, cycle: Cycle, cycles_by_org: dict[int, list[tuple[int, int, int]]]
) -> list[Unit]:
    """The cells under the cycle's organisation whose plan is this one: as
    ``cycle_for_org``, the newest cycle on the nearest ancestor that has one."""
    root = await session.get(Organisation, cycle.org_id)
    rows = await session.execute(
        select(*UNIT_COLUMNS)
        .where(
            subtree_range(root.path),
            Organisation.kind.in_([OrgKind.CELL, OrgKind.GRASSROOTS_CELL]),
        )
        .order_by(Organisation.path)
    )
    governed = []
    for index, row in enumerate(rows):
        cell = Unit(*row)
        candidates = [c for a in cell.ancestors for c in cycles_by_org.get(a, ())]
        if candidates and max(candidates)[2] == cycle.id:
            governed.append(cell)
        await _pause(index)
    return governed


def _finish_by(cycle: Cycle, cell: Unit, own: dict[int, dt.date]) -> dt.date:
    """The finish-by date that holds for the cell (``plans.effective_from_rows``): the
    cycle's, or the deepest earlier one set on an ancestor or the cell itself."""
    found = cycle.finish_by
    for org_id in cell.ancestors:
        if org_id in own:
            found = own[org_id]
    return found


async def _cycle_plans(session: AsyncSession, today: dt.date, tz: dt.tzinfo) -> list[CyclePlan]:
    """Each active plan, its cells, and what may be due for each cell from the dates alone."""
    active = await _active_cycles(session, today)
    if not active:
        return []
    cycles_by_org: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    for cycle_id, org_id, year, depth in await session.execute(
        select(Cycle.id, Cycle.org_id, Cycle.year, Organisation.depth).join(
            Organisation, Cycle.org_id == Organisation.id
        )
    ):
        cycles_by_org[org_id].append((year, depth, cycle_id))
    found = []
    for cycle in active:
        cells = await _governed_cells(session, cycle, cycles_by_org)
        if cells:
            found.append(CyclePlan(cycle, cells, await _dates(session, cycle, cells, today, tz)))
    return found


async def _dates(
    session: AsyncSession, cycle: Cycle, cells: list[Unit], today: dt.date, tz: dt.tzinfo
) -> list[CellPlan]:
    rb = cycle_rulebook(cycle)
    own_finish = {
        row.org_id: row.due for row in await deadline_rows(session, cycle) if row.key == FINISH_BY
    }
    meetings = {
        org_id: (meeting_id, scheduled_at)
        for meeting_id, org_id, scheduled_at in await session.execute(
            select(Meeting.id, Meeting.org_id, Meeting.scheduled_at).where(
                Meeting.cycle_id == cycle.id
            )
        )
    }
    plans = []
    for index, cell in enumerate(cells):
        p = CellPlan(cell, _finish_by(cycle, cell, own_finish))
        if cell.id not in meetings:
            if p.finish_by - dt.timedelta(days=NO_MEETING_DAYS) <= today <= p.finish_by:
                p.notices.append(("no_meeting", p.finish_by.isoformat()))
        else:
            p.meeting_id, scheduled_at = meetings[cell.id]
            p.meeting_day = scheduled_at.astimezone(tz).date()
            p.due = self_review_due(p.meeting_day, rb)
            p.stage = reminder_stage(p.due, today, REMINDER_DAYS)
            if today > p.due:
                p.notices.append(("reviews_missing", p.due.isoformat()))
            if today > p.meeting_day:
                p.notices.append(("no_ballot", p.meeting_day.isoformat()))
        if today > p.finish_by:
            p.notices.append(("not_decided", p.finish_by.isoformat()))
        plans.append(p)
        await _pause(index)
    return plans


async def decide_in_parts(
    sessions: Sessions, services: Services, now: dt.datetime
) -> AsyncIterator[Plan]:
    """What this run sends, a part at a time (a block of cells, then the breaches), each read
    in a session of its own (``sessions()``), what the ledger says was sent left out."""
    tz = services.settings.tz
    today = now.astimezone(tz).date()
    async with sessions() as session:
        cycles = await _cycle_plans(session, today, tz)
    for cycle_plan in cycles:
        for start in range(0, len(cycle_plan.plans), CELLS_AT_ONCE):
            part = Plan()
            async with sessions() as session:
                block = cycle_plan.plans[start : start + CELLS_AT_ONCE]
                await _cell_notices(session, part, cycle_plan.cycle, block, today)
                await _drop_sent(session, part)
            if part.items:
                yield part
    part = Plan()
    async with sessions() as session:
        for cycle_plan in cycles:
            found = await _collect_breaches(session, cycle_plan.cycle, cycle_plan.cells)
            await _upper_notices(session, part, cycle_plan.cycle, found)
        await _drop_sent(session, part)
    if part.items:
        yield part


async def decide(session: AsyncSession, services: Services, now: dt.datetime) -> Plan:
    """Everything this run would send, read in `session` (a run sends it part by part)."""
    plan = Plan()
    async for part in decide_in_parts(lambda: nullcontext(session), services, now):
        for member_id, items in part.items.items():
            plan.items[member_id].extend(items)
    return plan


async def _secretaries(session: AsyncSession, cell_ids: list[int]) -> dict[int, list[Member]]:
    """``notify.secretaries_of`` for many cells at once: the secretaries, else the deputies,
    by name."""
    found: dict[int, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for chunk in _chunks(cell_ids):
        rows = await session.execute(
            select(Role.org_id, Role.role, Member.id, Member.full_name)
            .join(Member, Member.id == Role.member_id)
            .where(
                Role.org_id.in_(chunk),
                Role.role.in_([RoleKind.SECRETARY.value, RoleKind.DEPUTY.value]),
            )
            .order_by(Member.full_name, Member.id)
        )
        for org_id, role, member_id, name in sorted(rows, key=lambda row: name_sort_key(row[3])):
            found[org_id][role].append(_Person(member_id, name))
    return {
        org_id: roles.get(RoleKind.SECRETARY.value) or roles.get(RoleKind.DEPUTY.value) or []
        for org_id, roles in found.items()
    }


@dataclass(frozen=True)
class _Person:
    id: int
    full_name: str


def _told(kind: str, cycle_id: int, stage: str, target):
    """SQL: the ledger holds this notice to `target` (a pending or sent row; a failed one is
    retried), looked up by its unique key."""
    return (
        select(SentNotice.id)
        .where(
            SentNotice.kind == kind,
            SentNotice.target == target,
            SentNotice.cycle_id == cycle_id,
            SentNotice.stage == stage,
            SentNotice.state != NoticeState.FAILED,
        )
        .exists()
    )


async def _ledger(
    session: AsyncSession, cycle_id: int, kinds: set[str], targets: set[str], stages: set[str]
) -> set[tuple[str, str, str]]:
    """(kind, target, stage) of these notices already sent (or claimed: a pending row is never
    sent again, see bot/services/notify.py); failed ones are retried. A block of cells has a
    few stages (its dates), shared with every other block: looked up by its recipients too
    (the ledger's unique key), or each block would read again every notice the run had sent
    of the same dates (a whole party's run read hundreds of millions of rows). The breaches'
    stages are their own (a digest each): looked up by the stages alone."""
    found: set[tuple[str, str, str]] = set()
    if not (kinds and targets and stages):
        return found
    live = (SentNotice.cycle_id == cycle_id, SentNotice.state != NoticeState.FAILED)
    if len(stages) <= CHUNK:
        wheres = [(SentNotice.kind.in_(sorted(kinds)), SentNotice.target.in_(chunk),
                   SentNotice.stage.in_(sorted(stages))) for chunk in _chunks(sorted(targets))]
    else:
        wheres = [(SentNotice.stage.in_(chunk),) for chunk in _chunks(sorted(stages))]
    for where in wheres:
        rows = await session.execute(
            select(SentNotice.kind, SentNotice.target, SentNotice.stage).where(*where, *live))
        found.update(tuple(row) for row in rows)
    return found


async def _drop_sent(session: AsyncSession, plan: Plan) -> None:
    """Leave out what the ledger says was sent: the claim would skip it anyway, one
    transaction per notice; this costs one query per cycle and stage chunk."""
    wanted: dict[int, tuple[set[str], set[str], set[str]]] = defaultdict(
        lambda: (set(), set(), set()))
    for member_id, items in plan.items.items():
        for item in items:
            kinds, targets, stages = wanted[item.cycle_id]
            kinds.add(item.kind)
            targets.add(member_target(member_id))
            stages.add(item.stage)
    done: set[tuple[int, str, str, str]] = set()
    for cycle_id, (kinds, targets, stages) in wanted.items():
        done.update(
            (cycle_id, *key) for key in await _ledger(session, cycle_id, kinds, targets, stages))
    if not done:
        return
    for index, member_id in enumerate(list(plan.items)):
        await _pause(index)
        target = member_target(member_id)
        kept = [
            i for i in plan.items[member_id] if (i.cycle_id, i.kind, target, i.stage) not in done
        ]
        if kept:
            plan.items[member_id] = kept
        else:
            del plan.items[member_id]


async def _member_rows(session: AsyncSession, cell_ids: list[int], *conditions, join=None) -> dict:
    """Per cell, plain member rows with the facts the eligibility rules read."""
    found: dict[int, list] = defaultdict(list)
    for chunk in _chunks(cell_ids):
        query = select(*FACT_COLUMNS)
        if join is not None:
            query = query.outerjoin(*join)
        for row in await session.execute(
            query.where(Member.org_id.in_(chunk), *conditions).order_by(
                Member.org_id, Member.full_name, Member.id
            )
        ):
            found[row.org_id].append(row)
    return found


async def _owing_review(
    session: AsyncSession, cycle: Cycle, cell_ids: list[int], reminder: str | None = None
) -> dict[int, list]:
    """Per cell, its members whose self-review is not submitted (not yet filtered by who is
    to be reviewed); with `reminder` (a stage), only those not yet reminded at that stage."""
    review = and_(SelfReview.cycle_id == cycle.id, SelfReview.member_id == Member.id)
    conditions = [or_(SelfReview.id.is_(None), SelfReview.state != ReviewState.SUBMITTED)]
    if reminder is not None:
        target = literal("member:") + cast(Member.id, String)
        conditions.append(~_told("review_due", cycle.id, reminder, target))
    return await _member_rows(session, cell_ids, *conditions, join=(SelfReview, review))


async def _undecided(session: AsyncSession, cycle: Cycle, cell_ids: list[int]) -> dict[int, list]:
    """Per cell, its members without a decided live level."""
    decided = (
        select(Rating.id)
        .where(
            Rating.cycle_id == cycle.id,
            Rating.member_id == Member.id,
            Rating.state == RatingState.DECIDED,
        )
        .exists()
    )
    return await _member_rows(session, cell_ids, ~decided)


async def _closed_meetings(session: AsyncSession, meeting_ids: list[int]) -> set[int]:
    found: set[int] = set()
    for chunk in _chunks(meeting_ids):
        found.update(
            await session.scalars(
                select(BallotRound.meeting_id)
                .where(BallotRound.meeting_id.in_(chunk), BallotRound.state == "closed")
                .distinct()
            )
        )
    return found


def _on_a_day(
    icon: str, msgid: str, cell: str, day: dt.date
) -> Callable[[Translator], str]:
    """A notice about a cell (its name in bold) and a date, in the reader's language."""
    return lambda t: f"{icon} " + t(msgid, cell=f"<b>{esc(cell)}</b>", date=t.date(day))


async def _cell_notices(
    session: AsyncSession, plan: Plan, cycle: Cycle, plans: list[CellPlan], today: dt.date
) -> None:
    """The reminders and the secretaries' warnings of a block of cells."""
    rb = cycle_rulebook(cycle)
    year, cid = cycle.year, cycle.id
    wanted = {p.cell.id: p.notices for p in plans if p.notices}
    secretaries = await _secretaries(session, list(wanted))
    sent = await _ledger(
        session, cid, {kind for kind_stages in wanted.values() for kind, _ in kind_stages},
        {member_target(s.id) for cell_id in wanted for s in secretaries.get(cell_id, ())},
        {stage for kind_stages in wanted.values() for _, stage in kind_stages})

    def pending(cell_id: int, kind: str, stage: str) -> bool:
        """Some secretary of the cell has not been told this yet."""
        return any(
            (kind, member_target(s.id), stage) not in sent for s in secretaries.get(cell_id, ())
        )

    reminded_cells: dict[str, list[int]] = defaultdict(list)  # reminder stage -> cells
    owing_cells, undecided_cells, ballot_meetings = [], [], []
    for p in plans:
        cell_id = p.cell.id
        if p.stage is not None:
            reminded_cells[f"{p.due.isoformat()}:{p.stage}"].append(cell_id)
        elif p.due is not None and today > p.due:
            if pending(cell_id, "reviews_missing", p.due.isoformat()):
                owing_cells.append(cell_id)
        if today > p.finish_by and pending(cell_id, "not_decided", p.finish_by.isoformat()):
            undecided_cells.append(cell_id)
        if (
            p.meeting_day is not None
            and today > p.meeting_day
            and pending(cell_id, "no_ballot", p.meeting_day.isoformat())
        ):
            ballot_meetings.append(p.meeting_id)
    owing = await _owing_review(session, cycle, owing_cells)
    for stage, cell_ids in reminded_cells.items():
        owing.update(await _owing_review(session, cycle, cell_ids, stage))
    undecided_rows = await _undecided(session, cycle, undecided_cells)
    closed = await _closed_meetings(session, ballot_meetings)
    ballot_checked = set(ballot_meetings)

    for index, p in enumerate(plans):
        await _pause(index)
        cell, finish_by, name = p.cell, p.finish_by, p.cell.name
        cell_secretaries = secretaries.get(cell.id, [])

        def to_secretaries(
            kind: str,
            stage: str,
            render: Callable[[Translator], str],
            cell_id: int = cell.id,
            people: list = cell_secretaries,
        ) -> None:
            for secretary in people:
                plan.add(secretary.id, Item(kind, cid, stage, render, cell_id))

        if p.meeting_day is None:
            if finish_by - dt.timedelta(days=NO_MEETING_DAYS) <= today <= finish_by:
                to_secretaries(
                    "no_meeting",
                    finish_by.isoformat(),
                    _on_a_day(
                        "📅",
                        N_(
                            "{cell} has no review meeting scheduled, and the plan's finish-by "
                            "date is {date}. Set it with /lich_hop."
                        ),
                        name,
                        finish_by,
                    ),
                )
        else:
            meeting_day, due = p.meeting_day, p.due
            missing = [
                m
                for m in owing.get(cell.id, ())
                if review_status(member_facts(m), rb, meeting_day).reviewed
            ]
            if p.stage is not None:
                left = (due - today).days
                for member in missing:
                    plan.add(
                        member.id,
                        Item(
                            "review_due",
                            cid,
                            f"{due.isoformat()}:{p.stage}",
                            lambda t, left=left, due=due: (
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
                                        "Your self-review for {year} is due on {date}, in {days} "
                                        "days. Send /kiem_diem to write and submit it.",
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
                    lambda t, name=name, due=due, missing=missing: (
                        "⏰ "
                        + t(
                            "The self-reviews of {cell} were due on {date}; {count} not "
                            "submitted: {names}.",
                            cell=f"<b>{esc(name)}</b>",
                            date=t.date(due),
                            count=len(missing),
                            names=_names(missing),
                        )
                    ),
                )
            if p.meeting_id in ballot_checked and p.meeting_id not in closed:
                to_secretaries(
                    "no_ballot",
                    meeting_day.isoformat(),
                    _on_a_day(
                        "🗳",
                        N_(
                            "The meeting of {cell} was on {date}, and no secret ballot has "
                            "been closed. Run it with /bo_phieu."
                        ),
                        name,
                        meeting_day,
                    ),
                )
        if today > finish_by and cell.id in undecided_rows:
            review_day = p.meeting_day or finish_by
            undecided = [
                m
                for m in undecided_rows[cell.id]
                if review_status(member_facts(m), rb, review_day).rated
            ]
            if undecided:
                to_secretaries(
                    "not_decided",
                    finish_by.isoformat(),
                    lambda t, name=name, finish_by=finish_by, undecided=undecided: (
                        "⚠️ "
                        + t(
                            "The plan's finish-by date {date} has passed, and the levels of "
                            "{count} members of {cell} are not decided: {names}.",
                            date=t.date(finish_by),
                            count=len(undecided),
                            cell=f"<b>{esc(name)}</b>",
                            names=_names(undecided),
                        )
                    ),
                )


# --- breaches, batched per peer group ------------------------------------------------------------


async def _collect_breaches(
    session: AsyncSession, cycle: Cycle, cells: list[Unit]
) -> dict[int, tuple[Unit, dict[str, Breach]]]:
    """Caps and the cell's own quota on the cell; the peer-group quota (R-Q5) on the
    grassroots committee it is counted in: ``checks.cell_breaches`` for every cell that has a
    rating, checked per peer group in SQL (``bot.services.breaches``)."""
    rb = cycle_rulebook(cycle)
    by_id = {cell.id: cell for cell in cells}
    rated_cells = set(
        await session.scalars(
            select(Member.org_id)
            .join(Rating, Rating.member_id == Member.id)
            .where(Rating.cycle_id == cycle.id)
            .distinct()
        )
    )
    rated_cells &= set(by_id)
    if not rated_cells:
        return {}
    counts = await breaches.level_counts(session, cycle)

    # The đảng bộ cơ sở above each cell.
    ancestor_ids = sorted({a for cell_id in rated_cells for a in by_id[cell_id].ancestors})
    grassroots: dict[int, Unit] = {}
    for chunk in _chunks(ancestor_ids):
        for row in await session.execute(
            select(*UNIT_COLUMNS).where(
                Organisation.id.in_(chunk), Organisation.kind == OrgKind.GRASSROOTS
            )
        ):
            grassroots[row.id] = Unit(*row)

    def root_of(cell: Unit) -> Unit:
        above = [grassroots[a] for a in cell.ancestors if a in grassroots]
        return above[-1] if above else cell

    # R-Q5: the cell alone (a warning, with its size for R-Q4) and its đảng bộ cơ sở.
    sizes = await _sizes(session, sorted(rated_cells)) if rb.small_cell_size_below else {}
    roots = {cell_id: root_of(by_id[cell_id]) for cell_id in rated_cells}
    groups = {
        (cell_id, QuotaScope.CELL): breaches.Group(
            cell_id,
            [cell_id],
            counts[cell_id].levels if cell_id in counts else Counter(),
            QuotaScope.CELL,
            sizes.get(cell_id, 0) if rb.small_cell_size_below else None,
        )
        for cell_id in sorted(rated_cells)
    }
    wanted_roots = {r.id for cell_id, r in roots.items() if r.id != cell_id}
    for index, (org_id, counted) in enumerate(counts.items()):
        await _pause(index)
        for ancestor in path_ids(counted.path):
            if ancestor in wanted_roots:
                group = groups.setdefault(
                    (ancestor, QuotaScope.PEER_GROUP),
                    breaches.Group(ancestor, [], Counter()),
                )
                group.org_ids.append(org_id)
                group.levels.update(counted.levels)
    quotas = await breaches.quota_breaches(session, cycle, list(groups.values()))

    # Caps: only the members a cap can concern are read, in one pass over the plan's ratings.
    caps: dict[int, list[Breach]] = defaultdict(list)
    for org_id, breach in await breaches.cap_breaches_where(session, cycle, true()):
        if org_id in rated_cells:
            caps[org_id].append(breach)

    # In the order checks.cell_breaches gives them, cell by cell.
    found: dict[int, tuple[Unit, dict[str, Breach]]] = {}
    for index, cell in enumerate(cells):
        await _pause(index)
        if cell.id not in rated_cells:
            continue
        root = roots[cell.id]
        found_here = caps.get(cell.id, []) + quotas.get((cell.id, QuotaScope.CELL), [])
        if root.id != cell.id:
            found_here += quotas.get((root.id, QuotaScope.PEER_GROUP), [])
        for breach in found_here:
            peer = breach.code.startswith("quota.") and "R-Q5" not in breach.rule_ids
            unit = cell
            if peer and cell.parent_id is not None and cell.org_kind is OrgKind.CELL:
                unit = root
            found.setdefault(unit.id, (unit, {}))[1].setdefault(_digest(breach), breach)
    return found


async def _sizes(session: AsyncSession, cell_ids: list[int]) -> dict[int, int]:
    sizes: dict[int, int] = {}
    for chunk in _chunks(cell_ids):
        sizes.update(
            dict(
                (
                    await session.execute(
                        select(Member.org_id, func.count())
                        .where(Member.org_id.in_(chunk))
                        .group_by(Member.org_id)
                    )
                ).all()
            )
        )
    return sizes


def _digest(breach: Breach) -> str:
    params = {k: v for k, v in breach.params.items() if k != "rules"}
    text = f"{breach.code}|{sorted(breach.member_ids)}|{sorted(params.items(), key=str)}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


async def _upper_notices(
    session: AsyncSession,
    plan: Plan,
    cycle: Cycle,
    found: dict[int, tuple[Unit, dict[str, Breach]]],
) -> None:
    """Every committee member on or above the unit (above a cell) hears of its breaches: the
    holders of all the units concerned are read in one query."""
    above_of = {
        unit.id: unit.ancestors if not unit.org_kind.is_cell else unit.ancestors[:-1]
        for unit, _ in found.values()
    }
    org_ids = sorted({a for ids in above_of.values() for a in ids})
    holders: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for chunk in _chunks(org_ids):
        for org_id, member_id, name in await session.execute(
            select(Role.org_id, Member.id, Member.full_name)
            .join(Member, Member.id == Role.member_id)
            .where(Role.org_id.in_(chunk), Role.role.in_([r.value for r in COMMITTEE_ROLES]))
        ):
            holders[org_id].append((name, member_id))
    for index, (unit, told) in enumerate(found.values()):
        await _pause(index)
        people = sorted(h for org_id in above_of[unit.id] for h in holders.get(org_id, ()))
        for member_id in dict.fromkeys(member_id for _, member_id in people):
            for digest, breach in told.items():
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


def translator(account, services: Services) -> Translator:
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
        lines += ["", esc(t("The unit must re-rate or lower these proposals."))]
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
        with _fewer_collections():
            return await _run(services, bot, now)


# A province's run holds hundreds of thousands of objects (its cells, members and notices)
# while it allocates as many again, and the cyclic collector's default young generation of 700
# objects made it scan them over and over: 2.5 of a run's 8.7 seconds of CPU. For the run, a
# young collection waits for this many allocations (the process's other work sees it too).
MONITOR_GC_YOUNG = 10_000


@contextmanager
def _fewer_collections():
    young, *older = gc.get_threshold()
    gc.set_threshold(max(young, MONITOR_GC_YOUNG), *older)
    try:
        yield
    finally:
        gc.set_threshold(young, *older)


async def _run(services: Services, bot, now: dt.datetime) -> int:
    async with notify.Ledger(services.db, now) as ledger:  # marks the last ones at the end
        sender = _Sender(services, bot, ledger)
        async for part in decide_in_parts(services.db.session, services, now):
            await sender.send(part)
    sent = sender.sent + await _tell_blocked(services, bot, sender.blocked, now)
    sent += await unit_deadlines.run(services, bot, now)  # R-D1, issue 14 part A
    sent += await unit_rating_deadline.run(services, bot, now)  # units undecided, issue 14
    log.info("deadline monitor: %d messages sent", sent)
    return sent


class _Sender:
    """Sends the parts of a run as they are decided: simple notices one message each,
    breaches grouped into one message per person; each message claimed, sent and marked
    through one ledger (``notify.send_all``: claimed a few messages at a time)."""

    def __init__(self, services: Services, bot, ledger: notify.Ledger) -> None:
        self.services, self.bot, self.ledger = services, bot, ledger
        self.translators: dict[str, Translator] = {}
        self.sent = 0
        self.blocked: list[tuple[int, Item]] = []  # (member id, an item of theirs)

    def translator(self, account) -> Translator:
        settings = self.services.settings
        locale = locale_for(account.language_code, account.chosen_locale, settings.default_locale)
        if locale not in self.translators:
            self.translators[locale] = Translator(locale, settings.tz)
        return self.translators[locale]

    async def send(self, part: Plan) -> None:
        async with self.services.db.session() as session:
            accounts = await notify.contacts_by_member(session, list(part.items))
        messages = []
        for member_id, items in part.items.items():
            account = accounts.get(member_id)
            if not notify.reachable(account):
                continue
            t = self.translator(account)
            by_key = {Key(i.kind, member_target(member_id), i.cycle_id, i.stage): i for i in items}
            keys = list(by_key)
            groups = [[k] for k in keys if k.kind != "breach"]
            grouped = [k for k in keys if k.kind == "breach"]
            if grouped:
                groups.append(grouped)
            messages += [
                notify.Outgoing(
                    group,
                    account.telegram_id,
                    lambda claimed_keys, t=t, by_key=by_key: _render_group(
                        t, [by_key[k] for k in claimed_keys]
                    ),
                    tag=(member_id, by_key),
                )
                for group in groups
            ]
        async for message, outcome, claimed in notify.send_all(self.ledger, self.bot, messages):
            if outcome == Outcome.SENT:
                self.sent += 1
            elif outcome == Outcome.BLOCKED:
                member_id, by_key = message.tag
                self.blocked.append((member_id, by_key[claimed[0]]))


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


async def startup_job(context) -> None:
    """At start-up: first the notices a stop left claimed (``notify.reconcile``), then a run."""
    services = context.application.bot_data["services"]
    try:
        await notify.reconcile(services.db, services.now())
    except Exception:
        log.exception("reconciling the notices left claimed failed")
    await monitor_job(context)


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
        startup_job, when=0, name=STARTUP_JOB_NAME, job_kwargs={"misfire_grace_time": None}
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
