"""The /ngon_ngu choice: one button per interface language, each named in its own language."""

from __future__ import annotations

import typing
from typing import Literal

from telegram import InlineKeyboardButton
from telegram import InlineKeyboardMarkup

from bot.callbacks import ButtonData
from bot.i18n import LOCALES

LANGUAGE_LABELS = {"vi": "Tiếng Việt", "en": "English"}  # each in its own language, untranslated
Locale = Literal["vi", "en"]
assert set(typing.get_args(Locale)) == set(LOCALES) == set(LANGUAGE_LABELS)


class LanguageButton(ButtonData, prefix="lang"):
    """The language chosen."""

    code: Locale


def language_keyboard(current: str) -> InlineKeyboardMarkup:
    """The languages on one row, the current one ticked."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    ("✓ " if code == current else "") + LANGUAGE_LABELS[code],
                    callback_data=LanguageButton(code).encode(),
                )
                for code in LOCALES
            ]
        ]
    )
