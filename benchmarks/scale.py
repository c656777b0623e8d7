"""Every figure of issue 13's table at province scale, on SQLite and PostgreSQL: prints them,
asserts nothing.

    .venv/bin/python -m benchmarks.scale [--db sqlite,postgresql] [--members 150000]
        [--per-cell 10] [--pg-url URL] [--skip monitor,bot] [--whole-party]

Builds a province with ``benchmarks/status.py``'s builder (1 province -> 100 upper units ->
grassroots committees of 10 cells; 150,000 members make 16,601 units) and
``benchmarks/province.py``'s people (a secretary per cell, committee members above, an account
for every member), once per database, then prints:

- ``/tinh_trang`` of the province in-process (``subtree_status`` as the handler calls it): the
  first read after the build (nothing kept yet: every unit counted), p50 / p95 of repeated reads,
  the read right after a write in one cell (a proposal through the ratings service), and one
  cell's p50 and CPU;
- ``/bao_cao`` of the province as the bot builds it, in its worker process
  (``benchmarks/province.py``'s ``time_report``): time, CPU and RSS peak of the worker, 3 times;
- the deadline monitor, one run in-process with an instant fake bot (``benchmarks/province.py``);
- through the real bot and the fake Bot API (``tests/fakebot``), with concurrent updates as
  configured: ``/tinh_trang`` of the province p50 / p95; another user's ``/help`` latency
  (p50, p95, worst) while one province ``/tinh_trang`` runs, and while one province
  ``/bao_cao`` runs; the CPU per ``/help`` of a linked member against a bare
  python-telegram-bot echo bot on the same fake (``benchmarks/intake.py``'s).

PostgreSQL: a server of its own is started like ``scripts/test.sh`` does (``--pg-url`` uses
yours instead; its ``public`` schema is dropped). ``--sqlite-file PATH`` keeps the SQLite database in a file of
yours, and ``--no-build`` measures the tree an earlier run built there (or at ``--pg-url``);
the figures of a reused tree follow what earlier runs wrote into it (copy the file after its
build to start each run from the same state). ``--whole-party`` builds 5.3 million members
in about 250,000 cells instead (PostgreSQL only; hours and several GiB to build).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy import update

from benchmarks.province import add_people
from benchmarks.province import time_monitor
from benchmarks.province import time_report
from benchmarks.status import NOW
from benchmarks.status import TODAY
from benchmarks.status import build
from bot.app import ALLOWED_UPDATES
from bot.app import build_application
from bot.config import Settings
from bot.services import Services
from bot.services import aggregates
from bot.services import ratings
from bot.services.status import subtree_status
from storage.db import Database
from storage.db import settled
from storage.models import Member
from storage.models import Organisation
from storage.models import Rating
from storage.models import RatingState
from storage.models import Role
from storage.models import TelegramAccount

ROOT = Path(__file__).resolve().parent.parent


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(int(len(ordered) * 0.95 + 0.5) - 1, 0)]


def _load() -> str:
    """The machine's load average (1 and 5 minutes): wall times are only read beside it."""
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f}"


def _line(label: str, values: list[float], unit: str = "ms", cpu: list[float] | None = None) -> None:
    cpu_text = f"  CPU p50 {statistics.median(cpu):6.1f} {unit}" if cpu else ""
    print(
        f"  {label:<58} p50 {statistics.median(values):8.1f} {unit}  p95 {_p95(values):8.1f} "
        f"{unit}  worst {max(values):8.1f} {unit}{cpu_text}  (n={len(values)}, {_load()})"
    )


async def _status_ms(db: Database, org_id: int) -> tuple[float, float]:
    """Wall and CPU time (ms) of one /tinh_trang as the handler asks it (6 breach lines)."""
    async with db.session() as session:
        org = await session.get(Organisation, org_id)
        start, cpu = time.perf_counter(), time.process_time()
        await subtree_status(session, org, now=NOW, today=TODAY, breach_limit=6)
        return (time.perf_counter() - start) * 1000, (time.process_time() - cpu) * 1000


