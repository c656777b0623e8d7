"""What the plan (/ke_hoach) and the checks after the ballot show: pure functions from data to
text and buttons, and the buttons' typed data. No Telegram calls, no database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Literal

from telegram import InlineKeyboardButton
from telegram import InlineKeyboardMarkup

from bot.callbacks import ButtonData
from bot.i18n import N_
from bot.i18n import Translator
from bot.services import plans
from bot.services.checks import Lowerable
from bot.services.plans import INHERIT
from bot.services.plans import OWN
from bot.services.plans import Draft
from bot.text import esc
from rules.breaches import Breach
from rules.levels import LEVELS_DESC
from rules.levels import Level
from rules.rulebooks import RULEBOOKS

# (menu description, /help line) of /ke_hoach.
KE_HOACH = (
    N_("The year's review plan"),
    N_(
        "/ke_hoach [code]: the year's review plan of your organisation: rulebook, settings "
        "and deadlines (a unit under the plan may set earlier deadlines)"
    ),
)

# The CLI (bot/cli.py).
NO_PLAN_OVER = N_("There is no {year} plan over {code}.")
DEADLINES_SAVED = N_("Deadlines of {org} saved.")
UNIT_SETTINGS_SAVED = N_("Settings of {org} saved.")

NOT_COMMITTEE = N_("This is for the members of a party committee.")

Screen = tuple[str, InlineKeyboardMarkup | None]


class PlanButton(ButtonData, prefix="kh"):
    """A /ke_hoach answer: a year, a rulebook, keep the settings, edit setting n, keep the
    date offered, save."""

    action: Literal[
        "year", "book", "keep", "edit", "date", "save", "unit_keep", "unit_out", "unit_group"
    ]
    number: int | None = None
    code: str | None = None


class LowerButton(ButtonData, prefix="pc"):
    """Lowering a proposal: choose the member, the level, then confirm."""

    action: Literal["member", "level", "confirm"]
    cycle_id: int
    member_id: int
    level: Level | None = None


def _with_note(note: str | None, lines: list[str]) -> str:
    return "\n".join([note, "", *lines] if note else lines)


def value_text(t: Translator, value: object) -> str:
    if value is None:
        return t("none")
    if value is True:
        return t("yes")
    if value is False:
        return t("no")
    return str(value)


def setting_hint(t: Translator, setting: plans.Setting) -> str:
    if setting.kind == "bool":
        return t("Type “có” (yes) or “không” (no).")
    if setting.kind == "optional":
        return t("Type a whole number, or “không” for none.")
    return t("Type a whole number.")


def year_screen(t: Translator, org_name: str, this_year: int, note: str | None = None) -> Screen:
    text = t(
        "The review plan of {org}. Which year? Choose, or type the year.",
        org=f"<b>{esc(org_name)}</b>",
    )
    years = (this_year - 1, this_year, this_year + 1)
    markup = InlineKeyboardMarkup([[PlanButton("year", y).button(str(y)) for y in years]])
    return _with_note(note, [text]), markup


def bad_year(t: Translator, text: str, this_year: int) -> str:
    return "❌ " + t(
        "“{text}” is not a year I can plan: type {first}, {second} or {third}.",
        text=esc(text[:40]),
        first=this_year - 1,
        second=this_year,
        third=this_year + 1,
    )


def rulebook_screen(t: Translator, year: int) -> Screen:
    text = t("Which rulebook does the {year} plan follow?", year=year)
    rows = [[PlanButton("book", code=code).button(t(rb.title_msgid))]
            for code, rb in RULEBOOKS.items()]
    return text, InlineKeyboardMarkup(rows)


def settings_lines(t: Translator, draft: Draft, *, changed_only: bool = False) -> list[str]:
    """The settings with their values, numbered (`changed_only`: those the plan changes, for
    the summary, which must fit a phone's screen)."""
    rb = draft.rules()
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
        if changed_only and not mark:
            continue
        lines.append(
            f"{index}. {esc(t(setting.msgid))}: "
            f"<b>{esc(value_text(t, value))}</b>{mark}"
        )
    return lines


def settings_screen(t: Translator, draft: Draft) -> Screen:
    lines = [*settings_lines(t, draft), "",
             t("Keep these values, or press a number to change that setting.")]
    numbers = [PlanButton("edit", i).button(f"✏ {i}") for i in range(1, len(plans.SETTINGS) + 1)]
    rows = [[PlanButton("keep").button(t("✅ Keep these values"))]]
    rows += [numbers[i : i + 5] for i in range(0, len(numbers), 5)]
    return "\n".join(lines), InlineKeyboardMarkup(rows)


def setting_screen(t: Translator, draft: Draft, key: str, note: str | None = None) -> Screen:
    setting = plans.SETTING_KEYS[key]
    text = t(
        "{label}: now {value}. Type the new value.",
        label=esc(t(setting.msgid)),
        value=value_text(t, getattr(draft.rules(), key)),
    )
    return _with_note(note, [text, setting_hint(t, setting)]), None


def bad_setting(t: Translator, key: str, text: str) -> str:
    note = "❌ " + t("“{text}” is not a value for this setting.", text=esc(text[:40]))
    note += " " + setting_hint(t, plans.SETTING_KEYS[key])
    if key.endswith("_percent"):
        note += " " + t("A share is from 0 to 100.")
    return note


def deadline_screen(
    t: Translator, draft: Draft, key: str, current: dt.date, note: str | None = None
) -> Screen:
    keys = draft.keys()
    lines = [
        t(
            "Deadline {number}/{total}: {label}. Type the date as dd/mm/yyyy, or keep {date}.",
            number=keys.index(key) + 1,
            total=len(keys),
            label=f"<b>{esc(t(plans.deadline_msgid(draft.rules(), key)))}</b>",
            date=t.date(current),
        )
    ]
    if draft.mode == INHERIT:
        lines.append(
            t(
                "Your unit may set an earlier date than the upper level's, never a later one."
            )
        )
    keep = PlanButton("date").button(t("Keep {date}", date=t.date(current)))
    return _with_note(note, lines), InlineKeyboardMarkup([[keep]])


def bad_date(t: Translator, text: str, year: int) -> str:
    return "❌ " + t(
        "“{text}” is not a date: type it as dd/mm/yyyy, for example 20/12/{year}.",
        text=esc(text[:40]),
        year=year,
    )


def summary_screen(
    t: Translator,
    draft: Draft,
    org_name: str,
    deadlines: Mapping[str, dt.date],
    note: str | None = None,
) -> Screen:
    rb = draft.rules()
    lines = [t("The plan to save for {org}:", org=f"<b>{esc(org_name)}</b>")]
    if draft.mode == OWN:
        changed = settings_lines(t, draft, changed_only=True)
        lines += changed if len(changed) > 1 else [changed[0], t("Every setting as in the rulebook.")]
    else:
        lines += unit_settings_lines(t, draft)
        lines.append(
            t("The {year} plan of the upper level applies; your deadlines:", year=draft.year)
        )
    lines.append("")
    for key in plans.deadline_keys(rb):
        label = esc(t(plans.deadline_msgid(rb, key)))
        lines.append(f"• {label}: <b>{t.date(deadlines[key])}</b>")
    markup = InlineKeyboardMarkup([[PlanButton("save").button(t("✅ Save the plan"))]])
    return _with_note(note, lines), markup


# --- the settings a level above gives a unit (issue 14) --------------------------------------


def unit_settings_lines(t: Translator, draft: Draft) -> list[str]:
    rb = draft.rules()
    lines = []
    for index, (key, value) in enumerate((draft.unit or {}).items(), start=1):
        shown = value_text(t, value)
        if key == plans.OUTSTANDING:
            shown = t("yes, up to {percent}%", percent=rb.htxs_quota_outstanding_percent) if value \
                else t("no")
        lines.append(f"{index}. {esc(t(plans.UNIT_SETTING_NAMES[key]))}: <b>{esc(shown)}</b>")
    return lines


def unit_settings_screen(t: Translator, draft: Draft, org_name: str, note: str | None = None) -> Screen:
    lines = [
        t("What the upper level gives {org} in the {year} plan:", org=f"<b>{esc(org_name)}</b>",
          year=draft.year),
        *unit_settings_lines(t, draft),
        "",
        t("A peer group is a short label: the units with the same label are counted together; "
          "those without one, together."),
    ]
    rows = [[PlanButton("unit_keep").button(t("✅ Keep these values"))]]
    edits = []
    for index, key in enumerate(draft.unit or {}, start=1):
        action = "unit_out" if key == plans.OUTSTANDING else "unit_group"
        edits.append(PlanButton(action).button(f"✏ {index}"))
    rows.append(edits)
    return _with_note(note, lines), InlineKeyboardMarkup(rows)


def group_screen(t: Translator, draft: Draft, note: str | None = None) -> Screen:
    current = (draft.unit or {}).get(plans.PEER_GROUP)
    text = t("Peer group: now {value}. Type a short label (letters and digits, e.g. THON or "
             "KHOI-1), or “không” for none.", value=value_text(t, current))
    return _with_note(note, [text]), None


def bad_group(t: Translator, text: str) -> str:
    return "❌ " + t("“{text}” is not a label: use at most {max} letters, digits, “-”, “_” or “.”.",
                     text=esc(text[:40]), max=plans.PEER_GROUP_MAX)


def refused_text(t: Translator, msgid: str, params: Mapping[str, object],
                 breaches: Sequence[Breach] = ()) -> str:
    """Why the plan was not saved (the summary is asked again under it)."""
    text = esc(t(msgid, **params))
    for breach in breaches:
        text += "\n• " + esc(breach.render(t.gettext))
    return "❌ " + text


def saved_text(t: Translator, org_name: str, year: int) -> str:
    return "✅ " + t(
        "The plan of {org} for {year} is saved.", org=f"<b>{esc(org_name)}</b>", year=year
    )


# --- the checks after the ballot ---------------------------------------------------------------


def breach_line(t: Translator, breach: Breach) -> str:
    text = esc(breach.render(t.gettext))
    names = [n for n in breach.member_names if n]
    if names and not any(n in breach.render(t.gettext) for n in names):
        text += " — " + ", ".join(esc(n) for n in names)
    return text


def breaches_text(t: Translator, cell_name: str, breaches: Sequence[Breach]) -> str:
    if not breaches:
        return "✅ " + t(
            "The proposed levels of {cell} break no quota or cap.", cell=f"<b>{esc(cell_name)}</b>"
        )
    lines = [
        "⚠️ <b>" + esc(t("The proposed levels of {cell} break the rules:", cell=cell_name)) + "</b>",
        "",
    ]
    lines += [f"• {breach_line(t, b)}" for b in breaches]
    lines += [
        "",
        t(
            "Lower a proposal with the buttons below, giving a reason (kept in the audit log). "
            "What still stands is reported to the upper committee, which may ask the cell to "
            "re-rate."
        ),
    ]
    return "\n".join(lines)


def lower_keyboard(
    t: Translator, lowerable: Sequence[Lowerable], revote: str | None = None
) -> InlineKeyboardMarkup | None:
    """A "⬇" button for each member, then (`revote`: the ballot's callback data) one to vote
    again on the members concerned."""
    rows = [
        [LowerButton("member", m.cycle_id, m.member_id).button(t("⬇ Lower: {name} ({level})", name=m.name, level=m.level))]
        for m in lowerable
    ]
    if rows and revote is not None:
        rows.append([InlineKeyboardButton(t("🗳 Vote again on the members concerned"),
                                          callback_data=revote)])
    return InlineKeyboardMarkup(rows) if rows else None


def levels_screen(t: Translator, cycle_id: int, member_id: int, name: str, current: Level) -> Screen:
    text = t("{name} is proposed {level}. Lower it to:", name=f"<b>{esc(name)}</b>",
             level=current.value)
    lower = [level for level in LEVELS_DESC if level < current]
    row = [LowerButton("level", cycle_id, member_id, level).button(level.value) for level in lower]
    return text, InlineKeyboardMarkup([row])


def reason_prompt(t: Translator, name: str, old: str, new: str) -> str:
    return t(
        "Lower {name} from {old} to {new}. Type the reason; it is kept in the audit log.",
        name=f"<b>{esc(name)}</b>",
        old=old,
        new=new,
    )


def short_reason(t: Translator, limit: int) -> str:
    return t("Please type the reason in a few words (at most {count} characters).", count=limit)


DECIDED = N_("The level of {name} is already decided; it can no longer be lowered here.")


def confirm_lower_screen(
    t: Translator, cycle_id: int, member_id: int, name: str, old: str, new: str, reason: str
) -> Screen:
    text = "\n".join([
        t("The proposal for {name} will be lowered from {old} to {new}, with this reason:",
          name=f"<b>{esc(name)}</b>", old=old, new=new),
        f"<i>{esc(reason)}</i>",
        "",
        t("This cannot be undone here. Confirm?"),
    ])
    confirm = LowerButton("confirm", cycle_id, member_id).button(t("✅ Confirm"))
    return text, InlineKeyboardMarkup([[confirm]])


def lowered_text(t: Translator, name: str, old: str, new: str) -> str:
    return "✅ " + t(
        "The proposal for {name} is lowered from {old} to {new}.",
        name=f"<b>{esc(name)}</b>",
        old=old,
        new=new,
    )
