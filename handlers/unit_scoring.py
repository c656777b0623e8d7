"""Members score their organisation at its meeting (seed 004 B.1.4, B.6); the design is in
bot/services/unit_scoring.py, the flows in conversations/unit_scoring.py.

- "🧮 Chấm điểm" on the order screen (the secretary, after the collectives' step): every
  participant present gets their sheet by private message, pre-filled from the draft; the
  secretary's screen shows "12/15 đã chấm", the deductions and additions (agree ✅, change ✏,
  drop 🗑, add ➖/➕), and closes the scoring (confirmed): the combined score and its band.
- A member's sheet: a button per criterion, quick marks or typed points, submit; ``/cham_diem``
  shows it again (until the scoring closes).
"""

from __future__ import annotations

from telegram.ext import CallbackQueryHandler
from telegram.ext import CommandHandler

from bot.permissions import Action
from bot.services import ballot as ballot_service
from bot.services import unit_scoring as service
from conversations import engine as flows
from conversations import unit_scoring as conversation
from conversations.decision import confirmed
from conversations.unit_meeting import pressed_meeting
from handlers import scope
from handlers.base import Refusal
from handlers.base import Turn
from handlers.base import translator_for
from handlers.base import turn_handler
from handlers.views import unit_scoring as views
from storage.models import AdjustmentKind
from storage.models import Meeting

INVALID = "This button is no longer valid."


_meeting = pressed_meeting


# --- the secretary ----------------------------------------------------------------------------------


async def _open(turn: Turn, meeting: Meeting) -> None:
    """Open the scoring (or give sheets to those present since), tell each new holder; a
    closed scoring shows its result."""
    scoring = await conversation.scoring_for(turn, meeting)
    if scoring.closed:
        await turn.answer()
        await conversation.show_scoring(turn, scoring)
        return
    try:
        scoring, made = await service.open_scoring(
            turn.session, meeting, conversation.today(turn), actor=turn.actor,
            now=turn.services.now(),
        )
    except service.ScoringError as error:
        raise conversation.refusal(turn, error) from None
    accounts = await ballot_service.accounts_of(turn.session, [s.member.id for s in made])
    unreachable = []
    for mine in made:
        account = accounts.get(mine.member.id)
        if not ballot_service.reachable(account):
            unreachable.append(mine.member)
            continue
        mt = translator_for(account, turn.services)
        view = service.SheetView(scoring, mine)
        note = views.scoring_started_note(mt, scoring.org.name)
        turn.notify(
            account.telegram_id,
            views.sheet_text(mt, view, note=note),
            reply_markup=views.sheet_keyboard(mt, view),
        )
    await turn.answer()
    await conversation.show_scoring(turn, scoring, unreachable=unreachable)


async def _scoring(turn: Turn, meeting: Meeting) -> service.Scoring:
    return await conversation.scoring_for(turn, meeting)


def _adjustment(scoring: service.Scoring, adjustment_id: int | None):
    return scope.named(next((a for a in scoring.adjustments if a.id == adjustment_id), None))


@turn_handler(button=views.ScoringButton, action=Action.RUN_MEETING, target=scope.meeting_cell)
async def scoring_pressed(turn: Turn) -> None:
    pressed: views.ScoringButton = turn.button
    meeting = await _meeting(turn, pressed.meeting_id)
    if pressed.action == "open":
        await _open(turn, meeting)
        return
    if pressed.action == "yes":
        await _close(turn, meeting)
        return
    scoring = await _scoring(turn, meeting)
    if scoring.closed or scoring.review is None:
        await turn.answer()
        await conversation.show_scoring(turn, scoring)
        return
    now, actor = turn.services.now(), turn.actor
    try:
        if pressed.action in ("ded", "add", "edit"):
            if pressed.action == "edit":
                row = _adjustment(scoring, pressed.adjustment_id)
                kind = AdjustmentKind(row.kind)
            else:
                row = None
                kind = AdjustmentKind.DEDUCTION if pressed.action == "ded" else AdjustmentKind.ADDITION
            await turn.answer()
            await turn.edit_keyboard(None)
            await conversation.begin_adjustment(turn, scoring, kind, row)
            return
        if pressed.action == "close":
            await turn.answer()
            await turn.edit_keyboard(None)
            await flows.begin(turn, conversation.SCORING_CLOSE, "confirm", meeting=meeting.id)
            await flows.ask(
                turn,
                conversation.SCORING_CLOSE,
                views.close_text(turn.t, scoring),
                reply_markup=views.close_keyboard(turn.t, meeting.id),
            )
            return
        if pressed.action == "agree":
            row = _adjustment(scoring, pressed.adjustment_id)
            await service.set_agreed(turn.session, scoring, row.id, not row.agreed, actor=actor,
                                     now=now)
        elif pressed.action == "drop":
            await service.remove_adjustment(
                turn.session, scoring, _adjustment(scoring, pressed.adjustment_id).id,
                actor=actor, now=now,
            )
    except service.AdjustmentRefused as error:
        await conversation.refuse_adjustment(turn, error)
        return
    except service.ScoringError as error:
        raise conversation.refusal(turn, error) from None
    await turn.answer(turn.t("Updated.") if pressed.action != "refresh" else None)
    await conversation.show_scoring(turn, await _scoring(turn, meeting))


