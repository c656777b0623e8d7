"""Organisations scored over a criteria framework (khung tiêu chí), DOMAIN §5 "Scoring".

An upper committee's framework is a tree of criteria, each with its maximum points and the
kinds of organisation it applies to. A unit of one kind is scored on the criteria that apply
to it: a mark for every leaf (a criterion with no sub-criterion for that kind), then the
deductions and additions of seed 004 (B.6): a basic target of the committee's resolution
missed by each full 5% costs 0.5 points, at most 2 points per target; an outstanding result
adds at most 2 points per item; every deduction and addition names its criterion, its reason
and who is responsible. The total falls in a level band of the rulebook (``org_band``).

Points are kept in tenths (integers) where they are stored and as ``Decimal`` where they are
computed, never as floats.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from decimal import Decimal

from rules.breaches import Breach
from rules.breaches import breach
from rules.eligibility import OrgFacts
from rules.eligibility import org_review_status
from rules.levels import Level
from rules.rulebooks import Rulebook
from rules.scoring import Points
from rules.scoring import outstanding_bonus
from rules.scoring import target_penalty
from rules.text import N_

# The kinds of organisation that are rated (seed 004 B.1.1: grassroots organisations and the
# cells under a grassroots committee), as storage.models.OrgKind values.
RATED_KINDS: tuple[str, ...] = ("grassroots", "cell", "grassroots_cell")


def tenths(points: Points) -> int:
    """2.5 points → 25; ValueError when the value has a finer part than a tenth."""
    value = Decimal(points) * 10
    if value != value.to_integral_value():
        raise ValueError(f"{points} has more than one decimal")
    return int(value)


def points(tenths_value: int) -> Decimal:
    return Decimal(tenths_value) / 10


@dataclass(frozen=True)
class Criterion:
    """One criterion or sub-criterion: ``parent`` is the code of the one it belongs to."""

    code: str  # "1", "1.2", "1.2.a"
    text: str
    max_tenths: int
    kinds: frozenset[str]
    parent: str | None = None
    guidance: str = ""


@dataclass(frozen=True)
class Framework:
    """The criteria in the order the committee wrote them."""

    criteria: tuple[Criterion, ...]

    def for_kind(self, kind: str) -> Framework:
        return Framework(tuple(c for c in self.criteria if kind in c.kinds))

    def get(self, code: str) -> Criterion | None:
        return next((c for c in self.criteria if c.code == code), None)

    def children(self, code: str | None) -> tuple[Criterion, ...]:
        return tuple(c for c in self.criteria if c.parent == code)

    def leaves(self) -> tuple[Criterion, ...]:
        parents = {c.parent for c in self.criteria}
        return tuple(c for c in self.criteria if c.code not in parents)

    def total_tenths(self) -> int:
        return sum(c.max_tenths for c in self.children(None))

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(k for c in self.criteria for k in c.kinds)


@dataclass(frozen=True)
class FrameworkProblem:
    """A framework that does not add up, for one kind of organisation."""

    kind: str
    criterion: str | None  # None: the framework's top level
    total_tenths: int
    expected_tenths: int


def check_framework(framework: Framework, rulebook: Rulebook) -> list[FrameworkProblem]:
    """For every kind it applies to, the top-level criteria add up to the rulebook's scale
    (``org_score_max``, 100) and each criterion's sub-criteria add up to the criterion."""
    problems = []
    expected = rulebook.org_score_max * 10
    order = {kind: i for i, kind in enumerate(RATED_KINDS)}
    for kind in sorted(framework.kinds, key=lambda k: (order.get(k, len(order)), k)):
        own = framework.for_kind(kind)
        total = own.total_tenths()
        if total != expected:
            problems.append(FrameworkProblem(kind, None, total, expected))
        for criterion in own.criteria:
            below = own.children(criterion.code)
            if below and sum(c.max_tenths for c in below) != criterion.max_tenths:
                problems.append(FrameworkProblem(
                    kind, criterion.code, sum(c.max_tenths for c in below), criterion.max_tenths))
    return problems


def org_band(total: Points, rulebook: Rulebook) -> Level:
    """The level an organisation's total points fall in: 90 → HTXS, 89.5 → HTT."""
    if total >= rulebook.org_band_htxs_min:
        return Level.HTXS
    if total >= rulebook.org_band_htt_min:
        return Level.HTT
    if total >= rulebook.org_band_ht_min:
        return Level.HT
    return Level.KHT


@dataclass(frozen=True)
class Deduction:
    """A basic target of the committee's resolution that was missed (seed 004 B.6)."""

    criterion: str
    shortfall_percent: Points  # how far short of the target, in percent
    reason: str
    responsible: str  # the person or collective responsible


@dataclass(frozen=True)
class Addition:
    """An outstanding, exemplary result (seed 004 B.6)."""

    criterion: str
    points: Points
    reason: str
    responsible: str  # the person or collective credited


