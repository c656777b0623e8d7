"""The meeting and the secret ballot by private message (DOMAIN §7, R-B1..R-B9), with the
sealed ballot box of issue 11 (the design is in ``bot/services/ballot.py``). The screens and
the typed buttons are in ``handlers/views/ballot.py``, the flows (the meeting screen, closing
a round) in ``conversations/ballot.py``, the majority and the other rules in ``rules/ballot.py``.

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
  once per ``PROGRESS_DEBOUNCE_SECONDS``.
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

import datetime as dt
import hashlib
import logging
from types import SimpleNamespace

from telegram import InlineKeyboardMarkup, ReplyParameters
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.context import SERVICES_KEY, BotContext
from bot.delivery import EDIT, Owed, deliver, on_sent
from bot.i18n import N_, Translator
from bot.intake import redact_callbacks
from bot.permissions import Action
from bot.services import ballot as service
from bot.services import ballot_logs
from bot.services.ballot import BallotError, RoundResult, RoundView
from bot.services.ballot_box import Share, key_id
from bot.text import esc
from conversations import ballot as conversation
from conversations import engine as flows
from handlers import plan_checks, scope
from handlers.base import Refusal, Turn, translator_for, turn_handler
from handlers.views import ballot as views
from rules.people import Presence
from storage.models import Meeting, Member, TelegramAccount

log = logging.getLogger(__name__)
ballot_logs.install()

RECEIPT_HOOK = "ballot-receipt"
DRAFTS_KEY = "ballot_drafts"
PROGRESS_DEBOUNCE_SECONDS = 1.0
RECEIPTS_KEPT_DAYS = 60  # /phieu points to receipts of rounds opened this recently

INVALID = N_("This button is no longer valid.")


redact_callbacks(views.VoteButton.PREFIX, views.redact_vote)
redact_callbacks(views.KeyButton.PREFIX, views.redact_key)


@on_sent(RECEIPT_HOOK)
async def _receipt_delivered(session, ref: str, message_id: int) -> None:
    round_id, member_id = (int(part) for part in ref.split(":"))
    await service.record_receipt_message(session, round_id, member_id, message_id)


# --- helpers ---------------------------------------------------------------------------------


def _refusal(error: BallotError) -> Refusal:
    return Refusal(error.msgid, **error.params)


def _today(turn: Turn):
    return turn.services.now().astimezone(turn.services.settings.tz).date()


def _app_context(application: Application) -> SimpleNamespace:
    """What the announcing functions use of a context, outside any update (start-up)."""
    return SimpleNamespace(
        application=application,
        bot=application.bot,
        services=application.bot_data[SERVICES_KEY],
    )


# --- the meeting -------------------------------------------------------------------------------


async def _show_meeting(turn: Turn, meeting: Meeting, *, edit: bool) -> None:
    state = await service.meeting_state(turn.session, meeting, _today(turn))
    open_round = await service.open_round_of(turn.session, meeting.id)
    committee = await service.committee_of(turn.session, state)
    text = views.meeting_text(turn.t, state, open_round, committee)
    markup = views.meeting_keyboard(turn.t, state)
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


@turn_handler(action=Action.RUN_MEETING, target=scope.command_cell)
async def meeting_command(turn: Turn) -> None:
    cell = turn.target
    try:
        meeting = await service.meeting_for_cell(
            turn.session, cell, turn.services.now(), create=True
        )
    except BallotError as error:
        raise _refusal(error) from None
    await _show_meeting(turn, meeting, edit=False)


async def _meeting_of(turn: Turn) -> Meeting:
    meeting = await service.meeting_by_id(turn.session, turn.button.meeting_id)
    if meeting is None:
        raise Refusal(INVALID)
    return meeting


@turn_handler(button=views.MeetingButton, action=Action.RUN_MEETING, target=scope.meeting_cell)
async def meeting_pressed(turn: Turn) -> None:
    pressed: views.MeetingButton = turn.button
    meeting = await _meeting_of(turn)
    try:
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
    except BallotError as error:
        raise _refusal(error) from None
    await _show_meeting(turn, meeting, edit=True)


@turn_handler(button=views.OpenButton, action=Action.RUN_BALLOT, target=scope.meeting_cell)
async def open_pressed(turn: Turn) -> None:
    """Open a round from the meeting screen, for the undecided, or to vote again (R-Q6)."""
    pressed: views.OpenButton = turn.button
    meeting = await _meeting_of(turn)
    if pressed.action == "revote":  # R-Q6: the members whose proposals break a rule
        concerned = await plan_checks.members_to_revote(turn.session, meeting)
        if not concerned:
            raise Refusal("No proposal breaks a rule any more: there is nothing to vote on again.")
        await _open_round(turn, meeting, concerned)
        return
    await _open_round(turn, meeting)


# --- opening a round ---------------------------------------------------------------------------


@turn_handler(action=Action.RUN_BALLOT, target=scope.command_cell)
async def ballot_command(turn: Turn) -> None:
    cell = turn.target
    try:
        meeting = await service.meeting_for_cell(
            turn.session, cell, turn.services.now(), create=False
        )
    except BallotError as error:
        raise _refusal(error) from None
    if meeting is None:
        raise Refusal("Open the meeting with /hop and take the attendance first.")
    await _open_round(turn, meeting)


async def _open_round(turn: Turn, meeting: Meeting, candidate_ids: list[int] | None = None) -> None:
    t = turn.t
    current = await service.open_round_of(turn.session, meeting.id)
    if current is not None:
        if current.state == service.PENDING:
            raise Refusal("The round is being opened; wait a moment.")
        view = await service.round_view(turn.session, current.id)
        await turn.answer(t("Ballot round {number} is open.", number=view.round.number))
        turn.after_commit(lambda: _send_progress(turn.context, turn.chat_id, view.round.id))
        return
    state = await service.meeting_state(turn.session, meeting, _today(turn))
    committee = await service.committee_of(turn.session, state)
    accounts = await service.accounts_of(turn.session, [m.id for m in committee.members])
    missing = [
        (member, views.why_unreachable(t, accounts.get(member.id)))
        for member in committee.members
        if not service.reachable(accounts.get(member.id))
    ]
    if missing:
        await turn.answer()
        await turn.reply(views.replace_tellers_text(t, missing))
        return
    try:
        opened = await service.open_round(
            turn.session,
            state,
            actor=turn.actor,
            now=turn.services.now(),
            candidate_ids=candidate_ids,
        )
    except BallotError as error:
        raise _refusal(error) from None
    holders = [
        (accounts[member.id], member, share)
        for member, share in zip(opened.tellers, opened.shares, strict=True)
    ]
    opened.shares.clear()
    await turn.answer(t("Round {number} is open.", number=opened.round.number))
    context, chat_id, round_id = turn.context, turn.chat_id, opened.round.id
    turn.after_commit(lambda: _hand_out_and_open(context, chat_id, round_id, holders))


async def _hand_out_and_open(
    context: BotContext,
    chat_id: int,
    round_id: int,
    holders: list[tuple[TelegramAccount, Member, Share]],
) -> None:
    """After the round's commit: each share straight to its holder (never stored), then, if
    every one arrived, voting opens; else the round is removed and the secretary told."""
    services = context.services
    async with services.db.session() as session:
        view = await service.round_view(session, round_id)
    sent: list[tuple[int, int]] = []
    missing: list[tuple[Member, str]] = []
    blocked: list[int] = []
    secretary_t = translator_for(await _account(services, chat_id) or holders[0][0], services)
    try:
        for account, member, share in holders:
            holder_t = translator_for(account, services)
            try:
                message = await context.bot.send_message(
                    account.telegram_id,
                    views.share_text(holder_t, view),
                    reply_markup=views.share_keyboard(holder_t, view, share),
                )
                sent.append((account.telegram_id, message.message_id))
            except Forbidden:
                blocked.append(account.telegram_id)
                missing.append((member, secretary_t("has blocked the bot")))
            except TelegramError:
                missing.append((member, secretary_t("cannot be reached on Telegram")))
    finally:
        holders.clear()  # the shares are forgotten
    await service.mark_blocked(services.db, blocked, services.now())
    if missing:
        async with services.db.session() as session:
            await service.void(session, round_id)
        for holder_chat, message_id in sent:  # shares of a box that will never exist
            try:
                await context.bot.delete_message(holder_chat, message_id)
            except TelegramError:
                log.warning("could not delete a share of a round that did not open")
        await _say(context, chat_id, views.replace_tellers_text(secretary_t, missing))
        return
    async with services.db.session() as session:
        await service.activate(session, round_id)
        view = await service.round_view(session, round_id)
        accounts = await service.accounts_of(session, [m.id for m, _voted in view.voters])
    await _send_ballots(context, chat_id, view, accounts, secretary_t)


async def _account(services, telegram_id: int) -> TelegramAccount | None:
    async with services.db.session() as session:
        return await service.account(session, telegram_id)


async def _say(
    context, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None
) -> None:
    services = context.services
    await deliver(context.bot, services.db, Owed.message(chat_id, text, markup), services.now())


async def _send_ballots(
    context: BotContext,
    chat_id: int,
    view: RoundView,
    accounts: dict[int, TelegramAccount],
    t: Translator,
) -> None:
    services = context.services
    unreachable: list[tuple[Member, str]] = []
    blocked: list[int] = []
    for member, _voted in view.voters:
        account = accounts.get(member.id)
        if not service.reachable(account):
            unreachable.append((member, views.why_unreachable(t, account)))
            continue
        voter_t = translator_for(account, services)
        text, markup = views.ballot_screen(voter_t, view, {}, 0)
        try:
            await context.bot.send_message(account.telegram_id, text, reply_markup=markup)
        except Forbidden:
            blocked.append(account.telegram_id)
            unreachable.append((member, t("has blocked the bot")))
        except TelegramError:
            unreachable.append((member, t("cannot be reached on Telegram")))
    await service.mark_blocked(services.db, blocked, services.now())
    await _send_progress(context, chat_id, view.round.id)
    if unreachable:
        lines = [t("I could not send the ballot to {count} voters:", count=len(unreachable))]
        lines += [f"• {esc(member.full_name)}: {reason}" for member, reason in unreachable]
        lines += [
            "",
            t(
                "Send them their invite link (/moi). Once they have started the bot, they send "
                "/phieu to get their ballot."
            ),
        ]
        await _say(context, chat_id, "\n".join(lines))


async def _send_progress(context: BotContext, chat_id: int, round_id: int) -> None:
    """A new round message for the secretary; later progress edits go to it."""
    services = context.services
    async with services.db.session() as session:
        view = await service.round_view(session, round_id)
        account = await service.account(session, chat_id)
    t = translator_for(account, services) if account else Translator("vi")
    text, markup = views.progress_screen(t, view)
    try:
        message = await context.bot.send_message(chat_id, text, reply_markup=markup)
    except TelegramError as error:
        log.warning("could not send the round message: %s", type(error).__name__)
        return
    async with services.db.session() as session:
        shown = _progress_key(view)
        await service.record_round_message(session, round_id, shown, chat_id, message.message_id)


# --- the voter's ballot ---------------------------------------------------------------------


async def _voter_checks(turn: Turn, round_id: int):
    """The press is the presser's own, on a voting round where they still have to vote."""
    message = turn.query.message
    if message is None or message.chat.id != turn.query.from_user.id:
        raise Refusal("This ballot is not yours.")
    member = turn.identity.member
    if member is None:
        raise Refusal("You are not a voter in this ballot round.")
    ballot_round = await service.round_by_id(turn.session, round_id)
    if ballot_round is None or ballot_round.state == service.PENDING:
        raise Refusal(INVALID)
    voter = await service.voter_row(turn.session, round_id, member.id)
    if voter is None:
        raise Refusal("You are not a voter in this ballot round.")
    drafts = turn.context.user_data.setdefault(DRAFTS_KEY, {})
    if voter.has_voted:
        drafts.pop(round_id, None)
        raise _refusal(service.already_voted())
    if ballot_round.state != service.OPEN or ballot_round.ended_at is not None:
        drafts.pop(round_id, None)
        raise _refusal(service.round_closed())
    return member, drafts


