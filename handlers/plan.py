"""/ke_hoach: an upper committee member sets the year's plan of their subtree; a lower unit
sets earlier deadlines for itself (R-D5).

A guided flow, one question at a time: year → rulebook → the settings with their values
(keep them, or change one by typing) → each deadline typed as dd/mm/yyyy (or kept) → a
summary to save or cancel. Every answer is written to ``plan_drafts`` as it arrives and the
free text is routed by ``pending_inputs``, so a restart in the middle loses nothing; a wrong
answer is explained and asked again, keeping the earlier ones.

A unit that inherits the plan of an upper level (a cell, or a committee under the plan's
organisation) goes straight to the deadlines, which may be earlier than the inherited ones,
never later.
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import delete, select
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.callbacks import ascii_int, typed_int
from bot.i18n import N_, Translator
from bot.permissions import Action, grants_for
from bot.services import plans
from bot.services.cycles import CycleError, cycle_for_org
from bot.text import esc
from conversations import engine as flows
from handlers.base import Refusal, Turn, turn_handler
from handlers.scope import unit_by_code
from rules.deadlines import check_child_deadline
from rules.rulebooks import RULEBOOKS, Rulebook
from storage.models import Cycle, FlowState, Organisation, PlanDraft

PREFIX = "kh:"
OWN, INHERIT = "own", "inherit"
YEAR, RULEBOOK, SETTINGS, CONFIRM = "year", "rulebook", "settings", "confirm"
SET, DEADLINE = "set:", "deadline:"
INVALID = N_("This button is no longer valid.")


# --- the draft ---------------------------------------------------------------------------------


def _overrides(draft: PlanDraft) -> dict:
    return json.loads(draft.overrides or "{}")


def _deadlines(draft: PlanDraft) -> dict[str, dt.date]:
    return {k: dt.date.fromisoformat(v) for k, v in json.loads(draft.deadlines or "{}").items()}


def _set_deadline(draft: PlanDraft, key: str, due: dt.date) -> None:
    found = json.loads(draft.deadlines or "{}")
    found[key] = due.isoformat()
    draft.deadlines = json.dumps(found, sort_keys=True)


def _rulebook(draft: PlanDraft) -> Rulebook:
    return plans.check_overrides(draft.rulebook, _overrides(draft))


async def _org(turn: Turn, draft: PlanDraft) -> Organisation:
    org = await turn.session.get(Organisation, draft.org_id)
    if org is None:
        raise Refusal(INVALID)
    turn.require(Action.SET_PLAN, org)
    return org


async def _inherited(turn: Turn, org: Organisation) -> Cycle:
    cycle = await cycle_for_org(turn.session, org)
    if cycle is None:
        raise Refusal(
            "There is no review plan for {org} yet. Your upper committee opens it.",
            org=esc(org.name),
        )
    return cycle


async def _defaults(turn: Turn, draft: PlanDraft, org: Organisation) -> dict[str, dt.date]:
    """The deadline each question offers to keep: the inherited one, or the plan's."""
    if draft.mode == INHERIT:
        cycle = await _inherited(turn, org)
        return await plans.effective_deadlines(turn.session, cycle, org)
    found = plans.default_deadlines(_rulebook(draft), draft.year)
    own = await turn.session.scalar(
        select(Cycle).where(Cycle.org_id == org.id, Cycle.year == draft.year)
    )
    if own is not None and own.rulebook == draft.rulebook:  # editing: offer what is set now
        found |= await plans.effective_deadlines(turn.session, own, org)
    return found


async def _limits(turn: Turn, draft: PlanDraft, org: Organisation) -> dict[str, dt.date]:
    cycle = await _inherited(turn, org)
    return await plans.effective_deadlines(turn.session, cycle, org, include_self=False)


def _keys(draft: PlanDraft) -> list[str]:
    return plans.deadline_keys(_rulebook(draft))


# --- the questions -----------------------------------------------------------------------------


def _button(label: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=f"{PREFIX}{data}")


