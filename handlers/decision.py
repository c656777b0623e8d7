"""/quyet_dinh: the deciding level confirms a unit's levels; /xep_loai_lai: cancel and redo one.

- ``/quyet_dinh [code]`` (a cell, or a grassroots unit for all its cells): the proposals, the
  levels already decided, and the standing quota and cap breaches. Without a breach:
  "✅ Decide". With one the decision is blocked; "✍️ Override with a reason" opens the flow
  ``decision_override``: the written reason (kept in the Decision and the audit log), then a
  confirmation that says what will happen. Every press recomputes the breaches, so a stale
  message cannot skip them.
- Each member is told their final level in their own language (R-A3); each cell's secretary
  gets the cell's list; members the bot cannot write to are counted, not messaged.
- ``/xep_loai_lai MEMBER_CODE`` opens the flow ``rerate``: the reason, then a confirmation;
  the member's decided level is cancelled (R-A2), kept as history, and a new, empty proposal
  reopens it.

``Action.DECIDE`` is checked on the deciding level (``bot.services.decision.deciding_level``).
"""

from __future__ import annotations

import logging

from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.i18n import N_
from bot.permissions import Action
from bot.services import decision as service
from bot.services.decision import DecisionView
from bot.text import esc
from conversations import engine as flows
from conversations.decision import ask_to_confirm, confirm_handler, confirmed_flow
from handlers import scope
from handlers.base import Refusal, Turn, translator_for, turn_handler
from handlers.views import decision as views
from handlers.views.decision import DecideButton, DecisionConfirm
from storage.models import Cycle, FlowState, Member, Organisation, RatingState

log = logging.getLogger(__name__)

MIN_REASON = 10
MAX_REASON = 2000


def _reason(text: str) -> str:
    reason = text.strip()
    if len(reason) < MIN_REASON or len(reason) > MAX_REASON:
        raise Refusal(
            "Write a reason of {min} to {max} characters.", min=MIN_REASON, max=MAX_REASON
        )
    return reason


async def _cycle(turn: Turn, unit: Organisation) -> Cycle:
    cycle = await service.unit_cycle(turn.session, unit)
    if cycle is None:
        raise Refusal("There is no review plan for {org} yet.", org=esc(unit.name))
    return cycle


async def _view(turn: Turn, unit: Organisation) -> DecisionView:
    return await service.decision_view(turn.session, unit, await _cycle(turn, unit))


# --- deciding ----------------------------------------------------------------------------------


@turn_handler(action=Action.DECIDE, target=scope.decision_unit_named)
async def decide_command(turn: Turn) -> None:
    view = await _view(turn, turn.target)
    await turn.reply(views.view_text(turn.t, view), reply_markup=views.view_keyboard(turn.t, view))


@turn_handler(button=DecideButton, action=Action.DECIDE, target=scope.decision_unit_pressed)
async def decide_button(turn: Turn) -> None:
    pressed: DecideButton = turn.button
    unit = turn.target
    view = await _view(turn, unit)
    t = turn.t
    await turn.answer()
    if pressed.action == "ok":
        if view.blocked or not view.proposals:
            await turn.edit(views.view_text(t, view), reply_markup=views.view_keyboard(t, view))
            return
        await turn.edit(views.view_text(t, view))
        await _decide(turn, view, None)
        return
    if not view.blocked:
        await turn.edit(views.view_text(t, view), reply_markup=views.view_keyboard(t, view))
        return
    await flows.begin(turn, OVERRIDE_FLOW, "reason", org=unit.id)
    await flows.ask(turn, OVERRIDE_FLOW, views.override_reason_prompt(t, unit.name))


async def override_reason(turn: Turn, state: FlowState, text: str) -> None:
    reason = _reason(text)
    view = await _override_view(turn)
    if view is None:
        return
    await ask_to_confirm(
        turn, state, views.override_confirm_text(turn.t, view, reason), reason=reason
    )


async def _override_view(turn: Turn) -> DecisionView | None:
    """The view of the step's unit (turn.target, authorised again by the step's declaration);
    None when there is nothing to override any more: the flow ends, the view is shown."""
    view = await _view(turn, turn.target)
    if not view.proposals or not view.blocked:
        await flows.finish(turn)
        await turn.reply(views.view_text(turn.t, view), reply_markup=views.view_keyboard(turn.t, view))
        return None
    return view


async def override_confirmed(turn: Turn, state: FlowState) -> None:
    reason = flows.payload(state)["reason"]
    view = await _override_view(turn)
    if view is None:
        return
    await flows.finish(turn)
    await _decide(turn, view, reason)


