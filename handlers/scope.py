"""Which organisation a turn acts on: the targets handlers and flow steps declare.

A target finds the organisation (from the command's code, the pressed button, or a flow's
payload) and returns it; the action the handler or step declares is then required on it by
`handlers.base.act_on`, the one place a permission is checked. Where the rule puts the
permission elsewhere, the target says so with a `Reach` (DECIDE on the deciding level above a
cell; no role for a plain member's own cell's progress). Nothing here checks a permission.

A code the caller may not see (outside the subtree of their roles, not above it, not their own
cell) is answered exactly like a code that does not exist: a refusal never confirms that a
unit exists, nor names it, outside the caller's reach.

Targets of buttons and commands take (turn, action); targets of flow steps also take the
flow's payload (conversations/engine.py, `Step(target=...)`).
"""

from __future__ import annotations

from typing import Any
from typing import TypeVar

from bot.permissions import POLICY
from bot.permissions import Action
from bot.permissions import Grant
from bot.permissions import grants_for
from bot.permissions import in_subtree
from bot.permissions import sees
from bot.services import ballot
from bot.services import orgs
from bot.services import reviews
from bot.services.appeal import appeal_parties
from bot.services.checks import member_cell
from bot.services.decision import deciding_level
from bot.services.decision import rating_subject
from bot.services.frameworks import held_upload
from bot.text import esc
from handlers.base import Reach
from handlers.base import Refusal
from handlers.base import Turn
from handlers.views.decision import NO_LONGER_DECIDED
from handlers.views.frameworks import NO_SUCH_CODE
from handlers.views.frameworks import NOT_ABOVE
from handlers.views.frameworks import ONLY_COMMITTEES
from handlers.views.frameworks import ONLY_VIEWERS
from handlers.views.frameworks import PROMPT_USAGE
from handlers.views.plan import NOT_COMMITTEE
from handlers.views.status import MANAGERS_ONLY
from storage.models import Member
from storage.models import Organisation
from storage.models import OrgKind
from storage.models import SelfReview
from storage.queries import org_by_code
from storage.queries import org_by_id

INVALID = "This button is no longer valid."
T = TypeVar("T")


def named(found: T | None) -> T:
    """What a button or a flow's payload names; gone, the button or the step is stale."""
    if found is None:
        raise Refusal(INVALID)
    return found


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


def _first_arg(turn: Turn) -> str | None:
    args = turn.context.args or []
    return args[0] if args else None


def _highest(grants: list[Grant]) -> Grant:
    """The grant nearest the root (then the first by path): the widest reach."""
    return min(grants, key=lambda g: (g.org_is_cell, g.org_path.count("/"), g.org_path))


async def named_or_highest(
    turn: Turn, action: Action, code: str | None, grants: list[Grant], none: str
) -> Organisation:
    """The unit `code` names, else the highest organisation of `grants` (the caller's roots
    for `action`); refused with `none` when there is neither."""
    turn.require_member()
    if code:
        return await unit_by_code(turn, code)
    if not grants:
        raise Refusal(none)
    return await org_by_id(turn.session, _highest(grants).org_id)


async def org_from_button(turn: Turn, action: Action | None) -> Organisation:
    """The organisation a pressed button names (turn.button.org_id); a missing one reads as a
    stale button, and one out of reach is refused by the action's check like any other."""
    turn.require_member()
    return named(await org_by_id(turn.session, turn.button.org_id))


async def own_grant_org(turn: Turn, action: Action) -> Organisation | None:
    """The one organisation the caller holds `action` on, or None when none or several."""
    held = {g.org_id for g in grants_for(turn.identity.grants, action)}
    return await org_by_id(turn.session, held.pop()) if len(held) == 1 else None


def speaking_for(turn: Turn, action: Action, org: Organisation) -> int:
    """The id of the nearest organisation at or above `org` where the caller holds `action`:
    the level they speak for (required on `org` already)."""
    grants = [
        g
        for g in turn.identity.grants
        if g.role in POLICY[action] and in_subtree(g.org_path, org.path)
    ]
    return max(grants, key=lambda g: len(g.org_path)).org_id


