"""/tap_the: the head prepares a unit review's draft (issue 14, part A), as one declared flow.

The head's screen (one per review of the unit: the organisation; its committee where rated)
and the screens under it (the report's parts, the score sheet, the deductions and additions)
are messages whose buttons name the review; each press is checked again. The steps of the flow
are what waits for the head's input:

- "part": typed text for one part of the report (the part's key in the payload);
- "report_file": a Word file (.docx) sent as a document;
- "mark": «points; result» (or «points; grade; result») for one criterion of the draft sheet,
  a grade pressed before or after; saving moves on to the next criterion without a mark, so a
  sheet of 20-odd criteria is a run of short messages;
- "adjustment": «criterion; figure; reason; who is responsible» for a deduction or an addition;
- "circulate": the confirmation before the draft goes to every participant.

Everything typed is saved as it arrives (in the review itself, not in the flow), so /huy, a
crash or a restart loses nothing; the payload only says which input is awaited.
"""

from __future__ import annotations

from collections.abc import Awaitable
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from telegram import Document
from telegram.ext import CallbackQueryHandler
from telegram.ext import CommandHandler
from telegram.ext import MessageHandler
from telegram.ext import filters

from bot.i18n import N_
from bot.permissions import Action
from bot.roster import BOT_LIMITS
from bot.services import unit_report as report
from bot.services import unit_review as service
from bot.services.reviews import local_today
from bot.services.unit_review import Draft
from bot.services.unit_review import UnitReviewRefused
from bot.text import esc
from conversations import engine as flows
from handlers.base import Refusal
from handlers.base import Turn
from handlers.base import act_on
from handlers.base import translator_for
from handlers.base import turn_handler
from handlers.scope import INVALID
from handlers.scope import named
from handlers.scope import org_from_button
from handlers.scope import unit_by_code
from handlers.views import unit_review as views
from handlers.views.unit_review import UnitButton
from handlers.views.unit_review import UnitPick
from rules.review_form import MAX_SECTION_CHARS
from storage.models import AdjustmentKind
from storage.models import FlowState
from storage.models import Organisation
from storage.models import ScoreGrade
from storage.models import UnitReview

PART, FILE, MARK, ADJUST, CIRCULATE = "part", "report_file", "mark", "adjustment", "circulate"
NOT_A_HEAD = N_(
    "This is for the secretary or deputy secretary of a cell or a grassroots organisation: "
    "they prepare its collective's review report and draft score sheet."
)
FILE_EXPECTED = N_(
    "I am waiting for the report as a Word file (.docx): send it as a file (📎), not as text. "
    "To type the report instead, press «📝 Report» on /tap_the."
)
FILE_OUTSIDE = N_(
    "To send a collective's review report as a Word file, open /tap_the and press «📎 Word "
    "file» first."
)
UNKNOWN_FILE = N_(
    "I read spreadsheets (.xlsx or .csv: a roster, a criteria framework) and, for a "
    "collective's review report, Word files (.docx, from /tap_the). This file is neither."
)
NOT_DOCX = N_(
    "I take the report only as a Word file (.docx). Open it in Word and save it as .docx "
    "(«Save as», «Word Document»), then send it again."
)


def refusal(turn: Turn, refused: UnitReviewRefused) -> Refusal:
    """The service's refusal in the reader's words: text escaped, points in their locale."""
    def shown(value: object) -> object:
        if isinstance(value, Decimal):
            return turn.t.number(value)
        return esc(value) if isinstance(value, str) else value

    return Refusal(refused.msgid, **{k: shown(v) for k, v in refused.params.items()})


def today(turn: Turn):
    return local_today(turn.services.now(), turn.services.settings.tz)


async def _draft(turn: Turn, review: UnitReview) -> Draft:
    return await service.load_draft(turn.session, review, turn.services.settings.tz, today(turn))


async def _review(turn: Turn, review_id: object) -> tuple[UnitReview, Organisation]:
    """The review a payload or button names, with its unit; gone, the step or button is stale.
    The head's right to it is declared: the buttons' and the steps' target (`review_unit`)."""
    found = await service.review_and_org(turn.session, review_id) if isinstance(
        review_id, int) else None
    return named(found)


