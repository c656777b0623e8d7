"""The meeting and the secret ballot by private message (DOMAIN §7, R-B1..R-B9), with the
sealed ballot box of issue 11 (the design is in ``bot/services/ballot.py``).

- ``/hop [code]`` (secretary or deputy): the meeting's attendance, one button per member
  (✅ present → 🟡 absent with an accepted excuse → ❌ absent), the denominator (R-B3), the
  quorum (R-B9) and the counting committee (🧮: who holds a key share, and how many of them
  open the box).
- ``/bo_phieu [code]`` or "🗳 Open the secret ballot": a round. Each committee member first
  gets their share of the round's key in the "🔓 Mở hòm phiếu" button of a private message
  (sent straight to Telegram, never stored); if one cannot be reached the round does not open
  and the secretary is told whom to replace. Then each voter (R-B1) gets a private ballot and
  the secretary the round message ("3/12 have voted", who has not), edited in place at most
  once per ``PROGRESS_DEBOUNCE_SECONDS``.
- The voter goes candidate by candidate (``bv:<round>:<position>:<choice>``), sees a summary,
  changes any choice (``bv:<round>:<position>:?``) and confirms (``bv:<round>:ok``). Every
  press is checked against the database. Choices in progress live in ``context.user_data``
  only; the stored copy of a choice press has the choice cut out (``bot.intake``); screens
  that show choices are sent with ``durable=False``.
- The cast commits with the turn: ``has_voted``, the sealed ballot and the receipt message in
  the outbox (so a crash after the commit still delivers the receipt); ``/phieu`` later
  replies to the receipt message, whose id is recorded once it was delivered.
- Voting ends when everyone has voted (also found at start-up after a crash: ``recover``) or
  the secretary ends it; then k committee members press their button, the box is opened and
  the results, with the list of counted receipts, go to the secretary and every voter;
  undecided candidates get a button for another round.
- ``/kiem_tra_phieu CODE``: whether the ballot with that receipt was counted (R-B8).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
from types import SimpleNamespace

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.callbacks import parse_int
from bot.context import SERVICES_KEY, BotContext
from bot.delivery import EDIT, Owed, deliver, on_sent
from bot.i18n import N_, Translator
from bot.intake import redact_callbacks
from bot.permissions import Action
from bot.services import ballot as service
from bot.services import ballot_logs
from bot.services.ballot import BLANK, CHOICES, BallotError, RoundResult, RoundView
from bot.services.ballot_box import Share, key_id
from bot.text import esc
from handlers import plan_checks
from handlers.base import Refusal, Turn, translator_for, turn_handler
from handlers.scope import managed_cell
from rules.levels import Level
from rules.people import Presence
from rules.rulebooks import CountingRule, DenominatorRule
from storage.models import BallotRound, Meeting, Member, Organisation, TelegramAccount

log = logging.getLogger(__name__)
ballot_logs.install()

MEETING_PREFIX = "hop:"
SECRETARY_PREFIX = "bs:"
VOTER_PREFIX = "bv:"
KEY_PREFIX = "bk:"
REDACTED = "#"
RECEIPT_HOOK = "ballot-receipt"
DRAFTS_KEY = "ballot_drafts"
PROGRESS_DEBOUNCE_SECONDS = 1.0
MAX_NAMES_SHOWN = 60
EDIT_BUTTONS_PER_ROW = 5
RECEIPTS_KEPT_DAYS = 60  # /phieu points to receipts of rounds opened this recently

PRESENCE_MARKS = {Presence.PRESENT: "✅", Presence.ABSENT_EXCUSED: "🟡", Presence.ABSENT: "❌"}
INVALID = N_("This button is no longer valid.")


def _redact_vote(data: str) -> str:
    """What the database may keep of a voter's press: never the choice."""
    parts = data.removeprefix(VOTER_PREFIX).split(":")
    if len(parts) == 3 and parts[2] != "?":
        parts[2] = REDACTED
    return VOTER_PREFIX + ":".join(parts)


def _redact_key(data: str) -> str:
    """What the database may keep of a committee member's press: never the share."""
    parts = data.removeprefix(KEY_PREFIX).split(":")
    return KEY_PREFIX + ":".join([*parts[:2], REDACTED])


redact_callbacks(VOTER_PREFIX, _redact_vote)
redact_callbacks(KEY_PREFIX, _redact_key)


