"""The confirmation step the decision, re-rating, appeal and answer flows end with.

Each of those flows writes something that cannot be undone, so its last step shows what will
happen and waits for "✅ Confirm" (or "✖ Cancel", the engine's). A press is taken only while
the user's flow stands at that step: a stale confirmation never acts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from telegram import InlineKeyboardMarkup

from bot.i18n import Translator
from conversations import engine as flows
from handlers.base import Refusal, Turn
from handlers.scope import INVALID
from storage.models import FlowState, Organisation

CONFIRM = "confirm"


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
    """The user's state at the confirmation step of `flow`; the pressed message loses its
    buttons either way, and a press on a step left or done is refused as stale."""
    state = await flows.active(turn, flow)
    await turn.edit_keyboard(None)
    if state is None or state.step != CONFIRM:
        raise Refusal(INVALID)
    await turn.answer()
    return state
