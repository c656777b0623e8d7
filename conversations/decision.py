"""The confirmation step the decision, re-rating, appeal and answer flows end with.

Each of those flows writes something that cannot be undone, so its last step shows what will
happen and waits for "✅ Confirm" (or "✖ Cancel", the engine's). A press is taken only while
the user's flow stands at that step: a stale confirmation never acts.
"""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardMarkup

from conversations import engine as flows
from handlers.base import Turn
from storage.models import FlowState

CONFIRM = "confirm"


async def ask_to_confirm(
    turn: Turn,
    flow: flows.Flow,
    state: FlowState,
    text: str,
    keyboard: InlineKeyboardMarkup,
    /,
    **values: Any,
) -> None:
    """Move to the confirmation step, keeping `values`, and show what will happen."""
    await flows.move(turn, state, CONFIRM, **values)
    await flows.ask(turn, flow, text, reply_markup=keyboard)


async def confirmed(turn: Turn, flow: flows.Flow) -> FlowState:
    """The user's state at the confirmation step of `flow`, its target found and permission
    required as the step declares; the pressed message loses its buttons either way, and a
    press on a step left or done is refused as stale."""
    state = await flows.pressed_at(turn, flow, CONFIRM)
    await turn.answer()
    return state