@on_sent(RECEIPT_HOOK)
async def _receipt_delivered(session, ref: str, message_id: int) -> None:
    round_id, member_id = (int(part) for part in ref.split(":"))
    await service.record_receipt_message(session, round_id, member_id, message_id)


# --- helpers ---------------------------------------------------------------------------------


def _refusal(error: BallotError) -> Refusal:
    return Refusal(error.msgid, **error.params)


async def _cell(turn: Turn, action: Action) -> Organisation:
    """The cell named in the command's argument, or the caller's own cell for `action`."""
    args = turn.context.args or []
    return await managed_cell(turn, action, args[0] if args else None)


def _today(turn: Turn):
    return turn.services.now().astimezone(turn.services.settings.tz).date()


def _ids(data: str, prefix: str, count: int) -> list[str]:
    parts = data.removeprefix(prefix).split(":")
    if len(parts) != count:
        raise Refusal(INVALID)
    return parts


def _int(value: str) -> int:
    """A field of a button: ASCII digits only, capped (bot/callbacks.py)."""
    return parse_int(value)


def _choice_label(t: Translator, choice: str | None) -> str:
    if choice is None:
        return "…"
    return t("blank") if choice == BLANK else choice


def _names(members: list[Member], t: Translator) -> str:
    shown = [esc(m.full_name) for m in members[:MAX_NAMES_SHOWN]]
    more = len(members) - len(shown)
    if more > 0:
        shown.append(t("and {count} more", count=more))
    return ", ".join(shown)


def _app_context(application: Application) -> SimpleNamespace:
    """What the announcing functions use of a context, outside any update (start-up)."""
    return SimpleNamespace(
        application=application,
        bot=application.bot,
        services=application.bot_data[SERVICES_KEY],
    )


# --- the meeting -------------------------------------------------------------------------------


def _needed(denominator: int) -> int:
    """The smallest number of votes that is more than half."""
    return denominator // 2 + 1


def committee_line(t: Translator, committee: service.Committee) -> str:
    if not committee.members:
        return t("Counting committee: nobody yet; name it with 🧮 before opening the ballot.")
    return t(
        "Counting committee: {names}; {k} of {n} open the ballot box.",
        names=_names(committee.members, t),
        k=committee.threshold,
        n=committee.size,
    )


def meeting_text(
    t: Translator,
    state: service.MeetingState,
    open_round: BallotRound | None,
    committee: service.Committee,
) -> str:
    title = t("Review meeting of {org}, {year}", org=state.cell.name, year=state.cycle.year)
    lines = [
        f"<b>{esc(title)}</b>",
        t(
            "Attendance: press a name to change it "
            "(✅ present → 🟡 absent with an accepted excuse → ❌ absent)."
        ),
        "",
        t(
            "Present: {present} of {total} members; official members present, who vote: {voters}.",
            present=state.present_total(),
            total=len(state.members),
            voters=len(state.voters()),
        ),
    ]
    denominator = state.denominator()
    if state.rulebook.denominator_rule is DenominatorRule.BALLOTS_CAST:
        lines.append(t("Denominator (R-B3): the number of ballots cast."))
    else:
        lines.append(
            t(
                "Denominator (R-B3): {denominator}; more than half means at least {needed} votes.",
                denominator=denominator,
                needed=_needed(denominator),
            )
        )
    if state.quorum():
        lines.append(
            t(
                "Quorum (R-B9): met, {present} of {denominator} present.",
                present=state.present_counted(),
                denominator=denominator,
            )
        )
    else:
        lines.append(
            t(
                "Quorum (R-B9): not met, {present} of {denominator} present; at least two thirds "
                "are needed.",
                present=state.present_counted(),
                denominator=denominator,
            )
        )
    lines.append(t("To be rated at this meeting: {count}.", count=len(state.candidates())))
    lines.append(committee_line(t, committee))
    if open_round is not None:
        lines.append(t("Ballot round {number} is open.", number=open_round.number))
    return "\n".join(lines)


