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

``Action.DECIDE`` is required on the deciding level (``bot.services.decision.deciding_level``,
``bot.services.units.deciding_org``): each handler and each step of the flows declares its
target, which says where (``handlers.base.Reach``).

Units (issue 14, part C; handlers/unit_decision.py): ``/quyet_dinh`` first shows the ratings of
the organisations and collectives the named organisation decides (or of the named unit under
its deciding level), with the participants' opinions and the R-Q7 breaches, and "⬇" to lower
a proposal; ``/xep_loai_lai`` takes an organisation's code too. Deciding despite breaches and
re-rating are the same two flows for members and units: their payload says which (``kind``,
``unit_rating``), and a ``Deciding`` or a rerating object does the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from telegram import InlineKeyboardMarkup
from telegram.ext import CallbackQueryHandler
from telegram.ext import CommandHandler

from bot.i18n import N_
from bot.i18n import Translator
from bot.permissions import Action
from bot.services import decision as service
from bot.services import orgs
from bot.services.decision import DecisionView
from bot.text import esc
from conversations import engine as flows
from conversations.decision import Rerating
from conversations.decision import ask_to_confirm
from conversations.decision import confirm_handler
from conversations.decision import confirmed_flow
from conversations.decision import open_flow
from conversations.decision import reload
from handlers import appeal
from handlers import scope
from handlers import unit_decision as units
from handlers.base import Found
from handlers.base import Reach
from handlers.base import Refusal
from handlers.base import Turn
from handlers.base import act_on
from handlers.base import translator_for
from handlers.base import turn_handler
from handlers.scope import decision_unit
from handlers.views import decision as views
from handlers.views import unit_decision as unit_views
from handlers.views.decision import GIVE_MEMBER_CODE
from handlers.views.decision import DecideButton
from handlers.views.decision import DecisionConfirm
from handlers.views.unit_decision import UnitChoiceButton
from handlers.views.unit_decision import UnitDecideButton
from storage.models import Cycle
from storage.models import FlowState
from storage.models import Member
from storage.models import Organisation
from storage.models import RatingState

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


@dataclass(frozen=True)
class Deciding:
    """What deciding despite breaches needs of one kind (members' levels, units' ratings): the
    view named by the flow's payload (authorised again), its screen, what confirming does, and
    the decision itself."""

    view: Callable[[Turn, dict], Awaitable[Any]]
    screen: Callable[[Translator, Any], tuple[str, InlineKeyboardMarkup | None]]
    confirm_text: Callable[[Translator, Any, str], str]
    decide: Callable[[Turn, Any, str | None], Awaitable[None]]


async def _members_view(turn: Turn, values: dict) -> DecisionView:
    return await _view(turn, turn.target)  # the step's target: the unit, DECIDE on its level


async def _units_view(turn: Turn, values: dict) -> Any:
    return await units.decision_view_of(turn, values["decider"], values["scope"])


async def _override_target(turn: Turn, action: Action | None, values: dict) -> Reach:
    """Step target of deciding despite breaches: the members' unit, or the units' scope, with
    DECIDE on the level that decides."""
    if values.get("kind") == "units":
        return await units.decider_of(turn, values["decider"], values["scope"])
    return await scope.override_unit(turn, action, values)


MEMBERS = Deciding(
    _members_view,
    lambda t, view: (views.view_text(t, view), views.view_keyboard(t, view)),
    views.override_confirm_text,
    lambda turn, view, reason: _decide(turn, view, reason),
)
UNITS = Deciding(_units_view, units.screen, unit_views.override_confirm_text, units.decide)
KINDS = {"members": MEMBERS, "units": UNITS}


@turn_handler()
async def decide_command(turn: Turn) -> None:
    """The units' screen (what the named organisation decides, or the named unit), then the
    members' screen; refused when the caller may decide neither."""
    turn.require_member()
    args = turn.context.args or []
    code = args[0] if args else None
    unit_view = await units.units_named(turn, code)
    try:  # the members' part: DECIDE on its deciding level, through the one check
        await act_on(turn, Action.DECIDE, await decision_unit(turn, code))
        unit = turn.target
    except Refusal:
        if unit_view is None:
            raise
        unit = None
    if unit_view is not None:
        text, markup = units.screen(turn.t, unit_view)
        await turn.reply(text, reply_markup=markup)
    if unit is not None:
        view = await _view(turn, unit)
        await turn.reply(views.view_text(turn.t, view), reply_markup=views.view_keyboard(turn.t, view))


