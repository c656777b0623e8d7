"""Every message the bot sends goes out through `deliver()`; messages owed to users are kept in
an outbox written in the same transaction as the change they report (issue 9).

A turn records what it owes (`Owed`) as `OutboxMessage` rows in its own transaction, then,
after the commit, delivers them and deletes the rows. A crash between the commit and the
delivery leaves the rows: `Outbox.recover()` delivers them at start-up. A crash between
Telegram taking a message and the row's deletion delivers that one message again at start-up
(at least once: Telegram gives no way to ask whether a message went out); an owed edit is
delivered at start-up as a new message, never as an edit that might change nothing.

What `deliver()` does with Telegram's answers, the same for every caller:
- 403 (the user blocked the bot or never started it): the account is marked blocked and the
  `fallback` message, if any, goes to whoever needs to know (e.g. the secretary who returned a
  review learns the member was not told);
- 429 after the rate limiter's retries, and network errors: the message stays owed and is
  tried again by the next flush or start-up;
- "message is not modified": nothing to do;
- an edit whose message is gone or too old: sent as a new message;
- any other 400: a bug, logged (without the text) and dropped.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import html
import json
import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot
from telegram import InlineKeyboardMarkup
from telegram import Message
from telegram.error import BadRequest
from telegram.error import Forbidden
from telegram.error import RetryAfter
from telegram.error import TelegramError

from bot.intake import MARK_ANSWERED
from bot.text import split_message
from storage.db import Database
from storage.models import OutboxMessage
from storage.models import TelegramAccount

log = logging.getLogger(__name__)

SEND = "send"
EDIT = "edit"
KEYBOARD = "keyboard"  # only the buttons of a message change (its text stays)

# Called with (session, ref, message_id) after a tracked message went out, in a transaction
# of its own: features record where a message is (e.g. the ballot round's progress message).
SentHook = Callable[[AsyncSession, str, int], Awaitable[None]]
SENT_HOOKS: dict[str, SentHook] = {}


def on_sent(name: str) -> Callable[[SentHook], SentHook]:
    """Register a hook that records the message id of tracked messages of kind `name`."""

    def register(fn: SentHook) -> SentHook:
        SENT_HOOKS[name] = fn
        return fn

    return register


@dataclasses.dataclass
class Owed:
    """One message owed to a chat: a new message, or an edit of one the bot sent before."""

    chat_id: int
    text: str
    markup: dict[str, Any] | None = None  # InlineKeyboardMarkup.to_dict()
    kind: str = SEND
    message_id: int | None = None  # the message an edit changes
    fallback: Owed | None = None  # sent instead to someone else when chat_id cannot be reached
    track: tuple[str, str] | None = None  # (hook name, ref): record the message id once sent

    @classmethod
    def message(
        cls,
        chat_id: int,
        text: str,
        markup: InlineKeyboardMarkup | None = None,
        **kwargs: Any,
    ) -> Owed:
        return cls(chat_id, text, markup.to_dict() if markup else None, **kwargs)

    def to_json(self) -> str:
        data = dataclasses.asdict(self)
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Owed:
        fallback = data.pop("fallback", None)
        track = data.pop("track", None)
        return cls(
            **data,
            fallback=cls.from_dict(fallback) if fallback else None,
            track=tuple(track) if track else None,
        )

    @property
    def keyboard(self) -> InlineKeyboardMarkup | None:
        return InlineKeyboardMarkup.de_json(self.markup, None) if self.markup else None


class Outcome:
    SENT = "sent"
    BLOCKED = "blocked"
    RETRY = "retry"  # still owed
    DROPPED = "dropped"  # Telegram refused it: a bug


class Undeliverable(Exception):
    """Telegram refused a message the bot owed (400): a bug, for the error handler to report."""


_GONE = ("message to edit not found", "message can't be edited", "message_id_invalid")


FirstSent = Callable[[int], Awaitable[None]]


async def _send_parts(
    bot: Bot, owed: Owed, sent: list[int] | None = None, on_first: FirstSent | None = None
) -> Message:
    """Send the text in as many messages as it needs (buttons on the last). The ids of the
    parts Telegram accepted go to `sent`; `on_first(message_id)` runs once the first of
    several parts is accepted, so a stop in the middle is known not to need a resend."""
    parts = split_message(owed.text)
    sent = [] if sent is None else sent
    message = None
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        message = await bot.send_message(
            owed.chat_id, part, reply_markup=owed.keyboard if last else None
        )
        sent.append(message.message_id)
        if index == 0 and not last and on_first is not None:
            await on_first(message.message_id)
    assert message is not None
    return message


async def _edit(bot: Bot, owed: Owed) -> Message | None:
    parts = split_message(owed.text)
    first_markup = owed.keyboard if len(parts) == 1 else None
    result = await bot.edit_message_text(
        parts[0], chat_id=owed.chat_id, message_id=owed.message_id, reply_markup=first_markup
    )
    message = result if isinstance(result, Message) else None
    if len(parts) > 1:
        rest = dataclasses.replace(owed, kind=SEND, text="\n".join(parts[1:]))
        message = await _send_parts(bot, rest)
    return message


async def deliver(
    bot: Bot, db: Database, owed: Owed, now: dt.datetime, *, on_first: FirstSent | None = None
) -> tuple[str, int | None]:
    """Send one owed message; returns the outcome and the message id Telegram gave it.

    The one way the bot sends (turns, the outbox, the deadline monitor): 403 marks the account
    blocked and sends the fallback to whoever must know; 429 after the limiter's retries and
    network errors leave it owed; "not modified" is done; a message that can no longer be
    edited is sent anew; any other 400 is a bug, logged. Once a part of a long message was
    accepted it counts as sent: a partial message is not sent twice."""
    sent: list[int] = []
    try:
        message = await _send(bot, owed, sent, on_first)
    except TelegramError as error:
        if sent:  # the first part reached the user: what failed after it is not sent twice
            log.warning("a long message stopped after %d parts: %s", len(sent), type(error).__name__)
            return Outcome.SENT, sent[0]
        return await _failed(bot, db, owed, now, error)
    # The last part's id: the one with the buttons, which a later edit changes.
    message_id = message.message_id if message is not None else owed.message_id
    if owed.track is not None and message_id is not None:
        hook = SENT_HOOKS.get(owed.track[0])
        if hook is not None:
            async with db.session() as session:
                await hook(session, owed.track[1], message_id)
    return Outcome.SENT, message_id


async def _send(
    bot: Bot, owed: Owed, sent: list[int], on_first: FirstSent | None
) -> Message | None:
    if owed.kind == KEYBOARD and owed.message_id is not None:
        try:
            await bot.edit_message_reply_markup(
                chat_id=owed.chat_id, message_id=owed.message_id, reply_markup=owed.keyboard
            )
        except BadRequest as error:
            text = str(error).lower()
            if "not modified" not in text and not any(gone in text for gone in _GONE):
                raise
        return None
    if owed.kind == EDIT and owed.message_id is not None:
        try:
            return await _edit(bot, owed)
        except BadRequest as error:
            text = str(error).lower()
            if "not modified" in text:
                return None
            if not any(gone in text for gone in _GONE):
                raise
            return await _send_parts(bot, dataclasses.replace(owed, kind=SEND), sent)
    return await _send_parts(bot, owed, sent, on_first)


async def _failed(
    bot: Bot, db: Database, owed: Owed, now: dt.datetime, error: TelegramError
) -> tuple[str, int | None]:
    if isinstance(error, Forbidden):
        await mark_blocked(db, [owed.chat_id], now)
        if owed.fallback is not None:
            await deliver(bot, db, owed.fallback, now)
        return Outcome.BLOCKED, None
    if isinstance(error, RetryAfter):
        log.warning("Telegram still asks to wait after the retries; the message stays owed")
        return Outcome.RETRY, None
    if isinstance(error, BadRequest):
        log.error("Telegram refused a message (a bug): %s", error.message)
        return Outcome.DROPPED, None
    log.warning("could not reach Telegram (%s); the message stays owed", type(error).__name__)
    return Outcome.RETRY, None


_TAG = re.compile(r"<[^>]+>")


def same_buttons(a: InlineKeyboardMarkup | None, b: InlineKeyboardMarkup | None) -> bool:
    """Whether two keyboards show the same buttons (an empty keyboard is none, as Telegram
    keeps it)."""
    return (tuple(a.inline_keyboard) if a else ()) == (tuple(b.inline_keyboard) if b else ())


def plain_text(text: str) -> str:
    """What Telegram shows of HTML text: the tags gone, the entities read."""
    return html.unescape(_TAG.sub("", text))


class ShownMessages:
    """Digests of what this process last put in each message, so an edit that would change
    nothing is not sent (Telegram refuses it). Bounded, in memory only: a ballot's screen
    shows the voter's choices."""

    LIMIT = 20_000

    def __init__(self) -> None:
        self._digests: OrderedDict[tuple[int, int], str] = OrderedDict()

    @staticmethod
    def _digest(text: str, markup: dict | None) -> str:
        return hashlib.sha256((text + repr(markup)).encode()).hexdigest()

    def unchanged(self, message: Message, text: str, markup: InlineKeyboardMarkup | None) -> bool:
        """Whether the message already shows this: from what this process last put there, or
        else from the message as the press brought it (its plain text and keyboard)."""
        known = self._digests.get((message.chat.id, message.message_id))
        if known is not None:
            return known == self._digest(text, markup.to_dict() if markup else None)
        if message.text is None:
            return False
        plain = plain_text(text).strip()
        return plain == message.text.strip() and same_buttons(markup, message.reply_markup)

    def remember(self, owed: Owed) -> None:
        if owed.kind != EDIT or owed.message_id is None:
            return
        key = (owed.chat_id, owed.message_id)
        self._digests[key] = self._digest(owed.text, owed.markup)
        self._digests.move_to_end(key)
        while len(self._digests) > self.LIMIT:
            self._digests.popitem(last=False)


