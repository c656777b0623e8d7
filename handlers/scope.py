"""Which organisation a command is about, checked through the one authorisation rule.

A code the caller may not see (outside the subtree of their roles, not above it, not their own
cell) is answered exactly like a code that does not exist: a refusal never confirms that a
unit exists, nor names it, outside the caller's reach.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.permissions import Action, grants_for, sees
from bot.text import esc
from handlers.base import Refusal, Turn
from storage.models import Member, Organisation, OrgKind
from storage.queries import org_by_code


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
    member = await turn.session.scalar(select(Member).where(Member.code == code.upper()))
    if member is not None:
        cell = await turn.session.get(Organisation, member.org_id)
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
    return await turn.session.get(Organisation, cells[0].org_id)


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
