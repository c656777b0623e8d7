"""The screens of a unit review's draft (issue 14, part A) as pure functions: the head's screen
(/tap_the), the report's parts, the draft score sheet and a criterion's mark, the proposed
deductions and additions, the comments, the confirmation before circulating, the draft as the
participants receive it, and the lines the meeting screens add (R-D4, R-D1)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from telegram import InlineKeyboardButton
from telegram import InlineKeyboardMarkup

from bot.callbacks import ButtonData
from bot.i18n import N_
from bot.i18n import Translator
from bot.services.unit_report import PROMPTS_KEY
from bot.services.unit_report import SECTIONS
from bot.services.unit_report import ReportSection
from bot.services.unit_review import GRADES
from bot.services.unit_review import SUBJECT_NAMES
from bot.services.unit_review import CommentView
from bot.services.unit_review import Draft
from bot.services.unit_review import MeetingNeeds
from bot.services.unit_review import adjustment_points
from bot.text import esc
from rules.org_scoring import Criterion
from rules.org_scoring import points
from rules.review_form import MAX_SECTION_CHARS
from storage.models import AdjustmentKind
from storage.models import CommentStage
from storage.models import Organisation
from storage.models import ScoreAdjustment
from storage.models import ScoreGrade
from storage.models import ScoreMark
from storage.models import UnitReviewState
from storage.models import UnitSubject

# --- buttons ---------------------------------------------------------------------------------

HeadAction = Literal[
    "home", "report", "part", "file", "nofile", "show", "undo", "done", "sheet", "mark",
    "grade", "next", "adj", "ded", "add", "drop", "comments", "consult", "send", "confirm",
]


class UnitButton(ButtonData, prefix="tap"):
    """A press on the head's screens of a unit review: `arg` is a part's key or a criterion's
    code, `item` an adjustment's id, `grade` a grade pressed."""

    action: HeadAction
    review_id: int
    arg: str = ""
    item: int | None = None
    grade: ScoreGrade | None = None


class UnitPick(ButtonData, prefix="tapu"):
    """/tap_the from the head of several units: the unit chosen."""

    org_id: int


class DraftButton(ButtonData, prefix="gopy"):
    """Under a draft sent to a leader or participant: comment on it, or get its Word file."""

    action: Literal["comment", "file"]
    review_id: int


def _rows(buttons: list[InlineKeyboardButton], per_row: int) -> list[list[InlineKeyboardButton]]:
    return [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]


# --- words --------------------------------------------------------------------------------------

GRADE_NAMES = {
    ScoreGrade.EXCELLENT: N_("Excellent"),
    ScoreGrade.GOOD: N_("Good"),
    ScoreGrade.AVERAGE: N_("Average"),
    ScoreGrade.POOR: N_("Poor"),
}
STAGE_NAMES = {
    CommentStage.COMMITTEE: N_("committee"),
    CommentStage.PARTICIPANT: N_("participant"),
}
BACK = N_("◀ Back")
CRITERION_SHOWN = 70  # characters of a criterion's text in a list
RESULT_SHOWN = 300  # characters of a result in the participants' summary


def subject_name(t: Translator, subject: UnitSubject | str) -> str:
    return t(SUBJECT_NAMES[UnitSubject(subject)])


def grade_name(t: Translator, grade: str | None) -> str:
    return t(GRADE_NAMES[ScoreGrade(grade)]) if grade else "—"


def pts(t: Translator, value: Decimal | int) -> str:
    """Points in the reader's locale: "8,5" in Vietnamese."""
    return t.number(value)


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def title(t: Translator, draft: Draft) -> str:
    return t("Review of {org} ({subject}), {year}", org=f"<b>{esc(draft.org.name)}</b>",
             subject=subject_name(t, draft.subject), year=draft.cycle.year)


def meeting_length_text(t: Translator, days: Decimal) -> str:
    """R-D4, for the meeting screens."""
    if days >= 1:
        return t("The review meeting lasts at least a full day: the upper level sent points "
                 "for review.")
    return t("The review meeting lasts at least half a day.")


