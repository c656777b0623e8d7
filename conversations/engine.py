"""One engine for every multi-step flow: declared entry points, steps and what leaving keeps.

Shaped like python-telegram-bot's ConversationHandler (examples/conversationbot.py): a flow
declares its entry commands, its steps with the handler of each, and its fallbacks. Unlike
ConversationHandler, the state lives in one database table (FlowState: user, flow, step,
payload as JSON) written in the turn's own transaction: PTB's persistence writes only every
`update_interval`, and a crash between two messages must lose nothing.

The fallbacks are the same for every flow, so they are here once:
- `/huy` (or `/cancel`, or the "✖ Hủy" button under every prompt that waits for typed text)
  leaves any flow from any step, keeps what was saved, and says so;
- any other command leaves a pending text prompt before it runs (`leave_for_command`, called
  by the turn wrapper), so typed text never lands in a flow the user has left;
- free text with no step waiting for it is answered, never dropped in silence.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton
from telegram import InlineKeyboardMarkup
from telegram.ext import BaseHandler
from telegram.ext import CallbackQueryHandler
from telegram.ext import CommandHandler
from telegram.ext import MessageHandler
from telegram.ext import filters

from bot.callbacks import ButtonData
from bot.delivery import KEYBOARD
from bot.delivery import Owed
from bot.delivery import on_sent
from bot.i18n import N_
from bot.i18n import Translator
from bot.permissions import Action
from bot.services import flow_states
from handlers.base import Found
from handlers.base import Refusal
from handlers.base import Target
from handlers.base import Turn
from handlers.base import act_on
from handlers.base import turn_handler
from storage.models import FlowState

TextHandler = Callable[[Turn, FlowState, str], Awaitable[None]]
# How a step finds the organisation it acts on, from the flow's payload (see handlers/scope.py).
StepTarget = Callable[[Turn, Action | None, dict[str, Any]], Awaitable[Found]]

CANCEL_COMMANDS = ("huy", "cancel")
PROMPT_HOOK = "flow_prompt"
NOT_EXPECTED = N_("I did not expect a message here. Send /help to see what you can do.")
INVALID = N_("This button is no longer valid.")


@dataclass(frozen=True)
class Step:
    """One step of a flow. `on_text` is set when the step waits for typed text. A step that
    acts on an organisation declares it: `target` finds it from the flow's payload and
    `action` is required on it, by the engine, before the step's handler runs (typed text, or
    the step's confirmation pressed: `pressed_at`), with the refusals of `turn_handler`."""

    name: str
    on_text: TextHandler | None = None
    action: Action | None = None
    target: StepTarget | None = None

    def __post_init__(self) -> None:
        if self.action is not None and self.target is None:
            raise ValueError(f"step {self.name}: an action is required on a target: give target=")

    @property
    def waits_for_text(self) -> bool:
        return self.on_text is not None


@dataclass(frozen=True)
class Flow:
    """A declared flow. `title` names it when it is left ("Left: {title}."); `kept` says what
    stays saved (None: the flow saves nothing before its last step)."""

    name: str
    title: str
    steps: tuple[Step, ...]
    entry: tuple[str, ...] = ()  # the commands that start it (for /help and the tests)
    kept: str | None = None
    # Commands of the same feature that run without leaving the flow (e.g. the Word file of
    # the review being written).
    keeps: tuple[str, ...] = ()
    step_names: dict[str, Step] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "step_names", {s.name: s for s in self.steps})
        if len(self.name) > 32 or any(len(s.name) > 32 for s in self.steps):
            raise ValueError(f"flow {self.name}: names are kept in 32 characters")

    def step(self, name: str) -> Step | None:
        return self.step_names.get(name)


FLOWS: dict[str, Flow] = {}


def declare(flow: Flow) -> Flow:
    """Register a flow; every flow is declared once, so /huy and the tests know them all."""
    if flow.name in FLOWS and FLOWS[flow.name] != flow:
        raise ValueError(f"flow {flow.name} is declared twice")
    FLOWS[flow.name] = flow
    return flow


class CancelButton(ButtonData, prefix="x"):
    """"✖ Hủy" under a prompt: leaves that flow (not another one started since)."""

    flow: str


def cancel_button(t: Translator, flow: Flow) -> InlineKeyboardButton:
    return InlineKeyboardButton(t("✖ Cancel"), callback_data=CancelButton(flow.name).encode())


def with_cancel(
    t: Translator, flow: Flow, markup: InlineKeyboardMarkup | None = None
) -> InlineKeyboardMarkup:
    """The prompt's keyboard with a "✖ Hủy" row at the bottom."""
    rows = [list(row) for row in markup.inline_keyboard] if markup is not None else []
    return InlineKeyboardMarkup([*rows, [cancel_button(t, flow)]])


