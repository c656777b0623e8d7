"""The cost of the organisations' section of /tinh_trang (bot/services/unit_rating_status.py):
prints timings, asserts nothing.

    .venv/bin/python -m benchmarks.unit_status [--db sqlite|postgresql] [--members 150000]
        [--repeat 20] [--keep FILE] [--explain]

Builds ``benchmarks/province.py``'s tree (SQLite in a temporary file, or in FILE with --keep,
reused when it exists; PostgreSQL on a throw-away server, ``benchmarks/pgserver.py``), gives
every rated unit a review and a proposal (one in five HTXS, one in three decided), then prints
p50 and p95, wall and CPU (``time.process_time``: this process, not the database server's) of:

- the whole ``subtree_status`` of the province as /tinh_trang reads it (the first
  ``MAX_BREACH_LINES`` breaches named), with and without the organisations' section;
- ``unit_figures`` of the province and each of its parts: the units to rate (``to_rate``), the
  grouped count of the reviews (``review_counts``), R-Q7 over the peer groups
  (``quota_breaches``);
- ``unit_figures`` of 50 cells;
- the whole status right after a unit's proposal changed in a cell (its rows counted again),
  and with nothing kept (every row counted, the first read after ``kiemdiem rebuild-figures``
  drops them or a day passed);

and whether the section the status shows (kept per organisation) equals ``unit_figures``.

With --explain, the query plans of the parts (EXPLAIN QUERY PLAN on SQLite, EXPLAIN ANALYZE on
PostgreSQL).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import event
from sqlalchemy import func
from sqlalchemy import select

from benchmarks.scale import build_province
from benchmarks.status import NOW
from benchmarks.status import TODAY
from bot.services import aggregates
from bot.services.status import plans_for
from bot.services.status import subtree_status
from bot.services.unit_rating_status import quota_breaches
from bot.services.unit_rating_status import review_counts
from bot.services.unit_rating_status import to_rate
from bot.services.unit_rating_status import unit_figures
from handlers.views.status import MAX_BREACH_LINES
from rules.org_scoring import RATED_KINDS
from storage.db import Database
from storage.models import Cycle
from storage.models import Organisation
from storage.models import Rating
from storage.models import UnitRating
from storage.models import UnitReview


async def propose_every_unit(db: Database) -> int:
    """A review and a proposal for every rated unit (once: a kept file already has them)."""
    async with db.session() as session:
        if await session.scalar(select(func.count()).select_from(UnitReview)):
            return await session.scalar(select(func.count()).select_from(UnitReview))
        cycle = await session.scalar(select(Cycle))
        orgs = (await session.scalars(
            select(Organisation.id).where(Organisation.kind.in_(RATED_KINDS)))).all()
        session.add_all(UnitReview(cycle_id=cycle.id, org_id=org_id, subject="organisation",
                                   state="reviewed") for org_id in orgs)
        await session.flush()
        reviews = (await session.scalars(select(UnitReview.id))).all()
        for i, review_id in enumerate(reviews):
            level, decided = ("HTXS" if i % 5 == 0 else "HTT"), i % 3 == 0
            session.add(UnitRating(review_id=review_id, state="decided" if decided else "proposed",
                                   proposed_level=level, decided_level=level if decided else None,
                                   score_tenths=855))
        await session.commit()
    return len(orgs)


def _line(label: str, wall: list[float], cpu: list[float], extra: str = "") -> str:
    wall, cpu = sorted(wall), sorted(cpu)

    def p95(values: list[float]) -> float:
        return values[max(int(len(values) * 0.95 + 0.5) - 1, 0)]

    return (f"  {label:<52} n={len(wall):>3}  wall p50 {statistics.median(wall):7.1f} ms  p95 "
            f"{p95(wall):7.1f} ms   CPU p50 {statistics.median(cpu):7.1f} ms  p95 "
            f"{p95(cpu):7.1f} ms{extra}")


async def _timed(db: Database, org_ids: list[int], call) -> tuple[list[float], list[float], object]:
    """Each call in a session of its own (the way a turn reads), its wall and CPU time."""
    wall, cpu, result = [], [], None
    for org_id in org_ids:
        async with db.session() as session:
            org = await session.get(Organisation, org_id)
            plans = await plans_for(session, org)
            start, start_cpu = time.perf_counter(), time.process_time()
            result = await call(session, org, plans)
            wall.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
    return wall, cpu, result


def _status(with_units: bool):
    async def call(session, org, _plans):
        return await subtree_status(session, org, now=NOW, today=TODAY, with_units=with_units,
                                    breach_limit=MAX_BREACH_LINES)
    return call


async def _figures(session, org, plans):
    return await unit_figures(session, org, plans.main, plans.ids)


async def _to_rate(session, org, _plans):
    return await to_rate(session, org.path)


async def _counts(session, org, plans):
    return await review_counts(session, org.path, plans.ids)


async def _breaches(session, org, plans):
    return await quota_breaches(session, org, plans.ids)


async def time_units(db: Database, province_id: int, cell_ids: list[int], repeat: int) -> None:
    print(f"  {await propose_every_unit(db):,} unit reviews, each with a proposal "
          f"(load {os.getloadavg()[0]:.1f})")
    province = [province_id] * repeat
    await _timed(db, province[:2], _status(True))  # warm the caches once
    for label, ids, call in (
        ("/tinh_trang province (whole)", province, _status(True)),
        ("/tinh_trang province, no units", province, _status(False)),
        ("unit_figures province", province, _figures),
        ("  to_rate", province, _to_rate),
        ("  review_counts (grouped)", province, _counts),
        ("  quota_breaches (R-Q7)", province, _breaches),
        ("unit_figures one cell", cell_ids, _figures),
    ):
        wall, cpu, result = await _timed(db, ids, call)
        extra = ""
        if label.startswith("/tinh_trang province (whole)"):
            extra = f"  ({len(result.units.breaches)} R-Q7 breaches)"
        print(_line(label, wall, cpu, extra))
    await same_as_counted(db, province_id)
    for label, before in (("after a member's rating changed", _change_a_member_rating),
                          ("after a unit rating changed", _change_a_rating),
                          ("with nothing kept (first read)", _forget)):
        wall, cpu = [], []
        for i in range(3 if before is _forget else repeat):
            await before(db, i)
            w, c, _ = await _timed(db, [province_id], _status(True))
            wall += w
            cpu += c
        print(_line(f"/tinh_trang province, {label}", wall, cpu))
    print(f"  (load {os.getloadavg()[0]:.1f})")


async def _change_a_rating(db: Database, i: int) -> None:
    """A unit's proposal changed (HTT <-> HTXS) in the i-th cell: its path's rows go stale."""
    async with db.session() as session:
        rating = await session.scalar(
            select(UnitRating).join(UnitReview, UnitReview.id == UnitRating.review_id)
            .join(Organisation, Organisation.id == UnitReview.org_id)
            .where(Organisation.kind == "cell", UnitRating.state == "proposed")
            .order_by(UnitRating.id).offset(i * 97).limit(1))
        rating.proposed_level = "HTT" if rating.proposed_level == "HTXS" else "HTXS"
        await session.commit()


async def _change_a_member_rating(db: Database, i: int) -> None:
    """The same for a member's proposal (what the members' figures count): the same path."""
    async with db.session() as session:
        rating = await session.scalar(
            select(Rating).where(Rating.state == "proposed", Rating.proposed_level.in_(
                ("HTT", "HT"))).order_by(Rating.id).offset(i * 97).limit(1))
        rating.proposed_level = "HT" if rating.proposed_level == "HTT" else "HTT"
        await session.commit()


async def _forget(db: Database, _i: int) -> None:
    async with db.session() as session:
        await aggregates.forget(session)
        await session.commit()


async def same_as_counted(db: Database, province_id: int) -> None:
    """The section as the status shows it (kept) against ``unit_figures`` counted whole."""
    async with db.session() as session:
        org = await session.get(Organisation, province_id)
        plans = await plans_for(session, org)
        shown = (await _status(True)(session, org, plans)).units
        counted = await unit_figures(session, org, plans.main, plans.ids)
    same = shown == counted
    print(f"  the kept section equals unit_figures counted whole: {same}")


async def explain(db: Database, province_id: int) -> None:
    """The plans of the parts' queries, as the database runs them."""
    captured: list[tuple[str, object]] = []
    postgresql = not db.url.startswith("sqlite")

    def keep(_conn, _cursor, statement, parameters, _context, _many):
        captured.append((statement, parameters))

    event.listen(db.engine.sync_engine, "before_cursor_execute", keep)
    async with db.session() as session:
        org = await session.get(Organisation, province_id)
        plans = await plans_for(session, org)
        for label, call in (("to_rate", _to_rate), ("review_counts", _counts),
                            ("quota_breaches", _breaches)):
            captured.clear()
            await call(session, org, plans)
            for statement, parameters in list(captured):
                prefix = "EXPLAIN ANALYZE " if postgresql else "EXPLAIN QUERY PLAN "
                print(f"--- {label}: {statement.strip()[:300]}")
                raw = await session.connection()
                result = await raw.exec_driver_sql(prefix + statement, parameters)
                for row in result:
                    print("    ", " | ".join(str(v) for v in row))
    event.remove(db.engine.sync_engine, "before_cursor_execute", keep)