async def in_process(db: Database, ids: dict[int, list[int]], repeat: int) -> None:
    province = ids[0][0]
    async with db.session() as session:
        await aggregates.forget(session)  # nothing kept: a built database, or a rebuild
    first, first_cpu = await _status_ms(db, province)
    start = time.perf_counter()
    await settled(db.engine)  # the rows it counted, kept in the background
    print(f"  /tinh_trang province, first read with nothing kept (every unit counted): "
          f"{first:,.0f} ms, {first_cpu:,.0f} ms CPU; its rows kept "
          f"in the background {(time.perf_counter() - start) * 1000:,.0f} ms later ({_load()})")
    kept = [await _status_ms(db, province) for _ in range(repeat)]
    _line("/tinh_trang province (kept figures)", [w for w, _ in kept], cpu=[c for _, c in kept])
    after = []
    for cell in ids[3][:: max(len(ids[3]) // 10, 1)][:10]:
        async with db.session() as session:
            members = (await session.scalars(select(Member.id).where(Member.org_id == cell))).all()
            live = (await session.scalars(select(Rating.member_id).where(
                Rating.member_id.in_(members), Rating.state == RatingState.DECIDED))).all()
            await ratings.record_proposals(
                session, 1, {m: "HT" for m in members if m not in set(live)}, actor="bench",
                now=NOW)
        after.append(await _status_ms(db, province))
    _line("/tinh_trang province, right after a write in one cell", [w for w, _ in after],
          cpu=[c for _, c in after])
    cells = [await _status_ms(db, cell) for cell in ids[3][:50]]
    _line("/tinh_trang one cell", [w for w, _ in cells], cpu=[c for _, c in cells])


async def _link(db: Database, member_id: int, telegram_id: int) -> None:
    async with db.session() as session:
        await session.execute(
            update(TelegramAccount)
            .where(TelegramAccount.member_id == member_id)
            .values(telegram_id=telegram_id)
        )


async def through_bot(
    db: Database, url: str, ids: dict[int, list[int]], repeat: int, latency: bool = True
) -> None:
    from tests.fakebot.server import FakeTelegram

    province = ids[0][0]
    async with db.session() as session:
        chief = await session.scalar(select(Role.member_id).where(
            Role.org_id == province, Role.role == "committee_member"))
        plain = await session.scalar(select(Member.id).where(
            Member.org_id == ids[3][-1]).order_by(Member.id.desc()).limit(1))
    async with FakeTelegram(global_per_second=1_000_000) as fake:
        settings = Settings(bot_token=fake.token, telegram_api_url=fake.url, database_url=url)
        heavy, cheap = fake.user("Tinh", language_code="vi"), fake.user("Binh", language_code="vi")
        heavy.started = cheap.started = True
        await _link(db, chief, heavy.id)
        await _link(db, plain, cheap.id)
        # 23:00 in Vietnam: the monitor keeps quiet (it is timed on its own above)
        services = Services(settings=settings, db=db, clock=lambda: NOW.replace(hour=16))
        import bot.app

        bot.app.schedule_monitor = lambda *_args, **_kwargs: None  # timed on its own above
        # The builder's open rounds have no voters: the start-up would end and announce all
        # 3,000 of them to secretaries the fake does not know (a start-up cost, not a figure).
        bot.app.ballot.recover = _nothing_to_recover
        app = build_application(settings, services=services)
        gc.collect()  # as `kiemdiem run` does before it starts (bot/cli.py)
        gc.freeze()
        await app.initialize()
        await app.post_init(app)
        await app.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=ALLOWED_UPDATES)
        await app.start()
        try:
            await cheap.send("/help")
            await cheap.wait_message(timeout=60)

            if latency:  # not with --skip latency: the CPU per /help alone
                timings, cpus = [], []
                for _ in range(repeat):
                    start, cpu = time.perf_counter(), time.process_time()
                    await heavy.send("/tinh_trang")
                    await heavy.wait_message(timeout=120)
                    timings.append((time.perf_counter() - start) * 1000)
                    cpus.append((time.process_time() - cpu) * 1000)
                _line("bot: /tinh_trang province", timings, cpu=cpus)

                for label, command, answers, runs in (
                    ("/tinh_trang", "/tinh_trang", 1, repeat),
                    ("/bao_cao", "/bao_cao", 2, 3),  # the progress note, then the file
                ):
                    latencies = []
                    for _ in range(runs):
                        await heavy.send(command)
                        waiting = asyncio.create_task(_answers(heavy, answers))
                        while True:
                            start = time.perf_counter()
                            await cheap.send("/help")
                            await cheap.wait_message(timeout=120)
                            latencies.append((time.perf_counter() - start) * 1000)
                            if waiting.done():
                                break
                        await waiting
                    _line(f"bot: another user's /help while a province {label} runs", latencies)

            answer = next(c.params["text"] for c in reversed(fake.calls)
                          if c.method == "sendMessage" and c.params.get("chat_id") == cheap.id)
            async with _echo_bot(answer) as echo:
                bot_cpu, echo_cpu = [], []
                for _ in range(HELP_ROUNDS):  # alternated: both see the same load
                    bot_cpu.append(await _cpu_per_help(cheap))
                    echo_cpu.append(await _cpu_per_help(echo))
        finally:
            await app.updater.stop()
            await app.stop()
            await app.shutdown()
    ratios = [b / e for b, e in zip(bot_cpu, echo_cpu, strict=True)]
    print(
        f"  CPU per /help of a linked member: {statistics.median(bot_cpu):.2f} ms vs "
        f"{statistics.median(echo_cpu):.2f} ms for a bare python-telegram-bot echo bot answering "
        f"the same text: x{statistics.median(ratios):.2f} (median of {len(ratios)} rounds, each "
        f"a batch of {HELP_BATCH} to each bot in turn; rounds x{min(ratios):.2f}-"
        f"x{max(ratios):.2f}; CPU time of this process, the fake Bot API included in both; "
        f"{_load()})"
    )


HELP_BATCH = 40  # /help updates per batch of the CPU figure
HELP_ROUNDS = 9  # batches to each bot, alternated


async def _cpu_per_help(user) -> float:
    """CPU time (ms) of this process per /help answered, over HELP_BATCH sent one after
    another (process_time: every thread of the process, whatever else the machine runs)."""
    cpu = time.process_time()
    for _ in range(HELP_BATCH):
        await user.send("/help")
        await user.wait_message(timeout=60)
    return (time.process_time() - cpu) * 1000 / HELP_BATCH


@contextlib.asynccontextmanager
async def _echo_bot(text: str):
    """A bare python-telegram-bot bot that answers /help with `text` (HTML), on a fake Bot
    API of its own, running beside the real bot: what the fake Bot API and
    python-telegram-bot cost, the same for both bots. Yields its user."""
    from telegram.constants import ParseMode
    from telegram.ext import ApplicationBuilder
    from telegram.ext import CommandHandler

    from tests.fakebot.server import FakeTelegram

    async def echo(update, _context) -> None:
        await update.effective_message.reply_text(text, parse_mode=ParseMode.HTML)

    async with FakeTelegram(global_per_second=1_000_000) as fake:
        user = fake.user("Binh", language_code="vi")
        user.started = True
        app = ApplicationBuilder().token(fake.token).base_url(f"{fake.url}/bot").build()
        app.add_handler(CommandHandler("help", echo))
        await app.initialize()
        await app.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=ALLOWED_UPDATES)
        await app.start()
        try:
            for _ in range(20):  # warm up, as the bot was
                await user.send("/help")
                await user.wait_message(timeout=60)
            yield user
        finally:
            await app.updater.stop()
            await app.stop()
            await app.shutdown()