# --- the state of a user's flow ------------------------------------------------------------


def payload(state: FlowState) -> dict[str, Any]:
    return json.loads(state.payload or "{}")


async def current(session: AsyncSession, telegram_id: int) -> FlowState | None:
    return await flow_states.load(session, telegram_id)


async def active(turn: Turn, flow: Flow) -> FlowState | None:
    """The user's state in `flow`, or None when they are elsewhere (or nowhere)."""
    state = await current(turn.session, turn.account.telegram_id)
    return state if state is not None and state.flow == flow.name else None


async def begin(turn: Turn, flow: Flow, step: str, **values: Any) -> FlowState:
    """Enter `flow` at `step` with `values` as its payload, leaving whatever flow was open."""
    _check_step(flow, step)
    state = await flow_states.load_or_new(turn.session, turn.account.telegram_id)
    _strip_prompt(turn, state)
    state.flow, state.step = flow.name, step
    state.payload = json.dumps(values, ensure_ascii=False)
    state.prompt_chat_id = state.prompt_message_id = None
    state.updated_at = turn.services.now()
    return state


async def move(turn: Turn, state: FlowState, step: str, **values: Any) -> None:
    """Go to `step`, updating the payload with `values`; the finished step's prompt loses its
    buttons."""
    _check_step(FLOWS[state.flow], step)
    _strip_prompt(turn, state)
    state.step = step
    state.payload = json.dumps({**payload(state), **values}, ensure_ascii=False)
    state.prompt_chat_id = state.prompt_message_id = None
    state.updated_at = turn.services.now()


async def finish(turn: Turn) -> FlowState | None:
    """End the user's flow (done, or left); its last prompt loses its buttons."""
    state = await current(turn.session, turn.account.telegram_id)
    if state is not None:
        _strip_prompt(turn, state)
        await flow_states.forget(turn.session, state)
    return state


async def ask(
    turn: Turn,
    flow: Flow,
    text: str,
    *,
    reply_markup: InlineKeyboardMarkup | None = None,
    keep_previous: bool = False,
) -> None:
    """Send the prompt of the user's current step, with "✖ Hủy" under it. The previous prompt
    of the flow loses its buttons (unless `keep_previous`: the same step goes on, and its
    buttons still apply), and this one's message id is recorded once sent, so its buttons go
    too when the step is left."""
    state = await active(turn, flow)
    if state is not None and not keep_previous:
        _strip_prompt(turn, state)
        state.prompt_chat_id = state.prompt_message_id = None
    owed = Owed.message(
        turn.chat_id,
        text,
        with_cancel(turn.t, flow, reply_markup),
        track=(PROMPT_HOOK, f"{turn.account.telegram_id}:{flow.name}"),
    )
    turn.owe(owed)


@on_sent(PROMPT_HOOK)
async def _prompt_sent(session: AsyncSession, ref: str, message_id: int) -> None:
    telegram_id, _, flow = ref.partition(":")
    await flow_states.prompt_sent(session, int(telegram_id), flow, message_id)  # the latest


def _strip_prompt(turn: Turn, state: FlowState) -> None:
    if state.prompt_message_id is None or state.prompt_chat_id is None:
        return
    pressed = turn.query.message if turn.query is not None else None
    if pressed is not None and pressed.message_id == state.prompt_message_id:
        return  # the press's own handler edits that message
    owed = Owed.message(
        state.prompt_chat_id, "", None, kind=KEYBOARD, message_id=state.prompt_message_id
    )
    turn.owe(owed, durable=False)


def _check_step(flow: Flow, step: str) -> None:
    if flow.step(step) is None:
        raise ValueError(f"flow {flow.name} has no step {step}")


# --- a step's declared target and permission ----------------------------------------------


async def enter_step(turn: Turn, state: FlowState) -> None:
    """Before the handler of the user's step runs: the step's target is found from the flow's
    payload (`turn.target`) and its action required on it. A refusal ends the flow: what the
    step acts on is gone, or no longer within the user's reach."""
    flow = FLOWS.get(state.flow)
    step = flow.step(state.step) if flow is not None else None
    if step is None or step.target is None:
        return
    try:
        await act_on(turn, step.action, await step.target(turn, step.action, payload(state)))
    except Refusal:
        await finish(turn)
        raise


