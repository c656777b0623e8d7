"""The decision on units at the Telegram edge (issue 14, part C): the units' part of
/quyet_dinh, lowering a unit's proposal (the flow ``unit_lower``: the level, the reason, a
confirmation), and the units' side of deciding despite breaches, /xep_loai_lai and
/khieu_nai, whose flows (handlers/decision.py, handlers/appeal.py) serve members and units
alike. ``Action.DECIDE`` is required on the unit's deciding level
(``bot.services.units.deciding_org``), again on every press and typed answer: the targets here
say where (``handlers.base.Reach``), and the handlers and steps declare them.
"""

from __future__ import annotations

import datetime as dt

from telegram.ext import CallbackQueryHandler

from bot.i18n import N_
from bot.permissions import Action
from bot.services import unit_appeal as appeals
from bot.services import unit_decision as service
from bot.services.unit_decision import RatedUnit
from bot.services.unit_decision import UnitDecisionView
from bot.services.units import deciding_org
from bot.text import esc
from conversations import engine as flows
from conversations.decision import CONFIRM
from conversations.decision import Appealing
from conversations.decision import Rerating
from conversations.decision import open_flow
from conversations.plan import lowering_flow
from handlers.base import Reach
from handlers.base import Refusal
from handlers.base import Turn
from handlers.base import translator_for
from handlers.base import turn_handler
from handlers.scope import INVALID
from handlers.scope import can_see
from handlers.scope import named
from handlers.scope import own_grant_org
from handlers.scope import unit_by_code
from handlers.views import unit_decision as views
from handlers.views.unit_decision import UnitLowerButton
from rules.levels import Level
from storage.models import FlowState
from storage.models import Organisation
from storage.queries import org_by_id

LOWER_REASON_MIN, LOWER_REASON_MAX = 3, 1000


def _today(turn: Turn) -> dt.date:
    return turn.services.now().astimezone(turn.services.settings.tz).date()


# --- the units' part of /quyet_dinh ----------------------------------------------------------------


async def units_named(turn: Turn, code: str | None) -> UnitDecisionView | None:
    """The units' decision screen for ``/quyet_dinh [code]``: the units the named organisation
    decides, or the named unit under its deciding level; None when there is no unit to show or
    the caller may not decide them (the members' part then answers, or refuses)."""
    org = await unit_by_code(turn, code) if code else await own_grant_org(turn, Action.DECIDE)
    if org is None:
        return None
    scope = await service.scope_of(turn.session, org)
    if scope is None or not turn.may(Action.DECIDE, scope[0]):
        return None
    cycle = await service.plan_of(turn.session, scope[1])
    if cycle is None:
        return None
    view = await service.decision_view(turn.session, *scope, cycle, _today(turn))
    return None if view.empty else view


async def decider_of(turn: Turn, decider_id: int, scope_id: int) -> Reach:
    """Target: the units a button or a flow names (`scope_id`), with DECIDE on the level that
    decides them (`decider_id`)."""
    turn.require_member()
    decider, scope = await org_by_id(turn.session, decider_id), await org_by_id(turn.session, scope_id)
    if decider is None or scope is None or not can_see(turn, scope):
        raise Refusal(INVALID)
    return Reach(scope, decider)


async def decider_pressed(turn: Turn, action: Action | None) -> Reach:
    """Target of a units' decision button."""
    return await decider_of(turn, turn.button.decider_id, turn.button.scope_id)


async def decision_view_of(turn: Turn, decider_id: int, scope_id: int) -> UnitDecisionView:
    """The screen a button or a flow names (its target required DECIDE on `decider_id`)."""
    decider, scope = await org_by_id(turn.session, decider_id), await org_by_id(turn.session, scope_id)
    cycle = await service.plan_of(turn.session, scope)
    if cycle is None:
        raise Refusal(INVALID)
    return await service.decision_view(turn.session, decider, scope, cycle, _today(turn))


def screen(t, view: UnitDecisionView):
    return views.view_text(t, view), views.view_keyboard(t, view)


async def decide(turn: Turn, view: UnitDecisionView, reason: str | None) -> None:
    """Decide the view's proposals; each unit's secretary (and deputies) told in their language."""
    services = turn.services
    decided = await service.decide(turn.session, view, actor=turn.actor, now=services.now(),
                                   reason=reason)
    year = view.cycle.year
    for unit in decided:
        for _member, account in await service.head_accounts(turn.session, unit.org.id):
            ht = translator_for(account, services)
            text = views.decided_notice(ht, view.decider.name, views.unit_label(ht, unit), year,
                                        unit.rating.decided_level)
            turn.notify(account.telegram_id, text)
    capped = await service.capped_heads(turn.session, view.cycle, decided)
    await turn.reply(views.decided_summary(turn.t, len(decided), view.decider.name, year,
                                           bool(reason), capped))


