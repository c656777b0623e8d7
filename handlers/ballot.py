"""The meeting and the secret ballot by private message (DOMAIN §7, R-B1..R-B9).

- ``/hop [code]`` (secretary or deputy): the meeting's attendance, one button per member
  (✅ present → 🟡 absent with an accepted excuse → ❌ absent), the denominator (R-B3) and the
  quorum (R-B9).
- ``/bo_phieu [code]`` or "🗳 Open the secret ballot": a round; each voter (R-B1) gets a
  private ballot; the secretary gets the round message ("3/12 have voted", who has not),
  edited in place at most once per ``PROGRESS_DEBOUNCE_SECONDS``, and the voters the bot
  cannot write to, with the /moi hint.
- The voter goes candidate by candidate (``bv:<round>:<position>:<choice>``), sees a summary,
  changes any choice (``bv:<round>:<position>:?``) and confirms (``bv:<round>:ok``). Every
  press is checked against the database: the round exists and is open, the presser is a voter
  of it who has not voted, the message is in the presser's own chat, the position is a
  candidate of the round and the choice one of HTXS/HTT/HT/KHT/BLANK. Choices in progress live
  in ``context.user_data`` only (memory, never the database) and are dropped on cast.
- The cast (``bot.services.ballot.cast``) commits in its own transaction *before* the reply,
  so a crash after it loses nothing and a replayed confirm is refused ("already voted").
- The round closes when everyone has voted or the secretary closes it (confirming when some
  have not); results go to the secretary and every voter; undecided candidates get a button
  for another round.
- ``/phieu``: the voter's open ballot again (after a restart, or after they started the bot).
- ``/kiem_tra_phieu CODE``: whether the ballot with that receipt was counted (R-B8).

The secrecy design is documented in ``bot/services/ballot.py``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import Forbidden, TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.context import BotContext
from bot.i18n import N_, Translator
from bot.permissions import Action
from bot.services import ballot as service
from bot.services import ballot_logs
from bot.services.ballot import BLANK, CHOICES, BallotError, RoundResult, RoundView
from bot.text import esc, split_message
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
DRAFTS_KEY = "ballot_drafts"
PROGRESS_DEBOUNCE_SECONDS = 1.0
MAX_NAMES_SHOWN = 60
EDIT_BUTTONS_PER_ROW = 5

PRESENCE_MARKS = {Presence.PRESENT: "✅", Presence.ABSENT_EXCUSED: "🟡", Presence.ABSENT: "❌"}
INVALID = N_("This button is no longer valid.")


# --- helpers ---------------------------------------------------------------------------------


def _refusal(error: BallotError) -> Refusal:
    return Refusal(error.msgid, **error.params)


async def _release(turn: Turn) -> None:
    """Commit the turn's own transaction now, so the writes below run in their own
    transactions (the cast must be committed before the reply). The turn's session is not
    used after this."""
    await turn.session.commit()


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
    if not value.isdigit() or len(value) > 12:
        raise Refusal(INVALID)
    return int(value)


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


# --- the meeting -------------------------------------------------------------------------------


def _needed(denominator: int) -> int:
    """The smallest number of votes that is more than half."""
    return denominator // 2 + 1


def meeting_text(t: Translator, state: service.MeetingState, open_round: BallotRound | None) -> str:
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
                t("🗳 Open the secret ballot"), callback_data=f"{MEETING_PREFIX}open:{meeting_id}"
            )
        ]
    )
    return InlineKeyboardMarkup(rows)


async def _show_meeting(turn: Turn, meeting: Meeting, *, edit: bool) -> None:
    state = await service.meeting_state(turn.session, meeting, _today(turn))
    open_round = await service.open_round_of(turn.session, meeting.id)
    text, markup = meeting_text(turn.t, state, open_round), meeting_keyboard(turn.t, state)
    if edit:
        await turn.edit(text, reply_markup=markup)
    else:
        await turn.reply(text, reply_markup=markup)


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
    if kind == "p":
        _, meeting_id, member_id = _ids(data, "", 3)
        meeting = await _meeting_of_button(turn, meeting_id, Action.RUN_MEETING)
        state = await service.meeting_state(turn.session, meeting, _today(turn))
        member_id = _int(member_id)
        if member_id not in state.presence:
            raise Refusal(INVALID)
        new = service.NEXT_PRESENCE[state.presence[member_id]]
        await _set_presence(turn, meeting, [member_id], new)
    elif kind == "all":
        _, meeting_id = _ids(data, "", 2)
        meeting = await _meeting_of_button(turn, meeting_id, Action.RUN_MEETING)
        state = await service.meeting_state(turn.session, meeting, _today(turn))
        await _set_presence(turn, meeting, [m.id for m in state.members], Presence.PRESENT)
    elif kind == "open":
        _, meeting_id = _ids(data, "", 2)
        meeting = await _meeting_of_button(turn, meeting_id, Action.RUN_BALLOT)
        await _open_round(turn, meeting)
        return
    else:
        raise Refusal(INVALID)
    await _show_meeting(turn, meeting, edit=True)


async def _set_presence(turn: Turn, meeting: Meeting, ids: list[int], presence: Presence) -> None:
    try:
        await service.set_presence(turn.session, meeting, ids, presence)
    except BallotError as error:
        raise _refusal(error) from None


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


async def _open_round(turn: Turn, meeting: Meeting, candidate_ids: list[int] | None = None) -> None:
    services, t = turn.services, turn.t
    current = await service.open_round_of(turn.session, meeting.id)
    if current is not None:
        await _resend_progress(turn, current.id)
        return
    state = await service.meeting_state(turn.session, meeting, _today(turn))
    try:
        opened = await service.open_round(
            turn.session, state, actor=turn.actor, now=services.now(), candidate_ids=candidate_ids
        )
    except BallotError as error:
        raise _refusal(error) from None
    round_id = opened.round.id
    view = await service.round_view(turn.session, round_id)
    accounts = await service.accounts_of(turn.session, [m.id for m in opened.voters])
    await _release(turn)
    await turn.answer(t("Round {number} is open.", number=opened.round.number))

    unreachable: list[tuple[Member, str]] = []
    blocked: list[int] = []
    for member in opened.voters:
        account = accounts.get(member.id)
        if not service.reachable(account):
            unreachable.append((member, _why_unreachable(t, account)))
            continue
        voter_t = translator_for(account, services)
        text, markup = ballot_screen(voter_t, view, {}, 0)
        try:
            await turn.context.bot.send_message(
                account.telegram_id, text, parse_mode=ParseMode.HTML, reply_markup=markup
            )
        except Forbidden:
            blocked.append(account.telegram_id)
            unreachable.append((member, t("has blocked the bot")))
        except TelegramError:
            unreachable.append((member, t("cannot be reached on Telegram")))
    await service.mark_blocked(services.db, blocked, services.now())

    await _send_progress(turn, view)
    if unreachable:
        lines = [
            t(
                "I could not send the ballot to {count} voters:",
                count=len(unreachable),
            )
        ]
        lines += [f"• {esc(member.full_name)}: {reason}" for member, reason in unreachable]
        lines += [
            "",
            t(
                "Send them their invite link (/moi). Once they have started the bot, they send "
                "/phieu to get their ballot."
            ),
        ]
        await turn.reply("\n".join(lines))


async def _send_progress(turn: Turn, view: RoundView) -> None:
    """A new round message for the secretary; later progress edits go to it."""
    text, markup = progress_screen(turn.t, view)
    message = await turn.reply_now(text, reply_markup=markup)
    async with turn.services.db.session() as session:
        ballot_round = await session.get(BallotRound, view.round.id)
        ballot_round.chat_id = turn.chat_id
        ballot_round.message_id = message.message_id
        ballot_round.progress_shown = _progress_key(view)


async def _resend_progress(turn: Turn, round_id: int) -> None:
    """A round is already open: show its message again, here, instead of opening another."""
    view = await service.round_view(turn.session, round_id)
    await _release(turn)
    await turn.answer(turn.t("Ballot round {number} is open.", number=view.round.number))
    await _send_progress(turn, view)


def _why_unreachable(t: Translator, account: TelegramAccount | None) -> str:
    if account is not None and account.blocked_at is not None:
        return t("has blocked the bot")
    return t("has not started the bot or linked their account")


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
                "After the round closes, send /kiem_tra_phieu {code} to check that it was "
                "counted. The code says nothing about your choices, and I do not keep it: "
                "write it down.",
                code=shown,
            ),
        ]
    )


async def _voter_checks(turn: Turn, round_id: int):
    """The press is the presser's own, on an open round where they still have to vote."""
    message = turn.query.message
    if message is None or message.chat.id != turn.query.from_user.id:
        raise Refusal("This ballot is not yours.")
    member = turn.identity.member
    if member is None:
        raise Refusal("You are not a voter in this ballot round.")
    ballot_round = await turn.session.get(BallotRound, round_id)
    if ballot_round is None:
        raise Refusal(INVALID)
    voter = await service.voter_row(turn.session, round_id, member.id)
    if voter is None:
        raise Refusal("You are not a voter in this ballot round.")
    drafts = turn.context.user_data.setdefault(DRAFTS_KEY, {})
    if voter.has_voted:
        drafts.pop(round_id, None)
        raise _refusal(service.already_voted())
    if ballot_round.state != service.OPEN:
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
    if position not in positions or (choice != "?" and choice not in CHOICES):
        raise Refusal(INVALID)
    note = lost_note if lost and position != positions[0] else None
    if choice == "?":
        screen = ballot_screen(t, view, choices, position, note=note)
    else:
        choices[position] = choice
        following = _next_position(positions, choices, position)
        screen = ballot_screen(t, view, choices, following, note=note)
    await _show_ballot(turn, draft, *screen)