async def pressed_at(turn: Turn, flow: Flow, step: str, **about: Any) -> FlowState:
    """The user's state in `flow` at `step` (and about what `about` names, in its payload),
    for a button of that step's prompt (a confirmation), with the step's declared target and
    permission applied. A press on a step left or done, or about something else, is refused
    as stale, and a refused press's message loses its buttons (the press's handler goes on
    with the message otherwise)."""
    state = await active(turn, flow)
    values = payload(state) if state is not None else {}
    try:
        if state is None or state.step != step or any(values.get(k) != v for k, v in about.items()):
            raise Refusal(INVALID)
        await enter_step(turn, state)
    except Refusal:
        await turn.edit_keyboard(None)
        raise
    return state


def from_payload(flow: Flow, target: StepTarget) -> Target:
    """A button's target read from the payload of the user's open `flow` (a press without
    one is stale)."""

    async def find(turn: Turn, action: Action | None) -> Found:
        state = await active(turn, flow)
        if state is None:
            raise Refusal(INVALID)
        return await target(turn, action, payload(state))

    return find


def press_handler(
    button: type[ButtonData],
    on_press: Callable[[Turn], Awaitable[None]],
    *,
    action: Action | None = None,
    target: Target | None = None,
) -> CallbackQueryHandler:
    """The handler of a flow's typed buttons: declared like any press (`turn_handler`), then
    answered by the flow (`on_press`, which reads `turn.button`)."""
    pressed = turn_handler(button=button, action=action, target=target)(on_press)
    return CallbackQueryHandler(pressed, pattern=button.pattern())


# --- the fallbacks every flow shares -----------------------------------------------------


def _left_text(t: Translator, flow: Flow | None) -> str:
    if flow is None:
        return t("Left what you were doing.")
    text = t("Left: {title}.", title=t(flow.title))
    return f"{text} {t(flow.kept)}" if flow.kept else text


async def leave(turn: Turn) -> Flow | None:
    """Leave the user's flow from any step. Returns the flow left, or None if there was none."""
    state = await finish(turn)
    if state is None:
        return None
    return FLOWS.get(state.flow)


async def leave_for_command(turn: Turn) -> None:
    """Before a command runs: a step waiting for typed text is left, and the user told, so
    what they type after the command goes nowhere it was not asked for."""
    state = await current(turn.session, turn.account.telegram_id)
    if state is None:
        return
    flow = FLOWS.get(state.flow)
    step = flow.step(state.step) if flow is not None else None
    if step is not None and not step.waits_for_text:
        return  # a step that waits for a button keeps: its buttons say where they belong
    if flow is not None and _command_name(turn) in flow.entry + flow.keeps:
        return  # the flow's own command takes it up again where it stands
    await finish(turn)
    await turn.reply(_left_text(turn.t, flow))


def _command_name(turn: Turn) -> str:
    text = turn.update.message.text or ""
    return text.split()[0].removeprefix("/").partition("@")[0].lower() if text else ""


@turn_handler(leaves_flows=False)
async def cancel_command(turn: Turn) -> None:
    flow_left = await leave(turn)
    if flow_left is None:
        await turn.reply(turn.t("There is nothing to cancel."))
        return
    await turn.reply(_left_text(turn.t, flow_left))


@turn_handler(button=CancelButton)
async def cancel_pressed(turn: Turn) -> None:
    pressed: CancelButton = turn.button
    state = await current(turn.session, turn.account.telegram_id)
    await turn.edit_keyboard(None)  # the prompt is over either way
    if state is None or state.flow != pressed.flow:
        await turn.answer(turn.t("There is nothing to cancel."))
        return
    flow_left = await leave(turn)
    await turn.answer()
    await turn.reply(_left_text(turn.t, flow_left))


@turn_handler()
async def route_text(turn: Turn) -> None:
    """Free text goes to the step waiting for it, or is answered as unexpected."""
    state = await current(turn.session, turn.account.telegram_id)
    flow = FLOWS.get(state.flow) if state is not None else None
    step = flow.step(state.step) if flow is not None else None
    if step is None or step.on_text is None:
        await turn.reply(turn.t(NOT_EXPECTED))
        return
    await enter_step(turn, state)
    await step.on_text(turn, state, turn.update.effective_message.text)


# Group 0 (before the features): /huy and its button. Group 1 (after): free text.
CANCEL_HANDLERS: list[BaseHandler] = [
    CommandHandler(list(CANCEL_COMMANDS), cancel_command),
    CallbackQueryHandler(cancel_pressed, pattern=CancelButton.pattern()),
]
TEXT_HANDLERS: list[BaseHandler] = [
    MessageHandler(filters.TEXT & ~filters.COMMAND & filters.ChatType.PRIVATE, route_text)
]
