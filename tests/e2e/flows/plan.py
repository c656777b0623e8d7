"""Drivers: the plan (/ke_hoach), step by step; lowering a proposal after the ballot."""

from __future__ import annotations

from handlers.views.plan import LowerButton
from storage.models import Cycle
from storage.models import Rating
from storage.models import RatingChange
from storage.models import UnitDeadline
from tests.e2e.flows import Reached
from tests.e2e.flows import World
from tests.e2e.flows import answer_of
from tests.e2e.flows import ask
from tests.e2e.test_status_tree import YEAR


def _plan(world: World):
    async def snapshot():
        return await world.rows(Cycle), await world.rows(UnitDeadline)

    return snapshot


async def plan_year(world: World) -> Reached:
    phuc = world.user("DV401")  # committee member of the province, which holds the plan
    prompt = await ask(phuc, "/ke_hoach")
    return Reached(phuc, prompt, _plan(world))


async def then_press(reached: Reached, label: str | None = None) -> Reached:
    """One step further: press `label` (default: the first button) on the step's prompt."""
    label = label if label is not None else reached.prompt.button_labels()[0]
    prompt = await answer_of(reached.user, label, reached.prompt)
    return Reached(reached.user, prompt, reached.snapshot)


async def plan_rulebook(world: World) -> Reached:
    return await then_press(await plan_year(world), str(YEAR))


async def plan_settings(world: World) -> Reached:
    return await then_press(await plan_rulebook(world))


async def plan_setting(world: World) -> Reached:
    return await then_press(await plan_settings(world), "✏ 1")


async def plan_deadline(world: World) -> Reached:
    return await then_press(await plan_settings(world), "✅ Giữ các giá trị này")


async def plan_confirm(world: World) -> Reached:
    reached = await plan_deadline(world)
    prompt = reached.prompt
    while any(label.startswith("Giữ ") for label in prompt.button_labels()):
        prompt = await answer_of(reached.user, prompt.button_labels()[0], prompt)
    assert "✅ Lưu kế hoạch" in prompt.button_labels(), prompt
    return Reached(reached.user, prompt, reached.snapshot)


def _ratings(world: World):
    async def snapshot():
        ratings = await world.rows(Rating, Rating.cycle_id == world.tree.cycle_id)
        return ratings, await world.rows(RatingChange)

    return snapshot


async def lower_level(world: World) -> Reached:
    an = world.user("DV101")  # the secretary of CB11; Cường is proposed HTT
    status = await ask(an, "/tinh_trang")
    cycle, member = world.tree.cycle_id, world.tree.member_ids["DV103"]
    an._msg_cursor[an.chat_id] = len(an._fake._chats[an.chat_id].bot_messages)
    # The "⬇ Hạ mức" button of a breach warning, pressed on another message of the chat.
    data = LowerButton("member", cycle, member).encode()
    await an.wait_answer(await an.press_data(data, message=status))
    prompt = await an.wait_message()
    return Reached(an, prompt, _ratings(world))


async def lower_reason(world: World) -> Reached:
    return await then_press(await lower_level(world), "HT")


async def lower_confirm(world: World) -> Reached:
    reached = await lower_reason(world)
    prompt = await ask(reached.user, "Nghỉ ốm dài ngày trong năm")
    assert "✅ Xác nhận" in prompt.button_labels(), prompt
    return Reached(reached.user, prompt, reached.snapshot)


DRIVERS = {
    ("plan", "year"): plan_year,
    ("plan", "rulebook"): plan_rulebook,
    ("plan", "settings"): plan_settings,
    ("plan", "setting"): plan_setting,
    ("plan", "deadline"): plan_deadline,
    ("plan", "confirm"): plan_confirm,
    ("lower_proposal", "level"): lower_level,
    ("lower_proposal", "reason"): lower_reason,
    ("lower_proposal", "confirm"): lower_confirm,
}