# --- cells: the meeting, the ballot, self-reviews ----------------------------------------------


async def managed_cell(turn: Turn, action: Action, code: str | None = None) -> Organisation:
    """The cell named by `code`, or the caller's own cell for this action; refused otherwise."""
    turn.require_member()
    if code:
        org = await unit_by_code(turn, code)
        if not OrgKind(org.kind).is_cell:
            raise Refusal("{org} is not a cell; give the code of a cell.", org=esc(org.name))
        return org
    cells = [g for g in grants_for(turn.identity.grants, action) if g.org_is_cell]
    if not cells:
        raise Refusal("This is for the secretary or deputy secretary of a cell.")
    return await orgs.organisation(turn.session, cells[0].org_id)


async def command_cell(turn: Turn, action: Action) -> Organisation:
    """The cell named by the command's first argument, or the caller's own cell."""
    return await managed_cell(turn, action, _first_arg(turn))


async def _meeting_org(turn: Turn, meeting_id: object) -> Organisation:
    found = await ballot.meeting_by_id(turn.session, meeting_id) if isinstance(
        meeting_id, int) else None
    return await ballot.cell_of(turn.session, named(found).org_id)


async def meeting_cell(turn: Turn, action: Action) -> Organisation:
    """The cell (or, issue 14, the đảng bộ cơ sở) of the meeting a button names
    (`turn.button.meeting_id`)."""
    return await _meeting_org(turn, turn.button.meeting_id)


async def meeting_flow_org(turn: Turn, action: Action | None, values: dict[str, Any]) -> Organisation:
    """Step target: the organisation of the meeting the flow's payload names (its order, its
    scoring, its minutes)."""
    return await _meeting_org(turn, values.get("meeting"))


async def round_cell(turn: Turn, action: Action) -> Organisation:
    """The cell of the ballot round a button names (`turn.button.round_id`)."""
    return named(await ballot.round_view(turn.session, turn.button.round_id)).cell


async def review_button_cell(turn: Turn, action: Action) -> Organisation:
    """The cell a self-review button is about: the cell itself for «all», else the cell of
    the review it names."""
    pressed = turn.button
    if getattr(pressed, "action", None) == "all":
        org = await reviews.org_by_id(turn.session, pressed.ref)
    else:
        review_id = pressed.review_id if hasattr(pressed, "review_id") else pressed.ref
        org = await reviews.cell_of_review(turn.session, review_id)
    return named(org)


async def review_cell(turn: Turn, action: Action, values: dict[str, Any]) -> Organisation:
    """Step target: the cell of the review the flow's payload names."""
    return named(await reviews.cell_of_review(turn.session, values["review"]))


async def review_for(turn: Turn, review_id: int) -> tuple[SelfReview, Member]:
    """A review and its member (the caller's right to it is checked by the target)."""
    review = named(await reviews.review_by_id(turn.session, review_id))
    member, _cell = await reviews.owner_of(turn.session, review)
    return review, member


async def meeting_button_cell(turn: Turn, action: Action) -> Organisation:
    """The cell a meeting-calendar button names."""
    return named(await reviews.org_by_id(turn.session, turn.button.cell_id))


async def meeting_flow_cell(turn: Turn, action: Action, values: dict[str, Any]) -> Organisation:
    """Step target: the cell of the meeting date being set (typed dates)."""
    return named(await reviews.org_by_id(turn.session, values["cell"]))


# --- plan and checks ------------------------------------------------------------------------


async def plan_unit(turn: Turn, action: Action) -> Organisation:
    """/ke_hoach [code]: the unit named, else the highest unit where the caller holds `action`."""
    grants = grants_for(turn.identity.grants, action)
    return await named_or_highest(turn, action, _first_arg(turn), grants, NOT_COMMITTEE)


async def plan_draft_unit(turn: Turn, action: Action, values: dict[str, Any]) -> Organisation:
    """Step target: the unit of the /ke_hoach draft in the flow's payload."""
    org_id = values.get("org_id")
    return named(await org_by_id(turn.session, org_id) if isinstance(org_id, int) else None)


