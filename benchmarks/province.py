"""Province-scale figures of issue 13: prints them, asserts nothing.

    .venv/bin/python -m benchmarks.province [--db sqlite|postgresql] [--url URL]
        [--members 15000,37500,150000] [--parts monitor,status,report]

For each size, builds a province with ``benchmarks/status.py``'s builder (1 province -> 100
upper units -> grassroots committees of 10 cells; this year's plan, self-reviews, meetings,
ballot rounds and ratings), adds a secretary per cell, a committee member per grassroots
committee and upper unit and a started Telegram account for every member, then prints:

- **monitor**: one run of the deadline monitor (``bot.jobs.run_monitor``, in-process, with an
  instant fake bot) on two days: four days before the benchmark's date (self-review
  reminders due) and on it (secretaries' warnings, breaches); for each, the first run (it
  sends) and a second run an hour later (the ledger says everything was sent: the hourly
  case). Wall time, CPU time, the time until the first message leaves, messages sent.
- **status**: ``/tinh_trang`` figures of the province (``subtree_status`` with breaches), p50
  and p95 of repeated calls, and of 50 cells.
- **report**: ``/bao_cao`` of the province as the bot builds it (``report.report_off_loop``: in
  a worker process with its own engine): time, CPU and RSS peak of the worker, the files.
- **report-bot** (not in the default parts): through the real bot on the fake Bot API, a
  committee member of the province asks for ``/bao_cao`` ``--reports`` times while another user
  sends ``/help`` every 0.2 s: the /help latency (p50, p95, worst) while the reports are built,
  and each report's time until its file arrives.
- **monitor-bot** (not in the default parts): the monitor through the real bot, its rate
  limiter and the fake Bot API (which refuses more than Telegram's 30 messages a second) for
  ``--bot-seconds``: the messages sent a second, and another user's /help latency meanwhile.

SQLite runs in a temporary file. PostgreSQL needs ``--url``: a database of its own, whose
``public`` schema is dropped and recreated for each size.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import literal
from sqlalchemy import select
from sqlalchemy import update

from benchmarks.status import NOW
from benchmarks.status import TODAY
from benchmarks.status import build
from bot.config import Settings
from bot.jobs import run_monitor
from bot.services import Services
from bot.services.report import Report
from bot.services.report import ReportRequest
from bot.services.report import build_report
from bot.services.report import off_loop
from bot.services.report import shutdown_heavy_pool
from bot.services.status import subtree_status
from storage.db import Database
from storage.models import BallotRound
from storage.models import InboxUpdate
from storage.models import Member
from storage.models import Organisation
from storage.models import Role
from storage.models import SentNotice
from storage.models import TelegramAccount
from storage.models import UTCDateTime

ACCOUNT_BASE = 10_000_000


class InstantBot:
    """Accepts every message at once, like a Telegram that never waits."""

    def __init__(self) -> None:
        self.sent = 0
        self.first_at: float | None = None

    async def send_message(self, chat_id: int, text: str, **_kwargs):
        self.sent += 1
        if self.first_at is None:
            self.first_at = time.perf_counter()
        return SimpleNamespace(message_id=self.sent, chat=SimpleNamespace(id=chat_id))


async def add_people(db: Database) -> None:
    """A secretary per cell (its first member), a committee member per grassroots committee
    and upper unit (the first member below it), an account for every member (written by the
    database itself: a whole party's 5.3 million would not fit in memory as rows)."""
    async with db.session() as session:
        path_of = dict((await session.execute(select(Organisation.id, Organisation.path))).all())
        first_of = dict(
            (
                await session.execute(
                    select(Member.org_id, func.min(Member.id)).group_by(Member.org_id)
                )
            ).all()
        )
        roles = []
        first_below: dict[int, int] = {}
        for org_id, member_id in sorted(first_of.items(), key=lambda item: item[1]):
            roles.append({"member_id": member_id, "org_id": org_id, "role": "secretary"})
            for ancestor in path_of[org_id].strip("/").split("/")[:-1]:
                first_below.setdefault(int(ancestor), member_id)
        for org_id, member_id in first_below.items():
            roles.append({"member_id": member_id, "org_id": org_id, "role": "committee_member"})
        for start in range(0, len(roles), 5000):
            await session.execute(insert(Role), roles[start : start + 5000])
        now = NOW - dt.timedelta(days=30)
        columns = ("telegram_id", "member_id", "language_code", "started_at", "linked_at",
                   "failed_invites")
        await session.execute(
            insert(TelegramAccount).from_select(
                columns,
                select(
                    Member.id + ACCOUNT_BASE,
                    Member.id,
                    literal("vi"),
                    literal(now, UTCDateTime()),
                    literal(now, UTCDateTime()),
                    literal(0),
                ),
            )
        )


MONITOR_DAYS = {
    "reminders": ("reminders due (4 days before)", NOW - dt.timedelta(days=4)),
    "warnings": ("warnings and breaches", NOW),
}


async def time_monitor(
    db: Database, url: str, days: tuple[str, ...] = ("reminders", "warnings")
) -> None:
    services = Services(settings=Settings(bot_token="bench", database_url=url), db=db)
    for label, day in (MONITOR_DAYS[name] for name in days):
        for run in ("first run", "an hour later"):
            when = day + (dt.timedelta(hours=1) if run != "first run" else dt.timedelta())
            bot = InstantBot()
            services.clock = lambda when=when: when
            start, cpu = time.perf_counter(), time.process_time()
            sent = await run_monitor(services, bot, now=when)
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu
            first = f"{bot.first_at - start:7.2f} s" if bot.first_at else "      —"
            print(
                f"  monitor, {label:<30} {run:<14} {wall:7.2f} s wall, {cpu:7.2f} s CPU, "
                f"first message after {first}, {sent:,} messages (load "
                f"{os.getloadavg()[0]:.1f})"
            )


async def time_monitor_in_bot(db: Database, url: str, seconds: float) -> None:
    """The monitor's first run through the real bot (python-telegram-bot, its AIORateLimiter)
    on the fake Bot API, which answers 429 beyond Telegram's 30 messages a second, for
    `seconds`: messages sent a second, and another user's /help latency meanwhile."""
    from tests.e2e.harness import BotRunner
    from tests.e2e.harness import Clock
    from tests.fakebot.server import FakeTelegram

    async with FakeTelegram() as fake:
        async with db.session() as session:  # every account a started user of the fake
            members = (await session.scalars(select(TelegramAccount.member_id))).all()
            users = {m: fake.user(f"U{m}", language_code="vi") for m in members}
            for user in users.values():
                user.started = True
            await session.execute(
                update(TelegramAccount).where(TelegramAccount.member_id == bindparam("m"))
                .values(telegram_id=bindparam("tid")),
                [{"m": m, "tid": u.id} for m, u in users.items()],
            )
        cheap = users[members[-1]]
        when = NOW - dt.timedelta(days=4)  # the reminders are due
        # The bot (tests/e2e/harness.py) starts at 23:00 in Vietnam, so that the monitor's own
        # start-up run keeps quiet; the run timed is started by hand.
        await _ready_for_a_bot(db)
        runner = BotRunner(fake, url, Clock(when.replace(hour=16)))
        await runner.start()
        try:
            async with db.session() as session:
                await session.execute(delete(SentNotice))
            app = runner.application
            start = time.perf_counter()
            run = asyncio.create_task(run_monitor(app.bot_data["services"], app.bot, now=when))
            latencies = []
            while time.perf_counter() - start < seconds and not run.done():
                asked = time.perf_counter()
                await cheap.send("/help")
                await cheap.wait_message(timeout=60)
                latencies.append((time.perf_counter() - asked) * 1000)
                await asyncio.sleep(0.2)
            took = time.perf_counter() - start
            run.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await run
            sent = len([c for c in fake.calls_to("sendMessage") if c.ok]) - len(latencies)
            refused = len(fake.refused) + len(fake.throttled)
        finally:
            await runner.stop()
    latencies.sort()
    p95 = latencies[max(int(len(latencies) * 0.95 + 0.5) - 1, 0)] if latencies else 0
    print(
        f"  monitor through the bot: {sent:,} messages in {took:.0f} s ({sent / took:.1f} a "
        f"second, {refused} refused or throttled); another user's /help meanwhile p50 "
        f"{statistics.median(latencies) if latencies else 0:.0f} ms, p95 {p95:.0f} ms, worst "
        f"{max(latencies, default=0):.0f} ms (n={len(latencies)}, load "
        f"{os.getloadavg()[0]:.1f})"
    )


async def _started_users(db: Database, fake, member_ids: list[int]) -> list:
    """Fake Telegram users, started, whose accounts are these members'."""
    users = []
    async with db.session() as session:
        for member_id in member_ids:
            user = fake.user(f"U{member_id}", language_code="vi")
            user.started = True
            await session.execute(
                update(TelegramAccount).where(TelegramAccount.member_id == member_id)
                .values(telegram_id=user.id)
            )
            users.append(user)
    return users


async def _ready_for_a_bot(db: Database) -> None:
    """Before a bot starts on the benchmark's database: the updates an earlier bot stored are
    forgotten (a new fake Bot API numbers its updates from 1 again, and the bot ignores an
    update id it has stored); and the builder's open rounds, which have no voters, are ended,
    or the bot's start-up would take them as rounds whose voters have all cast and announce
    3,000 of them (to chats the fake does not know), as a first start would."""
    async with db.session() as session:
        await session.execute(delete(InboxUpdate))
        await session.execute(
            update(BallotRound).where(BallotRound.state == "open", BallotRound.ended_at.is_(None))
            .values(ended_at=NOW)
        )


async def time_report_in_bot(db: Database, url: str, province_id: int, reports: int) -> None:
    """Another user's /help while a province /bao_cao is built, through the real bot."""
    from tests.e2e.harness import BotRunner
    from tests.e2e.harness import Clock
    from tests.fakebot.server import FakeTelegram

    async with db.session() as session:
        chief = await session.scalar(select(Role.member_id).where(
            Role.org_id == province_id, Role.role == "committee_member"))
        plain = await session.scalar(select(Member.id).order_by(Member.id.desc()).limit(1))
    await _ready_for_a_bot(db)
    async with FakeTelegram(global_per_second=1_000_000) as fake:
        heavy, cheap = await _started_users(db, fake, [chief, plain])
        runner = BotRunner(fake, url, Clock(NOW.replace(hour=16)))  # 23:00: the monitor is quiet
        await runner.start()
        quiet, latencies, took, worst = [], [], [], []
        try:
            start = time.perf_counter()
            while time.perf_counter() - start < 10:  # the same, with no report being built
                quiet.append(await _help_ms(cheap))
                await asyncio.sleep(0.2)
            for _ in range(reports):
                start = time.perf_counter()
                await heavy.send("/bao_cao")
                waiting = asyncio.create_task(_documents(heavy))
                while not waiting.done():
                    asked = time.perf_counter() - start
                    latencies.append(await _help_ms(cheap))
                    worst.append((latencies[-1], asked))
                    await asyncio.sleep(0.2)
                await waiting
                took.append(time.perf_counter() - start)
        finally:
            await runner.stop()
    slowest = ", ".join(f"{ms:.0f} ms at {at:.1f} s" for ms, at in sorted(worst)[-3:])
    print(
        f"  another user's /help, through the bot, with no report built: {_percentiles(quiet)}; "
        f"while a province /bao_cao is built: {_percentiles(latencies)} (slowest: {slowest}); "
        f"the reports took {', '.join(f'{t:.1f}' for t in took)} s (load "
        f"{os.getloadavg()[0]:.1f})"
    )


async def _help_ms(user) -> float:
    asked = time.perf_counter()
    await user.send("/help")
    await user.wait_message(timeout=120)
    return (time.perf_counter() - asked) * 1000


def _percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[max(int(len(ordered) * 0.95 + 0.5) - 1, 0)]
    return (f"p50 {statistics.median(ordered):.0f} ms, p95 {p95:.0f} ms, worst "
            f"{ordered[-1]:.0f} ms (n={len(ordered)})")


async def _documents(user) -> None:
    """Until a document arrives (after the progress note)."""
    while True:
        message = await user.wait_message(timeout=600)
        if message.document is not None:
            return


async def time_status(db: Database, province_id: int, cell_ids: list[int], repeat: int) -> None:
    for label, ids in (("province", [province_id] * repeat), ("one cell", cell_ids)):
        timings, cpu = [], []
        for org_id in ids:
            async with db.session() as session:
                org = await session.get(Organisation, org_id)
                start, start_cpu = time.perf_counter(), time.process_time()
                await subtree_status(session, org, now=NOW, today=TODAY)
                timings.append((time.perf_counter() - start) * 1000)
                cpu.append((time.process_time() - start_cpu) * 1000)
        timings.sort()
        p95 = timings[max(int(len(timings) * 0.95 + 0.5) - 1, 0)]
        print(
            f"  /tinh_trang {label:<10} n={len(timings):>3}  p50 "
            f"{statistics.median(timings):8.1f} ms  p95 {p95:8.1f} ms  "
            f"(CPU of this process, p50 {statistics.median(cpu):7.1f} ms)"
        )


def measured_report(request: ReportRequest) -> tuple[Report, float, float, list[int]]:
    """In the report's worker process: ``build_report``, its CPU time, the worker's RSS peak
    (MiB) and the files' sizes."""
    cpu = time.process_time()
    built = build_report(request)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return built, time.process_time() - cpu, rss, [os.path.getsize(f.path) for f in built.files]


async def time_report(url: str, province_id: int, repeat: int = 3) -> None:
    """/bao_cao of the province the way the bot builds it: in a worker process."""
    request = ReportRequest(url, province_id, "vi", ZoneInfo("Asia/Ho_Chi_Minh"), NOW, TODAY)
    for _ in range(repeat):
        start = time.perf_counter()
        built, cpu, rss, sizes = await off_loop(measured_report, request)
        took = time.perf_counter() - start
        built.remove()
        print(
            f"  /bao_cao province: {took:.2f} s, {cpu:.2f} s CPU in its worker, RSS peak of "
            f"the worker {rss:.0f} MiB, {len(sizes)} file(s) of "
            f"{', '.join(f'{size / 1e6:.1f}' for size in sizes)} MB "
            f"(load {os.getloadavg()[0]:.1f})"
        )
    shutdown_heavy_pool()


async def one_size(
    url: str, members: int, parts: set[str], repeat: int, bot_seconds: float = 30,
    reports: int = 3,
) -> None:
    db = Database(url)
    if not url.startswith("sqlite"):
        async with db.engine.begin() as connection:  # a clean database for each size
            await connection.exec_driver_sql("DROP SCHEMA public CASCADE")
            await connection.exec_driver_sql("CREATE SCHEMA public")
    await db.migrate()
    start = time.perf_counter()
    ids = await build(db, members, 10)
    await add_people(db)
    print(f"  (built in {time.perf_counter() - start:.0f} s)")
    try:
        if "monitor" in parts:
            await time_monitor(db, url)
        if "status" in parts:
            await time_status(db, ids[0][0], ids[3][:50], repeat)
        if "report" in parts:
            await time_report(url, ids[0][0])
        if "report-bot" in parts:
            await time_report_in_bot(db, url, ids[0][0], reports)
        if "monitor-bot" in parts:
            await time_monitor_in_bot(db, url, bot_seconds)
    finally:
        await db.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--url", help="postgresql+asyncpg://… (an empty database)")
    parser.add_argument("--members", default="15000,37500,150000")
    parser.add_argument("--parts", default="monitor,status,report")
    parser.add_argument("--repeat", type=int, default=20, help="province /tinh_trang calls")
    parser.add_argument("--bot-seconds", type=float, default=30,
                        help="how long monitor-bot lets the monitor send")
    parser.add_argument("--reports", type=int, default=3, help="report-bot's /bao_cao")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    if args.db == "postgresql" and not args.url:
        parser.error("--db postgresql needs --url postgresql+asyncpg://…")
    for members in (int(n) for n in args.members.split(",")):
        print(f"{args.db}, {members:,} members:")
        if args.db == "sqlite":
            with tempfile.TemporaryDirectory() as folder:
                await one_size(
                    f"sqlite+aiosqlite:///{Path(folder) / 'province.db'}",
                    members,
                    parts,
                    args.repeat,
                    args.bot_seconds,
                    args.reports,
                )
        else:
            await one_size(args.url, members, parts, args.repeat, args.bot_seconds, args.reports)


if __name__ == "__main__":
    asyncio.run(main())
