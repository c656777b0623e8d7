"""Issue 10 on the plan and the checks: lowering a proposal is confirmed, and the confirmation
checks again when pressed; /huy in the middle of the plan saves nothing, a restart keeps it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy import update

from storage.models import Cycle
from storage.models import FlowState
from storage.models import Rating
from storage.models import RatingChange
from storage.models import RatingState
from tests.e2e.flows import World
from tests.e2e.flows import answer_of
from tests.e2e.flows import ask
from tests.e2e.flows.plan import lower_confirm
from tests.e2e.flows.plan import plan_settings
from tests.e2e.test_status_tree import build_tree
from tests.e2e.test_status_tree import query


async def test_a_stale_confirmation_is_checked_again(bot, fake_telegram, tmp_path, cli_env,
                                                     database_url, clock):
    tree = await build_tree(tmp_path, cli_env, fake_telegram, database_url, clock())
    world = World(tree, fake_telegram, database_url)
    reached = await lower_confirm(world)
    an, confirm = reached.user, reached.prompt
    assert "sẽ được hạ từ HTT xuống HT" in confirm.text, confirm
    assert "Nghỉ ốm dài ngày trong năm" in confirm.text
    member = tree.member_ids["DV103"]

    async def decide(session):  # meanwhile the level is decided
        await session.execute(update(Rating).where(Rating.member_id == member)
                              .values(state=RatingState.DECIDED, decided_level="HTT"))
        await session.commit()

    await query(database_url, decide)
    answer = await an.wait_answer(await an.press("✅ Xác nhận", message=confirm))
    assert "đã được quyết định" in answer.text, answer

    async def lowered(session):
        return (await session.scalars(select(RatingChange.id)
                                      .where(RatingChange.kind == "lowered"))).all()

    assert await query(database_url, lowered) == []
    assert not fake_telegram.refused


async def said(user, text: str, start: str):
    """Send `text`; the first of the bot's next messages that starts with `start`."""
    message = await ask(user, text)
    for _ in range(5):
        if (message.text or "").startswith(start):
            return message
        message = await user.wait_message()
    raise AssertionError(f"no answer starting with {start!r}")


async def test_the_plan_survives_a_restart_and_huy_saves_nothing(bot, fake_telegram, tmp_path,
                                                                cli_env, database_url, clock):
    tree = await build_tree(tmp_path, cli_env, fake_telegram, database_url, clock())
    world = World(tree, fake_telegram, database_url)
    before = await world.rows(Cycle)
    reached = await plan_settings(world)
    phuc = reached.user
    prompt = await answer_of(phuc, "✏ 1", reached.prompt)
    assert "Đồng chí gõ giá trị mới." in prompt.text
    assert reached.prompt.button_labels() == []  # the finished step's buttons are gone
    await bot.restart()
    settings = await said(phuc, "15", "Các tham số")  # the monitor may speak first
    assert "đạt HTT: 15 ✏" in settings.text and "(R-" not in settings.text, settings
    left = await said(phuc, "/huy", "Đã dừng")
    assert left.text == "Đã dừng việc lập kế hoạch. Kế hoạch chưa được lưu."

    async def flows(session):
        return (await session.scalars(select(FlowState.flow))).all()

    assert await query(database_url, flows) == []
    assert await world.rows(Cycle) == before
    assert not fake_telegram.refused
