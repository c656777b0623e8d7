"""/ngon_ngu: choose the interface language."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.i18n import LOCALES, Translator
from bot.services.menus import choose_locale
from handlers.base import Refusal, Turn, turn_handler

LANGUAGE_LABELS = {"vi": "Tiếng Việt", "en": "English"}  # each in its own language, untranslated
CALLBACK_PREFIX = "lang:"


def language_keyboard(current: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    ("✓ " if code == current else "") + LANGUAGE_LABELS[code],
                    callback_data=f"{CALLBACK_PREFIX}{code}",
                )
                for code in LOCALES
            ]
        ]
    )


@turn_handler()
async def choose_language(turn: Turn) -> None:
    """/ngon_ngu shows the choice; /ngon_ngu vi or /ngon_ngu en makes it at once."""
    args = turn.context.args or []
    code = args[0].strip().lower() if len(args) == 1 else ""
    if code in LOCALES:
        await _choose(turn, code)
        await turn.reply(turn.t("From now on I will write to you in English."))
        return
    await turn.reply(turn.t("Choose your language:"), reply_markup=language_keyboard(turn.t.locale))


@turn_handler()
async def language_chosen(turn: Turn) -> None:
    code = turn.query.data.removeprefix(CALLBACK_PREFIX)
    if code not in LOCALES:
        raise Refusal("This button is no longer valid.")
    await _choose(turn, code)
    await turn.answer(turn.t("Language: {language}", language=LANGUAGE_LABELS[code]))
    await turn.edit(
        turn.t("From now on I will write to you in English."),
        reply_markup=None,
    )


async def _choose(turn: Turn, code: str) -> None:
    """The account's language from now on; its command menu follows (bot/services/menus.py)."""
    await choose_locale(turn.session, turn.account, code, actor=turn.actor)
    turn.t = Translator(code, turn.t.timezone)


HANDLERS = [
    CommandHandler("ngon_ngu", choose_language),
    CallbackQueryHandler(language_chosen, pattern=f"^{CALLBACK_PREFIX}"),
]
