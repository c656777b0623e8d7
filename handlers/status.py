"""Where a subtree stands: /tinh_trang (figures, drill-down, paging), /bieu_do (PNG chart),
/bao_cao (.xlsx report). Figures come from ``bot.services.status`` (grouped aggregate queries).

Buttons: ``tt:o:<org id>:<page>`` shows an organisation (drill down, up, or another page),
``tt:c:<org id>`` the chart and ``tt:x:<org id>`` the spreadsheet. Every press is checked
again against the caller's roles: a role on an organisation grants its subtree only.

A plain member (no role) sees their own cell's progress in figures, nothing else: no levels,
no breaches, no units.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.callbacks import parse_int
from bot.i18n import N_, Translator
from bot.permissions import Action, allowed, grants_for
from bot.services import orgs
from bot.services.report import (
    ReportLimits,
    chart_off_loop,
    heavy_slot,
    heavy_slot_free,
    report_off_loop,
)
from bot.services.status import LEVEL_CODES, Figures, Status, subtree_status
from bot.text import esc
from handlers.base import Refusal, Turn, turn_handler
from handlers.scope import unit_by_code
from handlers.views.report import report_caption
from storage.models import Organisation

PREFIX = "tt:"
PAGE_SIZE = 20
MAX_BREACH_LINES = 6
DRILL_BUTTONS_PER_ROW = 4
INVALID = N_("This button is no longer valid.")


# --- which organisation ----------------------------------------------------------------------


def _today(turn: Turn):
    return turn.services.now().astimezone(turn.services.settings.tz).date()


async def _target(turn: Turn, code: str | None) -> tuple[Organisation, bool]:
    """The organisation asked about and whether the caller sees everything (True) or only
    their own cell's progress (False); refused outside the caller's subtree."""
    turn.require_member()
    member = turn.identity.member
    if code:
        org = await unit_by_code(turn, code)
        if allowed(turn.identity.grants, Action.VIEW_STATUS, org.path):
            return org, True
        if org.id == member.org_id:
            return org, False
        turn.require(Action.VIEW_STATUS, org)  # refuses
    roots = grants_for(turn.identity.grants, Action.VIEW_STATUS)
    if roots:
        top = min(roots, key=lambda g: (g.org_path.count("/"), g.org_path))
        return await orgs.organisation(turn.session, top.org_id), True
    return await orgs.organisation(turn.session, member.org_id), False


async def _org_from_button(turn: Turn, org_id: str) -> Organisation:
    org = await orgs.organisation(turn.session, parse_int(org_id))
    if org is None:
        raise Refusal(INVALID)
    return org


async def _full_access(turn: Turn, org: Organisation) -> bool:
    turn.require_member()
    if allowed(turn.identity.grants, Action.VIEW_STATUS, org.path):
        return True
    if org.id == turn.identity.member.org_id:
        return False
    turn.require(Action.VIEW_STATUS, org)
    return False


# --- text --------------------------------------------------------------------------------------


def _levels(t: Translator, counter) -> str:
    return ", ".join(f"{code} {t.number(counter[code])}" for code in LEVEL_CODES)


def progress_lines(t: Translator, f: Figures) -> list[str]:
    n = t.number
    return [
        t(
            "👥 Members: {members}; to be reviewed: {to_review}; to be rated: {to_rate}",
            members=n(f.members),
            to_review=n(f.to_review),
            to_rate=n(f.to_rate),
        ),
        t(
            "📝 Self-reviews: submitted {submitted} (late {late}); not submitted {missing}",
            submitted=n(f.submitted),
            late=n(f.late),
            missing=n(f.missing),
        ),
        t(
            "🗓 Meetings: held {held}; scheduled {scheduled}; cells {cells}",
            held=n(f.meetings_held),
            scheduled=n(f.meetings_scheduled),
            cells=n(f.cells),
        ),
        t(
            "🗳 Ballots: open {open}; closed {closed}",
            open=n(f.ballots_open),
            closed=n(f.ballots_closed),
        ),
    ]


def level_lines(t: Translator, f: Figures) -> list[str]:
    return [
        t("📋 Proposed: {levels}", levels=_levels(t, f.proposed)),
        t("✅ Decided: {levels}", levels=_levels(t, f.decided)),
        t(
            "⚠️ Breaches: quota {quota}; caps {caps}; deadline {deadline}",
            quota=t.number(f.quota_breaches),
            caps=t.number(f.cap_breaches),
            deadline=t.number(f.deadline_breaches),
        ),
    ]


def short_line(t: Translator, org: Organisation, f: Figures) -> str:
    name = org.name if len(org.name) <= 40 else org.name[:39] + "…"
    figures = t(
        "📝 {submitted}/{to_review} ⏰ {late} · 🗓 {held}/{cells} · 🗳 {open} · "
        "✅ {decided}/{to_rate} · ⚠️ {breaches}",
        submitted=t.number(f.submitted),
        to_review=t.number(f.to_review),
        late=t.number(f.late),
        held=t.number(f.meetings_held),
        cells=t.number(f.cells),
        open=t.number(f.ballots_open),
        decided=t.number(f.decided_total),
        to_rate=t.number(f.to_rate),
        breaches=t.number(f.breaches),
    )
    return f"• <b>{esc(org.code)}</b> {esc(name)}: {figures}"


def _header(t: Translator, status: Status) -> list[str]:
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


def full_text(t: Translator, status: Status, page: int) -> str:
    lines = _header(t, status) + [""] + progress_lines(t, status.total)
    lines += level_lines(t, status.total)
    for item in status.breaches[:MAX_BREACH_LINES]:
        text = item.breach.render(t.gettext)
        lines.append("   – " + esc(text if len(text) <= 160 else text[:159] + "…"))
    if status.breach_count > MAX_BREACH_LINES:
        lines.append(
            "   – "
            + t(
                "and {count} more: see /bao_cao",
                count=t.number(status.breach_count - MAX_BREACH_LINES),
            )
        )
    if status.finish_by_passed and status.total.deadline_breaches:
        lines.append(
            "   – "
            + t(
                "{count} members still without a decided level after the finish-by date {date}",
                count=t.number(status.total.deadline_breaches),
                date=t.date(status.cycle.finish_by),
            )
        )
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
    return "\n".join(_header(t, status) + [""] + progress_lines(t, status.total))


def keyboard(
    turn: Turn, status: Status, page: int, parent: Organisation | None
) -> InlineKeyboardMarkup:
    t = turn.t
    org = status.org
    first = page * PAGE_SIZE
    shown = status.children[first : first + PAGE_SIZE]
    drill = [
        InlineKeyboardButton(f"🔎 {child.code}", callback_data=f"{PREFIX}o:{child.id}:0")
        for child, _ in shown
    ]
    rows = [
        drill[i : i + DRILL_BUTTONS_PER_ROW] for i in range(0, len(drill), DRILL_BUTTONS_PER_ROW)
    ]
    paging = []
    if page > 0:
        paging.append(
            InlineKeyboardButton(t("◀️ Previous"), callback_data=f"{PREFIX}o:{org.id}:{page - 1}")
        )
    if first + PAGE_SIZE < len(status.children):
        paging.append(
            InlineKeyboardButton(t("Next ▶️"), callback_data=f"{PREFIX}o:{org.id}:{page + 1}")
        )
    if paging:
        rows.append(paging)
    nav = []
    if parent is not None:
        nav.append(
            InlineKeyboardButton(
                t("⬆️ Up: {code}", code=parent.code), callback_data=f"{PREFIX}o:{parent.id}:0"
            )
        )
    nav.append(InlineKeyboardButton(t("📊 Chart"), callback_data=f"{PREFIX}c:{org.id}"))
    nav.append(InlineKeyboardButton(t("📥 Spreadsheet"), callback_data=f"{PREFIX}x:{org.id}"))
    rows.append(nav)
    return InlineKeyboardMarkup(rows)


async def _status(
    turn: Turn, org: Organisation, *, full: bool = True, limit: int | None = None
) -> Status:
    return await subtree_status(
        turn.session,
        org,
        now=turn.services.now(),
        today=_today(turn),
        with_breaches=full,
        breach_limit=limit,
    )


async def _view(turn: Turn, org: Organisation, full: bool, page: int):
    status = await _status(turn, org, full=full, limit=MAX_BREACH_LINES)
    if not full:
        return progress_text(turn.t, status), None
    pages = max((len(status.children) + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    page = min(max(page, 0), pages - 1)
    parent = None
    if org.parent_id is not None:
        candidate = await orgs.organisation(turn.session, org.parent_id)
        if allowed(turn.identity.grants, Action.VIEW_STATUS, candidate.path):
            parent = candidate
    return full_text(turn.t, status, page), keyboard(turn, status, page, parent)


# --- handlers ------------------------------------------------------------------------------------


@turn_handler()
async def status_command(turn: Turn) -> None:
    args = turn.context.args or []
    org, full = await _target(turn, args[0] if args else None)
    text, markup = await _view(turn, org, full, 0)
    await turn.reply(text, reply_markup=markup)


async def _send_chart(turn: Turn, org: Organisation) -> None:
    turn.require(Action.VIEW_STATUS, org)
    await turn.release()  # commit; then "sending a photo…" shows while the chart is drawn
    await turn.context.bot.send_chat_action(turn.chat_id, "upload_photo")
    async with heavy_slot():
        status = await _status(turn, org, full=False)  # the chart counts, names no breach
        png = await chart_off_loop(status, turn.t)  # drawn in a worker process
    caption = turn.t("Progress and levels of {org}", org=esc(org.name))
    chat_id, bot = turn.chat_id, turn.context.bot
    turn.after_commit(lambda: bot.send_photo(chat_id, png, caption=caption))


async def _send_report(turn: Turn, org: Organisation) -> None:
    turn.require(Action.VIEW_STATUS, org)
    await turn.answer()
    name = esc(org.name)
    note = turn.t("Preparing the report of {org}…", org=name)
    if not heavy_slot_free():
        note = turn.t(
            "Preparing the report of {org}… Other reports are being prepared: yours starts as "
            "soon as one is done.",
            org=name,
        )
    progress = await turn.reply_now(note)
    settings = turn.services.settings
    limits = ReportLimits(settings.report_max_rows, settings.report_max_bytes)
    async with heavy_slot():  # built in a worker process: everyone else is answered meanwhile
        report = await report_off_loop(
            turn.services.db.url,
            org.id,
            turn.t,
            now=turn.services.now(),
            today=_today(turn),
            limits=limits,
        )
    documents = [(f.path, report.filename(f), report_caption(turn.t, report, f, name))
                 for f in report.files]
    chat_id, bot = turn.chat_id, turn.context.bot

    async def send() -> None:
        try:
            await progress.delete()
            for path, filename, caption in documents:
                with open(path, "rb") as content:  # noqa: ASYNC230 (a local file, read by PTB)
                    await bot.send_document(chat_id, content, filename=filename, caption=caption)
        finally:
            report.remove()

    turn.after_commit(send)


async def _managed_target(turn: Turn) -> Organisation:
    args = turn.context.args or []
    org, full = await _target(turn, args[0] if args else None)
    if not full:
        raise Refusal("This is for the secretaries, deputies and committee members.")
    return org


@turn_handler()
async def chart_command(turn: Turn) -> None:
    await _send_chart(turn, await _managed_target(turn))


@turn_handler()
async def report_command(turn: Turn) -> None:
    await _send_report(turn, await _managed_target(turn))


@turn_handler()
async def status_button(turn: Turn) -> None:
    parts = turn.query.data.removeprefix(PREFIX).split(":")
    if parts[0] == "o" and len(parts) == 3:
        page = parse_int(parts[2], max_digits=5)
        org = await _org_from_button(turn, parts[1])
        full = await _full_access(turn, org)
        text, markup = await _view(turn, org, full, page)
        await turn.answer()
        await turn.edit(text, reply_markup=markup)
    elif parts[0] in ("c", "x") and len(parts) == 2:
        org = await _org_from_button(turn, parts[1])
        turn.require_member()
        turn.require(Action.VIEW_STATUS, org)
        await turn.answer(turn.t("Preparing…"))
        await (_send_chart if parts[0] == "c" else _send_report)(turn, org)
    else:
        raise Refusal(INVALID)


HANDLERS = [
    CommandHandler("tinh_trang", status_command),
    CommandHandler("bieu_do", chart_command),
    CommandHandler("bao_cao", report_command),
    CallbackQueryHandler(status_button, pattern=f"^{PREFIX}"),
]
