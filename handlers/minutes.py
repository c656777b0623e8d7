"""/bien_ban [code]: the minutes of a unit's review meeting, drafted as a Word file from what the
bot recorded, with what they hold and still lack; the meeting's secretary or deputy (or one
above) gets a button to write the chair's conclusions (conversations/minutes.py)."""

from __future__ import annotations

import asyncio

from telegram.ext import CommandHandler

from bot.permissions import Action
from bot.permissions import grants_for
from bot.services import minutes
from bot.services import orgs
from bot.services.minutes_docx import render_minutes_docx
from bot.services.report import heavy_slot
from bot.services.reviews import local_today
from bot.text import esc
from handlers.base import Refusal
from handlers.base import Turn
from handlers.base import turn_handler
from handlers.scope import unit_by_code
from handlers.views import minutes as views
from storage.models import Organisation


async def own_unit(turn: Turn, action: Action, command: str) -> Organisation:
    """The unit a command without a code is about: the caller's own cell where their role
    allows `action` on it, else the one organisation where they hold it."""
    turn.require_member()
    grants = grants_for(turn.identity.grants, action)
    if not grants:
        raise Refusal("This is for the secretaries, deputies and committee members.")
    cell = await orgs.organisation(turn.session, turn.identity.member.org_id)
    if cell is not None and turn.may(action, cell):  # which unit; the edge then requires it
        return cell
    if len({g.org_id for g in grants}) == 1:
        return await orgs.organisation(turn.session, grants[0].org_id)
    raise Refusal("Give the code of the unit, e.g. /{command} {code}.", command=command,
                  code=esc(grants[0].org_code))


async def minutes_unit(turn: Turn, action: Action) -> Organisation:
    """Target: the unit the command's code names, or the caller's own."""
    turn.require_member()
    args = turn.context.args or []
    if args:
        return await unit_by_code(turn, args[0])
    return await own_unit(turn, action, "bien_ban")


async def meeting_of(turn: Turn, org: Organisation):
    cycle, meeting = await minutes.unit_meeting(turn.session, org)
    if cycle is None:
        raise Refusal("No review plan covers {org} yet.", org=esc(org.name))
    if meeting is None:
        raise Refusal("{org} has no review meeting in the plan of {year} yet: its secretary sets "
                      "the date with /lich_hop.", org=esc(org.name), year=cycle.year)
    return meeting


@turn_handler(action=Action.VIEW_FILES, target=minutes_unit)
async def minutes_command(turn: Turn) -> None:
    org = turn.target
    meeting = await meeting_of(turn, org)
    today = local_today(turn.services.now(), turn.services.settings.tz)
    data = await minutes.gather(turn.session, meeting, today=today)
    keyboard = views.summary_keyboard(turn.t, meeting.id, turn.may(Action.WRITE_MINUTES, org),
                                      data.conclusions is not None)
    await turn.reply(views.summary_text(turn.t, data), reply_markup=keyboard)
    await turn.release()  # the summary goes now; no transaction waits for the drawing
    async with heavy_slot():  # the Word file is drawn in a worker thread
        content = await asyncio.to_thread(render_minutes_docx, data, turn.t)
    caption, filename = views.file_caption(turn.t, data)
    chat_id, bot = turn.chat_id, turn.context.bot
    turn.after_commit(
        lambda: bot.send_document(chat_id, content, filename=filename, caption=caption)
    )


HANDLERS = [CommandHandler("bien_ban", minutes_command)]
