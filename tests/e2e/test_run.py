"""`kiemdiem run` as a user starts it, its token check, and the error handler."""

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from storage.db import Database
from tests.e2e.harness import ROOT
from tests.e2e.harness import run_cli


async def test_kiemdiem_run_migrates_and_answers(fake_telegram, cli_env, database_url, tmp_path):
    env = {**os.environ, **cli_env, "PYTHONPATH": str(ROOT)}
    # The test's database is empty (on SQLite, its file does not exist yet).
    sqlite_file = Path(database_url.split("///", 1)[1]) if database_url.startswith("sqlite") else None
    assert sqlite_file is None or not sqlite_file.exists()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", env=env, cwd=str(tmp_path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    try:
        user = fake_telegram.user("Khách", language_code="vi")
        await user.send("/start")
        greeting = await user.wait_message(timeout=30)
        assert "Xin chào!" in greeting.text
        assert fake_telegram.my_commands("vi", "all_private_chats")
    finally:
        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(30):
            output, _ = await process.communicate()
    log = output.decode()
    assert process.returncode == 0, log
    assert fake_telegram.token not in log
    assert fake_telegram.token.split(":")[1] not in log
    assert sqlite_file is None or sqlite_file.exists()
    db = Database(database_url)
    try:
        async with db.engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM alembic_version"))).scalar()
    finally:
        await db.dispose()


@pytest.mark.parametrize("token", ["", "not-a-token"])
async def test_missing_or_malformed_token_exits_2_with_help(token, tmp_path):
    result = await run_cli("run", env={"BOT_TOKEN": token}, cwd=tmp_path)
    assert result.code == 2
    assert "@BotFather" in result.err
    assert "Traceback" not in result.err


@pytest.mark.allow_refused
async def test_a_token_telegram_refuses_exits_2(fake_telegram, tmp_path):
    env = {"BOT_TOKEN": "987654321:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "TELEGRAM_API_URL": fake_telegram.url}
    result = await run_cli("run", env=env, cwd=tmp_path)
    assert result.code == 2
    assert "@BotFather" in result.err and "Traceback" not in result.err


async def test_an_unexpected_failure_is_reported_to_the_user(bot, fake_telegram, caplog):
    user = fake_telegram.user("Bình", language_code="en")
    fake_telegram.inject_error("sendMessage", chat_id=user.id, error_code=400, description="Bad Request: boom")
    await user.send("/help")
    reply = await user.wait_message()
    assert reply.text == "Sorry, something went wrong on my side. Please try again in a moment."
    assert any("error while handling update" in r.getMessage() for r in caplog.records)


async def test_the_error_message_follows_the_chosen_language(bot, fake_telegram):
    user = fake_telegram.user("Bình", language_code="vi")
    await user.send("/ngon_ngu")
    await user.press("English", message=await user.wait_message())
    await user.wait_edit()
    fake_telegram.inject_error("sendMessage", chat_id=user.id, error_code=400, description="Bad Request: boom")
    await user.send("/help")
    assert (await user.wait_message()).text == "Sorry, something went wrong on my side. Please try again in a moment."
