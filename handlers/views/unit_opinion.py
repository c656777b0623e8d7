"""What /y_kien shows (a participating body's opinion on a unit's rating): pure functions of the
translator and the data, and the buttons' data."""

from __future__ import annotations

from typing import Literal

from telegram import InlineKeyboardMarkup

from bot.callbacks import ButtonData
from bot.i18n import N_
from bot.i18n import Translator
from bot.services.unit_opinion import BODY_NAMES
from bot.services.unit_opinion import LISTED_MAX
from bot.services.unit_opinion import TEXT_MAX
from bot.services.unit_opinion import TEXT_MIN
from bot.services.unit_opinion import OpenReview
from bot.text import esc
from handlers.views.unit_decision import subject_label
from rules.levels import LEVELS_DESC
from rules.levels import Level
from storage.models import ParticipantBody
from storage.models import ParticipantOpinion

# (menu description, /help line) of /y_kien.
Y_KIEN = (
    N_("A participating body's opinion"),
    N_(
        "/y_kien [code]: give the opinion of the body you represent (or, for the organising "
        "office, of any body) on the rating of an organisation under review: a level or none, "
        "and a written assessment"
    ),
)
NO_LEVEL = "none"
Screen = tuple[str, InlineKeyboardMarkup | None]


class OpinionButton(ButtonData, prefix="yk"):
    """A /y_kien answer: the unit review, the body, the level (or none), save."""

    action: Literal["unit", "body", "level", "save"]
    review_id: int
    choice: str | None = None  # a ParticipantBody value, a level code or NO_LEVEL


def label(t: Translator, item: OpenReview) -> str:
    return subject_label(t, item.org.name, item.review.subject)


def body_name(t: Translator, body: ParticipantBody | str) -> str:
    return t(BODY_NAMES[ParticipantBody(body)])


def units_screen(t: Translator, items: list[OpenReview]) -> Screen:
    text = t("Which organisation's rating do you give an opinion on?")
    if len(items) > LISTED_MAX:
        text += "\n" + t("There are more than {count}; send /y_kien with the unit's code to reach "
                         "the others.", count=t.number(LISTED_MAX))
    rows = [[OpinionButton("unit", item.review.id).button(label(t, item))]
            for item in items[:LISTED_MAX]]
    return text, InlineKeyboardMarkup(rows)


def bodies_screen(t: Translator, item: OpenReview) -> Screen:
    text = t("On {unit}: the opinion of which body?", unit=f"<b>{esc(label(t, item))}</b>")
    rows = [[OpinionButton("body", item.review.id, body.value).button(body_name(t, body))]
            for body in item.bodies]
    return text, InlineKeyboardMarkup(rows)


def level_screen(
    t: Translator, item: OpenReview, body: ParticipantBody, earlier: ParticipantOpinion | None
) -> Screen:
    lines = [t("{body} on {unit}: which level does it propose?", body=esc(body_name(t, body)),
               unit=f"<b>{esc(label(t, item))}</b>")]
    if earlier is not None:
        lines.append(t("Its earlier opinion ({level}) is replaced when you save this one.",
                       level=earlier.level or t("no level proposed")))
    rows = [[OpinionButton("level", item.review.id, level.value).button(f"{level.value} ({t(level.name_msgid)})")] for level in LEVELS_DESC]
    rows.append([OpinionButton("level", item.review.id, NO_LEVEL).button(t("No level proposed"))])
    return "\n".join(lines), InlineKeyboardMarkup(rows)


def text_prompt(t: Translator, item: OpenReview, body: ParticipantBody, level: Level | None) -> str:
    return t(
        "Write the assessment of {body} on {unit} in one message ({min} to {max} characters); "
        "level proposed: {level}.",
        body=esc(body_name(t, body)),
        unit=f"<b>{esc(label(t, item))}</b>",
        min=TEXT_MIN,
        max=t.number(TEXT_MAX),
        level=level.value if level else t("none"),
    )


def bad_length(t: Translator) -> str:
    return t("Write {min} to {max} characters.", min=TEXT_MIN, max=t.number(TEXT_MAX))


def confirm_screen(
    t: Translator, item: OpenReview, body: ParticipantBody, level: Level | None, length: int
) -> Screen:
    text = t(
        "The opinion of {body} on {unit} is recorded: level {level}, an assessment of {count} "
        "characters. The deciding level sees it; a later opinion of the same body replaces it.",
        body=esc(body_name(t, body)),
        unit=f"<b>{esc(label(t, item))}</b>",
        level=level.value if level else t("none"),
        count=t.number(length),
    )
    data = OpinionButton("save", item.review.id)
    return text, InlineKeyboardMarkup([[data.button(t("✅ Save the opinion"))]])


def saved_text(t: Translator, item: OpenReview, body: ParticipantBody) -> str:
    return t("Saved the opinion of {body} on {unit}.", body=esc(body_name(t, body)),
             unit=f"<b>{esc(label(t, item))}</b>")