async def _cast(turn: Turn, view: RoundView, member: Member, choices: dict[int, str]) -> None:
    services, t = turn.services, turn.t
    round_id = view.round.id
    drafts = turn.context.user_data.setdefault(DRAFTS_KEY, {})
    await _release(turn)
    try:
        code = await service.cast(services.db, round_id, member.id, choices)
    except BallotError as error:
        drafts.pop(round_id, None)
        raise _refusal(error) from None
    drafts.pop(round_id, None)
    await turn.answer(t("Your ballot has been cast."))
    text = cast_screen(t, view, code)
    try:
        await turn.edit(text, reply_markup=None)
    except TelegramError:
        log.warning("could not show the receipt on the ballot message; sending it anew")
        try:
            await turn.context.bot.send_message(turn.chat_id, text, parse_mode=ParseMode.HTML)
        except TelegramError:
            log.warning("could not show the receipt; the ballot is counted all the same")
    await after_cast(turn.context, round_id)


async def after_cast(context: BotContext, round_id: int) -> None:
    async with context.services.db.session() as session:
        done = await service.all_voted(session, round_id)
    if done:
        try:
            await close_and_announce(context, round_id, actor="auto")
        except BallotError:
            pass  # the secretary closed it at the same moment
    else:
        schedule_progress(context, round_id)