async def _show_ballot(turn: Turn, draft: dict, text: str, markup: InlineKeyboardMarkup) -> None:
    """Edit the ballot message, unless this very screen is already shown there."""
    key = hashlib.sha256((text + repr(markup.to_dict())).encode()).hexdigest()
    message_id = turn.query.message.message_id
    if draft["shown"].get(message_id) == key:
        return
    await turn.edit(text, reply_markup=markup, durable=False)  # choices: never stored
    draft["shown"][message_id] = key


@turn_handler(button=views.VoteButton)
async def vote_pressed(turn: Turn) -> None:
    pressed: views.VoteButton = turn.button
    round_id, position, choice = pressed.round_id, pressed.position, pressed.choice
    if (choice == views.CAST) != (position is None):
        raise Refusal(INVALID)
    member, drafts = await _voter_checks(turn, round_id)
    view = await service.round_view(turn.session, round_id)
    positions = [candidate.position for candidate, _member in view.candidates]
    t = turn.t
    lost = round_id not in drafts
    draft = drafts.setdefault(round_id, {"choices": {}, "shown": {}})
    choices: dict[int, str] = draft["choices"]
    lost_note = t(
        "I lost the choices you had not confirmed yet (the bot restarted). Please choose again."
    )
    if choice == views.CAST:
        missing = views.next_position(positions, choices, None)
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
        following = views.next_position(positions, choices, position)
        screen = views.ballot_screen(t, view, choices, following, note=note)
    await _show_ballot(turn, draft, *screen)


