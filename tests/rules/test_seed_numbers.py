"""Issue 5, "Done when": the seeds' own numbers under both rulebooks, as one table per rule
family, on top of the finer tables in test_quotas, test_caps and test_eligibility. A cycle may
override any setting, so the 2017 plan and the upper level's 25% are also applied to
qd366-2025."""

from datetime import date

import pytest

from rules.caps import check_member
from rules.eligibility import review_status
from rules.levels import Level
from rules.people import DisciplineForm
from rules.people import MemberFacts
from rules.quotas import QuotaScope
from rules.quotas import check_quota
from rules.rulebooks import PLAN_2017
from rules.rulebooks import rulebook

XS, TT, HT, KT = Level.HTXS, Level.HTT, Level.HT, Level.KHT
BOTH = ("hd21-2019", "qd366-2025")


def group(htxs, htt, ht=0):
    levels = [XS] * htxs + [TT] * htt + [HT] * ht
    return {f"m{i}": level for i, level in enumerate(levels)}


@pytest.mark.parametrize("code", BOTH)
@pytest.mark.parametrize(
    ("overrides", "proposals", "size", "codes", "limit"),
    [
        ({}, group(3, 9), 12, ["quota.htxs_share"], 2),  # 20% of 12 HTT: at most 2 (R-Q1, R-Q3)
        ({}, group(2, 10), 12, [], None),
        ({}, group(1, 3), 4, [], None),  # fewer than 5 at HTT: 1 allowed (R-Q4)
        ({}, group(2, 2), 4, ["quota.htxs_small_group"], 1),
        (PLAN_2017, group(3, 17), 20, [], None),  # 15% of 20 = 3
        (PLAN_2017, group(3, 16), 19, ["quota.htxs_share"], 2),  # 15% of 19 = 2.85 → 2
        (PLAN_2017, group(1, 5), 6, [], None),  # a chi bộ under 7 members: at most 1
        (PLAN_2017, group(2, 4), 6, ["quota.htxs_small_group"], 1),
        ({"htxs_quota_percent": 25}, group(3, 9), 12, [], None),  # 25% by the upper level
        ({"htxs_quota_percent": 25}, group(4, 8), 12, ["quota.htxs_share"], 3),
    ],
    ids=["20pc-3-of-12", "20pc-2-of-12", "under-5-one", "under-5-two", "2017-3-of-20",
         "2017-3-of-19", "2017-cell-of-6-one", "2017-cell-of-6-two", "25pc-3-of-12",
         "25pc-4-of-12"],
)
def test_quota_table(code, overrides, proposals, size, codes, limit):
    found = check_quota(proposals, rulebook(code, **overrides), size)
    assert [b.code for b in found] == codes
    if limit is not None:
        assert found[0].params["limit"] == limit
        assert "R-Q6" in found[0].rule_ids


@pytest.mark.parametrize("code", BOTH)
def test_cell_alone_is_a_warning_with_r_q5(code):
    [found] = check_quota(group(3, 9), rulebook(code), scope=QuotaScope.CELL)
    assert found.severity.value == "warning" and "R-Q5" in found.rule_ids


@pytest.mark.parametrize(
    ("code", "member", "proposed", "kw", "codes"),
    [
        # R-C1: 4 months of sick leave.
        ("hd21-2019", MemberFacts("a", sick_leave_months=4), TT, {}, ["cap.sick_leave"]),
        ("hd21-2019", MemberFacts("a", sick_leave_months=4), HT, {}, []),
        ("qd366-2025", MemberFacts("a", sick_leave_months=4), XS, {}, []),
        # R-C3: disciplined during the year.
        ("hd21-2019", MemberFacts("a", disciplined=True, discipline_form=DisciplineForm.REPRIMAND),
         HT, {}, ["cap.discipline"]),
        ("hd21-2019", MemberFacts("a", disciplined=True, discipline_form=DisciplineForm.REPRIMAND),
         KT, {}, []),
        ("qd366-2025", MemberFacts("a", disciplined=True, discipline_form=DisciplineForm.WARNING,
                                   discipline_in_official_duties=True), HT, {},
         ["cap.discipline"]),
        ("qd366-2025", MemberFacts("a", disciplined=True, discipline_form=DisciplineForm.WARNING),
         TT, {}, []),
        # R-C4: the head not above the collective.
        ("hd21-2019", MemberFacts("a", head=True), XS, {"collective_level": TT}, ["cap.head"]),
        ("hd21-2019", MemberFacts("a", head=True), TT, {"collective_level": TT}, []),
        ("qd366-2025", MemberFacts("a", head=True), XS, {"collective_level": TT}, []),
        # R-E3: admitted less than 6 months before the review.
        ("hd21-2019", MemberFacts("a", admitted_on=date(2025, 9, 1)), TT,
         {"review_date": date(2025, 12, 15)}, ["member.not_rated"]),
        ("qd366-2025", MemberFacts("a", admitted_on=date(2025, 9, 1)), TT,
         {"review_date": date(2025, 12, 15)}, ["member.not_rated"]),
        # R-E1: exempt members are not rated.
        ("qd366-2025", MemberFacts("a", exempt=True), TT, {"review_date": date(2025, 12, 15)},
         ["member.not_rated"]),
    ],
    ids=["hd21-sick-4m-htt", "hd21-sick-4m-ht", "qd366-sick-4m-htxs", "hd21-disciplined-ht",
         "hd21-disciplined-kht", "qd366-disciplined-duties-ht", "qd366-disciplined-outside",
         "hd21-head-above", "hd21-head-equal", "qd366-head-off", "hd21-new-member",
         "qd366-new-member", "qd366-exempt"],
)
def test_member_table(code, member, proposed, kw, codes):
    assert [b.code for b in check_member(member, proposed, rulebook(code), **kw)] == codes


@pytest.mark.parametrize(("code", "reviewed"), [("hd21-2019", True), ("qd366-2025", False)])
def test_new_member_reviewed_only_under_hd21(code, reviewed):  # R-E3
    status = review_status(MemberFacts("a", admitted_on=date(2025, 9, 1)), rulebook(code),
                           date(2025, 12, 15))
    assert (status.reviewed, status.rated) == (reviewed, False)
