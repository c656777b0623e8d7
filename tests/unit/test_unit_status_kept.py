"""Issue 13 at province scale, the organisations' section of /tinh_trang (issue 14): the units'
figures kept per organisation with the members' (bot/services/aggregates.py) equal
``unit_figures`` counted from scratch, at every organisation, after each of a sequence of writes:
unit reviews and proposals, a decision, a rating cancelled and made again, a unit not to be
rated, leaders added and removed (a grassroots committee to be rated or not), a unit put in a
peer group of its own (R-Q7 counted apart), a review held; then with nothing kept."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete
from sqlalchemy import select

from benchmarks.status import NOW
from benchmarks.status import TODAY
from benchmarks.status import build
from bot.services import aggregates
from bot.services import plans as plan_settings
from bot.services.status import count_status
from bot.services.status import plans_for
from bot.services.status import subtree_status
from bot.services.unit_rating_status import unit_figures
from storage import models
from storage.db import Database
from storage.db import settled


async def _same_everywhere(db: Database, org_ids: list[int]) -> list:
    """Each organisation's section, kept and counted whole, equal; the province's breaches."""
    province = []
    for org_id in org_ids:
        for _read in ("counted again or kept", "read back as kept"):
            async with db.session() as session:
                org = await session.get(models.Organisation, org_id)
                shown = (await subtree_status(session, org, now=NOW, today=TODAY)).units
                plans = await plans_for(session, org)
                counted = await unit_figures(session, org, plans.main, plans.ids)
                scratch = (await count_status(session, org, now=NOW, today=TODAY)).units
            await settled(db.engine)  # what the read kept is written in the background
            assert shown == counted == scratch, org.code
        province = province or [b.breach.code for b in shown.breaches]
    return province


async def test_the_kept_units_section_equals_a_count_from_scratch_after_every_write(
    database_url, monkeypatch
):
    db = Database(database_url)
    await db.migrate()
    try:
        ids = await build(db, 600, 10)  # 1 province, 100 upper units, 6 committees, 60 cells
        committees, cells = ids[2], ids[3]
        async with db.session() as session:
            parents = dict((await session.execute(select(
                models.Organisation.id, models.Organisation.parent_id))).all())
            leaders = (await session.scalars(select(models.Member.id).where(
                models.Member.org_id == cells[0]).order_by(models.Member.id).limit(2))).all()
        looked_at = [ids[0][0], parents[committees[0]], parents[committees[1]], *committees[:2],
                     cells[0], cells[11]]
        assert await _same_everywhere(db, looked_at) == []  # units to rate, no review yet
        breaches_seen = []

        async def step(write) -> None:
            async with db.session() as session:
                await write(session)
                await session.commit()
            breaches_seen.append(await _same_everywhere(db, looked_at))

        async def review_and_propose(session):  # every rated unit, half of them HTXS
            units = [*committees, *cells]
            reviews = [models.UnitReview(cycle_id=1, org_id=org_id, subject="organisation",
                                         state="drafting") for org_id in units]
            session.add_all(reviews)
            await session.flush()
            session.add_all(models.UnitRating(review_id=r.id, proposed_level=(
                "HTXS" if i % 2 else "HTT"), score_tenths=900) for i, r in enumerate(reviews))

        async def ratings_of(session, org_id: int) -> models.UnitRating:
            return await session.scalar(
                select(models.UnitRating).join(models.UnitReview).where(
                    models.UnitReview.org_id == org_id,
                    models.UnitRating.state != models.RatingState.CANCELLED))

        async def decide(session):
            rating = await ratings_of(session, cells[1])
            rating.state, rating.decided_level = models.RatingState.DECIDED, rating.proposed_level

        async def cancel_and_rate_again(session):
            rating = await ratings_of(session, cells[3])
            rating.state = models.RatingState.CANCELLED
            session.add(models.UnitRating(review_id=rating.review_id, proposed_level="HT"))

        async def not_rated(session):
            rating = await ratings_of(session, cells[5])
            rating.not_rated, rating.proposed_level = True, None

        async def two_leaders(session):  # the committee of the first grassroots is rated
            session.add_all(models.Role(member_id=m, org_id=committees[0], role=role)
                            for m, role in zip(leaders, ("secretary", "deputy"), strict=True))

        async def committee_reviewed(session):
            review = models.UnitReview(cycle_id=1, org_id=committees[0], subject="committee",
                                       state="reviewed")
            session.add(review)
            await session.flush()
            session.add(models.UnitRating(review_id=review.id, proposed_level="HTXS"))

        async def a_leader_leaves(session):
            role = await session.scalar(select(models.Role).where(
                models.Role.org_id == committees[0], models.Role.role == "deputy"))
            await session.delete(role)

        async def own_peer_group(session):  # through the plans' service, as /ke_hoach does
            cycle = await session.get(models.Cycle, 1)
            for cell in cells[:4]:
                org = await session.get(models.Organisation, cell)
                await plan_settings.save_unit_settings(
                    session, cycle, org, {plan_settings.PEER_GROUP: "A"}, actor="test",
                    now=NOW + dt.timedelta(minutes=1))

        async def held(session):
            review = await session.scalar(select(models.UnitReview).where(
                models.UnitReview.org_id == cells[11]))
            review.state = "reviewed"

        async def settings_dropped(session):  # a Core statement says what it changed
            await session.execute(delete(models.UnitPlanSetting))
            await aggregates.changed(session, cells[:4])

        for write in (review_and_propose, decide, cancel_and_rate_again, not_rated, two_leaders,
                      committee_reviewed, a_leader_leaves, own_peer_group, held, settings_dropped):
            await step(write)
        assert any(breaches_seen)  # R-Q7 was counted, not only found empty

        async with db.session() as session:  # nothing kept: one pass over the subtree
            await aggregates.forget(session)
        monkeypatch.setattr(aggregates, "BULK", 0)
        assert await _same_everywhere(db, looked_at) == breaches_seen[-1]
    finally:
        await db.dispose()
