"""Scores: the member's 100 points (qd366-2025, R-C5) and hd21 organisation scoring."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rules.breaches import Breach
from rules.breaches import breach
from rules.levels import Level
from rules.rulebooks import Rulebook
from rules.text import N_
from rules.text import Explanation
from rules.text import explain

Points = int | Decimal  # scores may carry halves; never floats


@dataclass(frozen=True)
class Score:
    """Part B of the 2025 self-review: general group /30, task results /70."""

    general: Points
    tasks: Points
    all_tasks_on_time: bool | None = None  # None: not stated yet
    beyond_target_percent: int | None = None
    shortcomings_fixed: bool | None = None

    @property
    def total(self) -> Points:
        return self.general + self.tasks


def validate_score(score: Score, rulebook: Rulebook) -> list[Breach]:
    """Out-of-range parts of a self-score."""
    found = []
    if not 0 <= score.general <= rulebook.score_general_max:
        found.append(breach(
            "score.general_range", ("R-C5",),
            N_("The general criteria score must be from 0 to {max}, not {value} ({rules})"),
            max=rulebook.score_general_max, value=score.general))
    if not 0 <= score.tasks <= rulebook.score_tasks_max:
        found.append(breach(
            "score.tasks_range", ("R-C5",),
            N_("The task results score must be from 0 to {max}, not {value} ({rules})"),
            max=rulebook.score_tasks_max, value=score.tasks))
    return found


def score_band(total: Points, rulebook: Rulebook) -> Level:
    """The highest level a total allows (R-C5): 82 → HTT."""
    if total >= rulebook.score_htxs_min:
        return Level.HTXS
    if total >= rulebook.score_htt_min:
        return Level.HTT
    if total >= rulebook.score_ht_min:
        return Level.HT
    return Level.KHT


def unmet_htxs_conditions(score: Score, rulebook: Rulebook) -> list[Explanation]:
    """R-C5's conditions for HTXS beside the 90 points; unknown ones do not count."""
    unmet = []
    if score.all_tasks_on_time is False:
        unmet.append(explain(N_("Not every task was done on time ({rules})"), "R-C5"))
    beyond = score.beyond_target_percent
    if beyond is not None and beyond < rulebook.htxs_beyond_target_percent:
        unmet.append(explain(
            N_("Tasks exceeded their targets by {value}%, less than {min}% ({rules})"),
            "R-C5", value=beyond, min=rulebook.htxs_beyond_target_percent))
    if score.shortcomings_fixed is False:
        unmet.append(explain(N_("Earlier shortcomings are not all fixed ({rules})"), "R-C5"))
    return unmet


def target_penalty(shortfall_percent: Points, rulebook: Rulebook) -> Decimal:
    """hd21 organisation scoring: 0.5 points per full 5% a target was missed by, ≤ 2."""
    if shortfall_percent <= 0:
        return Decimal(0)
    steps = int(shortfall_percent // rulebook.org_target_step_percent)
    tenths = min(steps * rulebook.org_target_penalty_tenths,
                 rulebook.org_target_penalty_max_tenths)
    return Decimal(tenths) / 10


def outstanding_bonus(
    requested: Points, reason: str, rulebook: Rulebook
) -> tuple[Decimal, list[Breach]]:
    """hd21: an outstanding item adds at most 2 points, with the reason written down."""
    limit = Decimal(rulebook.org_bonus_max_tenths) / 10
    found = []
    if not reason.strip():
        found.append(breach("score.bonus_reason", ("§5",), N_(
            "A bonus for an outstanding result needs the result written down ({rules})")))
        return Decimal(0), found
    granted = min(Decimal(requested), limit)
    if Decimal(requested) > limit:
        found.append(breach("score.bonus_limit", ("§5",), N_(
            "A bonus of {value} points is more than {max} per item ({rules})"),
            value=requested, max=limit))
    return max(granted, Decimal(0)), found
