"""Checks after the ballot (DOMAIN §5): the secretary hears of every breach at once, and may
lower a proposal with a reason.

- ``announce_breaches(context, round_id)`` runs right after a round closes (called from
  handlers/ballot.py): the cell's proposals are checked (caps on each member, the quota in the
  cell alone and in its grassroots đảng bộ, R-Q5) and the secretary who ran the ballot (or the
  cell's secretary) gets the breaches with the rule, the figures and the names, and a button
  per member concerned.
- "⬇ <name>" → a level lower than the proposal → the reason, typed (kept in the database
  while it is awaited) → ``record_proposals(kind="lowered", reason=...)`` and an audit entry;
  then the checks run again and the secretary sees what still stands.

The upper committee hears of breaches that stand from the deadline monitor (bot/jobs.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.ext import CallbackQueryHandler

from bot.callbacks import ascii_int, parse_int
from bot.context import BotContext
from bot.delivery import Owed, deliver
from bot.i18n import N_, Translator
from bot.permissions import Action, Grant, allowed
from bot.services import notify
from bot.services.accounts import identify
from bot.services.checks import breaches_for_reader, cell_breaches, member_paths
from bot.services.cycles import cycle_for_org
from bot.services.ratings import live_rating, record_proposals
from bot.services.reviews import meeting_for
from bot.text import esc
from conversations import engine as flows
from handlers.base import Refusal, Turn, translator_for, turn_handler
from handlers.views.ballot import OpenButton
from rules.breaches import Breach
from rules.levels import LEVELS_DESC, Level
from storage.models import (
    AuditEntry,
    BallotRound,
    Cycle,
    FlowState,
    Meeting,
    Member,
    Organisation,
    RatingState,
    TelegramAccount,
)

log = logging.getLogger(__name__)

PREFIX = "pc:"
MAX_BUTTONS = 30
MAX_REASON = 1000
INVALID = N_("This button is no longer valid.")


def breach_line(t: Translator, breach: Breach) -> str:
    text = esc(breach.render(t.gettext))
    names = [n for n in breach.member_names if n]
    if names and not any(n in breach.render(t.gettext) for n in names):
        text += " — " + ", ".join(esc(n) for n in names)
    return text


def breaches_text(t: Translator, cell: Organisation, breaches: list[Breach]) -> str:
    if not breaches:
        return "✅ " + t(
            "The proposed levels of {cell} break no quota or cap.", cell=f"<b>{esc(cell.name)}</b>"
        )
    lines = [
        "⚠️ <b>" + esc(t("The proposed levels of {cell} break the rules:", cell=cell.name)) + "</b>",
        "",
    ]
    lines += [f"• {breach_line(t, b)}" for b in breaches]
    lines += [
        "",
        t(
            "Lower a proposal with the buttons below, giving a reason (kept in the audit log). "
            "What still stands is reported to the upper committee, which may ask the cell to "
            "re-rate."
        ),
    ]
    return "\n".join(lines)


async def members_to_revote(session, meeting: Meeting) -> list[int]:
    """The cell's own members named by its standing breaches whose level is not yet decided
    (a quota counted over the đảng bộ names members of other cells too: they vote there)."""
    cycle = await session.get(Cycle, meeting.cycle_id)
    cell = await session.get(Organisation, meeting.org_id)
    breaches = await cell_breaches(session, cycle, cell)
    paths = await member_paths(session, (i for b in breaches for i in b.member_ids))
    ids = []
    for member_id in _breach_member_ids(breaches):
        if not paths.get(str(member_id), "").startswith(cell.path):
            continue
        rating = await live_rating(session, cycle.id, member_id)
        if rating is not None and rating.state != RatingState.DECIDED:
            ids.append(member_id)
    return ids


def _breach_member_ids(breaches: list[Breach]) -> list[int]:
    return list(dict.fromkeys(int(i) for b in breaches for i in b.member_ids if ascii_int(i) is not None))


async def lower_buttons(
    session,
    t: Translator,
    cycle: Cycle,
    breaches: list[Breach],
    meeting_id: int | None = None,
    *,
    grants: Iterable[Grant],
) -> InlineKeyboardMarkup | None:
    """A "⬇" button for each member named whose proposal the reader may lower (their
    ``grants`` allow lowering on the member's cell), and none for anyone else."""
    grants = tuple(grants)
    ids = _breach_member_ids(breaches)
    paths = await member_paths(session, (str(i) for i in ids))
    rows = []
    for member_id in ids:
        if len(rows) >= MAX_BUTTONS:
            break
        path = paths.get(str(member_id))
        if path is None or not allowed(grants, Action.LOWER_PROPOSAL, path):
            continue
        rating = await live_rating(session, cycle.id, member_id)
        if (
            rating is None
            or rating.state == RatingState.DECIDED
            or rating.proposed_level
            in (
                None,
                Level.KHT.value,
            )
        ):
            continue
        member = await session.get(Member, member_id)
        rows.append(
            [
                InlineKeyboardButton(
                    t(
                        "⬇ Lower: {name} ({level})",
                        name=member.full_name,
                        level=rating.proposed_level,
                    ),
                    callback_data=f"{PREFIX}m:{cycle.id}:{member_id}",
                )
            ]
        )
    if rows and meeting_id is not None:
        rows.append(
            [
                InlineKeyboardButton(
                    t("🗳 Vote again on the members concerned"),
                    callback_data=OpenButton("revote", meeting_id).encode(),  # handlers/ballot.py
                )
            ]
        )
    return InlineKeyboardMarkup(rows) if rows else None


async def announce_breaches(context: BotContext, round_id: int) -> None:
    """After a round closes: tell the secretary what the proposals break, at once."""
    services = context.services
    async with services.db.session() as session:
        ballot_round = await session.get(BallotRound, round_id)
        meeting = await session.get(Meeting, ballot_round.meeting_id)
        cycle = await session.get(Cycle, meeting.cycle_id)
        cell = await session.get(Organisation, meeting.org_id)
        breaches = await cell_breaches(session, cycle, cell)
        if not breaches:
            return
        account = (
            await session.get(TelegramAccount, ballot_round.chat_id)
            if ballot_round.chat_id
            else None
        )
        accounts = [account] if notify.reachable(account) else []
        if not accounts:
            secretaries = await notify.secretaries_of(session, cell.id)
            found = await notify.accounts_by_member(session, [m.id for m in secretaries])
            accounts = [a for a in found.values() if notify.reachable(a)]
        prepared = []
        for recipient in accounts:
            t = translator_for(recipient, services)
            grants = (await identify(session, recipient)).grants
            # A quota over the đảng bộ names the cell's own members only, unless the reader
            # holds a role that sees the other cells (issue 12 item 2).
            shown = await breaches_for_reader(session, breaches, cell.path, grants)
            markup = await lower_buttons(session, t, cycle, shown, meeting.id, grants=grants)
            prepared.append((recipient.telegram_id, breaches_text(t, cell, shown), markup))
    for chat_id, text, markup in prepared:
        owed = Owed.message(chat_id, text, markup)
        await deliver(context.bot, services.db, owed, services.now())  # 403: marked blocked


# --- lowering a proposal ---------------------------------------------------------------------------


async def _subject(turn: Turn, cycle_id: int, member_id: int):
    turn.require_member()
    member = await turn.session.get(Member, member_id)
    cycle = await turn.session.get(Cycle, cycle_id)
    if member is None or cycle is None:
        raise Refusal(INVALID)
    cell = await turn.session.get(Organisation, member.org_id)
    turn.require(Action.LOWER_PROPOSAL, cell)
    rating = await live_rating(turn.session, cycle.id, member.id)
    if rating is None or rating.proposed_level is None:
        raise Refusal(INVALID)
    if rating.state == RatingState.DECIDED:
        raise Refusal(
            "The level of {name} is already decided; it can no longer be lowered here.",
            name=esc(member.full_name),
        )
    return member, cycle, cell, rating


def _ints(parts: list[str]) -> list[int]:
    return [parse_int(p) for p in parts]


@turn_handler()
async def lower_pressed(turn: Turn) -> None:
    t = turn.t
    parts = turn.query.data.removeprefix(PREFIX).split(":")
    if parts[0] == "m" and len(parts) == 3:
        cycle_id, member_id = _ints(parts[1:])
        member, cycle, _cell, rating = await _subject(turn, cycle_id, member_id)
        current = Level(rating.proposed_level)
        lower = [level for level in LEVELS_DESC if level < current]
        if not lower:
            raise Refusal(INVALID)
        await turn.answer()
        await turn.reply(
            t(
                "{name} is proposed {level}. Lower it to:",
                name=f"<b>{esc(member.full_name)}</b>",
                level=current.value,
            ),
            reply_markup=InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton(
                            level.value,
                            callback_data=f"{PREFIX}l:{cycle.id}:{member.id}:{level.value}",
                        )
                        for level in lower
                    ]
                ]
            ),
        )
        return
    if parts[0] == "l" and len(parts) == 4 and parts[3] in {lv.value for lv in LEVELS_DESC}:
        cycle_id, member_id = _ints(parts[1:3])
        member, cycle, _cell, rating = await _subject(turn, cycle_id, member_id)
        level = Level(parts[3])
        if not level < Level(rating.proposed_level):
            raise Refusal(INVALID)
        await flows.begin(turn, LOWER_FLOW, "reason", member=member.id, level=level.value)
        await turn.answer()
        await turn.edit_keyboard(None)
        await flows.ask(
            turn,
            LOWER_FLOW,
            t(
                "Lower {name} from {old} to {new}. Type the reason; it is kept in the audit log.",
                name=f"<b>{esc(member.full_name)}</b>",
                old=rating.proposed_level,
                new=level.value,
            )
        )
        return
    raise Refusal(INVALID)


