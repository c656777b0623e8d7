"""The organisation's scoring at its meeting as pure screens: a member's sheet (every criterion
on one screen, a button per criterion, quick marks), the secretary's progress with the
deductions and additions, the prompts of the adjustment flow and the combined result."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from telegram import InlineKeyboardButton
from telegram import InlineKeyboardMarkup

from bot.callbacks import ButtonData
from bot.i18n import N_
from bot.i18n import Translator
from bot.services.unit_scoring import Closed
from bot.services.unit_scoring import Scoring
from bot.services.unit_scoring import SheetView
from bot.text import esc
from handlers.views.ballot import OpenButton
from handlers.views.ballot import names
from handlers.views.unit_meeting import OrderButton
from rules.breaches import Breach
from rules.levels import Level
from rules.org_scoring import Criterion
from rules.org_scoring import points
from rules.org_scoring import target_penalty
from storage.models import AdjustmentKind
from storage.models import ScoreAdjustment

CHAM_DIEM = (
    N_("Score your organisation at its meeting"),
    N_(
        "/cham_diem: your score sheet of the organisation at its meeting, pre-filled from the "
        "committee's draft: agree with it or change a criterion's points, then submit"
    ),
)

CRITERIA_PER_ROW = 4
QUICK_PER_ROW = 4
# Characters of a criterion's text on the sheet's list: shorter, then none, when a large
# framework would not fit one message (the sheet is edited in place: it cannot be split).
TEXT_WIDTHS = (48, 24, 0)
SHEET_BUDGET = 3800
QUICK_STEPS = (0, 5, 10, 15, 20, 30, 50)  # tenths below the maximum offered as buttons
MAX_ADJUSTMENT_BUTTON_ROWS = 30


class SheetButton(ButtonData, prefix="uk"):
    """A member's sheet: show it (open), a criterion's screen (crit), a mark for it (set,
    value in tenths), submit (submit)."""

    action: Literal["open", "crit", "set", "submit"]
    sheet_id: int
    criterion: str | None = None
    value: int | None = None


class ScoringButton(ButtonData, prefix="us"):
    """The secretary's scoring screen: open or show it (open), read it again (refresh), a
    deduction or addition to add (ded, add), an adjustment agreed or not (agree), changed
    (edit) or dropped (drop), close the scoring (close) and confirm it (yes)."""

    action: Literal["open", "refresh", "ded", "add", "agree", "edit", "drop", "close", "yes"]
    meeting_id: int
    adjustment_id: int | None = None


class AdjustButton(ButtonData, prefix="ua"):
    """The adjustment flow: a criterion chosen (crit, its code), or the current value kept
    (keep)."""

    action: Literal["crit", "keep"]
    meeting_id: int
    criterion: str | None = None


def open_button(t: Translator, meeting_id: int) -> InlineKeyboardButton:
    """The order screen's way to the scoring (after the collectives' step)."""
    data = ScoringButton("open", meeting_id).encode()
    return InlineKeyboardButton(t("🧮 Scoring"), callback_data=data)


def pts(t: Translator, tenths: int | Decimal) -> str:
    """Points in the reader's locale: 92,5 (tenths given as an int)."""
    value = points(tenths) if isinstance(tenths, int) else tenths
    return t.number(value)


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    if width == 0:
        return ""
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def breach_lines(t: Translator, breaches: list[Breach]) -> list[str]:
    """What the scoring rules found, in the reader's words (numbers in their locale)."""
    lines = []
    for found in breaches:
        params = {
            k: (t.number(v) if isinstance(v, Decimal | int) and not isinstance(v, bool) else v)
            for k, v in found.params.items()
        }
        lines.append("• " + esc(t(found.msgid, **params)))
    return lines


# --- a member's sheet ---------------------------------------------------------------------------