@turn_handler()
async def my_ballot_command(turn: Turn) -> None:
    turn.require_member()
    member, t = turn.identity.member, turn.t
    rows = await service.open_ballots_for(turn.session, member.id)
    if not rows:
        raise Refusal("There is no open ballot round for you.")
    drafts = turn.context.user_data.setdefault(DRAFTS_KEY, {})
    for row in rows:
        view = await service.round_view(turn.session, row.round_id)
        if row.has_voted:
            await turn.reply(
                t(
                    "You have already voted in round {number} of {org}.",
                    number=view.round.number,
                    org=esc(view.cell.name),
                )
            )
            continue
        choices = drafts.get(row.round_id, {}).get("choices", {})
        positions = [candidate.position for candidate, _member in view.candidates]
        text, markup = ballot_screen(t, view, choices, _next_position(positions, choices, None))
        await turn.reply(text, reply_markup=markup)


# --- the secretary's round message, closing and results ----------------------------------------


def _progress_key(view: RoundView) -> str:
    return f"{view.round.state}:{view.voted}"


def progress_screen(t: Translator, view: RoundView) -> tuple[str, InlineKeyboardMarkup | None]:
    total = len(view.voters)
    lines = [_header(t, view, progress=True), ""]
    if view.round.state == service.OPEN:
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
        lines += ["", t("Nobody sees the counts until the round closes.")]
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
            text,
            chat_id=view.round.chat_id,
            message_id=view.round.message_id,
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
        )
    except TelegramError as error:
        log.warning("could not update the progress of ballot round %s: %s", round_id, error)
        return
    async with services.db.session() as session:
        ballot_round = await session.get(BallotRound, round_id)
        ballot_round.progress_shown = key


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
    return "\n".join(lines)


