"""What the decision on units shows (/quyet_dinh, lowering a unit's proposal, /xep_loai_lai and
/khieu_nai for a unit): pure functions of the translator and the data, and the buttons' data."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from telegram import InlineKeyboardMarkup

from bot.callbacks import ButtonData
from bot.i18n import N_
from bot.i18n import Translator
from bot.services.unit_decision import CappedHead
from bot.services.unit_decision import RatedUnit
from bot.services.unit_decision import UnitDecisionView
from bot.services.unit_opinion import BODY_NAMES
from bot.text import esc
from handlers.views.decision import decide_button
from handlers.views.decision import decision_tail
from handlers.views.decision import overriding
from rules.levels import LEVELS_DESC
from rules.levels import Level
from storage.models import ParticipantBody
from storage.models import UnitSubject

MAX_LISTED = 60
MAX_BUTTONS = 30
OPINION_SHOWN = 300  # characters of an opinion's text on the decision screen

SUBJECT_NAMES = {  # the organisation itself is named by its own name
    UnitSubject.COMMITTEE: N_("Party committee of {org}"),
    UnitSubject.STANDING: N_("Standing committee of {org}"),
}


class UnitDecideButton(ButtonData, prefix="qu"):
    """Under the units' decision screen: decide, or override the breaches with a reason."""

    action: Literal["ok", "ov"]
    decider_id: int
    scope_id: int


class UnitLowerButton(ButtonData, prefix="ql"):
    """Lowering a unit's proposal: choose the unit, the level, then confirm."""

    action: Literal["unit", "level", "confirm"]
    rating_id: int
    level: Level | None = None


class UnitChoiceButton(ButtonData, prefix="qr"):
    """Which of a unit's decided ratings (the organisation, its committee) to cancel, or to
    appeal against: it opens that flow."""

    flow: Literal["rerate", "appeal"]
    rating_id: int


def subject_label(t: Translator, org_name: str, subject: str) -> str:
    """A unit review's subject as users name it: the organisation, or its party committee
    (plain text)."""
    msgid = SUBJECT_NAMES.get(UnitSubject(subject))
    return t(msgid, org=org_name) if msgid else org_name


def unit_label(t: Translator, unit: RatedUnit) -> str:
    return subject_label(t, unit.org.name, unit.review.subject)


def level_text(t: Translator, code: str | None) -> str:
    if code is None:
        return t("reviewed, not rated")
    return f"{code} ({t(Level(code).name_msgid)})"


def points(t: Translator, tenths: int | None) -> str:
    return t("{points} points", points=t.number(Decimal(tenths) / 10)) if tenths is not None else ""


def _proposal_line(t: Translator, unit: RatedUnit) -> str:
    name = esc(unit_label(t, unit))
    if unit.not_rated:
        why = unit.young.render(t.gettext) if unit.young else ""
        return "• " + t("{unit}: reviewed, not rated {why}", unit=name, why=esc(f"({why})" if why else "")).rstrip()
    level = unit.level.value if unit.level else "—"
    score = points(t, unit.rating.score_tenths)
    return f"• {name}: <b>{level}</b>" + (f", {score}" if score else "")


def _opinion_lines(t: Translator, unit: RatedUnit) -> list[str]:
    lines = []
    for opinion in unit.opinions:
        body = t(BODY_NAMES[ParticipantBody(opinion.body)])
        text = opinion.text if len(opinion.text) <= OPINION_SHOWN else opinion.text[:OPINION_SHOWN] + "…"
        level = opinion.level or t("no level proposed")
        lines.append(f"   ◦ {esc(body)} ({level}): <i>{esc(text)}</i>")
    return lines


