"""Answers for what no other handler takes: every input gets a reply in the user's language.

Registered in the last handler group (bot/app.py). PTB runs one handler per group, so a
later group would also see updates an earlier group handled; `Unhandled` therefore matches
only when no handler of an earlier group would take the update: a sticker, photo, voice,
location… in the private chat, a command this bot does not have, a button press whose data
no module recognises. Group chats get no answer to messages (other bots' commands live
there), but every press anywhere is answered.
"""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import Application
from telegram.ext import BaseHandler

from bot.callbacks import InvalidButton
from bot.text import esc
from handlers.base import Turn
from handlers.base import turn_handler

# The group bot/app.py registers these handlers in; every group below it is checked first.
GROUP = 2


class Unhandled(BaseHandler[Update, Any, None]):
    """Matches a private message or a button press that no earlier handler group takes."""

    def __init__(self, callback: Any, group: int = GROUP) -> None:
        super().__init__(callback)
        self.group = group
        self.application: Application | None = None

    def check_update(self, update: object) -> bool:
        if not isinstance(update, Update):
            return False
        if update.callback_query is not None:
            pass
        elif update.message is not None:
            if update.message.chat.type != ChatType.PRIVATE:
                return False
        else:
            return False  # edits, member updates and the like need no answer
        application = self.application
        if application is None:
            return True
        for group, handlers in application.handlers.items():
            if group >= self.group:
                continue
            for handler in handlers:
                if handler is self:
                    continue
                check = handler.check_update(update)
                if check is not None and check is not False:
                    return False
        return True


@turn_handler()
async def _unhandled(turn: Turn) -> None:
    if turn.query is not None:
        raise InvalidButton()
    message = turn.update.effective_message
    text = message.text or ""
    if text.startswith("/"):
        command = text.split(maxsplit=1)[0]
        await turn.reply(
            turn.t("There is no command {command}. Send /help to see what you can do.",
                   command=f"<code>{esc(command[:64])}</code>")
        )
        return
    await turn.reply(
        turn.t("I do not understand this message here. Send /help to see what you can do.")
    )


def install(application: Application, group: int = GROUP) -> None:
    """Add the catch-all handler in `group`, after every other group."""
    handler = Unhandled(_unhandled, group)
    handler.application = application
    application.add_handler(handler, group=group)
