"""Issue 14, part C: the rules of the decision on units, as tables written from DOMAIN.md and the
seeds' numbers: R-Q7 (the 2017 plan's 50% / 20%, qd366-2025's 20% of HTT, R-Q4's small group),
R-C4's exceptions, and item 8's three gaps — R-B5 over all official members, R-Q1's outstanding
share granted to a unit, R-Q5's peer group set by the deciding level."""

from __future__ import annotations

from datetime import date

import pytest

from rules.ballot import official_members
from rules.ballot import tally
from rules.ballot import tally_for
from rules.caps import allowed_levels
from rules.caps import head_exception
from rules.levels import Level
from rules.people import HeadException
from rules.people import MemberFacts
from rules.people import OrgFacts
from rules.people import Status
from rules.quotas import check_org_quota
from rules.quotas import group_outstanding
from rules.quotas import htxs_limit
from rules.quotas import peer_groups
from rules.rulebooks import PLAN_2017
from rules.rulebooks import CountingRule
from rules.rulebooks import rulebook

HD21 = rulebook("hd21-2019")
QD366 = rulebook("qd366-2025")
PLAN17 = rulebook("hd21-2019", **PLAN_2017)
XS, TT, HT, KT = Level.HTXS, Level.HTT, Level.HT, Level.KHT


def orgs(htxs: int, htt: int, ht: int = 0, kht: int = 0) -> dict[str, Level]:
    levels = [XS] * htxs + [TT] * htt + [HT] * ht + [KT] * kht
    return {f"o{i}": level for i, level in enumerate(levels)}


# --- R-Q7 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rb", "levels", "codes"),
    [
        # Seed 002 (2017): "trong sạch, vững mạnh" ≤ 50% of the organisations, "tiêu biểu" ≤ 20%
        # of those clean and strong.
        (PLAN17, orgs(1, 4, 5), []),  # 5 of 10 clean and strong, 1 of 5 exemplary
        (PLAN17, orgs(1, 5, 4), ["quota.org_clean_strong"]),  # 6 of 10
        (PLAN17, orgs(2, 3, 5), ["quota.org_exemplary"]),  # 20% of 5 is 1
        (PLAN17, orgs(0, 4, 3), ["quota.org_clean_strong"]),  # 50% of 7 rounds down to 3
        (PLAN17, orgs(3, 7, 10), ["quota.org_exemplary"]),  # 10 of 20 fine; 20% of 10 is 2
        # qd366-2025 (and hd21-2019): HTXS ≤ 20% of the organisations reaching HTT (R-Q1, R-Q3).
        (QD366, orgs(2, 8, 3), []),
        (QD366, orgs(3, 9), ["quota.org_share"]),  # 20% of 12 is 2
        (HD21, orgs(2, 10), []),
        # R-Q4 (hd21-2019, seed 004 B.6): fewer than 5 at HTT may have one HTXS if deserved.
        (HD21, orgs(1, 3, 2), []),
        (HD21, orgs(2, 2, 2), ["quota.org_small_group"]),
    ],
    ids=["2017-5-of-10", "2017-6-of-10", "2017-2-exemplary-of-5", "2017-4-of-7",
         "2017-3-exemplary-of-10", "qd366-2-of-10", "qd366-3-of-12", "hd21-2-of-12",
         "hd21-small-1", "hd21-small-2"],
)
def test_org_quota(rb, levels, codes):
    assert [b.code for b in check_org_quota(levels, rb)] == codes


def test_org_quota_names_the_organisations_and_speaks_of_organisations():
    levels = orgs(3, 9)
    names = {key: f"Chi bộ {key}" for key in levels}
    [found] = check_org_quota(levels, QD366, names=names)
    assert found.member_ids == ("o0", "o1", "o2")
    assert found.member_names == ("Chi bộ o0", "Chi bộ o1", "Chi bộ o2")
    assert found.render() == (
        "3 organisations proposed HTXS, at most 2: 20% of 12 organisations reaching HTT "
        "(R-Q7, R-Q1, R-Q3)")


def test_org_quota_outstanding_share():  # R-Q1 under qd366: 25% of 12 is 3
    assert check_org_quota(orgs(3, 9), QD366, outstanding_unit=True) == []
    assert [b.code for b in check_org_quota(orgs(3, 9), HD21, outstanding_unit=True)] == [
        "quota.org_share"]  # hd21-2019 has no raised share


# --- item 8: R-B5 over every official member of the chi bộ -------------------------------------


STRICT = rulebook("hd21-2019", counting_rule="strict-2011")