def sheet_text(t: Translator, view: SheetView, *, note: str | None = None) -> str:
    scoring, mine = view.scoring, view.mine
    title = t("Score sheet of {org}", org=scoring.org.name)
    lines = [f"🧮 <b>{esc(title)}</b> — {scoring.cycle.year}"]
    if note:
        lines += ["", f"<i>{esc(note)}</i>"]
    lines.append("")
    if scoring.draft:
        lines.append(
            t(
                "Filled in from the committee's draft: agree with it as it stands, or press a "
                "criterion's number to change its points."
            )
        )
    else:
        lines.append(t("There is no draft: press each criterion's number to give its points."))
    lines.append("")
    for width in TEXT_WIDTHS:
        marks = _mark_lines(t, view, width)
        if sum(len(line) + 1 for line in marks) < SHEET_BUDGET - sum(len(x) for x in lines):
            break
    lines += marks
    lines.append("")
    lines.append(
        t(
            "Total of the criteria: {total} of {max} points.",
            total=t.number(view.marks_total),
            max=pts(t, scoring.framework.total_tenths()),
        )
    )
    agreed = [a for a in scoring.adjustments if a.agreed]
    if agreed and not view.missing:
        score = scoring.score(mine.marks)
        lines.append(
            t(
                "With the deductions and additions agreed so far: {total} points.",
                total=t.number(score.total),
            )
        )
    if view.missing:
        lines.append(
            t("Still to score: {criteria}.", criteria=", ".join(c.code for c in view.missing))
        )
    elif mine.submitted:
        lines.append(
            "✅ "
            + t(
                "Submitted. You may still change a mark until the scoring closes; then submit "
                "again."
            )
        )
    return "\n".join(lines)


def _mark_lines(t: Translator, view: SheetView, width: int) -> list[str]:
    """One line per criterion: its number, its text cut to `width`, the mark of its maximum."""
    scoring, mine = view.scoring, view.mine
    lines = []
    for criterion in scoring.leaves():
        mark = mine.marks.get(criterion.code)
        shown = "…" if mark is None else pts(t, mark)
        text = _short(criterion.text, width)
        line = (
            f"<b>{esc(criterion.code)}</b> {esc(text) + ' ' if text else ''}— "
            f"<b>{shown}</b>/{pts(t, criterion.max_tenths)}"
        )
        draft = scoring.draft.get(criterion.code)
        if mark is not None and draft is not None and draft != mark:
            line += " ✏ " + t("(draft: {points})", points=pts(t, draft))
        lines.append(line)
    return lines


def sheet_keyboard(t: Translator, view: SheetView) -> InlineKeyboardMarkup:
    sheet_id = view.mine.sheet.id
    buttons = []
    for criterion in view.scoring.leaves():
        mark = view.mine.marks.get(criterion.code)
        label = f"{criterion.code}: {'…' if mark is None else pts(t, mark)}"
        data = SheetButton("crit", sheet_id, criterion.code).encode()
        buttons.append(InlineKeyboardButton(label, callback_data=data))
    rows = [
        buttons[i : i + CRITERIA_PER_ROW] for i in range(0, len(buttons), CRITERIA_PER_ROW)
    ]
    if not view.mine.submitted or view.missing:
        if view.scoring.draft and not view.changed and not view.missing:
            label = t("✅ Agree with the draft, submit")
        else:
            label = t("📨 Submit my sheet")
        rows.append(
            [InlineKeyboardButton(label, callback_data=SheetButton("submit", sheet_id).encode())]
        )
    return InlineKeyboardMarkup(rows)


def quick_values(max_tenths: int) -> list[int]:
    """The marks offered as buttons, highest first: the maximum, a few steps below, 0."""
    values: list[int] = []
    for step in QUICK_STEPS:
        value = max_tenths - step
        if value > 0 and value not in values:
            values.append(value)
    return [*values, 0]


def criterion_text(t: Translator, view: SheetView, criterion: Criterion) -> str:
    lines = [
        t(
            "Criterion {code} (at most {max} points)",
            code=f"<b>{esc(criterion.code)}</b>",
            max=pts(t, criterion.max_tenths),
        ),
        esc(criterion.text),
    ]
    if criterion.guidance:
        lines.append(t("How to score it: {guidance}", guidance=esc(criterion.guidance)))
    lines.append("")
    draft = view.scoring.draft.get(criterion.code)
    if draft is not None:
        lines.append(t("The draft gives {points} points.", points=pts(t, draft)))
    mark = view.mine.marks.get(criterion.code)
    if mark is not None:
        lines.append(t("Your mark: {points} points.", points=pts(t, mark)))
    lines.append(t("Press the points, or type them (for example 8,5)."))
    return "\n".join(lines)


