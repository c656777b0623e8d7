"""What the roster upload shows: errors, the preview of changes, the result. Pure functions."""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Sequence
from typing import Literal

from telegram import InlineKeyboardButton
from telegram import InlineKeyboardMarkup

from bot.callbacks import ButtonData
from bot.i18n import Translator
from bot.roster import RosterError
from bot.text import esc


class RosterButton(ButtonData, prefix="roster"):
    """"✅ Apply" under the preview of a roster file (the flow `roster_preview`)."""

    action: Literal["apply"]
    pending_id: int


def errors_text(t: Translator, errors: Sequence[RosterError]) -> str:
    lines = [
        t(
            "The file has {count} errors; nothing was changed. Please fix them and send it again:",
            count=t.number(len(errors)),
        )
    ]
    lines += [f"• {esc(error.render(t.gettext))}" for error in errors]
    return "\n".join(lines)


def outside_text(t: Translator, cell: str, problems: Iterable[RosterError]) -> str:
    lines = [t("This file reaches outside your cell {org}; nothing was changed:", org=esc(cell))]
    lines += [f"• {esc(problem.render(t.gettext))}" for problem in problems]
    return "\n".join(lines)


def preview(
    t: Translator, cell: str, changes: list[str], pending_id: int
) -> tuple[str, InlineKeyboardMarkup]:
    lines = [t("Preview of the import into {org}:", org=f"<b>{esc(cell)}</b>"), ""]
    lines += [esc(line) for line in changes]
    lines += ["", t("Nothing is written until you confirm.")]
    data = RosterButton("apply", pending_id).encode()
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton(t("✅ Apply"), callback_data=data)]])
    return "\n".join(lines), keyboard


def applied(t: Translator, cell: str, changes: list[str]) -> str:
    lines = [t("Import into {org} applied.", org=f"<b>{esc(cell)}</b>"), ""]
    lines += [esc(line) for line in changes]
    return "\n".join(lines)
