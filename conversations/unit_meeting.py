"""The meeting order's flow (R-D3): the secretary records why the members' ballot opens before
the collectives were reviewed (``order_reason``: the reason typed, then confirmed; stored in
``Meeting.order_reason`` and shown in the minutes). The order screen itself is a step of the
``meeting`` flow (conversations/ballot.py), shown in place by ``show_meeting_step``.
"""

from __future__ import annotations

import datetime as dt

from telegram import InlineKeyboardMarkup

from bot.i18n import N_
from bot.permissions import Action
from bot.services import unit_meeting as service
from bot.text import esc
from conversations import ballot as meeting_flow
from conversations import engine as flows
from conversations.decision import CONFIRM
from conversations.decision import ask_to_confirm
from handlers.base import Refusal
from handlers.base import Turn
from handlers.scope import meeting_flow_org
from handlers.scope import named
from handlers.views import unit_meeting as views
from storage.models import FlowState
from storage.models import Meeting


def today(turn: Turn) -> dt.date:
    """The date in the bot's time zone (Vietnam's)."""
    return turn.services.now().astimezone(turn.services.settings.tz).date()


async def pressed_meeting(turn: Turn, meeting_id: int) -> Meeting:
    """The meeting a button names (a missing one is a stale button)."""
    return named(await service.meeting_by_id(turn.session, meeting_id))


def refusal(error: Exception) -> Refusal:
    """A unit service's refusal (msgid and params), its values escaped for HTML."""
    return Refusal(error.msgid, **{k: esc(v) for k, v in error.params.items()})


async def show_meeting_step(
    turn: Turn, meeting_id: int, step: str, text: str, markup: InlineKeyboardMarkup
) -> None:
    """Show a screen of the meeting in the pressed message, the ``meeting`` flow at `step`
    (entered here when the press came from another message, which becomes its prompt)."""
    state = await flows.active(turn, meeting_flow.MEETING)
    if state is not None and flows.payload(state).get("meeting") == meeting_id:
        await meeting_flow.meeting_step(turn, step)
    else:
        state = await flows.begin(turn, meeting_flow.MEETING, step, meeting=meeting_id)
        message = turn.query.message if turn.query is not None else None
        if message is not None:
            state.prompt_chat_id, state.prompt_message_id = message.chat.id, message.message_id
    await turn.edit(text, reply_markup=flows.with_cancel(turn.t, meeting_flow.MEETING, markup))


async def reasons_meeting(turn: Turn, state: FlowState) -> Meeting:
    """The meeting of the user's reason flow (its steps declare RUN_BALLOT on its
    organisation: the engine required it before this step's handler)."""
    meeting = await service.meeting_by_id(turn.session, flows.payload(state).get("meeting"))
    if meeting is None:
        await flows.finish(turn)
        raise Refusal("This button is no longer valid.")
    return meeting


async def begin_reason(turn: Turn, meeting: Meeting) -> None:
    org = await service.meeting_org(turn.session, meeting)
    await flows.begin(turn, ORDER_REASON, "reason", meeting=meeting.id)
    await flows.ask(turn, ORDER_REASON, views.reason_prompt(turn.t, org.name))


async def reason_typed(turn: Turn, state: FlowState, text: str) -> None:
    meeting = await reasons_meeting(turn, state)
    try:
        reason = service.check_reason(text)
    except service.OrderError as error:
        raise refusal(error) from None
    await ask_to_confirm(
        turn,
        state,
        views.reason_confirm_text(turn.t, reason),
        reply_markup=views.reason_confirm_keyboard(turn.t, meeting.id),
        reason=reason,
    )


async def reason_confirmed(turn: Turn, state: FlowState) -> None:
    meeting = await reasons_meeting(turn, state)
    reason = flows.payload(state)["reason"]
    await flows.finish(turn)
    await service.record_reason(turn.session, meeting, reason, actor=turn.actor)
    text, markup = views.reason_saved(turn.t, meeting.id)
    await turn.reply(text, reply_markup=markup)


ORDER_REASON = flows.declare(
    flows.Flow(
        "order_reason",
        N_("recording why the ballot goes first"),
        (
            flows.Step("reason", reason_typed, Action.RUN_BALLOT, meeting_flow_org),
            flows.Step(CONFIRM, None, Action.RUN_BALLOT, meeting_flow_org),
        ),
    )
)