async def _cast(turn: Turn, view: RoundView, member: Member, choices: dict[int, str]) -> None:
    """The cast, in the turn's transaction: has_voted, the sealed ballot, its receipt hash and
    the receipt message owed to the voter commit together, or nothing does."""
    t = turn.t
    round_id = view.round.id
    drafts = turn.context.user_data.setdefault(DRAFTS_KEY, {})
    try:
        cast = await service.cast(turn.session, round_id, member.id, choices)
    except BallotError as error:
        drafts.pop(round_id, None)
        raise _refusal(error) from None
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
    context = turn.context
    turn.after_commit(lambda: after_cast(context, round_id))


async def after_cast(context: BotContext, round_id: int) -> None:
    """After a cast was committed and its receipt delivered: empty the WAL (the outbox row
    carried the receipt), then end the voting if everyone has voted."""
    services = context.services
    await service.checkpoint(services.db)
    async with services.db.session() as session:
        done = await service.all_voted(session, round_id)
    if done:
        await end_and_announce(context, round_id)
    else:
        schedule_progress(context, round_id)


@turn_handler()
async def my_ballot_command(turn: Turn) -> None:
    turn.require_member()
    member, t = turn.identity.member, turn.t
    since = turn.services.now() - dt.timedelta(days=RECEIPTS_KEPT_DAYS)
    rows = await service.open_ballots_for(turn.session, member.id)
    voted = await service.receipts_for(turn.session, member.id, since)
    drafts = turn.context.user_data.setdefault(DRAFTS_KEY, {})
    pointers: list[tuple[str, int | None]] = []  # (already voted in ..., receipt message)
    ballots = 0
    for row in rows:
        view = await service.round_view(turn.session, row.round_id)
        if row.has_voted or not view.voting:
            continue
        ballots += 1
        choices = drafts.get(row.round_id, {}).get("choices", {})
        positions = [candidate.position for candidate, _member in view.candidates]
        text, markup = views.ballot_screen(
            t, view, choices, views.next_position(positions, choices, None)
        )
        await turn.reply(text, reply_markup=markup, durable=False)
    for round_id in voted:
        view = await service.round_view(turn.session, round_id)
        row = await service.voter_row(turn.session, round_id, member.id)
        said = t(
            "You have already voted in round {number} of {org}.",
            number=view.round.number,
            org=esc(view.cell.name),
        )
        pointers.append((said, row.receipt_message_id))
    if not ballots and not pointers:
        raise Refusal("There is no open ballot round for you.")
    if not pointers:
        return
    chat_id, bot = turn.chat_id, turn.context.bot
    here = t("Your receipt code is in the message this one answers.")
    coming = t("Your receipt is on its way; it comes in a message of its own.")
    gone = t("The message with your receipt code was deleted; I cannot show it again.")

    async def point() -> None:
        for said, message_id in pointers:
            if message_id is None:
                await bot.send_message(chat_id, f"{said} {coming}")
                continue
            try:
                await bot.send_message(
                    chat_id, f"{said} {here}", reply_parameters=ReplyParameters(message_id)
                )
            except BadRequest:  # the voter deleted the receipt message
                await bot.send_message(chat_id, f"{said} {gone}")

    turn.after_commit(point)