async def _nothing_to_recover(_application) -> None:
    return None


async def _answers(user, count: int) -> None:
    for _ in range(count):
        await user.wait_message(timeout=300)


async def _built(db: Database) -> dict[int, list[int]]:
    """Organisation ids by depth of a database an earlier run built."""
    ids: dict[int, list[int]] = {0: [], 1: [], 2: [], 3: []}
    async with db.session() as session:
        for org_id, depth in await session.execute(
            select(Organisation.id, Organisation.depth).order_by(Organisation.id)
        ):
            ids[depth].append(org_id)
    return ids


async def one_database(name: str, url: str, members: int, per_cell: int, skip: set[str],
                       repeat: int, reuse: bool = False) -> None:
    print(f"== {name}, {members:,} members ({_load()})")
    db = Database(url)
    if reuse:  # built by an earlier run (--no-build): only brought up to date
        await db.migrate()
        ids = await _built(db)
        print(f"  (reused: {sum(len(v) for v in ids.values()):,} organisations)")
    else:
        ids = await build_province(db, url, members, per_cell)
    try:
        if "status" not in skip:
            await in_process(db, ids, repeat)
        if "report" not in skip:
            await time_report(url, ids[0][0])
        if "monitor" not in skip:
            await time_monitor(db, url)
        if "bot" not in skip:
            await through_bot(db, url, ids, repeat, latency="latency" not in skip)
    finally:
        await db.dispose()


