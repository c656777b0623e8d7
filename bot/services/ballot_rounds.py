"""A ballot round's messages outside the turns that press its buttons (issue 11; the ballot
box itself is ``bot.services.ballot``): handing the key shares to the counting committee,
sending the ballots, the secretary's round message and its edits, the end of voting and the
call to the committee, the results after the opening, and what a crash left at start-up.

Everything here runs after the commit that made it owed, never with a transaction open
across a Telegram call. Two things are sent straight to Telegram and never stored: the key
shares (inside their "🔓 Mở hòm phiếu" buttons) and the ballots (whose later screens carry
the choices); the rest goes through ``bot.delivery.deliver``. What is said comes from the
Telegram edge's screens (``Screens``: ``handlers/views/ballot.py``), each in its reader's
language.

What lives only in the running process's memory, never in the database (R-B6): a voter's
choices before they confirm (``Draft``, per user) and the key shares pressed so far (per
round); a restart loses them, and the voter chooses again or the committee presses again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot
from telegram import InlineKeyboardMarkup
from telegram.error import Forbidden
from telegram.error import TelegramError
from telegram.ext import Application
from telegram.ext import CallbackContext

from bot.context import SERVICES_KEY
from bot.delivery import KEYBOARD
from bot.delivery import Owed
from bot.delivery import deliver
from bot.i18n import N_
from bot.i18n import Translator
from bot.services import Services
from bot.services import ballot as service
from bot.services import unit_ballot
from bot.services import unit_meeting
from bot.services.accounts import translator_of
from bot.services.ballot import BallotError
from bot.services.ballot import RoundResult
from bot.services.ballot import RoundView
from bot.services.ballot_box import Share
from bot.services.ballot_box import key_id
from storage.models import BallotRound
from storage.models import Meeting
from storage.models import Member
from storage.models import TelegramAccount

log = logging.getLogger(__name__)

DRAFTS_KEY = "ballot_drafts"  # user_data: round id -> Draft
SHARES_KEY = "ballot_shares"  # bot_data: round id -> {member id: Share}
PROGRESS_DEBOUNCE_SECONDS = 1.0

# Refusals said in more than one place (the others are where they are raised).
STALE = N_("This button is no longer valid.")
NOT_A_VOTER = N_("You are not a voter in this ballot round.")
NOT_YOUR_KEY = N_("This key is not yours.")


class Screens(Protocol):
    """What the round's messages say (handlers/views/ballot.py): pure functions of a
    translator and the service's views."""

    def share_text(self, t: Translator, view: RoundView) -> str: ...
    def share_keyboard(self, t: Translator, view: RoundView, share: Share) -> InlineKeyboardMarkup: ...
    def ballot_screen(
        self, t: Translator, view: RoundView, choices: dict[int, str], position: int | None
    ) -> tuple[str, InlineKeyboardMarkup]: ...
    def progress_screen(
        self, t: Translator, view: RoundView
    ) -> tuple[str, InlineKeyboardMarkup | None]: ...
    def undelivered(self, t: Translator, blocked: bool) -> str: ...
    def why_unreachable(self, t: Translator, account: TelegramAccount | None) -> str: ...
    def replace_tellers_text(self, t: Translator, missing: list[tuple[Member, str]]) -> str: ...
    def unreachable_voters_text(self, t: Translator, missing: list[tuple[Member, str]]) -> str: ...
    def box_call_text(self, t: Translator, view: RoundView) -> str: ...
    def results_text(self, t: Translator, result: RoundResult) -> str: ...
    def results_keyboard(self, t: Translator, result: RoundResult) -> InlineKeyboardMarkup | None: ...
    def receipts_text(self, t: Translator, result: RoundResult) -> str | None: ...
    def not_opened_text(self, t: Translator, number: int) -> str: ...


class Breaches(Protocol):
    """What the proposals of an opened round break, owed to the secretary in the opening's
    transaction (handlers/plan_checks.py)."""

    async def __call__(self, session, services: Services, round_id: int) -> list[Owed]: ...


