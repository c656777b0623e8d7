"""The self-review's screens as pure functions: (translator, what the service found) -> text and
keyboard. No Telegram calls, no database."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from telegram import InlineKeyboardButton
from telegram import InlineKeyboardMarkup

from bot.callbacks import ButtonData
from bot.i18n import Translator
from bot.services.copycheck import CopyFlag
from bot.services.reviews import LEVEL
from bot.services.reviews import PREVIEW
from bot.services.reviews import SCORE_GENERAL
from bot.services.reviews import SCORE_TASKS
from bot.services.reviews import ReviewSetting
from bot.text import esc
from rules.caps import AllowedLevels
from rules.forms import FORM_TITLES
from rules.levels import Level
from rules.review_form import PROMPTS_FROM
from rules.scoring import Score
from storage.models import SelfReview

ReviewAction = Literal[
    "view", "docx", "done", "show", "undo", "back", "goto", "lvl", "submit", "confirm", "cancel"
]


class ReviewButton(ButtonData, prefix="kd"):
    """A button of the member's own self-review; `arg` is the part it is about (a section key,
    a score or the level), or the level chosen."""

    action: ReviewAction
    arg: str = ""


def button(label: str, action: ReviewAction, arg: str = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=ReviewButton(action, arg).encode())


def not_reviewed_text(t: Translator, setting: ReviewSetting) -> str:
    lines = [t("You do not write a self-review this year:")]
    lines += [f"• {esc(reason.render(t.gettext))}" for reason in setting.eligibility.reasons]
    return "\n".join(lines)


def due_line(t: Translator, setting: ReviewSetting) -> str:
    if setting.due is None:
        return t(
            "Your cell has not set its meeting date yet; the review will be due {days} days before it.",
            days=setting.rulebook.self_review_days_before,
        )
    return t(
        "Due: {date} ({days} days before the cell meeting).",
        date=t.date(setting.due),
        days=setting.rulebook.self_review_days_before,
    )


def intro_text(t: Translator, setting: ReviewSetting) -> str:
    intro = [
        t(
            "<b>{form}</b> — year {year}",
            form=t(FORM_TITLES[setting.form_code]),
            year=setting.cycle.year,
        ),
        due_line(t, setting),
        t(
            "Write each part in as many messages as you like; everything is saved as it arrives. "
            "Press «Done» to go on. You can stop at any time and come back with /kiem_diem."
        ),
    ]
    if not setting.eligibility.rated:
        intro.append(t("This year you are reviewed but not rated, so the form has no self-rating."))
    return "\n\n".join(intro)


def returned_text(t: Translator, review: SelfReview) -> str:
    return t(
        "Your secretary returned your self-review for revision: {reason}",
        reason=f"<i>{esc(review.return_reason or '')}</i>",
    )


def welcome_back_text(t: Translator, setting: ReviewSetting) -> str:
    return t("Welcome back. You continue where you left off.") + "\n" + due_line(t, setting)


def submitted_screen(t: Translator, review: SelfReview) -> tuple[str, InlineKeyboardMarkup]:
    text = t("You submitted your self-review on {when}.", when=t.datetime(review.submitted_at))
    if review.late:
        text += " " + t("It was submitted after the due date.")
    text += "\n" + t("Only your secretary can return it to you for changes.")
    keyboard = InlineKeyboardMarkup(
        [[button(t("👁 View"), "view"), button(t("📥 Word file"), "docx")]]
    )
    return text, keyboard


def _to_preview(t: Translator, review: SelfReview) -> list[InlineKeyboardButton]:
    return [button(t("👁 Whole review"), "goto", PREVIEW)] if review.reached_preview else []


def section_keyboard(
    t: Translator, setting: ReviewSetting, review: SelfReview, key: str
) -> InlineKeyboardMarkup:
    section = setting.section(key)
    first = [button(t("✅ Done"), "done", key)]
    if section.optional:
        first.append(button(t("⏭ Skip (not applicable)"), "done", key))
    second = [
        button(t("📄 Show this part"), "show", key),
        button(t("↩️ Delete last message"), "undo", key),
    ]
    third = [button(t("◀ Back"), "back", key)] if setting.stages().index(key) > 0 else []
    third += _to_preview(t, review)
    return InlineKeyboardMarkup([first, second] + ([third] if third else []))


def section_prompt(
    t: Translator,
    setting: ReviewSetting,
    review: SelfReview,
    key: str,
    length: int,
    prompts: Sequence[tuple[str, str]] = (),
) -> tuple[str, InlineKeyboardMarkup]:
    """A part of the form; `prompts` are the points an upper level sent for part IV (issue 14):
    (organisation name, text), shown above the member's answer."""
    section = setting.section(key)
    if length:
        status = t(
            "Written so far: {count} characters. Send more to continue, or press «Done».",
            count=t.number(length),
        )
    elif section.optional:
        status = t("Optional: write it if it applies to you, or press «Skip».")
    else:
        status = t("Send your text; several messages are fine. Then press «Done».")
    lines = [
        t("Part {n} of {total}", n=setting.stages().index(key) + 1, total=len(setting.sections)),
        f"<b>{esc(t(section.heading))}</b>",
        f"<i>{esc(t(section.hint))}</i>",
    ]
    for org_name, text in prompts:
        lines += ["", esc(t(PROMPTS_FROM, org=org_name)), esc(text)]
    lines += ["", status]
    return "\n".join(lines), section_keyboard(t, setting, review, key)


