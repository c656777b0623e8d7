"""Shared steps for self-review tests: a planned cycle, linked members, walking the form."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import openpyxl

from tests.e2e.harness import MEMBERS
from tests.e2e.harness import ORGS
from tests.e2e.harness import ROLES
from tests.e2e.harness import roster_workbook
from tests.e2e.harness import run_cli

SAIGON = ZoneInfo("Asia/Ho_Chi_Minh")
DONE = "✅ Xong"
SKIP = "⏭ Bỏ qua (không có)"


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SAIGON).astimezone(dt.UTC)


async def planned_cell(tmp_path, cli_env, fake, *, rulebook="qd366-2025", members=MEMBERS, extra_orgs=(),
                       roles=ROLES, cycle_org="DBCS01"):
    """Roster imported, a plan opened, and every member linked to a Telegram user."""
    book = roster_workbook(tmp_path / "ds.xlsx", orgs=ORGS + list(extra_orgs), members=members, roles=roles)
    assert (result := await run_cli("import-roster", str(book), env=cli_env)).code == 0, result.err
    result = await run_cli("cycle", "create", "--org", cycle_org, "--year", "2026", "--rulebook", rulebook,
                           "--finish-by", "31/12/2026", "--report-by", "15/01/2027", env=cli_env)
    assert result.code == 0, result.err
    out = tmp_path / "moi.xlsx"
    assert (await run_cli("invite", "--org", cycle_org, "--out", str(out), env=cli_env)).code == 0
    users = {}
    for code, name, _cell, link, _ in openpyxl.load_workbook(out).active.iter_rows(min_row=2, values_only=True):
        user = fake.user(name.split()[-1], language_code="vi")
        await user.send("/start " + link.split("start=")[1])
        assert "Xin chào đồng chí" in (await user.wait_message()).text
        users[code] = user
    return users


async def schedule(secretary, when="05/12/2026 08:00"):
    await secretary.send("/lich_hop")
    await secretary.wait_message()
    await secretary.send(when)
    return await secretary.wait_message()


async def write_section(user, *pieces: str):
    """Send the pieces of the open section, then press Done; returns the next prompt."""
    for piece in pieces:
        await user.send(piece)
        ack = await user.wait_message()
        assert ack.text.startswith("Đã lưu"), ack.text
    await user.press(DONE)
    return await user.wait_message()


async def write_sections(user, prompt, texts: dict[int, str] | None = None, *, first: int = 1):
    """From a section prompt through the last section; returns the prompt that follows.

    texts: section number (1-based) -> text; optional sections without text are skipped.
    """
    number = first
    while DONE in prompt.button_labels():
        text = (texts or {}).get(number)
        if text is None and SKIP in prompt.button_labels():
            await user.press(SKIP)
            prompt = await user.wait_message()
        else:
            prompt = await write_section(user, text or f"Nội dung phần {number} của {user.first_name}.")
        number += 1
    return prompt


async def fill_form(user, texts: dict[int, str] | None = None, *, general="25", tasks="57", level="HTT"):
    """From the first prompt after /kiem_diem to the preview; returns the preview message."""
    prompt = await write_sections(user, await user.wait_message(), texts)
    if "điểm nhóm tiêu chí chung" in prompt.text:
        await user.send(general)
        await user.wait_message()
        await user.send(tasks)
        prompt = await user.wait_message()
    if prompt.text.startswith("Chọn mức"):
        await user.press(next(label for label in prompt.button_labels() if label.startswith(level + " ")))
        prompt = await user.wait_message()
    return prompt


async def submit(user):
    await user.press("📨 Nộp")
    question = await user.wait_message()
    if "📨 Vẫn nộp" in question.button_labels():
        await user.press("📨 Vẫn nộp")
    else:
        await user.press("✅ Nộp")
    return await user.wait_edit(question)
