"""Who may do what: roles on an organisation grant that organisation's subtree and nothing else.

Plain functions over plain data, so the whole policy reads in one place.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from storage.models import ParticipantBody
from storage.models import RoleKind


class Action(enum.StrEnum):
    INVITE = "invite"  # /moi: invite links for members without a linked account
    IMPORT_ROSTER = "import_roster"  # send the roster spreadsheet to the bot
    SCHEDULE_MEETING = "schedule_meeting"  # /lich_hop: the cell meeting's date
    READ_REVIEWS = "read_reviews"  # open members' submitted self-reviews
    RETURN_REVIEW = "return_review"  # send a self-review back for revision
    RUN_MEETING = "run_meeting"  # /hop: open the cell meeting, take attendance
    RUN_BALLOT = "run_ballot"  # /bo_phieu: open, follow and close a secret ballot round
    SET_PLAN = "set_plan"  # /ke_hoach: the plan of a subtree, or earlier deadlines of a unit
    LOWER_PROPOSAL = "lower_proposal"  # lower a proposed level after a breach, with a reason
    VIEW_STATUS = "view_status"  # /tinh_trang, /bieu_do, /bao_cao: figures of the subtree
    DECIDE = "decide"  # /quyet_dinh, /xep_loai_lai, answer appeals: held on the deciding level
    # Send a criteria framework (khung tiêu chí) for a committee of the subtree; never on a cell
    # (bot/services/frameworks.py).
    LOAD_FRAMEWORK = "load_framework"
    SEND_PROMPT = "send_prompt"  # /goi_y: written points for a member's self-review (part IV)
    # --- Issue 14, part A (the collective's report and draft score sheet) ---
    # /tap_the: the unit's own head prepares its report and draft score sheet and circulates it.
    PREPARE_UNIT_REPORT = "prepare_unit_report"
    # /gop_y while drafting: the unit's own leaders (its cấp ủy) comment on the head's draft.
    COMMENT_UNIT_DRAFT = "comment_unit_draft"
    # --- issue 14, part C (participants' opinions, decisions of units) ---
    # /y_kien: a participating body's opinion on the rating of a unit of the subtree; which
    # body a role speaks for is bot/services/unit_opinion.py's (ROLE_BODIES).
    GIVE_OPINION = "give_opinion"
    # Issue 14 part D: the meeting's minutes (biên bản) and the files (hồ sơ, R-A4).
    VIEW_FILES = "view_files"  # /bien_ban, /ho_so: the minutes and files of the subtree
    WRITE_MINUTES = "write_minutes"  # the chair's conclusions in the minutes


# Which roles allow an action, on the organisation the role is held on and its subtree.
POLICY: dict[Action, frozenset[RoleKind]] = {
    Action.INVITE: frozenset(
        {
            RoleKind.SECRETARY,
            RoleKind.DEPUTY,
            RoleKind.COMMITTEE_MEMBER,
            RoleKind.ORGANISING_OFFICE,
        }
    ),
    Action.IMPORT_ROSTER: frozenset({RoleKind.SECRETARY, RoleKind.DEPUTY}),
    Action.SCHEDULE_MEETING: frozenset({RoleKind.SECRETARY, RoleKind.DEPUTY}),
    Action.READ_REVIEWS: frozenset({RoleKind.SECRETARY, RoleKind.DEPUTY, RoleKind.COMMITTEE_MEMBER}),
    Action.RETURN_REVIEW: frozenset({RoleKind.SECRETARY, RoleKind.DEPUTY}),
    Action.RUN_MEETING: frozenset({RoleKind.SECRETARY, RoleKind.DEPUTY}),
    Action.RUN_BALLOT: frozenset({RoleKind.SECRETARY, RoleKind.DEPUTY}),
    Action.VIEW_STATUS: frozenset(
        {
            RoleKind.SECRETARY,
            RoleKind.DEPUTY,
            RoleKind.COMMITTEE_MEMBER,
            RoleKind.ORGANISING_OFFICE,
        }
    ),
    # Checked on the deciding level (DOMAIN §1 step 6): the grassroots committee for its
    # cells, the grassroots cell for itself; see bot/services/decision.py.
    Action.DECIDE: frozenset({RoleKind.SECRETARY, RoleKind.DEPUTY, RoleKind.COMMITTEE_MEMBER}),
    Action.SET_PLAN: frozenset(
        {
            RoleKind.SECRETARY,
            RoleKind.DEPUTY,
            RoleKind.COMMITTEE_MEMBER,
            RoleKind.ORGANISING_OFFICE,
        }
    ),
    Action.LOWER_PROPOSAL: frozenset({RoleKind.SECRETARY, RoleKind.DEPUTY}),
    Action.LOAD_FRAMEWORK: frozenset(
        {
            RoleKind.SECRETARY,
            RoleKind.DEPUTY,
            RoleKind.COMMITTEE_MEMBER,
            RoleKind.ORGANISING_OFFICE,
        }
    ),
    Action.SEND_PROMPT: frozenset(
        {
            RoleKind.SECRETARY,
            RoleKind.DEPUTY,
            RoleKind.COMMITTEE_MEMBER,
            RoleKind.ORGANISING_OFFICE,
        }
    ),
    # --- Issue 14, part A ---
    Action.PREPARE_UNIT_REPORT: frozenset({RoleKind.SECRETARY, RoleKind.DEPUTY}),
    Action.COMMENT_UNIT_DRAFT: frozenset(
        {RoleKind.SECRETARY, RoleKind.DEPUTY, RoleKind.COMMITTEE_MEMBER}
    ),
    # --- issue 14, part C: the representatives of the participating bodies (seed 004 B.1.4
    # step 2) hold GIVE_OPINION and nothing else; the organising office of the deciding level
    # speaks for any body (bot/services/unit_opinion.py).
    Action.GIVE_OPINION: frozenset(
        {
            RoleKind.REP_COUNCIL,
            RoleKind.REP_FRONT,
            RoleKind.REP_MASS_ORGS,
            RoleKind.REP_LEADERSHIP,
            RoleKind.ORGANISING_OFFICE,
        }
    ),
    # Issue 14 part D: whoever sees the subtree's figures reads its minutes and files; the
    # meeting's secretary or deputy (or one above) writes the conclusions into the minutes.
    Action.VIEW_FILES: frozenset(
        {
            RoleKind.SECRETARY,
            RoleKind.DEPUTY,
            RoleKind.COMMITTEE_MEMBER,
            RoleKind.ORGANISING_OFFICE,
        }
    ),
    Action.WRITE_MINUTES: frozenset({RoleKind.SECRETARY, RoleKind.DEPUTY}),
}

# The body each representative speaks for (GIVE_OPINION on the units of their subtree); they
# hold no other action (a test checks it).
REPRESENTS: dict[RoleKind, ParticipantBody] = {
    RoleKind.REP_COUNCIL: ParticipantBody.COUNCIL,
    RoleKind.REP_FRONT: ParticipantBody.FRONT,
    RoleKind.REP_MASS_ORGS: ParticipantBody.MASS_ORGS,
    RoleKind.REP_LEADERSHIP: ParticipantBody.LEADERSHIP,
}
REPRESENTATIVES = frozenset(REPRESENTS)

# Actions a role allows on the organisation it is held on only, never on the units below it
# (issue 14, part A; seed 004 B.1.4 step 1): a unit's own head prepares its collective's
# report, and its own committee comments on the draft; an upper committee does neither.
ON_ITSELF: frozenset[Action] = frozenset({Action.PREPARE_UNIT_REPORT, Action.COMMENT_UNIT_DRAFT})


@dataclass(frozen=True)
class Grant:
    role: RoleKind
    org_id: int
    org_path: str
    org_code: str
    org_is_cell: bool
    # A deciding level (DOMAIN §1 step 6): a grassroots committee for its cells, a grassroots
    # cell for itself, an upper committee for its grassroots units (issue 14) — not a chi bộ
    # under a committee.
    org_decides: bool = False
    # A rated unit (seed 004 B.1.1: a grassroots organisation, a cell under a grassroots
    # committee): its own head writes its collective's report (/tap_the); an upper committee
    # above the grassroots writes none.
    org_rated: bool = False


def in_subtree(ancestor_path: str, path: str) -> bool:
    return path.startswith(ancestor_path)


def allowed(grants: Iterable[Grant], action: Action, target_path: str) -> bool:
    roles = POLICY[action]
    if action in ON_ITSELF:
        return any(g.role in roles and g.org_path == target_path for g in grants)
    return any(g.role in roles and in_subtree(g.org_path, target_path) for g in grants)


def grants_for(grants: Iterable[Grant], action: Action) -> list[Grant]:
    """The grants that allow an action somewhere, i.e. the roots where the user may do it."""
    return [g for g in grants if g.role in POLICY[action]]


def sees(grants: Iterable[Grant], org_path: str, org_id: int, own_org_ids: Iterable[int] = ()) -> bool:
    """Whether a user may learn that an organisation exists, e.g. read its name in a refusal:
    it is in the subtree of one of their roles or above it, or it is their own cell. Anything
    else is answered exactly like a code that does not exist."""
    return org_id in set(own_org_ids) or any(
        in_subtree(g.org_path, org_path) or in_subtree(org_path, g.org_path) for g in grants
    )


def speaks_for(
    grants: Iterable[Grant], unit_path: str, decider_path: str | None
) -> frozenset[ParticipantBody]:
    """The bodies whose opinion on a unit's rating (the unit at `unit_path`, decided at
    `decider_path`) the user may enter: a representative their own body, on the units of their
    subtree; the organising office of the deciding level (or above it) any body."""
    found: set[ParticipantBody] = set()
    for g in grants:
        if g.role in REPRESENTS and in_subtree(g.org_path, unit_path):
            found.add(REPRESENTS[g.role])
        elif (
            g.role is RoleKind.ORGANISING_OFFICE
            and decider_path is not None
            and in_subtree(g.org_path, decider_path)
        ):
            return frozenset(ParticipantBody)
    return frozenset(found)
