import pytest

from rules.levels import Level
from rules.levels import levels_at_most
from rules.levels import parse_level
from rules.rulebooks import PLAN_2017
from rules.rulebooks import RULEBOOKS
from rules.rulebooks import CountingRule
from rules.rulebooks import DenominatorRule
from rules.rulebooks import QuotaBase
from rules.rulebooks import rulebook

HD21 = rulebook("hd21-2019")
QD366 = rulebook("qd366-2025")


@pytest.mark.parametrize(
    ("setting", "hd21", "qd366"),
    [
        ("new_member_reviewed", True, False),  # R-E3
        ("new_member_months", 6, 6),
        ("new_org_months", 6, 6),  # R-E4
        ("sick_leave_cap_months", 3, None),  # R-C1
        ("discipline_official_duties_only", False, True),  # R-C3
        ("head_cap", True, False),  # R-C4
        ("score_bands", False, True),  # R-C5
        ("score_htxs_min", 90, 90),
        ("score_htt_min", 70, 70),
        ("score_ht_min", 50, 50),
        ("htxs_quota_percent", 20, 20),  # R-Q1
        ("htxs_quota_outstanding_percent", None, 25),
        ("quota_base", QuotaBase.REACHING_HTT, QuotaBase.REACHING_HTT),  # R-Q2
        ("small_group_htt_below", 5, 5),  # R-Q4
        ("small_cell_size_below", None, None),
        ("counting_rule", CountingRule.CUMULATIVE, CountingRule.CUMULATIVE),  # R-B4
        ("denominator_rule", DenominatorRule.CONVENED, DenominatorRule.CONVENED),  # R-B3
        ("quorum_numerator", 2, 2),  # R-B9
        ("quorum_denominator", 3, 3),
        ("self_review_days_before", 3, 3),  # R-D2
        ("draft_report_working_days_before", 3, 3),  # R-D1
    ],
    ids=lambda v: str(v),
)
def test_shipped_settings(setting, hd21, qd366):
    assert getattr(HD21, setting) == hd21
    assert getattr(QD366, setting) == qd366


def test_two_rulebooks_ship():
    assert sorted(RULEBOOKS) == ["hd21-2019", "qd366-2025"]


def test_plan_2017_overrides():
    rb = rulebook("hd21-2019", **PLAN_2017)
    assert (rb.htxs_quota_percent, rb.small_cell_size_below, rb.org_legacy_quota) == (15, 7, True)
    assert HD21.htxs_quota_percent == 20  # the shipped one is untouched


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"counting_rule": "plurality"}, CountingRule.PLURALITY),
        ({"counting_rule": CountingRule.STRICT_2011}, CountingRule.STRICT_2011),
        ({"denominator_rule": "ballots-cast"}, DenominatorRule.BALLOTS_CAST),
        ({"quota_base": "final-htt"}, QuotaBase.FINAL_HTT),
    ],
    ids=["plurality-string", "strict-enum", "ballots-cast", "final-htt"],
)
def test_enum_overrides_accept_values(overrides, expected):
    rb = HD21.with_overrides(overrides)
    assert getattr(rb, next(iter(overrides))) is expected


def test_overrides_change_numbers():
    rb = rulebook("qd366-2025", htxs_quota_percent=25, head_cap=True, self_review_days_before=5)
    assert (rb.htxs_quota_percent, rb.head_cap, rb.self_review_days_before) == (25, True, 5)
    assert rulebook("hd21-2019", sick_leave_cap_months=None).sick_leave_cap_months is None


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"no_such_setting": 1}, "no_such_setting"),
        ({"code": "x"}, "code"),
        ({"htxs_quota_percent": "15"}, "htxs_quota_percent"),
        ({"htxs_quota_percent": 1.5}, "htxs_quota_percent"),
        ({"htxs_quota_percent": True}, "htxs_quota_percent"),
        ({"head_cap": 1}, "head_cap"),
        ({"counting_rule": "majority"}, "counting_rule"),
        ({"plan_deadlines": [1]}, "plan_deadlines"),
        ({"htxs_quota_percent": 120}, "htxs_quota_percent"),
        ({"quorum_denominator": 0}, "quorum_denominator"),
    ],
    ids=["unknown", "code", "str-for-int", "float", "bool-for-int", "int-for-bool",
         "bad-enum", "list-for-tuple", "percent-over-100", "zero-denominator"],
)
def test_bad_overrides_name_the_key(overrides, key):
    with pytest.raises(ValueError, match=key):
        rulebook("hd21-2019", **overrides)


def test_unknown_rulebook():
    with pytest.raises(ValueError, match="hd99"):
        rulebook("hd99")


def test_level_order():
    assert Level.HTXS > Level.HTT > Level.HT > Level.KHT
    assert sorted([Level.HT, Level.HTXS, Level.KHT]) == [Level.KHT, Level.HT, Level.HTXS]
    assert levels_at_most(Level.HT) == (Level.HT, Level.KHT)
    assert parse_level(" htt ") is Level.HTT
    with pytest.raises(ValueError, match="XS"):
        parse_level("XS")
