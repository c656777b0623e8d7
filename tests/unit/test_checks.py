import datetime as dt

import pytest

from bot.services.checks import cell_breaches
from bot.services.checks import unit_breaches
from storage.db import Database
from storage.models import Cycle
from storage.models import Member
from storage.models import Organisation
from storage.models import Rating
from storage.queries import place_org


@pytest.fixture
async def db(database_url):
    database = Database(database_url)
    await database.migrate()
    yield database
    await database.dispose()


async def _unit(session, levels_by_cell, *, disciplined=()):
    root = Organisation(code="DBCS", name="Đảng bộ", kind="grassroots", path="")
    await place_org(session, root, None)
    cycle = Cycle(
        org_id=root.id,
        year=2026,
        rulebook="hd21-2019",
        finish_by=dt.date(2026, 12, 31),
        report_by=dt.date(2027, 1, 15),
    )
    session.add(cycle)
    cells = {}
    for cell_code, levels in levels_by_cell.items():
        cell = Organisation(code=cell_code, name=cell_code, kind="cell", path="")
        await place_org(session, cell, root)
        cells[cell_code] = cell
        for index, level in enumerate(levels):
            code = f"{cell_code}-{index}"
            member = Member(
                code=code,
                full_name=code,
                org_id=cell.id,
                status="official",
                admitted_on=dt.date(2000, 1, 1),
                discipline_form="warning" if code in disciplined else None,
            )
            session.add(member)
            await session.flush()
            session.add(Rating(cycle_id=cycle.id, member_id=member.id, proposed_level=level))
    await session.flush()
    return root, cycle, cells


async def test_quota_over_the_grassroots_committee_and_caps(db):
    async with db.session() as session:
        # 12 members reach HTT (HTXS included): at most 2 HTXS (20%, rounded down); 3 proposed.
        root, cycle, cells = await _unit(
            session,
            {
                "CB1": ["HTXS", "HTXS", "HTT", "HTT", "HTT", "HTT"],
                "CB2": ["HTXS", "HTT", "HTT", "HTT", "HTT", "HTT", "HT"],
            },
            disciplined={"CB2-1"},
        )
        by_unit = await unit_breaches(session, cycle, root)
        codes = sorted(b.code for b in by_unit[root.id])
        assert codes == ["cap.discipline", "quota.htxs_share"]
        quota = next(b for b in by_unit[root.id] if b.code == "quota.htxs_share")
        assert (quota.params["count"], quota.params["limit"]) == (3, 2)
        # Cell CB1 alone: 2 HTXS of 6 at HTT → a warning for the cell; plus the peer-group breach.
        cell = await cell_breaches(session, cycle, cells["CB1"])
        assert {b.code for b in cell} >= {"quota.htxs_share"}
        assert any(b.member_names == ("CB2-1",) for b in by_unit[root.id])


async def test_no_breach_within_the_quota(db):
    async with db.session() as session:
        root, cycle, _ = await _unit(
            session, {"CB1": ["HTXS", "HTT", "HTT", "HTT", "HTT"], "CB2": ["HTT"] * 5}
        )
        assert await unit_breaches(session, cycle, root) == {}