def view_text(t: Translator, view: UnitDecisionView) -> str:
    if view.scope.id == view.decider.id:
        title = t("Decision on the organisations and collectives {org} rates, {year}",
                  org=view.decider.name, year=view.cycle.year)
    else:
        title = t("Decision on the rating of {unit} by {org}, {year}",
                  unit=view.scope.name, org=view.decider.name, year=view.cycle.year)
    lines = ["<b>" + esc(title) + "</b>", "",
             t("Proposed, to decide: {count}", count=t.number(len(view.proposals)))]
    for unit in view.proposals[:MAX_LISTED]:
        lines.append(_proposal_line(t, unit))
        lines += _opinion_lines(t, unit)
        if not unit.opinions and not unit.not_rated:
            lines.append("   ◦ " + t("no opinion from the participating bodies yet"))
    if view.waiting:
        names = ", ".join(esc(unit_label(t, u)) for u in view.waiting[:MAX_LISTED])
        lines.append(t("Not yet proposed: {count} ({names})", count=t.number(len(view.waiting)), names=names))
    advice = N_("Lower a proposal, or override with a written reason: it is kept in the audit "
                "log.")
    return "\n".join(lines + decision_tail(t, view, advice))


def view_keyboard(t: Translator, view: UnitDecisionView) -> InlineKeyboardMarkup | None:
    if not view.proposals:
        return None
    rows = []
    for unit in view.proposals:
        if len(rows) >= MAX_BUTTONS:
            break
        if unit.level is not None and unit.level is not Level.KHT:
            label = "⬇ " + t("Lower {unit}", unit=unit_label(t, unit))
            rows.append([UnitLowerButton("unit", unit.rating.id).button(label)])
    rows.append([decide_button(t, view, N_("✅ Decide {count} units"),
                               lambda action: UnitDecideButton(action, view.decider.id,
                                                               view.scope.id))])
    return InlineKeyboardMarkup(rows)


def override_reason_prompt(t: Translator, org: str) -> str:
    return t("Write the reason for deciding the ratings of the units {org} decides despite the "
             "breaches. It is kept in the audit log.", org=esc(org))


def override_confirm_text(t: Translator, view: UnitDecisionView, reason: str) -> str:
    msgid = N_("The {count} proposals of the units are decided by {org} for {year} despite the "
               "breaches; each unit's secretary is told. Your reason, kept in the audit log: "
               "{reason}")
    return overriding(t, msgid, view, view.decider.name, reason)


def decided_notice(t: Translator, decider: str, unit: str, year: int, level: str | None) -> str:
    text = t(
        N_("{org} has decided the quality rating of {unit} for {year}: {level}."),
        org=esc(decider),
        unit=f"<b>{esc(unit)}</b>",
        year=year,
        level="<b>" + esc(level_text(t, level)) + "</b>",
    )
    return text + "\n" + t(N_("If the unit disagrees, its secretary may send a written appeal "
                              "with /khieu_nai and the unit's code."))


def decided_summary(
    t: Translator, count: int, org: str, year: int, overridden: bool, capped: list[CappedHead]
) -> str:
    lines = [t("Decided {count} unit ratings of {org}, {year}.", count=t.number(count),
               org=esc(org), year=year)]
    if overridden:
        lines.append(t("The breaches were overridden; your reason is in the audit log."))
    if capped:
        lines.append(t("These heads are now proposed above the level of the unit they lead, "
                       "which their own decision must respect:"))
        for c in capped:
            line = t("{name} ({code}): proposed {level}, at most {cap}",
                     name=esc(c.rated.member.full_name), code=esc(c.rated.member.code),
                     level=c.rated.level.value, cap=c.cap.value)
            lines.append("• " + line)
    return "\n".join(lines)


# --- lowering a unit's proposal ------------------------------------------------------------------


def levels_screen(t: Translator, unit: RatedUnit) -> tuple[str, InlineKeyboardMarkup]:
    current = unit.level
    text = t("Lower the proposal {level} of {unit} to which level?",
             level=current.value if current else "—", unit=f"<b>{esc(unit_label(t, unit))}</b>")
    rows = [[UnitLowerButton("level", unit.rating.id, level).button(f"{level.value} ({t(level.name_msgid)})")]
            for level in LEVELS_DESC if current is not None and level < current]
    return text, InlineKeyboardMarkup(rows)