def criterion_keyboard(t: Translator, view: SheetView, criterion: Criterion) -> InlineKeyboardMarkup:
    sheet_id = view.mine.sheet.id
    buttons = [
        InlineKeyboardButton(
            pts(t, value),
            callback_data=SheetButton("set", sheet_id, criterion.code, value).encode(),
        )
        for value in quick_values(criterion.max_tenths)
    ]
    rows = [buttons[i : i + QUICK_PER_ROW] for i in range(0, len(buttons), QUICK_PER_ROW)]
    rows.append(
        [
            InlineKeyboardButton(
                t("⬅ Score sheet"), callback_data=SheetButton("open", sheet_id).encode()
            )
        ]
    )
    return InlineKeyboardMarkup(rows)


def submitted_text(t: Translator, view: SheetView, total: Decimal) -> str:
    return "\n".join(
        [
            "✅ "
            + t(
                "Your score sheet of {org} is submitted: {total} points.",
                org=f"<b>{esc(view.scoring.org.name)}</b>",
                total=t.number(total),
            ),
            t(
                "Until the secretary closes the scoring you may change it: /cham_diem shows it "
                "again."
            ),
        ]
    )


def all_scored_text(t: Translator, scoring: Scoring) -> str:
    return t(
        "Every member present has scored {org} ({count} sheets). Close the scoring on its "
        "screen (🔒) once the meeting has agreed the deductions and additions.",
        org=f"<b>{esc(scoring.org.name)}</b>",
        count=len(scoring.sheets),
    )


def all_scored_keyboard(t: Translator, meeting_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[open_button(t, meeting_id)]])


def scoring_started_note(t: Translator, org_name: str) -> str:
    return t(
        "The meeting of {org} has opened scoring: here is your sheet.", org=org_name
    )


NO_SHEET = N_("There is no open scoring for you: the secretary opens it at the meeting.")


# --- the secretary's screen ---------------------------------------------------------------------


def adjustment_line(t: Translator, index: int, row: ScoreAdjustment, rulebook) -> str:
    mark = "✅" if row.agreed else "☐"
    if row.kind == AdjustmentKind.DEDUCTION:
        shortfall = points(row.shortfall_tenths or 0)
        amount = target_penalty(shortfall, rulebook)
        what = t(
            "Deduction, criterion {criterion}: the target missed by {percent}% → −{points} points",
            criterion=esc(row.criterion),
            percent=t.number(shortfall),
            points=t.number(amount),
        )
    else:
        what = t(
            "Addition, criterion {criterion}: +{points} points",
            criterion=esc(row.criterion),
            points=pts(t, row.points_tenths or 0),
        )
    state = "" if row.agreed else " " + t("(proposed, not agreed)")
    return "\n".join(
        [
            f"{index}. {mark} {what}{state}",
            "   " + t("Reason: {reason}", reason=esc(row.reason)),
            "   " + t("Responsible: {who}", who=esc(row.responsible)),
        ]
    )


def scoring_text(
    t: Translator, scoring: Scoring, *, unreachable: list | None = None, note: str | None = None
) -> str:
    title = t("Scoring of {org}", org=scoring.org.name)
    lines = [f"🧮 <b>{esc(title)}</b> — {scoring.cycle.year}"]
    if note:
        lines += ["", f"<i>{esc(note)}</i>"]
    lines.append("")
    if scoring.framework is not None:
        lines.append(
            t(
                "{count} criteria to score, {max} points in all.",
                count=len(scoring.leaves()),
                max=pts(t, scoring.framework.total_tenths()),
            )
        )
    done = t(
        "{submitted}/{total} have scored", submitted=len(scoring.submitted), total=len(scoring.sheets)
    )
    lines.append(f"<b>{esc(done)}</b>")
    if scoring.waiting and not scoring.closed:
        lines.append(t("Not scored yet: {names}", names=names(scoring.waiting, t)))
    if unreachable:
        lines.append(
            t(
                "I could not send the sheet to: {names}. They score on their phone once they "
                "have started the bot (/cham_diem).",
                names=names(unreachable, t),
            )
        )
    lines += ["", "<b>" + esc(t("Deductions and additions")) + "</b>"]
    if not scoring.adjustments:
        lines.append(t("None yet."))
    for index, row in enumerate(scoring.adjustments, start=1):
        lines.append(adjustment_line(t, index, row, scoring.rulebook))
    if scoring.closed:
        total, band = scoring.combined
        lines += ["", result_line(t, total, band)]
    else:
        lines += [
            "",
            t(
                "Agree the draft's proposals (☐ → ✅), change them (✏) or drop them (🗑); add "
                "what the meeting agrees. Close the scoring when the members have scored."
            ),
        ]
    return "\n".join(lines)


