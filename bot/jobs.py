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
import hashlib
import logging
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery import Outcome
from bot.i18n import Translator, locale_for
from bot.services import Services, notify, unit_deadlines
from bot.services.checks import RatedMember, cap_breaches
from bot.services.cycles import cycle_rulebook, member_facts
from bot.services.notify import COMMITTEE_ROLES, Key, member_target
from bot.services.plans import FINISH_BY, deadline_rows
from bot.services.status import FACT_COLUMNS, _may_be_capped, by_member
from bot.text import esc
from rules.breaches import Breach
from rules.deadlines import reminder_stage, self_review_due
from rules.eligibility import review_status
from rules.levels import Level
from rules.people import name_sort_key
from rules.quotas import QuotaScope, check_quota, htt_base, htxs_limit
from storage.models import (
    BallotRound,
    Cycle,
    Meeting,
    Member,
    NoticeState,
    Organisation,
    OrgKind,
    Rating,
    RatingState,
    ReviewState,
    Role,
    RoleKind,
    SelfReview,
    SentNotice,
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
# A run decides from a bounded number of set-based queries per active cycle, each an index
# lookup or a scan of one cycle's rows, never a query per cell or per member:
#
# 1. the cycles (all of them: which plan governs a cell is decided in Python from the paths),
#    the cells under the cycle's organisation, its finish-by deadlines and its meetings;
# 2. the secretaries (and deputies) of the cells that have something due, in one query;
# 3. the ledger rows of what is due (``sent_notices`` by cycle and stage): what was already
#    sent is left out before anything else is read, so an hourly run after the notices went
#    out reads almost nothing more;
# 4. the members still owing a self-review in the cells with a reminder or warning still to
#    send, and the members without a decided level in the cells past their finish-by;
# 5. the closed ballot rounds of the meetings past whose secretaries were not yet told;
# 6. the breaches: the levels counted per cell in one GROUP BY, so that only the groups
#    (cell, or đảng bộ cơ sở for R-Q5) whose HTXS count may exceed the quota are read member
#    by member, and the members a cap can concern (sick leave, discipline, head, scores) in
#    one query; the same rules (rules/quotas.py, rules/caps.py) decide;
# 7. the committee members above the units with breaches, in one query.
#
# Long Python loops yield to the event loop every ``YIELD_EVERY`` items, and every query is
# an await, so other users are answered while a province is swept.

CHUNK = 500  # ids per IN list (SQLite allows 32,766 parameters; keep statements small)
YIELD_EVERY = 2000


@dataclass(frozen=True)
class Unit:
    """An organisation as the monitor needs it (plain values, no ORM object per cell)."""

    id: int
    name: str
    path: str
    kind: str
    parent_id: int | None

    @property
    def org_kind(self) -> OrgKind:
        return OrgKind(self.kind)

    @property
    def ancestors(self) -> list[int]:
        return [int(p) for p in self.path.strip("/").split("/")]


@dataclass
class CellPlan:
    """What may be due for one cell this run, before the ledger is consulted."""

    cell: Unit
    finish_by: dt.date
    meeting_id: int | None = None
    meeting_day: dt.date | None = None
    due: dt.date | None = None
    stage: str | None = None  # the self-review reminder stage, if one applies today


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
        select(
            Organisation.id,
            Organisation.name,
            Organisation.path,
            Organisation.kind,
            Organisation.parent_id,
        )
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


async def decide(session: AsyncSession, services: Services, now: dt.datetime) -> Plan:
    tz = services.settings.tz
    today = now.astimezone(tz).date()
    plan = Plan()
    active = await _active_cycles(session, today)
    if not active:
        return plan
    cycles_by_org: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    for cycle_id, org_id, year, depth in await session.execute(
        select(Cycle.id, Cycle.org_id, Cycle.year, Organisation.depth).join(
            Organisation, Cycle.org_id == Organisation.id
        )
    ):
        cycles_by_org[org_id].append((year, depth, cycle_id))
    for cycle in active:
        cells = await _governed_cells(session, cycle, cycles_by_org)
        if not cells:
            continue
        await _cell_notices(session, plan, cycle, cells, today, tz)
        found = await _collect_breaches(session, cycle, cells)
        await _upper_notices(session, plan, cycle, found)
    await _drop_sent(session, plan)
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


async def _ledger(
    session: AsyncSession, cycle_id: int, stages: set[str]
) -> set[tuple[str, str, str]]:
    """(kind, target, stage) of the notices of these stages already sent (or claimed: a
    pending row is never sent again, see bot/services/notify.py); failed ones are retried."""
    found: set[tuple[str, str, str]] = set()
    for chunk in _chunks(sorted(stages)):
        rows = await session.execute(
            select(SentNotice.kind, SentNotice.target, SentNotice.stage).where(
                SentNotice.cycle_id == cycle_id,
                SentNotice.stage.in_(chunk),
                SentNotice.state != NoticeState.FAILED,
            )
        )
        found.update(tuple(row) for row in rows)
    return found


async def _drop_sent(session: AsyncSession, plan: Plan) -> None:
    """Leave out what the ledger says was sent: the claim would skip it anyway, one
    transaction per notice; this costs one query per cycle and stage chunk."""
    stages: dict[int, set[str]] = defaultdict(set)
    for items in plan.items.values():
        for item in items:
            stages[item.cycle_id].add(item.stage)
    done: set[tuple[int, str, str, str]] = set()
    for cycle_id, wanted in stages.items():
        done.update((cycle_id, *key) for key in await _ledger(session, cycle_id, wanted))
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


def _member_rows(*conditions):
    """Plain member rows with the facts the eligibility rules read."""
    return (
        select(*FACT_COLUMNS)
        .where(*conditions)
        .order_by(Member.org_id, Member.full_name, Member.id)
    )


async def _owing_review(
    session: AsyncSession, cycle: Cycle, cell_ids: list[int]
) -> dict[int, list]:
    """Per cell, its members whose self-review is not submitted (not yet filtered by who is
    to be reviewed)."""
    found: dict[int, list] = defaultdict(list)
    for chunk in _chunks(cell_ids):
        rows = await session.execute(
            _member_rows(Member.org_id.in_(chunk))
            .outerjoin(
                SelfReview,
                and_(SelfReview.cycle_id == cycle.id, SelfReview.member_id == Member.id),
            )
            .where(or_(SelfReview.id.is_(None), SelfReview.state != ReviewState.SUBMITTED))
        )
        for row in rows:
            found[row.org_id].append(row)
    return found


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
    found: dict[int, list] = defaultdict(list)
    for chunk in _chunks(cell_ids):
        for row in await session.execute(_member_rows(Member.org_id.in_(chunk), ~decided)):
            found[row.org_id].append(row)
    return found


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


async def _cell_notices(
    session: AsyncSession,
    plan: Plan,
    cycle: Cycle,
    cells: list[Unit],
    today: dt.date,
    tz: dt.tzinfo,
) -> None:
    rb = cycle_rulebook(cycle)
    year, cid = cycle.year, cycle.id
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

    # What may be due, cell by cell, from the dates alone.
    plans: list[CellPlan] = []
    wanted: dict[int, list[tuple[str, str]]] = {}  # cell id -> (kind, stage) for secretaries
    for index, cell in enumerate(cells):
        p = CellPlan(cell, _finish_by(cycle, cell, own_finish))
        notices = []
        if cell.id not in meetings:
            if p.finish_by - dt.timedelta(days=NO_MEETING_DAYS) <= today <= p.finish_by:
                notices.append(("no_meeting", p.finish_by.isoformat()))
        else:
            p.meeting_id, scheduled_at = meetings[cell.id]
            p.meeting_day = scheduled_at.astimezone(tz).date()
            p.due = self_review_due(p.meeting_day, rb)
            p.stage = reminder_stage(p.due, today, REMINDER_DAYS)
            if today > p.due:
                notices.append(("reviews_missing", p.due.isoformat()))
            if today > p.meeting_day:
                notices.append(("no_ballot", p.meeting_day.isoformat()))
        if today > p.finish_by:
            notices.append(("not_decided", p.finish_by.isoformat()))
        plans.append(p)
        if notices:
            wanted[cell.id] = notices
        await _pause(index)

    secretaries = await _secretaries(session, list(wanted))
    stages = {stage for notices in wanted.values() for _, stage in notices}
    stages |= {f"{p.due.isoformat()}:{p.stage}" for p in plans if p.stage is not None}
    sent = await _ledger(session, cid, stages)

    def pending(cell_id: int, kind: str, stage: str) -> bool:
        """Some secretary of the cell has not been told this yet."""
        return any(
            (kind, member_target(s.id), stage) not in sent for s in secretaries.get(cell_id, ())
        )

    owing_cells, undecided_cells, ballot_meetings = [], [], []
    for p in plans:
        cell_id = p.cell.id
        if p.stage is not None or (
            p.due is not None
            and today > p.due
            and pending(cell_id, "reviews_missing", p.due.isoformat())
        ):
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
                    lambda t, name=name, finish_by=finish_by: (
                        "📅 "
                        + t(
                            "{cell} has no review meeting scheduled, and the plan's finish-by "
                            "date is {date}. Set it with /lich_hop.",
                            cell=f"<b>{esc(name)}</b>",
                            date=t.date(finish_by),
                        )
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
                    lambda t, name=name, meeting_day=meeting_day: (
                        "🗳 "
                        + t(
                            "The meeting of {cell} was on {date}, and no secret ballot has "
                            "been closed. Run it with /bo_phieu.",
                            cell=f"<b>{esc(name)}</b>",
                            date=t.date(meeting_day),
                        )
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

LEVEL = func.coalesce(Rating.decided_level, Rating.proposed_level)


def _live_ratings(cycle: Cycle, session: AsyncSession | None = None):
    """Live ratings with a level in the cycle; with `session`, looked up by member (the
    rows are reached from the members, see ``status.by_member``)."""
    cycle_id = Rating.cycle_id if session is None else by_member(session, Rating.cycle_id)
    return (
        cycle_id == cycle.id,
        Rating.state != RatingState.CANCELLED,
        LEVEL.is_not(None),
    )


def _may_exceed(counts: Counter, rb, group_size: int | None, seen: dict | None = None) -> bool:
    """Whether a group's HTXS count exceeds its quota, from the counts per level alone (the
    exact check then runs on the group's members). ``seen`` caches the answer per counts."""
    key = (counts.get(Level.HTXS.value, 0), counts.get(Level.HTT.value, 0), group_size)
    if seen is not None and key in seen:
        return seen[key]
    proposals = {f"{code}{i}": Level(code) for code, n in counts.items() for i in range(n)}
    limit = htxs_limit(htt_base(proposals, rb), rb, group_size=group_size).limit
    found = counts.get(Level.HTXS.value, 0) > limit
    if seen is not None:
        seen[key] = found
    return found


async def _levels_by_org(
    session: AsyncSession, cycle: Cycle, org_ids: list[int]
) -> dict[int, list[tuple[str, str, Level]]]:
    """The live levels of the members of these organisations, (member id, name, level) per
    organisation, in the order ``checks.rated_members`` reads them (by name)."""
    found: dict[int, list[tuple[str, str, Level]]] = defaultdict(list)
    for chunk in _chunks(org_ids):
        for member_id, name, org_id, code in await session.execute(
            select(Member.id, Member.full_name, Member.org_id, LEVEL)
            .join(Rating, Rating.member_id == Member.id)
            .where(Member.org_id.in_(chunk), *_live_ratings(cycle, session))
            .order_by(Member.full_name, Member.id)
        ):
            found[org_id].append((str(member_id), name, Level(code)))
    return found


def _proposals(
    rows: list[tuple[str, str, Level]],
) -> tuple[dict[str, Level], dict[str, str]]:
    rows = sorted(rows, key=lambda row: (name_sort_key(row[1]), int(row[0])))
    return {mid: level for mid, _, level in rows}, {mid: name for mid, name, _ in rows}


async def _collect_breaches(
    session: AsyncSession, cycle: Cycle, cells: list[Unit]
) -> dict[int, tuple[Unit, dict[str, Breach]]]:
    """Caps and the cell's own quota on the cell; the peer-group quota (R-Q5) on the
    grassroots committee it is counted in: ``checks.cell_breaches`` for every cell that has a
    rating, batched."""
    rb = cycle_rulebook(cycle)
    by_id = {cell.id: cell for cell in cells}
    counts: dict[int, Counter] = defaultdict(Counter)  # org id -> level code -> live ratings
    for org_id, code, count in await session.execute(
        select(Member.org_id, LEVEL, func.count())
        .join(Member, Member.id == Rating.member_id)
        .where(*_live_ratings(cycle))
        .group_by(Member.org_id, LEVEL)
    ):
        counts[org_id][code] += count
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

    # Paths of every organisation with ratings, and the đảng bộ cơ sở above each cell.
    paths = {cell.id: cell.path for cell in cells}
    unknown = sorted(set(counts) - set(paths))
    for chunk in _chunks(unknown):
        paths.update(
            dict(
                (
                    await session.execute(
                        select(Organisation.id, Organisation.path).where(Organisation.id.in_(chunk))
                    )
                ).all()
            )
        )
    ancestor_ids = sorted({a for cell_id in rated_cells for a in by_id[cell_id].ancestors})
    grassroots: dict[int, Unit] = {}
    for chunk in _chunks(ancestor_ids):
        for row in await session.execute(
            select(
                Organisation.id,
                Organisation.name,
                Organisation.path,
                Organisation.kind,
                Organisation.parent_id,
            ).where(Organisation.id.in_(chunk), Organisation.kind == OrgKind.GRASSROOTS)
        ):
            grassroots[row.id] = Unit(*row)

    def root_of(cell: Unit) -> Unit:
        above = [grassroots[a] for a in cell.ancestors if a in grassroots]
        return above[-1] if above else cell

    sizes = await _sizes(session, sorted(rated_cells))

    # R-Q5: the cell alone (a warning) and its đảng bộ cơ sở, exact only where it may breach.
    cell_quota: dict[int, list[Breach]] = {}
    peer_quota: dict[int, list[Breach]] = {}
    root_counts: dict[int, Counter] = defaultdict(Counter)
    roots = {cell_id: root_of(by_id[cell_id]) for cell_id in rated_cells}
    wanted_roots = {r.id: r for cell_id, r in roots.items() if r.id != cell_id}
    for index, (org_id, per_level) in enumerate(counts.items()):
        await _pause(index)
        for ancestor in paths.get(org_id, "/").strip("/").split("/"):
            if ancestor and int(ancestor) in wanted_roots:
                root_counts[int(ancestor)].update(per_level)
    # Only the groups whose counts may exceed the quota are read member by member, in one
    # query for all of them.
    seen: dict = {}
    cell_groups = [
        cell_id
        for cell_id in sorted(rated_cells)
        if _may_exceed(counts.get(cell_id, Counter()), rb, sizes.get(cell_id, 0), seen)
    ]
    root_groups = [r for r in wanted_roots if _may_exceed(root_counts[r], rb, None, seen)]
    root_set = set(root_groups)
    members_of: dict[int, list[int]] = defaultdict(list)  # root id -> orgs with ratings
    for org_id in counts:
        for ancestor in paths.get(org_id, "/").strip("/").split("/"):
            if ancestor and int(ancestor) in root_set:
                members_of[int(ancestor)].append(org_id)
    levels = await _levels_by_org(
        session,
        cycle,
        sorted(set(cell_groups) | {o for r in root_groups for o in members_of[r]}),
    )
    for cell_id in cell_groups:
        proposals, names = _proposals(levels.get(cell_id, []))
        cell_quota[cell_id] = check_quota(
            proposals, rb, sizes.get(cell_id, 0), scope=QuotaScope.CELL, names=names
        )
    for root_id in root_groups:
        proposals, names = _proposals([row for o in members_of[root_id] for row in levels[o]])
        peer_quota[root_id] = check_quota(
            proposals, rb, None, scope=QuotaScope.PEER_GROUP, names=names
        )

    # Caps: only the members a cap can concern are read (status._may_be_capped).
    caps: dict[int, list[Breach]] = defaultdict(list)
    capped_rows = []
    for chunk in _chunks(sorted(rated_cells)):
        capped_rows += (
            await session.execute(
                select(
                    *FACT_COLUMNS,
                    LEVEL.label("level"),
                    SelfReview.general_score,
                    SelfReview.task_score,
                )
                .join(Rating, Rating.member_id == Member.id)
                .outerjoin(
                    SelfReview,
                    and_(SelfReview.member_id == Member.id, SelfReview.cycle_id == cycle.id),
                )
                .where(
                    Member.org_id.in_(chunk),
                    *_live_ratings(cycle, session),
                    or_(
                        Member.sick_leave_months > 0,
                        Member.discipline_form.is_not(None),
                        Member.head.is_(True),
                        and_(
                            SelfReview.general_score.is_not(None),
                            SelfReview.task_score.is_not(None),
                        ),
                    ),
                )
                .order_by(Member.full_name, Member.id)
            )
        ).all()
    capped_rows.sort(key=lambda row: name_sort_key(row.full_name))
    rated = [
        RatedMember(row, None, Level(row.level), row) for row in capped_rows if _may_be_capped(row)
    ]
    org_of = {str(r.member.id): r.member.org_id for r in rated}
    for breach in cap_breaches(rated, cycle):
        caps[org_of[breach.member_ids[0]]].append(breach)

    # In the order checks.cell_breaches gives them, cell by cell.
    found: dict[int, tuple[Unit, dict[str, Breach]]] = {}
    for index, cell in enumerate(cells):
        await _pause(index)
        if cell.id not in rated_cells:
            continue
        root = roots[cell.id]
        breaches = caps.get(cell.id, []) + cell_quota.get(cell.id, [])
        if root.id != cell.id:
            breaches += peer_quota.get(root.id, [])
        for breach in breaches:
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
    for index, (unit, breaches) in enumerate(found.values()):
        await _pause(index)
        people = sorted(h for org_id in above_of[unit.id] for h in holders.get(org_id, ()))
        for member_id in dict.fromkeys(member_id for _, member_id in people):
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
    sent += await unit_deadlines.run(services, bot, now)  # R-D1, issue 14 part A
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
