"""The plan (/ke_hoach) as one declared flow: year → rulebook → the settings (keep them, or
change one by typing) → each deadline typed as dd/mm/yyyy (or kept) → the summary to save.

The draft is the flow's payload (`bot.services.plans.Draft`), written in each turn's own
transaction, so a restart in the middle loses nothing; a wrong answer is explained and asked
again, keeping the earlier ones. /huy (or ✖ Hủy) leaves from any step: nothing is saved
before the last one.

A unit that inherits the plan of an upper level (a cell, or a committee under the plan's
organisation) goes straight to the deadlines, which may be earlier than the inherited ones,
never later (R-D5). When someone whose role sits above the unit opens it, and the plan's
rulebook reads them, the settings that level gives the unit come first (issue 14): an
outstanding unit's raised HTXS share (R-Q1) and the peer group its quotas are counted in (R-Q5,
typed as a short label); they are saved with the deadlines.
"""

from __future__ import annotations

from bot.callbacks import ascii_int
from bot.callbacks import typed_int
from bot.delivery import KEYBOARD
from bot.delivery import Owed
from bot.i18n import N_
from bot.permissions import Action
from bot.permissions import grants_for
from bot.services import checks
from bot.services import plans
from bot.services.cycles import CycleError
from bot.services.plans import Draft
from bot.text import esc
from conversations import engine as flows
from handlers import scope
from handlers.base import Refusal
from handlers.base import Turn
from handlers.views import plan as views
from handlers.views.ballot import OpenButton
from rules.breaches import Breach
from rules.levels import Level
from rules.rulebooks import RULEBOOKS
from storage.models import FlowState
from storage.models import Organisation

YEAR, RULEBOOK, SETTINGS, SETTING, DEADLINE, CONFIRM = (
    "year", "rulebook", "settings", "setting", "deadline", "confirm"
)
UNIT, GROUP = "unit", "group"  # the settings a level above gives the unit (issue 14)
INVALID = N_("This button is no longer valid.")
# A setting is a share, a count or a number of days: six digits are far beyond any of them.
SETTING_DIGITS = 6


def this_year(turn: Turn) -> int:
    return turn.services.now().astimezone(turn.services.settings.tz).year


def plannable_year(turn: Turn, value: str) -> int | None:
    """Last year, this year or next year, typed in ASCII digits; else None."""
    year = this_year(turn)
    return typed_int(value, year - 1, year + 1)


def parse_setting(key: str, text: str) -> object:
    """plans.parse_setting on text of ASCII digits or words only; ValueError otherwise."""
    word = text.strip()
    if any(c.isdigit() for c in word) and ascii_int(word, max_digits=SETTING_DIGITS) is None:
        raise ValueError(text)  # "²", "٣", "１２", a number too long, digits among words
    return plans.parse_setting(key, word)


def _unit(turn: Turn) -> Organisation:
    """The unit of the draft: the target of /ke_hoach, of the button pressed or of the step
    typed into, with SET_PLAN required on it on every answer (roles may have changed)."""
    return turn.target


def _no_plan(org: Organisation) -> Refusal:
    return Refusal(
        "There is no review plan for {org} yet. Your upper committee opens it.", org=esc(org.name)
    )


async def start(turn: Turn, org: Organisation) -> None:
    """/ke_hoach on `org`: a new draft (any open one is left)."""
    today = turn.services.now().astimezone(turn.services.settings.tz).date()
    draft = await plans.start_draft(turn.session, org, today)
    if draft is None:
        raise _no_plan(org)
    step = DEADLINE if draft.mode == plans.INHERIT else YEAR
    if _from_above(turn, org):
        draft.unit = await plans.unit_settings_offered(turn.session, draft, org)
        step = UNIT if draft.unit is not None else step
    state = await flows.begin(turn, PLAN_FLOW, step, **draft.payload())
    await show(turn, state)


def _from_above(turn: Turn, org: Organisation) -> bool:
    """Whether the caller plans from a level above `org` (it never grants itself a share)."""
    return any(
        org.path.startswith(g.org_path) and g.org_path != org.path
        for g in grants_for(turn.identity.grants, Action.SET_PLAN)
    )