def result_line(t: Translator, total: Decimal, band: Level) -> str:
    return t(
        "Combined score: {total} points; the level it suggests: {level}.",
        total=f"<b>{t.number(total)}</b>",
        level=f"<b>{band.value}</b>",
    )


def scoring_keyboard(t: Translator, scoring: Scoring) -> InlineKeyboardMarkup:
    meeting_id = scoring.meeting.id
    rows: list[list[InlineKeyboardButton]] = []

    def press(label: str, action: str, adjustment_id: int | None = None) -> InlineKeyboardButton:
        data = ScoringButton(action, meeting_id, adjustment_id).encode()
        return InlineKeyboardButton(label, callback_data=data)

    if not scoring.closed:
        for index, row in enumerate(scoring.adjustments[:MAX_ADJUSTMENT_BUTTON_ROWS], start=1):
            rows.append(
                [
                    press(f"{'✅' if row.agreed else '☐'} {index}", "agree", row.id),
                    press(f"✏ {index}", "edit", row.id),
                    press(f"🗑 {index}", "drop", row.id),
                ]
            )
        rows.append([press(t("➖ Deduction"), "ded"), press(t("➕ Addition"), "add")])
        rows.append([press(t("🔄 Refresh"), "refresh")])
        rows.append([press(t("🔒 Close the scoring"), "close")])
    rows.append(
        [
            InlineKeyboardButton(
                t("📋 Order of the meeting"),
                callback_data=OrderButton("show", meeting_id).encode(),
            )
        ]
    )
    return InlineKeyboardMarkup(rows)


def close_text(t: Translator, scoring: Scoring) -> str:
    lines = [
        "🔒 <b>" + esc(t("Close the scoring of {org}?", org=scoring.org.name)) + "</b>",
        "",
        t(
            "{submitted} of {total} sheets are submitted; each is totalled with the agreed "
            "deductions and additions, and the totals combined.",
            submitted=len(scoring.submitted),
            total=len(scoring.sheets),
        ),
    ]
    if scoring.waiting:
        lines.append(
            t(
                "Not counted, not submitted: {names}.",
                names=names(scoring.waiting, t),
            )
        )
    lines.append(t("This cannot be undone: the marks and adjustments can no longer change."))
    return "\n".join(lines)


def close_keyboard(t: Translator, meeting_id: int) -> InlineKeyboardMarkup:
    data = ScoringButton("yes", meeting_id).encode()
    return InlineKeyboardMarkup([[InlineKeyboardButton(t("✅ Confirm"), callback_data=data)]])


def closed_text(t: Translator, closed: Closed) -> str:
    scoring = closed.scoring
    lines = [
        "📊 <b>" + esc(t("Scoring of {org} closed", org=scoring.org.name)) + "</b>",
        "",
        t("Sheets counted: {count}.", count=len(closed.totals)),
    ]
    for member, score in closed.totals:
        lines.append(f"• {esc(member.full_name)}: {t.number(score.total)}")
    lines += ["", result_line(t, closed.combined, closed.band)]
    return "\n".join(lines)


def vote_button(t: Translator, meeting_id: int) -> InlineKeyboardButton:
    """The way to the vote on the collectives' levels (a units round)."""
    return InlineKeyboardButton(
        t("🗳 Vote on the level of the collectives"),
        callback_data=OpenButton("units", meeting_id).encode(),
    )


