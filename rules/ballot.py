"""The secret ballot's arithmetic (R-B1..R-B5, R-B9): voters, denominator, tally.

All comparisons are on integers: "more than half" is ``2 * votes > denominator``
(strict), "two thirds" is ``3 * votes >= 2 * denominator`` (at least).

R-B5's strict variant takes its two thirds of ALL official members of the chi bộ, not of the
R-B3 denominator (which leaves out the excused, the suspended, those away elsewhere): the
tally is given that number as ``official_members``.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from rules.eligibility import review_status
from rules.levels import LEVELS_DESC
from rules.levels import Level
from rules.levels import at_or_above
from rules.people import MemberFacts
from rules.people import Presence
from rules.rulebooks import CountingRule
from rules.rulebooks import DenominatorRule
from rules.rulebooks import Rulebook
from rules.text import N_
from rules.text import Explanation
from rules.text import explain

Counts = Mapping[Level | None, int]  # None: blank ballots, a vote for no level


@dataclass(frozen=True)
class Decision:
    level: Level | None
    undecided: bool  # True: a second round for this candidate (R-B4)
    explanation: Explanation


def _presence(presence: Mapping[str, Presence], member: MemberFacts) -> Presence:
    return presence.get(member.member_id, Presence.ABSENT)


def voters(members: Iterable[MemberFacts], presence: Mapping[str, Presence]) -> list[MemberFacts]:
    """R-B1: official members present; probationary and temporary-here ones do not vote."""
    return [m for m in members
            if m.official and not m.temporary_here and not m.suspended and not m.prosecuted
            and _presence(presence, m) is Presence.PRESENT]


def candidates(
    members: Iterable[MemberFacts],
    rulebook: Rulebook,
    review_date: date,
    presence: Mapping[str, Presence],
) -> list[MemberFacts]:
    """R-B2: every member to be rated at this meeting, voters included."""
    return [m for m in members
            if review_status(m, rulebook, review_date, presence=_presence(presence, m)).rated]


def denominator(
    members: Iterable[MemberFacts],
    presence: Mapping[str, Presence],
    rulebook: Rulebook,
    *,
    ballots_cast: int | None = None,
) -> int:
    """R-B3: "hơn một nửa số thành viên" is taken of this number."""
    if rulebook.denominator_rule is DenominatorRule.BALLOTS_CAST:
        if ballots_cast is None:
            raise ValueError("ballots_cast is needed when the denominator is the ballots cast")
        return ballots_cast
    return sum(1 for m in members if _counts_in_denominator(m, _presence(presence, m)))


def _counts_in_denominator(member: MemberFacts, presence: Presence) -> bool:
    if not member.official or member.temporary_here:
        return False
    if member.suspended or member.prosecuted or presence is Presence.ABSENT_EXCUSED:
        return False
    # Exempt members, and those sent to a temporary chi bộ elsewhere, count only when
    # present (and so voting): a ballot is never cast outside the denominator.
    away = member.exempt or member.temporary
    return not (away and presence is not Presence.PRESENT)


def quorum_met(present: int, denominator: int, rulebook: Rulebook) -> bool:
    """R-B9: at least two thirds of the denominator present."""
    if not rulebook.quorum_required:
        return True
    if denominator <= 0:
        return False
    return present * rulebook.quorum_denominator >= rulebook.quorum_numerator * denominator


def more_than_half(votes: int, denominator: int) -> bool:
    return 2 * votes > denominator


def official_members(members: Iterable[MemberFacts]) -> int:
    """R-B5: every official member of the chi bộ (its own, not those here temporarily),
    whatever their presence: the base of the strict variant's two thirds."""
    return sum(1 for m in members if m.official and not m.temporary_here)


def tally(
    counts: Counts,
    denominator: int,
    rule: CountingRule = CountingRule.CUMULATIVE,
    *,
    htxs_fraction: tuple[int, int] = (2, 3),
    official_members: int | None = None,
) -> Decision:
    """One candidate's level from the counts per level (blank ballots under ``None``).
    ``official_members`` is the base of the strict variant's HTXS (R-B5): required then."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    if any(n < 0 for n in counts.values()):
        raise ValueError("vote counts must not be negative")
    if rule is CountingRule.STRICT_2011 and (official_members is None or official_members <= 0):
        raise ValueError("the strict variant needs the number of official members (R-B5)")
    for level in LEVELS_DESC:
        decision = _adopt(level, counts, denominator, rule, htxs_fraction, official_members)
        if decision is not None:
            return decision
    return Decision(None, True, explain(N_(
        "No level has more than half of {denominator} votes: vote again on this member "
        "({rules})"), "R-B4", denominator=denominator))


def tally_for(
    counts: Counts, denominator: int, rulebook: Rulebook, *, official_members: int
) -> Decision:
    """``tally`` with the rulebook's counting rule and thresholds; ``official_members`` of
    the chi bộ is always given, so a plan switched to the strict variant never counts its
    HTXS on the wrong base (R-B5)."""
    fraction = (rulebook.strict_htxs_numerator, rulebook.strict_htxs_denominator)
    return tally(counts, denominator, rulebook.counting_rule, htxs_fraction=fraction,
                 official_members=official_members)


def _adopt(level: Level, counts: Counts, denominator: int, rule: CountingRule,
           fraction: tuple[int, int], official: int | None) -> Decision | None:
    if rule is CountingRule.PLURALITY:
        votes = counts.get(level, 0)
        if more_than_half(votes, denominator):
            return Decision(level, False, explain(N_(
                "{level}: {votes} of {denominator} votes, more than half ({rules})"),
                "R-B4", level=level.value, votes=votes, denominator=denominator))
        return None
    votes = sum(counts.get(higher, 0) for higher in at_or_above(level))
    if rule is CountingRule.STRICT_2011 and level is Level.HTXS:
        num, den = fraction
        if votes * den >= num * official:
            return Decision(level, False, explain(N_(
                "{level}: {votes} votes of the {official} official members, at least "
                "{numerator}/{fraction} ({rules})"), "R-B5", level=level.value, votes=votes,
                official=official, numerator=num, fraction=den))
        return None
    if more_than_half(votes, denominator):
        rule_id = "R-B5" if rule is CountingRule.STRICT_2011 else "R-B4"
        return Decision(level, False, explain(N_(
            "{level}: {votes} of {denominator} votes for it or a higher level, more than "
            "half ({rules})"), rule_id, level=level.value, votes=votes,
            denominator=denominator))
    return None


def needed(denominator: int) -> int:
    """The smallest number of votes that is more than half of `denominator`."""
    return denominator // 2 + 1
