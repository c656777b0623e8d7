"""The whole party on PostgreSQL (5.3 million members, about 252,000 cells): built by COPY in
bounded memory, then one deadline monitor run and a province's /bao_cao timed. Prints figures,
asserts nothing.

    .venv/bin/python -m benchmarks.party --url postgresql+asyncpg://USER@HOST:PORT/DB
        [--keep] [--members 5300000] [--per-cell 21] [--parts monitor,report]

The tree and its people are those of ``benchmarks/status.py``'s ``build`` and
``benchmarks/province.py``'s ``add_people`` (the same random draws, in the same order), written
with PostgreSQL's COPY a chunk at a time instead of held in memory: ``build`` keeps every row as
a dict, about 15 GiB at this size. The database's ``public`` schema is dropped and made again,
unless ``--keep`` finds the tree already built (a second run times again without building).

- **monitor**: one run of the deadline monitor with an instant fake bot, four days before the
  benchmark's date (a self-review reminder due for every member who has not submitted), and an
  hour later (the ledger says everything was sent): wall and CPU time, the time until the first
  message leaves, messages sent.
- **report**: /bao_cao of one province-sized unit (an upper unit) and of the whole party, as the
  bot builds it (in a worker process): time, CPU, RSS peak, files.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import time
from collections.abc import Iterator

import asyncpg
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select

from benchmarks.province import ACCOUNT_BASE
from benchmarks.province import time_monitor
from benchmarks.province import time_report
from benchmarks.status import LEVELS
from benchmarks.status import NOW
from storage.db import Database
from storage.models import Base
from storage.models import Member
from storage.models import Organisation
from storage.models import SentNotice

CHUNK = 100_000  # rows generated and copied at a time
UPPERS = 100


def _defaults(table: str, given: dict) -> tuple[list[str], tuple]:
    """The columns of `table` and a row template: `given`, else the column's scalar default,
    else the time of the build for a callable default (created_at, updated_at), else NULL."""
    columns, values = [], []
    for column in Base.metadata.tables[table].columns:
        columns.append(column.name)
        if column.name in given:
            values.append(given[column.name])
        elif column.default is not None and column.default.is_scalar:
            values.append(column.default.arg)
        elif column.default is not None:
            values.append(NOW)
        else:
            values.append(None)
    return columns, tuple(values)


class Rows:
    """Rows of one table from partial dicts, in the table's column order."""

    def __init__(self, table: str, **constant) -> None:
        self.table = table
        self.columns, template = _defaults(table, constant)
        self.template = list(template)
        self.index = {name: i for i, name in enumerate(self.columns)}

    def row(self, **values) -> tuple:
        row = self.template.copy()
        for name, value in values.items():
            row[self.index[name]] = value
        return tuple(row)


