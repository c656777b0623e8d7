"""Rulebooks: every number of DOMAIN §5, §7 and §8 as a setting of a cycle.

Two ship (``hd21-2019`` and ``qd366-2025``); a cycle picks one and may override any
setting, e.g. ``rulebook("hd21-2019", **PLAN_2017)`` for the 2017 district plan.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from rules.levels import Level
from rules.people import DisciplineForm
from rules.text import N_


class CountingRule(Enum):
    CUMULATIVE = "cumulative"  # R-B4: a vote for a level agrees with every lower one
    PLURALITY = "plurality"  # R-B4 setting: only the exact level's votes count
    STRICT_2011 = "strict-2011"  # R-B5: HTXS needs two thirds


class DenominatorRule(Enum):
    CONVENED = "convened"  # R-B3: official members convened, less the exclusions
    BALLOTS_CAST = "ballots-cast"  # R-B3 setting


class QuotaBase(Enum):
    REACHING_HTT = "reaching-htt"  # R-Q2: HTT and the HTXS among them
    FINAL_HTT = "final-htt"  # R-Q2 setting: only those finally rated HTT


class FormScheme(Enum):
    SINGLE = "single"  # Mẫu 02 for everyone (2019)
    BY_ROLE = "by-role"  # Mẫu 2A / 2B / 2C (2025)


@dataclass(frozen=True)
class PlanDeadline:
    """A plan deadline (R-D5) as day/month, ``year_offset`` from the cycle's year."""

    key: str
    day: int
    month: int
    year_offset: int = 0
    msgid: str = ""


@dataclass(frozen=True)
class Rulebook:
    code: str
    title_msgid: str
    # Who is reviewed and rated (R-E*).
    new_member_months: int = 6  # R-E3: "mới kết nạp chưa đủ 6 tháng"
    new_member_reviewed: bool = True  # R-E3: hd21 reviews them, qd366 does not
    new_org_months: int = 6  # R-E4
    former_cell_comment_months: int = 6  # R-E7
    # Caps on one person (R-C*).
    sick_leave_cap_months: int | None = 3  # R-C1; None: no cap
    sick_leave_cap_level: Level = Level.HT
    discipline_min_form: DisciplineForm = DisciplineForm.REPRIMAND  # R-C3
    discipline_official_duties_only: bool = False  # R-C3 (qd366: in official duties)
    head_cap: bool = True  # R-C4
    score_bands: bool = False  # R-C5
    score_htxs_min: int = 90
    score_htt_min: int = 70
    score_ht_min: int = 50
    htxs_beyond_target_percent: int = 30  # R-C5: ≥ 30% beyond target for HTXS
    score_general_max: int = 30  # the general criteria group
    score_tasks_max: int = 70  # task results
    # Quotas (R-Q*).
    htxs_quota_percent: int = 20  # R-Q1
    htxs_quota_outstanding_percent: int | None = None  # R-Q1: 25% by the upper level
    quota_base: QuotaBase = QuotaBase.REACHING_HTT  # R-Q2
    small_group_htt_below: int | None = 5  # R-Q4: fewer than 5 at HTT …
    small_group_htxs_allowed: int = 1  # … 1 HTXS allowed
    small_cell_size_below: int | None = None  # R-Q4 2017: a chi bộ under 7 members …
    small_cell_htxs_max: int = 1  # … at most 1
    # R-Q5: the deciding level sets the peer group a quota is counted over (qd366-2025), by a
    # per-unit plan setting; otherwise the đảng bộ cơ sở (members) or all the units it decides.
    peer_groups_by_decider: bool = False
    org_legacy_quota: bool = False  # R-Q7: the 2017 plan's caps on organisations
    org_legacy_good_percent: int = 50  # "trong sạch, vững mạnh" of all organisations
    org_legacy_exemplary_percent: int = 20  # "tiêu biểu" of those clean and strong
    # Organisation scoring (hd21-2019, seed 004), in tenths of a point.
    org_target_step_percent: int = 5
    org_target_penalty_tenths: int = 5
    org_target_penalty_max_tenths: int = 20
    org_bonus_max_tenths: int = 20
    # Organisation level bands on the framework's points (rules/org_scoring.py). Neither
    # rulebook's central text gives them: hd21-2019 leaves the bands to the province (seed 004
    # B.1.2 points to Quy định 19-QĐ/TU, whose numbers are not in the seeds), so 90/70/50 on
    # 100 is local practice, the bands most provincial frameworks use; qd366-2025 takes the
    # same numbers as the member's score bands (R-C5), an assumption until the upper level's
    # framework says otherwise. Both are settings a plan may change.
    org_score_max: int = 100  # a framework's criteria add up to this many points per kind
    org_band_htxs_min: int = 90  # local practice
    org_band_htt_min: int = 70  # local practice
    org_band_ht_min: int = 50  # local practice
    # Ballot (R-B*).
    counting_rule: CountingRule = CountingRule.CUMULATIVE
    denominator_rule: DenominatorRule = DenominatorRule.CONVENED
    strict_htxs_numerator: int = 2  # R-B5: two thirds …
    strict_htxs_denominator: int = 3
    quorum_required: bool = True  # R-B9
    quorum_numerator: int = 2
    quorum_denominator: int = 3
    # Forms and deadlines (§6, R-D*).
    form_scheme: FormScheme = FormScheme.SINGLE
    self_review_days_before: int = 3  # R-D2
    draft_report_working_days_before: int = 3  # R-D1
    plan_deadlines: tuple[PlanDeadline, ...] = ()

    def __post_init__(self) -> None:
        # Shares are percentages and fractions need a positive denominator.
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_percent") and isinstance(value, int) and not 0 <= value <= 100:
                raise ValueError(f"rulebook setting {f.name!r} must be 0..100, got {value}")
            if f.name.endswith("_denominator") and value <= 0:
                raise ValueError(f"rulebook setting {f.name!r} must be positive, got {value}")

    def with_overrides(self, overrides: Mapping[str, Any]) -> Rulebook:
        """A copy with some settings changed; ValueError naming a bad key."""
        hints = _hints()
        values = {key: _coerce(key, value, hints) for key, value in overrides.items()}
        return dataclasses.replace(self, **values)


