"""The deadline monitor's breach checks, batched per peer group (bot/jobs.py), tell exactly what
the per-cell checks (``checks.cell_breaches``, as the monitor ran them before) find: the same
breaches, on the same units, to the same committee members, in the same order."""

import datetime as dt
import json
import random

import pytest

from bot.config import Settings
from bot.i18n import Translator
from bot.jobs import _digest
from bot.jobs import breach_line
from bot.jobs import decide
from bot.services import Services
from bot.services import notify
from bot.services.checks import cell_breaches
from bot.services.notify import COMMITTEE_ROLES
from bot.services.reviews import grassroots_root
from rules.rulebooks import PLAN_2017
from storage.db import Database
from storage.models import Cycle
from storage.models import Member
from storage.models import Organisation
from storage.models import OrgKind
from storage.models import Rating
from storage.models import Role
from storage.models import SelfReview
from storage.queries import place_org

NOW = dt.datetime(2026, 11, 20, 3, 0, tzinfo=dt.UTC)  # 10:00 in Vietnam, nothing else due
LEVELS = ["HTXS", "HTXS", "HTT", "HTT", "HTT", "HT", "KHT"]


async def build(session, seed: int, rulebook: str, overrides: dict | None):
    rng = random.Random(seed)
    upper = Organisation(code="UP", name="Đảng ủy", kind="upper", path="")
    await place_org(session, upper, None)
    cycle = Cycle(
        org_id=upper.id,
        year=2026,
        rulebook=rulebook,
        finish_by=dt.date(2026, 12, 31),
        report_by=dt.date(2027, 1, 15),
        overrides=json.dumps(overrides) if overrides else None,
    )
    session.add(cycle)
    units = []
    for g in range(2):
        root = Organisation(code=f"DB{g}", name=f"Đảng bộ {g}", kind="grassroots", path="")
        await place_org(session, root, upper)
        units.append(root)
        for c in range(3):
            cell = Organisation(code=f"CB{g}{c}", name=f"Chi bộ {g}{c}", kind="cell", path="")
            await place_org(session, cell, root)
            units.append(cell)
    alone = Organisation(code="CBCS", name="Chi bộ cơ sở", kind="grassroots_cell", path="")
    await place_org(session, alone, upper)
    units.append(alone)
    await session.flush()
    number = 0
    for unit in [upper, *units]:
        cells = OrgKind(unit.kind).is_cell
        for _ in range(rng.randint(3, 9) if cells else 0):
            number += 1
            member = Member(
                code=f"M{number}",
                full_name=f"Đảng viên {rng.randint(1, 30):02d}",
                org_id=unit.id,
                status="official",
                admitted_on=dt.date(2001, 1, 1),
                sick_leave_months=rng.choice([0, 0, 0, 4, 7]),
                discipline_form=rng.choice([None, None, None, "reprimand"]),
                discipline_in_official_duties=rng.random() < 0.5,
                head=rng.random() < 0.1,
            )
            session.add(member)
            await session.flush()
            if rng.random() < 0.85:
                session.add(
                    Rating(
                        cycle_id=cycle.id,
                        member_id=member.id,
                        proposed_level=rng.choice(LEVELS),
                        state=rng.choice(["proposed", "proposed", "cancelled"]),
                    )
                )
            if rng.random() < 0.5:
                session.add(
                    SelfReview(
                        cycle_id=cycle.id,
                        member_id=member.id,
                        form_code="02",
                        state="submitted",
                        stage="preview",
                        general_score=rng.randint(50, 100),
                        task_score=rng.randint(50, 100),
                    )
                )
    for unit in [upper, *units]:
        holder = await session.scalar(
            Member.__table__.select()
            .with_only_columns(Member.id)
            .limit(1)
            .offset(rng.randint(0, number - 1))
        )
        session.add(
            Role(
                member_id=holder,
                org_id=unit.id,
                role=rng.choice(["secretary", "committee_member", "deputy"]),
            )
        )
    await session.flush()
    return cycle


async def reference(session, cycle, t) -> dict[int, list[tuple[str, str]]]:
    """The monitor's breaches as it found them cell by cell, before the batching."""
    cells = (
        await session.scalars(
            Organisation.__table__.select()
            .with_only_columns(Organisation.id)
            .where(Organisation.kind.in_(["cell", "grassroots_cell"]))
            .order_by(Organisation.path)
        )
    ).all()
    found: dict = {}
    for cell_id in cells:
        cell = await session.get(Organisation, cell_id)
        rated = await session.scalar(
            Rating.__table__.select()
            .with_only_columns(Rating.id)
            .join(Member.__table__, Member.id == Rating.member_id)
            .where(Rating.cycle_id == cycle.id, Member.org_id == cell.id)
            .limit(1)
        )
        if rated is None:
            continue
        for breach in await cell_breaches(session, cycle, cell):
            peer = breach.code.startswith("quota.") and "R-Q5" not in breach.rule_ids
            unit = cell
            if peer and cell.parent_id is not None and cell.org_kind is OrgKind.CELL:
                unit = await grassroots_root(session, cell)
            found.setdefault(unit.id, (unit, {}))[1].setdefault(_digest(breach), breach)
    plan: dict[int, list[tuple[str, str]]] = {}
    for unit, breaches in found.values():
        ancestors = [int(p) for p in unit.path.strip("/").split("/")]
        above = ancestors if not unit.org_kind.is_cell else ancestors[:-1]
        holders = await notify.role_holders(session, above, COMMITTEE_ROLES)
        for member_id in dict.fromkeys(m.id for m, _ in holders):
            for digest, breach in breaches.items():
                plan.setdefault(member_id, []).append(
                    (f"{unit.id}:{digest}", breach_line(t, breach))
                )
    return plan


@pytest.mark.parametrize(
    ("rulebook", "overrides"),
    [("hd21-2019", None), ("qd366-2025", None), ("hd21-2019", PLAN_2017)],
)
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_batched_breaches_equal_the_per_cell_checks(tmp_path, seed, rulebook, overrides):
    url = f"sqlite+aiosqlite:///{tmp_path}/batched.db"
    db = Database(url)
    await db.migrate()
    t = Translator("vi")
    try:
        async with db.session() as session:
            cycle = await build(session, seed, rulebook, overrides)
        async with db.session() as session:
            cycle = await session.get(Cycle, cycle.id)
            expected = await reference(session, cycle, t)
            services = Services(settings=Settings(bot_token="x", database_url=url), db=db)
            plan = await decide(session, services, NOW)
        got = {
            member_id: [(i.stage, i.render(t)) for i in items if i.kind == "breach"]
            for member_id, items in plan.items.items()
        }
        got = {k: v for k, v in got.items() if v}
        assert got == expected
        assert sum(len(v) for v in expected.values()) > 0  # the tree does break rules
    finally:
        await db.dispose()