@pytest.mark.parametrize(
    ("counts", "denominator", "official", "level"),
    [
        # 12 official members, 3 excused: the R-B3 denominator is 9.
        ({XS: 7, TT: 2}, 9, 12, TT),  # 7 of 9 is two thirds of the present, not of all 12
        ({XS: 8, TT: 1}, 9, 12, XS),  # 8 of 12 is two thirds of all
        ({XS: 6, TT: 3}, 9, 9, XS),  # nobody away: the same as the denominator
        ({XS: 5, TT: 4}, 9, 12, TT),  # HTT: 9 of 9 for HTT or higher, more than half
        ({XS: 8, None: 1}, 9, 13, TT),  # 8 of 13 misses two thirds; 8 of 9 is more than half
    ],
    ids=["7-of-9-present-12-official", "8-of-12", "all-present", "falls-to-htt", "13-official"],
)
def test_strict_variant_counts_all_official_members(counts, denominator, official, level):
    decision = tally_for(counts, denominator, STRICT, official_members=official)
    assert decision.level is level


def test_strict_variant_refuses_a_missing_base():
    with pytest.raises(ValueError):
        tally({XS: 8}, 9, CountingRule.STRICT_2011)
    assert tally({XS: 8}, 9).level is XS  # the other rules do not need it


def test_official_members_are_the_chi_bos_own():
    members = [
        MemberFacts("a"),
        MemberFacts("b", exempt=True),  # still a member of the chi bộ
        MemberFacts("c", suspended=True),
        MemberFacts("d", status=Status.PROBATIONARY),
        MemberFacts("e", temporary_here=True),  # official elsewhere
        MemberFacts("f", temporary=True),  # away, but this chi bộ's own
    ]
    assert official_members(members) == 4


# --- item 8: R-Q1's outstanding share and R-Q5's peer groups -----------------------------------


@pytest.mark.parametrize(
    ("rb", "outstanding", "limit"),
    [(QD366, False, 2), (QD366, True, 3), (HD21, True, 2), (PLAN17, True, 1)],
    ids=["qd366", "qd366-outstanding", "hd21-none", "2017-none"],
)
def test_outstanding_unit_share(rb, outstanding, limit):  # 12 reaching HTT
    assert htxs_limit(12, rb, outstanding_unit=outstanding).limit == limit


@pytest.mark.parametrize(
    ("root", "units", "outstanding"),
    [(True, [False, False], True), (False, [True, True], True), (False, [True, False], False),
     (False, [], False)],
    ids=["granted-to-the-root", "every-unit", "one-unit-only", "empty"],
)
def test_group_outstanding(root, units, outstanding):
    assert group_outstanding(root, units) is outstanding


@pytest.mark.parametrize(
    ("rb", "labels", "groups"),
    [
        (QD366, {"a": "THON", "b": None, "c": "THON", "d": None}, [("a", "c"), ("b", "d")]),
        (QD366, {"a": None, "b": None}, [("a", "b")]),
        (QD366, {"a": "A", "b": "B"}, [("a",), ("b",)]),
        (HD21, {"a": "THON", "b": None, "c": "THON"}, [("a", "b", "c")]),  # the đảng bộ as a whole
        (QD366, {}, []),
    ],
    ids=["qd366-two-groups", "qd366-no-labels", "qd366-each-alone", "hd21-ignores-labels",
         "no-units"],
)
def test_peer_groups(rb, labels, groups):
    assert peer_groups(labels, rb) == groups


# --- R-C4's exceptions (seed 004 B.4, B.6) ------------------------------------------------------


@pytest.mark.parametrize(
    ("member", "org", "exception"),
    [
        (MemberFacts("s", head=True), OrgFacts(residential=True), HeadException.VILLAGE_SECRETARY),
        (MemberFacts("s", head=True, public_servant=True), OrgFacts(residential=True), None),
        (MemberFacts("s", head=True), OrgFacts(), None),
        (MemberFacts("s", head=True, transferred_in_on=date(2026, 3, 1)), OrgFacts(),
         HeadException.NEWLY_TRANSFERRED),
        (MemberFacts("s", head=True, transferred_in_on=date(2025, 3, 1)), OrgFacts(), None),
    ],
    ids=["village-not-servant", "village-servant", "agency-cell", "moved-in-this-year",
         "moved-in-last-year"],
)
def test_head_exception(member, org, exception):
    assert head_exception(member, org, 2026) is exception


def test_head_capped_by_the_collective():  # R-C4 under hd21-2019, off under qd366-2025
    head = MemberFacts("s", head=True)
    assert allowed_levels(head, HD21, collective_level=TT).highest is TT
    assert allowed_levels(head, QD366, collective_level=TT).highest is XS
