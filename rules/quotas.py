"""Quotas on a group's share of HTXS (R-Q1..R-Q7)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from enum import Enum

from rules.breaches import Breach
from rules.breaches import Severity
from rules.breaches import breach
from rules.levels import Level
from rules.rulebooks import QuotaBase
from rules.rulebooks import Rulebook
from rules.text import N_
from rules.text import Explanation
from rules.text import explain


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
                    outstanding_unit: bool = False,
                    names: Mapping[str, str] | None = None) -> list[Breach]:
    """R-Q7 for organisations (``levels``: unit id → level, over the peer group the deciding
    level decides): the 2017 plan's 50%/20%, or R-Q1's share otherwise (with R-Q4's small
    group: fewer than 5 organisations at HTT may have 1 HTXS if deserved)."""
    names = names or {}
    if not rulebook.org_legacy_quota:
        return _org_share(levels, rulebook, outstanding_unit, names)
    found = []
    good = tuple(oid for oid, level in levels.items() if level >= Level.HTT)
    good_limit = rulebook.org_legacy_good_percent * len(levels) // 100
    if len(good) > good_limit:
        found.append(breach("quota.org_clean_strong", ("R-Q7",), N_(
            "{count} organisations proposed clean and strong, at most {limit}: {percent}% of "
            "{base} organisations ({rules})"), member_ids=good,
            member_names=tuple(names.get(oid, "") for oid in good), count=len(good),
            limit=good_limit, percent=rulebook.org_legacy_good_percent, base=len(levels)))
    top = tuple(oid for oid, level in levels.items() if level is Level.HTXS)
    top_limit = rulebook.org_legacy_exemplary_percent * len(good) // 100
    if len(top) > top_limit:
        found.append(breach("quota.org_exemplary", ("R-Q7",), N_(
            "{count} organisations proposed exemplary, at most {limit}: {percent}% of {base} "
            "clean and strong ({rules})"), member_ids=top,
            member_names=tuple(names.get(oid, "") for oid in top), count=len(top),
            limit=top_limit, percent=rulebook.org_legacy_exemplary_percent, base=len(good)))
    return found


def _org_share(levels: Mapping[str, Level], rulebook: Rulebook, outstanding_unit: bool,
               names: Mapping[str, str]) -> list[Breach]:
    """R-Q7 as R-Q1: HTXS within the share of the organisations reaching HTT (R-Q2, R-Q3),
    R-Q4's small group; the 2017 plan's small-cell rule is about members, never read here."""
    base = htt_base(levels, rulebook)
    quota = htxs_limit(base, rulebook, outstanding_unit=outstanding_unit)
    top = tuple(oid for oid, level in levels.items() if level is Level.HTXS)
    if len(top) <= quota.limit:
        return []
    shown = tuple(names.get(oid, "") for oid in top)
    if any("R-Q4" in note.rule_ids for note in quota.explanations):
        return [breach("quota.org_small_group", ("R-Q7", "R-Q4"), N_(
            "{count} organisations proposed HTXS, at most {limit} where fewer than {size} "
            "reach HTT ({rules})"), member_ids=top, member_names=shown, count=len(top),
            limit=quota.limit, size=rulebook.small_group_htt_below)]
    return [breach("quota.org_share", ("R-Q7", "R-Q1", "R-Q3"), N_(
        "{count} organisations proposed HTXS, at most {limit}: {percent}% of {base} "
        "organisations reaching HTT ({rules})"), member_ids=top, member_names=shown,
        count=len(top), limit=quota.limit, percent=quota.percent, base=base)]


# --- R-Q5: the peer group (qd366-2025), R-Q1: the outstanding units' share -----------------


def peer_groups(labels: Mapping[str, str | None], rulebook: Rulebook) -> list[tuple[str, ...]]:
    """R-Q5: how the deciding level's units (id → the peer group label it set, None for none)
    are counted. Under a rulebook where the deciding level sets the peer group, the units of
    one label form a group and the units without one form the common group; otherwise every
    unit is in one group. Groups keep the order of ``labels``; an empty one is left out."""
    if not rulebook.peer_groups_by_decider:
        return [tuple(labels)] if labels else []
    groups: dict[str | None, list[str]] = {}
    for unit, label in labels.items():
        groups.setdefault(label or None, []).append(unit)
    return [tuple(units) for units in groups.values()]


def group_outstanding(root: bool, members: Iterable[bool]) -> bool:
    """R-Q1: a group counts at the outstanding units' share when the upper level granted it
    to the group's own organisation (the đảng bộ, the deciding level), or to every unit in it."""
    flags = list(members)
    return root or (bool(flags) and all(flags))


def by_group(items: Mapping[Hashable, str], groups: Iterable[tuple[str, ...]]
             ) -> dict[tuple[str, ...], list[Hashable]]:
    """The keys of ``items`` (key → unit id) in each group of units."""
    where = {unit: group for group in groups for unit in group}
    found: dict[tuple[str, ...], list[Hashable]] = {}
    for key, unit in items.items():
        if unit in where:
            found.setdefault(where[unit], []).append(key)
    return found