async def one_size(url: str, members: int, repeat: int, fresh: bool, show_plans: bool) -> None:
    db = Database(url)
    if fresh:
        await build_province(db, url, members, 10)
    else:
        await db.migrate()  # a kept file: its schema brought to this branch's head
    try:
        async with db.session() as session:
            province = await session.scalar(
                select(Organisation.id).where(Organisation.depth == 0))
            cells = (await session.scalars(
                select(Organisation.id).where(Organisation.depth == 3)
                .order_by(Organisation.id).limit(50))).all()
        if fresh and not url.startswith("sqlite"):  # as after autovacuum (benchmarks.scale)
            await propose_every_unit(db)
            async with db.engine.connect() as connection:
                connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.exec_driver_sql("VACUUM ANALYZE")
        await time_units(db, province, list(cells), repeat)
        if show_plans:
            await explain(db, province)
    finally:
        await db.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--members", type=int, default=150_000)
    parser.add_argument("--repeat", type=int, default=20, help="province calls of each kind")
    parser.add_argument("--keep", help="SQLite: build in this file, or reuse it when it exists")
    parser.add_argument("--explain", action="store_true", help="print the queries' plans")
    args = parser.parse_args()
    print(f"{args.db}, {args.members:,} members:")
    if args.db == "postgresql":
        from benchmarks.pgserver import postgresql_server

        with postgresql_server() as url:
            await one_size(url, args.members, args.repeat, True, args.explain)
    elif args.keep:
        fresh = not os.path.exists(args.keep)  # noqa: ASYNC240 (once, before anything runs)
        await one_size(f"sqlite+aiosqlite:///{args.keep}", args.members, args.repeat, fresh,
                       args.explain)
    else:
        with tempfile.TemporaryDirectory() as folder:
            await one_size(f"sqlite+aiosqlite:///{Path(folder) / 'province.db'}", args.members,
                           args.repeat, True, args.explain)


if __name__ == "__main__":
    asyncio.run(main())