async def review_unit(
    turn: Turn, _action: Action | None, values: dict[str, Any]
) -> Organisation:
    """A step's target: the unit of the review the flow's payload names."""
    return (await _review(turn, values.get("review")))[1]


async def review_target(turn: Turn, _action: Action) -> Organisation:
    """Target: the unit of the review a pressed button names."""
    return (await _review(turn, turn.button.review_id))[1]


async def tapped_unit(turn: Turn, _action: Action) -> Organisation | None:
    """/tap_the [code]: the unit named, else the one the caller heads (None: they head several
    and choose); refused when they head none."""
    turn.require_member()
    args = turn.context.args or []
    if args:
        return await unit_by_code(turn, args[0])
    headed = await service.headed_units(turn.session, turn.identity.member.id)
    if not headed:
        raise Refusal(NOT_A_HEAD)
    return headed[0] if len(headed) == 1 else None


# --- the head's screen -------------------------------------------------------------------------


async def _show_unit(turn: Turn, org: Organisation) -> None:
    try:
        found = await service.open_reviews(turn.session, org)
    except UnitReviewRefused as refused:
        raise refusal(turn, refused) from None
    if await flows.active(turn, UNIT_FLOW) is not None:
        await flows.finish(turn)  # the screen again: no typed text is awaited any more
    for review in found:
        text, keyboard = views.head_screen(turn.t, await _draft(turn, review))
        await turn.reply(text, reply_markup=keyboard)


@turn_handler(action=Action.PREPARE_UNIT_REPORT, target=tapped_unit)
async def tap_the_command(turn: Turn) -> None:
    if turn.target is None:
        headed = await service.headed_units(turn.session, turn.identity.member.id)
        text, keyboard = views.pick_screen(turn.t, headed)
        await turn.reply(text, reply_markup=keyboard)
        return
    await _show_unit(turn, turn.target)


@turn_handler(button=UnitPick, action=Action.PREPARE_UNIT_REPORT, target=org_from_button)
async def pick_pressed(turn: Turn) -> None:
    await turn.answer()
    await turn.edit_keyboard(None)
    await _show_unit(turn, turn.target)


async def _leave_steps(turn: Turn) -> None:
    if await flows.active(turn, UNIT_FLOW) is not None:
        await flows.finish(turn)


async def _enter(turn: Turn, step: str, **values: object) -> FlowState:
    state = await flows.active(turn, UNIT_FLOW)
    if state is None:
        return await flows.begin(turn, UNIT_FLOW, step, **values)
    await flows.move(turn, state, step, **values)
    return state


@turn_handler(button=UnitButton, action=Action.PREPARE_UNIT_REPORT, target=review_target)
async def head_pressed(turn: Turn) -> None:
    pressed: UnitButton = turn.button
    review, _org = await _review(turn, pressed.review_id)
    draft = await _draft(turn, review)
    try:
        await _HANDLERS[pressed.action](turn, pressed, draft)
    except UnitReviewRefused as refused:
        raise refusal(turn, refused) from None
    await turn.answer()


async def _edit_screen(turn: Turn, screen) -> None:
    text, keyboard = screen
    await turn.edit(text, reply_markup=keyboard)


# The screens a button shows in place of the pressed message; no typed text is awaited there.
SCREENS = {
    "home": views.head_screen, "report": views.report_screen, "sheet": views.sheet_screen,
    "adj": views.adjustments_screen,
}


async def _screen(turn: Turn, pressed: UnitButton, draft: Draft) -> None:
    await _leave_steps(turn)
    await _edit_screen(turn, SCREENS[pressed.action](turn.t, draft))


async def _comments(turn: Turn, pressed: UnitButton, draft: Draft) -> None:
    comments = await service.comments_of(turn.session, draft.review.id)
    await turn.reply(views.comments_text(turn.t, draft, comments))


# --- the report's parts and the Word file --------------------------------------------------------


async def ask_part(turn: Turn, draft: Draft, key: str) -> None:
    await _enter(turn, PART, review=draft.review.id, part=key)
    text, keyboard = views.part_prompt(turn.t, draft, key)
    await flows.ask(turn, UNIT_FLOW, text, reply_markup=keyboard)