async def _member_cell(turn: Turn, member_id: object) -> Organisation:
    turn.require_member()
    return named(await member_cell(turn.session, member_id) if isinstance(member_id, int) else None)


async def lowered_member_cell(turn: Turn, action: Action) -> Organisation:
    """The cell of the member whose proposal a lowering button names (turn.button)."""
    return await _member_cell(turn, turn.button.member_id)


async def lowering_cell(turn: Turn, action: Action, values: dict[str, Any]) -> Organisation:
    """Step target: the cell of the member whose proposal the flow lowers."""
    return await _member_cell(turn, values.get("member_id"))


# --- status and frameworks --------------------------------------------------------------------


async def _status_reach(turn: Turn, action: Action, org: Organisation) -> Organisation | Reach:
    """`org` with `action` required on it, except for a plain member's own cell: its
    progress needs no role (turn.may tells the handler how much to show)."""
    if not turn.may(action, org) and org.id == turn.identity.member.org_id:
        return Reach(org, None)
    return org


async def status_unit(turn: Turn, action: Action) -> Organisation | Reach:
    """/tinh_trang [code]: the unit named, else the highest the caller sees, else their cell."""
    turn.require_member()
    grants = grants_for(turn.identity.grants, action)
    code = _first_arg(turn)
    if code or grants:
        org = await named_or_highest(turn, action, code, grants, MANAGERS_ONLY)
    else:
        org = await org_by_id(turn.session, turn.identity.member.org_id)
    return await _status_reach(turn, action, org)


async def status_unit_pressed(turn: Turn, action: Action) -> Organisation | Reach:
    """The unit a status button names (drill down, up, another page)."""
    return await _status_reach(turn, action, await org_from_button(turn, action))


async def managed_status_unit(turn: Turn, action: Action) -> Organisation:
    """/bieu_do, /bao_cao [code]: for those with a role that sees figures."""
    grants = grants_for(turn.identity.grants, action)
    turn.require_member()
    if not grants:
        raise Refusal(MANAGERS_ONLY)
    return await named_or_highest(turn, action, _first_arg(turn), grants, MANAGERS_ONLY)


def _committees(turn: Turn, action: Action) -> list[Grant]:
    return [g for g in grants_for(turn.identity.grants, action) if not g.org_is_cell]


async def framework_committee(turn: Turn, action: Action) -> Organisation:
    """/mau_khung [code]: the committee named, else the caller's highest committee."""
    return await named_or_highest(
        turn, action, _first_arg(turn), _committees(turn, action), ONLY_COMMITTEES
    )


async def framework_file_committee(turn: Turn, action: Action) -> Organisation:
    """A framework file: the committee its caption names, else the caller's highest one."""
    caption = (turn.update.effective_message.caption or "").split()
    code = caption[0] if caption else None
    return await named_or_highest(turn, action, code, _committees(turn, action), ONLY_COMMITTEES)


async def framework_upload_org(turn: Turn, action: Action) -> Organisation:
    """The committee of the framework file held for the pressed preview (the presser's own)."""
    turn.require_member()
    upload = await held_upload(turn.session, turn.button.upload_id)
    if upload is None or upload.telegram_id != turn.account.telegram_id:
        raise Refusal(INVALID)
    return await org_by_id(turn.session, upload.org_id)


async def framework_viewed_unit(turn: Turn, action: Action) -> Organisation:
    """/khung_tieu_chi [code]: the unit named, else the highest the caller sees."""
    grants = grants_for(turn.identity.grants, action)
    return await named_or_highest(turn, action, _first_arg(turn), grants, ONLY_VIEWERS)


# --- invites and review prompts ---------------------------------------------------------------


async def invite_unit(turn: Turn, action: Action) -> Organisation | None:
    """/moi [code]: the unit named, else the one the caller invites for; None when they hold
    the action on several (they choose)."""
    turn.require_member()
    code = _first_arg(turn)
    if code:
        return await unit_by_code(turn, code)
    if not grants_for(turn.identity.grants, action):
        raise Refusal("Only the secretary, deputies and committee members can get invite links.")
    return await own_grant_org(turn, action)