# --- the secretary's round message ---------------------------------------------------------------


def _progress_key(view: RoundView) -> str:
    phase = "sealed" if view.sealed else view.round.state
    return f"{phase}:{view.voted}"


def schedule_progress(context: BotContext, round_id: int) -> None:
    """Edit the secretary's round message soon: at most one edit per debounce period."""
    queue = context.application.job_queue
    if queue is None:
        context.application.create_task(update_progress(context, round_id))
        return
    name = f"ballot-progress-{round_id}"
    if queue.get_jobs_by_name(name):
        return
    queue.run_once(_progress_job, PROGRESS_DEBOUNCE_SECONDS, data=round_id, name=name)


async def _progress_job(context: BotContext) -> None:
    await update_progress(context, context.job.data)


async def update_progress(context: BotContext, round_id: int) -> None:
    """Edit the round message if what it shows changed; one at a time per round."""
    async with service.PROGRESS_LOCKS.hold(round_id):
        await _update_progress(context, round_id)


async def _update_progress(context: BotContext, round_id: int) -> None:
    services = context.services
    async with services.db.session() as session:
        view = await service.round_view(session, round_id)
        if view is None or view.round.chat_id is None or view.round.message_id is None:
            return
        key = _progress_key(view)
        if key == view.round.progress_shown:
            return  # Telegram refuses an edit that changes nothing
        account = await service.account(session, view.round.chat_id)
    text, markup = views.progress_screen(translator_for(account, services), view)
    try:
        await context.bot.edit_message_text(
            text, chat_id=view.round.chat_id, message_id=view.round.message_id, reply_markup=markup
        )
    except TelegramError as error:
        log.warning("could not update the progress of ballot round %s: %s", round_id, error)
        return
    async with services.db.session() as session:
        await service.record_round_message(session, round_id, key, None, None)