@dataclass(frozen=True)
class Adjustment:
    """A deduction (negative points) or an addition as applied."""

    criterion: str
    points: Decimal
    reason: str
    responsible: str


@dataclass(frozen=True)
class OrgScore:
    marks: Decimal  # the sum of the marks given, before adjustments
    adjustments: tuple[Adjustment, ...]
    total: Decimal
    band: Level
    breaches: tuple[Breach, ...] = field(default_factory=tuple)

    @property
    def deducted(self) -> Decimal:
        return -sum((a.points for a in self.adjustments if a.points < 0), Decimal(0))

    @property
    def added(self) -> Decimal:
        return sum((a.points for a in self.adjustments if a.points > 0), Decimal(0))


def score_org(
    framework: Framework,
    kind: str,
    marks: Mapping[str, Points],
    rulebook: Rulebook,
    *,
    deductions: Sequence[Deduction] = (),
    additions: Sequence[Addition] = (),
) -> OrgScore:
    """An organisation's score: a mark for every leaf criterion that applies to ``kind``,
    less the deductions, plus the additions; the total (never below 0) and its band.

    Every problem is a breach and the offending item counts for nothing: a mark for a
    criterion that does not apply or is above its maximum, a missing mark, a deduction or
    addition without its criterion, reason or who is responsible, an addition above 2."""
    own = framework.for_kind(kind)
    found: list[Breach] = []
    leaves = {c.code: c for c in own.leaves()}
    total_marks = Decimal(0)
    for code, given in marks.items():
        criterion = own.get(code)
        if criterion is None:
            found.append(breach("org_score.unknown_criterion", ("§5",), N_(
                "Criterion {criterion} is not in the framework for this organisation ({rules})"),
                criterion=code))
        elif code not in leaves:
            found.append(breach("org_score.not_a_leaf", ("§5",), N_(
                "Criterion {criterion} is scored through its sub-criteria ({rules})"), criterion=code))
        elif not 0 <= Decimal(given) <= points(criterion.max_tenths):
            found.append(breach("org_score.mark_range", ("§5",), N_(
                "Criterion {criterion}: {value} points is outside 0 to {max} ({rules})"),
                criterion=code, value=given, max=points(criterion.max_tenths)))
        else:
            total_marks += Decimal(given)
    for code in leaves:
        if code not in marks:
            found.append(breach("org_score.mark_missing", ("§5",), N_(
                "Criterion {criterion} has no mark ({rules})"), criterion=code))
    adjustments: list[Adjustment] = []
    for item in deductions:
        if not _carries_its_grounds(item, own, found):
            continue
        penalty = target_penalty(item.shortfall_percent, rulebook)
        if penalty:
            adjustments.append(Adjustment(item.criterion, -penalty, item.reason.strip(),
                                          item.responsible.strip()))
    for item in additions:
        if not _carries_its_grounds(item, own, found):
            continue
        granted, problems = outstanding_bonus(item.points, item.reason, rulebook)
        found += problems
        if granted:
            adjustments.append(Adjustment(item.criterion, granted, item.reason.strip(),
                                          item.responsible.strip()))
    total = max(total_marks + sum((a.points for a in adjustments), Decimal(0)), Decimal(0))
    return OrgScore(total_marks, tuple(adjustments), total, org_band(total, rulebook),
                    tuple(found))


def _carries_its_grounds(item: Deduction | Addition, own: Framework, found: list[Breach]) -> bool:
    """Seed 004 B.6: a deduction or addition says on which criterion, why and who."""
    what = "deduction" if isinstance(item, Deduction) else "addition"
    if own.get(item.criterion) is None:
        found.append(breach(f"org_score.{what}_criterion", ("§5",), N_(
            "A deduction or addition names criterion {criterion}, which is not in the framework "
            "for this organisation ({rules})"), criterion=item.criterion))
        return False
    if not item.reason.strip() or not item.responsible.strip():
        found.append(breach(f"org_score.{what}_grounds", ("§5",), N_(
            "A deduction or addition on criterion {criterion} needs its reason and who is "
            "responsible ({rules})"), criterion=item.criterion))
        return False
    return True


def combine_scores(totals: Iterable[Points], rulebook: Rulebook) -> tuple[Decimal, Level]:
    """The meeting's totals combined (seed 004 B.1.4: "tổng hợp"): their mean, rounded to a
    tenth half up, and its band. ValueError without any total."""
    values = [Decimal(v) for v in totals]
    if not values:
        raise ValueError("no scores to combine")
    mean = (sum(values, Decimal(0)) / len(values)).quantize(Decimal("0.1"), "ROUND_HALF_UP")
    return mean, org_band(mean, rulebook)


def org_level(org: OrgFacts, total: Points, rulebook: Rulebook, review_date: date) -> Level | None:
    """The level an organisation's total allows, or None when it is reviewed but not rated
    (R-E4: founded less than 6 months before the review)."""
    if not org_review_status(org, rulebook, review_date).rated:
        return None
    return org_band(total, rulebook)
