"""Drivers: deciding despite breaches, re-rating, appeals and their answers."""

from __future__ import annotations

from storage.models import Appeal
from storage.models import Decision
from storage.models import Rating
from tests.e2e.flows import Reached
from tests.e2e.flows import World
from tests.e2e.flows import answer_of
from tests.e2e.flows import ask

APPEAL = "Tôi đề nghị xem xét lại vì tôi đã hoàn thành vượt mức các chỉ tiêu được giao."


def _ratings(world: World):
    async def snapshot():
        return (await world.rows(Rating, Rating.cycle_id == world.tree.cycle_id),
                await world.rows(Decision), await world.rows(Appeal))

    return snapshot


async def override_reason(world: World) -> Reached:
    giang = world.user("DV201")  # committee member of DBCS1; CB11's quota breach blocks
    view = await ask(giang, "/quyet_dinh CB11")
    prompt = await answer_of(giang, "✍️ Vẫn quyết định, ghi lý do", view)
    return Reached(giang, prompt, _ratings(world))


REASON = "Chi bộ có thành tích nổi bật, cấp trên đã cho phép tỷ lệ 25%."


async def rerate_reason(world: World) -> Reached:
    lan = world.user("DV301")  # secretary of the grassroots cell CBCS1, which decides itself
    prompt = await ask(lan, "/xep_loai_lai DV302")
    return Reached(lan, prompt, _ratings(world))


async def appeal_text(world: World) -> Reached:
    minh = world.user("DV302")  # decided HT
    prompt = await ask(minh, "/khieu_nai")
    return Reached(minh, prompt, _ratings(world))


async def appeal_answer(world: World) -> Reached:
    minh, lan = world.user("DV302"), world.user("DV301")
    appeal = world.notes.get("appeal")
    if appeal is None:  # file one appeal; later drivers answer the same one
        await ask(minh, "/khieu_nai")
        confirm = await ask(minh, APPEAL)
        lan._msg_cursor[lan.chat_id] = len(lan._fake._chats[lan.chat_id].bot_messages)
        await answer_of(minh, "✅ Xác nhận", confirm)  # "sent to the committee"
        appeal = world.notes["appeal"] = await lan.wait_message()
    prompt = await answer_of(lan, "✍️ Trả lời", appeal)
    return Reached(lan, prompt, _ratings(world))


def then_typed(driver, text: str):
    """A driver that reaches a text step with `driver`, then types `text`: the confirmation."""

    async def confirm(world: World) -> Reached:
        reached = await driver(world)
        prompt = await ask(reached.user, text)  # what will happen, ✅ Xác nhận / ✖ Hủy
        return Reached(reached.user, prompt, reached.snapshot)

    return confirm


DRIVERS = {
    ("decision_override", "reason"): override_reason,
    ("rerate", "reason"): rerate_reason,
    ("appeal", "text"): appeal_text,
    ("appeal_answer", "text"): appeal_answer,
    ("decision_override", "confirm"): then_typed(override_reason, REASON),
    ("rerate", "confirm"): then_typed(rerate_reason, "Phát hiện vi phạm sau khi đã xếp loại."),
    ("appeal", "confirm"): then_typed(appeal_text, APPEAL),
    ("appeal_answer", "confirm"): then_typed(appeal_answer, "Cấp ủy giữ nguyên mức HT vì đã xem xét đủ."),
}