def _stop_progress_jobs(context: BotContext, round_id: int) -> None:
    queue = context.application.job_queue
    if queue is not None:
        for job in queue.get_jobs_by_name(f"ballot-progress-{round_id}"):
            job.schedule_removal()


# --- the end of voting and the opening of the box ------------------------------------------------


async def end_and_announce(context: BotContext, round_id: int) -> None:
    """End the voting (if not yet ended), edit the round message and call the committee."""
    services = context.services
    async with services.db.session() as session:
        ended = await service.end_voting(session, round_id, now=services.now())
        view = await service.round_view(session, round_id)
    if not ended:
        return  # someone else ended it at the same moment
    await announce_end(context, view)


async def announce_end(context: BotContext, view: RoundView) -> None:
    services = context.services
    round_id = view.round.id
    for data in context.application.user_data.values():
        data.get(DRAFTS_KEY, {}).pop(round_id, None)
    _stop_progress_jobs(context, round_id)
    if view.round.public_key is None:  # a round opened before the sealed box: counts stored
        async with services.db.session() as session:
            result = await service.open_box(
                session, round_id, None, actor="auto", now=services.now()
            )
            owed = await _results_owed(session, services, result)
            owed += await plan_checks.breaches_owed(session, services, round_id)
        await _after_opening(context, round_id, owed)
        return
    await update_progress(context, round_id)
    async with services.db.session() as session:
        accounts = await service.accounts_of(session, [m.id for m in view.tellers])
    for member in view.tellers:
        account = accounts.get(member.id)
        if not service.reachable(account):
            continue
        t = translator_for(account, services)
        await _say(
            context,
            account.telegram_id,
            t(
                "Voting has ended in round {number} of {org}. As a member of the counting "
                'committee, press "🔓 Mở hòm phiếu" on the message with your key share: the box '
                "opens when {k} of {n} have pressed.",
                number=view.round.number,
                org=esc(view.cell.name),
                k=view.round.threshold,
                n=len(view.tellers),
            ),
        )


# Shares pressed so far, per round, in the running application's memory only (never stored):
# a restart loses them and the committee presses again (the buttons stay in their chats).
SHARES_KEY = "ballot_shares"