async def lower_reason(turn: Turn, state: FlowState, text: str) -> None:
    t = turn.t
    values = flows.payload(state)
    member_id, level = values["member"], Level(values["level"])
    reason = text.strip()
    member = await turn.session.get(Member, member_id)
    if member is None:
        await flows.finish(turn)
        raise Refusal(INVALID)
    cell = await turn.session.get(Organisation, member.org_id)
    cycle = await cycle_for_org(turn.session, cell)
    if cycle is None:
        await flows.finish(turn)
        raise Refusal(INVALID)
    member, cycle, cell, rating = await _subject(turn, cycle.id, member.id)
    if len(reason) < 3 or len(reason) > MAX_REASON:
        await turn.reply(
            t(
                "Please type the reason in a few words (at most {count} characters).",
                count=MAX_REASON,
            )
        )
        return
    if not level < Level(rating.proposed_level):
        await flows.finish(turn)
        raise Refusal(INVALID)
    old = rating.proposed_level
    await record_proposals(
        turn.session,
        cycle.id,
        {member.id: level.value},
        actor=turn.actor,
        now=turn.services.now(),
        kind="lowered",
        reason=reason,
    )
    turn.session.add(
        AuditEntry.record(
            turn.actor,
            "rating.lower",
            "member",
            member.code,
            cycle=cycle.id,
            old=old,
            new=level.value,
            reason=reason,
        )
    )
    await flows.finish(turn)
    await turn.session.flush()
    grants = turn.identity.grants
    breaches = await breaches_for_reader(
        turn.session, await cell_breaches(turn.session, cycle, cell), cell.path, grants
    )
    meeting = await meeting_for(turn.session, cycle, cell.id)
    await turn.reply(
        "✅ "
        + t(
            "The proposal for {name} is lowered from {old} to {new}.",
            name=f"<b>{esc(member.full_name)}</b>",
            old=old,
            new=level.value,
        )
        + "\n\n"
        + breaches_text(t, cell, breaches),
        reply_markup=await lower_buttons(
            turn.session, t, cycle, breaches, meeting.id if meeting else None, grants=grants
        ),
    )


LOWER_FLOW = flows.declare(
    flows.Flow(
        "lower_proposal",
        N_("lowering a proposed level"),
        (flows.Step("reason", on_text=lower_reason),),
    )
)

HANDLERS = [CallbackQueryHandler(lower_pressed, pattern=f"^{PREFIX}")]
