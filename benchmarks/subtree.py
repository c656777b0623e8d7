"""Subtree queries on a large tree: prints timings, asserts nothing.

    .venv/bin/python benchmarks/subtree.py [--orgs 100000] [--members-per-cell 10]

Builds a province-shaped tree (province -> upper units -> grassroots committees -> cells) in a
fresh SQLite file, then times counting the members under units at each level.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select

from storage.db import Database
from storage.models import Member
from storage.models import Organisation
from storage.queries import subtree_range


async def build(db: Database, orgs: int, per_cell: int) -> dict[int, list[str]]:
    """Breadth 1 -> 100 -> n -> cells; returns sample paths per depth."""
    rows, members, paths = [], [], {0: [], 1: [], 2: [], 3: []}
    next_id = 1

    def add(parent_path: str, depth: int, kind: str) -> str:
        nonlocal next_id
        path = f"{parent_path}{next_id}/"
        rows.append(
            {
                "id": next_id,
                "code": f"O{next_id}",
                "name": f"Org {next_id}",
                "kind": kind,
                "parent_id": int(parent_path.strip("/").split("/")[-1])
                if parent_path != "/"
                else None,
                "path": path,
                "depth": depth,
            }
        )
        paths[depth].append(path)
        next_id += 1
        return path

    province = add("/", 0, "province")
    uppers = [add(province, 1, "upper") for _ in range(100)]
    grassroots_per_upper = max(1, (orgs - 101) // 100 // 11)
    cells_per_grassroots = 10
    for upper in uppers:
        for _ in range(grassroots_per_upper):
            grassroots = add(upper, 2, "grassroots")
            for _ in range(cells_per_grassroots):
                add(grassroots, 3, "cell")
    member_id = 1
    for row in rows:
        if row["kind"] == "cell":
            for _ in range(per_cell):
                members.append(
                    {
                        "id": member_id,
                        "code": f"M{member_id}",
                        "full_name": "x",
                        "org_id": row["id"],
                        "status": "official",
                        "admitted_on": dt.date(2000, 1, 1),
                    }
                )
                member_id += 1
    async with db.session() as session:
        for start in range(0, len(rows), 5000):
            await session.execute(insert(Organisation), rows[start : start + 5000])
        for start in range(0, len(members), 5000):
            await session.execute(insert(Member), members[start : start + 5000])
    print(f"tree: {len(rows):,} organisations, {len(members):,} members")
    return paths


async def time_counts(db: Database, paths: list[str], label: str) -> None:
    timings = []
    async with db.session() as session:
        for path in paths:
            start = time.perf_counter()
            await session.scalar(
                select(func.count(Member.id))
                .join(Organisation, Member.org_id == Organisation.id)
                .where(subtree_range(path))
            )
            timings.append((time.perf_counter() - start) * 1000)
    print(
        f"{label:<28} n={len(timings):>3}  median {statistics.median(timings):8.2f} ms  "
        f"max {max(timings):8.2f} ms"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orgs", type=int, default=100_000)
    parser.add_argument("--members-per-cell", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}")
        await db.migrate()
        paths = await build(db, args.orgs, args.members_per_cell)
        await time_counts(db, paths[0][:1] * 5, "whole province")
        await time_counts(db, paths[1][:20], "upper unit (~1% of tree)")
        await time_counts(db, paths[2][:50], "grassroots committee")
        await time_counts(db, paths[3][:50], "cell")
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