async def _send(
    context: BotContext, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None
) -> bool:
    """Send (split if long); False when the user cannot be reached (403 is recorded)."""
    parts = split_message(text)
    try:
        for index, part in enumerate(parts):
            await context.bot.send_message(
                chat_id,
                part,
                parse_mode=ParseMode.HTML,
                reply_markup=markup if index == len(parts) - 1 else None,
            )
    except Forbidden:
        await service.mark_blocked(context.services.db, [chat_id], context.services.now())
        return False
    except TelegramError as error:
        log.warning("could not send ballot results: %s", type(error).__name__)
        return False
    return True


async def close_and_announce(context: BotContext, round_id: int, *, actor: str) -> None:
    """Close the round, tally, edit the round message, and send the results to everyone."""
    services = context.services
    async with services.db.session() as session:
        result = await service.close_round(session, round_id, actor=actor, now=services.now())
        voter_ids = [member.id for member, _voted in result.view.voters]
        accounts = await service.accounts_of(session, voter_ids)
        secretary = (
            await session.get(TelegramAccount, result.view.round.chat_id)
            if result.view.round.chat_id
            else None
        )
    await service.checkpoint(services.db)
    for data in context.application.user_data.values():
        data.get(DRAFTS_KEY, {}).pop(round_id, None)
    queue = context.application.job_queue
    if queue is not None:
        for job in queue.get_jobs_by_name(f"ballot-progress-{round_id}"):
            job.schedule_removal()
    await update_progress(context, round_id)
    sent: set[int] = set()
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
        await _send(context, secretary.telegram_id, results_text(t, result), markup)
        sent.add(secretary.telegram_id)
    for account in accounts.values():
        if account.telegram_id in sent or not service.reachable(account):
            continue
        t = translator_for(account, services)
        await _send(context, account.telegram_id, results_text(t, result))
        sent.add(account.telegram_id)
    # Issue 5: the proposals are checked at once; the secretary hears of any breach.
    await plan_checks.announce_breaches(context, round_id)


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
    if view.round.state != service.OPEN:
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
    await _release(turn)
    try:
        await close_and_announce(turn.context, view.round.id, actor=turn.actor)
    except BallotError as error:
        raise _refusal(error) from None
    await turn.answer(t("The round is closed."))
    if kind == "closeyes":
        await turn.edit(t("The round is closed."))


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
                "The ballot with the receipt code {code} is registered in round {number} of "
                "{org}, which is still open. Check again after it closes.",
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


HANDLERS = [
    CommandHandler("hop", meeting_command),
    CommandHandler("bo_phieu", ballot_command),
    CommandHandler("phieu", my_ballot_command),
    CommandHandler("kiem_tra_phieu", check_receipt_command),
    CallbackQueryHandler(meeting_pressed, pattern=f"^{MEETING_PREFIX}"),
    CallbackQueryHandler(secretary_pressed, pattern=f"^{SECRETARY_PREFIX}"),
    CallbackQueryHandler(vote_pressed, pattern=f"^{VOTER_PREFIX}"),
]