async def show(turn: Turn, state: FlowState, note: str | None = None) -> None:
    """Ask the question of the draft's step (after `note`, e.g. why an answer was refused)."""
    t = turn.t
    org = _unit(turn)
    draft = Draft.of(flows.payload(state))
    step = state.step
    if step == YEAR:
        text, markup = views.year_screen(t, org.name, this_year(turn), note)
    elif step == RULEBOOK:
        text, markup = views.rulebook_screen(t, draft.year)
    elif step == SETTINGS:
        text, markup = views.settings_screen(t, draft)
    elif step == SETTING:
        text, markup = views.setting_screen(t, draft, draft.key, note)
    elif step == UNIT:
        text, markup = views.unit_settings_screen(t, draft, org.name, note)
    elif step == GROUP:
        text, markup = views.group_screen(t, draft, note)
    else:
        deadlines = await plans.draft_deadlines(turn.session, draft, org)
        if deadlines is None:
            await flows.finish(turn)
            raise _no_plan(org)
        if step == DEADLINE:
            text, markup = views.deadline_screen(t, draft, draft.key, deadlines[draft.key], note)
        else:
            text, markup = views.summary_screen(t, draft, org.name, deadlines, note)
    await flows.ask(turn, PLAN_FLOW, text, reply_markup=markup)


async def _go(turn: Turn, state: FlowState, draft: Draft, step: str) -> None:
    await flows.move(turn, state, step, **draft.payload())
    await show(turn, state)


async def _after_deadline(turn: Turn, state: FlowState, draft: Draft) -> None:
    draft.key = draft.next_deadline()
    await _go(turn, state, draft, DEADLINE if draft.key is not None else CONFIRM)


# --- the answers typed -------------------------------------------------------------------------


async def year_text(turn: Turn, state: FlowState, text: str) -> None:
    year = plannable_year(turn, text.strip())
    if year is None:
        await show(turn, state, views.bad_year(turn.t, text, this_year(turn)))
        return
    draft = Draft.of(flows.payload(state))
    draft.year = year
    await _go(turn, state, draft, RULEBOOK)


async def setting_text(turn: Turn, state: FlowState, text: str) -> None:
    draft = Draft.of(flows.payload(state))
    try:
        draft.set_value(draft.key, parse_setting(draft.key, text))
    except (ValueError, CycleError):
        await show(turn, state, views.bad_setting(turn.t, draft.key, text))
        return
    await _go(turn, state, draft, SETTINGS)


async def deadline_text(turn: Turn, state: FlowState, text: str) -> None:
    org = _unit(turn)
    draft = Draft.of(flows.payload(state))
    due = plans.parse_date(text) if text.isascii() and len(text) <= 40 else None
    if due is None:
        await show(turn, state, views.bad_date(turn.t, text, draft.year))
        return
    problem = await plans.deadline_problem(turn.session, draft, org, draft.key, due)
    if isinstance(problem, Breach):
        await show(turn, state, "❌ " + esc(problem.render(turn.t.gettext)))
        return
    if problem is not None:
        await show(turn, state, "❌ " + turn.t(problem.msgid, **problem.params))
        return
    draft.choose(draft.key, due)
    await _after_deadline(turn, state, draft)


async def group_text(turn: Turn, state: FlowState, text: str) -> None:
    draft = Draft.of(flows.payload(state))
    try:
        label = plans.parse_unit_setting(plans.PEER_GROUP, text)
    except ValueError:
        await show(turn, state, views.bad_group(turn.t, text))
        return
    draft.unit = {**(draft.unit or {}), plans.PEER_GROUP: label}
    await _go(turn, state, draft, UNIT)


# --- the answers pressed -----------------------------------------------------------------------


async def pressed(turn: Turn) -> None:
    """A /ke_hoach button (turn.button), for the unit of the open draft (turn.target)."""
    state = await flows.active(turn, PLAN_FLOW)
    if state is None:
        raise Refusal(INVALID)
    button: views.PlanButton = turn.button
    draft = Draft.of(flows.payload(state))
    step, action = state.step, button.action
    if action == "save" and step == CONFIRM:
        await turn.answer()
        await turn.edit_keyboard(None)
        await _save(turn, state, draft)
        return
    if action == "year" and step == YEAR:
        draft.year = plannable_year(turn, str(button.number))
        following = RULEBOOK
    elif action == "book" and step == RULEBOOK and button.code in RULEBOOKS:
        draft.choose_rulebook(button.code)
        following = SETTINGS
    elif action == "keep" and step == SETTINGS:
        draft.key = None  # the first deadline comes next
        draft.key, following = draft.next_deadline(), DEADLINE
    elif action == "edit" and step == SETTINGS and 1 <= (button.number or 0) <= len(plans.SETTINGS):
        draft.key, following = plans.SETTINGS[button.number - 1].key, SETTING
    elif action == "unit_keep" and step == UNIT:
        following = DEADLINE
    elif action == "unit_out" and step == UNIT and plans.OUTSTANDING in (draft.unit or {}):
        draft.unit = {**draft.unit, plans.OUTSTANDING: not draft.unit[plans.OUTSTANDING]}
        following = UNIT
    elif action == "unit_group" and step == UNIT and plans.PEER_GROUP in (draft.unit or {}):
        following = GROUP
    elif action == "date" and step == DEADLINE:
        if draft.key not in draft.deadlines:
            deadlines = await plans.draft_deadlines(turn.session, draft, turn.target)
            if deadlines is None:
                raise _no_plan(turn.target)
            draft.choose(draft.key, deadlines[draft.key])
        await turn.answer()
        await turn.edit_keyboard(None)
        await _after_deadline(turn, state, draft)
        return
    else:
        raise Refusal(INVALID)
    if action == "year" and draft.year is None:
        raise Refusal(INVALID)
    await turn.answer()
    await turn.edit_keyboard(None)
    await _go(turn, state, draft, following)


