"""Which organisation a command is about, checked through the one authorisation rule.

A code the caller may not see (outside the subtree of their roles, not above it, not their own
cell) is answered exactly like a code that does not exist: a refusal never confirms that a
unit exists, nor names it, outside the caller's reach.
"""

from __future__ import annotations

from bot.permissions import Action, grants_for, sees
from bot.services import orgs
from bot.services.checks import member_cell
from bot.services.decision import deciding_level
from bot.text import esc
from conversations.engine import current, payload
from handlers.base import Refusal, Turn
from handlers.views.plan import NOT_COMMITTEE
from storage.models import Member, Organisation, OrgKind
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
    member = await orgs.member_with_code(turn.session, code)
    if member is not None:
        cell = await orgs.organisation(turn.session, member.org_id)
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
    return await orgs.organisation(turn.session, cells[0].org_id)


# --- meeting and ballot (imported here: this section is the ballot's own)
from bot.callbacks import InvalidButton  # noqa: E402
from bot.services import ballot  # noqa: E402


async def meeting_cell(turn: Turn, action: Action) -> Organisation:
    """The cell of the meeting a button names (`turn.button.meeting_id`)."""
    meeting = await ballot.meeting_by_id(turn.session, turn.button.meeting_id)
    if meeting is None:
        raise InvalidButton()
    return await ballot.cell_of(turn.session, meeting.org_id)


async def round_cell(turn: Turn, action: Action) -> Organisation:
    """The cell of the ballot round a button names (`turn.button.round_id`)."""
    view = await ballot.round_view(turn.session, turn.button.round_id)
    if view is None:
        raise InvalidButton()
    return view.cell


# --- plan and checks


async def plan_unit(turn: Turn, action: Action) -> Organisation:
    """/ke_hoach [code]: the unit named, else the highest unit where the caller holds `action`."""
    turn.require_member()
    args = turn.context.args or []
    if args:
        return await unit_by_code(turn, args[0])
    grants = grants_for(turn.identity.grants, action)
    if not grants:
        raise Refusal(NOT_COMMITTEE)
    top = min(grants, key=lambda g: (g.org_is_cell, g.org_path.count("/"), g.org_path))
    return await org_by_id(turn.session, top.org_id)


async def plan_draft_unit(turn: Turn, _action: Action) -> Organisation:
    """The unit of the caller's open /ke_hoach draft (a press without one is stale)."""
    state = await current(turn.session, turn.account.telegram_id)
    org_id = payload(state).get("org_id") if state is not None and state.flow == "plan" else None
    org = await org_by_id(turn.session, org_id) if isinstance(org_id, int) else None
    if org is None:
        raise Refusal("This button is no longer valid.")
    return org


async def lowered_member_cell(turn: Turn, _action: Action) -> Organisation:
    """The cell of the member whose proposal is lowered: named by the press (turn.button),
    else by the caller's open lowering flow."""
    turn.require_member()
    member_id = getattr(turn.button, "member_id", None)
    if member_id is None:
        state = await current(turn.session, turn.account.telegram_id)
        if state is not None and state.flow == "lower_proposal":
            member_id = payload(state).get("member_id")
    cell = await member_cell(turn.session, member_id) if isinstance(member_id, int) else None
    if cell is None:
        raise Refusal("This button is no longer valid.")
    return cell


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


async def decision_unit_pressed(turn: Turn, action: Action | None) -> Organisation:
    """Target: the unit a decision button names (turn.button.org_id)."""
    return await unit_from_button(turn, turn.button.org_id)


# --- self-review and meeting date
# (imported here, not at the top: each feature's section stays apart from the others')
from bot.permissions import allowed  # noqa: E402
from bot.services import reviews  # noqa: E402
from storage.models import SelfReview  # noqa: E402


def may(turn: Turn, action: Action, org: Organisation) -> bool:
    """Whether the caller may do `action` for `org` (to show a button only to those who may)."""
    return allowed(turn.identity.grants, action, org.path)


async def command_cell(turn: Turn, action: Action) -> Organisation:
    """The cell named by the command's first argument, or the caller's own cell."""
    args = turn.context.args or []
    return await managed_cell(turn, action, args[0] if args else None)


async def review_button_cell(turn: Turn, action: Action) -> Organisation:
    """The cell a self-review button is about: the cell itself for «all», else the cell of
    the review it names."""
    pressed = turn.button
    if getattr(pressed, "action", None) == "all":
        org = await reviews.org_by_id(turn.session, pressed.ref)
    else:
        review_id = pressed.review_id if hasattr(pressed, "review_id") else pressed.ref
        org = await reviews.cell_of_review(turn.session, review_id)
    if org is None:
        raise Refusal("This button is no longer valid.")
    return org


async def review_cell(turn: Turn, action: Action, review_id: int) -> Organisation:
    """The cell of a review a flow's payload names, with `action` required on it (for typed
    text, which no button declares)."""
    org = await reviews.cell_of_review(turn.session, review_id)
    if org is None:
        raise Refusal("This button is no longer valid.")
    turn.require(action, org)
    return org


async def review_for(turn: Turn, review_id: int) -> tuple[SelfReview, Member]:
    """A review and its member (the caller's right to it is checked by the target)."""
    review = await reviews.review_by_id(turn.session, review_id)
    if review is None:
        raise Refusal("This button is no longer valid.")
    member, _cell = await reviews.owner_of(turn.session, review)
    return review, member


async def meeting_button_cell(turn: Turn, action: Action) -> Organisation:
    """The cell a meeting-calendar button names."""
    org = await reviews.org_by_id(turn.session, turn.button.cell_id)
    if org is None:
        raise Refusal("This button is no longer valid.")
    return org


async def meeting_flow_cell(turn: Turn, action: Action, cell_id: int) -> Organisation:
    """The cell of a meeting flow's payload, with `action` required on it (typed dates)."""
    org = await reviews.org_by_id(turn.session, cell_id)
    if org is None:
        raise Refusal("This button is no longer valid.")
    turn.require(action, org)
    return org
