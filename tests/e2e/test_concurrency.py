"""Issue 13 item 2: no user waits for another. While one secretary's report is being built
(held here, in its worker process, on an event this test controls), another member's /help is
answered, and so is a write of a third member; then the report arrives. No timing: the cheap
answers must come while the report is still held."""

from __future__ import annotations

import asyncio
import functools
import multiprocessing

from bot.services import report
from tests.e2e.reviewkit import planned_cell


def held_build(entered, release, request):
    """``report.build_report`` in the worker process, once the test lets it go."""
    entered.set()
    assert release.wait(60), "the test never let the report go"
    return report.build_report(request)


async def test_a_cheap_command_is_answered_while_a_report_is_built(
    tmp_path, cli_env, bot, fake_telegram, clock, monkeypatch
):
    users = await planned_cell(tmp_path, cli_env, fake_telegram)
    manager = multiprocessing.get_context("spawn").Manager()  # events the worker can reach
    entered, release = manager.Event(), manager.Event()
    monkeypatch.setattr(report, "build_report", functools.partial(held_build, entered, release))
    secretary, member, other = users["DV004"], users["DV002"], users["DV005"]
    try:
        await secretary.send("/bao_cao DBCS01")
        progress = await secretary.wait_message()
        assert progress.text.startswith("Đang chuẩn bị báo cáo"), progress.text
        assert await asyncio.to_thread(entered.wait, 30), "the report never started"

        # The report is held: other members are answered meanwhile, reads and writes alike.
        await member.send("/help")
        answer = await member.wait_message()
        assert answer.text and not release.is_set()
        await other.send("/ngon_ngu")
        choose = await other.wait_message()
        await other.press("English", message=choose)
        assert (await other.wait_edit(choose)).text
        assert not release.is_set()
        assert not any(m.document for m in secretary.messages())
    finally:
        release.set()

    sent = await secretary.wait_message(timeout=30)
    assert sent.document is not None and sent.document.file_name == "bao-cao-DBCS01-2026.xlsx"
    await fake_telegram.wait_idle(quiet=0.2)
    assert not fake_telegram.refused
    manager.shutdown()
