from datetime import date
from decimal import Decimal

import pytest

from rules.deadlines import check_child_deadline
from rules.deadlines import check_child_deadlines
from rules.deadlines import draft_report_due
from rules.deadlines import plan_deadlines
from rules.deadlines import self_review_due
from rules.forms import form_code
from rules.levels import Level
from rules.people import MemberFacts
from rules.rulebooks import rulebook
from rules.scoring import Score
from rules.scoring import outstanding_bonus
from rules.scoring import score_band
from rules.scoring import target_penalty
from rules.scoring import validate_score

HD21 = rulebook("hd21-2019")
QD366 = rulebook("qd366-2025")


def test_self_review_due_r_d2():
    assert self_review_due(date(2025, 12, 18), HD21) == date(2025, 12, 15)
    rb = rulebook("hd21-2019", self_review_days_before=5)
    assert self_review_due(date(2025, 12, 18), rb) == date(2025, 12, 13)


@pytest.mark.parametrize(
    ("meeting", "due"),
    [
        (date(2025, 12, 18), date(2025, 12, 15)),  # Thursday → Monday
        (date(2025, 12, 15), date(2025, 12, 10)),  # Monday → previous Wednesday
        (date(2025, 12, 17), date(2025, 12, 12)),  # Wednesday → Friday
        (date(2025, 12, 20), date(2025, 12, 17)),  # Saturday → Wednesday
    ],
    ids=["thursday", "monday", "wednesday", "saturday"],
)
def test_draft_report_working_days_r_d1(meeting, due):
    assert draft_report_due(meeting, HD21) == due


def test_draft_report_skips_holidays():
    assert draft_report_due(date(2025, 12, 18), HD21, {date(2025, 12, 16)}) == date(2025, 12, 12)


def test_plan_deadlines_r_d5():
    hd21 = {d.key: d.due for d in plan_deadlines(HD21, 2021)}
    assert hd21 == {
        "leaders_reviewed": date(2021, 12, 10), "leader_files": date(2021, 12, 15),
        "grassroots_done": date(2021, 12, 31), "upper_done": date(2022, 1, 15),
        "results_reported": date(2022, 2, 20)}
    qd366 = {d.key: d.due for d in plan_deadlines(QD366, 2025)}
    assert qd366 == {"all_done": date(2025, 12, 31), "special_cycle_done": date(2026, 1, 15),
                     "files_to_centre": date(2026, 2, 1)}


def test_child_deadline_never_later_r_d5():
    parent = date(2025, 12, 31)
    assert check_child_deadline("all_done", date(2025, 12, 25), parent) is None
    assert check_child_deadline("all_done", parent, parent) is None
    found = check_child_deadline("all_done", date(2026, 1, 2), parent)
    assert found.code == "deadline.after_parent"
    assert (found.params["child"], found.params["parent"]) == ("02/01/2026", "31/12/2025")
    parents = {"a": parent, "b": parent}
    later = check_child_deadlines({"a": date(2026, 1, 1), "b": parent, "c": date(2027, 1, 1)},
                                  parents)
    assert [b.params["key"] for b in later] == ["a"]


@pytest.mark.parametrize(
    ("rb", "member", "code"),
    [
        (HD21, MemberFacts("a", leader=True), "02"),
        (HD21, MemberFacts("a", outside_political_system=True), "02"),
        (QD366, MemberFacts("a", leader=True), "2A"),
        (QD366, MemberFacts("a"), "2B"),
        (QD366, MemberFacts("a", outside_political_system=True), "2C"),
    ],
    ids=["hd21-leader", "hd21-retired", "qd366-leader", "qd366-in-system",
         "qd366-outside"],
)
def test_form_code(rb, member, code):
    assert form_code(member, rb) == code


@pytest.mark.parametrize(
    ("score", "codes"),
    [
        (Score(30, 70), []),
        (Score(0, 0), []),
        (Score(31, 50), ["score.general_range"]),
        (Score(20, 71), ["score.tasks_range"]),
        (Score(-1, -1), ["score.general_range", "score.tasks_range"]),
        (Score(Decimal("29.5"), Decimal("60.5")), []),
    ],
    ids=["max", "zero", "general-31", "tasks-71", "negative", "halves"],
)
def test_validate_score(score, codes):
    assert [b.code for b in validate_score(score, QD366)] == codes


def test_score_total_and_band():
    assert Score(25, 57).total == 82
    assert score_band(82, QD366) is Level.HTT
    assert score_band(Decimal("89.5"), QD366) is Level.HTT
    assert score_band(90, QD366) is Level.HTXS


@pytest.mark.parametrize(
    ("shortfall", "points"),
    [(0, "0"), (4, "0"), (5, "0.5"), (9, "0.5"), (10, "1"), (20, "2"), (35, "2")],
    ids=lambda v: str(v),
)
def test_org_target_penalty(shortfall, points):
    assert target_penalty(shortfall, HD21) == Decimal(points)


def test_org_outstanding_bonus():
    assert outstanding_bonus(Decimal("1.5"), "Vượt chỉ tiêu thu ngân sách", HD21) == (
        Decimal("1.5"), [])
    granted, found = outstanding_bonus(3, "Vượt chỉ tiêu", HD21)
    assert granted == 2 and [b.code for b in found] == ["score.bonus_limit"]
    granted, found = outstanding_bonus(1, "  ", HD21)
    assert granted == 0 and [b.code for b in found] == ["score.bonus_reason"]