async def _close(turn: Turn, meeting: Meeting) -> None:
    await confirmed(turn, conversation.SCORING_CLOSE, meeting=meeting.id)
    await flows.finish(turn)
    try:
        closed = await service.close_scoring(
            turn.session, meeting, conversation.today(turn), actor=turn.actor,
            now=turn.services.now(),
        )
    except service.AdjustmentRefused as error:
        await conversation.refuse_adjustment(turn, error)
        return
    except service.ScoringError as error:
        raise conversation.refusal(turn, error) from None
    await turn.reply(views.closed_text(turn.t, closed), reply_markup=views.closed_keyboard(
        turn.t, meeting.id))
    accounts = await ballot_service.accounts_of(  # everyone who had a sheet hears the result
        turn.session, [sheet.member.id for sheet in closed.scoring.sheets]
    )
    for account in accounts.values():
        if account.telegram_id == turn.account.telegram_id or not ballot_service.reachable(account):
            continue
        turn.notify(account.telegram_id, views.closed_notice(translator_for(account, turn.services), closed))


@turn_handler(button=views.AdjustButton, action=Action.RUN_MEETING, target=scope.meeting_cell)
async def adjust_pressed(turn: Turn) -> None:
    pressed: views.AdjustButton = turn.button
    state = await flows.active(turn, conversation.ADJUST)
    if state is None or flows.payload(state).get("meeting") != pressed.meeting_id:
        await turn.edit_keyboard(None)
        raise Refusal(INVALID)
    if pressed.action == "keep":
        value = conversation.kept_value(state)
        if value is None:
            raise Refusal(INVALID)
    else:
        if state.step != "criterion" or pressed.criterion is None:
            raise Refusal(INVALID)
        _values, scoring = await conversation.adjusting(turn, state)
        try:
            value = service.check_criterion(scoring, pressed.criterion)
        except service.ScoringError as error:
            raise conversation.refusal(turn, error) from None
    await turn.answer()
    await conversation.advance(turn, state, value)


# --- a member's sheet -----------------------------------------------------------------------------


@turn_handler(button=views.SheetButton)
async def sheet_pressed(turn: Turn) -> None:
    pressed: views.SheetButton = turn.button
    view = await conversation.load_sheet(turn, pressed.sheet_id)
    if pressed.action == "open":
        await turn.answer()
        await conversation.show_sheet(turn, view)
    elif pressed.action == "crit":
        if pressed.criterion is None:
            raise Refusal(INVALID)
        await turn.answer()
        await conversation.show_criterion(turn, view, pressed.criterion)
    elif pressed.action == "set":
        if pressed.criterion is None or pressed.value is None:
            raise Refusal(INVALID)
        await conversation.set_mark(turn, view, pressed.criterion, pressed.value)
        await turn.answer(turn.t("Saved."))
        await conversation.after_mark(turn, view, pressed.criterion)
    else:
        try:
            score = await service.submit(turn.session, view, now=turn.services.now())
        except service.ScoringError as error:
            raise conversation.refusal(turn, error) from None
        if await flows.active(turn, conversation.SCORE) is not None:
            await flows.finish(turn)
        await turn.answer(turn.t("Submitted."))
        await turn.edit(views.submitted_text(turn.t, view, score.total))
        if not view.scoring.waiting:
            await _all_scored(turn, view.scoring)


async def _all_scored(turn: Turn, scoring: service.Scoring) -> None:
    """The last sheet is in: the meeting's secretary and deputies hear it, with their screen."""
    heads = await service.heads(turn.session, scoring.org.id)
    accounts = await ballot_service.accounts_of(turn.session, [m.id for m in heads])
    for account in accounts.values():
        if ballot_service.reachable(account):
            ht = translator_for(account, turn.services)
            turn.notify(
                account.telegram_id,
                views.all_scored_text(ht, scoring),
                reply_markup=views.all_scored_keyboard(ht, scoring.meeting.id),
            )


@turn_handler()
async def score_command(turn: Turn) -> None:
    turn.require_member()
    sheets = await service.open_sheets(turn.session, turn.identity.member)
    if not sheets:
        raise Refusal(views.NO_SHEET)
    if await flows.active(turn, conversation.SCORE) is not None:
        await flows.finish(turn)
    for sheet_id in sheets:
        view = await conversation.load_sheet(turn, sheet_id)
        await conversation.show_sheet(turn, view)


HANDLERS = [
    CommandHandler("cham_diem", score_command),
    CallbackQueryHandler(scoring_pressed, pattern=views.ScoringButton.pattern()),
    CallbackQueryHandler(adjust_pressed, pattern=views.AdjustButton.pattern()),
    CallbackQueryHandler(sheet_pressed, pattern=views.SheetButton.pattern()),
]
