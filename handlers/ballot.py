"""The meeting and the secret ballot by private message (DOMAIN §7, R-B1..R-B9), with the
sealed ballot box of issue 11 (the design is in ``bot/services/ballot.py``). The edge only:
the screens and the typed buttons are in ``handlers/views/ballot.py``, the flows (the meeting
screen, closing a round) in ``conversations/ballot.py``, what happens after a turn (the key
shares handed out, the ballots sent, the round message, the end of voting, the results) in
``bot/services/ballot_rounds.py``, the majority and the other rules in ``rules/ballot.py``.

- ``/hop [code]`` (secretary or deputy): the meeting's attendance, one button per member
  (✅ present → 🟡 absent with an accepted excuse → ❌ absent), the denominator (R-B3), the
  quorum (R-B9) and the counting committee (🧮: who holds a key share, and how many of them
  open the box). The screen is the ``meeting`` flow: /huy or ✖ Hủy leaves it, and what was
  pressed stays saved.
- ``/bo_phieu [code]`` or "🗳 Open the secret ballot": a round. Each committee member first
  gets their share of the round's key in the "🔓 Mở hòm phiếu" button of a private message
  (sent straight to Telegram, never stored); if one cannot be reached the round does not open
  and the secretary is told whom to replace. Then each voter (R-B1) gets a private ballot and
  the secretary the round message ("3/12 have voted", who has not), edited in place at most
  once per debounce period. A "🗳 vote again" button (the results', the breach warning's)
  leaves its message once the round it asked for is open.
- The voter goes candidate by candidate (``VoteButton(round, position, choice)``), sees a
  summary, changes any choice (choice "edit") and confirms (choice "ok", no position). Every
  press is checked against the database. Choices in progress live in ``context.user_data``
  only; the stored copy of a choice press has the choice cut out (``bot.intake``); screens
  that show choices are sent with ``durable=False``.
- The cast commits with the turn: ``has_voted``, the sealed ballot and the receipt message in
  the outbox (so a crash after the commit still delivers the receipt); ``/phieu`` later
  replies to the receipt message, whose id is recorded once it was delivered.
- Voting ends when everyone has voted (also found at start-up after a crash: ``recover``) or
  the secretary ends it (🔒, then a confirmation step that says who has not voted, re-checked
  when ✅ is pressed); then k committee members press their button, the box is opened and the
  results, then the list of counted receipts in a message of its own, go to the secretary and
  every voter; undecided candidates get a button for another round.
- ``/kiem_tra_phieu CODE``: whether the ballot with that receipt was counted (R-B8).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
from collections.abc import Iterator

from telegram import InlineKeyboardMarkup
from telegram import ReplyParameters
from telegram.error import BadRequest
from telegram.ext import Application
from telegram.ext import CallbackQueryHandler
from telegram.ext import CommandHandler

from bot.delivery import EDIT
from bot.delivery import Owed
from bot.delivery import on_sent
from bot.i18n import N_
from bot.intake import redact_callbacks
from bot.permissions import Action
from bot.services import ballot as service
from bot.services import ballot_logs
from bot.services import ballot_rounds as rounds
from bot.services import unit_review
from bot.services.ballot import BallotError
from bot.services.ballot import RoundView
from bot.services.unit_ballot import UnitRefusal
from conversations import ballot as conversation
from conversations import engine as flows
from handlers import plan_checks
from handlers import scope
from handlers import unit_meeting as unit_handlers
from handlers.base import Refusal
from handlers.base import Turn
from handlers.base import translator_for
from handlers.base import turn_handler
from handlers.views import ballot as views
from handlers.views import unit_meeting as unit_views
from handlers.views import unit_review as review_views
from rules.people import Presence
from storage.models import Meeting
from storage.models import Member

log = logging.getLogger(__name__)
ballot_logs.install()

RECEIPT_HOOK = "ballot-receipt"
RECEIPTS_KEPT_DAYS = 60  # /phieu points to receipts of rounds opened this recently

INVALID = N_("This button is no longer valid.")


redact_callbacks(views.VoteButton.PREFIX, views.redact_vote)
redact_callbacks(views.KeyButton.PREFIX, views.redact_key)


@on_sent(RECEIPT_HOOK)
async def _receipt_delivered(session, ref: str, message_id: int) -> None:
    round_id, member_id = (int(part) for part in ref.split(":"))
    await service.record_receipt_message(session, round_id, member_id, message_id)


def desk(application: Application) -> rounds.Desk:
    """What the round's messages after a turn need: the application, the screens, and the
    breach checks owed with an opening."""
    return rounds.Desk(application, views, plan_checks.breaches_owed)


@contextlib.contextmanager
def _told() -> Iterator[None]:
    """The ballot's own refusals (BallotError) are said to the user as they are; the units'
    (issue 14) with their values escaped."""
    try:
        yield
    except BallotError as error:
        raise Refusal(error.msgid, **error.params) from None
    except UnitRefusal as error:
        raise unit_handlers.refusal(error) from None


def _today(turn: Turn) -> dt.date:
    return turn.services.now().astimezone(turn.services.settings.tz).date()


# --- the meeting -------------------------------------------------------------------------------


async def _meeting_for(turn: Turn, *, create: bool) -> Meeting | None:
    """The meeting of the command's cell (turn.target), opened by /hop (`create`)."""
    with _told():
        return await service.meeting_for_cell(
            turn.session, turn.target, turn.services.now(), create=create
        )