async def _save(turn: Turn, state: FlowState, draft: Draft) -> None:
    org = turn.target
    if draft.unit is not None and not _from_above(turn, org):
        await flows.finish(turn)
        raise Refusal("Only a level above {org} may give it these settings.", org=esc(org.name))
    try:
        await plans.save_draft(
            turn.session, draft, org, actor=turn.actor, now=turn.services.now()
        )
    except CycleError as error:
        note = views.refused_text(turn.t, error.msgid, error.params, getattr(error, "breaches", []))
        await show(turn, state, note)  # the summary again: change nothing, or cancel
        return
    await flows.finish(turn)
    await turn.reply(views.saved_text(turn.t, org.name, draft.year))


PLAN_FLOW = flows.declare(
    flows.Flow(
        "plan",
        N_("setting up the plan"),
        (
            flows.Step(YEAR, year_text, Action.SET_PLAN, scope.plan_draft_unit),
            flows.Step(RULEBOOK),
            flows.Step(SETTINGS),
            flows.Step(SETTING, setting_text, Action.SET_PLAN, scope.plan_draft_unit),
            flows.Step(DEADLINE, deadline_text, Action.SET_PLAN, scope.plan_draft_unit),
            flows.Step(CONFIRM),
            flows.Step(UNIT),
            flows.Step(GROUP, group_text, Action.SET_PLAN, scope.plan_draft_unit),
        ),
        entry=("ke_hoach",),
        kept=N_("The plan was not saved."),
    )
)


# --- lowering a proposal after the ballot (DOMAIN §5) ------------------------------------------
#
# "⬇ <name>" under a breach warning → the level, a button (step "level") → the reason, typed
# (step "reason") → what will be recorded, to confirm (step "confirm": everything checked again
# on the press) → ``record_proposals(kind="lowered", reason=...)`` and an audit entry; then the
# checks run again and the secretary sees what still stands.

LEVEL, REASON, LOWER_CONFIRM = "level", "reason", "confirm"
MAX_REASON = 1000


async def _subject(turn: Turn, cycle_id: int, member_id: int, level: Level | None = None
                   ) -> checks.Subject:
    """The proposal lowered, checked again (its cell's permission is checked by the target)."""
    try:
        subject = await checks.lower_subject(turn.session, cycle_id, member_id, level)
    except checks.AlreadyDecided as decided:
        await _drop_lowering(turn)
        raise Refusal(views.DECIDED, name=esc(decided.member.full_name)) from None
    if subject is None:
        await _drop_lowering(turn)
        raise Refusal(INVALID)
    return subject


async def _drop_lowering(turn: Turn) -> None:
    """A lowering that can no longer happen ends (any other flow the user is in stays)."""
    if await flows.active(turn, LOWER_FLOW) is not None:
        await flows.finish(turn)


async def _lowering(turn: Turn, step: str) -> dict:
    """The open lowering flow's payload, at `step` and about the pressed button's member."""
    state = await flows.active(turn, LOWER_FLOW)
    values = flows.payload(state) if state is not None else {}
    button = turn.button
    if (
        state is None
        or state.step != step
        or (values.get("cycle_id"), values.get("member_id")) != (button.cycle_id, button.member_id)
    ):
        raise Refusal(INVALID)
    return values