def meeting_keyboard(t: Translator, state: service.MeetingState) -> InlineKeyboardMarkup:
    meeting_id = state.meeting.id
    rows = [
        [
            InlineKeyboardButton(
                f"{PRESENCE_MARKS[state.presence[m.id]]} {m.full_name}",
                callback_data=f"{MEETING_PREFIX}p:{meeting_id}:{m.id}",
            )
        ]
        for m in state.members
    ]
    rows.append(
        [
            InlineKeyboardButton(
                t("✅ Everyone present"), callback_data=f"{MEETING_PREFIX}all:{meeting_id}"
            )
        ]
    )
    rows.append(
        [
            InlineKeyboardButton(
                t("🧮 Counting committee"), callback_data=f"{MEETING_PREFIX}cm:{meeting_id}"
            )
        ]
    )
    rows.append(
        [
            InlineKeyboardButton(
                t("🗳 Open the secret ballot"), callback_data=f"{MEETING_PREFIX}open:{meeting_id}"
            )
        ]
    )
    return InlineKeyboardMarkup(rows)


def committee_text(t: Translator, state: service.MeetingState, committee: service.Committee) -> str:
    title = t("Counting committee of {org}", org=state.cell.name)
    return "\n".join(
        [
            f"🧮 <b>{esc(title)}</b>",
            "",
            t(
                "Each member of the committee gets one share of the key of the ballot box in a "
                'private message, on a "🔓 Mở hòm phiếu" button. After voting ends, the box is '
                "opened when enough of them press it; nobody, the secretary and the bot's "
                "operators included, can read a ballot before that."
            ),
            t(
                "Press a name to add or remove them, and set how many presses open the box. A "
                "share that is lost (a deleted message, a lost phone) cannot be replaced: if "
                "fewer members than that are left, the round is voted again, as with a spoilt "
                "ballot box."
            ),
            "",
            committee_line(t, committee),
        ]
    )


def committee_keyboard(
    t: Translator, state: service.MeetingState, committee: service.Committee
) -> InlineKeyboardMarkup:
    meeting_id = state.meeting.id
    chosen = {m.id for m in committee.members}
    rows = [
        [
            InlineKeyboardButton(
                f"{'☑' if m.id in chosen else '☐'} {m.full_name}",
                callback_data=f"{MEETING_PREFIX}ct:{meeting_id}:{m.id}",
            )
        ]
        for m in state.members
        if state.presence.get(m.id) is Presence.PRESENT
    ]
    if committee.size > 1:
        rows.append(
            [
                InlineKeyboardButton(
                    t("{k} of {n}", k=k, n=committee.size)
                    + (" ✓" if k == committee.threshold else ""),
                    callback_data=f"{MEETING_PREFIX}ck:{meeting_id}:{k}",
                )
                for k in range(1, committee.size + 1)
            ]
        )
    rows.append(
        [InlineKeyboardButton(t("⬅ Back"), callback_data=f"{MEETING_PREFIX}back:{meeting_id}")]
    )
    return InlineKeyboardMarkup(rows)


async def _show_meeting(turn: Turn, meeting: Meeting, *, edit: bool) -> None:
    state = await service.meeting_state(turn.session, meeting, _today(turn))
    open_round = await service.open_round_of(turn.session, meeting.id)
    committee = await service.committee_of(turn.session, state)
    text = meeting_text(turn.t, state, open_round, committee)
    markup = meeting_keyboard(turn.t, state)
    if edit:
        await turn.edit(text, reply_markup=markup)
    else:
        await turn.reply(text, reply_markup=markup)


async def _show_committee(turn: Turn, meeting: Meeting) -> None:
    state = await service.meeting_state(turn.session, meeting, _today(turn))
    committee = await service.committee_of(turn.session, state)
    await turn.edit(
        committee_text(turn.t, state, committee),
        reply_markup=committee_keyboard(turn.t, state, committee),
    )


@turn_handler()
async def meeting_command(turn: Turn) -> None:
    cell = await _cell(turn, Action.RUN_MEETING)
    try:
        meeting = await service.meeting_for_cell(
            turn.session, cell, turn.services.now(), create=True
        )
    except BallotError as error:
        raise _refusal(error) from None
    await _show_meeting(turn, meeting, edit=False)


async def _meeting_of_button(turn: Turn, meeting_id: str, action: Action) -> Meeting:
    turn.require_member()
    meeting = await turn.session.get(Meeting, _int(meeting_id))
    if meeting is None:
        raise Refusal(INVALID)
    turn.require(action, await turn.session.get(Organisation, meeting.org_id))
    return meeting


