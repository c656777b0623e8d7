"""Issue 9: the durable intake and the outbox, through the real bot and the fake Bot API."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text

from storage.models import InboxUpdate
from storage.models import OutboxMessage
from storage.models import ReviewPiece
from tests.e2e.harness import BotRunner
from tests.e2e.reviewkit import planned_cell
from tests.e2e.reviewkit import schedule

FIRST = "Tôi luôn chấp hành nghiêm chủ trương của Đảng."
FIXED = "Tôi luôn chấp hành nghiêm chủ trương, đường lối của Đảng và pháp luật của Nhà nước."


def _sent_to(fake, chat_id: int) -> int:
    return sum(1 for c in fake.calls if c.method == "sendMessage" and c.ok
               and c.params.get("chat_id") == chat_id)


async def _pieces(bot) -> list[str]:
    async with bot.db.session() as session:
        return list((await session.scalars(select(ReviewPiece.text).order_by(ReviewPiece.id))).all())


async def test_an_edited_message_replaces_its_piece_and_nothing_else_runs_again(
    tmp_path, cli_env, bot, fake_telegram, clock
):
    users = await planned_cell(tmp_path, cli_env, fake_telegram)
    await schedule(users["DV001"])
    binh = users["DV002"]
    command = await binh.send("/kiem_diem")
    await binh.wait_message()
    await binh.wait_message()  # the first part's prompt
    sent = await binh.send(FIRST)
    assert (await binh.wait_message()).text.startswith("Đã lưu")
    await binh.send("Tham gia đầy đủ sinh hoạt chi bộ.")
    await binh.wait_message()

    await binh.edit(sent, FIXED)
    answer = await binh.wait_message()
    assert answer.text.startswith("✏️ Đã sửa"), answer.text
    assert await _pieces(bot) == [FIXED, "Tham gia đầy đủ sinh hoạt chi bộ."]
    await binh.press("📄 Xem phần này")
    shown = await binh.wait_message()
    assert FIXED in shown.text and FIRST not in shown.text

    # An edited command is not a new command, and an edited message that is no piece is
    # answered without changing anything.
    await binh.edit(command, "/kiem_diem ")
    answer = await binh.wait_message()
    assert "chỉ nhận việc sửa" in answer.text, answer.text
    assert await _pieces(bot) == [FIXED, "Tham gia đầy đủ sinh hoạt chi bộ."]
    await fake_telegram.wait_idle(quiet=0.2)
    assert not fake_telegram.refused


async def test_updates_are_stored_then_handled_once_and_owed_messages_are_delivered(
    tmp_path, cli_env, bot, fake_telegram, clock
):
    users = await planned_cell(tmp_path, cli_env, fake_telegram)
    an = users["DV001"]
    # Every update the bot took is in the inbox, handled, its text forgotten; nothing is owed.
    await an.send("/help")
    await an.wait_message()
    await fake_telegram.wait_idle(quiet=0.2)
    async with bot.db.session() as session:
        rows = (await session.execute(select(InboxUpdate))).scalars().all()
        owed = await session.scalar(select(func.count()).select_from(OutboxMessage))
    assert rows and all(row.handled_at is not None and row.payload is None for row in rows)
    assert owed == 0

    # A stored update Telegram sends again (not yet confirmed when the bot died) is not handled
    # twice; a message owed when the bot died is delivered at start-up, once.
    await bot.stop()
    update_id = max(row.update_id for row in rows)
    replay = {"update_id": update_id, "message": {
        "message_id": 999, "date": 0, "chat": {"id": an.id, "type": "private"},
        "from": {"id": an.id, "is_bot": False, "first_name": an.first_name},
        "text": "/help", "entities": [{"type": "bot_command", "offset": 0, "length": 5}]}}
    fake_telegram._updates.append(replay)
    async with bot.db.session() as session:
        session.add(OutboxMessage(chat_id=an.id, payload=json.dumps(
            {"chat_id": an.id, "text": "Tin nhắn còn nợ", "kind": "send"}), created_at=clock()))
    sent_before = _sent_to(fake_telegram, an.id)
    await bot.start()
    owed_message = await an.wait_message()
    assert owed_message.text == "Tin nhắn còn nợ"
    await fake_telegram.wait_idle(quiet=0.8)  # the replayed /help had its chance to run
    # Only the owed message: the replayed /help was not handled again.
    assert _sent_to(fake_telegram, an.id) == sent_before + 1
    async with bot.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert not fake_telegram.refused


async def test_a_webhook_answers_200_only_once_the_update_is_stored(
    tmp_path, cli_env, fake_telegram, database_url, clock
):
    """Telegram delivers again what was not answered 200: an update the database could not
    store is not lost, it is handled once storing works again."""
    users = {}
    runner = BotRunner(fake_telegram, database_url, clock, webhook=True)
    await runner.start()
    try:
        users = await planned_cell(tmp_path, cli_env, fake_telegram)
        an = users["DV001"]
        async with runner.db.engine.begin() as conn:  # storing fails from now on
            await conn.execute(text("ALTER TABLE inbox_updates RENAME TO inbox_paused"))
        await an.send("/help")
        for _ in range(200):
            if any(status != 200 for _id, status in fake_telegram.webhook_attempts):
                break
            await asyncio.sleep(0.05)
        refused_at = len(fake_telegram.webhook_attempts)
        await asyncio.sleep(0.3)
        assert all(s != 200 for _i, s in fake_telegram.webhook_attempts[refused_at - 1:])
        async with runner.db.engine.begin() as conn:
            await conn.execute(text("ALTER TABLE inbox_paused RENAME TO inbox_updates"))
        answer = await an.wait_message()
        assert "/kiem_diem" in answer.text
        await fake_telegram.wait_idle(quiet=0.3)
        assert not fake_telegram.refused
    finally:
        await runner.stop()


async def test_handled_updates_are_forgotten_after_two_days_at_start_up(bot, fake_telegram):
    now = dt.datetime.now(dt.UTC)
    async with bot.db.session() as session:
        for update_id, days in ((1, 3), (2, 1)):
            session.add(InboxUpdate(update_id=update_id, received_at=now - dt.timedelta(days=days),
                                    handled_at=now - dt.timedelta(days=days)))
    await bot.restart()
    async with bot.db.session() as session:
        kept = (await session.scalars(select(InboxUpdate.update_id))).all()
    assert kept == [2]  # a day old still stops a replay; three days old is gone