async def lower_pressed(turn: Turn) -> None:
    """A lowering button (turn.button) for a member of turn.target, where the caller may lower."""
    t = turn.t
    button: views.LowerButton = turn.button
    if button.action == "member":
        subject = await _subject(turn, button.cycle_id, button.member_id)
        if subject.level == Level.KHT:
            raise Refusal(INVALID)
        warning = turn.query.message  # its buttons follow what still stands once lowered
        await flows.begin(turn, LOWER_FLOW, LEVEL, cycle_id=button.cycle_id,
                          member_id=button.member_id,
                          warning=[warning.chat.id, warning.message_id] if warning else None)
        text, markup = views.levels_screen(t, button.cycle_id, button.member_id,
                                           subject.member.full_name, subject.level)
        await turn.answer()
        await flows.ask(turn, LOWER_FLOW, text, reply_markup=markup)
        return
    if button.action == "level" and button.level is not None:
        await _lowering(turn, LEVEL)
        subject = await _subject(turn, button.cycle_id, button.member_id, button.level)
        state = await flows.active(turn, LOWER_FLOW)
        await flows.move(turn, state, REASON, level=button.level.value)
        await turn.answer()
        await turn.edit_keyboard(None)
        prompt = views.reason_prompt(t, subject.member.full_name, subject.level.value,
                                     button.level.value)
        await flows.ask(turn, LOWER_FLOW, prompt)
        return
    if button.action == "confirm":
        values = await _lowering(turn, LOWER_CONFIRM)
        level = Level(values["level"])
        subject = await _subject(turn, button.cycle_id, button.member_id, level)
        old = subject.level.value
        await checks.lower_proposal(turn.session, subject, level, values["reason"],
                                    actor=turn.actor, now=turn.services.now())
        await flows.finish(turn)
        await turn.answer()
        await turn.edit_keyboard(None)
        grants = turn.identity.grants
        breaches, lowerable, meeting_id = await checks.breaches_after_lowering(
            turn.session, subject, grants)
        text = views.lowered_text(t, subject.member.full_name, old, level.value)
        text += "\n\n" + views.breaches_text(t, subject.cell.name, breaches)
        markup = views.lower_keyboard(t, lowerable, revote_data(meeting_id))
        _update_warning(turn, values.get("warning"), markup)
        await turn.reply(text, reply_markup=markup)
        return
    raise Refusal(INVALID)


def _update_warning(turn: Turn, warning: list[int] | None, markup) -> None:
    """The breach warning the lowering started from keeps only the buttons of what still
    stands (the lowered member's is gone, or names their new level): no live button of a
    finished step. Its keyboard changed with the lowering, so the edit is never empty."""
    if warning is None:
        return
    chat_id, message_id = warning
    turn.owe(Owed.message(chat_id, "", markup, kind=KEYBOARD, message_id=message_id), durable=False)


def revote_data(meeting_id: int | None) -> str | None:
    """The ballot's "vote again" button (handled by handlers/ballot.py)."""
    return OpenButton("revote", meeting_id).encode() if meeting_id is not None else None


async def lower_reason(turn: Turn, state: FlowState, text: str) -> None:
    values = flows.payload(state)  # the member's cell: the step's target, permission required
    level = Level(values["level"])
    subject = await _subject(turn, values["cycle_id"], values["member_id"], level)
    reason = text.strip()
    if len(reason) < 3 or len(reason) > MAX_REASON:
        await flows.ask(turn, LOWER_FLOW, views.short_reason(turn.t, MAX_REASON))
        return
    await flows.move(turn, state, LOWER_CONFIRM, reason=reason)
    confirm_text, markup = views.confirm_lower_screen(
        turn.t, subject.cycle.id, subject.member.id, subject.member.full_name,
        subject.level.value, level.value, reason)
    await flows.ask(turn, LOWER_FLOW, confirm_text, reply_markup=markup)


def lowering_flow(
    name: str, title: str, on_reason: flows.TextHandler, action: Action, target: flows.StepTarget
) -> flows.Flow:
    """Lowering a proposal (a member's, a unit's): the level pressed, the reason typed (with
    `action` required on the proposal's `target`), the confirmation pressed; nothing changes
    before it."""
    steps = (flows.Step(LEVEL), flows.Step(REASON, on_reason, action, target),
             flows.Step(LOWER_CONFIRM))
    return flows.declare(
        flows.Flow(name, title, steps, kept=N_("The proposal was not changed."))
    )


LOWER_FLOW = lowering_flow(
    "lower_proposal", N_("lowering a proposed level"), lower_reason, Action.LOWER_PROPOSAL,
    scope.lowering_cell,
)
