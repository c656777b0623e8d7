"""/bien_ban's screens as pure functions: what the minutes hold and what they still lack, the
Word file's caption, and the chair's conclusions flow (prompt, confirmation, saved)."""

from __future__ import annotations

from typing import Literal

from telegram import InlineKeyboardMarkup

from bot.callbacks import ButtonData
from bot.i18n import N_
from bot.i18n import Translator
from bot.services.minutes import CONCLUSIONS_MAX
from bot.services.minutes import MinutesData
from bot.text import esc

BIEN_BAN = (
    N_("The meeting's minutes as a Word file"),
    N_("/bien_ban [code]: the minutes of the review meeting of your unit (or of a unit under it) "
       "drafted as a Word file, and the chair's conclusions"),
)
EXCERPT = 600  # characters of the conclusions shown under the summary


class ConclusionsButton(ButtonData, prefix="bb"):
    """Under the minutes' summary, "✍️ Ghi kết luận" (write: type the chair's conclusions);
    under them, "✅ Ghi vào biên bản" (confirm: they replace those in the minutes)."""

    action: Literal["write", "confirm"]
    meeting_id: int


def _parts(data: MinutesData) -> list[tuple[str, bool]]:
    """(what, held) for each part of the minutes the bot fills from its records."""
    reviews = data.reviews
    return [
        (N_("attendance"), data.attendance.recorded),
        (N_("the collectives' reports"), bool(reviews) and all(r.report for r in reviews)),
        (N_("the scores"), bool(reviews) and all(r.scores.held for r in reviews)),
        (N_("the ballot results"), any(r.state == "closed" for r in data.rounds)),
        (N_("the chair's conclusions"), data.conclusions is not None),
    ]


def summary_text(t: Translator, data: MinutesData) -> str:
    parts = _parts(data)
    held = [t(name) for name, present in parts if present]
    missing = [t(name) for name, present in parts if not present]
    lines = [
        "📄 <b>" + esc(t("Minutes of the meeting of {unit}, {year}", unit=data.unit_name,
                         year=data.year)) + "</b> " + esc(t("(draft)")),
        esc(t("🗓 Meeting: {time}", time=t.datetime(data.meeting_at))),
        esc(t("✅ Filled in: {parts}", parts=", ".join(held) if held else "—")),
    ]
    if missing:
        lines.append(esc(t("⏳ Not yet: {parts} (the minutes say so where they stand)",
                           parts=", ".join(missing))))
    if data.prompts:
        lines.append(esc(t("📌 Points from the upper level: {count}",
                           count=t.number(len(data.prompts)))))
    if data.conclusions is not None:
        excerpt = data.conclusions
        if len(excerpt) > EXCERPT:
            excerpt = excerpt[: EXCERPT - 1] + "…"
        lines += ["", "<b>" + esc(t("The chair's conclusions:")) + "</b>", esc(excerpt)]
    lines += ["", esc(t("The secretary of the meeting completes the blanks (place, chair, "
                        "discussion) and presents the minutes for signature."))]
    return "\n".join(lines)


def summary_keyboard(
    t: Translator, meeting_id: int, may_write: bool, has_conclusions: bool
) -> InlineKeyboardMarkup | None:
    if not may_write:
        return None
    label = t("✍️ Change the conclusions") if has_conclusions else t("✍️ Write the conclusions")
    return InlineKeyboardMarkup(
        [[ConclusionsButton("write", meeting_id).button(label)]]
    )


def file_caption(t: Translator, data: MinutesData) -> tuple[str, str]:
    """The Word file's caption and name."""
    caption = esc(t("Minutes of the meeting of {unit}, {year} (draft)", unit=data.unit_name,
                    year=data.year))
    return caption, f"bien-ban-{data.unit_code}-{data.year}.docx"


def conclusions_prompt(t: Translator, unit_name: str, current: str | None) -> str:
    lines = [esc(t("Send the chair's conclusions of the meeting of {unit} in one message (at most "
                   "{max} characters). They replace what the minutes say now.", unit=unit_name,
                   max=t.number(CONCLUSIONS_MAX)))]
    if current:
        lines += ["", "<b>" + esc(t("Now:")) + "</b>", esc(current)]
    return "\n".join(lines)


def confirm_text(t: Translator, unit_name: str, text: str) -> str:
    return "\n".join([
        esc(t("These conclusions will be written into the minutes of {unit}:", unit=unit_name)),
        "",
        esc(text),
    ])


def confirm_keyboard(t: Translator, meeting_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[ConclusionsButton("confirm", meeting_id).button(t("✅ Write into the minutes"))]]
    )


def saved_text(t: Translator, unit_name: str, code: str) -> str:
    return esc(t("Written into the minutes of {unit}. Send /bien_ban {code} for the Word file with "
                 "them.", unit=unit_name, code=code))