@turn_handler()
async def meeting_pressed(turn: Turn) -> None:
    data = turn.query.data.removeprefix(MEETING_PREFIX)
    kind = data.split(":", 1)[0]
    try:
        if kind == "p":
            _, meeting_id, member_id = _ids(data, "", 3)
            meeting = await _meeting_of_button(turn, meeting_id, Action.RUN_MEETING)
            state = await service.meeting_state(turn.session, meeting, _today(turn))
            member_id = _int(member_id)
            if member_id not in state.presence:
                raise Refusal(INVALID)
            new = service.NEXT_PRESENCE[state.presence[member_id]]
            await service.set_presence(turn.session, meeting, [member_id], new)
        elif kind == "all":
            _, meeting_id = _ids(data, "", 2)
            meeting = await _meeting_of_button(turn, meeting_id, Action.RUN_MEETING)
            state = await service.meeting_state(turn.session, meeting, _today(turn))
            ids = [m.id for m in state.members]
            await service.set_presence(turn.session, meeting, ids, Presence.PRESENT)
        elif kind in ("cm", "ct", "ck"):
            parts = _ids(data, "", 2 if kind == "cm" else 3)
            meeting = await _meeting_of_button(turn, parts[1], Action.RUN_MEETING)
            state = await service.meeting_state(turn.session, meeting, _today(turn))
            if kind == "ct":
                await service.toggle_teller(turn.session, state, _int(parts[2]))
            elif kind == "ck":
                await service.set_threshold(turn.session, state, _int(parts[2]))
            await _show_committee(turn, meeting)
            return
        elif kind == "back":
            _, meeting_id = _ids(data, "", 2)
            meeting = await _meeting_of_button(turn, meeting_id, Action.RUN_MEETING)
        elif kind == "open":
            _, meeting_id = _ids(data, "", 2)
            meeting = await _meeting_of_button(turn, meeting_id, Action.RUN_BALLOT)
            await _open_round(turn, meeting)
            return
        else:
            raise Refusal(INVALID)
    except BallotError as error:
        raise _refusal(error) from None
    await _show_meeting(turn, meeting, edit=True)


# --- opening a round ---------------------------------------------------------------------------


@turn_handler()
async def ballot_command(turn: Turn) -> None:
    cell = await _cell(turn, Action.RUN_BALLOT)
    try:
        meeting = await service.meeting_for_cell(
            turn.session, cell, turn.services.now(), create=False
        )
    except BallotError as error:
        raise _refusal(error) from None
    if meeting is None:
        raise Refusal("Open the meeting with /hop and take the attendance first.")
    await _open_round(turn, meeting)


def _why_unreachable(t: Translator, account: TelegramAccount | None) -> str:
    if account is not None and account.blocked_at is not None:
        return t("has blocked the bot")
    return t("has not started the bot or linked their account")


def _replace_tellers_text(t: Translator, missing: list[tuple[Member, str]]) -> str:
    lines = [
        t(
            "The round was not opened: I could not give their share of the ballot box key to "
            "{count} members of the counting committee:",
            count=len(missing),
        )
    ]
    lines += [f"• {esc(member.full_name)}: {reason}" for member, reason in missing]
    lines += [
        "",
        t(
            "Replace them in the counting committee (/hop, 🧮), or ask them to start the bot, "
            "then open the round again."
        ),
    ]
    return "\n".join(lines)


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
        (member, _why_unreachable(t, accounts.get(member.id)))
        for member in committee.members
        if not service.reachable(accounts.get(member.id))
    ]
    if missing:
        await turn.answer()
        await turn.reply(_replace_tellers_text(t, missing))
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


def share_text(t: Translator, view: RoundView) -> str:
    title = t("Counting committee: your key to the ballot box")
    where = t("{org}, round {number}", org=view.cell.name, number=view.round.number)
    return "\n".join(
        [
            f"🔑 <b>{esc(title)}</b> — {esc(where)}",
            "",
            t(
                "You are on the counting committee. The button below holds your share of the "
                "key of the ballot box; the bot does not keep it. After voting ends, press it: "
                "the box opens when {k} of the {n} members have pressed.",
                k=view.round.threshold,
                n=len(view.tellers),
            ),
            t(
                "Do not delete this message. If fewer than {k} shares are left, the round has "
                "to be voted again.",
                k=view.round.threshold,
            ),
        ]
    )


