"""Caps on one member's level (R-C1..R-C5) and the check of a proposed level."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from datetime import date

from rules.breaches import Breach
from rules.breaches import breach
from rules.eligibility import review_status
from rules.levels import Level
from rules.levels import levels_at_most
from rules.levels import lowest
from rules.people import HeadException
from rules.people import MemberFacts
from rules.people import OrgFacts
from rules.people import Presence
from rules.rulebooks import Rulebook
from rules.scoring import Score
from rules.scoring import score_band
from rules.scoring import unmet_htxs_conditions
from rules.text import N_
from rules.text import Explanation
from rules.text import explain


@dataclass(frozen=True)
class Cap:
    level: Level  # the highest level allowed
    reason: Explanation


@dataclass(frozen=True)
class AllowedLevels:
    levels: tuple[Level, ...]  # highest first
    explanations: list[Explanation] = field(default_factory=list)  # caps and notes
    caps: tuple[Cap, ...] = ()

    @property
    def highest(self) -> Level:
        return self.levels[0]


def allowed_levels(
    member: MemberFacts,
    rulebook: Rulebook,
    *,
    score: Score | int | None = None,
    collective_level: Level | None = None,
    head_exception: bool = False,
) -> AllowedLevels:
    """The levels ``member`` may get, with why the top ones are shut."""
    notes: list[Explanation] = []
    caps = [
        _sick_leave_cap(member, rulebook, notes),
        _discipline_cap(member, rulebook, notes),
        _head_cap(member, rulebook, collective_level, head_exception, notes),
        *_score_caps(score, rulebook),
    ]
    if member.maternity:
        notes.append(explain(
            N_("Maternity leave: rated on the working time actually done ({rules})"), "R-C2"))
    found = tuple(cap for cap in caps if cap is not None)
    top = lowest([cap.level for cap in found]) if found else Level.HTXS
    return AllowedLevels(levels_at_most(top), [cap.reason for cap in found] + notes, found)


def check_member(
    member: MemberFacts,
    proposed: Level,
    rulebook: Rulebook,
    *,
    review_date: date | None = None,
    presence: Presence = Presence.PRESENT,
    score: Score | int | None = None,
    collective_level: Level | None = None,
    head_exception: bool = False,
) -> list[Breach]:
    """Breaches of a proposed level: not to be rated (R-E*) or above a cap (R-C*)."""
    if review_date is not None:
        status = review_status(member, rulebook, review_date, presence=presence)
        if not status.rated:
            return [_not_rated(member, status.reasons)]
    allowed = allowed_levels(member, rulebook, score=score,
                             collective_level=collective_level, head_exception=head_exception)
    return [_above_cap(member, proposed, cap) for cap in allowed.caps if proposed > cap.level]


def _sick_leave_cap(member: MemberFacts, rulebook: Rulebook,
                    notes: list[Explanation]) -> Cap | None:
    months = rulebook.sick_leave_cap_months
    if member.sick_leave_months <= 0:
        return None
    if months is None or member.sick_leave_months < months:
        notes.append(explain(N_(
            "Sick leave of {months} months: rated on the work actually done ({rules})"),
            "R-C1", months=member.sick_leave_months))
        return None
    level = rulebook.sick_leave_cap_level
    return Cap(level, explain(N_(
        "Sick leave of {months} months, {min} or more: at most {level} ({rules})"),
        "R-C1", months=member.sick_leave_months, min=months, level=level.value))


def _discipline_cap(member: MemberFacts, rulebook: Rulebook,
                    notes: list[Explanation]) -> Cap | None:
    if not member.disciplined:
        return None
    if member.discipline_counted_before:
        notes.append(explain(N_(
            "The violation already counted in an earlier rating: it counts once ({rules})"),
            "R-C3"))
        return None
    form = member.discipline_form
    heavy = form is None or form.severity >= rulebook.discipline_min_form.severity
    if rulebook.discipline_official_duties_only and not (
            heavy and member.discipline_in_official_duties):
        notes.append(explain(N_(
            "Disciplined, but not from reprimand up for a violation in official duties: "
            "no cap ({rules})"), "R-C3"))
        return None
    if not heavy:
        return None
    return Cap(Level.KHT, explain(
        N_("Disciplined during the year: {level} ({rules})"), "R-C3", level=Level.KHT.value))


def _head_cap(member: MemberFacts, rulebook: Rulebook, collective_level: Level | None,
              head_exception: bool, notes: list[Explanation]) -> Cap | None:
    if not (rulebook.head_cap and member.head and collective_level is not None):
        return None
    if head_exception or member.head_exception is not None:
        notes.append(explain(N_(
            "Head of the unit, but an exception applies: may be rated above the "
            "collective ({rules})"), "R-C4"))
        return None
    return Cap(collective_level, explain(N_(
        "Head of the unit: not above the collective's level {level} ({rules})"),
        "R-C4", level=collective_level.value))


def head_exception(member: MemberFacts, led: OrgFacts, year: int) -> HeadException | None:
    """R-C4's exceptions for the head of ``led`` (seed 004 B.4, B.6): the secretary of a
    village or residential chi bộ who is not a public servant (cán bộ, công chức), and a head
    who transferred in during the plan's ``year`` (not answerable for the unit's year)."""
    if led.residential and not member.public_servant:
        return HeadException.VILLAGE_SECRETARY
    if member.transferred_in_on is not None and member.transferred_in_on.year >= year:
        return HeadException.NEWLY_TRANSFERRED
    return None


def _score_caps(score: Score | int | None, rulebook: Rulebook) -> list[Cap | None]:
    if not rulebook.score_bands or score is None:
        return []
    total = score.total if isinstance(score, Score) else score
    band = score_band(total, rulebook)
    caps: list[Cap | None] = []
    if band is not Level.HTXS:
        caps.append(Cap(band, explain(
            N_("A total of {score} points allows {level} at most ({rules})"),
            "R-C5", score=total, level=band.value)))
    elif isinstance(score, Score):
        caps += [Cap(Level.HTT, reason) for reason in unmet_htxs_conditions(score, rulebook)]
    return caps


def _not_rated(member: MemberFacts, reasons: list[Explanation]) -> Breach:
    rule_ids = tuple(dict.fromkeys(r for reason in reasons for r in reason.rule_ids))
    return breach("member.not_rated", rule_ids or ("R-E1",),
                  N_("{name} is not to be rated at this meeting ({rules})"),
                  member_ids=(member.member_id,), member_names=(member.name,),
                  name=member.name or member.member_id)


def _above_cap(member: MemberFacts, proposed: Level, cap: Cap) -> Breach:
    code = _CAP_CODES.get(cap.reason.rule_ids[0], "cap.level")
    return breach(code, cap.reason.rule_ids,
                  N_("{name} proposed {proposed}, at most {level} allowed ({rules})"),
                  member_ids=(member.member_id,), member_names=(member.name,),
                  name=member.name or member.member_id, proposed=proposed.value,
                  level=cap.level.value)


_CAP_CODES = {"R-C1": "cap.sick_leave", "R-C3": "cap.discipline", "R-C4": "cap.head",
              "R-C5": "cap.score"}
