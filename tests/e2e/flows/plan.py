"""Drivers: the plan, lowering a proposal."""

from __future__ import annotations

from storage.models import Cycle, Rating, RatingChange
from tests.e2e.flows import Reached, World, ask


async def plan_value(world: World) -> Reached:
    phuc = world.user("DV401")  # committee member of the province
    prompt = await ask(phuc, "/ke_hoach")
    return Reached(phuc, prompt, lambda: world.rows(Cycle))


async def lower_reason(world: World) -> Reached:
    an = world.user("DV101")  # the secretary of CB11; Cường is proposed HTT
    status = await ask(an, "/tinh_trang")
    cycle, member = world.tree.cycle_id, world.tree.member_ids["DV103"]
    an._msg_cursor[an.chat_id] = len(an._fake._chats[an.chat_id].bot_messages)
    # The "⬇ Hạ mức" button of a breach warning, pressed on another message of the chat.
    await an.wait_answer(await an.press_data(f"pc:l:{cycle}:{member}:HT", message=status))
    prompt = await an.wait_message()

    async def snapshot():
        ratings = await world.rows(Rating, Rating.cycle_id == cycle)
        return ratings, await world.rows(RatingChange)

    return Reached(an, prompt, snapshot)


DRIVERS = {
    ("plan", "value"): plan_value,
    ("lower_proposal", "reason"): lower_reason,
}