@turn_handler(button=DecideButton, action=Action.DECIDE, target=scope.decision_unit_pressed)
async def decide_button(turn: Turn) -> None:
    pressed: DecideButton = turn.button
    view = await _view(turn, turn.target)
    prompt = views.override_reason_prompt(turn.t, turn.target.name)
    await _pressed(turn, MEMBERS, view, pressed.action, {"org": turn.target.id}, prompt)


@turn_handler(button=UnitDecideButton, action=Action.DECIDE, target=units.decider_pressed)
async def unit_decide_button(turn: Turn) -> None:
    pressed: UnitDecideButton = turn.button
    view = await units.decision_view_of(turn, pressed.decider_id, pressed.scope_id)
    values = {"kind": "units", "decider": pressed.decider_id, "scope": pressed.scope_id}
    prompt = unit_views.override_reason_prompt(turn.t, view.decider.name)
    await _pressed(turn, UNITS, view, pressed.action, values, prompt)


async def _pressed(
    turn: Turn, kind: Deciding, view: Any, action: str, values: dict, prompt: str
) -> None:
    """"✅ Decide" (refused again while a breach stands) or "✍️ Override" (the reason flow)."""
    text, markup = kind.screen(turn.t, view)
    await turn.answer()
    if action == "ok":
        if view.blocked or not view.proposals:
            await turn.edit(text, reply_markup=markup)
            return
        await turn.edit(text)
        await kind.decide(turn, view, None)
        return
    if not view.blocked:
        await turn.edit(text, reply_markup=markup)
        return
    await flows.begin(turn, OVERRIDE_FLOW, "reason", **values)
    await flows.ask(turn, OVERRIDE_FLOW, prompt)


async def override_reason(turn: Turn, state: FlowState, text: str) -> None:
    reason = _reason(text)
    found = await _override_view(turn, state)
    if found is None:
        return
    kind, view = found
    await ask_to_confirm(turn, state, kind.confirm_text(turn.t, view, reason), reason=reason)


async def _override_view(turn: Turn, state: FlowState) -> tuple[Deciding, Any] | None:
    """The view (authorised again by the step's declaration); None when there is nothing to
    override any more: the flow ends, the screen is shown."""
    values = flows.payload(state)
    kind = KINDS[values.get("kind", "members")]
    try:
        view = await kind.view(turn, values)
    except Refusal:
        await flows.finish(turn)
        raise
    if not view.proposals or not view.blocked:
        await flows.finish(turn)
        text, markup = kind.screen(turn.t, view)
        await turn.reply(text, reply_markup=markup)
        return None
    return kind, view


