"""The flows that take a written text and then ask to confirm: deciding despite breaches,
re-rating, an appeal and its answer (``confirmed_flow``).

Each of those flows writes something that cannot be undone, so its last step shows what will
happen and waits for "✅ Confirm" (or "✖ Cancel", the engine's). A press is taken only while
the user's flow stands at that step, with the step's target and permission required again: a
stale confirmation never acts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from telegram import InlineKeyboardMarkup
from telegram.ext import CallbackQueryHandler

from bot.i18n import Translator
from bot.permissions import Action
from conversations import engine as flows
from handlers.base import Turn, turn_handler
from storage.models import FlowState

CONFIRM = "confirm"
Confirmed = Callable[[Turn, FlowState], Awaitable[None]]
ConfirmKeyboard = Callable[[Translator, str], InlineKeyboardMarkup]  # (t, flow name)


@dataclass(frozen=True)
class Confirmation:
    """A confirmed flow's last step: its "✅ Confirm" keyboard, and what a press does."""

    keyboard: ConfirmKeyboard
    on_confirm: Confirmed


CONFIRMATIONS: dict[str, Confirmation] = {}  # by flow name


class FlowConfirm(Protocol):
    """A typed "✅ Confirm" button (bot.callbacks.ButtonData) that names its flow."""

    flow: str

    @classmethod
    def decode(cls, data: str | None) -> FlowConfirm: ...

    @classmethod
    def pattern(cls) -> str: ...


def confirmed_flow(
    name: str,
    title: str,
    step: str,
    on_text: flows.TextHandler,
    on_confirm: Confirmed,
    keyboard: ConfirmKeyboard,
    *,
    action: Action | None = None,
    target: flows.StepTarget | None = None,
    entry: tuple[str, ...] = (),
) -> flows.Flow:
    """Declare a flow whose `step` takes a written text (`on_text`, which moves on with
    `ask_to_confirm`), then a confirmation under `keyboard` (`on_confirm` runs on "✅"); both
    steps act on the same target with the same permission."""
    steps = (flows.Step(step, on_text, action, target), flows.Step(CONFIRM, None, action, target))
    flow = flows.declare(flows.Flow(name, title, steps, entry=entry))
    CONFIRMATIONS[name] = Confirmation(keyboard, on_confirm)
    return flow


async def ask_to_confirm(turn: Turn, state: FlowState, text: str, /, **values: Any) -> None:
    """Move the user's confirmed flow to its confirmation step, keeping `values` (the text
    written), and show what will happen (`text`) with "✅ Confirm"."""
    flow = flows.FLOWS[state.flow]
    await flows.move(turn, state, CONFIRM, **values)
    keyboard = CONFIRMATIONS[flow.name].keyboard(turn.t, flow.name)
    await flows.ask(turn, flow, text, reply_markup=keyboard)


async def confirmed(turn: Turn, flow: flows.Flow) -> FlowState:
    """The user's state at the confirmation step of `flow`, its target found and permission
    required as the step declares; the pressed message loses its buttons either way, and a
    press on a step left or done is refused as stale."""
    state = await flows.pressed_at(turn, flow, CONFIRM)
    await turn.edit_keyboard(None)
    await turn.answer()
    return state


async def confirm(turn: Turn, name: str) -> None:
    """"✅ Confirm" pressed under the flow `name` (a typed button names it; see
    confirmed_flow)."""
    state = await confirmed(turn, flows.FLOWS[name])
    await CONFIRMATIONS[name].on_confirm(turn, state)


def confirm_handler(button: type[FlowConfirm]) -> CallbackQueryHandler:
    """The handler of a feature's "✅ Confirm" button, which names its flow (`button.flow`)."""

    @turn_handler(button=button)
    async def confirm_pressed(turn: Turn) -> None:
        await confirm(turn, turn.button.flow)

    return CallbackQueryHandler(confirm_pressed, pattern=button.pattern())
