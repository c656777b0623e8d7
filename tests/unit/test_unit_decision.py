"""Issue 14, part C, without Telegram: who speaks for which body, opinions replaced, the decision
view of a deciding level (R-Q7 over its peer group, R-Q5's groups, R-Q1's share, R-E4), deciding
and cancelling with history, and R-C4 on heads (waiting, then capped)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.permissions import Grant
from bot.permissions import speaks_for
from bot.services import plans
from bot.services import unit_decision as decisions
from bot.services import unit_opinion as opinions
from bot.services.checks import cell_breaches
from bot.services.decision import decision_view as member_decision_view
from bot.services.unit_rating import head_caps
from rules.levels import Level
from storage.models import Cycle
from storage.models import Member
from storage.models import Organisation
from storage.models import ParticipantBody
from storage.models import ParticipantOpinion
from storage.models import Rating
from storage.models import Role
from storage.models import RoleKind
from storage.models import UnitRating
from storage.models import UnitRatingChange
from storage.models import UnitReview
from storage.queries import place_org
from tests.unit import test_units

db = test_units.db  # the fixture: a migrated database
NOW = dt.datetime(2026, 12, 1, 3, 0, tzinfo=dt.UTC)
TODAY = NOW.date()


async def _org(session, code, kind, parent=None, **facts):
    org = Organisation(code=code, name=f"Tổ chức {code}", kind=kind, path="",
                       founded_on=facts.pop("founded_on", dt.date(2000, 1, 1)), **facts)
    await place_org(session, org, parent)
    return org


async def _member(session, code, org, **facts):
    member = Member(code=code, full_name=f"Đảng viên {code}", org_id=org.id, status="official",
                    admitted_on=dt.date(2000, 1, 1), **facts)
    session.add(member)
    await session.flush()
    return member


async def _proposed(session, cycle, org, level, subject="organisation", state="proposed"):
    review = UnitReview(cycle_id=cycle.id, org_id=org.id, subject=subject)
    session.add(review)
    await session.flush()
    rating = UnitRating(review_id=review.id, state=state, proposed_level=level, score_tenths=905,
                        decided_level=level if state == "decided" else None)
    session.add(rating)
    await session.flush()
    return review, rating


async def _tree(session, rulebook="qd366-2025", cells=5):
    upper = await _org(session, "XA", "upper")
    root = await _org(session, "DB", "grassroots", upper)
    made = [await _org(session, f"CB{i}", "cell", root, residential=i == 0) for i in range(cells)]
    cycle = Cycle(org_id=upper.id, year=2026, rulebook=rulebook,
                  finish_by=dt.date(2026, 12, 31), report_by=dt.date(2027, 1, 15))
    session.add(cycle)
    await session.flush()
    return upper, root, made, cycle


def _grant(role, org, decides=True):
    return Grant(role=role, org_id=org.id, org_path=org.path, org_code=org.code,
                 org_is_cell=org.kind == "cell", org_decides=decides)


async def test_who_speaks_for_which_body(db):
    async with db.session() as session:
        upper, root, cells, cycle = await _tree(session)
        village, agency = cells[0], cells[1]
        assert opinions.bodies_for(village) == (
            ParticipantBody.COUNCIL, ParticipantBody.FRONT, ParticipantBody.MASS_ORGS)
        assert opinions.bodies_for(agency) == (ParticipantBody.LEADERSHIP, ParticipantBody.MASS_ORGS)
        assert ParticipantBody.ADVISORY in opinions.bodies_for(root)
        assert opinions.bodies_for(upper) == ()
        front = [_grant(RoleKind.REP_FRONT, root)]
        assert speaks_for(front, village.path, root.path) == {ParticipantBody.FRONT}
        assert speaks_for(front, upper.path, None) == set()  # outside its subtree
        office = [_grant(RoleKind.ORGANISING_OFFICE, root)]
        assert speaks_for(office, village.path, root.path) == set(ParticipantBody)
        # The đảng bộ's own office does not speak on the đảng bộ, which its upper level decides.
        assert speaks_for(office, root.path, upper.path) == set()
        secretary = [_grant(RoleKind.SECRETARY, root)]
        assert speaks_for(secretary, village.path, root.path) == set()

        review, _rating = await _proposed(session, cycle, village, "HTT")
        await _proposed(session, cycle, agency, "HTT")
        found = await opinions.open_reviews(session, tuple(front))
        assert [(i.org.code, i.bodies) for i in found] == [("CB0", (ParticipantBody.FRONT,))]
        both = await opinions.open_reviews(session, tuple(office))
        assert [i.org.code for i in both] == ["CB0", "CB1"]
        item = found[0]
        await opinions.save_opinion(session, item, ParticipantBody.FRONT, Level.HTT, "Tốt, đoàn kết.",
                                    actor="tg:1", now=NOW)
        await opinions.save_opinion(session, item, ParticipantBody.FRONT, None, "Chưa đề xuất mức.",
                                    actor="tg:2", now=NOW)
        rows = (await session.scalars(select(ParticipantOpinion))).all()
        assert [(r.body, r.level, r.text, r.entered_by) for r in rows] == [
            ("front", None, "Chưa đề xuất mức.", "tg:2")]
        with pytest.raises(ValueError):  # a body the reader does not speak for
            await opinions.save_opinion(session, item, ParticipantBody.COUNCIL, None, "x" * 20,
                                        actor="tg:1", now=NOW)
        assert await opinions.open_review(session, tuple(front), review.id) is not None
        _, rating = review, await session.scalar(select(UnitRating).where(UnitRating.review_id == review.id))
        rating.state = "decided"
        await session.flush()
        assert await opinions.open_review(session, tuple(front), review.id) is None  # decided


async def test_org_quota_over_the_peer_group_and_its_settings(db):
    async with db.session() as session:
        _upper, root, cells, cycle = await _tree(session, cells=6)
        for i, cell in enumerate(cells):  # 2 HTXS of 6 reaching HTT: 20% of 6 is 1
            await _proposed(session, cycle, cell, "HTXS" if i < 2 else "HTT")
        view = await decisions.decision_view(session, root, root, cycle, TODAY)
        assert len(view.proposals) == 6 and view.blocked
        assert [b.code for b in view.breaches] == ["quota.org_share"]
        # A cell's own screen is blocked by its peer group, as members are.
        one = await decisions.decision_view(session, root, cells[5], cycle, TODAY)
        assert [u.org.code for u in one.proposals] == ["CB5"] and one.blocked
        # R-Q1: the upper level grants the đảng bộ the outstanding share: 25% of 6 is still 1.
        await plans.save_unit_settings(session, cycle, root, {plans.OUTSTANDING: True},
                                       actor="cli", now=NOW)
        assert (await decisions.decision_view(session, root, root, cycle, TODAY)).blocked
        # R-Q5: the deciding level splits its cells into two peer groups of three.
        for cell in cells[:3]:
            await plans.save_unit_settings(session, cycle, cell, {plans.PEER_GROUP: "thon"},
                                           actor="cli", now=NOW)
        view = await decisions.decision_view(session, root, root, cycle, TODAY)
        # 2 HTXS of 3 in THON (1 allowed: R-Q4's small group), none in the others.
        assert [(b.code, b.member_names) for b in view.breaches] == [
            ("quota.org_small_group", ("Tổ chức CB0", "Tổ chức CB1"))]
        other = await decisions.decision_view(session, root, cells[4], cycle, TODAY)
        assert not other.blocked  # its own group breaks nothing


async def test_hd21_ignores_peer_groups(db):
    async with db.session() as session:
        _upper, root, cells, cycle = await _tree(session, rulebook="hd21-2019", cells=6)
        for i, cell in enumerate(cells):
            await _proposed(session, cycle, cell, "HTXS" if i < 2 else "HTT")
        assert plans.unit_settings_apply(plans.rulebook("hd21-2019")) == ()
        view = await decisions.decision_view(session, root, cells[4], cycle, TODAY)
        assert view.blocked  # the đảng bộ's one group


async def test_decide_young_unit_and_cancel(db):
    async with db.session() as session:
        _upper, root, cells, cycle = await _tree(session, cells=1)
        young = await _org(session, "CBM", "cell", root, founded_on=dt.date(2026, 9, 1))
        review, rating = await _proposed(session, cycle, cells[0], "HTT")
        young_review, young_rating = await _proposed(session, cycle, young, "HTXS")
        waiting = UnitReview(cycle_id=cycle.id, org_id=(await _org(session, "CBX", "cell", root)).id,
                             subject="organisation")
        session.add(waiting)
        await session.flush()
        view = await decisions.decision_view(session, root, root, cycle, TODAY)
        assert [u.org.code for u in view.proposals] == ["CB0", "CBM"]
        assert [u.org.code for u in view.waiting] == ["CBX"]
        assert view.proposals[1].not_rated and view.proposals[1].level is None
        assert not view.blocked  # the young unit's HTXS is not counted (R-E4)
        decided = await decisions.decide(session, view, actor="tg:9", now=NOW)
        assert len(decided) == 2
        assert (rating.state, rating.decided_level) == ("decided", "HTT")
        assert (young_rating.state, young_rating.decided_level, young_rating.not_rated) == (
            "decided", None, True)
        unit = decided[0]
        fresh = await decisions.cancel_decided(session, unit, actor="tg:9", now=NOW,
                                               reason="Phát hiện sai sót sau khi xếp loại.")
        assert rating.state == "cancelled" and fresh.state == "proposed"
        changes = (await session.scalars(
            select(UnitRatingChange.kind).where(UnitRatingChange.rating_id.in_([rating.id, fresh.id]))
            .order_by(UnitRatingChange.id))).all()
        assert changes == ["decided", "cancelled", "reopened"]
        view = await decisions.decision_view(session, root, root, cycle, TODAY)
        assert [u.org.code for u in view.waiting] == ["CB0", "CBX"]  # reopened, no proposal yet


async def test_head_waits_then_is_capped(db):
    async with db.session() as session:
        _upper, root, cells, cycle = await _tree(session, rulebook="hd21-2019", cells=2)
        agency, village = cells[1], cells[0]
        secretary = await _member(session, "S1", agency)
        village_secretary = await _member(session, "S0", village)
        plain = await _member(session, "P1", agency)
        session.add_all([
            Role(member_id=secretary.id, org_id=agency.id, role="secretary"),
            Role(member_id=village_secretary.id, org_id=village.id, role="secretary"),
        ])
        for member, level in ((secretary, "HTXS"), (village_secretary, "HTT"), (plain, "HTT")):
            session.add(Rating(cycle_id=cycle.id, member_id=member.id, state="proposed",
                               proposed_level=level))
        review, rating = await _proposed(session, cycle, agency, "HTT")
        await _proposed(session, cycle, village, "HT")
        await session.flush()
        caps = await head_caps(session, cycle, [secretary, village_secretary, plain])
        assert caps[secretary.id].waits and caps[secretary.id].level is None
        assert not caps[village_secretary.id].waits  # R-C4's village exception
        members = await member_decision_view(session, agency, cycle)
        assert [r.member.code for r in members.waiting] == ["S1"]
        assert [r.member.code for r in members.proposals] == ["P1"]

        view = await decisions.decision_view(session, root, root, cycle, TODAY)
        await decisions.decide(session, view, actor="tg:9", now=NOW)
        capped = await decisions.capped_heads(session, cycle, view.proposals)
        assert [(c.rated.member.code, c.cap) for c in capped] == [("S1", Level.HTT)]
        members = await member_decision_view(session, agency, cycle)
        assert not members.waiting and [b.code for b in members.breaches] == ["cap.head"]
        assert "cap.head" in [b.code for b in await cell_breaches(session, cycle, agency)]
        # The village cell's secretary is not a public servant: rated above the cell.
        assert "cap.head" not in [b.code for b in await cell_breaches(session, cycle, village)]
        village_secretary.public_servant = True
        await session.flush()
        assert "cap.head" in [b.code for b in await cell_breaches(session, cycle, village)]


async def test_members_quota_counts_the_plan_settings(db):
    """Item 8: R-Q1's outstanding share granted in the plan, and R-Q5's peer groups, reach the
    members' quota checks (qd366-2025)."""
    async with db.session() as session:
        _upper, root, cells, cycle = await _tree(session, cells=4)
        for i, cell in enumerate(cells):  # two members each: 8 reaching HTT, 2 HTXS in CB0
            for j in range(2):
                member = await _member(session, f"M{i}{j}", cell)
                session.add(Rating(cycle_id=cycle.id, member_id=member.id, state="proposed",
                                   proposed_level="HTXS" if i == 0 else "HTT"))
        await session.flush()

        def codes(found):
            return sorted(b.code for b in found if b.severity.value == "error")

        assert codes(await cell_breaches(session, cycle, cells[1])) == ["quota.htxs_share"]  # 1 of 8
        await plans.save_unit_settings(session, cycle, root, {plans.OUTSTANDING: True},
                                       actor="cli", now=NOW)
        assert codes(await cell_breaches(session, cycle, cells[1])) == []  # 25% of 8 is 2
        await plans.save_unit_settings(session, cycle, root, {plans.OUTSTANDING: False},
                                       actor="cli", now=NOW)
        # The deciding level puts CB0 and CB1 in one group: 2 HTXS of 4 (small group: 1).
        for cell in cells[:2]:
            await plans.save_unit_settings(session, cycle, cell, {plans.PEER_GROUP: "a"},
                                           actor="cli", now=NOW)
        assert codes(await cell_breaches(session, cycle, cells[1])) == ["quota.htxs_small_group"]
        assert codes(await cell_breaches(session, cycle, cells[3])) == []  # the other group