@functools.cache
def _hints() -> dict[str, Any]:
    return typing.get_type_hints(Rulebook)  # costs a millisecond: once a process


def _coerce(key: str, value: Any, hints: Mapping[str, Any]) -> Any:
    """Check ``value`` against the field's type; accept enum values given as strings."""
    if key not in hints or key == "code":
        raise ValueError(f"unknown rulebook setting {key!r}")
    hint = hints[key]
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    for option in options:
        ok, coerced = _match(value, option)
        if ok:
            return coerced
    raise ValueError(f"rulebook setting {key!r} does not accept {value!r}")


def _match(value: Any, option: Any) -> tuple[bool, Any]:
    if option is type(None):
        return value is None, None
    if typing.get_origin(option) is tuple:
        item = typing.get_args(option)[0]
        ok = isinstance(value, tuple) and all(isinstance(v, item) for v in value)
        return ok, value
    if isinstance(option, type) and issubclass(option, Enum):
        if isinstance(value, option):
            return True, value
        try:
            return True, option(value)
        except ValueError:
            return False, None
    if option is int:  # bool is an int in Python, never a count here
        return isinstance(value, int) and not isinstance(value, bool), value
    return isinstance(value, option), value


HD21_DEADLINES = (
    PlanDeadline("leaders_reviewed", 10, 12, 0, N_("Leaders' reviews and ratings finished")),
    PlanDeadline("leader_files", 15, 12, 0, N_("Files on leaders sent to the upper level")),
    PlanDeadline("grassroots_done", 31, 12, 0, N_("Grassroots reviews and ratings finished")),
    PlanDeadline("upper_done", 15, 1, 1, N_("Reviews above the grassroots finished")),
    PlanDeadline("results_reported", 20, 2, 1, N_("Results reported to the upper level")),
)

QD366_DEADLINES = (
    PlanDeadline("all_done", 31, 12, 0, N_("All reviews and ratings finished")),
    PlanDeadline("special_cycle_done", 15, 1, 1, N_("Finished where the work cycle is special")),
    PlanDeadline("files_to_centre", 1, 2, 1, N_("Files sent to the centre")),
)

HD21_2019 = Rulebook(
    code="hd21-2019",
    title_msgid=N_("Guidance 21-HD/BTCTW (2019)"),
    plan_deadlines=HD21_DEADLINES,
)

QD366_2025 = Rulebook(
    code="qd366-2025",
    title_msgid=N_("Regulation 366-QĐ/TW (2025)"),
    new_member_reviewed=False,
    sick_leave_cap_months=None,
    discipline_official_duties_only=True,
    head_cap=False,
    score_bands=True,
    htxs_quota_outstanding_percent=25,
    peer_groups_by_decider=True,
    form_scheme=FormScheme.BY_ROLE,
    plan_deadlines=QD366_DEADLINES,
)

RULEBOOKS: dict[str, Rulebook] = {rb.code: rb for rb in (HD21_2019, QD366_2025)}

# The 2017 district plan (seed 002) on top of hd21-2019.
PLAN_2017: dict[str, Any] = {
    "htxs_quota_percent": 15,
    "small_cell_size_below": 7,
    "small_cell_htxs_max": 1,
    "org_legacy_quota": True,
}


def rulebook(code: str, /, **overrides: Any) -> Rulebook:
    """The shipped rulebook ``code`` with the cycle's overrides applied."""
    try:
        base = RULEBOOKS[code]
    except KeyError:
        raise ValueError(f"unknown rulebook {code!r}") from None
    return base.with_overrides(overrides)
