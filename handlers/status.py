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

import asyncio

from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.i18n import N_
from bot.permissions import Action, allowed, grants_for
from bot.services import orgs
from bot.services.report import heavy_slot, report_off_loop, status_chart
from bot.services.status import Status, subtree_status
from handlers.base import Refusal, Turn, turn_handler
from handlers.scope import unit_by_code
from handlers.views import status as views
from storage.models import Organisation

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


async def _org_from_button(turn: Turn, org_id: int) -> Organisation:
    org = await orgs.organisation(turn.session, org_id)
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
        if allowed(turn.identity.grants, Action.VIEW_STATUS, candidate.path):
            parent = candidate
    return views.full_text(turn.t, status, page), views.keyboard(turn.t, status, page, parent)


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
        png = await asyncio.to_thread(status_chart, status, turn.t)
    caption = views.chart_caption(turn.t, org)
    chat_id, bot = turn.chat_id, turn.context.bot
    turn.after_commit(lambda: bot.send_photo(chat_id, png, caption=caption))


async def _send_report(turn: Turn, org: Organisation) -> None:
    turn.require(Action.VIEW_STATUS, org)
    await turn.answer()
    progress = await turn.reply_now(views.report_progress(turn.t, org))
    async with heavy_slot():  # built off the event loop: everyone else is answered meanwhile
        status, content = await report_off_loop(
            turn.services.db.url, org.id, turn.t, now=turn.services.now(), today=_today(turn)
        )
    filename, caption = views.report_file(turn.t, status)
    chat_id, bot = turn.chat_id, turn.context.bot

    async def send() -> None:
        await progress.delete()
        await bot.send_document(chat_id, content, filename=filename, caption=caption)

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


@turn_handler(button=views.StatusButton)
async def status_pressed(turn: Turn) -> None:
    pressed: views.StatusButton = turn.button
    org = await _org_from_button(turn, pressed.org_id)
    full = await _full_access(turn, org)
    text, markup = await _view(turn, org, full, pressed.page)
    await turn.answer()
    await turn.edit(text, reply_markup=markup)


@turn_handler(button=views.StatusFileButton)
async def file_pressed(turn: Turn) -> None:
    pressed: views.StatusFileButton = turn.button
    org = await _org_from_button(turn, pressed.org_id)
    turn.require_member()
    turn.require(Action.VIEW_STATUS, org)
    await turn.answer(turn.t("Preparing…"))
    await (_send_chart if pressed.kind == "chart" else _send_report)(turn, org)


HANDLERS = [
    CommandHandler("tinh_trang", status_command),
    CommandHandler("bieu_do", chart_command),
    CommandHandler("bao_cao", report_command),
    CallbackQueryHandler(status_pressed, pattern=views.StatusButton.pattern()),
    CallbackQueryHandler(file_pressed, pattern=views.StatusFileButton.pattern()),
]
