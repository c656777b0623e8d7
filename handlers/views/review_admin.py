"""The secretary's screens of the cell's self-reviews, as pure functions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from telegram import InlineKeyboardButton
from telegram import InlineKeyboardMarkup

from bot.callbacks import ButtonData
from bot.i18n import N_
from bot.i18n import Translator
from bot.services.reviews import FlagView
from bot.services.reviews import ReviewSetting
from bot.text import esc
from storage.models import Member
from storage.models import ReviewState
from storage.models import SelfReview

RETURNED_NOTICE = N_(
    "Your secretary returned your self-review for revision: {reason}\n"
    "Send /kiem_diem to edit and submit it again."
)


class CellReviewButton(ButtonData, prefix="kdcb"):
    """Read a review of the cell (`ref` is the review), or get all as Word files (the cell)."""

    action: Literal["open", "doc", "all"]
    ref: int


class ReturnButton(ButtonData, prefix="kdtl"):
    """Return a submitted review for revision: ask for the reason, then confirm."""

    action: Literal["ask", "ok"]
    review_id: int


@dataclass
class MemberRow:
    """One member of the cell's listing: their setting and review (None: not started)."""

    member: Member
    setting: ReviewSetting
    review: SelfReview | None
    flagged: bool


SCREEN_LIMIT = 1200  # characters a phone shows without long scrolling


def in_parts(lines: list[str], limit: int = SCREEN_LIMIT) -> list[str]:
    """The lines as messages of at most about `limit` characters, cut between lines."""
    parts: list[list[str]] = [[]]
    size = 0
    for line in lines:
        if parts[-1] and size + len(line) + 1 > limit:
            parts.append([])
            size = 0
        parts[-1].append(line)
        size += len(line) + 1
    return ["\n".join(part).strip("\n") for part in parts if "".join(part).strip()]


def listing_screen(
    t: Translator, cell_name: str, cell_id: int, rows: list[MemberRow], tz: dt.tzinfo
) -> tuple[list[str], InlineKeyboardMarkup | None]:
    """Who stands where, with a button for each review the secretary can open; a large cell's
    list comes in several messages (the counts first, the buttons under the last)."""
    lines, buttons = [], []
    counts = {"due": 0, "submitted": 0, "late": 0, "flagged": 0}
    for index, row in enumerate(rows, 1):
        lines.append(f"{index}. {esc(row.member.full_name)}: " + _state(t, row, counts, buttons, tz))
    setting = rows[-1].setting if rows else None
    head = [
        t(
            "Self-reviews of {cell}, {year}",
            cell=f"<b>{esc(cell_name)}</b>",
            year=setting.cycle.year if setting else "",
        )
    ]
    if setting and setting.due:
        head.append(t("Due: {date}", date=t.date(setting.due)))
    head.append(
        t(
            "Submitted {submitted} of {due}; late {late}; flagged as copied {flagged}.",
            **{k: t.number(v) for k, v in counts.items()},
        )
    )
    keyboard = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    if counts["submitted"]:
        data = CellReviewButton("all", cell_id).encode()
        keyboard.append([InlineKeyboardButton(t("📥 All submitted as Word files"), callback_data=data)])
    return in_parts(head + [""] + lines), InlineKeyboardMarkup(keyboard) if keyboard else None


def _state(t: Translator, row: MemberRow, counts: dict, buttons: list, tz: dt.tzinfo) -> str:
    setting, review, member = row.setting, row.review, row.member
    if not setting.eligibility.reviewed:
        reasons = "; ".join(r.render(t.gettext) for r in setting.eligibility.reasons)
        return t("not reviewed ({reasons})", reasons=esc(reasons))
    counts["due"] += 1
    if review is None:
        return t("not started")
    if review.state == ReviewState.RETURNED:
        buttons.append(CellReviewButton("open", review.id).button("↩️ " + member.full_name))
        return t("returned for revision")
    if review.state == ReviewState.DRAFTING:
        return t("drafting")
    counts["submitted"] += 1
    text = t("submitted {date}", date=t.date(review.submitted_at.astimezone(tz)))
    if review.late:
        counts["late"] += 1
        text += ", " + t("late")
    if row.flagged:
        counts["flagged"] += 1
        text += " ⚠️ " + t("looks copied")
    buttons.append(CellReviewButton("open", review.id).button("📄 " + member.full_name))
    return text


def flag_lines(t: Translator, setting: ReviewSetting, flags: list[FlagView]) -> list[str]:
    lines = []
    for flag in flags:
        section = setting.section(flag.section)
        part = esc(t(section.heading)) if section else esc(flag.section)
        if flag.source == "hint":
            lines.append(
                t(
                    "⚠️ «{part}» repeats the form's guidance ({score}% alike).",
                    part=part,
                    score=flag.score,
                )
            )
        else:
            lines.append(
                t(
                    "⚠️ «{part}» is {score}% alike to the review of {name}.",
                    part=part,
                    score=flag.score,
                    name=esc(flag.other_name or "?"),
                )
            )
    return lines


def opened_screen(
    t: Translator,
    review_text: str,
    review: SelfReview,
    flags: list[str],
    may_return: bool,
) -> tuple[str, InlineKeyboardMarkup]:
    """A member's review as the secretary reads it, with the Word file and (when they may)
    the return button."""
    extra = list(flags)
    if review.state == ReviewState.RETURNED:
        extra.append(t("Returned for revision: {reason}", reason=esc(review.return_reason or "")))
    doc = CellReviewButton("doc", review.id).encode()
    row = [InlineKeyboardButton(t("📥 Word file"), callback_data=doc)]
    if review.state == ReviewState.SUBMITTED and may_return:
        data = ReturnButton("ask", review.id).encode()
        row.insert(0, InlineKeyboardButton(t("↩️ Return for revision"), callback_data=data))
    return "\n".join([review_text, ""] + extra), InlineKeyboardMarkup([row])


def reason_prompt(t: Translator, name: str) -> str:
    return t(
        "Type the reason for returning the self-review of {name}; they will receive it.",
        name=esc(name),
    )


def confirm_return(t: Translator, name: str, reason: str, review_id: int) -> tuple[str, InlineKeyboardMarkup]:
    """What returning does, before it is done: it cannot be taken back."""
    text = t(
        "Return the self-review of {name} for revision with this reason?\n{reason}\n\n"
        "They will be told; their review is then open for them to edit and submit again.",
        name=esc(name),
        reason=f"<i>{esc(reason)}</i>",
    )
    data = ReturnButton("ok", review_id).encode()
    return text, InlineKeyboardMarkup([[InlineKeyboardButton(t("✅ Confirm"), callback_data=data)]])


def returned_text(t: Translator, name: str, delivered: bool) -> str:
    told = (
        t("They have been told.")
        if delivered
        else t(
            "I could not write to them (they have not started the bot, or blocked it): please tell them."
        )
    )
    return t("Returned to {name}.", name=esc(name)) + " " + told


def unreachable_text(t: Translator, name: str) -> str:
    return t(
        "I could not write to {name} (they have blocked the bot): please tell them.", name=esc(name)
    )
