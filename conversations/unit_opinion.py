"""/y_kien as one declared flow: the unit (where the person may speak on several) → the body
(where they may speak for several) → a level or none → the written assessment → confirm.

The answers are the flow's payload, written in each turn's own transaction; nothing is saved
before the last step, and /huy (or ✖ Hủy) leaves from any step. Every answer checks again that
the unit still waits for opinions and that the person still speaks for the body
(``bot.permissions.speaks_for``, read from their roles at that moment).
"""

from __future__ import annotations

from bot.i18n import N_
from bot.permissions import Action
from bot.permissions import grants_for
from bot.services import unit_opinion as service
from bot.services.unit_opinion import TEXT_MAX
from bot.services.unit_opinion import TEXT_MIN
from bot.services.unit_opinion import OpenReview
from bot.text import esc
from conversations import engine as flows
from handlers import scope
from handlers.base import Refusal
from handlers.base import Turn
from handlers.base import act_on
from handlers.views import unit_opinion as views
from rules.levels import Level
from storage.models import FlowState
from storage.models import ParticipantBody

UNIT, BODY, LEVEL, TEXT, CONFIRM = "unit", "body", "level", "text", "confirm"
INVALID = N_("This button is no longer valid.")


async def start(turn: Turn, code: str | None) -> None:
    """/y_kien [code]: the reviews of the unit named, or of every unit in reach, waiting for an
    opinion the person may give."""
    turn.require_member()
    grants = turn.identity.grants
    org = await scope.unit_by_code(turn, code) if code else None
    items = await service.open_reviews(turn.session, grants, org)
    if not items:
        if org is not None:  # refused as any command on it would be, else nothing waits
            await act_on(turn, Action.GIVE_OPINION, org)
            raise Refusal("Nothing of {org} waits for your opinion now.", org=esc(org.name))
        if not grants_for(grants, Action.GIVE_OPINION):
            raise Refusal("This is for the representatives of the participating bodies and for "
                          "the organising office.")
        raise Refusal("No organisation within your reach waits for opinions now.")
    if len(items) == 1:
        await _to_body(turn, None, items[0])
        return
    await flows.begin(turn, OPINION_FLOW, UNIT)
    text, markup = views.units_screen(turn.t, items)
    await flows.ask(turn, OPINION_FLOW, text, reply_markup=markup)


async def _go(turn: Turn, state: FlowState | None, step: str, **values) -> None:
    if state is None:
        await flows.begin(turn, OPINION_FLOW, step, **values)
    else:
        await flows.move(turn, state, step, **values)


async def _to_body(turn: Turn, state: FlowState | None, item: OpenReview) -> None:
    if len(item.bodies) == 1:
        await _to_level(turn, state, item, item.bodies[0])
        return
    await _go(turn, state, BODY, review=item.review.id)
    text, markup = views.bodies_screen(turn.t, item)
    await flows.ask(turn, OPINION_FLOW, text, reply_markup=markup)


async def _to_level(turn: Turn, state: FlowState | None, item: OpenReview, body: ParticipantBody) -> None:
    await _go(turn, state, LEVEL, review=item.review.id, body=body.value)
    earlier = await service.opinion_of(turn.session, item.review.id, body)
    text, markup = views.level_screen(turn.t, item, body, earlier)
    await flows.ask(turn, OPINION_FLOW, text, reply_markup=markup)


async def _item(turn: Turn, review_id: int, body: str | None = None) -> OpenReview:
    """The review, still waiting for an opinion the person may give (for `body`); the flow
    ends otherwise."""
    item = await service.open_review(turn.session, turn.identity.grants, review_id)
    if item is None or (body is not None and ParticipantBody(body) not in item.bodies):
        await flows.finish(turn)
        raise Refusal("This organisation no longer waits for your opinion (its rating may be "
                      "decided, or your role changed).")
    return item


def _level(value: str | None) -> Level | None:
    return Level(value) if value and value != views.NO_LEVEL else None


async def pressed(turn: Turn) -> None:
    """An /y_kien button (turn.button), taken only at the step it belongs to."""
    state = await flows.active(turn, OPINION_FLOW)
    button: views.OpinionButton = turn.button
    if state is None:
        raise Refusal(INVALID)
    values = flows.payload(state)
    step, action = state.step, button.action
    same = values.get("review") == button.review_id
    if action == "unit" and step == UNIT:
        item = await _item(turn, button.review_id)
        await _done_pressing(turn)
        await _to_body(turn, state, item)
    elif action == "body" and step == BODY and same and button.choice in _BODIES:
        item = await _item(turn, button.review_id, button.choice)
        await _done_pressing(turn)
        await _to_level(turn, state, item, ParticipantBody(button.choice))
    elif action == "level" and step == LEVEL and same and button.choice in _LEVELS:
        item = await _item(turn, button.review_id, values["body"])
        await _done_pressing(turn)
        await flows.move(turn, state, TEXT, level=button.choice)
        prompt = views.text_prompt(turn.t, item, ParticipantBody(values["body"]), _level(button.choice))
        await flows.ask(turn, OPINION_FLOW, prompt)
    elif action == "save" and step == CONFIRM and same:
        item = await _item(turn, button.review_id, values["body"])
        await _done_pressing(turn)
        body = ParticipantBody(values["body"])
        await service.save_opinion(turn.session, item, body, _level(values["level"]), values["text"],
                                   actor=turn.actor, now=turn.services.now())
        await flows.finish(turn)
        await turn.reply(views.saved_text(turn.t, item, body))
    else:
        raise Refusal(INVALID)


_BODIES = frozenset(b.value for b in ParticipantBody)
_LEVELS = frozenset({*(level.value for level in Level), views.NO_LEVEL})


async def _done_pressing(turn: Turn) -> None:
    await turn.answer()
    await turn.edit_keyboard(None)


async def opinion_text(turn: Turn, state: FlowState, text: str) -> None:
    values = flows.payload(state)
    body = text.strip()
    if not TEXT_MIN <= len(body) <= TEXT_MAX:
        await flows.ask(turn, OPINION_FLOW, views.bad_length(turn.t))
        return
    item = await _item(turn, values["review"], values["body"])
    await flows.move(turn, state, CONFIRM, text=body)
    screen = views.confirm_screen(turn.t, item, ParticipantBody(values["body"]),
                                  _level(values["level"]), len(body))
    await flows.ask(turn, OPINION_FLOW, screen[0], reply_markup=screen[1])


OPINION_FLOW = flows.declare(
    flows.Flow(
        "unit_opinion",
        N_("giving a participating body's opinion"),
        (
            flows.Step(UNIT),
            flows.Step(BODY),
            flows.Step(LEVEL),
            flows.Step(TEXT, on_text=opinion_text),
            flows.Step(CONFIRM),
        ),
        entry=("y_kien",),
        kept=N_("The opinion was not saved."),
    )
)