def saved_text(t: Translator, length: int, maximum: int) -> str:
    return t(
        "Saved ({count}/{max} characters). Send more, or press «Done».",
        count=t.number(length),
        max=t.number(maximum),
    )


def score_maximum(setting: ReviewSetting, stage: str) -> int:
    rulebook = setting.rulebook
    return rulebook.score_general_max if stage == SCORE_GENERAL else rulebook.score_tasks_max


def score_prompt(
    t: Translator, setting: ReviewSetting, review: SelfReview, stage: str
) -> tuple[str, InlineKeyboardMarkup]:
    maximum = score_maximum(setting, stage)
    if stage == SCORE_GENERAL:
        text = t(
            "B. Self-rating. Type your points for the general criteria (political quality, ethics, "
            "discipline, self-criticism), from 0 to {max}:",
            max=maximum,
        )
    else:
        text = t("Type your points for the results of your tasks, from 0 to {max}:", max=maximum)
    row = [button(t("◀ Back"), "back", stage), *_to_preview(t, review)]
    return text, InlineKeyboardMarkup([row])


def levels_prompt(
    t: Translator, review: SelfReview, allowed: AllowedLevels, score: Score | None
) -> tuple[str, InlineKeyboardMarkup]:
    lines = [t("Choose the quality level you propose for yourself:")]
    if score is not None:
        lines.append(t("Your total: {total}/100.", total=t.number(score.total)))
    lines += [f"• {esc(note.render(t.gettext))}" for note in allowed.explanations]
    rows = [
        [button(f"{level.value} — {t(level.name_msgid)}", "lvl", level.value)]
        for level in allowed.levels
    ]
    rows.append([button(t("◀ Back"), "back", LEVEL), *_to_preview(t, review)])
    return "\n".join(lines), InlineKeyboardMarkup(rows)


def review_text(
    t: Translator, setting: ReviewSetting, review: SelfReview, texts: dict[str, str]
) -> str:
    """The whole review as HTML lines (headings bold, the member's text escaped)."""
    member = setting.member
    lines = [
        f"<b>{esc(t(FORM_TITLES[setting.form_code]))}</b> — "
        + t("year {year}", year=setting.cycle.year),
        t("Full name: {name}", name=esc(member.full_name)),
        "",
    ]
    for section in setting.sections:
        lines.append(f"<b>{esc(t(section.heading))}</b>")
        lines.append(esc(texts.get(section.key, "").strip()) or t("(nothing written)"))
        lines.append("")
    if setting.eligibility.rated:
        if setting.scored:
            score = (
                Score(review.general_score, review.task_score)
                if review.general_score is not None and review.task_score is not None
                else None
            )
            lines.append(
                t(
                    "Points: general {general}/30, tasks {tasks}/70, total {total}/100.",
                    general=review.general_score,
                    tasks=review.task_score,
                    total=score.total,
                )
                if score
                else t("Points: not entered yet.")
            )
        level = Level(review.proposed_level) if review.proposed_level else None
        lines.append(
            t("Proposed level: {level}", level=f"<b>{level.value} — {esc(t(level.name_msgid))}</b>")
            if level
            else t("Proposed level: not chosen yet.")
        )
    return "\n".join(lines)


