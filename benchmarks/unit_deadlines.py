"""The cost of R-D1's part of a monitor run (bot/services/unit_deadlines.py): prints timings and
statement counts, asserts nothing.

    .venv/bin/python benchmarks/unit_deadlines.py [--grassroots 50] [--cells 20]

A plan on an upper committee over `grassroots` đảng bộ cơ sở of `cells` cells each (every unit
with a secretary, two committee members, a meeting); the meetings fall on days spread over two
months around the run, a quarter of the drafts already sent. Times `decide` (what is due and not
yet in the ledger), then writes a ledger row for every notice and times it again (the hourly runs
after the notices went out), on a fresh SQLite file.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event  # noqa: E402

from bot.services import unit_deadlines  # noqa: E402
from bot.services.notify import member_target  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import Cycle  # noqa: E402
from storage.models import Meeting  # noqa: E402
from storage.models import Member  # noqa: E402
from storage.models import Organisation  # noqa: E402
from storage.models import Role  # noqa: E402
from storage.models import SentNotice  # noqa: E402
from storage.models import UnitReview  # noqa: E402
from storage.queries import place_org  # noqa: E402

TZ = dt.timezone(dt.timedelta(hours=7))
NOW = dt.datetime(2026, 11, 27, 3, 0, tzinfo=dt.UTC)


async def build(db: Database, grassroots: int, cells: int) -> int:
    units = 0
    async with db.session() as session:
        upper = Organisation(code="XA", name="Đảng bộ phường", kind="upper", path="")
        await place_org(session, upper, None)
        cycle = Cycle(org_id=upper.id, year=2026, rulebook="hd21-2019",
                      finish_by=dt.date(2026, 12, 31), report_by=dt.date(2027, 1, 15))
        session.add(cycle)
        await session.flush()
        for g in range(grassroots):
            root = Organisation(code=f"DB{g}", name=f"Đảng bộ {g}", kind="grassroots", path="")
            await place_org(session, root, upper)
            for c in range(cells + 1):
                unit = root
                if c:
                    unit = Organisation(code=f"CB{g}.{c}", name=f"Chi bộ {g}.{c}", kind="cell",
                                        path="")
                    await place_org(session, unit, root)
                members = [Member(code=f"DV{g}.{c}.{i}", full_name=f"Đảng viên {g}.{c}.{i}",
                                  org_id=unit.id, status="official",
                                  admitted_on=dt.date(2000, 1, 1)) for i in range(3)]
                session.add_all(members)
                await session.flush()
                session.add_all([Role(member_id=members[0].id, org_id=unit.id, role="secretary"),
                                 *(Role(member_id=m.id, org_id=unit.id, role="committee_member")
                                   for m in members[1:])])
                units += 1
                day = NOW + dt.timedelta(days=(units * 7) % 60 - 30)
                session.add(Meeting(cycle_id=cycle.id, org_id=unit.id, scheduled_at=day))
                if units % 4 == 0:
                    session.add(UnitReview(cycle_id=cycle.id, org_id=unit.id,
                                           subject="organisation", circulated_at=NOW))
            await session.flush()
    return units


async def timed(db: Database) -> tuple[float, int, list]:
    statements = 0

    def count(*_args) -> None:
        nonlocal statements
        statements += 1

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with db.session() as session:
            began = time.perf_counter()
            notices = await unit_deadlines.decide(session, NOW, TZ)
            seconds = time.perf_counter() - began
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    return seconds, statements, notices


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grassroots", type=int, default=50)
    parser.add_argument("--cells", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite+aiosqlite:///{folder}/bench.db")
        await db.migrate()
        units = await build(db, args.grassroots, args.cells)
        seconds, statements, notices = await timed(db)
        print(f"{units} units with a meeting: decide {seconds * 1000:.0f} ms, {statements} "
              f"statements, {len(notices)} notices due")
        async with db.session() as session:
            cycle_id = notices[0].cycle_id if notices else 0
            session.add_all(SentNotice(kind=n.kind, target=member_target(n.member_id),
                                       cycle_id=cycle_id, stage=n.stage, state="sent",
                                       claimed_at=NOW) for n in notices)
        seconds, statements, notices = await timed(db)
        print(f"once sent: decide {seconds * 1000:.0f} ms, {statements} statements, "
              f"{len(notices)} notices due")
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
