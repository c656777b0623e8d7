from datetime import date

import pytest

from rules.eligibility import CommentSource
from rules.eligibility import org_review_status
from rules.eligibility import review_status
from rules.people import MemberFacts
from rules.people import OrgFacts
from rules.people import Presence
from rules.rulebooks import rulebook

HD21 = rulebook("hd21-2019")
QD366 = rulebook("qd366-2025")
REVIEW = date(2025, 12, 15)


def rule_ids(status):
    return {rid for reason in status.reasons for rid in reason.rule_ids}


@pytest.mark.parametrize(
    ("rb", "member", "reviewed", "rated", "rule"),
    [
        (HD21, MemberFacts("a"), True, True, None),
        (HD21, MemberFacts("a", exempt=True), False, False, "R-E1"),
        (QD366, MemberFacts("a", exempt=True), False, False, "R-E1"),
        (HD21, MemberFacts("a", suspended=True), False, False, "R-E1"),
        (QD366, MemberFacts("a", suspended=True), False, False, "R-E1"),
        (HD21, MemberFacts("a", committee_suspended=True), True, True, "R-E2"),
        (QD366, MemberFacts("a", committee_suspended=True), True, True, "R-E2"),
        # Admitted 16/06: 5 months 29 days before the review.
        (HD21, MemberFacts("a", admitted_on=date(2025, 6, 16)), True, False, "R-E3"),
        (QD366, MemberFacts("a", admitted_on=date(2025, 6, 16)), False, False, "R-E3"),
        # Admitted 15/06: six full months, rated.
        (HD21, MemberFacts("a", admitted_on=date(2025, 6, 15)), True, True, None),
        (QD366, MemberFacts("a", admitted_on=date(2025, 6, 15)), True, True, None),
    ],
    ids=["plain", "exempt-hd21", "exempt-qd366", "suspended-hd21", "suspended-qd366",
         "committee-suspended-hd21", "committee-suspended-qd366", "new-5m-hd21",
         "new-5m-qd366", "new-6m-hd21", "new-6m-qd366"],
)
def test_review_status(rb, member, reviewed, rated, rule):
    status = review_status(member, rb, REVIEW)
    assert (status.reviewed, status.rated) == (reviewed, rated)
    assert rule_ids(status) == ({rule} if rule else set())


@pytest.mark.parametrize("rb", [HD21, QD366], ids=["hd21", "qd366"])
@pytest.mark.parametrize("presence", [Presence.ABSENT, Presence.ABSENT_EXCUSED],
                         ids=["absent", "excused"])
def test_absent_is_deferred_never_rated(rb, presence):  # R-E5
    status = review_status(MemberFacts("a"), rb, REVIEW, presence=presence)
    assert (status.reviewed, status.rated, status.deferred) == (False, False, True)
    assert rule_ids(status) == {"R-E5"}


@pytest.mark.parametrize("rb", [HD21, QD366], ids=["hd21", "qd366"])
def test_temporary_member_rated_at_official_cell(rb):  # R-E6
    away = review_status(MemberFacts("a", temporary=True), rb, REVIEW)
    assert (away.reviewed, away.rated, away.here) == (True, True, True)
    assert away.comments_from == (CommentSource.TEMPORARY_CELL,)
    here = review_status(MemberFacts("a", temporary_here=True), rb, REVIEW)
    assert (here.reviewed, here.rated, here.here) == (False, False, False)
    assert here.comments_from == (CommentSource.OFFICIAL_CELL,)


@pytest.mark.parametrize("rb", [HD21, QD366], ids=["hd21", "qd366"])
@pytest.mark.parametrize(
    ("months_before", "comments"),
    [(6, (CommentSource.FORMER_CELL,)), (5, ())],
    ids=["6-months-at-former", "5-months-at-former"],
)
def test_transferred_member(rb, months_before, comments):  # R-E7
    member = MemberFacts("a", transferred_in_on=date(2025, 7, 1),
                         months_at_former_cell=months_before)
    status = review_status(member, rb, REVIEW)
    assert status.rated and status.comments_from == comments
    assert rule_ids(status) == {"R-E7"}


@pytest.mark.parametrize("rb", [HD21, QD366], ids=["hd21", "qd366"])
@pytest.mark.parametrize(("founded", "rated"), [(date(2025, 7, 1), False),
                                                (date(2025, 6, 1), True)],
                         ids=["5-months", "6-months"])
def test_new_organisation(rb, founded, rated):  # R-E4
    status = org_review_status(OrgFacts("o", founded_on=founded), rb, REVIEW)
    assert (status.reviewed, status.rated) == (True, rated)