# --- lowering a unit's proposal (the flow "unit_lower") --------------------------------------------

LEVEL, REASON = "level", "reason"


async def rating_decider(turn: Turn, rating_id: object) -> Reach:
    """Target: the unit of a rating a button or a flow names, with DECIDE on its deciding
    level; gone or out of reach, the button is stale."""
    turn.require_member()
    found = await service.rating_unit(turn.session, rating_id, _today(turn)) if isinstance(
        rating_id, int) else None
    unit = found[0] if found is not None else None
    decider = await deciding_org(turn.session, unit.org) if unit is not None else None
    if unit is None or decider is None or not can_see(turn, unit.org):
        raise Refusal(INVALID)
    return Reach(unit.org, decider)


async def _lowered(turn: Turn, action: Action | None) -> Reach:
    """Target of a lowering button: the unit it names."""
    return await rating_decider(turn, turn.button.rating_id)


async def _lowering(turn: Turn, action: Action | None, values: dict) -> Reach:
    """Step target of the lowering flow: the unit of its payload."""
    return await rating_decider(turn, values.get("rating"))


async def _lowerable(turn: Turn, rating_id: int, level: Level | None = None) -> RatedUnit:
    """The unit's proposal, still undecided (and above `level`; DECIDE on its deciding level
    was required by the target); the lowering flow ends otherwise."""
    unit = named(await service.rating_unit(turn.session, rating_id, _today(turn)))[0]
    current = unit.level
    if unit.decided or current is None or (level is not None and not level < current):
        await _drop(turn)
        raise Refusal("This proposal can no longer be lowered: it is decided or already lower.")
    return unit


async def _drop(turn: Turn) -> None:
    if await flows.active(turn, LOWER_FLOW) is not None:
        await flows.finish(turn)


async def _at(turn: Turn, step: str, rating_id: int) -> FlowState:
    state = await flows.active(turn, LOWER_FLOW)
    if state is None or state.step != step or flows.payload(state).get("rating") != rating_id:
        raise Refusal(INVALID)
    return state


@turn_handler(button=UnitLowerButton, action=Action.DECIDE, target=_lowered)
async def lower_pressed(turn: Turn) -> None:
    pressed: UnitLowerButton = turn.button
    t = turn.t
    if pressed.action == "unit":
        unit = await _lowerable(turn, pressed.rating_id)
        if unit.level is Level.KHT:
            raise Refusal(INVALID)
        await flows.begin(turn, LOWER_FLOW, LEVEL, rating=pressed.rating_id)
        await turn.answer()
        text, markup = views.levels_screen(t, unit)
        await flows.ask(turn, LOWER_FLOW, text, reply_markup=markup)
        return
    if pressed.level is None:
        raise Refusal(INVALID)
    if pressed.action == "level":
        state = await _at(turn, LEVEL, pressed.rating_id)
        unit = await _lowerable(turn, pressed.rating_id, pressed.level)
        await flows.move(turn, state, REASON, level=pressed.level.value)
        await turn.answer()
        await turn.edit_keyboard(None)
        await flows.ask(turn, LOWER_FLOW, views.lower_reason_prompt(t, unit, pressed.level))
        return
    state = await _at(turn, CONFIRM, pressed.rating_id)
    values = flows.payload(state)
    if values.get("level") != pressed.level.value:
        raise Refusal(INVALID)
    unit = await _lowerable(turn, pressed.rating_id, pressed.level)
    old = unit.level.value
    await service.lower(turn.session, unit, pressed.level, values["reason"], actor=turn.actor,
                        now=turn.services.now())
    await flows.finish(turn)
    await turn.answer()
    await turn.edit_keyboard(None)
    await turn.reply(views.lowered_text(t, unit, old, pressed.level.value))
    decider = await deciding_org(turn.session, unit.org)
    text, markup = screen(t, await decision_view_of(turn, decider.id, decider.id))
    await turn.reply(text, reply_markup=markup)


async def lower_reason(turn: Turn, state: FlowState, text: str) -> None:
    values = flows.payload(state)
    level = Level(values["level"])
    unit = await _lowerable(turn, values["rating"], level)
    reason = text.strip()
    if not LOWER_REASON_MIN <= len(reason) <= LOWER_REASON_MAX:
        await flows.ask(turn, LOWER_FLOW, turn.t(
            "Write a reason of {min} to {max} characters.", min=LOWER_REASON_MIN,
            max=LOWER_REASON_MAX))
        return
    await flows.move(turn, state, CONFIRM, reason=reason)
    text, markup = views.lower_confirm_screen(turn.t, unit, level, reason)
    await flows.ask(turn, LOWER_FLOW, text, reply_markup=markup)


