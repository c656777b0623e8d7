"""Issue 10: every declared flow can be left from every step, and leaving loses nothing.

The steps are read from the engine's declarations (conversations.engine.FLOWS), so a new step
has no driver until one is written and this test fails. Each step is left in one of three ways,
in turn: /huy, the "✖ Hủy" button under the prompt, or another command (/help) before free text.
After leaving, what the driver's snapshot covers is unchanged, the user's flow state is gone,
the prompt's buttons are gone, and the next free text is answered as unexpected and changes
nothing.
"""

from __future__ import annotations

from sqlalchemy import select

from conversations import engine
from storage.models import FlowState
from tests.e2e.flows import World
from tests.e2e.flows import all_drivers
from tests.e2e.flows import ask
from tests.e2e.test_status_tree import build_tree
from tests.e2e.test_status_tree import query

LEFT = "Đã dừng"
NOT_EXPECTED = "Tôi chưa hiểu tin nhắn này."
CANCEL = "✖ Hủy"
FREE_TEXT = "Cảm ơn, tôi chỉ muốn xem trợ giúp thôi."


def declared_steps() -> list[tuple[str, str]]:
    return sorted((f.name, s.name) for f in engine.FLOWS.values() for s in f.steps)


def test_every_declared_step_has_a_driver():
    missing = sorted(set(declared_steps()) - set(all_drivers()))
    assert not missing, f"steps without a driver in tests/e2e/flows/: {missing}"
    stale = sorted(set(all_drivers()) - set(declared_steps()))
    assert not stale, f"drivers for steps that are not declared: {stale}"


async def flow_of(database_url: str, telegram_id: int):
    async def run(session):
        row = await session.scalar(select(FlowState).where(FlowState.telegram_id == telegram_id))
        return (row.flow, row.step) if row is not None else None

    return await query(database_url, run)


async def test_leave_every_step_of_every_flow(bot, fake_telegram, tmp_path, cli_env, database_url,
                                              clock):
    tree = await build_tree(tmp_path, cli_env, fake_telegram, database_url, clock())
    world = World(tree, fake_telegram, database_url)
    drivers = all_drivers()
    ways = ("/huy", CANCEL, "/help")
    for number, key in enumerate(declared_steps()):
        flow = engine.FLOWS[key[0]]
        waits_for_text = flow.step(key[1]).waits_for_text
        reached = await drivers[key](world)
        user, prompt = reached.user, reached.prompt
        assert await flow_of(database_url, user.id) == key, (key, prompt)
        if waits_for_text:
            assert CANCEL in prompt.button_labels(), (key, prompt)
        before = await reached.snapshot()

        way = ways[number % len(ways)]
        if way == CANCEL and CANCEL not in prompt.button_labels():
            way = "/huy"
        if way == "/help" and not waits_for_text:
            way = "/huy"  # a step that waits for a button is kept by other commands
        user._msg_cursor[user.chat_id] = len(user._fake._chats[user.chat_id].bot_messages)
        if way == CANCEL:
            await user.wait_answer(await user.press(CANCEL, message=prompt))
        else:
            await user.send(way)
        said = await user.wait_message()
        assert said.text.startswith(LEFT), (key, way, said)
        if way == "/help":
            await user.wait_message()  # the help itself
        await fake_telegram.wait_idle()
        assert await flow_of(database_url, user.id) is None, (key, way)
        assert CANCEL not in prompt.button_labels(), (key, way, prompt)

        reply = await ask(user, FREE_TEXT)
        assert reply.text.startswith(NOT_EXPECTED), (key, way, reply)
        assert await reached.snapshot() == before, (key, way)


async def test_help_in_the_middle_of_rerating_then_free_text_changes_nothing(
    bot, fake_telegram, tmp_path, cli_env, database_url, clock
):
    tree = await build_tree(tmp_path, cli_env, fake_telegram, database_url, clock())
    world = World(tree, fake_telegram, database_url)
    reached = await all_drivers()[("rerate", "reason")](world)
    lan, before = reached.user, await reached.snapshot()
    await lan.send("/help")
    left = await lan.wait_message()
    assert left.text == "Đã dừng việc hủy mức xếp loại đã quyết định."
    assert "/kiem_diem" in (await lan.wait_message()).text  # the help
    reply = await ask(lan, FREE_TEXT)
    assert reply.text.startswith(NOT_EXPECTED)
    assert await reached.snapshot() == before
    minh = tree.users["DV302"]
    assert not any("hủy" in (m.text or "") for m in minh.messages())  # nobody was told
