"""The scoring flows (seed 004 B.1.4, B.6); the buttons are handled in handlers/unit_scoring.py.

- ``unit_score`` (a member): ``mark`` shows one criterion of their sheet with quick marks and
  takes typed points ("8,5"). The sheet itself (every criterion with its mark, a button per
  criterion, submit) is no flow: pressing it never leaves the flow the member is in, so the
  secretary scoring their own sheet keeps the meeting screen. Every mark is saved at once.
- ``unit_adjust`` (the secretary): a deduction or addition the meeting agrees, step by step:
  ``criterion`` (a button or typed), ``amount`` (the percent a target was missed by, or the
  points an outstanding result adds), ``reason`` and ``responsible`` (typed); changing one
  offers "keep" at each step. Saved at the last step, checked by ``rules.org_scoring``.
- ``scoring_close`` (the secretary): closing combines the sheets and cannot be undone, so
  ``confirm`` says who has not scored and waits for "✅ Xác nhận".
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bot.i18n import N_
from bot.permissions import Action
from bot.services import unit_meeting
from bot.services import unit_scoring as service
from bot.text import esc
from conversations import ballot as meeting_flow
from conversations import engine as flows
from conversations.decision import CONFIRM
from conversations.unit_meeting import show_meeting_step
from conversations.unit_meeting import today
from handlers.base import Refusal
from handlers.base import Turn
from handlers.scope import meeting_flow_org
from handlers.views import unit_scoring as views
from storage.models import AdjustmentKind
from storage.models import FlowState
from storage.models import Meeting


def refusal(turn: Turn, error: service.ScoringError) -> Refusal:
    """The service's refusal with its values in the reader's locale, names escaped."""
    params: dict[str, Any] = {}
    for key, value in error.params.items():
        if isinstance(value, Decimal | int) and not isinstance(value, bool):
            params[key] = turn.t.number(value)
        else:
            params[key] = esc(value)
    return Refusal(error.msgid, **params)


async def refuse_adjustment(turn: Turn, error: service.AdjustmentRefused) -> None:
    """Every problem rules.org_scoring found, in one message; the step stays."""
    lines = [turn.t("This cannot be agreed as it stands:"), *views.breach_lines(turn.t, error.breaches)]
    if turn.query is not None:
        await turn.answer(turn.t("This cannot be agreed as it stands:"), alert=False)
    await turn.reply("\n".join(lines))


async def _enter(turn: Turn, flow: flows.Flow, step: str, key: str, **values: Any) -> FlowState:
    """`flow` at `step` for the thing `values[key]` names, the pressed message its prompt."""
    state = await flows.active(turn, flow)
    if state is None or flows.payload(state).get(key) != values[key]:
        state = await flows.begin(turn, flow, step, **values)
    else:
        await flows.move(turn, state, step, **values)
    message = turn.query.message if turn.query is not None else None
    if message is not None:
        state.prompt_chat_id, state.prompt_message_id = message.chat.id, message.message_id
    return state


# --- a member's sheet ------------------------------------------------------------------------------


async def load_sheet(turn: Turn, sheet_id: int) -> service.SheetView:
    turn.require_member()
    try:
        return await service.sheet_view(turn.session, sheet_id, turn.identity.member, today(turn))
    except service.ScoringError as error:
        raise refusal(turn, error) from None


async def show_sheet(turn: Turn, view: service.SheetView, *, note: str | None = None) -> None:
    """The sheet, in the pressed message (or a new one). No flow: a press on the sheet never
    leaves the flow the member is in (the secretary's meeting screen keeps its buttons), and
    a criterion's screen waiting for typed points is left."""
    if await flows.active(turn, SCORE) is not None:
        await flows.finish(turn)
    text = views.sheet_text(turn.t, view, note=note)
    markup = views.sheet_keyboard(turn.t, view)
    if turn.query is not None:
        await turn.edit(text, reply_markup=markup)
    else:
        await turn.reply(text, reply_markup=markup)


async def show_criterion(turn: Turn, view: service.SheetView, code: str) -> None:
    """One criterion's screen, the ``unit_score`` flow at ``mark`` (typed points land there)."""
    criterion = next((c for c in view.scoring.leaves() if c.code == code), None)
    if criterion is None:
        raise Refusal("This button is no longer valid.")
    text = views.criterion_text(turn.t, view, criterion)
    keyboard = views.criterion_keyboard(turn.t, view, criterion)
    values = {"sheet": view.mine.sheet.id, "criterion": code}
    if turn.query is not None:
        await _enter(turn, SCORE, "mark", "sheet", **values)
        await turn.edit(text, reply_markup=flows.with_cancel(turn.t, SCORE, keyboard))
        return
    await flows.begin(turn, SCORE, "mark", **values)
    await flows.ask(turn, SCORE, text, reply_markup=keyboard)


def next_missing(view: service.SheetView, after: str) -> str | None:
    """The next criterion without a mark, after `after` in the framework's order (or from the
    top), so a sheet scored from empty goes criterion by criterion."""
    codes = [c.code for c in view.scoring.leaves()]
    missing = {c.code for c in view.missing}
    later = [c for c in codes[codes.index(after) + 1 :] if c in missing] if after in codes else []
    return later[0] if later else next((c for c in codes if c in missing), None)


async def after_mark(turn: Turn, view: service.SheetView, code: str) -> None:
    following = next_missing(view, code)
    if following is not None:
        await show_criterion(turn, view, following)
    else:
        await show_sheet(turn, view)


async def set_mark(turn: Turn, view: service.SheetView, code: str, value: int) -> None:
    try:
        await service.set_mark(turn.session, view, code, value, now=turn.services.now())
    except service.ScoringError as error:
        raise refusal(turn, error) from None


async def mark_typed(turn: Turn, state: FlowState, text: str) -> None:
    values = flows.payload(state)
    view = await load_sheet(turn, values.get("sheet"))
    code = values.get("criterion")
    value = service.parse_tenths(text)
    if value is None:
        raise Refusal("Type the points as a number, for example 8 or 8,5.")
    await set_mark(turn, view, code, value)
    await after_mark(turn, view, code)


SCORE = flows.declare(
    flows.Flow(
        "unit_score",
        N_("scoring your organisation"),
        (flows.Step("mark", on_text=mark_typed),),
        entry=("cham_diem",),
        kept=N_("Your marks are saved; /cham_diem shows your sheet again."),
    )
)


# --- the secretary's scoring screen ------------------------------------------------------------


async def scoring_meeting(turn: Turn, meeting_id: Any) -> Meeting:
    """The meeting a flow's payload names (the secretary's steps declare RUN_MEETING on its
    organisation, and so do the buttons that lead here)."""
    meeting = await unit_meeting.meeting_by_id(turn.session, meeting_id)
    if meeting is None:
        await flows.finish(turn)
        raise Refusal("This button is no longer valid.")
    return meeting


async def show_scoring(
    turn: Turn,
    scoring: service.Scoring,
    *,
    note: str | None = None,
    unreachable: list | None = None,
    new: bool = False,
) -> None:
    """The secretary's scoring screen, the ``meeting`` flow at ``scoring``: in the pressed
    message, or (`new`) as a new message."""
    text = views.scoring_text(turn.t, scoring, note=note, unreachable=unreachable)
    markup = views.scoring_keyboard(turn.t, scoring)
    if new or turn.query is None:
        await flows.begin(turn, meeting_flow.MEETING, "scoring", meeting=scoring.meeting.id)
        await flows.ask(turn, meeting_flow.MEETING, text, reply_markup=markup)
        return
    await show_meeting_step(turn, scoring.meeting.id, "scoring", text, markup)


async def scoring_for(turn: Turn, meeting: Meeting) -> service.Scoring:
    return await service.scoring_of(turn.session, meeting, today(turn))


# --- a deduction or addition, step by step ----------------------------------------------------------

ADJUST_STEPS = ("criterion", "amount", "reason", "responsible")


async def begin_adjustment(
    turn: Turn, scoring: service.Scoring, kind: AdjustmentKind, row=None
) -> None:
    """Start entering a deduction or addition (or changing `row`), at its criterion."""
    current = None
    if row is not None:
        current = {
            "criterion": row.criterion,
            "amount": row.shortfall_tenths if kind == AdjustmentKind.DEDUCTION else row.points_tenths,
            "reason": row.reason,
            "responsible": row.responsible,
        }
    await flows.begin(
        turn, ADJUST, "criterion", meeting=scoring.meeting.id, kind=kind.value,
        adj=row.id if row is not None else None, cur=current,
    )
    await ask_step(turn, scoring, "criterion", {"kind": kind.value, "cur": current})


async def ask_step(turn: Turn, scoring: service.Scoring, step: str, values: dict) -> None:
    kind = AdjustmentKind(values["kind"])
    current = (values.get("cur") or {}).get(step)
    if step == "criterion":
        text, markup = views.criterion_prompt(turn.t, scoring, kind, current)
    elif step == "amount":
        text, markup = views.amount_prompt(turn.t, scoring, kind, values["criterion"], current)
    else:
        text, markup = views.text_prompt(turn.t, scoring, kind, step, current)
    await flows.ask(turn, ADJUST, text, reply_markup=markup)


async def adjusting(turn: Turn, state: FlowState) -> tuple[dict, service.Scoring]:
    values = flows.payload(state)
    meeting = await scoring_meeting(turn, values.get("meeting"))
    scoring = await scoring_for(turn, meeting)
    if scoring.closed:
        await flows.finish(turn)
        raise refusal(turn, service.ScoringError(service.E_CLOSED, org=scoring.org.name))
    return values, scoring


def _checked(turn: Turn, scoring: service.Scoring, kind: AdjustmentKind, step: str,
             text: str) -> Any:
    """The step's value as typed, checked; a Refusal says what is wrong (the step stays)."""
    try:
        if step == "criterion":
            return service.check_criterion(scoring, text)
        if step == "amount":
            value = service.parse_tenths(text.strip().rstrip("%").strip())
            if value is None:
                raise Refusal("Type a number, for example 12 or 1,5.")
            service.check_amount(kind, value, scoring.rulebook)
            return value
        limit = service.REASON_MAX if step == "reason" else service.RESPONSIBLE_MAX
        return service.check_text(text, limit)
    except service.ScoringError as error:
        raise refusal(turn, error) from None


async def advance(turn: Turn, state: FlowState, value: Any) -> None:
    """Keep this step's value and go on; after the last step, save and show the scoring."""
    values, scoring = await adjusting(turn, state)
    step = state.step
    values[step] = value
    following = ADJUST_STEPS[ADJUST_STEPS.index(step) + 1 :]
    if following:
        await flows.move(turn, state, following[0], **{step: value})
        await ask_step(turn, scoring, following[0], values)
        return
    kind = AdjustmentKind(values["kind"])
    item = service.AdjustmentInput(
        kind, values["criterion"], values["amount"], values["reason"], values["responsible"]
    )
    try:
        await service.save_adjustment(
            turn.session, scoring, item, adjustment_id=values.get("adj"), actor=turn.actor,
            now=turn.services.now(),
        )
    except service.AdjustmentRefused as error:
        await refuse_adjustment(turn, error)
        await flows.move(turn, state, "criterion")
        await ask_step(turn, scoring, "criterion", values)
        return
    except service.ScoringError as error:
        raise refusal(turn, error) from None
    await flows.finish(turn)
    scoring = await scoring_for(turn, scoring.meeting)
    await show_scoring(turn, scoring, note=views.adjustment_saved(turn.t), new=True)


async def adjustment_typed(turn: Turn, state: FlowState, text: str) -> None:
    values, scoring = await adjusting(turn, state)
    value = _checked(turn, scoring, AdjustmentKind(values["kind"]), state.step, text)
    await advance(turn, state, value)


def kept_value(state: FlowState) -> Any:
    """The current value of the step, when changing an adjustment ("keep")."""
    return (flows.payload(state).get("cur") or {}).get(state.step)


ADJUST = flows.declare(
    flows.Flow(
        "unit_adjust",
        N_("entering a deduction or an addition"),
        tuple(
            flows.Step(step, adjustment_typed, Action.RUN_MEETING, meeting_flow_org)
            for step in ADJUST_STEPS
        ),
    )
)
SCORING_CLOSE = flows.declare(
    flows.Flow(
        "scoring_close",
        N_("closing the scoring"),
        (flows.Step(CONFIRM, None, Action.RUN_MEETING, meeting_flow_org),),
        kept=N_("The scoring stays open."),
    )
)
