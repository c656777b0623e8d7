"""/ho_so [code]: the file (hồ sơ, R-A4) of a collective or a member as a zip, with what it holds
and what it does not. A member gets their own; a role gets those of the units and members of
its subtree (Action.VIEW_FILES). Built off the event loop behind a progress note."""

from __future__ import annotations

from telegram.ext import CommandHandler

from bot.permissions import Action
from bot.services import orgs
from bot.services import units
from bot.services.cycles import cycle_for_org
from bot.services.dossier import DossierError
from bot.services.dossier import dossier_off_loop
from bot.services.report import heavy_slot
from bot.text import esc
from handlers.base import Reach
from handlers.base import Refusal
from handlers.base import Turn
from handlers.base import turn_handler
from handlers.scope import can_see
from handlers.views import dossier as views
from handlers.views.frameworks import NO_SUCH_CODE
from storage.models import Member
from storage.models import Organisation
from storage.queries import org_by_code


async def _subject(turn: Turn) -> Organisation | Member:
    """The unit or member the file is asked for; the caller's own file without a code."""
    turn.require_member()
    me = turn.identity.member
    args = turn.context.args or []
    if not args:
        return me
    code = args[0]
    org = await org_by_code(turn.session, code)
    if org is not None and can_see(turn, org):
        return org
    member = await orgs.member_with_code(turn.session, code)
    if member is not None and member.id == me.id:
        return member
    cell = await orgs.organisation(turn.session, member.org_id) if member is not None else None
    if cell is not None and can_see(turn, cell):
        return member
    raise Refusal(NO_SUCH_CODE, code=esc(code))  # the same words as /goi_y's


async def dossier_target(turn: Turn, action: Action) -> Organisation | Reach:
    """Target: the unit whose file is asked for, or the member's cell; one's own file asks
    for no role."""
    subject = await _subject(turn)
    if isinstance(subject, Organisation):
        return subject
    cell = await orgs.organisation(turn.session, subject.org_id)
    return Reach(cell, None) if subject.id == turn.identity.member.id else cell


@turn_handler(action=Action.VIEW_FILES, target=dossier_target)
async def dossier_command(turn: Turn) -> None:
    subject = await _subject(turn)
    if isinstance(subject, Organisation) and not units.is_rated_kind(subject):
        raise Refusal("{org} is not reviewed as a collective: give the code of a cell, a "
                      "grassroots organisation or a member.", org=esc(subject.name))
    is_unit, unit = isinstance(subject, Organisation), turn.target  # the unit, or their cell
    if await cycle_for_org(turn.session, unit) is None:
        raise Refusal("No review plan covers {org} yet.", org=esc(unit.name))
    name = subject.name if is_unit else subject.full_name
    progress = await turn.reply_now(views.progress_text(turn.t, name))
    services = turn.services
    async with heavy_slot():  # built off the event loop: everyone else is answered meanwhile
        try:
            built = await dossier_off_loop(
                services.db.url, "unit" if is_unit else "member", subject.id, turn.t,
                now=services.now(), tz=services.settings.tz,
            )
        except DossierError as error:
            turn.after_commit(progress.delete)
            raise Refusal(error.msgid, **{k: esc(v) for k, v in error.params.items()}) from None
    await turn.reply(views.dossier_text(turn.t, built))
    caption = views.dossier_caption(turn.t, built)
    chat_id, bot = turn.chat_id, turn.context.bot

    async def send() -> None:
        await progress.delete()
        await bot.send_document(chat_id, built.content, filename=built.filename, caption=caption)

    turn.after_commit(send)


HANDLERS = [CommandHandler("ho_so", dossier_command)]
