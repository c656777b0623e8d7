"""A cell secretary sends the roster spreadsheet: preview what changes, apply on confirm."""

from __future__ import annotations

from telegram.ext import CallbackQueryHandler
from telegram.ext import MessageHandler
from telegram.ext import filters

from bot.i18n import N_
from bot.permissions import Action
from bot.permissions import grants_for
from bot.roster import BOT_LIMITS
from bot.roster import RosterInvalid
from bot.services import roster_import as service
from bot.services.roster_import import OutsideCell
from bot.services.roster_import import apply_roster
from bot.services.roster_import import describe_diff
from bot.services.roster_import import parse_for_cell
from bot.text import esc
from conversations import engine as flows
from handlers import frameworks
from handlers.base import Refusal
from handlers.base import Turn
from handlers.base import turn_handler
from handlers.scope import INVALID
from handlers.views import roster as views
from handlers.views.roster import RosterButton
from storage.models import Organisation

MAX_FILE_BYTES = BOT_LIMITS.file_bytes
ROSTER_SUFFIXES = (".xlsx", ".csv")


async def _own_cell(turn: Turn) -> Organisation:
    cells = [g for g in grants_for(turn.identity.grants, Action.IMPORT_ROSTER) if g.org_is_cell]
    if not cells:
        raise Refusal(
            "Only a cell's secretary or deputy can import its roster here. "
            "Upper committees import with the command line tool."
        )
    return await service.organisation(turn.session, cells[0].org_id)


async def _check(turn: Turn, cell: Organisation, filename: str, content: bytes):
    """Parse, validate and keep to the secretary's own cell; None after telling the user why."""
    try:
        roster = await parse_for_cell(
            turn.session, [(filename, content)], turn.services.now().date(), cell
        )
    except RosterInvalid as invalid:
        await turn.reply(views.errors_text(turn.t, invalid.errors))
        return None
    except OutsideCell as outside:
        await turn.reply(views.outside_text(turn.t, cell.name, outside.errors))
        return None
    return roster


@turn_handler()
async def roster_file(turn: Turn) -> None:
    turn.require_member()
    document = turn.update.effective_message.document
    filename = document.file_name or ""
    if not filename.lower().endswith(ROSTER_SUFFIXES):
        raise Refusal(
            "I can only read the roster as an .xlsx spreadsheet or a .csv file. "
            "Ask your upper committee for the template."
        )
    content = None
    if filename.lower().endswith(".xlsx"):
        # A workbook goes to its importer by its sheets: a criteria framework is handled there.
        content = await frameworks.take_workbook(turn, document, filename)
        if content is None:
            return
    cell = await _own_cell(turn)
    if content is None:
        if document.file_size and document.file_size > MAX_FILE_BYTES:
            raise Refusal(
                "The file is too large (at most {size} MB).", size=MAX_FILE_BYTES // 1024 // 1024
            )
        await turn.release()  # no transaction open while the file comes from Telegram
        telegram_file = await document.get_file()
        content = bytes(await telegram_file.download_as_bytearray())
    roster = await _check(turn, cell, filename, content)
    if roster is None:
        return
    diff = await apply_roster(turn.session, roster, actor=turn.actor, dry_run=True)
    t = turn.t
    if diff.is_empty and not diff.members_missing:
        await turn.reply(
            t(
                "The file matches what I already have for {org}: nothing to change.",
                org=esc(cell.name),
            )
        )
        return
    # The reads above were one snapshot; the writes start a transaction of their own, so a
    # change committed meanwhile by another chat's update cannot make SQLite refuse them.
    await turn.session.commit()
    pending = await service.keep_pending(
        turn.session, turn.account.telegram_id, cell, filename, content
    )
    await flows.begin(turn, ROSTER_FLOW, "confirm", pending=pending.id)
    text, keyboard = views.preview(t, cell.name, describe_diff(t, diff), pending.id)
    await flows.ask(turn, ROSTER_FLOW, text, reply_markup=keyboard)


@turn_handler(button=RosterButton)
async def roster_decision(turn: Turn) -> None:
    t = turn.t
    pressed: RosterButton = turn.button
    pending = await service.pending_import(
        turn.session, pressed.pending_id, turn.account.telegram_id
    )
    if pending is None:
        raise Refusal(INVALID)
    state = await flows.active(turn, ROSTER_FLOW)
    live = state is not None and flows.payload(state).get("pending") == pending.id
    if pending.finished_at is not None or not live:
        await turn.edit_keyboard(None)
        raise Refusal("This import was already applied or cancelled.")
    pending.finished_at = turn.services.now()
    await flows.finish(turn)
    turn.require_member()
    cell = await _own_cell(turn)
    if cell.id != pending.org_id:
        raise Refusal(INVALID)
    roster = await _check(turn, cell, pending.filename, pending.content)
    if roster is None:
        await turn.edit_keyboard(None)
        await turn.answer()
        return
    diff = await apply_roster(turn.session, roster, actor=turn.actor)
    await turn.answer(t("Applied"))
    await turn.edit(views.applied(t, cell.name, describe_diff(t, diff)))


ROSTER_FLOW = flows.declare(
    flows.Flow(
        "roster_preview",
        N_("importing the roster"),
        (flows.Step("confirm"),),
        kept=N_("Nothing was changed."),
    )
)

# block=False: reading a roster takes a worker thread up to a few seconds, and the bot goes on
# answering other updates meanwhile; the update is marked handled when the turn is done
# (bot/intake.py), so a crash while reading it replays it.
HANDLERS = [
    MessageHandler(filters.Document.ALL & filters.ChatType.PRIVATE, roster_file, block=False),
    CallbackQueryHandler(roster_decision, pattern=RosterButton.pattern(), block=False),
]