def share_keyboard(t: Translator, view: RoundView, share: Share) -> InlineKeyboardMarkup:
    data = (
        f"{KEY_PREFIX}{view.round.id}:{share.index}:{share.encode()}:"
        f"{key_id(view.round.public_key)}"
    )
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(t("🔓 Open the ballot box"), callback_data=data)]]
    )


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
                    share_text(holder_t, view),
                    reply_markup=share_keyboard(holder_t, view, share),
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
        await _say(context, chat_id, _replace_tellers_text(secretary_t, missing))
        return
    async with services.db.session() as session:
        await service.activate(session, round_id)
        view = await service.round_view(session, round_id)
        accounts = await service.accounts_of(session, [m.id for m, _voted in view.voters])
    await _send_ballots(context, chat_id, view, accounts, secretary_t)


async def _account(services, telegram_id: int) -> TelegramAccount | None:
    async with services.db.session() as session:
        return await session.get(TelegramAccount, telegram_id)


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
            unreachable.append((member, _why_unreachable(t, account)))
            continue
        voter_t = translator_for(account, services)
        text, markup = ballot_screen(voter_t, view, {}, 0)
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
        account = await session.get(TelegramAccount, chat_id)
    t = translator_for(account, services) if account else Translator("vi")
    text, markup = progress_screen(t, view)
    try:
        message = await context.bot.send_message(chat_id, text, reply_markup=markup)
    except TelegramError as error:
        log.warning("could not send the round message: %s", type(error).__name__)
        return
    async with services.db.session() as session:
        ballot_round = await session.get(BallotRound, round_id)
        ballot_round.chat_id = chat_id
        ballot_round.message_id = message.message_id
        ballot_round.progress_shown = _progress_key(view)


# --- the voter's ballot ---------------------------------------------------------------------


def _header(t: Translator, view: RoundView, *, progress: bool = False) -> str:
    title = t("Secret ballot: progress") if progress else t("Secret ballot")
    where = t("{org}, round {number}", org=view.cell.name, number=view.round.number)
    return f"🗳 <b>{esc(title)}</b> — {esc(where)}"


def _next_position(positions: list[int], choices: dict[int, str], after: int | None) -> int | None:
    missing = [p for p in positions if p not in choices]
    if not missing:
        return None
    later = [p for p in missing if after is not None and p > after]
    return later[0] if later else missing[0]


