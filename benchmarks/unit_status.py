"""The cost of the organisations' section of /tinh_trang (bot/services/unit_rating_status.py):
prints timings, asserts nothing.

    .venv/bin/python -m benchmarks.unit_status [--members 150000] [--repeat 10]

Builds ``benchmarks/province.py``'s tree on SQLite, gives every rated unit a review and a
proposal (one in five HTXS, one in three decided), then times ``unit_figures`` (the units to
rate, the grouped counts, R-Q7 over every deciding level's peer group) for the province and for
50 cells.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

from sqlalchemy import select

import benchmarks.province as province
from bot.services.status import plans_for
from bot.services.unit_rating_status import unit_figures
from rules.org_scoring import RATED_KINDS
from storage.models import Cycle
from storage.models import Organisation
from storage.models import UnitRating
from storage.models import UnitReview


async def propose_every_unit(db) -> int:
    async with db.session() as session:
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


async def time_units(db, province_id: int, cell_ids: list[int], repeat: int) -> None:
    print(f"  {await propose_every_unit(db):,} unit reviews, each with a proposal")
    for label, ids in (("province", [province_id] * repeat), ("one cell", cell_ids)):
        timings, found = [], 0
        for org_id in ids:
            async with db.session() as session:
                org = await session.get(Organisation, org_id)
                plans = await plans_for(session, org)
                start = time.perf_counter()
                figures = await unit_figures(session, org, plans.main, plans.ids)
                timings.append((time.perf_counter() - start) * 1000)
                found = len(figures.breaches)
        timings.sort()
        p95 = timings[max(int(len(timings) * 0.95 + 0.5) - 1, 0)]
        print(f"  units of {label:<10} n={len(timings):>3}  p50 {statistics.median(timings):8.1f} "
              f"ms  p95 {p95:8.1f} ms  ({found} R-Q7 breaches)")


if __name__ == "__main__":
    province.time_status = time_units  # the province builder, this part timed instead
    args = sys.argv[1:] or ["--members", "150000"]
    sys.argv = ["benchmarks.unit_status", "--parts", "status", "--repeat", "10", *args]
    asyncio.run(province.main())
