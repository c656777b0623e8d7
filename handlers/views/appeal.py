"""What /khieu_nai, its answer and /ket_qua show: pure functions of the translator and data."""

from __future__ import annotations

from typing import Literal

from telegram import InlineKeyboardButton
from telegram import InlineKeyboardMarkup

from bot.callbacks import ButtonData
from bot.i18n import N_
from bot.i18n import Translator
from bot.services.appeal import Outstanding
from bot.text import esc
from bot.text import split_message
from storage.models import RatingState

# Characters of the member's text per message, leaving room for the head (names, a level).
BODY_PART = 3000


class AnswerButton(ButtonData, prefix="kn"):
    """"✍️ Answer" under an appeal sent to the committee."""

    action: Literal["a", "u"]  # a member's appeal, a unit's appeal (issue 14)
    appeal_id: int


class AppealConfirm(ButtonData, prefix="knc"):
    """"✅ Confirm" under the last step of an appeal or of its answer."""

    flow: Literal["appeal", "appeal_answer"]


def long_parts(head: str, body: str) -> list[str]:
    """The head (HTML) and the member's text, in as many messages as Telegram needs. The text
    is split before it is escaped, as Telegram counts the characters after parsing and an
    escape must not be cut in two."""
    pieces = split_message(body, BODY_PART)
    return [f"{head}\n\n{esc(pieces[0])}"] + [esc(piece) for piece in pieces[1:]]


def confirm_keyboard(t: Translator, flow: str) -> InlineKeyboardMarkup:
    data = AppealConfirm(flow).encode()  # type: ignore[arg-type]
    return InlineKeyboardMarkup([[InlineKeyboardButton(t("✅ Confirm"), callback_data=data)]])


def answer_keyboard(t: Translator, appeal_id: int, kind: Literal["a", "u"] = "a") -> InlineKeyboardMarkup:
    data = AnswerButton(kind, appeal_id).encode()
    return InlineKeyboardMarkup([[InlineKeyboardButton(t(N_("✍️ Answer")), callback_data=data)]])


def appeal_prompt(t: Translator, year: int, level: str) -> str:
    return t(
        "Your decided level for {year} is {level}. Write your appeal in one message: it "
        "goes to the deciding committee, which answers in writing.",
        year=year,
        level=f"<b>{level}</b>",
    )


def _before_sending(t: Translator, msgid: str, length: int, **names: str) -> str:
    """What sending a written text does, with its length and who it goes to in bold."""
    bold = {key: f"<b>{esc(value)}</b>" for key, value in names.items()}
    return t(msgid, count=t.number(length), **bold)


def appeal_confirm_text(t: Translator, org: str, length: int) -> str:
    msgid = N_(
        "Your appeal ({count} characters) is sent to the committee of {org}, which answers "
        "in writing. It cannot be taken back once sent."
    )
    return _before_sending(t, msgid, length, org=org)


def appeal_head(t: Translator, name: str, cell: str, level: str, year: int) -> str:
    return t(
        N_("Appeal from {name} ({cell}) against the decided level {level} for {year}:"),
        name=f"<b>{esc(name)}</b>",
        cell=esc(cell),
        level=level,
        year=year,
    )


def appeal_sent(t: Translator, reached: int, org: str) -> str:
    if reached:
        return t(
            "Your appeal was sent to {count} members of the committee of {org}. "
            "Their written answer will come here.",
            count=t.number(reached),
            org=esc(org),
        )
    return t(
        "Your appeal is recorded, but no member of the committee of {org} can be "
        "reached here yet; tell your secretary.",
        org=esc(org),
    )


def answer_prompt(t: Translator, name: str) -> str:
    return t(
        "Write the committee's answer to the appeal of {name} in one message; it is "
        "recorded and sent to them.",
        name=f"<b>{esc(name)}</b>",
    )


def answer_confirm_text(t: Translator, name: str, length: int) -> str:
    msgid = N_(
        "Your answer ({count} characters) is recorded as the committee's and sent to {name}. "
        "It cannot be changed once sent."
    )
    return _before_sending(t, msgid, length, name=name)


def answer_head(t: Translator, org: str) -> str:
    return t(N_("The answer of {org} to your appeal:"), org=f"<b>{esc(org)}</b>")


def answer_sent(t: Translator, name: str, sent: bool) -> str:
    if sent:
        return t("Your answer is recorded and was sent to {name}.", name=esc(name))
    return t(
        "Your answer is recorded; {name} cannot be reached here, so tell them in person.",
        name=esc(name),
    )


def results_text(
    t: Translator,
    rows: list[tuple[int, str, str]],
    runs: list[tuple[str, list[Outstanding]]],
) -> str:
    """The member's levels by year; then, per unit they oversee, HTXS five years running."""
    lines = ["<b>" + esc(t("Your quality ratings by year")) + "</b>"]
    if not rows:
        lines.append(t("No level has been decided for you yet."))
    for year, level, state in rows:
        if state == RatingState.DECIDED:
            lines.append(t("{year}: {level}", year=year, level=f"<b>{level}</b>"))
        else:
            lines.append(t("{year}: {level} proposed, not decided yet", year=year, level=level))
    for org, found in runs:
        lines += ["", t("Rated HTXS five years running in {org}:", org=f"<b>{esc(org)}</b>")]
        if not found:
            lines.append(t("nobody"))
        lines += [
            f"• {esc(run.member.full_name)} ({esc(run.member.code)}), {esc(run.cell.name)}: "
            f"{run.first_year}–{run.last_year}"
            for run in found
        ]
    return "\n".join(lines)
