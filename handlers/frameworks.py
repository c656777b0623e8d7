"""Criteria frameworks in the bot: the template (/mau_khung), the file sent to the bot
(preview, then load on confirm) and the framework a unit is scored on (/khung_tieu_chi).

A document reaches `take_workbook` from the roster's document handler (handlers/roster.py):
an .xlsx with the sheet «Khung tiêu chí» is a framework and is handled here; one with the
roster's sheets goes back to the roster importer; any other workbook is refused with a pointer
to both templates.
"""

from __future__ import annotations

from telegram import Document
from telegram.ext import CallbackQueryHandler
from telegram.ext import CommandHandler

from bot.frameworks import FRAMEWORK
from bot.frameworks import ROSTER
from bot.frameworks import sniff
from bot.frameworks import template_bytes
from bot.frameworks import template_row
from bot.permissions import Action
from bot.roster import BOT_LIMITS
from bot.roster import RosterInvalid
from bot.services.frameworks import E_CELL
from bot.services.frameworks import FrameworkRefused
from bot.services.frameworks import apply_framework
from bot.services.frameworks import compare
from bot.services.frameworks import describe_diff
from bot.services.frameworks import framework_for
from bot.services.frameworks import held_upload
from bot.services.frameworks import hold_upload
from bot.services.frameworks import nearest_framework
from bot.services.frameworks import read_file
from bot.services.frameworks import target_for
from bot.text import esc
from handlers import scope
from handlers.base import Refusal
from handlers.base import Turn
from handlers.base import act_on
from handlers.base import turn_handler
from handlers.views import frameworks as views
from storage.models import OrgKind

TEMPLATE_NAME = "mau-khung-tieu-chi.xlsx"


def _refused(refused: FrameworkRefused) -> Refusal:
    return Refusal(refused.msgid, **{k: esc(v) for k, v in refused.params.items()})


@turn_handler(action=Action.LOAD_FRAMEWORK, target=scope.framework_committee)
async def template_command(turn: Turn) -> None:
    org = turn.target
    if OrgKind(org.kind).is_cell:
        raise Refusal(E_CELL, org=esc(org.name))
    t = turn.t
    nearest = await nearest_framework(turn.session, org)
    rows, loaded = None, None
    if nearest is not None:
        framework, owner, criteria = nearest
        rows = [template_row(c.code, c.text, c.max_tenths, frozenset(c.kinds.split(",")),
                             c.guidance) for c in criteria]
        loaded = framework.year, owner.name
    await turn.reply(views.template_text(t, org, loaded))
    content, chat_id, bot = template_bytes(rows), turn.chat_id, turn.context.bot
    caption = t("Criteria framework template")
    turn.after_commit(
        lambda: bot.send_document(chat_id, content, filename=TEMPLATE_NAME, caption=caption)
    )


# A framework file acts on the committee its caption names (or the sender's highest one), with
# LOAD_FRAMEWORK required on it: declared here, applied once the file is known to be a
# framework (a roster goes to the roster's importer, which declares its own).
FILE_ACTION, FILE_TARGET = Action.LOAD_FRAMEWORK, scope.framework_file_committee


async def take_workbook(turn: Turn, document: Document, filename: str) -> bytes | None:
    """Download an .xlsx sent to the bot. A framework is handled here (None is returned); a
    roster's bytes are returned for the roster importer; another workbook is refused."""
    turn.require_member()
    if document.file_size and document.file_size > BOT_LIMITS.file_bytes:
        raise Refusal(
            "The file is too large (at most {size} MB).",
            size=BOT_LIMITS.file_bytes // 1024 // 1024,
        )
    await turn.release()  # no transaction open while the file comes from Telegram
    telegram_file = await document.get_file()
    content = bytes(await telegram_file.download_as_bytearray())
    kind = sniff(content)
    if kind == ROSTER:
        return content
    if kind != FRAMEWORK:
        raise Refusal(
            "I do not know this spreadsheet: a roster has the sheets «Tổ chức», «Đảng viên» "
            "and «Vai trò», a criteria framework the sheet «Khung tiêu chí». Start from a "
            "template: the roster's from your upper committee, the framework's with /mau_khung."
        )
    await _framework_file(turn, filename, content)
    return None


async def _framework_file(turn: Turn, filename: str, content: bytes) -> None:
    await act_on(turn, FILE_ACTION, await FILE_TARGET(turn, FILE_ACTION))
    org = turn.target
    try:
        target = await target_for(turn.session, org)
    except FrameworkRefused as refused:
        raise _refused(refused) from None
    try:
        parsed = await read_file(target, filename, content)
    except RosterInvalid as invalid:
        await turn.reply(views.errors_text(turn.t, invalid))
        return
    diff = await compare(turn.session, target, parsed)
    t = turn.t
    if diff.is_empty:
        await turn.reply(views.unchanged_text(t, org, target.year))
        return
    await turn.session.commit()  # the reads were one snapshot; the writes start afresh
    upload = await hold_upload(
        turn.session, turn.account.telegram_id, org, target.year, filename, content
    )
    text, keyboard = views.preview_screen(t, org, describe_diff(t, target, diff), upload.id)
    await turn.reply(text, reply_markup=keyboard)


@turn_handler(
    button=views.FrameworkButton, action=Action.LOAD_FRAMEWORK, target=scope.framework_upload_org
)
async def framework_decision(turn: Turn) -> None:
    t = turn.t
    pressed: views.FrameworkButton = turn.button
    upload = await held_upload(turn.session, pressed.upload_id)
    if upload.finished_at is not None:
        raise Refusal("This framework was already loaded or cancelled.")
    upload.finished_at = turn.services.now()
    if pressed.action == "cancel":
        await turn.answer(t("Cancelled"))
        await turn.edit(views.cancelled_text(t))
        return
    org = turn.target
    try:
        target = await target_for(turn.session, org, upload.year)
        parsed = await read_file(target, upload.filename, upload.content)
    except FrameworkRefused as refused:
        raise _refused(refused) from None
    except RosterInvalid as invalid:  # the plan's rules changed since the preview
        await turn.answer()
        await turn.reply(views.errors_text(turn.t, invalid))
        return
    diff = await apply_framework(
        turn.session, target, parsed, filename=upload.filename, actor=turn.actor
    )
    await turn.answer(t("Loaded"))
    await turn.edit(views.loaded_text(t, org, describe_diff(t, target, diff)))


@turn_handler(action=Action.VIEW_STATUS, target=scope.framework_viewed_unit)
async def show_command(turn: Turn) -> None:
    org = turn.target
    found = await framework_for(turn.session, org)
    if found is None:
        await turn.reply(views.none_in_effect_text(turn.t, org))
        return
    loaded_on = found.framework.loaded_at.astimezone(turn.services.settings.tz).date()
    await turn.reply(views.in_effect_text(turn.t, org, found, loaded_on))


HANDLERS = [
    CommandHandler("mau_khung", template_command),
    CommandHandler("khung_tieu_chi", show_command),
    CallbackQueryHandler(
        framework_decision, pattern=views.FrameworkButton.pattern(), block=False
    ),
]