async def _show_meeting(turn: Turn, meeting: Meeting, *, edit: bool) -> None:
    state = await service.meeting_state(turn.session, meeting, _today(turn))
    open_round = await service.open_round_of(turn.session, meeting.id)
    committee = await service.committee_of(turn.session, state)
    text = views.meeting_text(turn.t, state, open_round, committee)
    # Issue 14, part A: the meeting's least length (R-D4) and the draft's due date (R-D1).
    needs = await unit_review.meeting_needs_of(turn.session, meeting, turn.services.settings.tz)
    text += "\n\n" + review_views.meeting_needs_text(turn.t, needs)
    # Issue 14, part B: the meeting's order (R-D3).
    markup = views.meeting_keyboard(turn.t, state, [[unit_views.order_button(turn.t, meeting.id)]])
    if edit:
        await conversation.meeting_step(turn, "attendance")
        await turn.edit(text, reply_markup=flows.with_cancel(turn.t, conversation.MEETING, markup))
    else:
        await flows.begin(turn, conversation.MEETING, "attendance", meeting=meeting.id)
        await flows.ask(turn, conversation.MEETING, text, reply_markup=markup)


async def _show_committee(turn: Turn, meeting: Meeting) -> None:
    state = await service.meeting_state(turn.session, meeting, _today(turn))
    committee = await service.committee_of(turn.session, state)
    await conversation.meeting_step(turn, "committee")
    markup = views.committee_keyboard(turn.t, state, committee)
    await turn.edit(
        views.committee_text(turn.t, state, committee),
        reply_markup=flows.with_cancel(turn.t, conversation.MEETING, markup),
    )


# /hop and /bo_phieu act on a cell, or on a đảng bộ cơ sở whose committee meets (issue 14).
@turn_handler(action=Action.RUN_MEETING, target=unit_handlers.meeting_unit)
async def meeting_command(turn: Turn) -> None:
    await _show_meeting(turn, await _meeting_for(turn, create=True), edit=False)


async def _meeting_of(turn: Turn) -> Meeting:
    return scope.named(await service.meeting_by_id(turn.session, turn.button.meeting_id))