def _part(key: str) -> str:
    if report.section(key) is None:
        raise Refusal(INVALID)
    return key


async def _open_part(turn: Turn, pressed: UnitButton, draft: Draft) -> None:
    service.require_open(draft)
    await ask_part(turn, draft, _part(pressed.arg))


async def _show_part(turn: Turn, pressed: UnitButton, draft: Draft) -> None:
    text = draft.texts.get(_part(pressed.arg), "")
    await turn.reply(esc(text) if text.strip() else turn.t("(nothing written)"))


async def _undo(turn: Turn, pressed: UnitButton, draft: Draft) -> None:
    service.require_open(draft)
    removed = await report.drop_last_piece(turn.session, draft.review, _part(pressed.arg))
    await turn.answer(turn.t("Last message deleted.") if removed
                      else turn.t("There is nothing to delete in this part."))


async def _done(turn: Turn, pressed: UnitButton, draft: Draft) -> None:
    following = report.next_key(_part(pressed.arg))
    await turn.edit_keyboard(None)
    if following is None:
        await _leave_steps(turn)
        text, keyboard = views.report_screen(turn.t, draft)
        await turn.reply(text, reply_markup=keyboard)
        return
    await ask_part(turn, draft, following)


PART_FULL = N_(
    "This part can hold at most {max} characters; that message was not saved. {room} "
    "characters are left."
)
EDIT_FULL = N_(
    "This part can hold at most {max} characters; the edit was not taken. {room} characters are "
    "left for that message."
)


async def _written(
    turn: Turn, draft: Draft, write: Callable[[], Awaitable[int]], full: str
) -> int:
    """Text written into a part of an open draft: the part's new length, or the refusal."""
    try:
        service.require_open(draft)
        return await write()
    except UnitReviewRefused as refused:
        raise refusal(turn, refused) from None
    except report.PartFull as overflow:
        raise Refusal(full, max=turn.t.number(MAX_SECTION_CHARS),
                      room=turn.t.number(overflow.room)) from None


async def part_text(turn: Turn, state: FlowState, text: str) -> None:
    values = flows.payload(state)
    review, _org = await _review(turn, values.get("review"))
    draft = await _draft(turn, review)
    key = _part(values.get("part", ""))
    message_id = turn.update.effective_message.message_id
    length = await _written(turn, draft, lambda: report.add_piece(
        turn.session, review, key, text, message_id, turn.actor), PART_FULL)
    await flows.ask(turn, UNIT_FLOW, views.saved_text(turn.t, length),
                    reply_markup=views.part_keyboard(turn.t, review.id, key))


async def take_edit(turn: Turn) -> bool:
    """An edited message that is a piece of a collective's report: the piece takes the new
    text (self_review's edit handler asks here first). False when it is no such piece."""
    message = turn.update.edited_message
    found = await report.piece_of_message(turn.session, turn.actor, message.message_id) \
        if message.text else None
    if found is None:
        return False
    review, piece = found
    review, org = await _review(turn, review.id)
    await act_on(turn, Action.PREPARE_UNIT_REPORT, org)  # what was edited names the unit
    length = await _written(turn, await _draft(turn, review),
                            lambda: report.replace_piece(turn.session, review, piece,
                                                         message.text), EDIT_FULL)
    heading = report.section(piece.section_key)
    await turn.reply(views.edit_taken_text(turn.t, org.name, heading, length))
    return True