def _pressed_shares(application: Application) -> dict[int, dict[int, Share]]:
    return application.bot_data.setdefault(SHARES_KEY, {})


@turn_handler(button=views.KeyButton)
async def key_pressed(turn: Turn) -> None:
    t = turn.t
    pressed: views.KeyButton = turn.button
    round_id = pressed.round_id
    message = turn.query.message
    if message is None or message.chat.id != turn.query.from_user.id:
        raise Refusal("This key is not yours.")
    turn.require_member()
    member = turn.identity.member
    view = await service.round_view(turn.session, round_id)
    if view is None or view.round.state == service.PENDING or view.round.public_key is None:
        raise Refusal(INVALID)
    if member.id not in {m.id for m in view.tellers}:
        raise Refusal("This key is not yours.")
    if view.round.state == service.CLOSED:
        raise Refusal("The ballot box of this round is already open.")
    if view.voting:
        raise Refusal(
            "Voting is still going on. Press this button again after it ends; keep the message."
        )
    if pressed.share == views.REDACTED:  # stored before a restart, with the share cut out
        raise Refusal("The bot restarted before it could use your press: please press again.")
    share = Share.decode(pressed.index, pressed.share)
    if share is None or pressed.key != key_id(view.round.public_key):
        raise Refusal(INVALID)
    memory = _pressed_shares(turn.context.application)
    pressed = memory.setdefault(round_id, {})
    pressed[member.id] = share
    threshold = view.round.threshold or 1
    if len(pressed) < threshold:
        waiting = [m for m in view.tellers if m.id not in pressed]
        await turn.answer(
            t(
                "Your key is in. {count} of {k} needed; waiting for: {names}.",
                count=len(pressed),
                k=threshold,
                names=views.names(waiting, t),
            ),
            alert=True,
        )
        await _tell_secretary_presses(turn, view, pressed, threshold)
        return
    shares = list(memory.pop(round_id).values())
    private = service.unlock(view.round, shares)
    shares.clear()
    if private is None:
        raise Refusal("These keys do not open this ballot box. Press again, each of you.")
    try:
        result = await service.open_box(
            turn.session, round_id, private, actor=turn.actor, now=turn.services.now()
        )
    except BallotError as error:
        raise _refusal(error) from None
    finally:
        del private  # the key is forgotten
    for item in await _results_owed(turn.session, turn.services, result):
        turn.owe(item)  # in the opening's transaction: the results are never lost
    for item in await plan_checks.breaches_owed(turn.session, turn.services, round_id):
        turn.owe(item)  # issue 5: the secretary hears of any breach, in the same transaction
    await turn.answer(t("The ballot box is open."))
    await turn.edit(t("🔓 You opened the ballot box of round {number}.", number=view.round.number))
    context = turn.context
    turn.after_commit(lambda: _after_opening(context, round_id, []))


async def _tell_secretary_presses(
    turn: Turn, view: RoundView, pressed: dict[int, Share], threshold: int
) -> None:
    if view.round.chat_id is None:
        return
    account = await service.account(turn.session, view.round.chat_id)
    if account is None:
        return
    t = translator_for(account, turn.services)
    waiting = [m for m in view.tellers if m.id not in pressed]
    turn.notify(
        account.telegram_id,
        t(
            "Ballot box of round {number}: {count} of the {k} presses needed; not pressed yet: "
            "{names}.",
            number=view.round.number,
            count=len(pressed),
            k=threshold,
            names=views.names(waiting, t),
        ),
    )


async def _results_owed(session, services, result: RoundResult) -> list[Owed]:
    """The results for the secretary and every voter, with the published receipts."""
    voter_ids = [member.id for member, _voted in result.view.voters]
    accounts = await service.accounts_of(session, voter_ids)
    secretary = (
        await service.account(session, result.view.round.chat_id)
        if result.view.round.chat_id
        else None
    )
    owed: list[Owed] = []
    seen: set[int] = set()
    if secretary is not None:
        t = translator_for(secretary, services)
        markup = views.results_keyboard(t, result)
        owed.append(Owed.message(secretary.telegram_id, views.results_text(t, result), markup))
        owed += _receipts_owed(t, secretary.telegram_id, result)
        seen.add(secretary.telegram_id)
    for account in accounts.values():
        if account.telegram_id in seen or not service.reachable(account):
            continue
        t = translator_for(account, services)
        owed.append(Owed.message(account.telegram_id, views.results_text(t, result)))
        owed += _receipts_owed(t, account.telegram_id, result)
        seen.add(account.telegram_id)
    return owed