@turn_handler(button=views.MeetingButton, action=Action.RUN_MEETING, target=scope.meeting_cell)
async def meeting_pressed(turn: Turn) -> None:
    pressed: views.MeetingButton = turn.button
    meeting = await _meeting_of(turn)
    with _told():
        state = await service.meeting_state(turn.session, meeting, _today(turn))
        if pressed.action == "p":
            if pressed.value not in state.presence:
                raise Refusal(INVALID)
            new = service.NEXT_PRESENCE[state.presence[pressed.value]]
            await service.set_presence(turn.session, meeting, [pressed.value], new)
        elif pressed.action == "all":
            ids = [m.id for m in state.members]
            await service.set_presence(turn.session, meeting, ids, Presence.PRESENT)
        elif pressed.action in ("cm", "ct", "ck"):
            if pressed.action == "ct" and pressed.value is not None:
                await service.toggle_teller(turn.session, state, pressed.value)
            elif pressed.action == "ck" and pressed.value is not None:
                await service.set_threshold(turn.session, state, pressed.value)
            await _show_committee(turn, meeting)
            return
    await _show_meeting(turn, meeting, edit=True)


@turn_handler(button=views.OpenButton, action=Action.RUN_BALLOT, target=scope.meeting_cell)
async def open_pressed(turn: Turn) -> None:
    """Open a round from the meeting screen, for the undecided, or to vote again (R-Q6)."""
    pressed: views.OpenButton = turn.button
    meeting = await _meeting_of(turn)
    message = turn.query.message
    spent = None
    if pressed.action != "open" and message is not None:  # the results', the warning's, the
        # scoring's (a units round)
        markup = message.reply_markup
        spent = rounds.spent_button(message.chat.id, message.message_id, markup, turn.query.data)
    candidates = None
    if pressed.action == "revote":  # R-Q6: the members whose proposals break a rule
        candidates = await plan_checks.members_to_revote(turn.session, meeting)
        if not candidates:
            raise Refusal("No proposal breaks a rule any more: there is nothing to vote on again.")
    await _open_round(turn, meeting, candidates, units=pressed.action == "units", spent=spent)


# --- opening a round ---------------------------------------------------------------------------


@turn_handler(action=Action.RUN_BALLOT, target=unit_handlers.meeting_unit)
async def ballot_command(turn: Turn) -> None:
    meeting = await _meeting_for(turn, create=False)
    if meeting is None:
        raise Refusal("Open the meeting with /hop and take the attendance first.")
    await _open_round(turn, meeting)


async def _open_round(
    turn: Turn,
    meeting: Meeting,
    candidate_ids: list[int] | None = None,
    *,
    units: bool = False,
    spent: Owed | None = None,
) -> None:
    """A new round (on the members, or with `units` on the collectives' levels, issue 14), or
    the open one shown again; `spent`, the keyboard edit that takes the pressed "vote again"
    button off its message, once the round it asked for is open."""
    t = turn.t
    current = await service.open_round_of(turn.session, meeting.id)
    if current is not None:
        if current.state == service.PENDING:
            raise Refusal("The round is being opened; wait a moment.")
        if spent is not None:
            await turn.edit_keyboard(spent.keyboard)
        await turn.answer(t("Ballot round {number} is open.", number=current.number))
        edge, chat_id = desk(turn.context.application), turn.chat_id
        turn.after_commit(lambda: rounds.send_progress(edge, chat_id, current.id))
        return
    with _told():
        subjects = await rounds.subjects_of(turn.session, meeting, _today(turn), units=units)
    if subjects.waits is not None:  # R-D3: the collectives first, or the reason why not
        await turn.answer()
        await turn.reply(
            unit_views.ballot_waits_text(t, subjects.waits),
            reply_markup=unit_views.ballot_waits_keyboard(t, meeting.id),
        )
        return
    state = await service.meeting_state(turn.session, meeting, _today(turn))
    committee = await service.committee_of(turn.session, state)
    accounts = await service.accounts_of(turn.session, [m.id for m in committee.members])
    missing = rounds.unreachable_tellers(committee, accounts)
    if missing:
        await turn.answer()
        reasons = [(member, views.why_unreachable(t, account)) for member, account in missing]
        await turn.reply(views.replace_tellers_text(t, reasons))
        return
    with _told():
        opened = await service.open_round(
            turn.session,
            state,
            actor=turn.actor,
            now=turn.services.now(),
            candidate_ids=candidate_ids,
            reviews=subjects.reviews,
        )
    holders = rounds.holders_of(opened, accounts)
    await turn.answer(t("Round {number} is open.", number=opened.round.number))
    edge, chat_id, round_id = desk(turn.context.application), turn.chat_id, opened.round.id
    turn.after_commit(
        lambda: rounds.hand_out_and_open(edge, chat_id, round_id, holders, spent=spent)
    )


