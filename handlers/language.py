"""/ngon_ngu: choose the interface language."""

from __future__ import annotations

from telegram.ext import CallbackQueryHandler
from telegram.ext import CommandHandler

from bot.i18n import LOCALES
from bot.i18n import Translator
from bot.services.menus import choose_locale
from handlers.base import Turn
from handlers.base import turn_handler
from handlers.views.language import LANGUAGE_LABELS
from handlers.views.language import LanguageButton
from handlers.views.language import language_keyboard


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


@turn_handler(button=LanguageButton)
async def language_chosen(turn: Turn) -> None:
    code = turn.button.code
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
    CallbackQueryHandler(language_chosen, pattern=LanguageButton.pattern()),
]