def preview_screen(
    t: Translator, setting: ReviewSetting, review: SelfReview, texts: dict[str, str]
) -> tuple[str, InlineKeyboardMarkup]:
    """The whole review with a button to edit each part (long text is split when sent, the
    buttons under its last part)."""
    rows = []
    for section in setting.sections:
        label = t(section.heading)
        short = label if len(label) <= 40 else label[:39] + "…"
        rows.append([button("✏️ " + short, "goto", section.key)])
    if setting.eligibility.rated:
        extra = [button(t("✏️ Points"), "goto", SCORE_GENERAL)] if setting.scored else []
        rows.append(extra + [button(t("✏️ Level"), "goto", LEVEL)])
    rows.append([button(t("📥 Word file"), "docx"), button(t("📨 Submit"), "submit")])
    text = review_text(t, setting, review, texts)
    text += "\n\n" + t("Check your review. Edit any part, or submit it.")
    text += "\n" + due_line(t, setting)
    return text, InlineKeyboardMarkup(rows)


def missing_names(t: Translator, setting: ReviewSetting, missing: list[str]) -> str:
    names = []
    for key in missing:
        section = setting.section(key)
        if section is not None:
            names.append(t(section.heading))
        else:
            names.append(t("points") if key in (SCORE_GENERAL, SCORE_TASKS) else t("proposed level"))
    return "; ".join(names)


def submit_question(
    t: Translator, setting: ReviewSetting, flags: list[CopyFlag]
) -> tuple[str, InlineKeyboardMarkup]:
    """What submitting does (or what looks copied), with the buttons to go on or not."""
    if not flags:
        text = t(
            "Submit your self-review to the cell? After that only your secretary can return it "
            "to you for changes."
        )
        keyboard = InlineKeyboardMarkup(
            [[button(t("✅ Yes, submit"), "confirm"), button(t("Not yet"), "cancel")]]
        )
        return text + "\n" + due_line(t, setting), keyboard
    lines = []
    for flag in flags:
        heading = esc(t(setting.section(flag.section_key).heading))
        if flag.source == "hint":
            lines.append(
                t(
                    "⚠️ «{part}» repeats the form's own guidance ({score}% alike). Write it in your own words.",
                    part=heading,
                    score=round(flag.score),
                )
            )
        else:
            lines.append(
                t(
                    "⚠️ «{part}» is very close to another member's submitted review ({score}% alike). "
                    "Reviews copied «for form's sake» are flagged to your secretary.",
                    part=heading,
                    score=round(flag.score),
                )
            )
    keyboard = InlineKeyboardMarkup(
        [[button(t("✏️ Edit first"), "cancel"), button(t("📨 Submit anyway"), "confirm")]]
    )
    return "\n".join(lines), keyboard


def submitted_now_text(
    t: Translator, setting: ReviewSetting, review: SelfReview, when
) -> str:
    text = t("Your self-review was submitted on {when}.", when=t.datetime(when))
    if review.late:
        text += " " + t("It is late: the due date was {date}.", date=t.date(setting.due))
    return text


def docx_caption(t: Translator, setting: ReviewSetting) -> tuple[str, str]:
    """The Word file's caption and file name."""
    caption = t(
        "Self-review of {name}, {year}", name=esc(setting.member.full_name), year=setting.cycle.year
    )
    return caption, f"ban-kiem-diem-{setting.member.code}-{setting.cycle.year}.docx"


def edit_taken_text(t: Translator, heading: str | None, length: int, maximum: int) -> str:
    return t(
        "✏️ Updated: the piece of «{part}» now has your edited text ({count}/{max} characters).",
        part=esc(t(heading)) if heading else "",
        count=t.number(length),
        max=t.number(maximum),
    )