async def _file(turn: Turn, pressed: UnitButton, draft: Draft) -> None:
    service.require_open(draft)
    await _enter(turn, FILE, review=draft.review.id)
    await flows.ask(turn, UNIT_FLOW,
                    views.file_prompt(turn.t, draft, BOT_LIMITS.file_bytes // 1024 // 1024))


async def _no_file(turn: Turn, pressed: UnitButton, draft: Draft) -> None:
    service.require_open(draft)
    report.drop_file(turn.session, draft.review, turn.actor)
    await turn.answer(turn.t("The Word file is removed: the typed parts are the report."))
    await _edit_screen(turn, views.report_screen(turn.t, await _draft(turn, draft.review)))


async def file_text(turn: Turn, state: FlowState, text: str) -> None:
    raise Refusal(FILE_EXPECTED)


def _suffix(name: str) -> str:
    return "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""


@turn_handler()
async def report_document(turn: Turn) -> None:
    """A Word file (or another word-processor file) sent to the bot."""
    turn.require_member()
    document: Document = turn.update.effective_message.document
    is_docx = _suffix(document.file_name or "") == report.DOCX_SUFFIX
    state = await flows.active(turn, UNIT_FLOW)
    if state is None or state.step != FILE:
        raise Refusal(FILE_OUTSIDE if is_docx else UNKNOWN_FILE)
    await flows.enter_step(turn, state)  # the step's declared target and permission
    review, _org = await _review(turn, flows.payload(state).get("review"))
    if not is_docx:
        raise Refusal(NOT_DOCX)
    if document.file_size and document.file_size > BOT_LIMITS.file_bytes:
        raise Refusal(report.E_TOO_LARGE, size=BOT_LIMITS.file_bytes // 1024 // 1024)
    service.require_open(await _draft(turn, review))
    await turn.release()  # no transaction open while the file comes from Telegram
    content = bytes(await (await document.get_file()).download_as_bytearray())
    try:
        checked = await report.check_report_file(content)
    except report.ReportFileRefused as refused:
        raise Refusal(refused.msgid, **refused.params) from None
    review, org = await _review(turn, review.id)  # read again: the transaction is new
    draft = await _draft(turn, review)
    try:
        service.require_open(draft)
    except UnitReviewRefused as refused:
        raise refusal(turn, refused) from None
    report.store_file(turn.session, review, document.file_name or "", content, turn.actor)
    await flows.finish(turn)
    draft = await _draft(turn, review)
    await turn.reply(views.file_taken_text(turn.t, draft, checked.words))
    text, keyboard = views.head_screen(turn.t, draft)
    await turn.reply(text, reply_markup=keyboard)


# --- the draft score sheet ---------------------------------------------------------------------


def _criterion(draft: Draft, code: str):
    criterion = service.leaf(draft, code)
    if criterion is None or not draft.scored:
        raise Refusal(INVALID)
    return criterion


async def ask_mark(turn: Turn, draft: Draft, code: str, *, saved: str = "", grade=None,
                   pending=None, result=None) -> None:
    criterion = _criterion(draft, code)
    await _enter(turn, MARK, review=draft.review.id, criterion=code, grade=grade,
                 pending=pending, result=result)
    chosen = grade or (draft.marks[code].grade if code in draft.marks else None)
    text, keyboard = views.mark_prompt(turn.t, draft, criterion, chosen, pending, saved)
    await flows.ask(turn, UNIT_FLOW, text, reply_markup=keyboard)


async def _mark(turn: Turn, pressed: UnitButton, draft: Draft) -> None:
    service.require_open(draft)
    await ask_mark(turn, draft, _criterion(draft, pressed.arg).code)


async def _next(turn: Turn, pressed: UnitButton, draft: Draft, saved: str = "") -> None:
    service.require_open(draft)
    following = draft.next_unmarked(pressed.arg or None)
    if following is None:
        await _leave_steps(turn)
        text, keyboard = views.sheet_screen(turn.t, draft)
        lead = saved + "\n" if saved else ""
        await turn.reply(lead + views.all_marked_text(turn.t, draft) + "\n\n" + text,
                         reply_markup=keyboard)
        return
    await ask_mark(turn, draft, following.code, saved=saved)


async def _grade(turn: Turn, pressed: UnitButton, draft: Draft) -> None:
    service.require_open(draft)
    criterion = _criterion(draft, pressed.arg)
    grade = pressed.grade
    if grade is None:
        raise Refusal(INVALID)
    state = await flows.active(turn, UNIT_FLOW)
    values = flows.payload(state) if state is not None else {}
    at_it = state is not None and state.step == MARK and values.get("criterion") == criterion.code
    pending = values.get("pending") if at_it else None
    if isinstance(pending, int):
        typed = service.TypedMark(pending, grade, values.get("result"))
        await _save_and_go_on(turn, draft, criterion, typed, grade)
        return
    if await service.set_grade(turn.session, draft.review, criterion, grade) is not None:
        await turn.answer(turn.t("Grade saved."))
        draft = await _draft(turn, draft.review)
    await turn.edit_keyboard(None)
    await ask_mark(turn, draft, criterion.code, grade=grade.value)


async def _save_and_go_on(turn: Turn, draft: Draft, criterion, typed, grade: ScoreGrade) -> None:
    mark = await service.save_mark(turn.session, draft.review, criterion, typed, grade, turn.actor,
                                   now=turn.services.now())
    saved = views.mark_saved_text(turn.t, criterion, mark)
    draft = await _draft(turn, draft.review)
    await _next(turn, UnitButton("next", draft.review.id, criterion.code), draft, saved)


async def mark_text(turn: Turn, state: FlowState, text: str) -> None:
    values = flows.payload(state)
    review, _org = await _review(turn, values.get("review"))
    draft = await _draft(turn, review)
    criterion = _criterion(draft, values.get("criterion", ""))
    existing = draft.marks.get(criterion.code)
    try:
        service.require_open(draft)
        typed = service.parse_mark(text, criterion, bool(existing and existing.result))
    except UnitReviewRefused as refused:
        raise refusal(turn, refused) from None
    chosen = typed.grade or values.get("grade") or (existing.grade if existing else None)
    if chosen is None:
        await ask_mark(turn, draft, criterion.code, pending=typed.tenths, result=typed.result)
        return
    await _save_and_go_on(turn, draft, criterion, typed, ScoreGrade(chosen))


# --- deductions and additions -------------------------------------------------------------------


async def _propose(turn: Turn, pressed: UnitButton, draft: Draft) -> None:
    service.require_open(draft)
    if not draft.scored:
        raise Refusal(INVALID)
    kind = AdjustmentKind.DEDUCTION if pressed.action == "ded" else AdjustmentKind.ADDITION
    await _enter(turn, ADJUST, review=draft.review.id, kind=kind.value)
    example = service.DEDUCTION_EXAMPLE if kind == AdjustmentKind.DEDUCTION \
        else service.ADDITION_EXAMPLE
    await flows.ask(turn, UNIT_FLOW, views.adjustment_prompt(turn.t, kind, example))


async def _drop(turn: Turn, pressed: UnitButton, draft: Draft) -> None:
    service.require_open(draft)
    if pressed.item is None or not await service.remove_adjustment(
            turn.session, draft.review, pressed.item):
        raise Refusal(INVALID)
    await turn.answer(turn.t("Withdrawn."))
    await _edit_screen(turn, views.adjustments_screen(turn.t, await _draft(turn, draft.review)))


async def adjustment_text(turn: Turn, state: FlowState, text: str) -> None:
    values = flows.payload(state)
    review, org = await _review(turn, values.get("review"))
    draft = await _draft(turn, review)
    if not draft.scored:
        await flows.finish(turn)
        raise Refusal(INVALID)
    try:
        service.require_open(draft)
        typed = service.parse_adjustment(text, AdjustmentKind(values.get("kind")),
                                         draft.framework, draft.rulebook, org.name)
    except UnitReviewRefused as refused:
        raise refusal(turn, refused) from None
    await service.add_adjustment(turn.session, review, typed, turn.actor)
    await flows.finish(turn)
    text, keyboard = views.adjustments_screen(turn.t, await _draft(turn, review))
    await turn.reply(turn.t("Saved.") + "\n\n" + text, reply_markup=keyboard)


# --- the committee's comments and circulation (R-D1) ----------------------------------------------


async def _notify_draft(turn: Turn, draft: Draft, recipients, *, committee: bool) -> list[str]:
    """The draft to each recipient in their language, after the commit; the names of those
    Telegram cannot reach."""
    head = turn.identity.member.full_name
    unreachable = []
    for recipient in recipients:
        if not recipient.reachable:
            unreachable.append(recipient.member.full_name)
            continue
        rt = translator_for(recipient.account, turn.services)
        text, keyboard = views.draft_notice(rt, draft, head, committee=committee)
        turn.notify(recipient.account.telegram_id, text, reply_markup=keyboard,
                    unreachable=turn.t("{name} could not be reached on Telegram.",
                                       name=esc(recipient.member.full_name)))
    return unreachable


async def _consult(turn: Turn, pressed: UnitButton, draft: Draft) -> None:
    service.require_open(draft)
    recipients = await service.committee_recipients(turn.session, draft.review,
                                                    turn.identity.member.id)
    if not recipients:
        raise Refusal("{org} has no other committee member to ask.",
                      org=esc(draft.org.name))
    unreachable = await _notify_draft(turn, draft, recipients, committee=True)
    await turn.reply(views.consulted_text(turn.t, len(recipients) - len(unreachable),
                                          unreachable))


def _require_ready(turn: Turn, draft: Draft) -> None:
    if draft.ready():
        return
    missing = [views.missing_parts_text(turn.t, draft.missing_parts())] \
        if draft.missing_parts() else []
    if draft.scored and draft.unmarked():
        missing.append(turn.t("{count} criteria of the score sheet to mark",
                              count=len(draft.unmarked())))
    raise Refusal(service.E_NOT_READY, missing="; ".join(missing))


async def _send(turn: Turn, pressed: UnitButton, draft: Draft) -> None:
    service.require_open(draft)
    _require_ready(turn, draft)
    await _enter(turn, CIRCULATE, review=draft.review.id)
    text, keyboard = views.circulate_question(turn.t, draft, today(turn))
    await flows.ask(turn, UNIT_FLOW, text, reply_markup=keyboard)


async def _confirm(turn: Turn, pressed: UnitButton, draft: Draft) -> None:
    # A question left or answered is stale, and its button goes.
    await flows.pressed_at(turn, UNIT_FLOW, CIRCULATE, review=draft.review.id)
    service.require_open(draft)
    _require_ready(turn, draft)  # the question may be old: everything is checked again
    services = turn.services
    service.circulate(turn.session, draft, turn.actor, services.now(), services.settings.tz)
    await flows.finish(turn)
    draft = await _draft(turn, draft.review)
    recipients = await service.participant_recipients(turn.session, draft.review,
                                                      turn.identity.member.id)
    unreachable = await _notify_draft(turn, draft, recipients, committee=False)
    await turn.answer(turn.t("Sent"))
    await turn.edit(views.circulated_text(turn.t, draft, len(recipients) - len(unreachable),
                                          unreachable))


_HANDLERS = {
    **dict.fromkeys(SCREENS, _screen),
    "part": _open_part, "file": _file, "nofile": _no_file,
    "show": _show_part, "undo": _undo, "done": _done, "mark": _mark,
    "grade": _grade, "next": _next, "ded": _propose, "add": _propose,
    "drop": _drop, "comments": _comments, "consult": _consult, "send": _send,
    "confirm": _confirm,
}

# Every step acts on the review's unit, as its head.
_HEAD: dict[str, Any] = {"action": Action.PREPARE_UNIT_REPORT, "target": review_unit}
UNIT_FLOW = flows.declare(
    flows.Flow(
        "unit_review",
        N_("preparing the collective's review"),
        (
            flows.Step(PART, on_text=part_text, **_HEAD),
            flows.Step(FILE, on_text=file_text, **_HEAD),
            flows.Step(MARK, on_text=mark_text, **_HEAD),
            flows.Step(ADJUST, on_text=adjustment_text, **_HEAD),
            flows.Step(CIRCULATE, **_HEAD),
        ),
        kept=N_("Everything you entered is saved; send /tap_the to go on."),
        entry=("tap_the",),
    )
)

# Word-processor files: a .docx is the report (at the "report_file" step); the others are
# answered with how to save a .docx. Registered before the roster's document handler.
REPORT_FILES = filters.Document.FileExtension("docx")
for _other in report.OTHER_SUFFIXES:
    REPORT_FILES = REPORT_FILES | filters.Document.FileExtension(_other.lstrip("."))

HANDLERS = [
    CommandHandler("tap_the", tap_the_command),
    CallbackQueryHandler(pick_pressed, pattern=UnitPick.pattern()),
    CallbackQueryHandler(head_pressed, pattern=UnitButton.pattern()),
    MessageHandler(REPORT_FILES & filters.ChatType.PRIVATE, report_document, block=False),
]
