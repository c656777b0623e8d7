"""/tinh_trang figures on a province-sized tree: prints timings, asserts nothing.

    .venv/bin/python benchmarks/status.py [--members 150000] [--members-per-cell 10]

Builds a province (1 province -> 100 upper units -> grassroots committees of 10 cells) in a
fresh SQLite file with this year's plan, self-reviews (80% submitted, some late), meetings,
closed ballot rounds and ratings (proposed and decided, with some quota and cap breaches),
then times ``bot.services.status.subtree_status`` (the figures of /tinh_trang, per child)
with and without the breach checks, and the spreadsheet of one upper unit.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy import select

from bot.i18n import Translator
from bot.services.report import status_chart
from bot.services.report import status_workbook
from bot.services.status import subtree_status
from storage.db import Database
from storage.models import BallotRound
from storage.models import Cycle
from storage.models import Meeting
from storage.models import Member
from storage.models import Organisation
from storage.models import Rating
from storage.models import SelfReview

NOW = dt.datetime(2026, 12, 10, 3, tzinfo=dt.UTC)
TODAY = NOW.date()
LEVELS = ["HTXS", "HTT", "HTT", "HTT", "HTT", "HT", "HT", "KHT"]


async def build(db: Database, members: int, per_cell: int) -> dict[int, list[int]]:
    """Returns organisation ids by depth. Rows are written a batch of cells at a time (5.3
    million members fit in memory as a few flags each, not as rows)."""
    rng = random.Random(6)
    orgs, ids = [], {0: [], 1: [], 2: [], 3: []}
    next_id = 1

    def add(parent: dict | None, kind: str) -> dict:
        nonlocal next_id
        row = {
            "id": next_id,
            "code": f"O{next_id}",
            "name": f"Tổ chức {next_id}",
            "kind": kind,
            "parent_id": parent["id"] if parent else None,
            "path": f"{parent['path'] if parent else '/'}{next_id}/",
            "depth": parent["depth"] + 1 if parent else 0,
        }
        orgs.append(row)
        ids[row["depth"]].append(row["id"])
        next_id += 1
        return row

    cells_needed = members // per_cell
    grassroots_needed = max(cells_needed // 10, 1)
    province = add(None, "province")
    uppers = [add(province, "upper") for _ in range(100)]
    cells = []
    for index in range(grassroots_needed):
        grassroots = add(uppers[index % 100], "grassroots")
        cells += [add(grassroots, "cell") for _ in range(10)]
    total = len(cells) * per_cell
    # Each member's draws, in the order they were always made: exempt, then disciplined.
    exempt, disciplined = bytearray(total), bytearray(total)
    for i in range(total):
        exempt[i] = rng.random() < 0.02
        disciplined[i] = rng.random() < 0.003
    counted = {"reviews": 0, "ratings": 0, "meetings": 0}
    async with db.session() as session:
        await _insert_all(session, Organisation, orgs)
        session.add(
            Cycle(
                id=1,
                org_id=province["id"],
                year=2026,
                rulebook="qd366-2025",
                finish_by=dt.date(2026, 12, 31),
                report_by=dt.date(2027, 1, 15),
            )
        )
        await session.flush()
    for first in range(0, len(cells), BATCH_CELLS):
        batch = cells[first : first + BATCH_CELLS]
        people, reviews, ratings, meetings, rounds = [], [], [], [], []
        for number, cell in enumerate(batch, first + 1):
            for member_id in range((number - 1) * per_cell + 1, number * per_cell + 1):
                people.append(_person(member_id, cell["id"], exempt, disciplined))
            if number % 5:
                meetings.append(
                    {
                        "id": number,
                        "cycle_id": 1,
                        "org_id": cell["id"],
                        "scheduled_at": NOW + dt.timedelta(days=(number % 3) - 1),
                    }
                )
                rounds.append(
                    {
                        "meeting_id": number,
                        "number": 1,
                        "state": "closed" if number % 4 else "open",
                        "counting_rule": "cumulative",
                        "denominator_rule": "convened",
                        "opened_by": "bench",
                        "opened_at": NOW,
                    }
                )
        for person in people:
            if person["exempt"]:
                continue
            roll = rng.random()
            if roll < 0.8:
                reviews.append(
                    {
                        "cycle_id": 1,
                        "member_id": person["id"],
                        "form_code": "2B",
                        "state": "submitted",
                        "stage": "preview",
                        "reached_preview": True,
                        "late": roll < 0.05,
                    }
                )
            if roll < 0.6:
                level = rng.choice(LEVELS)
                decided = roll < 0.3
                ratings.append(
                    {
                        "cycle_id": 1,
                        "member_id": person["id"],
                        "state": "decided" if decided else "proposed",
                        "proposed_level": level,
                        "decided_level": level if decided else None,
                    }
                )
        async with db.session() as session:
            for table, rows in (
                (Member, people),
                (SelfReview, reviews),
                (Rating, ratings),
                (Meeting, meetings),
                (BallotRound, rounds),
            ):
                await _insert_all(session, table, rows)
        counted["reviews"] += len(reviews)
        counted["ratings"] += len(ratings)
        counted["meetings"] += len(meetings)
    print(
        f"tree: {len(orgs):,} organisations ({len(cells):,} cells), {total:,} members, "
        f"{counted['reviews']:,} self-reviews, {counted['ratings']:,} ratings, "
        f"{counted['meetings']:,} meetings"
    )
    return ids


BATCH_CELLS = 5000  # cells written per transaction


# Names as a province's roster holds them: a few family names (Nguyễn for about a third),
# a few middle names and some hundred given names, so full names repeat like real data
# (what sorting them costs depends on it), drawn from the member's id (reproducible).
FAMILY = (
    ["Nguyễn"] * 38 + ["Trần"] * 11 + ["Lê"] * 10 + ["Phạm"] * 7 + ["Hoàng"] * 5 + ["Huỳnh"] * 4
    + ["Phan"] * 4 + ["Vũ"] * 4 + ["Võ"] * 3 + ["Đặng"] * 2 + ["Bùi"] * 2 + ["Đỗ"] * 2
    + ["Hồ", "Ngô", "Dương", "Lý", "Đinh", "Đoàn", "Trịnh", "Lương", "Mai", "Tạ", "Cao", "Lâm"]
)
MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Thanh", "Ngọc", "Quang", "Xuân", "Thu", "Kim",
          "Công", "Đình", "Quốc", "Hồng", "Thị Thu", "Văn Minh", "Bảo", "Gia", "Anh"]
GIVEN = [
    "An", "Anh", "Bình", "Châu", "Chi", "Công", "Cường", "Dũng", "Dung", "Duy", "Dương", "Đạt",
    "Điệp", "Đông", "Giang", "Hà", "Hải", "Hạnh", "Hào", "Hằng", "Hiền", "Hiếu", "Hòa", "Hoa",
    "Hoàng", "Hồng", "Huệ", "Hùng", "Hưng", "Hương", "Huy", "Huyền", "Khang", "Khánh", "Khoa",
    "Kiên", "Lan", "Linh", "Loan", "Long", "Lộc", "Lợi", "Mai", "Minh", "My", "Nam", "Nga",
    "Ngân", "Nghĩa", "Ngọc", "Nhung", "Oanh", "Phong", "Phúc", "Phương", "Quân", "Quang",
    "Quế", "Quỳnh", "Sơn", "Tâm", "Tân", "Thành", "Thảo", "Thắng", "Thanh", "Thịnh", "Thu",
    "Thủy", "Thư", "Tiến", "Toàn", "Trang", "Trí", "Trung", "Tú", "Tuấn", "Tùng", "Uyên",
    "Vân", "Việt", "Vinh", "Xuân", "Yến",
]


def vietnamese_name(member_id: int) -> str:
    """A realistic full name for a member id, the same every build."""
    draw = (member_id * 2654435761) % 4_294_967_291  # a multiplicative hash: ids spread evenly
    family, draw = FAMILY[draw % len(FAMILY)], draw // len(FAMILY)
    middle, draw = MIDDLE[draw % len(MIDDLE)], draw // len(MIDDLE)
    return f"{family} {middle} {GIVEN[draw % len(GIVEN)]}"


def _person(member_id: int, org_id: int, exempt: bytearray, disciplined: bytearray) -> dict:
    return {
        "id": member_id,
        "code": f"M{member_id}",
        "full_name": vietnamese_name(member_id),
        "org_id": org_id,
        "status": "official",
        "admitted_on": dt.date(2000, 1, 1),
        "exempt": bool(exempt[member_id - 1]),
        "discipline_form": "reprimand" if disciplined[member_id - 1] else None,
        "discipline_in_official_duties": True,
    }


async def _insert_all(session, table, rows: list[dict]) -> None:
    for start in range(0, len(rows), 5000):
        await session.execute(insert(table), rows[start : start + 5000])


async def time_status(db: Database, org_ids: list[int], label: str, *, breaches: bool) -> None:
    timings = []
    for org_id in org_ids:
        async with db.session() as session:
            org = await session.get(Organisation, org_id)
            start = time.perf_counter()
            status = await subtree_status(
                session, org, now=NOW, today=TODAY, with_breaches=breaches
            )
            timings.append((time.perf_counter() - start) * 1000)
    print(
        f"{label:<44} n={len(timings):>3}  median {statistics.median(timings):8.1f} ms  "
        f"max {max(timings):8.1f} ms   ({len(status.children)} children, "
        f"{status.total.members:,} members, {len(status.breaches)} breaches)"
    )


async def time_files(db: Database, org_id: int, label: str) -> None:
    t = Translator("vi")
    async with db.session() as session:
        org = await session.get(Organisation, org_id)
        status = await subtree_status(session, org, now=NOW, today=TODAY)
        start = time.perf_counter()
        sheet = await status_workbook(session, status, t, TODAY)
        middle = time.perf_counter()
        png = status_chart(status, t)
        end = time.perf_counter()
    print(
        f"{label:<44} spreadsheet {(middle - start) * 1000:8.1f} ms ({len(sheet):,} bytes), "
        f"chart {(end - middle) * 1000:8.1f} ms ({len(png):,} bytes)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=150_000)
    parser.add_argument("--members-per-cell", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}")
        await db.migrate()
        ids = await build(db, args.members, args.members_per_cell)
        async with db.session() as session:
            await session.execute(select(1))
        for breaches in (False, True):
            suffix = "with breaches" if breaches else "figures only"
            await time_status(db, ids[0] * 5, f"province, {suffix}", breaches=breaches)
            await time_status(db, ids[1][:20], f"upper unit, {suffix}", breaches=breaches)
            await time_status(db, ids[2][:50], f"grassroots committee, {suffix}", breaches=breaches)
            await time_status(db, ids[3][:50], f"cell, {suffix}", breaches=breaches)
        await time_files(db, ids[1][0], "files for an upper unit")
        await time_files(db, ids[0][0], "files for the province")
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
