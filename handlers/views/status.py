"""The screens of /tinh_trang, /bieu_do and /bao_cao (gettext domain ``status``), as pure
functions of a translator and ``bot.services.status.Status``: no Telegram call, no database.

The command descriptions of issue 6 (status, decisions, appeals) are here too, listed by
handlers/commands.py.
"""

from __future__ import annotations

from collections import Counter
from typing import Literal

from telegram import InlineKeyboardButton
from telegram import InlineKeyboardMarkup

from bot.callbacks import ButtonData
from bot.i18n import N_
from bot.i18n import Translator
from bot.services.status import LEVEL_CODES
from bot.services.status import Figures
from bot.services.status import Status
from bot.text import esc
from handlers.views.unit_rating_status import unit_status_lines
from storage.models import Organisation

TINH_TRANG = (
    N_("Where every unit stands"),
    N_(
        "/tinh_trang [code]: the figures of your organisation or a unit under it: self-reviews, "
        "meetings, ballots, levels and breaches, unit by unit (a member: their cell's progress)"
    ),
)
BIEU_DO = (
    N_("Progress chart"),
    N_("/bieu_do [code]: a chart of progress and levels per unit under your organisation"),
)
BAO_CAO = (
    N_("Status spreadsheet"),
    N_(
        "/bao_cao [code]: a spreadsheet with the figures per unit, every member's decided "
        "level and the breaches"
    ),
)
QUYET_DINH = (
    N_("Decide the levels of a unit"),
    N_(
        "/quyet_dinh [code]: for the deciding committee, confirm the proposed levels of the "
        "members of a cell or of the whole grassroots unit, and of the organisations and "
        "committees it decides; a breach needs a written reason"
    ),
)
XEP_LOAI_LAI = (
    N_("Cancel a decided level"),
    N_(
        "/xep_loai_lai CODE: for the deciding committee, cancel the decided level of a member "
        "(their code) or of an organisation or its committee (the organisation's code) with a "
        "reason so that it is redone"
    ),
)
KHIEU_NAI = (
    N_("Appeal against your level"),
    N_(
        "/khieu_nai [code]: send a written appeal against your decided level to the deciding "
        "committee; the secretary or a deputy of an organisation appeals against its level (or "
        "its committee's) with the organisation's code"
    ),
)
KET_QUA = (
    N_("Your levels by year"),
    N_(
        "/ket_qua: your decided levels year by year; committee members also see who was "
        "rated HTXS five years running"
    ),
)

MANAGERS_ONLY = N_("This is for the secretaries, deputies and committee members.")
PAGE_SIZE = 20
MAX_BREACH_LINES = 6
DRILL_BUTTONS_PER_ROW = 4


class StatusButton(ButtonData, prefix="tt"):
    """The status of an organisation at a page of its units (drill down, up, or another page)."""

    org_id: int
    page: int = 0


class StatusFileButton(ButtonData, prefix="ttf"):
    """The chart (/bieu_do) or the spreadsheet (/bao_cao) of an organisation."""

    kind: Literal["chart", "sheet"]
    org_id: int


# Each line of figures: its msgid, and the figure (a Figures attribute) behind each placeholder.
PROGRESS_LINES = (
    (
        N_("👥 Members: {members}; to be reviewed: {to_review}; to be rated: {to_rate}"),
        {"members": "members", "to_review": "to_review", "to_rate": "to_rate"},
    ),
    (
        N_("📝 Self-reviews: submitted {submitted} (late {late}); not submitted {missing}"),
        {"submitted": "submitted", "late": "late", "missing": "missing"},
    ),
    (
        N_("🗓 Meetings: held {held}; scheduled {scheduled}; cells {cells}"),
        {"held": "meetings_held", "scheduled": "meetings_scheduled", "cells": "cells"},
    ),
    (
        N_("🗳 Ballots: open {open}; closed {closed}"),
        {"open": "ballots_open", "closed": "ballots_closed"},
    ),
)
BREACHES_LINE = (
    N_("⚠️ Breaches: quota {quota}; caps {caps}; deadline {deadline}"),
    {"quota": "quota_breaches", "caps": "cap_breaches", "deadline": "deadline_breaches"},
)
SHORT_LINE = (
    N_(
        "📝 {submitted}/{to_review} ⏰ {late} · 🗓 {held}/{cells} · 🗳 {open} · "
        "✅ {decided}/{to_rate} · ⚠️ {breaches}"
    ),
    {
        "submitted": "submitted",
        "to_review": "to_review",
        "late": "late",
        "held": "meetings_held",
        "cells": "cells",
        "open": "ballots_open",
        "decided": "decided_total",
        "to_rate": "to_rate",
        "breaches": "breaches",
    },
)


def figures_line(t: Translator, line: tuple[str, dict[str, str]], f: Figures) -> str:
    """A line's msgid with each placeholder filled with its figure, as a number of the locale."""
    msgid, fields = line
    return t(msgid, **{name: t.number(getattr(f, attr)) for name, attr in fields.items()})


def _levels(t: Translator, counter: Counter) -> str:
    return ", ".join(f"{code} {t.number(counter[code])}" for code in LEVEL_CODES)


def progress_lines(t: Translator, f: Figures) -> list[str]:
    return [figures_line(t, line, f) for line in PROGRESS_LINES]


