"""The one path every update takes: a database session, the caller's identity and language,
the private-chat rule and authorisation. Handlers receive a `Turn` and stay thin."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ChatType, ParseMode

from bot.context import BotContext
from bot.i18n import Translator, locale_for
from bot.permissions import Action, allowed
from bot.services import Services
from bot.services.accounts import Identity, identify, touch_account
from bot.text import esc, split_message
from storage.models import Organisation, TelegramAccount

log = logging.getLogger(__name__)


class Refusal(Exception):
    """Raised inside a handler to stop and tell the user why, in their language."""

    def __init__(self, msgid: str, **params: object) -> None:
        super().__init__(msgid)
        self.msgid = msgid
        self.params = params


@dataclass
class Turn:
    update: Update
    context: BotContext
    session: AsyncSession
    account: TelegramAccount
    identity: Identity
    t: Translator
    answered: bool = field(default=False)

    @property
    def services(self) -> Services:
        return self.context.services

    @property
    def query(self) -> CallbackQuery | None:
        return self.update.callback_query

    @property
    def chat_id(self) -> int:
        return self.update.effective_chat.id

    @property
    def actor(self) -> str:
        return f"tg:{self.account.telegram_id}"

    def require(self, action: Action, org: Organisation) -> None:
        """The single authorisation check: a role on an ancestor-or-self of `org`."""
        if not allowed(self.identity.grants, action, org.path):
            raise Refusal("You do not have permission to do this for {org}.", org=esc(org.name))

    def require_member(self) -> None:
        if not self.identity.is_member:
            raise Refusal(
                "Your Telegram account is not linked to a party member yet. "
                "Open the personal invite link your cell secretary sent you."
            )

    async def reply(
        self, text: str, *, reply_markup: InlineKeyboardMarkup | None = None
    ) -> Message:
        """Send HTML text to the current chat, split if long; buttons go on the last part."""
        parts = split_message(text)
        message = None
        for index, part in enumerate(parts):
            markup = reply_markup if index == len(parts) - 1 else None
            message = await self.context.bot.send_message(
                self.chat_id,
                part,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
                disable_web_page_preview=True,
            )
        assert message is not None
        return message

    async def edit(self, text: str, *, reply_markup: InlineKeyboardMarkup | None = None) -> None:
        """Replace the text of the message whose button was pressed."""
        assert self.query is not None
        message = self.query.message
        if (
            message is not None
            and getattr(message, "text_html", None) == text
            and reply_markup == message.reply_markup
        ):
            return  # Telegram refuses an edit that changes nothing
        await self.query.edit_message_text(
            text,
            parse_mode=ParseMode.HTML,
            reply_markup=reply_markup,
            disable_web_page_preview=True,
        )

    async def answer(self, text: str | None = None, *, alert: bool = False) -> None:
        if self.query is not None and not self.answered:
            self.answered = True
            await self.query.answer(text, show_alert=alert)


Handler = Callable[[Turn], Awaitable[None]]


def translator_for(account: TelegramAccount, services: Services) -> Translator:
    """The language another user reads in (for messages the bot sends them unasked)."""
    locale = locale_for(
        account.language_code, account.chosen_locale, services.settings.default_locale
    )
    return Translator(locale, services.settings.tz)


def private_chat_button(t: Translator, bot_username: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(t("Open the private chat"), url=f"https://t.me/{bot_username}")]]
    )


def turn_handler(*, private_only: bool = True) -> Callable[[Handler], Callable]:
    """Wrap a handler: one session per update, identity, language, the private-chat rule,
    refusals rendered in the user's language, and every button press answered."""

    def decorate(fn: Handler) -> Callable:
        @functools.wraps(fn)
        async def callback(update: Update, context: BotContext) -> None:
            user = update.effective_user
            chat = update.effective_chat
            if user is None or chat is None:
                return
            services = context.services
            private = chat.type == ChatType.PRIVATE
            async with services.db.session() as session:
                account = await touch_account(
                    session, user.id, user.language_code, private=private, now=services.now()
                )
                t = translator_for(account, services)
                turn = Turn(update, context, session, account, await identify(session, account), t)
                try:
                    if private_only and not private:
                        await _point_to_private_chat(turn)
                    else:
                        await fn(turn)
                except Refusal as refusal:
                    text = t(refusal.msgid, **refusal.params)
                    if turn.query is not None and not turn.answered:
                        await turn.answer(text, alert=True)
                    else:
                        await turn.reply(text)
                finally:
                    await turn.answer()

        return callback

    return decorate


async def _point_to_private_chat(turn: Turn) -> None:
    text = turn.t("For privacy I only handle this in a private chat. Please write to me there.")
    if turn.query is not None:
        await turn.answer(text, alert=True)
        return
    await turn.context.bot.send_message(
        turn.chat_id,
        text,
        reply_to_message_id=turn.update.effective_message.message_id,
        reply_markup=private_chat_button(turn.t, turn.services.bot_username),
    )