def ballot_screen(
    t: Translator,
    view: RoundView,
    choices: dict[int, str],
    position: int | None,
    *,
    note: str | None = None,
) -> tuple[str, InlineKeyboardMarkup]:
    """The candidate at `position`, or the summary when `position` is None."""
    round_id = view.round.id
    lines = [_header(t, view)]
    if note:
        lines += ["", f"<i>{esc(note)}</i>"]
    if position is None:
        lines += ["", t("Your choices:")]
        for index, (candidate, member) in enumerate(view.candidates, start=1):
            choice = _choice_label(t, choices.get(candidate.position))
            lines.append(f"{index}. {esc(member.full_name)}: <b>{esc(choice)}</b>")
        lines += [
            "",
            t(
                "Press a number to change that choice, or confirm to cast your ballot. "
                "Once cast, it cannot be changed."
            ),
        ]
        buttons = [
            InlineKeyboardButton(
                f"✏ {index}", callback_data=f"{VOTER_PREFIX}{round_id}:{candidate.position}:?"
            )
            for index, (candidate, _member) in enumerate(view.candidates, start=1)
        ]
        rows = [
            buttons[i : i + EDIT_BUTTONS_PER_ROW]
            for i in range(0, len(buttons), EDIT_BUTTONS_PER_ROW)
        ]
        rows.append(
            [
                InlineKeyboardButton(
                    t("✅ Cast my ballot"), callback_data=f"{VOTER_PREFIX}{round_id}:ok"
                )
            ]
        )
        return "\n".join(lines), InlineKeyboardMarkup(rows)
    index = next(i for i, (c, _m) in enumerate(view.candidates) if c.position == position)
    member = view.candidates[index][1]
    lines += [
        "",
        t(
            "Member {index} of {count}: {name}",
            index=index + 1,
            count=len(view.candidates),
            name=f"<b>{esc(member.full_name)}</b>",
        ),
        "",
    ]
    lines += [f"<b>{level.value}</b>: {esc(t(level.name_msgid))}" for level in Level]
    if position in choices:
        lines += [
            "",
            t("Your current choice: {choice}", choice=esc(_choice_label(t, choices[position]))),
        ]
    lines += [
        "",
        t(
            "Choose one level, or leave it blank. Your ballot is cast only when you confirm "
            "at the end; nobody can see what you choose."
        ),
    ]

    def button(label: str, choice: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(
            label, callback_data=f"{VOTER_PREFIX}{round_id}:{position}:{choice}"
        )

    rows = [
        [button(Level.HTXS.value, Level.HTXS.value), button(Level.HTT.value, Level.HTT.value)],
        [button(Level.HT.value, Level.HT.value), button(Level.KHT.value, Level.KHT.value)],
        [button(t("Leave blank"), BLANK)],
    ]
    return "\n".join(lines), InlineKeyboardMarkup(rows)


def cast_screen(t: Translator, view: RoundView, code: str) -> str:
    shown = service.show_receipt(code)
    return "\n".join(
        [
            _header(t, view),
            "",
            "✅ " + t("Your ballot has been cast."),
            t("Receipt code: {code}", code=f"<code>{shown}</code>"),
            "",
            t(
                "The code is the fingerprint of your sealed ballot. When the counting committee "
                "opens the box, the codes of all counted ballots are published; send "
                "/kiem_tra_phieu {code} to check yours. It says nothing about your choices, and "
                "I do not keep it next to your name: keep this message (/phieu finds it again).",
                code=shown,
            ),
        ]
    )


async def _voter_checks(turn: Turn, round_id: int):
    """The press is the presser's own, on a voting round where they still have to vote."""
    message = turn.query.message
    if message is None or message.chat.id != turn.query.from_user.id:
        raise Refusal("This ballot is not yours.")
    member = turn.identity.member
    if member is None:
        raise Refusal("You are not a voter in this ballot round.")
    ballot_round = await turn.session.get(BallotRound, round_id)
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


@turn_handler()
async def vote_pressed(turn: Turn) -> None:
    parts = turn.query.data.removeprefix(VOTER_PREFIX).split(":")
    if len(parts) not in (2, 3):
        raise Refusal(INVALID)
    round_id = _int(parts[0])
    if len(parts) == 2 and parts[1] != "ok":
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
    if len(parts) == 2:  # confirm
        missing = _next_position(positions, choices, None)
        if missing is not None:
            note = lost_note if lost or not choices else t("Some members have no choice yet.")
            await turn.answer(note, alert=True)
            await _show_ballot(turn, draft, *ballot_screen(t, view, choices, missing, note=note))
            return
        await _cast(turn, view, member, dict(choices))
        return
    position, choice = _int(parts[1]), parts[2]
    if position not in positions or (choice not in ("?", REDACTED) and choice not in CHOICES):
        raise Refusal(INVALID)
    if choice == REDACTED:  # a press stored before a restart: its choice was never kept
        await turn.answer(lost_note, alert=True)
        screen = ballot_screen(t, view, choices, position, note=lost_note)
    elif choice == "?":
        note = lost_note if lost and position != positions[0] else None
        screen = ballot_screen(t, view, choices, position, note=note)
    else:
        note = lost_note if lost and position != positions[0] else None
        choices[position] = choice
        following = _next_position(positions, choices, position)
        screen = ballot_screen(t, view, choices, following, note=note)
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
            cast_screen(t, view, cast.code),
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
        text, markup = ballot_screen(t, view, choices, _next_position(positions, choices, None))
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


def progress_screen(t: Translator, view: RoundView) -> tuple[str, InlineKeyboardMarkup | None]:
    total = len(view.voters)
    lines = [_header(t, view, progress=True), ""]
    if view.voting:
        if view.round.denominator is None:
            lines.append(
                t(
                    "Open. Members to rate: {count}. Denominator: the ballots cast.",
                    count=len(view.candidates),
                )
            )
        else:
            lines.append(
                t(
                    "Open. Members to rate: {count}. Denominator: {denominator}.",
                    count=len(view.candidates),
                    denominator=view.round.denominator,
                )
            )
        voted = t("{voted}/{total} have voted", voted=view.voted, total=total)
        lines.append(f"<b>{esc(voted)}</b>")
        if view.waiting:
            lines.append(t("Not voted yet: {names}", names=_names(view.waiting, t)))
        lines += [
            "",
            t(
                "The ballots are sealed: nobody can read them until the counting committee "
                "opens the box after voting ends."
            ),
        ]
        markup = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        t("🔒 Close the round"),
                        callback_data=f"{SECRETARY_PREFIX}close:{view.round.id}",
                    )
                ]
            ]
        )
        return "\n".join(lines), markup
    if view.sealed:
        lines.append(
            t(
                "Voting has ended: {voted}/{total} voted. The box is sealed until {k} of the "
                "counting committee ({names}) press 🔓 in their private chat.",
                voted=view.voted,
                total=total,
                k=view.round.threshold or 1,
                names=_names(view.tellers, t),
            )
        )
        return "\n".join(lines), None
    lines.append(
        t("Closed: {voted}/{total} voted. The results follow.", voted=view.voted, total=total)
    )
    return "\n".join(lines), None


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