async def mark_blocked(db: Database, telegram_ids: Iterable[int], now: dt.datetime) -> None:
    ids = list(telegram_ids)
    if not ids:
        return
    async with db.session() as session:
        await session.execute(
            update(TelegramAccount)
            .where(TelegramAccount.telegram_id.in_(ids))
            .values(blocked_at=now)
        )


_OUTBOX = OutboxMessage.__table__
_FORGET = delete(_OUTBOX).where(_OUTBOX.c.id.in_(bindparam("ids", expanding=True)))


class Outbox:
    """The owed messages: recorded in a change's transaction, delivered after its commit."""

    def __init__(self, db: Database, clock: Callable[[], dt.datetime]) -> None:
        self.db = db
        self.clock = clock
        self._delivered: list[int] = []  # rows delivered, not yet deleted
        self._answered: list[int] = []  # updates answered, not yet marked handled
        self._timer: asyncio.TimerHandle | None = None
        self._forgetting: asyncio.Task | None = None

    @staticmethod
    def add(session: AsyncSession, owed: Owed, now: dt.datetime) -> OutboxMessage:
        row = OutboxMessage(chat_id=owed.chat_id, payload=owed.to_json(), created_at=now)
        session.add(row)
        return row

    async def deliver_rows(
        self, bot: Bot, rows: list[tuple[OutboxMessage | None, Owed]]
    ) -> tuple[list[Owed], list[Owed]]:
        """After the commit: deliver in order, then forget the rows that went out (or that
        Telegram refused); returns the refused ones and those still owed (Telegram away)."""
        done: list[int] = []
        refused: list[Owed] = []
        kept: list[Owed] = []
        for row, owed in rows:
            outcome, _ = await deliver(bot, self.db, owed, self.clock())
            if outcome == Outcome.DROPPED:
                refused.append(owed)
            if outcome == Outcome.RETRY:
                kept.append(owed)
            elif row is not None:
                done.append(row.id)
        self._forget_soon(done)
        return refused, kept

    # After delivery, in batches: delivered rows are deleted, and the updates whose turns
    # changed nothing (their answers were never stored) are marked handled, FORGET_AFTER
    # seconds after the first of a batch (or at once when FORGET_BATCH wait): one transaction
    # for many updates instead of one each, a third of what an update cost the database. A
    # crash in between delivers those messages again at the next start, or handles those
    # updates again: at least once, never lost (as a crash between Telegram taking a message
    # and its deletion always did).
    FORGET_AFTER = 0.5
    FORGET_BATCH = 200

    def _forget_soon(self, ids: list[int]) -> None:
        if ids:
            self._delivered += ids
            self._soon()

    def answered(self, update_id: int) -> None:
        """A turn that changed nothing answered its update (handlers/base.py)."""
        self._answered.append(update_id)
        self._soon()

    def _soon(self) -> None:
        if len(self._delivered) + len(self._answered) >= self.FORGET_BATCH:
            self.forget_now()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.FORGET_AFTER, self.forget_now)

    @property
    def forgetting(self) -> bool:
        """Whether delivered rows or answered updates wait for their batch (tests wait)."""
        return bool(self._delivered or self._answered) or (
            self._forgetting is not None and not self._forgetting.done()
        )

    def forget_now(self) -> None:
        """Write the batch now, in the background (from the event loop's thread)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if (self._delivered or self._answered) and (
            self._forgetting is None or self._forgetting.done()
        ):
            self._forgetting = asyncio.get_running_loop().create_task(
                self.flush(), name="outbox-forget"
            )

    async def flush(self) -> None:
        """Write the batch now (at a stop, before the database closes)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._delivered or self._answered:
            size = self.FORGET_BATCH
            ids, self._delivered = self._delivered[:size], self._delivered[size:]
            updates, self._answered = self._answered[:size], self._answered[size:]
            try:
                async with self.db.autocommit() as connection:  # no ORM session: Core
                    if ids:
                        await connection.execute(_FORGET, {"ids": ids})
                    if updates:
                        await connection.execute(
                            MARK_ANSWERED, {"ids": updates, "now": dt.datetime.now(dt.UTC)}
                        )
            except Exception:  # the database: at the next start, sent or handled again
                log.warning("could not forget %d delivered messages and mark %d updates",
                            len(ids), len(updates), exc_info=True)

    async def close(self) -> None:
        task = self._forgetting
        if task is not None and not task.done():
            await task
        await self.flush()

    async def recover(self, bot: Bot) -> int:
        """Deliver what a crash left owed, oldest first; edits go out as new messages."""
        async with self.db.session() as session:
            rows = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
        pending = []
        for row in rows:
            owed = Owed.from_dict(json.loads(row.payload))
            if owed.kind == KEYBOARD:
                continue  # buttons of a screen long gone: nothing to say
            if owed.kind == EDIT:
                owed = dataclasses.replace(owed, kind=SEND, message_id=None)
            pending.append((row, owed))
        await self.deliver_rows(bot, pending)
        return len(pending)
