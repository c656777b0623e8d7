"""Drivers (issue 14, part C): a participating body's opinion (/y_kien), lowering a unit's
proposal from /quyet_dinh, and the settings a level above gives a unit in /ke_hoach."""

from __future__ import annotations

from storage.models import ParticipantOpinion
from storage.models import Role
from storage.models import UnitPlanSetting
from storage.models import UnitRating
from storage.models import UnitRatingChange
from storage.models import UnitReview
from tests.e2e.flows import Reached
from tests.e2e.flows import World
from tests.e2e.flows import answer_of
from tests.e2e.flows import ask
from tests.e2e.test_status_tree import query

OPINION = "Chi bộ đoàn kết, hoàn thành tốt nhiệm vụ chuyên môn được giao."


async def _units(world: World) -> None:
    """Once per world: the cells of DBCS1 proposed (as part B leaves them), and Giang, a member
    of its committee, also its organising office (who speaks for any body)."""
    if world.notes.get("units"):
        return
    tree = world.tree

    async def write(session):
        for code, level in (("CB11", "HTXS"), ("CB12", "HTT")):
            review = UnitReview(cycle_id=tree.cycle_id, org_id=tree.org_ids[code],
                                subject="organisation", state="reviewed")
            session.add(review)
            await session.flush()
            session.add(UnitRating(review_id=review.id, state="proposed", proposed_level=level,
                                   score_tenths=910))
        session.add(Role(member_id=tree.member_ids["DV201"], org_id=tree.org_ids["DBCS1"],
                         role="organising_office"))
        await session.commit()

    await query(world.database_url, write)
    world.notes["units"] = True


def _snapshot(world: World):
    async def snapshot():
        return (await world.rows(ParticipantOpinion), await world.rows(UnitRating),
                await world.rows(UnitRatingChange), await world.rows(UnitPlanSetting))

    return snapshot


def pressing(driver, label: str):
    """A driver one step further: `driver`, then `label` pressed on its prompt."""

    async def step(world: World) -> Reached:
        reached = await driver(world)
        prompt = await answer_of(reached.user, label, reached.prompt)
        return Reached(reached.user, prompt, reached.snapshot)

    return step


def typing(driver, text: str):
    """A driver one step further: `driver`, then `text` typed at its step."""

    async def step(world: World) -> Reached:
        reached = await driver(world)
        return Reached(reached.user, await ask(reached.user, text), reached.snapshot)

    return step


async def opinion_unit(world: World) -> Reached:
    await _units(world)
    giang = world.user("DV201")
    prompt = await ask(giang, "/y_kien")  # two cells wait: which one
    return Reached(giang, prompt, _snapshot(world))


async def lower_level(world: World) -> Reached:
    await _units(world)
    giang = world.user("DV201")
    view = await ask(giang, "/quyet_dinh CB11")  # the cell's proposal, then its members
    await giang.wait_message()
    prompt = await answer_of(giang, "⬇ Hạ mức: Chi bộ Phòng Kỹ thuật", view)
    return Reached(giang, prompt, _snapshot(world))


async def plan_unit(world: World) -> Reached:
    phuc = world.user("DV401")  # a member of the province's committee, above the cell
    prompt = await ask(phuc, "/ke_hoach CB11")  # qd366-2025: the outstanding share, the group
    return Reached(phuc, prompt, _snapshot(world))


opinion_body = pressing(opinion_unit, "Chi bộ Phòng Kỹ thuật")
opinion_level = pressing(opinion_body, "Tập thể lãnh đạo cơ quan, đơn vị")
opinion_text = pressing(opinion_level, "HTT (Hoàn thành tốt nhiệm vụ)")
lower_reason = pressing(lower_level, "HTT (Hoàn thành tốt nhiệm vụ)")

DRIVERS = {
    ("unit_opinion", "unit"): opinion_unit,
    ("unit_opinion", "body"): opinion_body,
    ("unit_opinion", "level"): opinion_level,
    ("unit_opinion", "text"): opinion_text,
    ("unit_opinion", "confirm"): typing(opinion_text, OPINION),
    ("unit_lower", "level"): lower_level,
    ("unit_lower", "reason"): lower_reason,
    ("unit_lower", "confirm"): typing(lower_reason, "Chưa hoàn thành chỉ tiêu an toàn lao động."),
    ("plan", "unit"): plan_unit,
    ("plan", "group"): pressing(plan_unit, "✏ 2"),
}