def meeting_needs_text(t: Translator, needs: MeetingNeeds) -> str:
    """R-D4 and R-D1, for the meeting screens (/lich_hop, /hop)."""
    lines = [meeting_length_text(t, needs.days)]
    if needs.draft_due is not None:
        lines.append(t("The collective's draft review report must reach the participants by "
                       "{date} ({days} working days before the meeting): /tap_the.",
                       date=t.date(needs.draft_due), days=needs.working_days))
    return "\n".join(lines)


# --- the head's screen -----------------------------------------------------------------------


def _state_line(t: Translator, draft: Draft) -> str:
    review = draft.review
    if draft.state == UnitReviewState.REVIEWED:
        return t("Reviewed at the meeting.")
    if draft.state == UnitReviewState.CIRCULATED and review.circulated_at is not None:
        sent = t("Draft sent to the participants at {when}.", when=t.datetime(review.circulated_at))
        if draft.draft_due is not None and draft.circulated_on is not None:
            late = draft.circulated_on > draft.draft_due
            sent += " " + (t("Late: it was due by {date}.", date=t.date(draft.draft_due)) if late
                           else t("On time."))
        return sent
    return t("Draft being prepared.")


def _meeting_lines(t: Translator, draft: Draft) -> list[str]:
    if draft.meeting_at is None:
        return [t("No meeting date set yet: the draft is due {days} working days before it.",
                  days=draft.rulebook.draft_report_working_days_before)]
    lines = [t("Meeting: {when}.", when=t.datetime(draft.meeting_at)),
             meeting_length_text(t, draft.meeting_days)]
    if draft.state == UnitReviewState.DRAFTING and draft.draft_due is not None:
        lines.append(t("The draft must reach the {count} participants by {date}.",
                       count=t.number(draft.participants), date=t.date(draft.draft_due)))
    return lines