async def override_confirmed(turn: Turn, state: FlowState) -> None:
    reason = flows.payload(state)["reason"]
    found = await _override_view(turn, state)
    if found is None:
        return
    kind, view = found
    await flows.finish(turn)
    await kind.decide(turn, view, reason)


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
    the target of the command, the button or the step)."""
    cell = await service.organisation(turn.session, member.org_id)
    cycle = await _cycle(turn, cell)
    rating = await service.decided_rating(turn.session, cycle, member)
    if rating is None:
        raise Refusal(
            "{name} has no decided level for {year} to cancel.",
            name=esc(member.full_name),
            year=cycle.year,
        )
    return rating, cycle


def _member_rerating(rating: Any, member: Member, cycle: Cycle) -> Rerating:
    """A member's decided level to cancel (the members' side of the shared flow)."""
    level, name, year = rating.decided_level, member.full_name, cycle.year

    async def cancel(turn: Turn, reason: str) -> None:
        await service.cancel_decided(
            turn.session, rating, actor=turn.actor, now=turn.services.now(), reason=reason
        )
        account = await service.reachable_account(turn.session, member.id)
        services = turn.services
        if account is not None:
            mt = translator_for(account, services)
            turn.notify(account.telegram_id, views.rerate_member_notice(mt, level, year, reason))
        for secretary in await service.secretary_accounts(turn.session, member.org_id):
            if account is not None and secretary.telegram_id == account.telegram_id:
                continue
            st = translator_for(secretary, services)
            text = views.rerate_secretary_notice(st, level, name, year, reason)
            turn.notify(secretary.telegram_id, text)
        await turn.reply(views.rerate_done(turn.t, level, name, year))

    return Rerating(
        lambda t: views.rerate_reason_prompt(t, level, name, year),
        lambda t, reason: views.rerate_confirm_text(t, level, name, year, reason),
        cancel,
    )


async def _rerated(turn: Turn, action: Action | None) -> Reach:
    """Target of /xep_loai_lai CODE: the member's cell, or the organisation, with DECIDE on the
    level that decides for it. A code neither of a member nor of an organisation within reach
    is answered the same way whether it exists or not."""
    turn.require_member()
    args = turn.context.args or []
    if not args:
        raise Refusal(GIVE_MEMBER_CODE)
    found = await scope.member_or_unit(turn, args[0])
    if isinstance(found, Organisation):
        return await units.rerated_unit(turn, found)
    return await scope.decided_at(turn, await orgs.organisation(turn.session, found.org_id))


@turn_handler(action=Action.DECIDE, target=_rerated)
async def rerate_command(turn: Turn) -> None:
    """``/xep_loai_lai CODE``: a member's code, else an organisation's (its decided ratings)."""
    found = await scope.member_or_unit(turn, turn.context.args[0])
    if isinstance(found, Organisation):
        decided = await units.rerate_choices(turn, turn.target)
        await units.open_on(turn, decided, "rerate", RERATE_FLOW, "reason", _rerating_of)
        return
    rating, cycle = await _decided(turn, found)
    await open_flow(turn, RERATE_FLOW, "reason", _rerating_of, {"rating": rating.id})


async def _chosen(turn: Turn, action: Action | None) -> Reach:
    """Target of a unit's decided rating chosen: re-rating it needs DECIDE on its deciding
    level; appealing needs no role (its head appeals: the appeal's loader checks that)."""
    pressed: UnitChoiceButton = turn.button
    found = await units.rating_decider(turn, pressed.rating_id)
    return found if pressed.flow == "rerate" else Reach(found.org, None)


@turn_handler(button=UnitChoiceButton, action=Action.DECIDE, target=_chosen)
async def unit_choice_pressed(turn: Turn) -> None:
    """One of a unit's decided ratings chosen: the re-rating or the appeal flow opens on it."""
    pressed: UnitChoiceButton = turn.button
    flow, step, load = (
        (RERATE_FLOW, "reason", _rerating_of)
        if pressed.flow == "rerate"
        else (appeal.APPEAL_FLOW, "text", appeal.appealing_of)
    )
    await turn.answer()
    await open_flow(turn, flow, step, load, {"unit_rating": pressed.rating_id})


async def _rerate_target(turn: Turn, action: Action | None, values: dict) -> Found:
    """Step target of re-rating: the member's cell or the unit, DECIDE on its deciding level."""
    if "unit_rating" in values:
        return await units.rating_decider(turn, values["unit_rating"])
    return await scope.rerate_cell(turn, action, values)


async def _rerating_of(turn: Turn, values: dict) -> Rerating:
    """The rating the payload names, still decided (its target required DECIDE)."""
    if "unit_rating" in values:
        return await units.rerating(turn, values["unit_rating"])
    found = await service.rating_subject(turn.session, values["rating"])
    if found is None or found[0].state != RatingState.DECIDED:
        raise Refusal(views.NO_LONGER_DECIDED)
    rating, member, cycle = found
    await _decided(turn, member)
    return _member_rerating(rating, member, cycle)


async def rerate_reason(turn: Turn, state: FlowState, text: str) -> None:
    reason = _reason(text)
    subject = await reload(turn, _rerating_of, state)
    await ask_to_confirm(turn, state, subject.confirm_text(turn.t, reason), reason=reason)


async def rerate_confirmed(turn: Turn, state: FlowState) -> None:
    reason = flows.payload(state)["reason"]
    subject = await reload(turn, _rerating_of, state)
    await flows.finish(turn)
    await subject.cancel(turn, reason)


# --- the flows and their confirmation ------------------------------------------------------------


def _decision_flow(name: str, title: str, on_text, on_confirm, target, command: str) -> flows.Flow:
    """Deciding and re-rating alike: a reason, then a confirmation, with DECIDE required on
    the deciding level of the flow's subject (`target`) at each step."""
    return confirmed_flow(
        name, title, "reason", on_text, on_confirm, views.confirm_keyboard, action=Action.DECIDE,
        target=target, entry=(command,),
    )


OVERRIDE_FLOW = _decision_flow(
    "decision_override", N_("deciding levels despite the breaches"), override_reason,
    override_confirmed, _override_target, "quyet_dinh",
)
RERATE_FLOW = _decision_flow(
    "rerate", N_("cancelling a decided level"), rerate_reason, rerate_confirmed,
    _rerate_target, "xep_loai_lai",
)

HANDLERS = [
    CommandHandler("quyet_dinh", decide_command),
    CommandHandler("xep_loai_lai", rerate_command),
    CallbackQueryHandler(decide_button, pattern=DecideButton.pattern()),
    confirm_handler(DecisionConfirm),
    # Units (issue 14, part C).
    CallbackQueryHandler(unit_decide_button, pattern=UnitDecideButton.pattern()),
    CallbackQueryHandler(unit_choice_pressed, pattern=UnitChoiceButton.pattern()),
    *units.HANDLERS,
]
