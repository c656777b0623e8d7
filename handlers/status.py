"""Where a subtree stands: /tinh_trang (figures, drill-down, paging), /bieu_do (PNG chart),
/bao_cao (.xlsx report). Figures come from ``bot.services.status`` (grouped aggregate queries).

Buttons (typed, ``handlers/views/status.py``): ``StatusButton`` shows an organisation at a
page of its units (drill down, up, or another page), ``StatusFileButton`` its chart or
spreadsheet. Every press is checked again against the caller's roles: a role on an
organisation grants its subtree only.

A plain member (no role) sees their own cell's progress in figures, nothing else: no levels,
no breaches, no units.
"""

from __future__ import annotations

from telegram.ext import CallbackQueryHandler
from telegram.ext import CommandHandler

from bot.permissions import Action
from bot.services import orgs
from bot.services.report import ReportLimits
from bot.services.report import chart_off_loop
from bot.services.report import heavy_slot
from bot.services.report import heavy_slot_free
from bot.services.report import report_off_loop
from bot.services.status import Status
from bot.services.status import subtree_status
from bot.text import esc
from handlers import scope
from handlers.base import Turn
from handlers.base import turn_handler
from handlers.views import status as views
from handlers.views.report import report_caption
from storage.models import Organisation


def _today(turn: Turn):
    return turn.services.now().astimezone(turn.services.settings.tz).date()


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
    status = await _status(turn, org, full=full, limit=views.MAX_BREACH_LINES)
    if not full:
        return views.progress_text(turn.t, status), None
    page = views.clamp_page(status, page)
    parent = None
    if org.parent_id is not None:
        candidate = await orgs.organisation(turn.session, org.parent_id)
        if turn.may(Action.VIEW_STATUS, candidate):  # "⬆️ Up" only where the caller sees
            parent = candidate
    return views.full_text(turn.t, status, page), views.keyboard(turn.t, status, page, parent)


# --- handlers ------------------------------------------------------------------------------------


@turn_handler(action=Action.VIEW_STATUS, target=scope.status_unit)
async def status_command(turn: Turn) -> None:
    org = turn.target
    text, markup = await _view(turn, org, turn.may(Action.VIEW_STATUS, org), 0)
    await turn.reply(text, reply_markup=markup)


async def _send_chart(turn: Turn, org: Organisation) -> None:
    await turn.release()  # commit; then "sending a photo…" shows while the chart is drawn
    await turn.context.bot.send_chat_action(turn.chat_id, "upload_photo")
    async with heavy_slot():
        status = await _status(turn, org, full=False)  # the chart counts, names no breach
        png = await chart_off_loop(status, turn.t)  # drawn in a worker process
    caption = views.chart_caption(turn.t, org)
    chat_id, bot = turn.chat_id, turn.context.bot
    turn.after_commit(lambda: bot.send_photo(chat_id, png, caption=caption))


async def _send_report(turn: Turn, org: Organisation) -> None:
    await turn.answer()
    progress = await turn.reply_now(views.report_progress(turn.t, org, waits=not heavy_slot_free()))
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
    name = esc(org.name)
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


@turn_handler(action=Action.VIEW_STATUS, target=scope.managed_status_unit)
async def chart_command(turn: Turn) -> None:
    await _send_chart(turn, turn.target)


@turn_handler(action=Action.VIEW_STATUS, target=scope.managed_status_unit)
async def report_command(turn: Turn) -> None:
    await _send_report(turn, turn.target)


@turn_handler(
    button=views.StatusButton, action=Action.VIEW_STATUS, target=scope.status_unit_pressed
)
async def status_pressed(turn: Turn) -> None:
    org = turn.target
    text, markup = await _view(turn, org, turn.may(Action.VIEW_STATUS, org), turn.button.page)
    await turn.answer()
    await turn.edit(text, reply_markup=markup)


@turn_handler(
    button=views.StatusFileButton, action=Action.VIEW_STATUS, target=scope.org_from_button
)
async def file_pressed(turn: Turn) -> None:
    await turn.answer(turn.t("Preparing…"))
    await (_send_chart if turn.button.kind == "chart" else _send_report)(turn, turn.target)


HANDLERS = [
    CommandHandler("tinh_trang", status_command),
    CommandHandler("bieu_do", chart_command),
    CommandHandler("bao_cao", report_command),
    CallbackQueryHandler(status_pressed, pattern=views.StatusButton.pattern()),
    CallbackQueryHandler(file_pressed, pattern=views.StatusFileButton.pattern()),
]