async def _decide(turn: Turn, view: DecisionView, reason: str | None) -> None:
    services, t = turn.services, turn.t
    decided = await service.decide(
        turn.session, view, actor=turn.actor, now=services.now(), reason=reason
    )
    audience = await service.decision_audience(turn.session, view, decided)
    year = view.cycle.year
    unreachable = 0
    for r, account in audience.members:
        if account is None:
            unreachable += 1
            continue
        mt = translator_for(account, services)
        text = views.decided_notice(mt, audience.decider.name, year, r.rating.decided_level)
        turn.notify(account.telegram_id, text)  # owed after the commit (the outbox)
    for cell, rated, accounts in audience.cells:
        for account in accounts:
            st = translator_for(account, services)
            turn.notify(account.telegram_id, views.cell_listing(st, cell.name, year, rated))
    await turn.reply(
        views.decided_summary(t, len(decided), view.unit.name, year, bool(reason), unreachable)
    )


# --- re-rating (R-A2) ----------------------------------------------------------------------------


async def _decided(turn: Turn, member: Member):
    """The member's decided rating and its cycle (DECIDE on the deciding level is required by
    the target of the command or the step)."""
    cycle = await _cycle(turn, turn.target)
    rating = await service.decided_rating(turn.session, cycle, member)
    if rating is None:
        raise Refusal(
            "{name} has no decided level for {year} to cancel.",
            name=esc(member.full_name),
            year=cycle.year,
        )
    return rating, cycle


@turn_handler(action=Action.DECIDE, target=scope.rerated_member_cell)
async def rerate_command(turn: Turn) -> None:
    member = await scope.member_by_code(turn, turn.context.args[0])
    rating, cycle = await _decided(turn, member)
    await flows.begin(turn, RERATE_FLOW, "reason", rating=rating.id)
    await flows.ask(
        turn,
        RERATE_FLOW,
        views.rerate_reason_prompt(turn.t, rating.decided_level, member.full_name, cycle.year),
    )


async def _rerate_subject(turn: Turn, state: FlowState):
    """The rating still decided (authorised again by the step's declaration); the flow ends
    otherwise."""
    found = await service.rating_subject(turn.session, flows.payload(state)["rating"])
    if found is None or found[0].state != RatingState.DECIDED:
        await flows.finish(turn)
        raise Refusal(views.NO_LONGER_DECIDED)
    return found


async def rerate_reason(turn: Turn, state: FlowState, text: str) -> None:
    reason = _reason(text)
    rating, member, cycle = await _rerate_subject(turn, state)
    question = views.rerate_confirm_text(
        turn.t, rating.decided_level, member.full_name, cycle.year, reason
    )
    await ask_to_confirm(turn, state, question, reason=reason)


async def rerate_confirmed(turn: Turn, state: FlowState) -> None:
    reason = flows.payload(state)["reason"]
    rating, member, cycle = await _rerate_subject(turn, state)
    await flows.finish(turn)
    old_level = rating.decided_level
    await service.cancel_decided(
        turn.session, rating, actor=turn.actor, now=turn.services.now(), reason=reason
    )
    account = await service.reachable_account(turn.session, member.id)
    services = turn.services
    if account is not None:
        mt = translator_for(account, services)
        text = views.rerate_member_notice(mt, old_level, cycle.year, reason)
        turn.notify(account.telegram_id, text)
    for secretary in await service.secretary_accounts(turn.session, member.org_id):
        if account is not None and secretary.telegram_id == account.telegram_id:
            continue
        st = translator_for(secretary, services)
        text = views.rerate_secretary_notice(st, old_level, member.full_name, cycle.year, reason)
        turn.notify(secretary.telegram_id, text)
    await turn.reply(views.rerate_done(turn.t, old_level, member.full_name, cycle.year))


# --- the flows and their confirmation ------------------------------------------------------------


def _decision_flow(name: str, title: str, on_text, on_confirm, target, command: str) -> flows.Flow:
    """Deciding and re-rating alike: a reason, then a confirmation, with DECIDE required on
    the deciding level of the flow's unit (`target`) at each step."""
    return confirmed_flow(
        name, title, "reason", on_text, on_confirm, views.confirm_keyboard, action=Action.DECIDE,
        target=target, entry=(command,),
    )


OVERRIDE_FLOW = _decision_flow(
    "decision_override", N_("deciding levels despite the breaches"), override_reason,
    override_confirmed, scope.override_unit, "quyet_dinh",
)
RERATE_FLOW = _decision_flow(
    "rerate", N_("cancelling a decided level"), rerate_reason, rerate_confirmed,
    scope.rerate_cell, "xep_loai_lai",
)

HANDLERS = [
    CommandHandler("quyet_dinh", decide_command),
    CommandHandler("xep_loai_lai", rerate_command),
    CallbackQueryHandler(decide_button, pattern=DecideButton.pattern()),
    confirm_handler(DecisionConfirm),
]