_progress_locks: dict[int, asyncio.Lock] = {}


async def update_progress(context: BotContext, round_id: int) -> None:
    """Edit the round message if what it shows changed; one at a time per round."""
    lock = _progress_locks.setdefault(round_id, asyncio.Lock())
    async with lock:
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
        account = await session.get(TelegramAccount, view.round.chat_id)
    text, markup = progress_screen(translator_for(account, services), view)
    try:
        await context.bot.edit_message_text(
            text, chat_id=view.round.chat_id, message_id=view.round.message_id, reply_markup=markup
        )
    except TelegramError as error:
        log.warning("could not update the progress of ballot round %s: %s", round_id, error)
        return
    async with services.db.session() as session:
        ballot_round = await session.get(BallotRound, round_id)
        ballot_round.progress_shown = key


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


@turn_handler()
async def key_pressed(turn: Turn) -> None:
    t = turn.t
    parts = turn.query.data.removeprefix(KEY_PREFIX).split(":")
    if len(parts) not in (3, 4):
        raise Refusal(INVALID)
    round_id, index = _int(parts[0]), _int(parts[1])
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
    if len(parts) == 3:  # stored before a restart, with the share cut out
        raise Refusal("The bot restarted before it could use your press: please press again.")
    share = Share.decode(index, parts[2])
    if share is None or parts[3] != key_id(view.round.public_key):
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
                names=_names(waiting, t),
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
    account = await turn.session.get(TelegramAccount, view.round.chat_id)
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
            names=_names(waiting, t),
        ),
    )


async def _results_owed(session, services, result: RoundResult) -> list[Owed]:
    """The results for the secretary and every voter, with the published receipts."""
    voter_ids = [member.id for member, _voted in result.view.voters]
    accounts = await service.accounts_of(session, voter_ids)
    secretary = (
        await session.get(TelegramAccount, result.view.round.chat_id)
        if result.view.round.chat_id
        else None
    )
    owed: list[Owed] = []
    seen: set[int] = set()
    if secretary is not None:
        t = translator_for(secretary, services)
        markup = None
        if result.undecided:
            markup = InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton(
                            t("🗳 Vote again on {count} members", count=len(result.undecided)),
                            callback_data=f"{SECRETARY_PREFIX}next:{result.view.meeting.id}",
                        )
                    ]
                ]
            )
        owed.append(Owed.message(secretary.telegram_id, results_text(t, result), markup))
        seen.add(secretary.telegram_id)
    for account in accounts.values():
        if account.telegram_id in seen or not service.reachable(account):
            continue
        t = translator_for(account, services)
        owed.append(Owed.message(account.telegram_id, results_text(t, result)))
        seen.add(account.telegram_id)
    return owed


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


RULE_NAMES = {
    CountingRule.CUMULATIVE: N_(
        "Counting: cumulative from the top, a vote for a level also agrees with every lower "
        "one (R-B4)."
    ),
    CountingRule.PLURALITY: N_("Counting: only the votes at each exact level (R-B4 setting)."),
    CountingRule.STRICT_2011: N_("Counting: the 2011 rule, HTXS needs two thirds (R-B5)."),
}


