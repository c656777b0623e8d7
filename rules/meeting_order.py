"""The order of a review meeting (R-D3; seed 004 A.4.2, B.6).

"Kiểm điểm tập thể trước, cá nhân sau, người đứng đầu trước, cấp phó và các thành viên sau":
the collectives (the organisation, its leadership committee) are reviewed first, then the
individuals, the head first, then the deputies, then the members. The members' secret ballot
waits for the collectives unless the meeting records why it does not (the secretary's reason).
Members who are public servants are rated after their civil-service rating: that is a matter of
timing the roster does not record, so it is a reminder, not an order.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from collections.abc import Iterable
from typing import TypeVar

from rules.people import name_sort_key

T = TypeVar("T")


class Seat(enum.IntEnum):
    """Where a person sits in the individuals' order (R-D3)."""

    HEAD = 0  # người đứng đầu: the secretary (bí thư)
    DEPUTY = 1  # cấp phó: the deputy secretaries
    MEMBER = 2  # the committee's other members and every other member


def individuals_order(
    people: Iterable[T], seat: Callable[[T], Seat], name: Callable[[T], str]
) -> list[T]:
    """The individuals in the meeting's order: the head first, then the deputies, then the
    members, each group in Vietnamese name order."""
    return sorted(people, key=lambda p: (seat(p), name_sort_key(name(p))))


def ballot_may_open(collectives_done: bool, reason: str | None, earlier_rounds: int) -> bool:
    """Whether the members' secret ballot may open (R-D3): after the collectives' step, or
    with the reason the meeting recorded for going first; a meeting that already voted on its
    members has settled its order."""
    return collectives_done or bool(reason and reason.strip()) or earlier_rounds > 0