def level_lines(t: Translator, f: Figures) -> list[str]:
    return [
        t("📋 Proposed: {levels}", levels=_levels(t, f.proposed)),
        t("✅ Decided: {levels}", levels=_levels(t, f.decided)),
        figures_line(t, BREACHES_LINE, f),
    ]


def short_line(t: Translator, org: Organisation, f: Figures) -> str:
    name = org.name if len(org.name) <= 40 else org.name[:39] + "…"
    return f"• <b>{esc(org.code)}</b> {esc(name)}: {figures_line(t, SHORT_LINE, f)}"


def header(t: Translator, status: Status) -> list[str]:
    org = status.org
    title = t("Status of {org} ({code})", org=org.name, code=org.code)
    lines = [f"<b>{esc(title)}</b>"]
    if status.cycle is None:
        lines.append(t("No review plan covers this organisation yet."))
    else:
        lines.append(
            t(
                "Plan {year}: finish by {finish_by}, report by {report_by}.",
                year=status.cycle.year,
                finish_by=t.date(status.cycle.finish_by),
                report_by=t.date(status.cycle.report_by),
            )
        )
    return lines


def page_count(status: Status) -> int:
    return max((len(status.children) + PAGE_SIZE - 1) // PAGE_SIZE, 1)


def clamp_page(status: Status, page: int) -> int:
    """A page that exists (the subtree may have shrunk since the button was made)."""
    return min(max(page, 0), page_count(status) - 1)


def _breach_lines(t: Translator, status: Status) -> list[str]:
    lines = []
    for item in status.breaches[:MAX_BREACH_LINES]:
        text = item.breach.render(t.gettext)
        lines.append("   – " + esc(text if len(text) <= 160 else text[:159] + "…"))
    if status.breach_count > MAX_BREACH_LINES:
        more = status.breach_count - MAX_BREACH_LINES
        lines.append("   – " + t("and {count} more: see /bao_cao", count=t.number(more)))
    if status.finish_by_passed and status.total.deadline_breaches:
        lines.append(
            "   – "
            + t(
                "{count} members still without a decided level after the finish-by date {date}",
                count=t.number(status.total.deadline_breaches),
                date=t.date(status.cycle.finish_by),
            )
        )
    return lines


def full_text(t: Translator, status: Status, page: int) -> str:
    """Everything a role on the organisation sees: figures, levels, breaches, units."""
    lines = header(t, status) + [""] + progress_lines(t, status.total)
    lines += level_lines(t, status.total)
    lines += _breach_lines(t, status)
    lines += unit_status_lines(t, status)  # issue 14: organisations and collectives
    children = status.children
    if children:
        first = page * PAGE_SIZE
        shown = children[first : first + PAGE_SIZE]
        lines += [
            "",
            t(
                "Units under it ({first}–{last} of {total}):",
                first=t.number(first + 1),
                last=t.number(first + len(shown)),
                total=t.number(len(children)),
            ),
            t(
                "📝 submitted/to review ⏰ late · 🗓 meetings held/cells · 🗳 ballots open · "
                "✅ decided/to rate · ⚠️ breaches"
            ),
        ]
        lines += [short_line(t, child, figures) for child, figures in shown]
    return "\n".join(lines)


def progress_text(t: Translator, status: Status) -> str:
    """What a plain member sees of their own cell: its progress in figures, nothing else."""
    return "\n".join(header(t, status) + [""] + progress_lines(t, status.total))


def keyboard(
    t: Translator, status: Status, page: int, parent: Organisation | None
) -> InlineKeyboardMarkup:
    """Drill down to a unit, page through them, go up (`parent`, when the caller sees it), the
    chart and the spreadsheet."""
    org = status.org
    first = page * PAGE_SIZE
    shown = status.children[first : first + PAGE_SIZE]
    drill = [
        InlineKeyboardButton(f"🔎 {child.code}", callback_data=StatusButton(child.id).encode())
        for child, _ in shown
    ]
    rows = [
        drill[i : i + DRILL_BUTTONS_PER_ROW] for i in range(0, len(drill), DRILL_BUTTONS_PER_ROW)
    ]
    paging = []
    if page > 0:
        paging.append(
            InlineKeyboardButton(
                t("◀️ Previous"), callback_data=StatusButton(org.id, page - 1).encode()
            )
        )
    if first + PAGE_SIZE < len(status.children):
        paging.append(
            InlineKeyboardButton(t("Next ▶️"), callback_data=StatusButton(org.id, page + 1).encode())
        )
    if paging:
        rows.append(paging)
    nav = []
    if parent is not None:
        nav.append(
            InlineKeyboardButton(
                t("⬆️ Up: {code}", code=parent.code), callback_data=StatusButton(parent.id).encode()
            )
        )
    for label, kind in ((t("📊 Chart"), "chart"), (t("📥 Spreadsheet"), "sheet")):
        nav.append(InlineKeyboardButton(label, callback_data=StatusFileButton(kind, org.id).encode()))
    rows.append(nav)
    return InlineKeyboardMarkup(rows)


def chart_caption(t: Translator, org: Organisation) -> str:
    return t("Progress and levels of {org}", org=esc(org.name))


def report_progress(t: Translator, org: Organisation, *, waits: bool) -> str:
    """While /bao_cao is built; `waits` when other reports are being built first."""
    if waits:
        return t(
            "Preparing the report of {org}… Other reports are being prepared: yours starts as "
            "soon as one is done.",
            org=esc(org.name),
        )
    return t("Preparing the report of {org}…", org=esc(org.name))