# --- the voter's ballot ---------------------------------------------------------------------


_CLOSED = service.round_closed().msgid
_VOTED = service.already_voted().msgid


async def _unusable(turn: Turn, refusal: Refusal, round_id: int, member: Member | None) -> bool:
    """A ballot they can no longer use keeps no buttons: the round closed, or they voted and
    their receipt is on another message (a copy sent again as the bot restarted while they
    voted). The message that shows the receipt loses its buttons with it, so it is left alone:
    a second press racing the cast must not edit it again."""
    if refusal.msgid == _CLOSED:
        return True
    if refusal.msgid != _VOTED or member is None:
        return False
    voter = await service.voter_row(turn.session, round_id, member.id)
    receipt = None if voter is None else voter.receipt_message_id
    return receipt is not None and receipt != turn.query.message.message_id


async def _voter(turn: Turn, round_id: int) -> Member:
    """The press is the presser's own, on a voting round where they still have to vote."""
    message = turn.query.message
    if message is None or message.chat.id != turn.query.from_user.id:
        raise Refusal("This ballot is not yours.")
    member = turn.identity.member
    try:
        with _told():
            await rounds.check_voter(turn.session, round_id, member, turn.context.user_data)
    except Refusal as refusal:
        if await _unusable(turn, refusal, round_id, member):
            await turn.edit_keyboard(None)
        raise
    return member


async def _show_ballot(
    turn: Turn, draft: rounds.Draft, text: str, markup: InlineKeyboardMarkup
) -> None:
    """Edit the ballot message, unless this very screen is already shown there."""
    key = hashlib.sha256((text + repr(markup.to_dict())).encode()).hexdigest()
    message_id = turn.query.message.message_id
    if draft.shown.get(message_id) == key:
        return
    await turn.edit(text, reply_markup=markup, durable=False)  # choices: never stored
    draft.shown[message_id] = key


@turn_handler(button=views.VoteButton)
async def vote_pressed(turn: Turn) -> None:
    pressed: views.VoteButton = turn.button
    round_id, position, choice = pressed.round_id, pressed.position, pressed.choice
    if (choice == views.CAST) != (position is None):
        raise Refusal(INVALID)
    member = await _voter(turn, round_id)
    view = await service.round_view(turn.session, round_id)
    positions = [candidate.position for candidate, _member in view.candidates]
    t = turn.t
    drafts = rounds.drafts(turn.context.user_data)
    lost = round_id not in drafts
    draft = drafts.setdefault(round_id, rounds.Draft())
    choices = draft.choices
    lost_note = t(
        "I lost the choices you had not confirmed yet (the bot restarted). Please choose again."
    )
    if choice == views.CAST:
        missing = rounds.next_position(positions, choices, None)
        if missing is not None:
            note = lost_note if lost or not choices else t("Some members have no choice yet.")
            await turn.answer(note, alert=True)
            await _show_ballot(
                turn, draft, *views.ballot_screen(t, view, choices, missing, note=note)
            )
            return
        await _cast(turn, view, member, dict(choices))
        return
    if position not in positions:
        raise Refusal(INVALID)
    if choice == views.REDACTED:  # a press stored before a restart: its choice was never kept
        await turn.answer(lost_note, alert=True)
        screen = views.ballot_screen(t, view, choices, position, note=lost_note)
    elif choice == views.EDIT_CHOICE:
        note = lost_note if lost and position != positions[0] else None
        screen = views.ballot_screen(t, view, choices, position, note=note)
    else:
        note = lost_note if lost and position != positions[0] else None
        choices[position] = choice
        following = rounds.next_position(positions, choices, position)
        screen = views.ballot_screen(t, view, choices, following, note=note)
    await _show_ballot(turn, draft, *screen)


