"""/quyet_dinh: the deciding level confirms a unit's levels; /xep_loai_lai: cancel and redo one.

- ``/quyet_dinh [code]`` (a cell, or a grassroots unit for all its cells): the proposals, the
  levels already decided, and the standing quota and cap breaches. Without a breach:
  "✅ Decide" (``qd:ok:<org>``). With one the decision is blocked; "✍️ Override with a reason"
  (``qd:ov:<org>``) asks for a written reason, kept in the Decision and the audit log, then
  decides. Every press recomputes the breaches, so a stale message cannot skip them.
- Each member is told their final level in their own language (R-A3); each cell's secretary
  gets the cell's list; members the bot cannot write to are counted, not messaged.
- ``/xep_loai_lai MEMBER_CODE``: cancels the member's decided level with a typed reason
  (R-A2): the rating is kept as cancelled history and a new, empty proposal reopens it.

``Action.DECIDE`` is checked on the deciding level (``bot.services.decision.deciding_level``).
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.callbacks import parse_int
from bot.i18n import N_
from bot.permissions import Action, grants_for
from bot.services import decision as service
from bot.services.checks import RatedMember
from bot.text import esc
from conversations import engine as flows
from handlers.base import Refusal, Turn, translator_for, turn_handler
from handlers.scope import can_see, member_by_code, unit_by_code
from rules.levels import Level
from storage.models import (
    Cycle,
    FlowState,
    Member,
    Organisation,
    OrgKind,
    Rating,
    RatingState,
    RoleKind,
)

log = logging.getLogger(__name__)

PREFIX = "qd:"
MIN_REASON = 10
MAX_REASON = 2000
MAX_LISTED = 80
INVALID = N_("This button is no longer valid.")


def level_label(t, code: str) -> str:
    return f"{code} ({t(Level(code).name_msgid)})"


# --- which unit ----------------------------------------------------------------------------------


async def _unit(turn: Turn, code: str | None) -> tuple[Organisation, Organisation]:
    """(unit, deciding level), authorised."""
    turn.require_member()
    if code:
        unit = await unit_by_code(turn, code)
    else:
        units = []
        for g in grants_for(turn.identity.grants, Action.DECIDE):
            org = await turn.session.get(Organisation, g.org_id)
            if org.kind in (OrgKind.GRASSROOTS, OrgKind.GRASSROOTS_CELL):
                units.append(org)
        if len({u.id for u in units}) != 1:
            raise Refusal(
                "Give the code of the cell or grassroots unit whose levels you decide, "
                "e.g. /quyet_dinh CB01."
            )
        unit = units[0]
    root = await service.deciding_level(turn.session, unit)
    if root is None:
        raise Refusal(
            "Levels are decided for a cell or a grassroots unit; {org} is above them.",
            org=esc(unit.name),
        )
    turn.require(Action.DECIDE, root)
    return unit, root


async def _cycle(turn: Turn, unit: Organisation) -> Cycle:
    cycle = await service.unit_cycle(turn.session, unit)
    if cycle is None:
        raise Refusal("There is no review plan for {org} yet.", org=esc(unit.name))
    return cycle


# --- the view --------------------------------------------------------------------------------------


def _member_line(t, r: RatedMember) -> str:
    return f"• {esc(r.member.full_name)} ({esc(r.member.code)}): {r.level.value}"


def view_text(t, view: service.DecisionView) -> str:
    lines = [
        "<b>"
        + esc(
            t("Decision on the levels of {org}, {year}", org=view.unit.name, year=view.cycle.year)
        )
        + "</b>",
        "",
        t("Proposed, to decide: {count}", count=t.number(len(view.proposals))),
    ]
    lines += [_member_line(t, r) for r in view.proposals[:MAX_LISTED]]
    if len(view.proposals) > MAX_LISTED:
        lines.append(t("and {count} more", count=t.number(len(view.proposals) - MAX_LISTED)))
    if view.decided:
        lines.append(t("Already decided: {count}", count=t.number(len(view.decided))))
    if view.breaches:
        lines += ["", "⛔ " + t("Blocked by breaches that stand:")]
        lines += ["– " + esc(b.render(t.gettext)) for b in view.breaches]
        lines.append(
            t(
                "Have the cell re-rate, or override with a written reason: it is kept "
                "in the audit log."
            )
        )
    elif not view.proposals:
        lines += ["", t("There is nothing to decide.")]
    return "\n".join(lines)


def view_keyboard(t, view: service.DecisionView) -> InlineKeyboardMarkup | None:
    if not view.proposals:
        return None
    if view.blocked:
        button = InlineKeyboardButton(
            t("✍️ Override with a reason"), callback_data=f"{PREFIX}ov:{view.unit.id}"
        )
    else:
        button = InlineKeyboardButton(
            t("✅ Decide {count} levels", count=len(view.proposals)),
            callback_data=f"{PREFIX}ok:{view.unit.id}",
        )
    return InlineKeyboardMarkup([[button]])


@turn_handler()
async def decide_command(turn: Turn) -> None:
    args = turn.context.args or []
    unit, _root = await _unit(turn, args[0] if args else None)
    view = await service.decision_view(turn.session, unit, await _cycle(turn, unit))
    await turn.reply(view_text(turn.t, view), reply_markup=view_keyboard(turn.t, view))


async def _unit_from_button(turn: Turn, org_id: str) -> Organisation:
    org = await turn.session.get(Organisation, parse_int(org_id))
    if org is None or not can_see(turn, org):
        raise Refusal(INVALID)  # never name a unit out of reach from an id in a button
    unit, _root = await _unit(turn, org.code)
    return unit


@turn_handler()
async def decide_button(turn: Turn) -> None:
    parts = turn.query.data.removeprefix(PREFIX).split(":")
    if len(parts) != 2 or parts[0] not in ("ok", "ov"):
        raise Refusal(INVALID)
    unit = await _unit_from_button(turn, parts[1])
    view = await service.decision_view(turn.session, unit, await _cycle(turn, unit))
    t = turn.t
    if parts[0] == "ok":
        await turn.answer()
        if view.blocked or not view.proposals:
            await turn.edit(view_text(t, view), reply_markup=view_keyboard(t, view))
            return
        await turn.edit(view_text(t, view))
        await _decide(turn, view, None)
        return
    if not view.blocked:
        await turn.answer()
        await turn.edit(view_text(t, view), reply_markup=view_keyboard(t, view))
        return
    await flows.begin(turn, OVERRIDE_FLOW, "reason", org=unit.id)
    await turn.answer()
    await flows.ask(
        turn,
        OVERRIDE_FLOW,
        t(
            "Write the reason for deciding the levels of {org} despite the breaches. "
            "It is kept in the audit log.",
            org=esc(unit.name),
        )
    )


async def reason_given(turn: Turn, state: FlowState, text: str) -> None:
    reason = text.strip()
    if len(reason) < MIN_REASON or len(reason) > MAX_REASON:
        raise Refusal(
            "Write a reason of {min} to {max} characters.", min=MIN_REASON, max=MAX_REASON
        )
    org = await turn.session.get(Organisation, flows.payload(state)["org"])
    await flows.finish(turn)
    if org is None:
        raise Refusal(INVALID)
    unit, _root = await _unit(turn, org.code)
    view = await service.decision_view(turn.session, unit, await _cycle(turn, unit))
    if not view.proposals:
        await turn.reply(view_text(turn.t, view))
        return
    await _decide(turn, view, reason if view.blocked else None)


async def _decide(turn: Turn, view: service.DecisionView, reason: str | None) -> None:
    session, services, t = turn.session, turn.services, turn.t
    decided = await service.decide(
        session, view, actor=turn.actor, now=services.now(), reason=reason
    )
    # Who to tell, read before the commit releases the session.
    members = []
    for r in decided:
        members.append((r, await service.reachable_account(session, r.member.id)))
    by_cell: dict[int, list[RatedMember]] = {}
    for r in decided:
        by_cell.setdefault(r.member.org_id, []).append(r)
    secretaries = {
        cell_id: await service.role_accounts(session, cell_id, (RoleKind.SECRETARY,))
        for cell_id in by_cell
    }
    cells = {cell_id: await session.get(Organisation, cell_id) for cell_id in by_cell}
    year, unit_name = view.cycle.year, view.unit.name
    decider = (await service.deciding_level(session, view.unit) or view.unit).name

    unreachable = 0
    for r, account in members:
        if account is None:
            unreachable += 1
            continue
        mt = translator_for(account, services)
        text = mt(
            N_("{org} has decided your quality rating for {year}: {level}."),
            org=esc(decider),
            year=year,
            level="<b>" + esc(level_label(mt, r.rating.decided_level)) + "</b>",
        )
        text += "\n" + mt(N_("If you disagree you may send a written appeal with /khieu_nai."))
        if not await _send(turn, account.telegram_id, text):
            unreachable += 1
    for cell_id, rated in by_cell.items():
        for _member, account in secretaries[cell_id]:
            st = translator_for(account, services)
            lines = [
                st(
                    N_("Levels decided for {cell}, {year}:"),
                    cell=f"<b>{esc(cells[cell_id].name)}</b>",
                    year=year,
                )
            ]
            lines += [
                f"{i}. {esc(r.member.full_name)}: {r.rating.decided_level}"
                for i, r in enumerate(rated, 1)
            ]
            await _send(turn, account.telegram_id, "\n".join(lines))
    summary = t(
        "Decided {count} levels for {org}, {year}.",
        count=t.number(len(decided)),
        org=esc(unit_name),
        year=year,
    )
    if reason:
        summary += "\n" + t("The breaches were overridden; your reason is in the audit log.")
    if unreachable:
        summary += "\n" + t(
            "{count} members could not be told: they have not started the bot.",
            count=t.number(unreachable),
        )
    await turn.reply(summary)


async def _send(turn: Turn, chat_id: int, text: str) -> bool:
    """Owed after the decision commits (the outbox); a 403 then marks the account blocked."""
    turn.notify(chat_id, text)
    return True


# --- re-rating (R-A2) ----------------------------------------------------------------------------


async def _decided_rating(turn: Turn, member: Member) -> tuple[Rating, Organisation, Cycle]:
    cell = await turn.session.get(Organisation, member.org_id)
    root = await service.deciding_level(turn.session, cell)
    turn.require(Action.DECIDE, root or cell)
    cycle = await _cycle(turn, cell)
    rating = await turn.session.scalar(
        select(Rating).where(
            Rating.cycle_id == cycle.id,
            Rating.member_id == member.id,
            Rating.state == RatingState.DECIDED,
        )
    )
    if rating is None:
        raise Refusal(
            "{name} has no decided level for {year} to cancel.",
            name=esc(member.full_name),
            year=cycle.year,
        )
    return rating, root or cell, cycle


@turn_handler()
async def rerate_command(turn: Turn) -> None:
    turn.require_member()
    args = turn.context.args or []
    if not args:
        raise Refusal("Give the member's code, e.g. /xep_loai_lai DV001.")
    member = await member_by_code(turn, args[0])
    rating, _root, cycle = await _decided_rating(turn, member)
    await flows.begin(turn, RERATE_FLOW, "reason", rating=rating.id)
    await flows.ask(
        turn,
        RERATE_FLOW,
        turn.t(
            "Cancel the decided level {level} of {name} for {year} so that it is redone? "
            "Write the reason; /help to leave it.",
            level=rating.decided_level,
            name=f"<b>{esc(member.full_name)}</b>",
            year=cycle.year,
        )
    )


async def rerate_reason(turn: Turn, state: FlowState, text: str) -> None:
    reason = text.strip()
    if len(reason) < MIN_REASON or len(reason) > MAX_REASON:
        raise Refusal(
            "Write a reason of {min} to {max} characters.", min=MIN_REASON, max=MAX_REASON
        )
    rating = await turn.session.get(Rating, flows.payload(state)["rating"])
    await flows.finish(turn)
    if rating is None or rating.state != RatingState.DECIDED:
        raise Refusal("This level is no longer decided; nothing was cancelled.")
    member = await turn.session.get(Member, rating.member_id)
    await _decided_rating(turn, member)  # authorised again
    old_level = rating.decided_level
    cycle = await turn.session.get(Cycle, rating.cycle_id)
    await service.cancel_decided(
        turn.session, rating, actor=turn.actor, now=turn.services.now(), reason=reason
    )
    account = await service.reachable_account(turn.session, member.id)
    secretaries = await service.role_accounts(turn.session, member.org_id, (RoleKind.SECRETARY,))
    name, year = member.full_name, cycle.year
    services, t = turn.services, turn.t
    if account is not None:
        mt = translator_for(account, services)
        await _send(
            turn,
            account.telegram_id,
            mt(
                N_(
                    "Your decided level {level} for {year} was cancelled to be redone. Reason: {reason}"
                ),
                level=old_level,
                year=year,
                reason=esc(reason),
            ),
        )
    for _secretary, sec_account in secretaries:
        if account is not None and sec_account.telegram_id == account.telegram_id:
            continue
        st = translator_for(sec_account, services)
        await _send(
            turn,
            sec_account.telegram_id,
            st(
                N_(
                    "The decided level {level} of {name} for {year} was cancelled to be redone: "
                    "the cell rates the member again. Reason: {reason}"
                ),
                level=old_level,
                name=esc(name),
                year=year,
                reason=esc(reason),
            ),
        )
    await turn.reply(
        t(
            "Cancelled the level {level} of {name} for {year}; the history keeps it. "
            "The cell rates the member again, then you decide.",
            level=old_level,
            name=f"<b>{esc(name)}</b>",
            year=year,
        )
    )


OVERRIDE_FLOW = flows.declare(
    flows.Flow(
        "decision_override",
        N_("deciding levels despite the breaches"),
        (flows.Step("reason", on_text=reason_given),),
        entry=("quyet_dinh",),
    )
)
RERATE_FLOW = flows.declare(
    flows.Flow(
        "rerate",
        N_("cancelling a decided level"),
        (flows.Step("reason", on_text=rerate_reason),),
        entry=("xep_loai_lai",),
    )
)

HANDLERS = [
    CommandHandler("quyet_dinh", decide_command),
    CommandHandler("xep_loai_lai", rerate_command),
    CallbackQueryHandler(decide_button, pattern=f"^{PREFIX}"),
]
