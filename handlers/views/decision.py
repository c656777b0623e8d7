"""What /quyet_dinh and /xep_loai_lai show: pure functions of the translator and the data."""

from __future__ import annotations

from typing import Literal

from telegram import InlineKeyboardButton
from telegram import InlineKeyboardMarkup

from bot.callbacks import ButtonData
from bot.i18n import N_
from bot.i18n import Translator
from bot.services.checks import RatedMember
from bot.services.decision import DecisionView
from bot.text import esc
from rules.levels import Level

MAX_LISTED = 80
GIVE_MEMBER_CODE = N_("Give the code of the member or of the organisation, e.g. /xep_loai_lai DV001.")
NO_LONGER_DECIDED = N_("This level is no longer decided; nothing was cancelled.")


class DecideButton(ButtonData, prefix="qd"):
    """Under the decision view: decide (no breach) or override the breaches with a reason."""

    action: Literal["ok", "ov"]
    org_id: int


class DecisionConfirm(ButtonData, prefix="qdc"):
    """"✅ Confirm" under the last step of deciding despite breaches, or of re-rating."""

    flow: Literal["decision_override", "rerate"]


def level_label(t: Translator, code: str) -> str:
    return f"{code} ({t(Level(code).name_msgid)})"


def _member_line(r: RatedMember) -> str:
    return f"• {esc(r.member.full_name)} ({esc(r.member.code)}): {r.level.value}"


def view_text(t: Translator, view: DecisionView) -> str:
    title = t("Decision on the levels of {org}, {year}", org=view.unit.name, year=view.cycle.year)
    lines = [
        "<b>" + esc(title) + "</b>",
        "",
        t("Proposed, to decide: {count}", count=t.number(len(view.proposals))),
    ]
    lines += [_member_line(r) for r in view.proposals[:MAX_LISTED]]
    if len(view.proposals) > MAX_LISTED:
        lines.append(t("and {count} more", count=t.number(len(view.proposals) - MAX_LISTED)))
    if view.waiting:  # R-C4: a head waits for the level of the units they lead
        lines.append(
            t("Waiting for the rating of the collective they lead: {count}",
              count=t.number(len(view.waiting)))
        )
        lines += [_member_line(r) for r in view.waiting[:MAX_LISTED]]
    advice = N_("Have the cell re-rate, or override with a written reason: it is kept in the "
                "audit log.")
    return "\n".join(lines + decision_tail(t, view, advice))


def decision_tail(t: Translator, view, advice: str) -> list[str]:
    """The end of a decision screen (members' or units'): how many are decided, and the
    breaches that block with `advice` (a msgid), or that nothing waits."""
    lines = []
    if view.decided:
        lines.append(t("Already decided: {count}", count=t.number(len(view.decided))))
    if view.breaches:
        lines += ["", "⛔ " + t("Blocked by breaches that stand:")]
        lines += ["– " + esc(b.render(t.gettext)) for b in view.breaches]
        lines.append(t(advice))
    elif not view.proposals:
        lines += ["", t("There is nothing to decide.")]
    return lines


def decide_button(t: Translator, view, count_msgid: str, data) -> InlineKeyboardButton:
    """"✍️ Override" while a breach stands, else "✅ Decide" (`count_msgid` with {count});
    `data(action)` is the button's data for "ov" or "ok"."""
    if view.blocked:
        return InlineKeyboardButton(t("✍️ Override with a reason"), callback_data=data("ov").encode())
    label = t(count_msgid, count=len(view.proposals))
    return InlineKeyboardButton(label, callback_data=data("ok").encode())


def view_keyboard(t: Translator, view: DecisionView) -> InlineKeyboardMarkup | None:
    if not view.proposals:
        return None
    button = decide_button(t, view, N_("✅ Decide {count} levels"),
                           lambda action: DecideButton(action, view.unit.id))
    return InlineKeyboardMarkup([[button]])


def confirm_keyboard(t: Translator, flow: str) -> InlineKeyboardMarkup:
    data = DecisionConfirm(flow).encode()  # type: ignore[arg-type]
    return InlineKeyboardMarkup([[InlineKeyboardButton(t("✅ Confirm"), callback_data=data)]])


