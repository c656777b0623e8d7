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
- **report**: ``/bao_cao`` of the province (``status_workbook``): time and the process's RSS
  peak (ru_maxrss, which only grows: the report runs after the other parts, so the figure
  is an upper bound).

SQLite runs in a temporary file. PostgreSQL needs ``--url``: a database of its own, whose
``public`` schema is dropped and recreated for each size.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import resource
import statistics
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import func, insert, literal, select

from benchmarks.status import NOW, TODAY, build
from bot.config import Settings
from bot.i18n import Translator
from bot.jobs import run_monitor
from bot.services import Services
from bot.services.report import status_workbook
from bot.services.status import subtree_status
from storage.db import Database
from storage.models import Member, Organisation, Role, TelegramAccount, UTCDateTime

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


async def time_monitor(db: Database, url: str) -> None:
    services = Services(settings=Settings(bot_token="bench", database_url=url), db=db)
    for label, day in (
        ("reminders due (4 days before)", NOW - dt.timedelta(days=4)),
        ("warnings and breaches", NOW),
    ):
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
                f"first message after {first}, {sent:,} messages"
            )


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


async def time_report(db: Database, province_id: int) -> None:
    t = Translator("vi")
    async with db.session() as session:
        org = await session.get(Organisation, province_id)
        status = await subtree_status(session, org, now=NOW, today=TODAY)
        start, start_cpu = time.perf_counter(), time.process_time()
        content = await status_workbook(session, status, t, TODAY)
        took, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"  /bao_cao province: {took:.2f} s, {cpu:.2f} s CPU ({len(content) / 1e6:.1f} MB), "
        f"RSS peak of the process so far {peak:.0f} MiB"
    )


async def one_size(url: str, members: int, parts: set[str], repeat: int) -> None:
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
            await time_report(db, ids[0][0])
    finally:
        await db.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--url", help="postgresql+asyncpg://… (an empty database)")
    parser.add_argument("--members", default="15000,37500,150000")
    parser.add_argument("--parts", default="monitor,status,report")
    parser.add_argument("--repeat", type=int, default=20, help="province /tinh_trang calls")
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
                )
        else:
            await one_size(args.url, members, parts, args.repeat)


if __name__ == "__main__":
    asyncio.run(main())
