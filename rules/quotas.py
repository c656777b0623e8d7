"""Quotas on a group's share of HTXS (R-Q1..R-Q7)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from rules.breaches import Breach, Severity, breach
from rules.levels import Level
from rules.rulebooks import QuotaBase, Rulebook
from rules.text import N_, Explanation, explain


class QuotaScope(Enum):
    """R-Q5: where the share is counted."""

    PEER_GROUP = "peer_group"  # the đảng bộ cơ sở, or the group the deciding level set
    CELL = "cell"  # one chi bộ's own proposals: a warning only


@dataclass(frozen=True)
class QuotaLimit:
    limit: int  # the most HTXS allowed
    base: int  # members reaching HTT (R-Q2)
    percent: int
    explanations: list[Explanation] = field(default_factory=list)


def htt_base(levels: Mapping[str, Level], rulebook: Rulebook) -> int:
    """R-Q2: the members reaching the HTT standard (HTXS included unless set otherwise)."""
    return counted_base(Counter(levels.values()), rulebook)


def counted_base(counts: Mapping[Level, int], rulebook: Rulebook) -> int:
    """``htt_base`` from the number of members at each level."""
    base = counts.get(Level.HTT, 0)
    if rulebook.quota_base is not QuotaBase.FINAL_HTT:
        base += counts.get(Level.HTXS, 0)
    return base


def quota_percent(rulebook: Rulebook, outstanding_unit: bool = False) -> int:
    """R-Q1: 20%, or the outstanding-unit share (25%) where the rulebook has one."""
    raised = rulebook.htxs_quota_outstanding_percent
    return raised if outstanding_unit and raised is not None else rulebook.htxs_quota_percent


def htxs_limit(
    base: int, rulebook: Rulebook, *, group_size: int | None = None, outstanding_unit: bool = False
) -> QuotaLimit:
    """How many HTXS a group may have: the share rounded down, then R-Q4's exceptions."""
    percent = quota_percent(rulebook, outstanding_unit)
    limit = percent * base // 100  # R-Q3: "không vượt quá", so round down
    notes = [explain(N_("{percent}% of {base} members reaching HTT, rounded down: {limit} "
                        "({rules})"), "R-Q1", "R-Q2", "R-Q3",
                     percent=percent, base=base, limit=limit)]
    small = rulebook.small_group_htt_below
    if small is not None and base < small and limit < rulebook.small_group_htxs_allowed:
        limit = rulebook.small_group_htxs_allowed
        notes.append(explain(N_("Fewer than {size} members reaching HTT: {limit} HTXS allowed "
                                "if deserved ({rules})"), "R-Q4", size=small, limit=limit))
    cell = rulebook.small_cell_size_below
    if cell is not None and group_size is not None and group_size < cell:
        # 15% of fewer than 7 is always 0, so the 2017 plan's "không quá 01" both
        # allows one HTXS in a small chi bộ and caps it there.
        limit = rulebook.small_cell_htxs_max
        notes.append(explain(N_("A chi bộ of fewer than {size} members: at most {limit} HTXS "
                                "({rules})"), "R-Q4", size=cell, limit=limit))
    return QuotaLimit(limit, base, percent, notes)


def check_quota(
    proposals: Mapping[str, Level],
    rulebook: Rulebook,
    group_size: int | None = None,
    *,
    outstanding_unit: bool = False,
    scope: QuotaScope = QuotaScope.PEER_GROUP,
    names: Mapping[str, str] | None = None,
    counts: Mapping[Level, int] | None = None,
) -> list[Breach]:
    """Breach when the HTXS among ``proposals`` (member id → level) exceed the quota.

    ``group_size`` is the chi bộ's membership, read by the 2017 small-cell rule (R-Q4). With
    ``counts`` (the group's members per level), ``proposals`` need hold only its HTXS members,
    in the order they are named: a large group is checked without reading the others.
    """
    counts = Counter(proposals.values()) if counts is None else counts
    quota = htxs_limit(counted_base(counts, rulebook), rulebook, group_size=group_size,
                       outstanding_unit=outstanding_unit)
    top = tuple(mid for mid, level in proposals.items() if level is Level.HTXS)
    if len(top) <= quota.limit:
        return []
    names = names or {}
    member_names = tuple(names.get(mid, "") for mid in top)
    rule_ids = tuple(dict.fromkeys(r for note in quota.explanations for r in note.rule_ids))
    rule_ids += ("R-Q5", "R-Q6") if scope is QuotaScope.CELL else ("R-Q6",)
    severity = Severity.WARNING if scope is QuotaScope.CELL else Severity.ERROR
    if "R-Q4" in rule_ids:
        return [breach("quota.htxs_small_group", rule_ids, N_(
            "{count} members proposed HTXS, at most {limit} in a small group ({rules})"),
            member_ids=top, member_names=member_names, severity=severity,
            count=len(top), limit=quota.limit)]
    return [breach("quota.htxs_share", rule_ids, N_(
        "{count} members proposed HTXS, at most {limit}: {percent}% of {base} members "
        "reaching HTT ({rules})"), member_ids=top, member_names=member_names,
        severity=severity, count=len(top), limit=quota.limit, percent=quota.percent,
        base=quota.base)]


def quota_exceeded(counts: Mapping[Level, int], rulebook: Rulebook,
                   group_size: int | None = None) -> bool:
    """Whether a group with these numbers of members per level breaks the quota (R-Q1..R-Q4):
    the counts decide it, so a large group is checked without reading its members."""
    limit = htxs_limit(counted_base(counts, rulebook), rulebook, group_size=group_size).limit
    return counts.get(Level.HTXS, 0) > limit


def check_org_quota(levels: Mapping[str, Level], rulebook: Rulebook, *,
                    outstanding_unit: bool = False) -> list[Breach]:
    """R-Q7 for organisations: the 2017 plan's 50%/20%, or R-Q1's share otherwise."""
    if not rulebook.org_legacy_quota:
        return check_quota(levels, rulebook, outstanding_unit=outstanding_unit)
    found = []
    good = tuple(oid for oid, level in levels.items() if level >= Level.HTT)
    good_limit = rulebook.org_legacy_good_percent * len(levels) // 100
    if len(good) > good_limit:
        found.append(breach("quota.org_clean_strong", ("R-Q7",), N_(
            "{count} organisations proposed clean and strong, at most {limit}: {percent}% of "
            "{base} organisations ({rules})"), member_ids=good, count=len(good),
            limit=good_limit, percent=rulebook.org_legacy_good_percent, base=len(levels)))
    top = tuple(oid for oid, level in levels.items() if level is Level.HTXS)
    top_limit = rulebook.org_legacy_exemplary_percent * len(good) // 100
    if len(top) > top_limit:
        found.append(breach("quota.org_exemplary", ("R-Q7",), N_(
            "{count} organisations proposed exemplary, at most {limit}: {percent}% of {base} "
            "clean and strong ({rules})"), member_ids=top, count=len(top), limit=top_limit,
            percent=rulebook.org_legacy_exemplary_percent, base=len(good)))
    return found