async def _cast(turn: Turn, view: RoundView, member: Member, choices: dict[int, str]) -> None:
    """The cast, in the turn's transaction: has_voted, the sealed ballot, its receipt hash and
    the receipt message owed to the voter commit together, or nothing does."""
    t = turn.t
    round_id = view.round.id
    drafts = rounds.drafts(turn.context.user_data)
    try:
        with _told():
            cast = await service.cast(turn.session, round_id, member.id, choices)
    finally:
        drafts.pop(round_id, None)
        choices.clear()
    await turn.answer(t("Your ballot has been cast."))
    message = turn.query.message
    turn.owe(
        Owed.message(
            message.chat.id,
            views.cast_screen(t, view, cast.code),
            None,
            kind=EDIT,
            message_id=message.message_id,
            track=(RECEIPT_HOOK, f"{round_id}:{member.id}"),
        )
    )
    edge = desk(turn.context.application)
    turn.after_commit(lambda: rounds.after_cast(edge, round_id))


@turn_handler()
async def my_ballot_command(turn: Turn) -> None:
    turn.require_member()
    member, t = turn.identity.member, turn.t
    since = turn.services.now() - dt.timedelta(days=RECEIPTS_KEPT_DAYS)
    rows = await service.open_ballots_for(turn.session, member.id)
    voted = await service.receipts_for(turn.session, member.id, since)
    drafts = rounds.drafts(turn.context.user_data)
    ballots = 0
    for row in rows:
        view = await service.round_view(turn.session, row.round_id)
        if row.has_voted or not view.voting:
            continue
        ballots += 1
        draft = drafts.get(row.round_id)
        choices = draft.choices if draft is not None else {}
        positions = [candidate.position for candidate, _member in view.candidates]
        text, markup = views.ballot_screen(
            t, view, choices, rounds.next_position(positions, choices, None)
        )
        await turn.reply(text, reply_markup=markup, durable=False)
    pointers: list[tuple[RoundView, int | None]] = []  # the round, its receipt message
    for round_id in voted:
        row = await service.voter_row(turn.session, round_id, member.id)
        pointers.append((await service.round_view(turn.session, round_id), row.receipt_message_id))
    if not ballots and not pointers:
        raise Refusal("There is no open ballot round for you.")
    if not pointers:
        return
    chat_id, bot = turn.chat_id, turn.context.bot

    async def point() -> None:
        for view, message_id in pointers:
            if message_id is None:
                await bot.send_message(chat_id, views.receipt_pointer(t, view, "coming"))
                continue
            try:
                await bot.send_message(
                    chat_id,
                    views.receipt_pointer(t, view, "here"),
                    reply_parameters=ReplyParameters(message_id),
                )
            except BadRequest:  # the voter deleted the receipt message
                await bot.send_message(chat_id, views.receipt_pointer(t, view, "gone"))

    turn.after_commit(point)


# --- the opening of the box ----------------------------------------------------------------------


@turn_handler(button=views.KeyButton)
async def key_pressed(turn: Turn) -> None:
    t = turn.t
    pressed: views.KeyButton = turn.button
    message = turn.query.message
    if message is None or message.chat.id != turn.query.from_user.id:
        raise Refusal(rounds.NOT_YOUR_KEY)
    turn.require_member()
    member = turn.identity.member
    view = await service.round_view(turn.session, pressed.round_id)
    with _told():
        share = rounds.check_key(
            view, member, pressed.index, pressed.share, pressed.key, views.REDACTED
        )
    press = rounds.take_share(turn.context.application, view, member, share)
    if press.shares is None:
        await turn.answer(views.key_in_text(t, press), alert=True)
        await _tell_secretary_presses(turn, view, press)
        return
    private = service.unlock(view.round, press.shares)
    press.shares.clear()
    if private is None:
        raise Refusal("These keys do not open this ballot box. Press again, each of you.")
    round_id, edge = view.round.id, desk(turn.context.application)
    try:
        with _told():
            result = await service.open_box(
                turn.session, round_id, private, actor=turn.actor, now=turn.services.now()
            )
    finally:
        del private  # the key is forgotten
    for item in await rounds.results_owed(turn.session, edge, result):
        turn.owe(item)  # in the opening's transaction: the results are never lost
    for item in await rounds.breaches_owed(turn.session, edge, view):
        turn.owe(item)  # issue 5: the secretary hears of any breach, in the same transaction
    await turn.answer(t("The ballot box is open."))
    await turn.edit(t("🔓 You opened the ballot box of round {number}.", number=view.round.number))
    turn.after_commit(lambda: rounds.after_opening(edge, round_id, []))


