"""Organisations scored over a criteria framework: bands, the framework's sums, the seed's
deduction and addition rule (seed 004 B.6), R-E4 and R-Q7 with the seeds' numbers."""

import datetime as dt
from decimal import Decimal

import pytest

from rules.eligibility import OrgFacts
from rules.levels import Level
from rules.org_scoring import Addition
from rules.org_scoring import Criterion
from rules.org_scoring import Deduction
from rules.org_scoring import Framework
from rules.org_scoring import FrameworkProblem
from rules.org_scoring import check_framework
from rules.org_scoring import combine_scores
from rules.org_scoring import org_band
from rules.org_scoring import org_level
from rules.org_scoring import score_org
from rules.org_scoring import tenths
from rules.people import OrgKind
from rules.quotas import check_org_quota
from rules.rulebooks import PLAN_2017
from rules.rulebooks import rulebook

HD21 = rulebook("hd21-2019")
QD366 = rulebook("qd366-2025")
PLAN17 = rulebook("hd21-2019", **PLAN_2017)
CELLS = frozenset({"cell", "grassroots_cell"})
ALL = frozenset({"grassroots", "cell", "grassroots_cell"})


def crit(code, max_points, kinds=ALL, parent=None):
    return Criterion(code, f"Tiêu chí {code}", tenths(max_points), frozenset(kinds), parent)


# 1 (30) = 1.1 (10) + 1.2 (20); 2 (70) for every kind; 2.1 and 2.2 split it for cells only.
FRAMEWORK = Framework((
    crit("1", 30), crit("1.1", 10, parent="1"), crit("1.2", 20, parent="1"),
    crit("2", 70), crit("2.1", "42.5", CELLS, "2"), crit("2.2", "27.5", CELLS, "2"),
))


@pytest.mark.parametrize("rb", [HD21, QD366], ids=["hd21-2019", "qd366-2025"])
@pytest.mark.parametrize(
    ("total", "level"),
    [(100, Level.HTXS), (90, Level.HTXS), (Decimal("89.9"), Level.HTT), (70, Level.HTT),
     (Decimal("69.5"), Level.HT), (50, Level.HT), (Decimal("49.9"), Level.KHT), (0, Level.KHT)],
    ids=lambda v: str(v),
)
def test_org_bands_both_rulebooks(rb, total, level):
    assert (rb.org_score_max, rb.org_band_htxs_min, rb.org_band_htt_min, rb.org_band_ht_min) == (
        100, 90, 70, 50)
    assert org_band(total, rb) is level


def test_org_bands_are_settings():
    rb = rulebook("hd21-2019", org_band_htxs_min=95, org_band_htt_min=80)
    assert org_band(92, rb) is Level.HTT and org_band(95, rb) is Level.HTXS
    assert org_band(79, rb) is Level.HT


def test_framework_adds_up_per_kind():
    assert check_framework(FRAMEWORK, HD21) == []
    broken = Framework(FRAMEWORK.criteria[:4] + (crit("2.1", 40, CELLS, "2"),
                                                 FRAMEWORK.criteria[5]))
    assert check_framework(broken, HD21) == [
        FrameworkProblem("cell", "2", tenths("67.5"), 700),
        FrameworkProblem("grassroots_cell", "2", tenths("67.5"), 700),
    ]
    short = Framework((crit("1", 30), crit("2", 60, {"grassroots"}), crit("3", 70, CELLS)))
    assert check_framework(short, HD21) == [FrameworkProblem("grassroots", None, 900, 1000)]


def test_tenths_refuses_finer_points():
    assert tenths("2.5") == 25 and tenths(3) == 30
    with pytest.raises(ValueError):
        tenths("0.25")


def test_cell_scored_with_a_deduction_and_an_addition():
    """Seed 004 B.6: missed by 12% → 1 point off; an outstanding result, +1.5."""
    marks = {"1.1": 9, "1.2": 18, "2.1": 40, "2.2": Decimal("25.5")}  # 92.5
    score = score_org(
        FRAMEWORK, "cell", marks, HD21,
        deductions=[Deduction("2.1", 12, "Thu ngân sách đạt 88% chỉ tiêu", "Chi ủy")],
        additions=[Addition("2.2", Decimal("1.5"), "Mô hình dân vận khéo cấp tỉnh", "Chi bộ")],
    )
    assert score.breaches == ()
    assert score.marks == Decimal("92.5")
    assert (score.deducted, score.added) == (Decimal(1), Decimal("1.5"))
    assert score.total == Decimal(93) and score.band is Level.HTXS
    assert [(a.criterion, a.points, a.responsible) for a in score.adjustments] == [
        ("2.1", Decimal(-1), "Chi ủy"), ("2.2", Decimal("1.5"), "Chi bộ")]


