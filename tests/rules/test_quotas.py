import pytest

from rules.breaches import Severity
from rules.levels import Level
from rules.quotas import QuotaScope
from rules.quotas import check_org_quota
from rules.quotas import check_quota
from rules.quotas import htt_base
from rules.quotas import htxs_limit
from rules.rulebooks import PLAN_2017
from rules.rulebooks import rulebook

HD21 = rulebook("hd21-2019")
QD366 = rulebook("qd366-2025")
PLAN17 = rulebook("hd21-2019", **PLAN_2017)
XS, TT, HT, KT = Level.HTXS, Level.HTT, Level.HT, Level.KHT


def group(htxs, htt, ht=0, kht=0):
    """Proposals keyed m0, m1, … in the order HTXS, HTT, HT, KHT."""
    levels = [XS] * htxs + [TT] * htt + [HT] * ht + [KT] * kht
    return {f"m{i}": level for i, level in enumerate(levels)}


@pytest.mark.parametrize(
    ("rb", "base", "kw", "limit"),
    [
        (HD21, 12, {}, 2),  # R-Q3: 20% of 12 = 2.4 → 2
        (QD366, 12, {}, 2),
        (HD21, 10, {}, 2),
        (HD21, 9, {}, 1),
        (HD21, 5, {}, 1),
        (HD21, 4, {}, 1),  # R-Q4: fewer than 5 at HTT → 1
        (QD366, 4, {}, 1),
        (HD21, 0, {}, 1),
        (rulebook("hd21-2019", small_group_htt_below=None), 4, {}, 0),
        (QD366, 12, {"outstanding_unit": True}, 3),  # 25% of 12
        (HD21, 12, {"outstanding_unit": True}, 2),  # no 25% under hd21
        (rulebook("hd21-2019", htxs_quota_outstanding_percent=25), 12,
         {"outstanding_unit": True}, 3),
        (PLAN17, 20, {"group_size": 25}, 3),  # 15% of 20
        (PLAN17, 13, {"group_size": 15}, 1),  # 15% of 13 = 1.95 → 1
        (PLAN17, 6, {"group_size": 6}, 1),  # under 7 members: at most 1
        (PLAN17, 6, {"group_size": 7}, 0),  # 7 members: 15% of 6 → 0
    ],
    ids=["hd21-20pc-of-12", "qd366-20pc-of-12", "20pc-of-10", "20pc-of-9", "20pc-of-5",
         "hd21-fewer-than-5", "qd366-fewer-than-5", "none-at-htt", "small-group-off",
         "qd366-outstanding-25pc", "hd21-no-outstanding", "hd21-25pc-by-override",
         "2017-15pc-of-20", "2017-15pc-of-13", "2017-cell-under-7", "2017-cell-of-7"],
)
def test_htxs_limit(rb, base, kw, limit):
    assert htxs_limit(base, rb, **kw).limit == limit


@pytest.mark.parametrize("rb", [HD21, QD366], ids=["hd21", "qd366"])
def test_three_of_twelve_breach(rb):  # R-Q1..R-Q3, R-Q6
    [found] = check_quota(group(3, 9, 2), rb)
    assert found.code == "quota.htxs_share"
    assert found.params | {"rules": None} == {
        "count": 3, "limit": 2, "percent": 20, "base": 12, "rules": None}
    assert found.member_ids == ("m0", "m1", "m2")
    assert found.render() == (
        "3 members proposed HTXS, at most 2: 20% of 12 members reaching HTT "
        "(R-Q1, R-Q2, R-Q3, R-Q6)")
    assert found.severity is Severity.ERROR


@pytest.mark.parametrize("rb", [HD21, QD366], ids=["hd21", "qd366"])
def test_two_of_twelve_passes(rb):
    assert check_quota(group(2, 10, 3), rb) == []


def test_final_htt_base_setting():  # R-Q2 setting
    rb = rulebook("hd21-2019", quota_base="final-htt")
    assert htt_base(group(3, 12), HD21) == 15
    assert htt_base(group(3, 12), rb) == 12
    assert check_quota(group(3, 12), HD21) == []  # 20% of 15 = 3
    [found] = check_quota(group(3, 12), rb)  # 20% of 12 = 2
    assert (found.params["limit"], found.params["base"]) == (2, 12)


@pytest.mark.parametrize(
    ("rb", "proposals", "size", "codes"),
    [
        (HD21, group(1, 3), None, []),  # fewer than 5 at HTT: 1 allowed
        (HD21, group(2, 2), None, ["quota.htxs_small_group"]),
        (PLAN17, group(1, 5), 6, []),  # a chi bộ of 6: at most 1
        (PLAN17, group(2, 4), 6, ["quota.htxs_small_group"]),
        (PLAN17, group(3, 17), 20, []),  # 15% of 20 = 3
        (PLAN17, group(3, 16), 19, ["quota.htxs_share"]),  # 15% of 19 = 2
        (HD21, group(3, 16), 19, []),  # 20% of 19 = 3
    ],
    ids=["hd21-1-of-4", "hd21-2-of-4", "2017-1-in-cell-of-6", "2017-2-in-cell-of-6",
         "2017-3-of-20", "2017-3-of-19", "hd21-3-of-19"],
)
def test_check_quota(rb, proposals, size, codes):
    assert [b.code for b in check_quota(proposals, rb, size)] == codes


def test_cell_scope_is_a_warning():  # R-Q5
    [found] = check_quota(group(3, 9), HD21, scope=QuotaScope.CELL, names={"m0": "A"})
    assert found.severity is Severity.WARNING
    assert "R-Q5" in found.rule_ids
    assert found.member_names == ("A", "", "")


@pytest.mark.parametrize(
    ("levels", "codes"),
    [
        (group(1, 4, 5), []),  # 5 of 10 clean and strong, 1 exemplary (20% of 5)
        (group(1, 5, 4), ["quota.org_clean_strong"]),  # 6 of 10 > 50%
        (group(2, 3, 5), ["quota.org_exemplary"]),  # 2 of 5 > 20%
        (group(0, 6, 6), []),  # 6 of 12
    ],
    ids=["5-of-10-ok", "6-of-10", "2-exemplary-of-5", "6-of-12"],
)
def test_org_quota_2017(levels, codes):  # R-Q7
    assert [b.code for b in check_org_quota(levels, PLAN17)] == codes


def test_org_quota_qd366_is_share_of_htt():  # R-Q7 under qd366: as R-Q1
    assert [b.code for b in check_org_quota(group(3, 9), QD366)] == ["quota.org_share"]
    assert check_org_quota(group(2, 10), QD366) == []
