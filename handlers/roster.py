"""A cell secretary sends the roster spreadsheet: preview what changes, apply on confirm."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.ext import CallbackQueryHandler, MessageHandler, filters

from bot.callbacks import parse_int
from bot.permissions import Action, grants_for
from bot.roster import BOT_LIMITS, RosterInvalid
from bot.services.roster_import import OutsideCell, apply_roster, describe_diff, parse_for_cell
from bot.text import esc
from handlers import frameworks
from handlers.base import Refusal, Turn, turn_handler
from storage.models import Organisation, PendingImport

CALLBACK_PREFIX = "roster:"
MAX_FILE_BYTES = BOT_LIMITS.file_bytes
ROSTER_SUFFIXES = (".xlsx", ".csv")


async def _own_cell(turn: Turn) -> Organisation:
    cells = [g for g in grants_for(turn.identity.grants, Action.IMPORT_ROSTER) if g.org_is_cell]
    if not cells:
        raise Refusal(
            "Only a cell's secretary or deputy can import its roster here. "
            "Upper committees import with the command line tool."
        )
    return await turn.session.get(Organisation, cells[0].org_id)


def _render_errors(turn: Turn, errors) -> str:
    t = turn.t
    lines = [
        t(
            "The file has {count} errors; nothing was changed. Please fix them and send it again:",
            count=t.number(len(errors)),
        )
    ]
    lines += [f"• {esc(error.render(t.gettext))}" for error in errors]
    return "\n".join(lines)


async def _check(turn: Turn, cell: Organisation, filename: str, content: bytes):
    """Parse, validate and keep to the secretary's own cell; None after telling the user why."""
    try:
        roster = await parse_for_cell(
            turn.session, [(filename, content)], turn.services.now().date(), cell
        )
    except RosterInvalid as invalid:
        await turn.reply(_render_errors(turn, invalid.errors))
        return None
    except OutsideCell as outside:
        t = turn.t
        lines = [
            t("This file reaches outside your cell {org}; nothing was changed:", org=esc(cell.name))
        ]
        lines += [f"• {esc(problem.render(t.gettext))}" for problem in outside.errors]
        await turn.reply("\n".join(lines))
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
    pending = PendingImport(
        telegram_id=turn.account.telegram_id, org_id=cell.id, filename=filename, content=content
    )
    turn.session.add(pending)
    await turn.session.flush()
    lines = [t("Preview of the import into {org}:", org=f"<b>{esc(cell.name)}</b>"), ""]
    lines += [esc(line) for line in describe_diff(t, diff)]
    lines += ["", t("Nothing is written until you confirm.")]
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t("✅ Apply"), callback_data=f"{CALLBACK_PREFIX}apply:{pending.id}"
                ),
                InlineKeyboardButton(
                    t("✖ Cancel"), callback_data=f"{CALLBACK_PREFIX}cancel:{pending.id}"
                ),
            ]
        ]
    )
    await turn.reply("\n".join(lines), reply_markup=keyboard)


@turn_handler()
async def roster_decision(turn: Turn) -> None:
    t = turn.t
    _, action, pending_id = (turn.query.data.split(":") + ["", ""])[:3]
    pending = (
        await turn.session.get(PendingImport, parse_int(pending_id))
    )
    if pending is None or pending.telegram_id != turn.account.telegram_id:
        raise Refusal("This button is no longer valid.")
    if pending.finished_at is not None:
        raise Refusal("This import was already applied or cancelled.")
    pending.finished_at = turn.services.now()
    if action == "cancel":
        await turn.answer(t("Cancelled"))
        await turn.edit(t("Import cancelled; nothing was changed."))
        return
    turn.require_member()
    cell = await _own_cell(turn)
    if cell.id != pending.org_id:
        raise Refusal("This button is no longer valid.")
    roster = await _check(turn, cell, pending.filename, pending.content)
    if roster is None:
        await turn.answer()
        return
    diff = await apply_roster(turn.session, roster, actor=turn.actor)
    await turn.answer(t("Applied"))
    lines = [t("Import into {org} applied.", org=f"<b>{esc(cell.name)}</b>"), ""]
    lines += [esc(line) for line in describe_diff(t, diff)]
    await turn.edit("\n".join(lines))


# block=False: reading a roster takes a worker thread up to a few seconds, and the bot goes on
# answering other updates meanwhile; the update is marked handled when the turn is done
# (bot/intake.py), so a crash while reading it replays it.
HANDLERS = [
    MessageHandler(filters.Document.ALL & filters.ChatType.PRIVATE, roster_file, block=False),
    CallbackQueryHandler(roster_decision, pattern=f"^{CALLBACK_PREFIX}", block=False),
]