async def build_province(db: Database, url: str, members: int, per_cell: int) -> dict[int, list[int]]:
    if not url.startswith("sqlite"):
        async with db.engine.begin() as connection:
            await connection.exec_driver_sql("DROP SCHEMA public CASCADE")
            await connection.exec_driver_sql("CREATE SCHEMA public")
    await db.migrate()
    start = time.perf_counter()
    ids = await build(db, members, per_cell)
    await add_people(db)
    if not url.startswith("sqlite"):
        async with db.engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.exec_driver_sql("VACUUM ANALYZE")
            version = (await connection.exec_driver_sql("SHOW server_version")).scalar()
            print(f"  (PostgreSQL {version})")
    print(f"  (built in {time.perf_counter() - start:.0f} s)")
    return ids


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--members", type=int, default=150_000)
    parser.add_argument("--per-cell", type=int, default=10)
    parser.add_argument("--pg-url", help="postgresql+asyncpg://… of yours (its schema is dropped)")
    parser.add_argument("--skip", default="", help="any of status,report,monitor,bot,latency (the bot's figures but CPU per /help)")
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--whole-party", action="store_true",
                        help="5.3 million members, about 250,000 cells (PostgreSQL only)")
    parser.add_argument("--no-build", action="store_true",
                        help="with --pg-url or --sqlite-file: use the tree an earlier run built")
    parser.add_argument("--sqlite-file", type=Path,
                        help="SQLite in this file (kept) instead of a temporary one")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    members, per_cell, databases = args.members, args.per_cell, args.db.split(",")
    if args.whole_party:
        members, per_cell, databases = 5_300_000, 21, ["postgresql"]
    for name in databases:
        if name == "sqlite" and args.sqlite_file:
            url = f"sqlite+aiosqlite:///{args.sqlite_file.resolve()}"
            await one_database("SQLite", url, members, per_cell, skip, args.repeat,
                               reuse=args.no_build)
        elif name == "sqlite":
            with tempfile.TemporaryDirectory() as folder:
                url = f"sqlite+aiosqlite:///{Path(folder) / 'province.db'}"
                await one_database("SQLite", url, members, per_cell, skip, args.repeat)
        elif args.pg_url:
            await one_database("PostgreSQL", args.pg_url, members, per_cell, skip, args.repeat,
                               reuse=args.no_build)
        else:
            from benchmarks.pgserver import postgresql_server

            with postgresql_server() as url:
                print("(a PostgreSQL server started for this run)")
                await one_database("PostgreSQL", url, members, per_cell, skip, args.repeat)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