@dataclass(frozen=True)
class Desk:
    """The running application (its bot, job queue and memory), the screens and the breach
    checks after an opening: what a round's messages need outside a turn."""

    application: Application
    screens: Screens
    breaches: Breaches

    @property
    def bot(self) -> Bot:
        return self.application.bot

    @property
    def services(self) -> Services:
        return self.application.bot_data[SERVICES_KEY]

    def reader(self, account: TelegramAccount) -> Translator:
        return translator_of(account, self.services.settings)

    async def say(self, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
        services = self.services
        await deliver(self.bot, services.db, Owed.message(chat_id, text, markup), services.now())


# --- what a new round votes on ------------------------------------------------------------------


@dataclass(frozen=True)
class Subjects:
    """What a new round votes on: the members (`reviews` None), or in a round of kind "units"
    the collectives' reviews (issue 14); `waits` is the meeting's order instead when the members'
    ballot must wait for the collectives (R-D3), and no round opens."""

    reviews: list[int] | None = None
    waits: unit_meeting.MeetingOrder | None = None


async def subjects_of(
    session: AsyncSession, meeting: Meeting, today: dt.date, *, units: bool
) -> Subjects:
    """The subjects of the meeting's next round; unit_ballot.UnitRefusal when there is none to
    vote on (no collective left to rate; no member rated at a đảng bộ's committee meeting)."""
    if units:
        return Subjects(reviews=await unit_ballot.review_ids_to_rate(session, meeting, today))
    return Subjects(waits=await unit_meeting.ballot_waits(session, meeting, today))


async def breaches_owed(session: AsyncSession, desk: Desk, view: RoundView) -> list[Owed]:
    """What the proposals of an opened round break, owed with the opening: the members' checks
    (a units round's are the decision's, issue 14 part C)."""
    if view.round.kind == unit_ballot.UNITS:
        return []
    return await desk.breaches(session, desk.services, view.round.id)


# --- opening a round: the shares, then the ballots ---------------------------------------------


@dataclass
class Holder:
    """A committee member and their share of the round's key, in memory until sent."""

    account: TelegramAccount
    member: Member
    share: Share


def holders_of(
    opened: service.OpenedRound, accounts: dict[int, TelegramAccount]
) -> list[Holder]:
    """Each committee member's share, taken out of `opened` (which forgets them)."""
    holders = [
        Holder(accounts[member.id], member, share)
        for member, share in zip(opened.tellers, opened.shares, strict=True)
    ]
    opened.shares.clear()
    return holders


def unreachable_tellers(
    committee: service.Committee, accounts: dict[int, TelegramAccount]
) -> list[tuple[Member, TelegramAccount | None]]:
    """The committee members a share could not be given to: the round must not open."""
    return [
        (member, accounts.get(member.id))
        for member in committee.members
        if not service.reachable(accounts.get(member.id))
    ]


async def hand_out_and_open(
    desk: Desk,
    chat_id: int,
    round_id: int,
    holders: list[Holder],
    *,
    spent: Owed | None = None,
) -> None:
    """After the round's commit: each share straight to its holder (never stored), then, if
    every one arrived, voting opens and `spent` (the keyboard edit that takes the button that
    asked for the round off its message) is delivered; else the round is removed and the
    secretary told (and the button stays, to ask again)."""
    services, screens = desk.services, desk.screens
    async with services.db.session() as session:
        view = await service.round_view(session, round_id)
        secretary = await service.account(session, chat_id)
    secretary_t = desk.reader(secretary or holders[0].account)
    sent: list[tuple[int, int]] = []
    missing: list[tuple[Member, str]] = []
    blocked: list[int] = []
    try:
        for holder in holders:
            holder_t = desk.reader(holder.account)
            try:
                message = await desk.bot.send_message(
                    holder.account.telegram_id,
                    screens.share_text(holder_t, view),
                    reply_markup=screens.share_keyboard(holder_t, view, holder.share),
                )
                sent.append((holder.account.telegram_id, message.message_id))
            except Forbidden:
                blocked.append(holder.account.telegram_id)
                missing.append((holder.member, screens.undelivered(secretary_t, True)))
            except TelegramError:
                missing.append((holder.member, screens.undelivered(secretary_t, False)))
    finally:
        holders.clear()  # the shares are forgotten
    await service.mark_blocked(services.db, blocked, services.now())
    if missing:
        async with services.db.session() as session:
            await service.void(session, round_id)
        for holder_chat, message_id in sent:  # shares of a box that will never exist
            try:
                await desk.bot.delete_message(holder_chat, message_id)
            except TelegramError:
                log.warning("could not delete a share of a round that did not open")
        await desk.say(chat_id, screens.replace_tellers_text(secretary_t, missing))
        return
    async with services.db.session() as session:
        await service.activate(session, round_id)
        view = await service.round_view(session, round_id)
        accounts = await service.accounts_of(session, [m.id for m, _voted in view.voters])
    if spent is not None:
        await deliver(desk.bot, services.db, spent, services.now())
    await send_ballots(desk, chat_id, view, accounts, secretary_t)


def without_button(
    markup: InlineKeyboardMarkup | None, data: str | None
) -> InlineKeyboardMarkup | None:
    """`markup` less the button whose callback data is `data` (None when nothing is left)."""
    if markup is None:
        return None
    rows = [
        [button for button in row if button.callback_data != data]
        for row in markup.inline_keyboard
    ]
    rows = [row for row in rows if row]
    return InlineKeyboardMarkup(rows) if rows else None


def spent_button(
    chat_id: int, message_id: int, markup: InlineKeyboardMarkup | None, data: str | None
) -> Owed | None:
    """The keyboard edit that takes a used button off its message; None when the keyboard is
    not known (a press replayed after a restart is stored without it) or has no such button
    (Telegram refuses an edit that changes nothing)."""
    if markup is None:
        return None
    remaining = without_button(markup, data)
    if remaining == markup:
        return None
    return Owed.message(chat_id, "", remaining, kind=KEYBOARD, message_id=message_id)


async def send_ballots(
    desk: Desk,
    chat_id: int,
    view: RoundView,
    accounts: dict[int, TelegramAccount],
    t: Translator,
) -> None:
    """Each voter's ballot, straight to Telegram (its later screens carry choices), then the
    secretary's round message, and whom the ballot did not reach."""
    services, screens = desk.services, desk.screens
    unreachable: list[tuple[Member, str]] = []
    blocked: list[int] = []
    for member, _voted in view.voters:
        account = accounts.get(member.id)
        if not service.reachable(account):
            unreachable.append((member, screens.why_unreachable(t, account)))
            continue
        voter_t = desk.reader(account)
        text, markup = screens.ballot_screen(voter_t, view, {}, 0)
        try:
            await desk.bot.send_message(account.telegram_id, text, reply_markup=markup)
        except Forbidden:
            blocked.append(account.telegram_id)
            unreachable.append((member, screens.undelivered(t, True)))
        except TelegramError:
            unreachable.append((member, screens.undelivered(t, False)))
    await service.mark_blocked(services.db, blocked, services.now())
    await send_progress(desk, chat_id, view.round.id)
    if unreachable:
        await desk.say(chat_id, screens.unreachable_voters_text(t, unreachable))


# --- the secretary's round message ---------------------------------------------------------------


def progress_key(view: RoundView) -> str:
    """What the round message shows, so that an edit that would change nothing is not made."""
    phase = "sealed" if view.sealed else view.round.state
    return f"{phase}:{view.voted}"


async def send_progress(desk: Desk, chat_id: int, round_id: int) -> None:
    """A new round message for the secretary; later progress edits go to it."""
    services = desk.services
    async with services.db.session() as session:
        view = await service.round_view(session, round_id)
        account = await service.account(session, chat_id)
    t = desk.reader(account) if account else Translator("vi")
    text, markup = desk.screens.progress_screen(t, view)
    try:
        message = await desk.bot.send_message(chat_id, text, reply_markup=markup)
    except TelegramError as error:
        log.warning("could not send the round message: %s", type(error).__name__)
        return
    async with services.db.session() as session:
        await service.record_round_message(
            session, round_id, progress_key(view), chat_id, message.message_id
        )


def _job_name(round_id: int) -> str:
    return f"ballot-progress-{round_id}"


def schedule_progress(desk: Desk, round_id: int) -> None:
    """Edit the secretary's round message soon: at most one edit per debounce period."""
    queue = desk.application.job_queue
    if queue is None:
        desk.application.create_task(update_progress(desk, round_id))
        return
    if queue.get_jobs_by_name(_job_name(round_id)):
        return

    async def job(_context: CallbackContext) -> None:
        await update_progress(desk, round_id)

    queue.run_once(job, PROGRESS_DEBOUNCE_SECONDS, name=_job_name(round_id))


def _stop_progress_jobs(desk: Desk, round_id: int) -> None:
    queue = desk.application.job_queue
    if queue is not None:
        for job in queue.get_jobs_by_name(_job_name(round_id)):
            job.schedule_removal()


async def update_progress(desk: Desk, round_id: int) -> None:
    """Edit the round message if what it shows changed; one at a time per round."""
    async with service.PROGRESS_LOCKS.hold(round_id):
        await _update_progress(desk, round_id)


async def _update_progress(desk: Desk, round_id: int) -> None:
    services = desk.services
    async with services.db.session() as session:
        view = await service.round_view(session, round_id)
        if view is None or view.round.chat_id is None or view.round.message_id is None:
            return
        key = progress_key(view)
        if key == view.round.progress_shown:
            return  # Telegram refuses an edit that changes nothing
        account = await service.account(session, view.round.chat_id)
    text, markup = desk.screens.progress_screen(desk.reader(account), view)
    try:
        await desk.bot.edit_message_text(
            text, chat_id=view.round.chat_id, message_id=view.round.message_id, reply_markup=markup
        )
    except TelegramError as error:
        log.warning("could not update the progress of ballot round %s: %s", round_id, error)
        return
    async with services.db.session() as session:
        await service.record_round_message(session, round_id, key, None, None)


# --- the voter's choices, in memory only -------------------------------------------------------


@dataclass
class Draft:
    """A voter's choices before they confirm (position -> choice), and the screen shown on
    each ballot message (a digest), so that a press that changes nothing edits nothing."""

    choices: dict[int, str] = field(default_factory=dict)
    shown: dict[int, str] = field(default_factory=dict)


def drafts(user_data: dict) -> dict[int, Draft]:
    """One user's drafts, by round."""
    return user_data.setdefault(DRAFTS_KEY, {})


def _forget_drafts(desk: Desk, round_id: int) -> None:
    for data in desk.application.user_data.values():
        data.get(DRAFTS_KEY, {}).pop(round_id, None)


async def check_voter(session, round_id: int, member: Member | None, user_data: dict) -> None:
    """The presser is a voter of a round that is voting, and has not voted yet (BallotError
    otherwise; a draft of a round they can no longer vote in is forgotten)."""
    if member is None:
        raise BallotError(NOT_A_VOTER)
    ballot_round = await service.round_by_id(session, round_id)
    if ballot_round is None or ballot_round.state == service.PENDING:
        raise BallotError(STALE)
    voter = await service.voter_row(session, round_id, member.id)
    if voter is None:
        raise BallotError(NOT_A_VOTER)
    if voter.has_voted:
        drafts(user_data).pop(round_id, None)
        raise service.already_voted()
    if ballot_round.state != service.OPEN or ballot_round.ended_at is not None:
        drafts(user_data).pop(round_id, None)
        raise service.round_closed()


def next_position(positions: Sequence[int], choices: dict[int, str], after: int | None) -> int | None:
    """The next candidate without a choice after `after` (or the first), None when all have one."""
    missing = [p for p in positions if p not in choices]
    if not missing:
        return None
    later = [p for p in missing if after is not None and p > after]
    return later[0] if later else missing[0]


async def after_cast(desk: Desk, round_id: int) -> None:
    """After a cast was committed and its receipt delivered: empty the WAL (the outbox row
    carried the receipt), then end the voting if everyone has voted."""
    services = desk.services
    await service.checkpoint(services.db)
    async with services.db.session() as session:
        done = await service.all_voted(session, round_id)
    if done:
        await end_and_announce(desk, round_id)
    else:
        schedule_progress(desk, round_id)


# --- the end of voting and the opening of the box ------------------------------------------------


async def end_and_announce(desk: Desk, round_id: int) -> None:
    """End the voting (if not yet ended), edit the round message and call the committee."""
    services = desk.services
    async with services.db.session() as session:
        ended = await service.end_voting(session, round_id, now=services.now())
        view = await service.round_view(session, round_id)
    if not ended:
        return  # someone else ended it at the same moment
    await announce_end(desk, view)


async def announce_end(desk: Desk, view: RoundView) -> None:
    """Voting has ended: the drafts go, the round message says so, and each member of the
    counting committee is called to press their key. A round opened before the sealed box
    (counts stored) is opened at once, its results and breaches owed with the opening."""
    services = desk.services
    round_id = view.round.id
    _forget_drafts(desk, round_id)
    _stop_progress_jobs(desk, round_id)
    if view.round.public_key is None:
        async with services.db.session() as session:
            result = await service.open_box(
                session, round_id, None, actor="auto", now=services.now()
            )
            owed = await results_owed(session, desk, result)
            owed += await breaches_owed(session, desk, view)
        await after_opening(desk, round_id, owed)
        return
    await update_progress(desk, round_id)
    async with services.db.session() as session:
        accounts = await service.accounts_of(session, [m.id for m in view.tellers])
    for member in view.tellers:
        account = accounts.get(member.id)
        if service.reachable(account):
            await desk.say(account.telegram_id, desk.screens.box_call_text(desk.reader(account), view))


def pressed_shares(application: Application) -> dict[int, dict[int, Share]]:
    """The shares pressed so far, per round (memory only: a restart loses them, and the
    committee presses again; the buttons stay in their chats)."""
    return application.bot_data.setdefault(SHARES_KEY, {})


@dataclass
class Press:
    """A committee member's key pressed: the shares in so far and who is still awaited, or
    (`shares`) the k shares that unlock the box, taken out of memory."""

    count: int
    threshold: int
    waiting: list[Member]
    shares: list[Share] | None = None


def check_key(view: RoundView | None, member: Member, index: int, share: str, key: str,
              redacted: str) -> Share:
    """The share a committee member pressed, for a round whose box waits for it (BallotError
    otherwise, with the reason)."""
    if view is None or view.round.state == service.PENDING or view.round.public_key is None:
        raise BallotError(STALE)
    if member.id not in {m.id for m in view.tellers}:
        raise BallotError(NOT_YOUR_KEY)
    if view.round.state == service.CLOSED:
        raise BallotError(N_("The ballot box of this round is already open."))
    if view.voting:
        raise BallotError(
            N_("Voting is still going on. Press this button again after it ends; keep the message.")
        )
    if share == redacted:  # stored before a restart, with the share cut out
        raise BallotError(
            N_("The bot restarted before it could use your press: please press again.")
        )
    found = Share.decode(index, share)
    if found is None or key != key_id(view.round.public_key):
        raise BallotError(STALE)
    return found


def take_share(application: Application, view: RoundView, member: Member, share: Share) -> Press:
    """Keep the pressed share in memory; once k are in, they leave memory with the result."""
    memory = pressed_shares(application)
    pressed = memory.setdefault(view.round.id, {})
    pressed[member.id] = share
    threshold = view.round.threshold or 1
    waiting = [m for m in view.tellers if m.id not in pressed]
    if len(pressed) < threshold:
        return Press(len(pressed), threshold, waiting)
    return Press(len(pressed), threshold, waiting, list(memory.pop(view.round.id).values()))


async def results_owed(session, desk: Desk, result: RoundResult) -> list[Owed]:
    """The results for the secretary (with the button for another round on the undecided)
    and every voter, each followed by the published receipts."""
    screens = desk.screens
    voter_ids = [member.id for member, _voted in result.view.voters]
    accounts = await service.accounts_of(session, voter_ids)
    chat_id = result.view.round.chat_id
    secretary = await service.account(session, chat_id) if chat_id else None
    owed: list[Owed] = []
    seen: set[int] = set()
    readers = [(secretary, True)] if secretary is not None else []
    readers += [(account, False) for account in accounts.values() if service.reachable(account)]
    for account, runs_it in readers:
        if account.telegram_id in seen:
            continue
        seen.add(account.telegram_id)
        t = desk.reader(account)
        markup = screens.results_keyboard(t, result) if runs_it else None
        owed.append(Owed.message(account.telegram_id, screens.results_text(t, result), markup))
        receipts = screens.receipts_text(t, result)
        if receipts:
            owed.append(Owed.message(account.telegram_id, receipts))
    return owed


async def after_opening(desk: Desk, round_id: int, owed: list[Owed]) -> None:
    """After the box was opened and the counts committed: wipe the deleted sealed ballots,
    edit the round message, send what is owed (when it was not owed in the outbox)."""
    services = desk.services
    pressed_shares(desk.application).pop(round_id, None)
    await service.purge(services.db)
    _stop_progress_jobs(desk, round_id)
    await update_progress(desk, round_id)
    for item in owed:
        await deliver(desk.bot, services.db, item, services.now())


# --- start-up ------------------------------------------------------------------------------------


async def recover(desk: Desk) -> None:
    """After a crash: rounds left half-opened are removed (their shares may be lost; the
    secretary opens the round again), and rounds whose voters have all cast have their voting
    ended and announced, so the committee can open the box."""
    services = desk.services
    async with services.db.session() as session:
        found = await service.recover(session, services.now())
        ended = [await service.round_view(session, round_id) for round_id in found.ended]
        voided = []
        for ballot_round in found.voided:
            account = await _opener(session, ballot_round)
            if account is not None:
                voided.append((account, ballot_round.number))
    for account, number in voided:
        await desk.say(account.telegram_id, desk.screens.not_opened_text(desk.reader(account), number))
    for view in ended:
        log.info("start-up: voting of ballot round %s ended, every voter had cast", view.round.id)
        await announce_end(desk, view)


async def _opener(session, ballot_round: BallotRound) -> TelegramAccount | None:
    chat = ballot_round.opened_by.removeprefix("tg:")
    return await service.account(session, int(chat)) if chat.isdigit() else None
