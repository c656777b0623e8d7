"""Deadlines of a cycle (R-D1, R-D2, R-D5)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from datetime import timedelta
from decimal import Decimal

from rules.breaches import Breach
from rules.breaches import breach
from rules.rulebooks import PlanDeadline
from rules.rulebooks import Rulebook
from rules.text import N_


@dataclass(frozen=True)
class DatedDeadline:
    key: str
    due: date  # the last day: the work is finished before it ends ("trước ngày")
    msgid: str


def self_review_due(meeting: date, rulebook: Rulebook) -> date:
    """R-D2: the self-review is handed in 3 days before the meeting."""
    return meeting - timedelta(days=rulebook.self_review_days_before)


def draft_report_due(
    meeting: date, rulebook: Rulebook, holidays: Collection[date] = ()
) -> date:
    """R-D1: the draft report goes out at least 3 working days before the meeting."""
    day, left = meeting, rulebook.draft_report_working_days_before
    while left > 0:
        day -= timedelta(days=1)
        if is_working_day(day, holidays):
            left -= 1
    return day


# R-D4 (seed 004 A.4.2): a review meeting lasts at least half a day, a full day where the upper
# level sent written points for review (gợi ý kiểm điểm). The seed asks more of an đảng ủy cơ sở
# (a day, a day and a half with points); DOMAIN.md keeps the cells' rule for every unit.
MEETING_DAYS = Decimal("0.5")
PROMPTED_MEETING_DAYS = Decimal("1")


def meeting_days_min(prompted: bool) -> Decimal:
    """R-D4: the least a review meeting lasts, in days."""
    return PROMPTED_MEETING_DAYS if prompted else MEETING_DAYS


def reminder_stage(due: date, today: date, days: tuple[int, ...] = (3, 1, 0)) -> str | None:
    """Which reminder of a deadline is due today: with the default days, "d3" from 3 days
    before until 2, "d1" the day before, "d0" on the day; None before and after."""
    left = (due - today).days
    if left < 0 or left > days[0]:
        return None
    return f"d{min(d for d in days if d >= left)}"


def is_working_day(day: date, holidays: Collection[date] = ()) -> bool:
    return day.weekday() < 5 and day not in holidays  # Saturday is 5, Sunday 6


def plan_deadlines(rulebook: Rulebook, cycle_year: int) -> list[DatedDeadline]:
    """R-D5: the rulebook's default plan deadlines for the cycle of ``cycle_year``."""
    return [_dated(d, cycle_year) for d in rulebook.plan_deadlines]


def _dated(deadline: PlanDeadline, cycle_year: int) -> DatedDeadline:
    due = date(cycle_year + deadline.year_offset, deadline.month, deadline.day)
    return DatedDeadline(deadline.key, due, deadline.msgid)


def check_child_deadline(key: str, child: date, parent: date) -> Breach | None:
    """R-D5: a lower unit may set an earlier deadline, never a later one."""
    if child <= parent:
        return None
    return breach("deadline.after_parent", ("R-D5",), N_(
        "The deadline {child} is later than the upper level's {parent} ({rules})"),
        key=key, child=_dmy(child), parent=_dmy(parent))


def _dmy(day: date) -> str:
    return day.strftime("%d/%m/%Y")  # as written in Vietnamese plans


def check_child_deadlines(
    child: dict[str, date], parent: dict[str, date]
) -> list[Breach]:
    """Every deadline of a lower unit's plan against the same one of its parent."""
    found = [check_child_deadline(key, due, parent[key])
             for key, due in child.items() if key in parent]
    return [b for b in found if b is not None]
