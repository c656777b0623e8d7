"""Who is reviewed (kiểm điểm) and who is rated (xếp loại): R-E1..R-E7."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from datetime import date
from enum import Enum

from rules.people import MemberFacts
from rules.people import OrgFacts
from rules.people import Presence
from rules.people import months_between
from rules.rulebooks import Rulebook
from rules.text import N_
from rules.text import Explanation
from rules.text import explain


class CommentSource(Enum):
    """Written comments (nhận xét) the rating chi bộ must collect first."""

    TEMPORARY_CELL = "temporary_cell"  # R-E6: the chi bộ attended temporarily
    FORMER_CELL = "former_cell"  # R-E7: the chi bộ left during the year
    OFFICIAL_CELL = "official_cell"  # R-E6 seen from the temporary chi bộ: send comments


@dataclass(frozen=True)
class Eligibility:
    reviewed: bool  # kiểm điểm at this meeting
    rated: bool  # xếp loại at this meeting
    reasons: list[Explanation] = field(default_factory=list)
    deferred: bool = False  # R-E5: review and rate at the next meeting, report late
    here: bool = True  # False: reviewed and rated at the member's official chi bộ
    comments_from: tuple[CommentSource, ...] = ()


def review_status(
    member: MemberFacts,
    rulebook: Rulebook,
    review_date: date,
    *,
    presence: Presence = Presence.PRESENT,
) -> Eligibility:
    """Whether this chi bộ reviews and rates ``member`` at the meeting of ``review_date``."""
    if member.temporary_here:
        return _temporary_here()
    if member.exempt or member.suspended:
        return _excused(member)
    reasons: list[Explanation] = []
    reviewed, rated = True, True
    if member.committee_suspended:
        reasons.append(explain(
            N_("Suspended from the committee only: still reviewed and rated ({rules})"), "R-E2"))
    if _is_new(member, rulebook, review_date):
        reviewed, rated = rulebook.new_member_reviewed, False
        reasons.append(_new_member_reason(rulebook))
    if reviewed and presence is not Presence.PRESENT:
        reasons.append(explain(N_(
            "Absent from the meeting: reviewed and rated at the next meeting and reported "
            "late, never rated before being reviewed ({rules})"), "R-E5"))
        return Eligibility(False, False, reasons, deferred=True)
    comments, more = _comments_needed(member, rulebook, review_date)
    return Eligibility(reviewed, rated, reasons + more, comments_from=comments)


def org_review_status(org: OrgFacts, rulebook: Rulebook, review_date: date) -> Eligibility:
    """R-E4: an organisation founded less than 6 months before is reviewed, not rated."""
    if org.founded_on and months_between(org.founded_on, review_date) < rulebook.new_org_months:
        reason = explain(N_(
            "Founded less than {months} months before the review: reviewed, not rated "
            "({rules})"), "R-E4", months=rulebook.new_org_months)
        return Eligibility(True, False, [reason])
    return Eligibility(True, True)


def _temporary_here() -> Eligibility:
    reason = explain(N_(
        "Attends this chi bộ temporarily: reviewed and rated at the official chi bộ; "
        "this chi bộ sends written comments ({rules})"), "R-E6")
    return Eligibility(False, False, [reason], here=False,
                       comments_from=(CommentSource.OFFICIAL_CELL,))


def _excused(member: MemberFacts) -> Eligibility:
    msgid = (N_("Exempt from party work: not reviewed, not rated ({rules})") if member.exempt
             else N_("Suspended from party activity: not reviewed, not rated ({rules})"))
    return Eligibility(False, False, [explain(msgid, "R-E1")])


def _is_new(member: MemberFacts, rulebook: Rulebook, review_date: date) -> bool:
    if member.admitted_on is None:
        return False
    return months_between(member.admitted_on, review_date) < rulebook.new_member_months


def _new_member_reason(rulebook: Rulebook) -> Explanation:
    months = rulebook.new_member_months
    if rulebook.new_member_reviewed:
        msgid = N_("Admitted less than {months} months ago: reviewed, not rated ({rules})")
    else:
        msgid = N_("Admitted less than {months} months ago: not reviewed, not rated ({rules})")
    return explain(msgid, "R-E3", months=months)


def _comments_needed(
    member: MemberFacts, rulebook: Rulebook, review_date: date
) -> tuple[tuple[CommentSource, ...], list[Explanation]]:
    sources: list[CommentSource] = []
    reasons: list[Explanation] = []
    if member.temporary:
        sources.append(CommentSource.TEMPORARY_CELL)
        reasons.append(explain(N_(
            "Attends another chi bộ temporarily: rated here, with written comments from "
            "that chi bộ ({rules})"), "R-E6"))
    if member.transferred_in_on and months_between(member.transferred_in_on, review_date) < 12:
        if member.months_at_former_cell >= rulebook.former_cell_comment_months:
            sources.append(CommentSource.FORMER_CELL)
            reasons.append(explain(N_(
                "Transferred in during the year after {months} months or more at the former "
                "chi bộ: rated here, with its written comments ({rules})"), "R-E7",
                months=rulebook.former_cell_comment_months))
        else:
            reasons.append(explain(
                N_("Transferred in during the year: rated by this chi bộ ({rules})"), "R-E7"))
    return tuple(sources), reasons