LOWER_FLOW = lowering_flow(
    "unit_lower", N_("lowering a unit's proposal"), lower_reason, Action.DECIDE, _lowering
)


# --- re-rating a unit (R-A2) and a unit's appeal (R-A1): the units' side of the shared flows -------


async def decided_units(turn: Turn, org: Organisation) -> list[RatedUnit]:
    """The unit's decided ratings in its plan (its organisation, its committee)."""
    return await service.decided_of(turn.session, org, _today(turn))


async def open_on(turn: Turn, decided: list[RatedUnit], which: str, flow: flows.Flow,
                  step: str, load) -> None:
    """Open `flow` on the unit's one decided rating, or offer the choice where the
    organisation and its committee are both decided (`which`: "rerate" or "appeal")."""
    if len(decided) > 1:
        text, markup = views.choice_screen(turn.t, which, decided)
        await turn.reply(text, reply_markup=markup)
        return
    await open_flow(turn, flow, step, load, {"unit_rating": decided[0].rating.id})


async def rerated_unit(turn: Turn, org: Organisation) -> Reach:
    """Target of ``/xep_loai_lai CODE`` of a unit: DECIDE on its deciding level (refused
    before anything about the unit is said)."""
    decider = await deciding_org(turn.session, org)
    if decider is None:
        raise Refusal("{org} is not rated as an organisation.", org=esc(org.name))
    return Reach(org, decider)


async def rerate_choices(turn: Turn, org: Organisation) -> list[RatedUnit]:
    """The unit's decided ratings to cancel one of (its target required DECIDE)."""
    found = await decided_units(turn, org)
    if not found:
        raise Refusal("{org} has no decided rating to cancel.", org=esc(org.name))
    return found


async def rerating(turn: Turn, rating_id: int) -> Rerating:
    """The unit rating, still decided (its target required DECIDE on its deciding level):
    what the shared re-rating flow shows and does for it."""
    found = await service.rating_unit(turn.session, rating_id, _today(turn))
    if found is None or not found[0].decided or not can_see(turn, found[0].org):
        raise Refusal("This rating is no longer decided; nothing was cancelled.")
    unit, cycle = found
    level, year = unit.rating.decided_level, cycle.year

    async def cancel(turn: Turn, reason: str) -> None:
        services = turn.services
        await service.cancel_decided(turn.session, unit, actor=turn.actor, now=services.now(),
                                     reason=reason)
        for _member, account in await service.head_accounts(turn.session, unit.org.id):
            ht = translator_for(account, services)
            text = views.rerate_head_notice(ht, views.unit_label(ht, unit), level, year, reason)
            turn.notify(account.telegram_id, text)
        await turn.reply(views.rerate_done(turn.t, views.unit_label(turn.t, unit), level, year))

    return Rerating(
        lambda t: views.rerate_reason_prompt(t, unit, year),
        lambda t, reason: views.rerate_confirm_text(t, unit, year, reason),
        cancel,
    )


async def appealing(turn: Turn, rating_id: int) -> Appealing:
    """The unit's decided rating its head appeals against: what the shared appeal flow shows
    and does for it."""
    turn.require_member()
    found = await appeals.filing(turn.session, turn.identity.member, rating_id, _today(turn))
    if found is None:
        raise Refusal("This rating is no longer decided; the appeal was not sent.")
    unit, year = found.unit, found.cycle.year

    async def file(turn: Turn, text: str) -> int:
        appeal = await appeals.file_appeal(turn.session, found, turn.identity.member, text,
                                           actor=turn.actor, now=turn.services.now())
        return appeal.id

    return Appealing(
        "u",
        found.deciding_org,
        lambda t: views.appeal_prompt(t, unit, year),
        lambda t, name: views.appeal_head(t, name, views.unit_label(t, unit),
                                          unit.rating.decided_level, year),
        file,
    )


async def appealable_units(turn: Turn, code: str) -> list[RatedUnit]:
    """The decided ratings of the unit named, which the caller heads."""
    turn.require_member()
    org = await unit_by_code(turn, code)
    if not await service.is_head(turn.session, turn.identity.member, org):
        raise Refusal("Only the secretary or a deputy secretary of {org} may appeal for it.",
                      org=esc(org.name))
    found = await decided_units(turn, org)
    if not found:
        raise Refusal("{org} has no decided rating to appeal against yet.", org=esc(org.name))
    return found


HANDLERS = [CallbackQueryHandler(lower_pressed, pattern=UnitLowerButton.pattern())]
