"""Driver: the preview of a roster file a cell's secretary sent, waiting for "✅ Cập nhật"."""

from __future__ import annotations

import tempfile
from pathlib import Path

from storage.models import Member
from storage.models import PendingImport
from storage.models import Role
from tests.e2e.flows import Reached
from tests.e2e.flows import World
from tests.e2e.harness import roster_workbook
from tests.e2e.test_status_tree import PEOPLE


def _cell_file() -> bytes:
    rows = [[p.code, p.name, "01/01/1980", p.cell, "", "Chính thức" if p.official else "Dự bị",
             p.admitted] for p in PEOPLE if p.cell == "CB21"]
    rows.append(["DV404", "Lê Thị Tâm", "02/02/1985", "CB21", "", "Chính thức", "01/01/2010"])
    with tempfile.TemporaryDirectory() as folder:
        path = roster_workbook(Path(folder) / "cb21.xlsx", members=rows,
                               roles=[["DV403", "CB21", "Bí thư"]])
        return path.read_bytes()


async def roster_confirm(world: World) -> Reached:
    son = world.user("DV403")  # the secretary of CB21
    son._msg_cursor[son.chat_id] = len(son._fake._chats[son.chat_id].bot_messages)
    await son.send_document(_cell_file(), "cb21.xlsx")
    prompt = await son.wait_message(timeout=30)
    assert "DV404" in prompt.text, prompt.text  # the preview, nothing written yet

    async def snapshot():
        return await world.rows(Member), await world.rows(Role), await world.rows(PendingImport)

    return Reached(son, prompt, snapshot)


DRIVERS = {("roster_preview", "confirm"): roster_confirm}