def override_reason_prompt(t: Translator, org_name: str) -> str:
    return t(
        "Write the reason for deciding the levels of {org} despite the breaches. "
        "It is kept in the audit log.",
        org=esc(org_name),
    )


def override_confirm_text(t: Translator, view: DecisionView, reason: str) -> str:
    msgid = N_(
        "The {count} proposed levels of {org} for {year} are decided despite the breaches; "
        "each member and the cell's secretary are told. Your reason, kept in the audit log: "
        "{reason}"
    )
    return overriding(t, msgid, view, view.unit.name, reason)


def overriding(t: Translator, msgid: str, view, org: str, reason: str) -> str:
    """What deciding `view`'s proposals despite its breaches does (`msgid` with {count},
    {org}, {year} and {reason})."""
    return t(msgid, count=t.number(len(view.proposals)), org=f"<b>{esc(org)}</b>",
             year=view.cycle.year, reason=esc(reason))


def decided_notice(t: Translator, decider: str, year: int, level: str) -> str:
    text = t(
        N_("{org} has decided your quality rating for {year}: {level}."),
        org=esc(decider),
        year=year,
        level="<b>" + esc(level_label(t, level)) + "</b>",
    )
    return text + "\n" + t(N_("If you disagree you may send a written appeal with /khieu_nai."))


def cell_listing(t: Translator, cell: str, year: int, rated: list[RatedMember]) -> str:
    lines = [t(N_("Levels decided for {cell}, {year}:"), cell=f"<b>{esc(cell)}</b>", year=year)]
    lines += [
        f"{i}. {esc(r.member.full_name)}: {r.rating.decided_level}" for i, r in enumerate(rated, 1)
    ]
    return "\n".join(lines)


def decided_summary(
    t: Translator, count: int, unit: str, year: int, overridden: bool, unreachable: int
) -> str:
    summary = t(
        "Decided {count} levels for {org}, {year}.",
        count=t.number(count),
        org=esc(unit),
        year=year,
    )
    if overridden:
        summary += "\n" + t("The breaches were overridden; your reason is in the audit log.")
    if unreachable:
        summary += "\n" + t(
            "{count} members could not be told: they have not started the bot.",
            count=t.number(unreachable),
        )
    return summary


def _about_level(t: Translator, msgid: str, level: str, name: str, year: int, **more: str) -> str:
    """A text about the level of a member named in bold for a year."""
    return t(msgid, level=level, name=f"<b>{esc(name)}</b>", year=year, **more)


def rerate_reason_prompt(t: Translator, level: str, name: str, year: int) -> str:
    msgid = N_(
        "Cancel the decided level {level} of {name} for {year} so that it is redone? "
        "Write the reason."
    )
    return _about_level(t, msgid, level, name, year)


def rerate_confirm_text(t: Translator, level: str, name: str, year: int, reason: str) -> str:
    msgid = N_(
        "The level {level} of {name} for {year} is cancelled; the history keeps it. The cell "
        "rates the member again, then you decide. {name} and the cell's secretary are told. "
        "Reason: {reason}"
    )
    return _about_level(t, msgid, level, name, year, reason=esc(reason))


def rerate_member_notice(t: Translator, level: str, year: int, reason: str) -> str:
    return t(
        N_("Your decided level {level} for {year} was cancelled to be redone. Reason: {reason}"),
        level=level,
        year=year,
        reason=esc(reason),
    )


def rerate_secretary_notice(t: Translator, level: str, name: str, year: int, reason: str) -> str:
    return t(
        N_(
            "The decided level {level} of {name} for {year} was cancelled to be redone: "
            "the cell rates the member again. Reason: {reason}"
        ),
        level=level,
        name=esc(name),
        year=year,
        reason=esc(reason),
    )


def rerate_done(t: Translator, level: str, name: str, year: int) -> str:
    msgid = N_(
        "Cancelled the level {level} of {name} for {year}; the history keeps it. "
        "The cell rates the member again, then you decide."
    )
    return _about_level(t, msgid, level, name, year)
