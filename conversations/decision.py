"""The flows that take a written text and then ask to confirm: deciding despite breaches,
re-rating, an appeal and its answer (``confirmed_flow``), for a member's level or a unit's
rating alike (issue 14: ``Rerating``, ``Appealing``).

Each of those flows writes something that cannot be undone, so its last step shows what will
happen and waits for "✅ Confirm" (or "✖ Cancel", the engine's). A press is taken only while
the user's flow stands at that step, with the step's target and permission required again: a
stale confirmation never acts.
"""

from __future__ import annotations

from collections.abc import Awaitable
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from typing import Protocol

from telegram import InlineKeyboardMarkup
from telegram.ext import CallbackQueryHandler

from bot.i18n import Translator
from bot.permissions import Action
from conversations import engine as flows
from handlers.base import Refusal
from handlers.base import Turn
from storage.models import FlowState
from storage.models import Organisation

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


# What the re-rating and appeal flows act on, a member's level or a unit's rating alike
# (issue 14): the flows' payload names it, a loader finds it (authorised again), and these
# say what each step shows and does.


@dataclass(frozen=True)
class Rerating:
    """A decided level to cancel (R-A2)."""

    prompt: Callable[[Translator], str]
    confirm_text: Callable[[Translator, str], str]  # with the reason
    cancel: Callable[[Turn, str], Awaitable[None]]  # with the reason: cancel, tell, reply


@dataclass(frozen=True)
class Appealing:
    """A decided level appealed against (R-A1)."""

    kind: str  # the answer button's: "a" a member's appeal, "u" a unit's
    deciding_org: Organisation
    prompt: Callable[[Translator], str]
    head: Callable[[Translator, str], str]  # with the filer's name: heads the appeal sent
    file: Callable[[Turn, str], Awaitable[int]]  # with the text: stores it, returns its id


Loader = Callable[[Turn, dict], Awaitable[Any]]


async def open_flow(turn: Turn, flow: flows.Flow, step: str, load: Loader, values: dict) -> None:
    """Enter `flow` at `step` about what `load` finds from the payload `values` (refused
    before the flow opens when it is not there or not allowed) and ask its prompt."""
    subject = await load(turn, values)
    await flows.begin(turn, flow, step, **values)
    await flows.ask(turn, flow, subject.prompt(turn.t))


async def reload(turn: Turn, load: Loader, state: FlowState) -> Any:
    """The flow's subject found again from its payload (still decided, still allowed); the
    flow ends when it is not."""
    try:
        return await load(turn, flows.payload(state))
    except Refusal:
        await flows.finish(turn)
        raise


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


async def ask_to_confirm(
    turn: Turn, state: FlowState, text: str, /, *,
    reply_markup: InlineKeyboardMarkup | None = None, **values: Any,
) -> None:
    """Move the user's flow to its confirmation step, keeping `values` (the text written),
    and show what will happen (`text`) with "✅ Confirm": the keyboard of a `confirmed_flow`,
    or `reply_markup` (a flow whose confirmation names what it is about, e.g. a meeting)."""
    flow = flows.FLOWS[state.flow]
    await flows.move(turn, state, CONFIRM, **values)
    keyboard = reply_markup or CONFIRMATIONS[flow.name].keyboard(turn.t, flow.name)
    await flows.ask(turn, flow, text, reply_markup=keyboard)


async def confirmed(turn: Turn, flow: flows.Flow, **about: Any) -> FlowState:
    """The user's state at the confirmation step of `flow` (about what `about` names, in its
    payload), its target found and permission required as the step declares; the pressed
    message loses its buttons either way, and a press on a step left or done, or about
    something else, is refused as stale."""
    state = await flows.pressed_at(turn, flow, CONFIRM, **about)
    await turn.edit_keyboard(None)
    await turn.answer()
    return state


async def confirm(turn: Turn, name: str) -> None:
    """"✅ Confirm" pressed under the flow `name` (a typed button names it; see
    confirmed_flow)."""
    state = await confirmed(turn, flows.FLOWS[name])
    await CONFIRMATIONS[name].on_confirm(turn, state)


async def _confirm_pressed(turn: Turn) -> None:
    await confirm(turn, turn.button.flow)


def confirm_handler(button: type[FlowConfirm]) -> CallbackQueryHandler:
    """The handler of a feature's "✅ Confirm" button, which names its flow (`button.flow`)."""
    return flows.press_handler(button, _confirm_pressed)
