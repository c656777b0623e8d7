"""The cost of one cast into the sealed ballot box, and of opening the box: prints timings,
asserts nothing.

    .venv/bin/python benchmarks/ballot.py [--voters 200] [--candidates 15] [--pg ADMIN_URL]

A cell of `voters` official members present, `candidates` of them rated; one round. Each cast
is what the bot does when a voter confirms: one transaction that flips has_voted, seals the
ballot (SealedBox, X25519), inserts it and its receipt hash, and records the receipt message in
the outbox; then the outbox row is deleted (delivered) and, on SQLite, the WAL checkpointed.
Then the committee's shares open the box (decrypt every ballot, write the counts, delete the
sealed ballots, VACUUM on PostgreSQL). Runs on a fresh SQLite file, and on a fresh PostgreSQL
database when `--pg postgresql://USER@HOST:PORT/postgres` (or KIEMDIEM_PG_ADMIN_URL) is given.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import delete  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bot.delivery import Outbox  # noqa: E402
from bot.delivery import Owed  # noqa: E402
from bot.services import ballot as service  # noqa: E402
from rules.people import Presence  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import BallotRound  # noqa: E402
from storage.models import Cycle  # noqa: E402
from storage.models import Member  # noqa: E402
from storage.models import Organisation  # noqa: E402
from storage.models import OutboxMessage  # noqa: E402
from storage.models import Role  # noqa: E402
from storage.queries import place_org  # noqa: E402

NOW = dt.datetime(2026, 12, 5, 1, 0, tzinfo=dt.UTC)


async def setup(db: Database, voters: int, candidates: int):
    async with db.session() as session:
        root = Organisation(code="DB", name="Đảng bộ", kind="grassroots", path="")
        await place_org(session, root, None)
        cell = Organisation(code="CB", name="Chi bộ", kind="cell", path="")
        await place_org(session, cell, root)
        session.add(
            Cycle(
                org_id=root.id,
                year=2026,
                rulebook="hd21-2019",
                finish_by=dt.date(2026, 12, 31),
                report_by=dt.date(2027, 2, 20),
            )
        )
        members = [
            Member(
                code=f"M{i:04d}",
                full_name=f"Đảng viên {i:04d}",
                org_id=cell.id,
                status="official",
                admitted_on=dt.date(2000, 1, 1),
            )
            for i in range(voters)
        ]
        session.add_all(members)
        await session.flush()
        session.add(Role(member_id=members[0].id, org_id=cell.id, role="secretary"))
        meeting = await service.meeting_for_cell(session, cell, NOW, create=True)
        await service.set_presence(session, meeting, [m.id for m in members], Presence.PRESENT)
        state = await service.meeting_state(session, meeting, NOW.date())
        opened = await service.open_round(
            session,
            state,
            actor="bench",
            now=NOW,
            candidate_ids=[m.id for m in members[:candidates]],
        )
        await service.activate(session, opened.round.id)
        return opened.round.id, [m.id for m in members], list(opened.shares)


async def run(url: str, label: str, voters: int, candidates: int) -> None:
    db = Database(url)
    await db.migrate()
    try:
        round_id, members, shares = await setup(db, voters, candidates)
        rng = random.Random(1)
        timings = []
        for member_id in members:
            choices = {p: rng.choice(service.CHOICES) for p in range(candidates)}
            started = time.perf_counter()
            async with db.session() as session:
                cast = await service.cast(session, round_id, member_id, choices)
                row = Outbox.add(session, Owed(member_id, f"Receipt {cast.code}"), NOW)
            async with db.session() as session:  # delivered: the outbox row goes
                await session.execute(delete(OutboxMessage).where(OutboxMessage.id == row.id))
            await service.checkpoint(db)
            timings.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        async with db.session() as session:
            await service.end_voting(session, round_id, now=NOW)
            ballot_round = await session.get(BallotRound, round_id)
            private = service.unlock(ballot_round, shares[:2])
            await service.open_box(session, round_id, private, actor="bench", now=NOW)
        await service.purge(db)
        opening = (time.perf_counter() - started) * 1000
        timings.sort()
        print(
            f"{label}: {voters} casts of {candidates} candidates: "
            f"median {statistics.median(timings):.2f} ms, mean {statistics.fmean(timings):.2f} ms, "
            f"95th percentile {timings[int(len(timings) * 0.95) - 1]:.2f} ms per cast; "
            f"opening the box {opening:.0f} ms"
        )
    finally:
        await db.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--voters", type=int, default=200)
    parser.add_argument("--candidates", type=int, default=15)
    parser.add_argument("--pg", default=os.environ.get("KIEMDIEM_PG_ADMIN_URL", ""))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        await run(f"sqlite+aiosqlite:///{tmp}/bench.db", "SQLite", args.voters, args.candidates)
    if args.pg:
        import asyncpg

        name = f"bench_{secrets.token_hex(4)}"
        admin = make_url(args.pg).set(drivername="postgresql")
        conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        url = admin.set(drivername="postgresql+asyncpg", database=name)
        try:
            await run(url.render_as_string(hide_password=False), "PostgreSQL", args.voters, args.candidates)
        finally:
            conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