async def ask(turn: Turn, draft: PlanDraft, note: str | None = None) -> None:
    """Ask the question of the draft's step (after `note`, e.g. why an answer was refused)."""
    t = turn.t
    org = await _org(turn, draft)
    lines = [note, ""] if note else []
    markup = None
    step = draft.step
    if step == YEAR:
        this_year = turn.services.now().astimezone(turn.services.settings.tz).year
        lines.append(
            t(
                "The review plan of {org}. Which year? Choose, or type the year.",
                org=f"<b>{esc(org.name)}</b>",
            )
        )
        markup = InlineKeyboardMarkup(
            [[_button(str(y), f"y:{y}") for y in (this_year - 1, this_year, this_year + 1)]]
        )
    elif step == RULEBOOK:
        lines.append(t("Which rulebook does the {year} plan follow?", year=draft.year))
        markup = InlineKeyboardMarkup(
            [[_button(t(rb.title_msgid), f"r:{code}")] for code, rb in RULEBOOKS.items()]
        )
    elif step == SETTINGS:
        lines += settings_lines(t, draft)
        lines += ["", t("Keep these values, or press a number to change that setting.")]
        numbers = [_button(f"✏ {i}", f"s:{i}") for i in range(1, len(plans.SETTINGS) + 1)]
        markup = InlineKeyboardMarkup(
            [[_button(t("✅ Keep these values"), "s:ok")]]
            + [numbers[i : i + 5] for i in range(0, len(numbers), 5)]
        )
    elif step.startswith(SET):
        setting = plans.SETTING_KEYS[step.removeprefix(SET)]
        value = getattr(_rulebook(draft), setting.key)
        lines.append(
            t(
                "{label}: now {value}. Type the new value.",
                label=esc(t(setting.msgid)),
                value=_value(t, value),
            )
        )
        lines.append(_hint(t, setting))
    elif step.startswith(DEADLINE):
        key = step.removeprefix(DEADLINE)
        keys = _keys(draft)
        default = (await _defaults(turn, draft, org))[key]
        current = _deadlines(draft).get(key, default)
        lines.append(
            t(
                "Deadline {number}/{total}: {label}. Type the date as dd/mm/yyyy, or keep {date}.",
                number=keys.index(key) + 1,
                total=len(keys),
                label=f"<b>{esc(t(plans.deadline_msgid(_rulebook(draft), key)))}</b>",
                date=t.date(current),
            )
        )
        if draft.mode == INHERIT:
            lines.append(
                t(
                    "Your unit may set an earlier date than the upper level's, never a later one."
                )
            )
        markup = InlineKeyboardMarkup([[_button(t("Keep {date}", date=t.date(current)), "d:keep")]])
    elif step == CONFIRM:
        lines += await summary_lines(turn, draft, org)
        markup = InlineKeyboardMarkup(
            [[_button(t("✅ Save the plan"), "ok"), _button(t("✖ Cancel"), "no")]]
        )
    if step in (YEAR,) or step.startswith(SET) or step.startswith(DEADLINE):
        await flows.begin(turn, PLAN_FLOW, "value", org=draft.org_id)
        await flows.ask(turn, PLAN_FLOW, "\n".join(lines), reply_markup=markup)
        return
    else:
        await flows.finish(turn)
    await turn.reply("\n".join(lines), reply_markup=markup)


def _value(t: Translator, value: object) -> str:
    if value is None:
        return t("none")
    if value is True:
        return t("yes")
    if value is False:
        return t("no")
    return str(value)


def _hint(t: Translator, setting: plans.Setting) -> str:
    if setting.kind == "bool":
        return t("Type “có” (yes) or “không” (no).")
    if setting.kind == "optional":
        return t("Type a whole number, or “không” for none.")
    return t("Type a whole number.")


def settings_lines(t: Translator, draft: PlanDraft) -> list[str]:
    rb = _rulebook(draft)
    base = RULEBOOKS[draft.rulebook]
    lines = [
        t(
            "Settings of the {year} plan under {rulebook}:",
            year=draft.year,
            rulebook=esc(t(rb.title_msgid)),
        )
    ]
    for index, setting in enumerate(plans.SETTINGS, start=1):
        value = getattr(rb, setting.key)
        mark = "" if value == getattr(base, setting.key) else " ✏"
        lines.append(
            f"{index}. {esc(t(setting.msgid))}: <b>{esc(_value(t, value))}</b>{mark}"
        )
    return lines


async def summary_lines(turn: Turn, draft: PlanDraft, org: Organisation) -> list[str]:
    t = turn.t
    defaults = await _defaults(turn, draft, org)
    chosen = _deadlines(draft)
    rb = _rulebook(draft)
    lines = [t("The plan to save for {org}:", org=f"<b>{esc(org.name)}</b>")]
    if draft.mode == OWN:
        lines += settings_lines(t, draft)
    else:
        lines.append(
            t("The {year} plan of the upper level applies; your deadlines:", year=draft.year)
        )
    lines.append("")
    for key in plans.deadline_keys(rb):
        due = chosen.get(key, defaults[key])
        lines.append(f"• {esc(t(plans.deadline_msgid(rb, key)))}: <b>{t.date(due)}</b>")
    return lines


# --- the command -------------------------------------------------------------------------------


async def _target(turn: Turn) -> Organisation:
    turn.require_member()
    args = turn.context.args or []
    if args:
        org = await unit_by_code(turn, args[0])
        turn.require(Action.SET_PLAN, org)
        return org
    grants = grants_for(turn.identity.grants, Action.SET_PLAN)
    if not grants:
        raise Refusal("This is for the members of a party committee.")
    top = min(grants, key=lambda g: (g.org_is_cell, g.org_path.count("/"), g.org_path))
    return await turn.session.get(Organisation, top.org_id)