def closed_keyboard(t: Translator, meeting_id: int) -> InlineKeyboardMarkup:
    """After the scoring: the vote on the collectives' levels, or the order of the meeting."""
    order = InlineKeyboardButton(
        t("📋 Order of the meeting"), callback_data=OrderButton("show", meeting_id).encode()
    )
    return InlineKeyboardMarkup([[vote_button(t, meeting_id)], [order]])


def closed_notice(t: Translator, closed: Closed) -> str:
    return "\n".join(
        [
            t("Scoring of {org} is closed.", org=f"<b>{esc(closed.scoring.org.name)}</b>"),
            result_line(t, closed.combined, closed.band),
        ]
    )


# --- the adjustment flow's prompts -----------------------------------------------------------------


KIND_TITLES = {
    AdjustmentKind.DEDUCTION: N_("Deduction (a basic target missed)"),
    AdjustmentKind.ADDITION: N_("Addition (an outstanding result)"),
}


def adjust_title(t: Translator, kind: AdjustmentKind, org_name: str) -> str:
    return f"<b>{esc(t(KIND_TITLES[kind]))}</b> — {esc(org_name)}"


def _keep_row(t: Translator, meeting_id: int, current: str | None) -> list[list[InlineKeyboardButton]]:
    if current is None:
        return []
    data = AdjustButton("keep", meeting_id).encode()
    return [[InlineKeyboardButton(t("➡ Keep: {value}", value=current[:40]), callback_data=data)]]


def criterion_prompt(
    t: Translator, scoring: Scoring, kind: AdjustmentKind, current: str | None
) -> tuple[str, InlineKeyboardMarkup]:
    text = "\n".join(
        [
            adjust_title(t, kind, scoring.org.name),
            "",
            t("Which criterion? Press its number, or type it (for example 2.1)."),
        ]
    )
    codes = [c.code for c in scoring.framework.criteria] if scoring.framework else []
    buttons = [
        InlineKeyboardButton(
            code, callback_data=AdjustButton("crit", scoring.meeting.id, code).encode()
        )
        for code in codes[:60]
    ]
    rows = [buttons[i : i + 5] for i in range(0, len(buttons), 5)]
    return text, InlineKeyboardMarkup(rows + _keep_row(t, scoring.meeting.id, current))


def amount_prompt(
    t: Translator, scoring: Scoring, kind: AdjustmentKind, criterion: str, current: int | None
) -> tuple[str, InlineKeyboardMarkup | None]:
    rulebook = scoring.rulebook
    if kind == AdjustmentKind.DEDUCTION:
        ask = t(
            "By how many percent was the target missed? Each full {step}% costs {penalty} "
            "points, at most {max} points per target. Type the percent (for example 12).",
            step=rulebook.org_target_step_percent,
            penalty=pts(t, rulebook.org_target_penalty_tenths),
            max=pts(t, rulebook.org_target_penalty_max_tenths),
        )
    else:
        ask = t(
            "How many points does the outstanding result add? At most {max} per item; type "
            "them (for example 1,5).",
            max=pts(t, rulebook.org_bonus_max_tenths),
        )
    text = "\n".join(
        [
            adjust_title(t, kind, scoring.org.name),
            t("Criterion {criterion}.", criterion=esc(criterion)),
            "",
            ask,
        ]
    )
    keep = _keep_row(t, scoring.meeting.id, None if current is None else pts(t, current))
    return text, (InlineKeyboardMarkup(keep) if keep else None)


def text_prompt(
    t: Translator, scoring: Scoring, kind: AdjustmentKind, what: str, current: str | None
) -> tuple[str, InlineKeyboardMarkup | None]:
    asks = {
        "reason": N_("Why? Write the reason the meeting agreed (it goes into the minutes)."),
        "responsible": N_("Who is responsible (a person or a collective)?"),
    }
    text = "\n".join([adjust_title(t, kind, scoring.org.name), "", t(asks[what])])
    keep = _keep_row(t, scoring.meeting.id, current)
    return text, (InlineKeyboardMarkup(keep) if keep else None)


def adjustment_saved(t: Translator) -> str:
    return t("Saved: the meeting agreed it.")
