"""Drivers: the chair's conclusions in the minutes (issue 14 part D), typed, then confirmed."""

from __future__ import annotations

from storage.models import AuditEntry
from storage.models import Meeting
from tests.e2e.flows import Reached
from tests.e2e.flows import World
from tests.e2e.flows import answer_of
from tests.e2e.flows import ask

WRITE = "✍️ Ghi kết luận"
TEXT = "Hội nghị thống nhất đánh giá chi bộ hoàn thành tốt nhiệm vụ."


def _minutes(world: World):
    async def snapshot():
        return (await world.rows(Meeting, Meeting.org_id == world.tree.org_ids["CB11"]),
                await world.rows(AuditEntry, AuditEntry.action == "minutes.conclusions"))

    return snapshot


async def conclusions_text(world: World) -> Reached:
    an = world.user("DV101")  # secretary of CB11, whose meeting was held two days ago
    summary = await ask(an, "/bien_ban CB11")
    assert WRITE in summary.button_labels(), summary
    document = await an.wait_message(timeout=30)  # the Word file follows the summary
    assert document.document is not None, document
    prompt = await answer_of(an, WRITE, summary)
    return Reached(an, prompt, _minutes(world))


async def conclusions_confirm(world: World) -> Reached:
    reached = await conclusions_text(world)
    prompt = await ask(reached.user, TEXT)  # the conclusions shown, ✅ Ghi vào biên bản / ✖ Hủy
    return Reached(reached.user, prompt, reached.snapshot)


DRIVERS = {
    ("minutes_conclusions", "text"): conclusions_text,
    ("minutes_conclusions", "confirm"): conclusions_confirm,
}
