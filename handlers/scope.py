"""Which organisation a command is about, checked through the one authorisation rule.

A code the caller may not see (outside the subtree of their roles, not above it, not their own
cell) is answered exactly like a code that does not exist: a refusal never confirms that a
unit exists, nor names it, outside the caller's reach.
"""

from __future__ import annotations

from bot.permissions import Action, grants_for, sees
from bot.services.appeal import appeal_parties
from bot.services.decision import deciding_level
from bot.text import esc
from handlers.base import Refusal, Turn
from storage.models import Member, Organisation, OrgKind
from storage.queries import member_by_code as find_member
from storage.queries import org_by_code, org_by_id


def can_see(turn: Turn, org: Organisation) -> bool:
    """Whether the caller may learn that `org` exists (see bot.permissions.sees)."""
    member = turn.identity.member
    own = (member.org_id, member.temporary_org_id) if member is not None else ()
    return sees(turn.identity.grants, org.path, org.id, own)


def out_of_reach(code: str) -> Refusal:
    """The one answer to a code that is unknown or outside the caller's reach."""
    return Refusal(
        "There is no organisation with the code {code} within your reach.", code=esc(code)
    )


async def unit_by_code(turn: Turn, code: str) -> Organisation:
    """The organisation with this code, if the caller may see it; refused the same way if it
    does not exist or lies outside their reach."""
    org = await org_by_code(turn.session, code)
    if org is None or not can_see(turn, org):
        raise out_of_reach(code)
    return org


async def member_by_code(turn: Turn, code: str) -> Member:
    """The member with this code, if the caller may see their cell; refused the same way if
    there is no such member."""
    member = await find_member(turn.session, code)
    if member is not None:
        cell = await org_by_id(turn.session, member.org_id)
        if cell is not None and can_see(turn, cell):
            return member
    raise Refusal("There is no member with the code {code} within your reach.", code=esc(code))


async def managed_cell(turn: Turn, action: Action, code: str | None = None) -> Organisation:
    """The cell named by `code`, or the caller's own cell for this action; refused otherwise."""
    turn.require_member()
    if code:
        org = await unit_by_code(turn, code)
        if not OrgKind(org.kind).is_cell:
            raise Refusal("{org} is not a cell; give the code of a cell.", org=esc(org.name))
        turn.require(action, org)
        return org
    cells = [g for g in grants_for(turn.identity.grants, action) if g.org_is_cell]
    if not cells:
        raise Refusal("This is for the secretary or deputy secretary of a cell.")
    return await org_by_id(turn.session, cells[0].org_id)


# --- decisions and appeals


INVALID = "This button is no longer valid."


async def deciding_root(turn: Turn, unit: Organisation) -> Organisation:
    """The level that decides for `unit`, with Action.DECIDE required on it."""
    root = await deciding_level(turn.session, unit)
    if root is None:
        raise Refusal(
            "Levels are decided for a cell or a grassroots unit; {org} is above them.",
            org=esc(unit.name),
        )
    turn.require(Action.DECIDE, root)
    return root


async def decision_unit(turn: Turn, code: str | None) -> Organisation:
    """The cell or grassroots unit named by `code`, or the one the caller decides for;
    Action.DECIDE required on its deciding level."""
    turn.require_member()
    if code:
        unit = await unit_by_code(turn, code)
    else:
        units = set()
        for g in grants_for(turn.identity.grants, Action.DECIDE):
            org = await org_by_id(turn.session, g.org_id)
            if org.kind in (OrgKind.GRASSROOTS, OrgKind.GRASSROOTS_CELL):
                units.add(org.id)
        if len(units) != 1:
            raise Refusal(
                "Give the code of the cell or grassroots unit whose levels you decide, "
                "e.g. /quyet_dinh CB01."
            )
        unit = await org_by_id(turn.session, units.pop())
    await deciding_root(turn, unit)
    return unit


async def unit_from_button(turn: Turn, org_id: int) -> Organisation:
    """The unit a decision button names; an id out of reach reads as a stale button."""
    org = await org_by_id(turn.session, org_id)
    if org is None or not can_see(turn, org):
        raise Refusal(INVALID)  # never name a unit out of reach from an id in a button
    return await decision_unit(turn, org.code)


async def appeal_deciding_org(turn: Turn, action: Action | None) -> Organisation:
    """The deciding level of the appeal a pressed button names (turn.button.appeal_id)."""
    turn.require_member()
    found = await appeal_parties(turn.session, turn.button.appeal_id)
    if found is None:
        raise Refusal(INVALID)
    return found[2]


async def org_from_button(turn: Turn, action: Action | None) -> Organisation:
    """The organisation a pressed button names (turn.button.org_id); a missing one reads as a
    stale button, and one out of reach is refused by the action's check like any other."""
    turn.require_member()
    org = await org_by_id(turn.session, turn.button.org_id)
    if org is None:
        raise Refusal(INVALID)
    return org


async def own_grant_org(turn: Turn, action: Action) -> Organisation | None:
    """The one organisation the caller holds `action` on, or None when none or several."""
    orgs = {g.org_id for g in grants_for(turn.identity.grants, action)}
    return await org_by_id(turn.session, orgs.pop()) if len(orgs) == 1 else None


async def decision_unit_named(turn: Turn, action: Action | None) -> Organisation:
    """Target: the unit the command's code names (or the caller's own); Action.DECIDE is
    required on its deciding level, which may lie above the unit."""
    args = turn.context.args or []
    return await decision_unit(turn, args[0] if args else None)


async def decision_unit_pressed(turn: Turn, action: Action | None) -> Organisation:
    """Target: the unit a decision button names (turn.button.org_id)."""
    return await unit_from_button(turn, turn.button.org_id)