def results_text(t: Translator, result: RoundResult) -> str:
    view = result.view
    title = t("Results of the secret ballot")
    where = t("{org}, round {number}", org=view.cell.name, number=view.round.number)
    lines = [
        f"📊 <b>{esc(title)}</b> — {esc(where)}",
        "",
        t(
            "Ballots cast: {cast} of {voters}. Denominator: {denominator}; more than half means "
            "at least {needed} votes.",
            cast=result.cast,
            voters=len(view.voters),
            denominator=result.denominator,
            needed=_needed(result.denominator),
        ),
        t(RULE_NAMES[result.rule]),
        "",
    ]
    for index, outcome in enumerate(result.results, start=1):
        counts = " · ".join(f"{_choice_label(t, code)} {outcome.counts[code]}" for code in CHOICES)
        decision = outcome.decision
        if decision is None or decision.undecided:
            verdict = t("no decision: vote again")
        else:
            verdict = decision.level.value
        lines.append(
            f"{index}. <b>{esc(outcome.member.full_name)}</b>: {counts} → <b>{esc(verdict)}</b>"
        )
    if result.undecided:
        lines += [
            "",
            t(
                "No level has more than half of the votes for: {names}. The cell votes again on "
                "them in another round.",
                names=_names(result.undecided, t),
            ),
        ]
    if result.receipts:
        codes = ", ".join(f"<code>{service.show_receipt(code)}</code>" for code in result.receipts)
        lines += [
            "",
            t("Receipt codes of the {count} counted ballots:", count=len(result.receipts)),
            codes,
        ]
    return "\n".join(lines)


async def _round_of_button(turn: Turn, round_id: str) -> RoundView:
    turn.require_member()
    view = await service.round_view(turn.session, _int(round_id))
    if view is None:
        raise Refusal(INVALID)
    turn.require(Action.RUN_BALLOT, view.cell)
    return view


@turn_handler()
async def secretary_pressed(turn: Turn) -> None:
    t = turn.t
    data = turn.query.data.removeprefix(SECRETARY_PREFIX)
    kind = data.split(":", 1)[0]
    if kind == "next":
        _, meeting_id = _ids(data, "", 2)
        meeting = await _meeting_of_button(turn, meeting_id, Action.RUN_BALLOT)
        await _open_round(turn, meeting)
        return
    if kind == "revote":  # R-Q6: vote again on the members whose proposals break a rule
        _, meeting_id = _ids(data, "", 2)
        meeting = await _meeting_of_button(turn, meeting_id, Action.RUN_BALLOT)
        concerned = await plan_checks.members_to_revote(turn.session, meeting)
        if not concerned:
            raise Refusal("No proposal breaks a rule any more: there is nothing to vote on again.")
        await _open_round(turn, meeting, concerned)
        return
    if kind not in ("close", "closeyes", "keep"):
        raise Refusal(INVALID)
    _, round_id = _ids(data, "", 2)
    view = await _round_of_button(turn, round_id)
    if not view.voting:
        raise _refusal(service.round_closed())
    if kind == "keep":
        await turn.answer()
        await turn.edit(t("The round stays open."))
        return
    if kind == "close" and view.waiting:
        await turn.answer()
        await turn.reply(
            t(
                "{count} voters have not voted yet: {names}. Close the round anyway? They will "
                "not be able to vote in it.",
                count=len(view.waiting),
                names=_names(view.waiting, t),
            ),
            reply_markup=InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton(
                            t("🔒 Close now"),
                            callback_data=f"{SECRETARY_PREFIX}closeyes:{view.round.id}",
                        ),
                        InlineKeyboardButton(
                            t("Keep it open"),
                            callback_data=f"{SECRETARY_PREFIX}keep:{view.round.id}",
                        ),
                    ]
                ]
            ),
        )
        return
    if not await service.end_voting(turn.session, view.round.id, now=turn.services.now()):
        raise _refusal(service.round_closed())
    await turn.session.refresh(view.round)
    await turn.answer(t("The round is closed."))
    if kind == "closeyes":
        await turn.edit(t("The round is closed."))
    context = turn.context
    turn.after_commit(lambda: announce_end(context, view))


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
            account = await session.get(TelegramAccount, int(chat)) if chat.isdigit() else None
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
    CallbackQueryHandler(meeting_pressed, pattern=f"^{MEETING_PREFIX}"),
    CallbackQueryHandler(secretary_pressed, pattern=f"^{SECRETARY_PREFIX}"),
    CallbackQueryHandler(vote_pressed, pattern=f"^{VOTER_PREFIX}"),
    CallbackQueryHandler(key_pressed, pattern=f"^{KEY_PREFIX}"),
]