async def member_or_unit(turn: Turn, code: str) -> Member | Organisation:
    """The member with this code if the caller may see their cell, else the organisation with
    it if the caller may see it; refused the same way when neither (exists or is in reach)."""
    member = await orgs.member_with_code(turn.session, code)
    if member is not None:
        cell = await orgs.organisation(turn.session, member.org_id)
        if cell is not None and can_see(turn, cell):
            return member
    org = await org_by_code(turn.session, code)
    if org is not None and can_see(turn, org):
        return org
    raise Refusal(NO_SUCH_CODE, code=esc(code))


async def prompted(turn: Turn, action: Action) -> Organisation | Reach:
    """/goi_y CODE …: a member's cell, or an organisation (issue 14, part A) with the action
    required strictly above it: a unit does not send points to itself."""
    turn.require_member()
    code = _first_arg(turn)
    if code is None:
        raise Refusal(PROMPT_USAGE)
    found = await member_or_unit(turn, code)
    if isinstance(found, Member):
        return await orgs.organisation(turn.session, found.org_id)
    above = await org_by_id(turn.session, found.parent_id)
    if above is None or (turn.may(action, found) and not turn.may(action, above)):
        raise Refusal(NOT_ABOVE, org=esc(found.name))  # the wording for a unit's own head
    return Reach(found, above)


# --- decisions and appeals --------------------------------------------------------------------


async def decided_at(turn: Turn, unit: Organisation) -> Reach:
    """`unit`, with the action (DECIDE) required on the level that decides for it."""
    root = await deciding_level(turn.session, unit)
    if root is None:
        raise Refusal(
            "Levels are decided for a cell or a grassroots unit; {org} is above them.",
            org=esc(unit.name),
        )
    return Reach(unit, root)


async def decision_unit(turn: Turn, code: str | None) -> Reach:
    """The cell or grassroots unit named by `code`, or the one the caller decides for."""
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
    return await decided_at(turn, unit)


async def decision_unit_named(turn: Turn, action: Action | None) -> Reach:
    """/quyet_dinh [code]: the unit named (or the caller's own), decided on its deciding level."""
    return await decision_unit(turn, _first_arg(turn))


async def _unit_by_id(turn: Turn, org_id: object) -> Reach:
    """The unit an id in a button or a payload names; one out of reach reads as stale."""
    org = await org_by_id(turn.session, org_id) if isinstance(org_id, int) else None
    if org is None or not can_see(turn, org):
        raise Refusal(INVALID)  # never name a unit out of reach from an id in a button
    return await decision_unit(turn, org.code)


async def decision_unit_pressed(turn: Turn, action: Action | None) -> Reach:
    """The unit a decision button names (turn.button.org_id)."""
    return await _unit_by_id(turn, turn.button.org_id)


async def override_unit(turn: Turn, action: Action | None, values: dict[str, Any]) -> Reach:
    """Step target: the unit whose levels are decided despite the breaches."""
    return await _unit_by_id(turn, values.get("org"))


async def rerate_cell(turn: Turn, action: Action | None, values: dict[str, Any]) -> Reach:
    """Step target: the cell of the member whose decided level the flow cancels."""
    found = await rating_subject(turn.session, values["rating"])
    if found is None:
        raise Refusal(NO_LONGER_DECIDED)
    return await decided_at(turn, await orgs.organisation(turn.session, found[1].org_id))


async def appeal_deciding_org(turn: Turn, action: Action | None) -> Organisation:
    """The deciding level of the appeal a pressed button names (turn.button.appeal_id)."""
    return await _deciding_org(turn, turn.button.appeal_id)


async def answered_appeal_org(
    turn: Turn, action: Action | None, values: dict[str, Any]
) -> Organisation:
    """Step target: the deciding level of the appeal being answered."""
    return await _deciding_org(turn, values["appeal"])


async def _deciding_org(turn: Turn, appeal_id: int) -> Organisation:
    turn.require_member()
    return named(await appeal_parties(turn.session, appeal_id))[2]