@turn_handler()
async def plan_command(turn: Turn) -> None:
    org = await _target(turn)
    today = turn.services.now().astimezone(turn.services.settings.tz).date()
    cycle = await cycle_for_org(turn.session, org)
    await turn.session.execute(
        delete(PlanDraft).where(PlanDraft.telegram_id == turn.account.telegram_id)
    )
    if org.org_kind.is_cell or (
        cycle is not None and cycle.org_id != org.id and cycle.report_by >= today
    ):
        cycle = await _inherited(turn, org)
        if cycle.org_id == org.id:
            draft = _own_draft(turn, org, cycle)
        else:
            draft = PlanDraft(
                telegram_id=turn.account.telegram_id,
                org_id=org.id,
                mode=INHERIT,
                year=cycle.year,
                rulebook=cycle.rulebook,
                overrides=json.dumps(plans.overrides_of(cycle)),
                deadlines="{}",
                step=DEADLINE + plans.FINISH_BY,
            )
    else:
        draft = _own_draft(turn, org, None)
    turn.session.add(draft)
    await turn.session.flush()
    await ask(turn, draft)


def _own_draft(turn: Turn, org: Organisation, cycle: Cycle | None) -> PlanDraft:
    return PlanDraft(
        telegram_id=turn.account.telegram_id,
        org_id=org.id,
        mode=OWN,
        year=cycle.year if cycle else None,
        rulebook=cycle.rulebook if cycle else None,
        overrides=json.dumps(plans.overrides_of(cycle)) if cycle else "{}",
        deadlines="{}",
        step=YEAR,
    )


async def _draft(turn: Turn) -> PlanDraft:
    draft = await turn.session.get(PlanDraft, turn.account.telegram_id)
    if draft is None:
        raise Refusal(INVALID)
    return draft


def _next_deadline(draft: PlanDraft, key: str) -> str:
    keys = _keys(draft)
    index = keys.index(key)
    return DEADLINE + keys[index + 1] if index + 1 < len(keys) else CONFIRM


@turn_handler()
async def plan_pressed(turn: Turn) -> None:
    t = turn.t
    data = turn.query.data.removeprefix(PREFIX)
    draft = await _draft(turn)
    org = await _org(turn, draft)
    kind, _, value = data.partition(":")
    step = draft.step
    if kind == "y" and step == YEAR and (year := _plannable_year(turn, value)) is not None:
        draft.year = year
        draft.step = RULEBOOK
    elif kind == "r" and step == RULEBOOK and value in RULEBOOKS:
        if draft.rulebook != value:
            draft.overrides = "{}"
        draft.rulebook = value
        draft.step = SETTINGS
    elif kind == "s" and step == SETTINGS and value == "ok":
        draft.step = DEADLINE + plans.FINISH_BY
    elif (
        kind == "s"
        and step == SETTINGS
        and (number := typed_int(value, 1, len(plans.SETTINGS))) is not None
    ):
        draft.step = SET + plans.SETTINGS[number - 1].key
    elif kind == "d" and step.startswith(DEADLINE) and value == "keep":
        key = step.removeprefix(DEADLINE)
        if key not in _deadlines(draft):
            _set_deadline(draft, key, (await _defaults(turn, draft, org))[key])
        draft.step = _next_deadline(draft, key)
    elif kind in ("ok", "no") and step == CONFIRM:
        await turn.answer()
        await turn.edit_keyboard(None)  # drop the buttons
        if kind == "no":
            await turn.session.delete(draft)
            await turn.reply(t("The plan was not saved."))
            return
        await _save(turn, draft, org)
        return
    else:
        raise Refusal(INVALID)
    await turn.answer()
    await ask(turn, draft)


async def _save(turn: Turn, draft: PlanDraft, org: Organisation) -> None:
    t = turn.t
    now = turn.services.now()
    chosen = _deadlines(draft)
    try:
        if draft.mode == OWN:
            await plans.save_own_plan(
                turn.session,
                org,
                year=draft.year,
                rulebook_code=draft.rulebook,
                overrides=_overrides(draft),
                deadlines=chosen,
                actor=turn.actor,
                now=now,
            )
        else:
            cycle = await _inherited(turn, org)
            limits = await _limits(turn, draft, org)
            changed = {k: v for k, v in chosen.items() if v != limits.get(k)}
            await plans.save_unit_deadlines(
                turn.session, org, cycle, changed, actor=turn.actor, now=now
            )
    except CycleError as error:
        text = esc(t(error.msgid, **error.params))
        for breach in getattr(error, "breaches", []):
            text += "\n• " + esc(breach.render(t.gettext))
        await ask(turn, draft, "❌ " + text)  # the summary again: change nothing, or cancel
        return
    await turn.session.delete(draft)
    await turn.reply(
        "✅ "
        + t(
            "The plan of {org} for {year} is saved.", org=f"<b>{esc(org.name)}</b>", year=draft.year
        )
    )


