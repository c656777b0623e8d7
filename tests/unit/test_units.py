"""The shared base of organisation ratings (bot/services/units.py): subjects, leaders, the
people who take part, who decides, and one review row per subject however many ask at once."""

import asyncio
import datetime as dt

import pytest

from bot.services import units
from storage.db import Database
from storage.models import Cycle
from storage.models import Member
from storage.models import Organisation
from storage.models import Role
from storage.models import UnitSubject
from storage.queries import place_org


@pytest.fixture
async def db(database_url):
    database = Database(database_url)
    await database.migrate()
    yield database
    await database.dispose()


async def _org(session, code, kind, parent=None, founded_on=None):
    org = Organisation(code=code, name=code, kind=kind, path="", founded_on=founded_on)
    await place_org(session, org, parent)
    return org


async def _member(session, code, name, org, **facts):
    member = Member(code=code, full_name=name, org_id=org.id, status="official",
                    admitted_on=dt.date(2000, 1, 1), **facts)
    session.add(member)
    await session.flush()
    return member


async def _tree(session):
    upper = await _org(session, "XA", "upper")
    grassroots = await _org(session, "DBCS", "grassroots", upper)
    cell = await _org(session, "CB1", "cell", grassroots)
    lone = await _org(session, "CBCS", "grassroots_cell", upper)
    secretary = await _member(session, "DV1", "Vũ Văn Bình", cell)
    deputy = await _member(session, "DV2", "Đặng Thị An", cell)
    await _member(session, "DV3", "Dương Văn Cường", cell)
    await _member(session, "DV4", "Lê Văn Miễn", cell, exempt=True)
    session.add_all([
        Role(member_id=secretary.id, org_id=grassroots.id, role="secretary"),
        Role(member_id=deputy.id, org_id=grassroots.id, role="committee_member"),
        Role(member_id=secretary.id, org_id=cell.id, role="secretary"),
    ])
    cycle = Cycle(org_id=upper.id, year=2026, rulebook="hd21-2019",
                  finish_by=dt.date(2026, 12, 31), report_by=dt.date(2027, 1, 15))
    session.add(cycle)
    await session.flush()
    return upper, grassroots, cell, lone, cycle, secretary


async def test_subjects_participants_and_deciding_levels(db):
    async with db.session() as session:
        upper, grassroots, cell, lone, cycle, secretary = await _tree(session)
        assert await units.subjects_of(session, upper) == ()
        assert await units.subjects_of(session, cell) == (UnitSubject.ORGANISATION,)
        # Two leaders on the đảng bộ: its committee is rated too; the lone chi bộ cơ sở has none.
        assert await units.subjects_of(session, grassroots) == (
            UnitSubject.ORGANISATION, UnitSubject.COMMITTEE)
        assert await units.subjects_of(session, lone) == (UnitSubject.ORGANISATION,)

        cell_review = await units.ensure_review(session, cycle, cell, UnitSubject.ORGANISATION)
        names = [m.full_name for m in await units.participants(session, cell_review)]
        assert names == ["Đặng Thị An", "Vũ Văn Bình", "Dương Văn Cường"]  # the exempt left out
        committee = await units.ensure_review(session, cycle, grassroots, UnitSubject.COMMITTEE)
        assert [m.code for m in await units.participants(session, committee)] == ["DV2", "DV1"]

        assert (await units.deciding_org(session, cell)).code == "DBCS"
        assert (await units.deciding_org(session, grassroots)).code == "XA"
        assert (await units.deciding_org(session, lone)).code == "XA"
        assert await units.deciding_org(session, upper) is None
        assert [o.code for o in await units.led_units(session, secretary)] == ["DBCS", "CB1"]
        assert [h.code for h in await units.heads(session, cell.id)] == ["DV1"]


async def test_one_review_per_subject_when_two_ask_at_once(db):
    async with db.session() as session:
        _upper, _grassroots, cell, _lone, cycle, _secretary = await _tree(session)
        cycle_id, cell_id = cycle.id, cell.id

    async def open_review():
        async with db.session() as session:
            cycle_row = await session.get(Cycle, cycle_id)
            org = await session.get(Organisation, cell_id)
            return (await units.ensure_review(session, cycle_row, org, UnitSubject.ORGANISATION)).id

    first, second = await asyncio.gather(open_review(), open_review())
    assert first == second
    async with db.session() as session:
        assert [r.id for r in await units.reviews_of(session, cycle_id, cell_id)] == [first]


async def test_org_facts_feed_the_new_organisation_rule(db):
    async with db.session() as session:
        upper = await _org(session, "XA", "upper")
        young = await _org(session, "CBM", "grassroots_cell", upper, founded_on=dt.date(2026, 9, 1))
        facts = units.org_facts(young)
        assert facts.founded_on == dt.date(2026, 9, 1)
        assert facts.kind.value == "grassroots_cell"


async def test_a_grassroots_cells_committee_is_reviewed_by_the_whole_cell(db):
    async with db.session() as session:
        _upper, _grassroots, _cell, lone, cycle, _secretary = await _tree(session)
        first = await _member(session, "L1", "Ngô Văn Hải", lone)
        second = await _member(session, "L2", "Mai Thị Hoa", lone)
        plain = await _member(session, "L3", "Lý Văn Khoa", lone)
        session.add_all([Role(member_id=first.id, org_id=lone.id, role="secretary"),
                         Role(member_id=second.id, org_id=lone.id, role="deputy")])
        await session.flush()
        assert await units.subjects_of(session, lone) == (
            UnitSubject.ORGANISATION, UnitSubject.COMMITTEE)
        committee = await units.ensure_review(session, cycle, lone, UnitSubject.COMMITTEE)
        assert {m.code for m in await units.participants(session, committee)} == {
            first.code, second.code, plain.code}