def lower_reason_prompt(t: Translator, unit: RatedUnit, level: Level) -> str:
    return t("Write why the proposal of {unit} is lowered to {level}; it is kept in the unit's "
             "history and the audit log.", unit=f"<b>{esc(unit_label(t, unit))}</b>",
             level=level.value)


def lower_confirm_screen(
    t: Translator, unit: RatedUnit, level: Level, reason: str
) -> tuple[str, InlineKeyboardMarkup]:
    text = t("The proposal of {unit} goes from {old} to {new}. Reason: {reason}",
             unit=f"<b>{esc(unit_label(t, unit))}</b>",
             old=unit.rating.proposed_level or "—", new=level.value, reason=esc(reason))
    data = UnitLowerButton("confirm", unit.rating.id, level)
    return text, InlineKeyboardMarkup([[data.button(t("✅ Confirm"))]])


def lowered_text(t: Translator, unit: RatedUnit, old: str, new: str) -> str:
    return t("Lowered the proposal of {unit} from {old} to {new}.",
             unit=f"<b>{esc(unit_label(t, unit))}</b>", old=old, new=new)


# --- re-rating and appeals ------------------------------------------------------------------------


def choice_screen(
    t: Translator, flow: Literal["rerate", "appeal"], units: list[RatedUnit]
) -> tuple[str, InlineKeyboardMarkup]:
    """The unit's decided ratings as buttons: which one to cancel, or to appeal against."""
    if flow == "rerate":
        text = t("Which decided rating do you cancel?")
    else:
        text = t("Which decided rating does the unit appeal against?")
    rows = [[UnitChoiceButton(flow, u.rating.id).button(f"{unit_label(t, u)}: {level_text(t, u.rating.decided_level)}")] for u in units]
    return text, InlineKeyboardMarkup(rows)


def rerate_reason_prompt(t: Translator, unit: RatedUnit, year: int) -> str:
    return t("Cancel the decided rating {level} of {unit} for {year} so that it is redone? "
             "Write the reason.", level=level_text(t, unit.rating.decided_level),
             unit=f"<b>{esc(unit_label(t, unit))}</b>", year=year)


def rerate_confirm_text(t: Translator, unit: RatedUnit, year: int, reason: str) -> str:
    return t("The rating {level} of {unit} for {year} is cancelled; the history keeps it. The "
             "unit is proposed again, then you decide. Its secretary is told. Reason: {reason}",
             level=level_text(t, unit.rating.decided_level),
             unit=f"<b>{esc(unit_label(t, unit))}</b>", year=year, reason=esc(reason))


def rerate_head_notice(t: Translator, unit: str, level: str | None, year: int, reason: str) -> str:
    return t(N_("The decided rating {level} of {unit} for {year} was cancelled to be redone. "
                "Reason: {reason}"), level=level_text(t, level), unit=f"<b>{esc(unit)}</b>",
             year=year, reason=esc(reason))


def rerate_done(t: Translator, unit: str, level: str | None, year: int) -> str:
    return t("Cancelled the rating {level} of {unit} for {year}; the history keeps it. The unit "
             "is proposed again, then you decide.", level=level_text(t, level),
             unit=f"<b>{esc(unit)}</b>", year=year)


def appeal_prompt(t: Translator, unit: RatedUnit, year: int) -> str:
    return t("The decided rating of {unit} for {year} is {level}. Write the unit's appeal in one "
             "message: it goes to the deciding level, which answers in writing.",
             unit=f"<b>{esc(unit_label(t, unit))}</b>", year=year,
             level=f"<b>{esc(level_text(t, unit.rating.decided_level))}</b>")


def appeal_head(t: Translator, name: str, unit: str, level: str | None, year: int) -> str:
    return t(N_("Appeal of {unit}, sent by {name}, against its decided rating {level} for {year}:"),
             unit=f"<b>{esc(unit)}</b>", name=esc(name), level=level_text(t, level), year=year)