async def plan_text(turn: Turn, _state: FlowState, text: str) -> None:
    t = turn.t
    draft = await turn.session.get(PlanDraft, turn.account.telegram_id)
    if draft is None:
        await flows.finish(turn)
        await turn.reply(t("I did not expect a message here. Send /help to see what you can do."))
        return
    org = await _org(turn, draft)
    step = draft.step
    if step == YEAR:
        value = text.strip()
        this_year = turn.services.now().astimezone(turn.services.settings.tz).year
        year = _plannable_year(turn, value)
        if year is None:
            await ask(
                turn,
                draft,
                "❌ "
                + t(
                    "“{text}” is not a year I can plan: type {first}, {second} or {third}.",
                    text=esc(text[:40]),
                    first=this_year - 1,
                    second=this_year,
                    third=this_year + 1,
                ),
            )
            return
        draft.year = year
        draft.step = RULEBOOK
    elif step.startswith(SET):
        key = step.removeprefix(SET)
        try:
            value = _parse_setting(key, text)
            overrides = _overrides(draft) | {key: value}
            plans.check_overrides(draft.rulebook, overrides)
        except (ValueError, CycleError):
            setting = plans.SETTING_KEYS[key]
            note = "❌ " + t("“{text}” is not a value for this setting.", text=esc(text[:40]))
            note += " " + _hint(t, setting)
            if key.endswith("_percent"):
                note += " " + t("A share is from 0 to 100.")
            await ask(turn, draft, note)
            return
        base = getattr(RULEBOOKS[draft.rulebook], key)
        if value == base:
            overrides.pop(key)
        draft.overrides = json.dumps(overrides, sort_keys=True)
        draft.step = SETTINGS
    elif step.startswith(DEADLINE):
        key = step.removeprefix(DEADLINE)
        due = plans.parse_date(text) if text.isascii() and len(text) <= 40 else None
        if due is None:
            await ask(
                turn,
                draft,
                "❌ "
                + t(
                    "“{text}” is not a date: type it as dd/mm/yyyy, for example 20/12/{year}.",
                    text=esc(text[:40]),
                    year=draft.year,
                ),
            )
            return
        problem = await _deadline_problem(turn, draft, org, key, due)
        if problem:
            await ask(turn, draft, "❌ " + problem)
            return
        _set_deadline(draft, key, due)
        draft.step = _next_deadline(draft, key)
    else:
        await turn.reply(t("Please answer with the buttons above."))
        return
    await ask(turn, draft)


def _plannable_year(turn: Turn, value: str) -> int | None:
    """Last year, this year or next year, typed or from a button in ASCII digits; else None."""
    this_year = turn.services.now().astimezone(turn.services.settings.tz).year
    return typed_int(value, this_year - 1, this_year + 1)


# A setting is a share, a count or a number of days: six digits are far beyond any of them.
SETTING_DIGITS = 6


def _parse_setting(key: str, text: str) -> object:
    """plans.parse_setting on text of ASCII digits or words only; ValueError otherwise."""
    word = text.strip()
    if any(c.isdigit() for c in word) and ascii_int(word, max_digits=SETTING_DIGITS) is None:
        raise ValueError(text)  # "²", "٣", "１２", a number too long, digits among words
    return plans.parse_setting(key, word)


async def _deadline_problem(
    turn: Turn, draft: PlanDraft, org: Organisation, key: str, due: dt.date
) -> str | None:
    t = turn.t
    if draft.mode == INHERIT:
        limit = (await _limits(turn, draft, org)).get(key)
        if limit is not None and (breach := check_child_deadline(key, due, limit)):
            return esc(breach.render(t.gettext))
    chosen = _deadlines(draft)
    if key == plans.FINISH_BY and not draft.year - 1 <= due.year <= draft.year + 1:
        return t("The finish-by date must be near the end of {year}.", year=draft.year)
    finish = chosen.get(plans.FINISH_BY)
    if key == plans.REPORT_BY and finish is not None and due < finish:
        return t("The report date must not be before the finish-by date.")
    return None


PLAN_FLOW = flows.declare(
    flows.Flow(
        "plan",
        N_("setting up the plan"),
        (flows.Step("value", on_text=plan_text),),
        entry=('ke_hoach',),
    )
)

HANDLERS = [
    CommandHandler("ke_hoach", plan_command),
    CallbackQueryHandler(plan_pressed, pattern=f"^{PREFIX}"),
]
