"""The breach checks batched per peer group in SQL (bot/services/breaches.py) find exactly what
checking every unit's members one by one finds (``checks.rated_members``, the rules): the same
breaches, told on the same units, naming the same members in the same order, for every
organisation of a random tree, under both rulebooks and the 2017 plan, with scores in every
band (R-C5)."""

import random

import pytest
from sqlalchemy import select
from sqlalchemy import update

from bot.services import breaches
from bot.services.checks import cap_breaches
from bot.services.checks import rated_members
from bot.services.checks import restrict
from bot.services.cycles import cycle_rulebook
from bot.services.status import UNIT_KINDS
from bot.services.status import enclosing_unit
from rules.quotas import QuotaScope
from rules.quotas import check_quota
from rules.rulebooks import PLAN_2017
from storage.db import Database
from storage.models import Cycle
from storage.models import Member
from storage.models import Organisation
from storage.models import SelfReview
from storage.queries import subtree_range
from tests.unit.test_monitor_batched import build


async def one_by_one(session, cycle, org):
    """Caps on every rated member of the subtree, then each grassroots unit's quota, the
    members read unit by unit."""
    rated = await rated_members(session, cycle, org)
    found = []
    org_of = {str(r.member.id): r.member.org_id for r in rated}
    for b in cap_breaches(rated, cycle):
        found.append((org_of[b.member_ids[0]], b))
    above = await enclosing_unit(session, org)
    units = [above] if above else (await session.scalars(
        select(Organisation).where(subtree_range(org.path), Organisation.kind.in_(UNIT_KINDS))
        .order_by(Organisation.path))).all()
    for unit in units:
        members = await rated_members(session, cycle, unit)
        for b in check_quota({str(r.member.id): r.level for r in members}, cycle_rulebook(cycle),
                             None, scope=QuotaScope.PEER_GROUP,
                             names={str(r.member.id): r.member.full_name for r in members}):
            if above is None:
                found.append((unit.id, b))
            else:  # a unit above `org`: its figures, the names of `org`'s subtree only
                inside = {str(m) for m in (await session.scalars(
                    select(Member.id).join(Organisation, Member.org_id == Organisation.id)
                    .where(subtree_range(org.path)))).all()}
                found.append((org.id, restrict(b, inside.__contains__)))
    return found


@pytest.mark.parametrize(
    ("rulebook", "overrides"),
    [("hd21-2019", None), ("qd366-2025", None), ("hd21-2019", PLAN_2017)],
)
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_batched_breaches_equal_the_checks_unit_by_unit(database_url, seed, rulebook,
                                                              overrides):
    db = Database(database_url)
    await db.migrate()
    rng = random.Random(seed)
    try:
        async with db.session() as session:
            cycle = await build(session, seed, rulebook, overrides)
            reviews = (await session.scalars(select(SelfReview.id))).all()
            for review_id in reviews:  # scores across the bands (0-30 and 0-70)
                await session.execute(update(SelfReview).where(SelfReview.id == review_id).values(
                    general_score=rng.randint(10, 30), task_score=rng.randint(25, 70)))
        async with db.session() as session:
            cycle = await session.get(Cycle, cycle.id)
            checked = 0
            for org in (await session.scalars(select(Organisation).order_by(Organisation.path))):
                expected = await one_by_one(session, cycle, org)
                assert await breaches.subtree_breaches(session, cycle, org) == expected, org.code
                checked += len(expected)
            assert checked > 0  # the tree does break rules
    finally:
        await db.dispose()
