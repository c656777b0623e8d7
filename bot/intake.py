"""Durable intake: every update is stored before Telegram is told it arrived, and handled once,
in order per chat, after any number of restarts (issue 9).

python-telegram-bot's `Updater` puts each fetched update into its `update_queue` and confirms
the batch to Telegram only with the *next* getUpdates offset, after every `put` returned; its
webhook answers 200 only after `put` returned too. `DurableQueue` is that queue: its `put`
inserts the update into `inbox_updates` and commits before it returns, then hands the update
to the Application. A replayed update_id (Telegram sending again what we had stored but not
yet confirmed) inserts nothing and is not handled twice.

The turn that handles an update marks it handled in its own transaction (`mark_handled`), so
the change and the mark commit together (a handler that runs with `block=False` marks it when
it is really done); the error handler marks an update whose handler failed, so it does not fail
again at every start. At start-up, `replay_pending` hands the Application every stored update
not yet handled, oldest first.

What is stored is trimmed (`trimmed_payload`): a button press keeps who pressed what on which
message, not the message's text and keyboard (a ballot's screen shows the voter's choices), and
features may redact their own callback data (`redact_callbacks`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot
from telegram import Update
from telegram.ext import BaseUpdateProcessor

from storage.db import Database
from storage.models import InboxUpdate

log = logging.getLogger(__name__)

# prefix -> function giving what may be stored of a press's callback data
_REDACTORS: dict[str, Callable[[str], str]] = {}

_ARRIVED_LIMIT = 10_000
INBOX = InboxUpdate.__table__  # written by Core statements: every update pays for them


class Arrivals:
    """When each update this process handles arrived (the event loop's clock): a press older
    than Telegram's answer window is answered in a message. And which updates were handed over
    again at start-up: what their message shows is not known any more."""

    def __init__(self) -> None:
        self._at: dict[int, float] = {}
        self._replayed: set[int] = set()

    def note(self, update_id: int, at: float, *, replayed: bool = False) -> None:
        if len(self._at) >= _ARRIVED_LIMIT:
            for key in list(self._at)[: _ARRIVED_LIMIT // 2]:
                del self._at[key]
                self._replayed.discard(key)
        self._at[update_id] = at
        if replayed:
            self._replayed.add(update_id)

    def arrived_at(self, update_id: int) -> float | None:
        return self._at.get(update_id)

    def was_replayed(self, update_id: int) -> bool:
        return update_id in self._replayed


def redact_callbacks(prefix: str, redactor: Callable[[str], str]) -> None:
    """Store presses whose data starts with `prefix` as `redactor(data)`."""
    _REDACTORS[prefix] = redactor


def chat_key(update: object) -> int | None:
    """Updates with the same key are handled one after another, in order."""
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    if update.effective_user is not None:
        return update.effective_user.id
    return None


_MESSAGE_KEEP = {"message_id", "date", "chat", "from", "sender_chat", "message_thread_id"}


def trimmed_payload(update: Update) -> dict[str, Any]:
    data = update.to_dict()
    query = data.get("callback_query")
    if query is not None:
        message = query.get("message")
        if message is not None:
            query["message"] = {k: v for k, v in message.items() if k in _MESSAGE_KEEP}
        payload = query.get("data")
        if isinstance(payload, str):
            for prefix, redactor in _REDACTORS.items():
                if payload.startswith(prefix):
                    query["data"] = redactor(payload)
                    break
    return data


class DurableQueue:
    """The Updater's update queue: `put` stores, commits, then forwards to the Application."""

    def __init__(
        self,
        db: Database,
        target: asyncio.Queue,
        clock: Callable[[], dt.datetime],
        arrivals: Arrivals,
    ) -> None:
        self.db = db
        self.target = target
        self.clock = clock
        self.arrivals = arrivals
        self._held = None  # the connection the inbox's rows are written on (``store``)
        self._driver = None
        self._postgresql = False
        self._holding = asyncio.Lock()  # one statement at a time on it (webhook requests)

    async def put(self, update: object) -> None:
        if not isinstance(update, Update):
            await self.target.put(update)
            return
        stored = await self.store(update)
        if stored:
            self.arrivals.note(update.update_id, asyncio.get_running_loop().time())
            await self.target.put(update)

    async def store(self, update: Update) -> bool:
        """Insert the update; False when it was stored before (a replay).

        The INSERT runs on a connection the queue holds, in autocommit (the statement commits
        itself), written for the driver: one trip to aiosqlite's thread, or one round trip to
        PostgreSQL, where a pooled connection and a transaction through SQLAlchemy cost most
        of what the database adds to a short update. On SQLite the process's write lock is
        taken as SQLAlchemy's writers take it (``storage.db``). A connection that fails is let
        go (the next update takes a new one) and the error goes to the Updater, which asks
        Telegram for the update again."""
        update_id, chat_id = update.update_id, chat_key(update)
        payload = json.dumps(trimmed_payload(update), ensure_ascii=False)
        received = self.clock().astimezone(dt.UTC)
        async with self._holding:
            driver = await self._driver_connection()
            try:
                if self._postgresql:
                    return await driver.fetchval(
                        _STORE_POSTGRESQL, update_id, chat_id, payload, received) is not None
                # SQLite keeps datetimes as SQLAlchemy writes them (storage.models.UTCDateTime)
                stamp = received.strftime("%Y-%m-%d %H:%M:%S.%f")
                async with self.db.write_lock.lock():
                    return bool(await driver.execute_fetchall(
                        _STORE_SQLITE, (update_id, chat_id, payload, stamp)))
            except BaseException:
                await self.close()
                raise

    async def _driver_connection(self):
        if self._driver is None:
            self._held = await self.db.engine.connect()
            await self._held.execution_options(isolation_level="AUTOCOMMIT")
            self._postgresql = self._held.dialect.name == "postgresql"
            self._driver = (await self._held.get_raw_connection()).driver_connection
        return self._driver

    async def close(self) -> None:
        """Give the held connection back (before the database is disposed of)."""
        held, self._held, self._driver = self._held, None, None
        if held is not None:
            await held.close()

    # The Updater only ever calls put(); these keep the asyncio.Queue surface it may touch.
    def put_nowait(self, update: object) -> None:
        raise RuntimeError("the durable queue stores updates asynchronously: use put()")

    def empty(self) -> bool:
        return True


async def mark_handled(session: AsyncSession, update_id: int, now: dt.datetime) -> None:
    """In the turn's transaction: the update is done, its stored text forgotten."""
    await session.execute(_MARK, {"id": update_id, "now": now})


# Every update runs these: written for the driver (``DurableQueue.store``), or built once (a
# statement built per call pays for its cache key).
_STORE_SQLITE = (  # the row comes back when it was inserted (not a replay)
    "INSERT INTO inbox_updates (update_id, chat_id, payload, received_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (update_id) DO NOTHING RETURNING update_id"
)
_STORE_POSTGRESQL = _STORE_SQLITE.replace("?, ?, ?, ?", "$1, $2, $3, $4")
_MARK = (
    update(INBOX)
    .where(INBOX.c.update_id == bindparam("id"), INBOX.c.handled_at.is_(None))
    .values(handled_at=bindparam("now"), payload=None)
)
# Updates whose turns changed nothing, marked handled once answered (bot/delivery.py).
MARK_ANSWERED = (
    update(INBOX)
    .where(INBOX.c.update_id.in_(bindparam("ids", expanding=True)), INBOX.c.handled_at.is_(None))
    .values(handled_at=bindparam("now"), payload=None)
)


async def replay_pending(
    db: Database, bot: Bot, target: asyncio.Queue, arrivals: Arrivals
) -> int:
    """Hand the Application every stored update not yet handled, oldest first."""
    async with db.session() as session:
        rows = (
            await session.execute(
                select(InboxUpdate.update_id, InboxUpdate.payload, InboxUpdate.received_at)
                .where(InboxUpdate.handled_at.is_(None))
                .order_by(InboxUpdate.update_id)
            )
        ).all()
    loop_now, wall_now = asyncio.get_running_loop().time(), dt.datetime.now(dt.UTC)
    for update_id, payload, received_at in rows:
        # its age counts from when it first arrived, before the restart
        age = (wall_now - received_at).total_seconds()
        arrivals.note(update_id, loop_now - age, replayed=True)
        try:
            update = Update.de_json(json.loads(payload), bot)
        except Exception:  # a payload this version cannot read: drop it rather than loop
            log.error("could not read stored update %s; it is dropped", update_id)
            async with db.session() as session:
                await mark_handled(session, update_id, dt.datetime.now(dt.UTC))
            continue
        await target.put(update)
    return len(rows)


# Telegram keeps an update it could not deliver for 24 hours: a handled row kept twice as long
# is enough for any replay of its update_id to change nothing.
KEEP_HANDLED = dt.timedelta(days=2)


async def forget_old(db: Database, before: dt.datetime) -> None:
    """Drop handled rows older than `before` (they only stopped replays of their update_id)."""
    async with db.session() as session:
        await session.execute(
            delete(InboxUpdate).where(
                InboxUpdate.handled_at.is_not(None), InboxUpdate.handled_at < before
            )
        )


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Updates of one chat run one after another, in arrival order; different chats run side by
    side up to `max_concurrent_updates`."""

    def __init__(self, max_concurrent_updates: int) -> None:
        # PTB hands updates over as tasks only above 1; the gate below sets the real limit.
        super().__init__(max(2, max_concurrent_updates))
        self._gate = asyncio.Semaphore(max(1, max_concurrent_updates))
        self._locks: dict[int | None, asyncio.Lock] = {}
        self._users: dict[int | None, int] = {}

    async def process_update(self, update: object, coroutine) -> None:
        key = chat_key(update)
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock, self._gate:  # the chat's turn first, then a free slot
                await coroutine
        finally:
            self._users[key] -= 1
            if not self._users[key]:  # nobody else waits for this chat: forget its lock
                del self._users[key]
                del self._locks[key]

    async def do_process_update(self, update: object, coroutine) -> None:
        await coroutine

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass
