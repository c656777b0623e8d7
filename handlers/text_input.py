"""Free text from a user goes where the bot asked for it: a review section, a score, a reason.

What is expected is kept in the database (PendingInput), not in memory, so a restart in the
middle of a form loses nothing: the next message still lands in the right place.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from telegram.ext import MessageHandler, filters

from handlers.base import Turn, turn_handler
from storage.models import PendingInput

TextHandler = Callable[[Turn, PendingInput, str], Awaitable[None]]
_HANDLERS: dict[str, TextHandler] = {}


def text_input(kind: str) -> Callable[[TextHandler], TextHandler]:
    """Register the handler for one kind of expected text."""

    def register(fn: TextHandler) -> TextHandler:
        _HANDLERS[kind] = fn
        return fn

    return register


async def expect_text(
    session: AsyncSession, telegram_id: int, kind: str, ref_id: int | None = None
) -> None:
    pending = await session.get(PendingInput, telegram_id)
    if pending is None:
        session.add(PendingInput(telegram_id=telegram_id, kind=kind, ref_id=ref_id))
    else:
        pending.kind, pending.ref_id = kind, ref_id


async def stop_expecting(session: AsyncSession, telegram_id: int) -> None:
    await session.execute(delete(PendingInput).where(PendingInput.telegram_id == telegram_id))


@turn_handler()
async def route_text(turn: Turn) -> None:
    pending = await turn.session.get(PendingInput, turn.account.telegram_id)
    handler = _HANDLERS.get(pending.kind) if pending else None
    if handler is None:
        await turn.reply(
            turn.t("I did not expect a message here. Send /help to see what you can do.")
        )
        return
    await handler(turn, pending, turn.update.effective_message.text)


# Registered last (see bot/app.py): commands and documents are matched before free text.
HANDLERS = [MessageHandler(filters.TEXT & ~filters.COMMAND & filters.ChatType.PRIVATE, route_text)]
