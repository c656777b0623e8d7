"""Plans: overrides checked by the rulebook, deadlines inherited down the tree, earlier only
(R-D5), and the parsing of typed settings."""

import datetime as dt
import json

import pytest

from bot.services import plans
from bot.services.plans import PlanError
from bot.services.plans import save_own_plan
from bot.services.plans import save_unit_deadlines
from storage.db import Database
from storage.models import Organisation
from storage.queries import place_org

D = dt.date
NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


@pytest.fixture
async def db(database_url):
    database = Database(database_url)
    await database.migrate()
    yield database
    await database.dispose()


async def _tree(session):
    orgs = {}
    for code, kind, parent in (("UP", "upper", None), ("GR", "grassroots", "UP"),
                               ("C1", "cell", "GR"), ("C2", "cell", "GR")):
        org = Organisation(code=code, name=code, kind=kind, path="")
        await place_org(session, org, orgs.get(parent))
        orgs[code] = org
    return orgs


async def test_own_plan_with_overrides_and_defaults(db):
    async with db.session() as session:
        orgs = await _tree(session)
        cycle = await save_own_plan(
            session, orgs["UP"], year=2026, rulebook_code="hd21-2019",
            overrides={"htxs_quota_percent": 15, "small_cell_size_below": 7},
            deadlines={"finish_by": D(2026, 12, 20)}, actor="test", now=NOW)
        assert json.loads(cycle.overrides) == {"htxs_quota_percent": 15,
                                               "small_cell_size_below": 7}
        assert (cycle.finish_by, cycle.report_by) == (D(2026, 12, 20), D(2027, 2, 20))
        found = await plans.effective_deadlines(session, cycle, orgs["C1"])
        assert found == {
            "finish_by": D(2026, 12, 20), "report_by": D(2027, 2, 20),
            "leaders_reviewed": D(2026, 12, 10), "leader_files": D(2026, 12, 15),
            "grassroots_done": D(2026, 12, 31), "upper_done": D(2027, 1, 15),
            "results_reported": D(2027, 2, 20)}


@pytest.mark.parametrize("overrides", [{"htxs_quota_percent": 150}, {"no_such": 1},
                                       {"head_cap": 3}])
async def test_bad_overrides_are_refused(db, overrides):
    async with db.session() as session:
        orgs = await _tree(session)
        with pytest.raises(PlanError):
            await save_own_plan(session, orgs["UP"], year=2026, rulebook_code="qd366-2025",
                                overrides=overrides, deadlines={}, actor="t", now=NOW)


async def test_units_inherit_and_may_only_set_earlier_deadlines(db):
    async with db.session() as session:
        orgs = await _tree(session)
        cycle = await save_own_plan(session, orgs["UP"], year=2026, rulebook_code="qd366-2025",
                                    overrides={}, deadlines={}, actor="t", now=NOW)
        await save_unit_deadlines(session, orgs["GR"], cycle, {"finish_by": D(2026, 12, 25)},
                                  actor="t", now=NOW)
        await save_unit_deadlines(session, orgs["C1"], cycle, {"finish_by": D(2026, 12, 20)},
                                  actor="t", now=NOW)
        with pytest.raises(PlanError) as later:  # C2 may not go past GR's 25/12
            await save_unit_deadlines(session, orgs["C2"], cycle,
                                      {"finish_by": D(2026, 12, 28)}, actor="t", now=NOW)
        [breach] = later.value.breaches
        assert breach.rule_ids == ("R-D5",)
        assert breach.render() == (
            "The deadline 28/12/2026 is later than the upper level's 25/12/2026 (R-D5)")
        with pytest.raises(PlanError):  # GR may not move before C1's own 20/12 …
            await save_unit_deadlines(session, orgs["GR"], cycle, {"finish_by": D(2026, 12, 15)},
                                      actor="t", now=NOW)
        with pytest.raises(PlanError):  # … nor open its own plan under UP's
            await save_own_plan(session, orgs["GR"], year=2026, rulebook_code="qd366-2025",
                                overrides={}, deadlines={}, actor="t", now=NOW)
        eff = {code: (await plans.effective_deadlines(session, cycle, orgs[code]))["finish_by"]
               for code in ("UP", "GR", "C1", "C2")}
        assert eff == {"UP": D(2026, 12, 31), "GR": D(2026, 12, 25), "C1": D(2026, 12, 20),
                       "C2": D(2026, 12, 25)}


@pytest.mark.parametrize(
    ("key", "text", "value"),
    [("htxs_quota_percent", "15", 15), ("small_cell_size_below", "không", None),
     ("head_cap", "có", True), ("head_cap", "không", False), ("sick_leave_cap_months", "3", 3)],
)
def test_parse_setting(key, text, value):
    assert plans.parse_setting(key, text) == value


@pytest.mark.parametrize(("key", "text"), [("htxs_quota_percent", "mười"),
                                           ("head_cap", "2"), ("htxs_quota_percent", "không")])
def test_parse_setting_refuses(key, text):
    with pytest.raises(ValueError):
        plans.parse_setting(key, text)


def test_every_setting_is_a_rulebook_setting():
    for setting in plans.SETTINGS:
        for code in ("hd21-2019", "qd366-2025"):
            rb = plans.check_overrides(code, {})
            assert hasattr(rb, setting.key)


def test_parse_date():
    assert plans.parse_date(" 20/12/2026 ") == D(2026, 12, 20)
    assert plans.parse_date("31/02/2026") is None
    assert plans.parse_date("2026-12-20") is None