class Tree:
    """The organisations of ``status.build``: a root, 100 upper units, grassroots committees of
    10 cells each, ids in that order."""

    def __init__(self, members: int, per_cell: int) -> None:
        self.per_cell = per_cell
        self.cells_needed = members // per_cell
        self.grassroots_needed = max(self.cells_needed // 10, 1)

    def organisations(self) -> Iterator[tuple[int, str, int | None, str, int]]:
        """(id, kind, parent id, path, depth) in id order."""
        yield 1, "province", None, "/1/", 0
        for upper in range(2, 2 + UPPERS):
            yield upper, "upper", 1, f"/1/{upper}/", 1
        next_id = 2 + UPPERS
        for index in range(self.grassroots_needed):
            upper = 2 + index % UPPERS
            grassroots, next_id = next_id, next_id + 1
            path = f"/1/{upper}/{grassroots}/"
            yield grassroots, "grassroots", upper, path, 2
            for _ in range(10):
                yield next_id, "cell", grassroots, f"{path}{next_id}/", 3
                next_id += 1

    def cells(self) -> Iterator[tuple[int, str]]:
        """(cell id, path), in order."""
        for org_id, kind, _parent, path, _depth in self.organisations():
            if kind == "cell":
                yield org_id, path


async def _copy(connection, rows: Rows, records: Iterator[tuple]) -> int:
    count, chunk = 0, []
    for record in records:
        chunk.append(record)
        if len(chunk) >= CHUNK:
            await connection.copy_records_to_table(rows.table, records=chunk, columns=rows.columns)
            count, chunk = count + len(chunk), []
    if chunk:
        await connection.copy_records_to_table(rows.table, records=chunk, columns=rows.columns)
    return count + len(chunk)


async def build_party(url: str, members: int, per_cell: int) -> None:
    """``status.build`` then ``province.add_people``, by COPY."""
    tree = Tree(members, per_cell)
    rng = random.Random(6)
    cells = list(tree.cells())
    total = len(cells) * per_cell
    # The first pass of ``build``'s draws: each member's exemption and discipline.
    exempt, disciplined = bytearray(total + 1), bytearray(total + 1)
    for member_id in range(1, total + 1):
        exempt[member_id] = rng.random() < 0.02
        disciplined[member_id] = rng.random() < 0.003
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        orgs = Rows("organisations")
        count = await _copy(connection, orgs, (
            orgs.row(id=i, code=f"O{i}", name=f"Tổ chức {i}", kind=kind, parent_id=parent,
                     path=path, depth=depth)
            for i, kind, parent, path, depth in tree.organisations()))
        print(f"  organisations: {count:,}", flush=True)
        await connection.execute(
            "INSERT INTO cycles (id, org_id, year, rulebook, finish_by, report_by, created_at) "
            "VALUES (1, 1, 2026, 'qd366-2025', '2026-12-31', '2027-01-15', $1)", NOW)
        people = Rows("members", status="official", admitted_on=dt.date(2000, 1, 1),
                      discipline_in_official_duties=True)

        def member_rows() -> Iterator[tuple]:
            member_id = 0
            for cell_id, _path in cells:
                for _ in range(per_cell):
                    member_id += 1
                    yield people.row(
                        id=member_id, code=f"M{member_id}", full_name=f"Đảng viên {member_id}",
                        org_id=cell_id, exempt=bool(exempt[member_id]),
                        discipline_form="reprimand" if disciplined[member_id] else None)

        print(f"  members: {await _copy(connection, people, member_rows()):,}", flush=True)
        reviews = Rows("self_reviews", cycle_id=1, form_code="2B", state="submitted",
                       stage="preview", reached_preview=True)
        ratings = Rows("ratings", cycle_id=1)
        counts = [0, 0]
        review_chunk, rating_chunk = [], []
        review_id = rating_id = 0
        for member_id in range(1, total + 1):  # the second pass of ``build``'s draws
            if exempt[member_id]:
                continue
            roll = rng.random()
            if roll < 0.8:
                review_id += 1
                review_chunk.append(reviews.row(id=review_id, member_id=member_id,
                                                late=roll < 0.05))
            if roll < 0.6:
                level, decided = rng.choice(LEVELS), roll < 0.3
                rating_id += 1
                rating_chunk.append(ratings.row(
                    id=rating_id, member_id=member_id, state="decided" if decided else "proposed",
                    proposed_level=level, decided_level=level if decided else None))
            if len(review_chunk) >= CHUNK or member_id == total:
                for rows, chunk, slot in ((reviews, review_chunk, 0), (ratings, rating_chunk, 1)):
                    await connection.copy_records_to_table(rows.table, records=chunk,
                                                           columns=rows.columns)
                    counts[slot] += len(chunk)
                review_chunk, rating_chunk = [], []
        print(f"  self-reviews {counts[0]:,}, ratings {counts[1]:,}", flush=True)
        meetings = Rows("meetings", cycle_id=1)
        rounds = Rows("ballot_rounds", number=1, counting_rule="cumulative",
                      denominator_rule="convened", opened_by="bench", opened_at=NOW)
        held = [(number, cell_id) for number, (cell_id, _path) in enumerate(cells, 1) if number % 5]
        await _copy(connection, meetings, (
            meetings.row(id=number, org_id=cell_id,
                         scheduled_at=NOW + dt.timedelta(days=(number % 3) - 1))
            for number, cell_id in held))
        await _copy(connection, rounds, (
            rounds.row(id=index, meeting_id=number, state="closed" if number % 4 else "open")
            for index, (number, _cell) in enumerate(held, 1)))
        print(f"  meetings and ballot rounds: {len(held):,}", flush=True)
        await _copy_people(connection, cells, per_cell)
        for table in ("organisations", "members", "cycles", "self_reviews", "ratings",
                      "meetings", "ballot_rounds", "roles"):
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))")
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