def _receipts_owed(t: Translator, chat_id: int, result: RoundResult) -> list[Owed]:
    text = views.receipts_text(t, result)
    return [Owed.message(chat_id, text)] if text else []


async def _after_opening(context: BotContext, round_id: int, owed: list[Owed]) -> None:
    """After the box was opened and the counts committed: wipe the deleted sealed ballots,
    edit the round message, send the results, check the proposals."""
    services = context.services
    _pressed_shares(context.application).pop(round_id, None)
    await service.purge(services.db)
    _stop_progress_jobs(context, round_id)
    await update_progress(context, round_id)
    for item in owed:
        await deliver(context.bot, services.db, item, services.now())
    # Issue 5: the breaches of the proposals were owed with the results (breaches_owed).


@turn_handler(button=views.CloseButton, action=Action.RUN_BALLOT, target=scope.round_cell)
async def close_pressed(turn: Turn) -> None:
    t = turn.t
    pressed: views.CloseButton = turn.button
    view = await service.round_view(turn.session, pressed.round_id)
    if pressed.action == "close":
        await _ask_to_close(turn, view)
        return
    # ✅ Confirm: everything is checked again, the message may be old.
    if await conversation.closing(turn, view.round.id) is None:
        await turn.edit_keyboard(None)
        await turn.answer(t(INVALID), alert=True)
        return
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
    context = turn.context
    turn.after_commit(lambda: announce_end(context, view))


async def _ask_to_close(turn: Turn, view: RoundView) -> None:
    if not view.voting:
        raise _refusal(service.round_closed())
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
    t = turn.t
    args = turn.context.args or []
    if not args:
        raise Refusal(
            "Send the receipt code after the command, for example: /kiem_tra_phieu ABCDE-12345"
        )
    typed = " ".join(args)[:40]
    check = await service.check_receipt(turn.session, typed)
    shown = esc(typed)
    if not check.found:
        await turn.reply(
            t(
                "No ballot has the receipt code {code}. Check that you copied it exactly.",
                code=f"<code>{shown}</code>",
            )
        )
    elif not check.counted:
        await turn.reply(
            t(
                "The ballot with the receipt code {code} is sealed in the ballot box of round "
                "{number} of {org}, which is not opened yet. Check again after it is.",
                code=f"<code>{shown}</code>",
                number=check.round.number,
                org=esc(check.cell.name),
            )
        )
    else:
        await turn.reply(
            t(
                "The ballot with the receipt code {code} was counted in round {number} of {org}. "
                "The code says nothing about the choices on it.",
                code=f"<code>{shown}</code>",
                number=check.round.number,
                org=esc(check.cell.name),
            )
        )


# --- start-up ------------------------------------------------------------------------------------


async def recover(application: Application) -> None:
    """After a crash: rounds left half-opened are removed (their shares may be lost; the
    secretary opens the round again), and rounds whose voters have all cast have their voting
    ended and announced, so the committee can open the box."""
    context = _app_context(application)
    services = context.services
    async with services.db.session() as session:
        found = await service.recover(session, services.now())
        ended = [await service.round_view(session, round_id) for round_id in found.ended]
        voided = []
        for ballot_round in found.voided:
            chat = ballot_round.opened_by.removeprefix("tg:")
            account = await service.account(session, int(chat)) if chat.isdigit() else None
            if account is not None:
                voided.append((account, ballot_round.number))
    for account, number in voided:
        t = translator_for(account, services)
        await _say(
            context,
            account.telegram_id,
            t(
                "Ballot round {number} did not open: the bot restarted while it was handing "
                "out the keys of the ballot box. Open it again with /bo_phieu.",
                number=number,
            ),
        )
    for view in ended:
        log.info("start-up: voting of ballot round %s ended, every voter had cast", view.round.id)
        await announce_end(context, view)


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