@pytest.mark.parametrize(
    ("shortfalls", "deducted"),
    [([4], "0"), ([5], "0.5"), ([19], "1.5"), ([30], "2"), ([30, 10], "3")],
    ids=["4%", "5%", "19%", "30%-capped", "two-targets"],
)
def test_deduction_per_target(shortfalls, deducted):
    """0.5 per full 5% missed, at most 2 per target; each target counts on its own."""
    marks = {"1.1": 10, "1.2": 20, "2": 70}
    score = score_org(FRAMEWORK, "grassroots", marks, HD21, deductions=[
        Deduction("2", s, f"Chỉ tiêu {i}", "Ban Thường vụ") for i, s in enumerate(shortfalls)])
    assert score.deducted == Decimal(deducted)
    assert score.total == 100 - Decimal(deducted)


def test_every_item_needs_its_grounds():
    marks = {"1.1": 10, "1.2": 20, "2": 60}
    score = score_org(FRAMEWORK, "grassroots", marks, HD21, deductions=[
        Deduction("2", 10, "Chỉ tiêu phát triển đảng viên", ""),  # nobody responsible
        Deduction("9", 10, "Chỉ tiêu", "Chi ủy"),  # no such criterion
    ], additions=[
        Addition("1.1", 3, "Điển hình toàn quốc", "Chi bộ"),  # capped at 2
        Addition("1.2", 1, " ", "Chi bộ"),  # no reason
    ])
    assert [b.code for b in score.breaches] == [
        "org_score.deduction_grounds", "org_score.deduction_criterion", "score.bonus_limit",
        "org_score.addition_grounds"]
    assert score.total == 92 and score.band is Level.HTXS


def test_marks_must_fit_the_framework():
    score = score_org(FRAMEWORK, "grassroots", {"1": 30, "1.1": 11, "2.1": 40, "2": 70}, HD21)
    assert [b.code for b in score.breaches] == [
        "org_score.not_a_leaf", "org_score.mark_range", "org_score.unknown_criterion",
        "org_score.mark_missing"]  # 1.2; 1.1 was given, out of range
    assert score.total == 70 and score.band is Level.HTT


def test_combined_scores():
    assert combine_scores([93, 92, Decimal("88.5")], HD21) == (Decimal("91.2"), Level.HTXS)
    assert combine_scores([90, Decimal("89.9")], HD21) == (Decimal("90.0"), Level.HTXS)
    with pytest.raises(ValueError):
        combine_scores([], HD21)


@pytest.mark.parametrize("rb", [HD21, QD366], ids=["hd21-2019", "qd366-2025"])
def test_new_organisation_reviewed_not_rated_r_e4(rb):
    review = dt.date(2026, 12, 15)
    young = OrgFacts("CB09", OrgKind.CELL, founded_on=dt.date(2026, 7, 1))
    old = OrgFacts("CB01", OrgKind.CELL, founded_on=dt.date(2026, 6, 15))
    assert org_level(young, 95, rb, review) is None
    assert org_level(old, 95, rb, review) is Level.HTXS
    assert org_level(OrgFacts("CB02"), 75, rb, review) is Level.HTT


def _orgs(exemplary, good, other):
    levels = [Level.HTXS] * exemplary + [Level.HTT] * good + [Level.HT] * other
    return {f"O{i}": level for i, level in enumerate(levels)}


@pytest.mark.parametrize(
    ("levels", "codes"),
    [
        (_orgs(2, 8, 10), []),  # seed 002: 10 of 20 clean and strong, 2 of those exemplary
        (_orgs(2, 9, 9), ["quota.org_clean_strong"]),  # 11 of 20 > 50%
        (_orgs(3, 7, 10), ["quota.org_exemplary"]),  # 3 of 10 > 20%
    ],
    ids=["10-of-20", "11-of-20", "3-exemplary-of-10"],
)
def test_org_quota_2017_plan_r_q7(levels, codes):
    assert [b.code for b in check_org_quota(levels, PLAN17)] == codes


def test_org_quota_qd366_share_of_htt_r_q7():
    """qd366-2025: HTXS at most 20% of those reaching HTT (as R-Q1): 2 of 10, not 3 of 12."""
    assert check_org_quota(_orgs(2, 8, 3), QD366) == []
    assert [b.code for b in check_org_quota(_orgs(3, 9, 0), QD366)] == ["quota.org_share"]