async def _copy_people(connection, cells: list[tuple[int, str]], per_cell: int) -> None:
    """``province.add_people``: a secretary per cell (its first member), a committee member per
    grassroots committee and upper unit (the first member below it), an account for everyone."""
    roles = Rows("roles")

    def role_rows() -> Iterator[tuple]:
        role_id, first_below = 0, {}
        for number, (cell_id, path) in enumerate(cells):
            first = number * per_cell + 1
            role_id += 1
            yield roles.row(id=role_id, member_id=first, org_id=cell_id, role="secretary")
            for ancestor in path.strip("/").split("/")[:-1]:
                first_below.setdefault(int(ancestor), first)
        for org_id, member_id in first_below.items():
            role_id += 1
            yield roles.row(id=role_id, member_id=member_id, org_id=org_id,
                            role="committee_member")

    print(f"  roles: {await _copy(connection, roles, role_rows()):,}", flush=True)
    since = NOW - dt.timedelta(days=30)
    accounts = Rows("telegram_accounts", language_code="vi", started_at=since, linked_at=since,
                    failed_invites=0)
    total = len(cells) * per_cell
    count = await _copy(connection, accounts, (
        accounts.row(telegram_id=ACCOUNT_BASE + member_id, member_id=member_id)
        for member_id in range(1, total + 1)))
    print(f"  accounts: {count:,}", flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="postgresql+asyncpg://… (its schema is dropped)")
    parser.add_argument("--members", type=int, default=5_300_000)
    parser.add_argument("--per-cell", type=int, default=21)
    parser.add_argument("--keep", action="store_true", help="use the tree already built, if any")
    parser.add_argument("--parts", default="monitor,report")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    db = Database(args.url)
    try:
        built = 0
        if args.keep:
            try:
                async with db.session() as session:
                    built = await session.scalar(select(func.count()).select_from(Member))
            except Exception:  # no schema yet
                built = 0
        if not built:
            async with db.engine.begin() as connection:
                await connection.exec_driver_sql("DROP SCHEMA public CASCADE")
                await connection.exec_driver_sql("CREATE SCHEMA public")
            await db.migrate()
            start = time.perf_counter()
            await build_party(args.url, args.members, args.per_cell)
            print(f"  (built in {time.perf_counter() - start:.0f} s)", flush=True)
        else:
            await db.migrate()  # a tree built before the newest migrations
            async with db.session() as session:  # the monitor's first run starts from nothing
                await session.execute(delete(SentNotice))
        async with db.session() as session:
            members = await session.scalar(select(func.count()).select_from(Member))
            units = await session.scalar(select(func.count()).select_from(Organisation))
            upper = await session.scalar(select(Organisation.id).where(Organisation.depth == 1)
                                         .order_by(Organisation.id).limit(1))
        print(f"whole party: {members:,} members, {units:,} organisations "
              f"(load {os.getloadavg()[0]:.1f})", flush=True)
        if "monitor" in parts:
            await time_monitor(db, args.url, days=("reminders",))
        if "report" in parts:
            print("  an upper unit:")
            await time_report(args.url, upper, 1)
            print("  the whole party:")
            await time_report(args.url, 1, 1)
    finally:
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