async def _tell_secretary_presses(turn: Turn, view: RoundView, press: rounds.Press) -> None:
    if view.round.chat_id is None:
        return
    account = await service.account(turn.session, view.round.chat_id)
    if account is None:
        return
    st = translator_for(account, turn.services)
    turn.notify(account.telegram_id, views.presses_text(st, view, press))


@turn_handler(button=views.CloseButton, action=Action.RUN_BALLOT, target=scope.round_cell)
async def close_pressed(turn: Turn) -> None:
    t = turn.t
    pressed: views.CloseButton = turn.button
    view = await service.round_view(turn.session, pressed.round_id)
    if pressed.action == "close":
        await _ask_to_close(turn, view)
        return
    # ✅ Confirm: everything is checked again, the message may be old.
    await flows.pressed_at(turn, conversation.ROUND_CLOSE, "confirm", round=view.round.id)
    await flows.finish(turn)
    if not view.voting or not await service.end_voting(
        turn.session, view.round.id, now=turn.services.now()
    ):
        closed = service.round_closed()
        await turn.answer(t(closed.msgid, **closed.params), alert=True)
        await turn.edit(t(closed.msgid, **closed.params))
        return
    await service.reload(turn.session, view.round)
    await turn.answer(t("The round is closed."))
    await turn.edit(t("The round is closed."))
    edge = desk(turn.context.application)
    turn.after_commit(lambda: rounds.announce_end(edge, view))


async def _ask_to_close(turn: Turn, view: RoundView) -> None:
    if not view.voting:
        with _told():
            raise service.round_closed()
    await flows.begin(turn, conversation.ROUND_CLOSE, "confirm", round=view.round.id)
    await turn.answer()
    await flows.ask(
        turn,
        conversation.ROUND_CLOSE,
        views.close_text(turn.t, view),
        reply_markup=views.close_keyboard(turn.t, view),
    )


# --- receipts ------------------------------------------------------------------------------------


@turn_handler()
async def check_receipt_command(turn: Turn) -> None:
    args = turn.context.args or []
    if not args:
        raise Refusal(
            "Send the receipt code after the command, for example: /kiem_tra_phieu ABCDE-12345"
        )
    typed = " ".join(args)[:40]
    check = await service.check_receipt(turn.session, typed)
    await turn.reply(views.receipt_check_text(turn.t, check, typed))


# --- start-up ------------------------------------------------------------------------------------


async def recover(application: Application) -> None:
    """After a crash: half-opened rounds removed, rounds whose voters all cast announced
    (``bot.services.ballot_rounds.recover``)."""
    await rounds.recover(desk(application))


HANDLERS = [
    CommandHandler("hop", meeting_command),
    CommandHandler("bo_phieu", ballot_command),
    CommandHandler("phieu", my_ballot_command),
    CommandHandler("kiem_tra_phieu", check_receipt_command),
    CallbackQueryHandler(meeting_pressed, pattern=views.MeetingButton.pattern()),
    CallbackQueryHandler(open_pressed, pattern=views.OpenButton.pattern()),
    CallbackQueryHandler(close_pressed, pattern=views.CloseButton.pattern()),
    CallbackQueryHandler(vote_pressed, pattern=views.VoteButton.pattern()),
    CallbackQueryHandler(key_pressed, pattern=views.KeyButton.pattern()),
]
