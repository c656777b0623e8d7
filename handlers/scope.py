"""Which organisation a command is about, checked through the one authorisation rule."""

from __future__ import annotations

from bot.permissions import Action, grants_for
from bot.text import esc
from handlers.base import Refusal, Turn
from storage.models import Organisation, OrgKind
from storage.queries import org_by_code


async def managed_cell(turn: Turn, action: Action, code: str | None = None) -> Organisation:
    """The cell named by `code`, or the caller's own cell for this action; refused otherwise."""
    turn.require_member()
    if code:
        org = await org_by_code(turn.session, code)
        if org is None:
            raise Refusal("There is no organisation with the code {code}.", code=esc(code))
        if not OrgKind(org.kind).is_cell:
            raise Refusal("{org} is not a cell; give the code of a cell.", org=esc(org.name))
        turn.require(action, org)
        return org
    cells = [g for g in grants_for(turn.identity.grants, action) if g.org_is_cell]
    if not cells:
        raise Refusal("This is for the secretary or deputy secretary of a cell.")
    return await turn.session.get(Organisation, cells[0].org_id)