def _report_line(t: Translator, draft: Draft) -> str:
    if draft.has_file:
        size = len(draft.review.report_docx or b"")
        return t("📝 Report: the Word file «{name}» ({size} KB).",
                 name=esc(draft.review.report_filename or ""), size=t.number(max(size // 1024, 1)))
    written = sum(1 for s in SECTIONS if draft.texts.get(s.key, "").strip())
    line = t("📝 Report typed here: {written} of {total} parts written.",
             written=written, total=len(SECTIONS))
    missing = draft.missing_parts()
    if missing:
        line += " " + t("Still to write: {parts}.", parts=missing_parts_text(t, missing))
    return line


def missing_parts_text(t: Translator, keys: list[str]) -> str:
    return ", ".join(t(s.heading).split(".", 1)[0] for s in SECTIONS if s.key in keys)


def _sheet_lines(t: Translator, draft: Draft) -> list[str]:
    if not draft.rated:
        return [t("📊 Not scored: {org} was founded less than {months} months before the "
                  "review, so it is reviewed but not rated.", org=esc(draft.org.name),
                  months=draft.rulebook.new_org_months)]
    if not draft.scored:
        return [t("📊 No criteria framework applies to {org} yet: the upper committee loads it "
                  "(/mau_khung). The draft can go out without a score sheet.",
                  org=esc(draft.org.name))]
    leaves = draft.leaves()
    lines = [t("📊 Draft score sheet: {marked} of {total} criteria marked.",
               marked=len(leaves) - len(draft.unmarked()), total=len(leaves))]
    lines.append(total_text(t, draft))
    deductions = sum(1 for a in draft.adjustments if a.kind == AdjustmentKind.DEDUCTION)
    additions = len(draft.adjustments) - deductions
    if draft.adjustments:
        lines.append(t("Proposed: {deductions} deductions, {additions} additions.",
                       deductions=deductions, additions=additions))
    return lines


def total_text(t: Translator, draft: Draft) -> str:
    score = draft.score()
    if score is None:
        return ""
    unmarked = len(draft.unmarked())
    if unmarked:
        return t("Running total: {total} points; {count} criteria still to mark.",
                 total=pts(t, score.total), count=unmarked)
    return t("Total: {total} points ({marks} for the criteria, −{deducted}, +{added}): {level}.",
             total=pts(t, score.total), marks=pts(t, score.marks), deducted=pts(t, score.deducted),
             added=pts(t, score.added), level=t(score.band.name_msgid))


def _comments_line(t: Translator, draft: Draft) -> str | None:
    committee = draft.comments.get(CommentStage.COMMITTEE.value, 0)
    participants = draft.comments.get(CommentStage.PARTICIPANT.value, 0)
    if not committee and not participants:
        return None
    return t("💬 Comments: {committee} from the committee, {participants} from the participants.",
             committee=committee, participants=participants)


def head_screen(t: Translator, draft: Draft) -> tuple[str, InlineKeyboardMarkup]:
    rid = draft.review.id
    lines = ["📋 " + title(t, draft), _state_line(t, draft), *_meeting_lines(t, draft), "",
             _report_line(t, draft)]
    if draft.prompts:
        lines.append(t("❗ The upper level sent {count} points for review: answer them in part "
                       "IV of the report.", count=len(draft.prompts)))
    lines += [line for line in _sheet_lines(t, draft) if line]
    comments = _comments_line(t, draft)
    if comments:
        lines.append(comments)
    total_comments = sum(draft.comments.values())
    if draft.state == UnitReviewState.REVIEWED:
        rows = [[UnitButton("comments", rid).button(t("💬 Comments ({count})", count=total_comments))]]
        return "\n".join(lines), InlineKeyboardMarkup(rows)
    rows = [[UnitButton("report", rid).button(t("📝 Report")),
             UnitButton("file", rid).button(t("📎 Word file"))]]
    if draft.scored:
        rows.append([UnitButton("sheet", rid).button(t("📊 Score sheet")),
                     UnitButton("adj", rid).button(t("± Deductions, additions"))])
    rows.append([UnitButton("comments", rid).button(t("💬 Comments ({count})", count=total_comments))])
    if draft.state == UnitReviewState.DRAFTING:
        rows[-1].append(UnitButton("consult", rid).button(t("👥 Ask the committee")))
        rows.append([UnitButton("send", rid).button(t("📤 Send the draft"))])
    else:
        rows.append([UnitButton("send", rid).button(t("📤 Send the amended draft"))])
    return "\n".join(lines), InlineKeyboardMarkup(rows)


def pick_screen(t: Translator, heads_of: list[Organisation]) -> tuple[str, InlineKeyboardMarkup]:
    rows = [[UnitPick(org.id).button(f"{org.name} ({org.code})")] for org in heads_of]
    return t("You head several units: choose the one whose review to prepare."), \
        InlineKeyboardMarkup(rows)


# --- the report ----------------------------------------------------------------------------------


def _part_label(t: Translator, section: ReportSection) -> str:
    return _short(t(section.heading), 30)


def report_screen(t: Translator, draft: Draft) -> tuple[str, InlineKeyboardMarkup]:
    rid = draft.review.id
    lines = ["📝 " + t("The report of {org} ({subject})", org=f"<b>{esc(draft.org.name)}</b>",
                       subject=subject_name(t, draft.subject))]
    if draft.has_file:
        lines.append(t("The Word file «{name}» is the report; the parts typed below stay saved "
                       "but are not sent.", name=esc(draft.review.report_filename or "")))
    for section in SECTIONS:
        length = len(draft.texts.get(section.key, ""))
        mark = "✅" if length else ("➖" if section.optional and not (
            section.key == PROMPTS_KEY and draft.prompts) else "◻️")
        lines.append(t("{mark} {heading}: {count} characters", mark=mark,
                       heading=esc(t(section.heading)), count=t.number(length)))
    buttons = [UnitButton("part", rid, s.key).button("✏️ " + _part_label(t, s)) for s in SECTIONS]
    rows = _rows(buttons, 1)
    file_row = [UnitButton("file", rid).button(t("📎 Send a Word file"))]
    if draft.has_file:
        file_row.append(UnitButton("nofile", rid).button(t("🗑 Remove the Word file")))
    rows += [file_row, [UnitButton("home", rid).button(t(BACK))]]
    return "\n".join(lines), InlineKeyboardMarkup(rows)


def prompts_block(t: Translator, draft: Draft) -> str:
    """The upper level's points, shown above the answer of part IV."""
    lines = []
    for prompt in draft.prompts:
        lines.append(t("Points for review suggested by {org}:", org=esc(prompt.org_name)))
        lines.append(f"<i>{esc(prompt.text)}</i>")
    return "\n".join(lines)


def part_keyboard(t: Translator, rid: int, key: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([
        [UnitButton("done", rid, key).button(t("✅ Done")),
         UnitButton("show", rid, key).button(t("👁 Show"))],
        [UnitButton("undo", rid, key).button(t("↩️ Delete the last message")),
         UnitButton("report", rid).button(t("📋 All parts"))],
    ])


def part_prompt(t: Translator, draft: Draft, key: str) -> tuple[str, InlineKeyboardMarkup]:
    section = next(s for s in SECTIONS if s.key == key)
    lines = [f"<b>{esc(t(section.heading))}</b>", f"<i>{esc(t(section.hint))}</i>"]
    if key == PROMPTS_KEY and draft.prompts:
        lines += ["", prompts_block(t, draft)]
    lines += ["", t("Written so far: {count} characters. Send the text in one message or "
                    "several; each is saved as it arrives.",
                    count=t.number(len(draft.texts.get(key, ""))))]
    return "\n".join(lines), part_keyboard(t, draft.review.id, key)


def saved_text(t: Translator, length: int) -> str:
    return t("Saved ({count}/{max} characters). Send more, or press «Done».",
             count=t.number(length), max=t.number(MAX_SECTION_CHARS))


def edit_taken_text(
    t: Translator, org_name: str, section: ReportSection | None, length: int
) -> str:
    part = t(section.heading) if section is not None else ""
    return t("Edit taken: {part} of the report of {org} now has {count} characters.",
             part=esc(part), org=esc(org_name), count=t.number(length))


def file_prompt(t: Translator, draft: Draft, max_mb: int) -> str:
    return t("Send the report of {org} as a Word file (.docx), at most {size} MB. It becomes the "
             "report; the parts typed here stay saved.", org=f"<b>{esc(draft.org.name)}</b>",
             size=max_mb)


def file_taken_text(t: Translator, draft: Draft, words: int) -> str:
    return t("The Word file «{name}» is now the report of {org} ({words} words).",
             name=esc(draft.review.report_filename or ""), org=esc(draft.org.name),
             words=t.number(words))


# --- the draft score sheet ---------------------------------------------------------------------


def _mark_text(t: Translator, criterion: Criterion, mark: ScoreMark | None) -> str:
    maximum = pts(t, points(criterion.max_tenths))
    if mark is None:
        return t("…/{max}", max=maximum)
    return t("{points}/{max} · {grade}", points=pts(t, points(mark.tenths)), max=maximum,
             grade=grade_name(t, mark.grade))


def sheet_screen(t: Translator, draft: Draft) -> tuple[str, InlineKeyboardMarkup]:
    rid = draft.review.id
    lines = ["📊 " + t("Draft score sheet of {org} (Mẫu 01)", org=f"<b>{esc(draft.org.name)}</b>")]
    for criterion in draft.leaves():
        mark = draft.marks.get(criterion.code)
        lines.append(f"{'✅' if mark else '◻️'} <b>{esc(criterion.code)}</b> "
                     f"{esc(_short(criterion.text, CRITERION_SHOWN))} — "
                     f"{_mark_text(t, criterion, mark)}")
    lines += ["", total_text(t, draft)]
    buttons = [UnitButton("mark", rid, c.code).button(f"{'✅' if c.code in draft.marks else '◻️'} {c.code}") for c in draft.leaves()]
    rows = _rows(buttons, 4)
    if draft.unmarked():
        rows.append([UnitButton("next", rid).button(t("▶ Mark the next one"))])
    rows.append([UnitButton("adj", rid).button(t("± Deductions, additions")),
                 UnitButton("home", rid).button(t(BACK))])
    return "\n".join(lines), InlineKeyboardMarkup(rows)


def mark_prompt(
    t: Translator, draft: Draft, criterion: Criterion, chosen: str | None, pending: int | None,
    saved: str = "",
) -> tuple[str, InlineKeyboardMarkup]:
    """A criterion's mark: type «points; result», or «points; grade; result»; a grade pressed
    first is kept (`chosen`); typed points waiting for a grade are `pending`."""
    rid = draft.review.id
    mark = draft.marks.get(criterion.code)
    lines = [saved] if saved else []
    lines.append(t("Criterion {code}: {text} (at most {max} points)",
                   code=f"<b>{esc(criterion.code)}</b>", text=esc(criterion.text),
                   max=pts(t, points(criterion.max_tenths))))
    if criterion.guidance:
        lines.append(f"<i>{esc(criterion.guidance)}</i>")
    if mark is not None:
        lines.append(t("Now: {mark}. Result: {result}", mark=_mark_text(t, criterion, mark),
                       result=esc(mark.result or "—")))
    if pending is not None:
        lines.append(t("{points} points taken: now press the grade.",
                       points=pts(t, points(pending))))
    else:
        result = t("reached 95% of the plan, 19 of 20 targets")
        example = pts(t, points(max(criterion.max_tenths - 5, 0))) + "; " + result
        lines.append(t("Type the points and the result in words and figures, e.g. «{example}», "
                       "or «points; grade; result». You may press the grade first.",
                       example=esc(example)))
    grades = [
        UnitButton("grade", rid, criterion.code, grade=g).button(("✓ " if chosen == g.value else "") + t(GRADE_NAMES[g]))
        for g in GRADES
    ]
    rows = [grades[:2], grades[2:],
            [UnitButton("next", rid, criterion.code).button(t("⏭ Skip")),
             UnitButton("sheet", rid).button(t("📊 Score sheet"))]]
    return "\n".join(lines), InlineKeyboardMarkup(rows)


def mark_saved_text(t: Translator, criterion: Criterion, mark: ScoreMark) -> str:
    return t("✅ Saved {code}: {mark}.", code=esc(criterion.code),
             mark=_mark_text(t, criterion, mark))


def all_marked_text(t: Translator, draft: Draft) -> str:
    return t("Every criterion is marked.") + " " + total_text(t, draft)


# --- deductions and additions -------------------------------------------------------------------


def adjustment_line(t: Translator, draft: Draft, item: ScoreAdjustment) -> str:
    moved = adjustment_points(item, draft.rulebook)
    if item.kind == AdjustmentKind.DEDUCTION:
        head = t("➖ {criterion}: {percent}% short of the target, −{points} points",
                 criterion=esc(item.criterion), percent=pts(t, points(item.shortfall_tenths or 0)),
                 points=pts(t, -moved))
    else:
        head = t("➕ {criterion}: +{points} points", criterion=esc(item.criterion),
                 points=pts(t, moved))
    return head + "\n" + t("Reason: {reason}. Responsible: {who}.", reason=esc(item.reason),
                           who=esc(item.responsible))


def adjustments_screen(t: Translator, draft: Draft) -> tuple[str, InlineKeyboardMarkup]:
    rid = draft.review.id
    lines = ["± " + t("Deductions and additions proposed for {org}",
                      org=f"<b>{esc(draft.org.name)}</b>"),
             t("A basic target missed by each full {step}% costs {penalty} points, at most {max} "
               "per target; an outstanding result adds at most {bonus} points per item. Each "
               "says on which criterion, why and who is responsible.",
               step=draft.rulebook.org_target_step_percent,
               penalty=pts(t, points(draft.rulebook.org_target_penalty_tenths)),
               max=pts(t, points(draft.rulebook.org_target_penalty_max_tenths)),
               bonus=pts(t, points(draft.rulebook.org_bonus_max_tenths))), ""]
    if not draft.adjustments:
        lines.append(t("None proposed yet."))
    lines += [adjustment_line(t, draft, item) for item in draft.adjustments]
    lines += ["", total_text(t, draft)]
    drops = [UnitButton("drop", rid, item=a.id).button(f"🗑 {'➖' if a.kind == AdjustmentKind.DEDUCTION else '➕'} {a.criterion}") for a in draft.adjustments]
    rows = _rows(drops, 3)
    rows.append([UnitButton("ded", rid).button(t("➖ Propose a deduction")),
                 UnitButton("add", rid).button(t("➕ Propose an addition"))])
    rows.append([UnitButton("sheet", rid).button(t("📊 Score sheet")),
                 UnitButton("home", rid).button(t(BACK))])
    return "\n".join(lines), InlineKeyboardMarkup(rows)


def adjustment_prompt(t: Translator, kind: AdjustmentKind, example: str) -> str:
    if kind == AdjustmentKind.DEDUCTION:
        text = t("➖ A deduction: type on one line the criterion; how far short of the target, "
                 "in %; the reason; who is responsible.")
    else:
        text = t("➕ An addition: type on one line the criterion; the points (at most 2); the "
                 "outstanding result; who is credited.")
    return text + "\n" + t("For example: «{example}»", example=esc(example))


# --- comments ---------------------------------------------------------------------------------


def comments_text(t: Translator, draft: Draft, comments: list[CommentView]) -> str:
    lines = ["💬 " + t("Comments on the draft of {org} ({subject})",
                       org=f"<b>{esc(draft.org.name)}</b>", subject=subject_name(t, draft.subject))]
    if not comments:
        lines.append(t("No comments yet."))
    for comment in comments:
        lines += ["", t("{author} ({stage}, {when}):", author=f"<b>{esc(comment.author)}</b>",
                        stage=t(STAGE_NAMES[comment.stage]), when=t.datetime(comment.at)),
                  esc(comment.text)]
    return "\n".join(lines)


def comment_prompt(t: Translator, org_name: str, subject: str, max_chars: int) -> str:
    return t("💬 Your comment on the draft of {org} ({subject}): type it in one message, at most "
             "{max} characters.", org=f"<b>{esc(org_name)}</b>",
             subject=subject_name(t, subject), max=t.number(max_chars))


def comment_sent_screen(
    t: Translator, review_id: int, heads: list[str]
) -> tuple[str, InlineKeyboardMarkup]:
    again = InlineKeyboardMarkup([[DraftButton("comment", review_id).button(t("💬 Comment again"))]])
    if heads:
        return t("Thank you: your comment was sent to {names}.",
                 names=", ".join(esc(n) for n in heads)), again
    return t("Thank you: your comment is saved with the draft."), again


def comment_notice(t: Translator, author: str, org_name: str, stage: CommentStage, text: str) -> str:
    return t("💬 {author} commented on the draft of {org} ({stage}):",
             author=f"<b>{esc(author)}</b>", org=esc(org_name), stage=t(STAGE_NAMES[stage])) \
        + "\n" + esc(text)


def comment_choice(
    t: Translator, choices: list[tuple[int, str, str]]
) -> tuple[str, InlineKeyboardMarkup]:
    """(review id, unit name, subject) of the drafts the person may comment on now."""
    rows = [[DraftButton("comment", rid).button(f"💬 {name} ({subject_name(t, subject)})")]
            for rid, name, subject in choices]
    return t("Which draft do you comment on?"), InlineKeyboardMarkup(rows)


# --- the draft as it is sent ---------------------------------------------------------------------


def sheet_summary(t: Translator, draft: Draft) -> list[str]:
    if not draft.scored:
        return []
    lines = ["<b>" + t("Draft score sheet") + "</b>"]
    for criterion in draft.leaves():
        mark = draft.marks.get(criterion.code)
        line = f"{esc(criterion.code)}. {esc(_short(criterion.text, CRITERION_SHOWN))} — " \
               f"{_mark_text(t, criterion, mark)}"
        if mark is not None and mark.result:
            line += f"\n    {esc(_short(mark.result, RESULT_SHOWN))}"
        lines.append(line)
    lines += [adjustment_line(t, draft, item) for item in draft.adjustments]
    lines.append(total_text(t, draft))
    return lines


def report_lines(t: Translator, draft: Draft) -> list[str]:
    if draft.has_file:
        return [t("The report is a Word file: press «📄 Word file» to get it.")]
    lines = ["<b>" + t("Report") + "</b>"]
    for section in SECTIONS:
        text = draft.texts.get(section.key, "").strip()
        if not text and section.optional:
            continue
        lines.append(f"<b>{esc(t(section.heading))}</b>")
        if section.key == PROMPTS_KEY and draft.prompts:
            lines.append(prompts_block(t, draft))
        lines.append(esc(text) if text else t("(nothing written)"))
    return lines


def draft_notice(
    t: Translator, draft: Draft, head: str, *, committee: bool
) -> tuple[str, InlineKeyboardMarkup]:
    """The draft as a leader (committee: before it goes out) or a participant receives it."""
    lines = ["📄 " + t("Draft review report of {org} ({subject}), {year}",
                       org=f"<b>{esc(draft.org.name)}</b>", subject=subject_name(t, draft.subject),
                       year=draft.cycle.year)]
    if draft.meeting_at is not None:
        lines.append(t("Meeting: {when}.", when=t.datetime(draft.meeting_at)))
    lines.append(t("Prepared by {name}. The committee's comments are asked for before it goes to "
                   "the participants.", name=esc(head)) if committee else
                 t("Sent by {name}. Comment on it until the meeting: press «💬 Comment».",
                   name=esc(head)))
    lines.append("")
    summary = sheet_summary(t, draft)
    if summary:
        lines += [*summary, ""]
    lines += report_lines(t, draft)
    return "\n".join(lines), draft_keyboard(t, draft)


def draft_keyboard(t: Translator, draft: Draft) -> InlineKeyboardMarkup:
    row = [DraftButton("comment", draft.review.id).button(t("💬 Comment"))]
    if draft.has_file:
        row.append(DraftButton("file", draft.review.id).button(t("📄 Word file")))
    return InlineKeyboardMarkup([row])


def consulted_text(t: Translator, reached: int, unreachable: list[str]) -> str:
    text = t("The draft was sent to {count} members of the committee for their comments.",
             count=reached)
    if unreachable:
        text += " " + unreachable_text(t, unreachable)
    return text


def unreachable_text(t: Translator, names: list[str]) -> str:
    return t("Not reachable on Telegram: {names}; give them a copy by hand.",
             names=", ".join(esc(n) for n in names))


def circulate_question(
    t: Translator, draft: Draft, now_day: dt.date
) -> tuple[str, InlineKeyboardMarkup]:
    lines = [t("📤 Send the draft of {org} ({subject}) to its {count} participants?",
               org=f"<b>{esc(draft.org.name)}</b>", subject=subject_name(t, draft.subject),
               count=t.number(draft.participants)),
             t("Each gets the report and the score sheet's summary, with a «💬 Comment» button, "
               "and may comment until the meeting.")]
    if draft.circulated_on is not None:
        lines.append(t("They got a draft on {date}: this one replaces it.",
                       date=t.date(draft.circulated_on)))
    elif draft.draft_due is not None and now_day > draft.draft_due:
        lines.append(t("It was due by {date}: it goes out late.", date=t.date(draft.draft_due)))
    keyboard = InlineKeyboardMarkup([[UnitButton("confirm", draft.review.id).button(t("✅ Send the draft"))]])
    return "\n".join(lines), keyboard


def circulated_text(t: Translator, draft: Draft, reached: int, unreachable: list[str]) -> str:
    text = t("📤 The draft of {org} was sent to {count} participants.",
             org=f"<b>{esc(draft.org.name)}</b>", count=reached)
    if unreachable:
        text += " " + unreachable_text(t, unreachable)
    return text


# --- prompts to a collective -------------------------------------------------------------------


def unit_prompt_notice(t: Translator, sender: str, unit: str, year: int, text: str) -> str:
    return t("{org} suggests points for the review of {unit} for {year}; the collective's report "
             "answers them in part IV (/tap_the), and the review meeting lasts at least a full "
             "day:", org=f"<b>{esc(sender)}</b>", unit=f"<b>{esc(unit)}</b>", year=year) \
        + "\n\n" + esc(text)


def unit_prompt_sent(t: Translator, unit: str, code: str, year: int, told: int) -> str:
    text = t("Sent to the collective of {unit} ({code}) for its review of {year}: the points "
             "appear in part IV of its report, and its review meeting lasts a full day.",
             unit=esc(unit), code=esc(code), year=year)
    if not told:
        text += " " + t("Its secretary could not be reached on Telegram; the points are kept "
                        "with its review.")
    return text


# --- the commands, for /help and the menus (handlers/commands.py) --------------------------------

TAP_THE = (
    N_("Prepare the collective's review"),
    N_(
        "/tap_the [code]: the collective's review report and draft score sheet of the unit you "
        "head: write or send it, take the committee's comments, send it to the participants"
    ),
)
GOP_Y = (
    N_("Comment on a draft review report"),
    N_(
        "/gop_y [code]: read the draft review report of your cell or of the unit you lead and "
        "send your comments before the meeting"
    ),
)
