"""Ratings: the chi bộ's proposed level for each member, then the deciding level's decision.

One live row per (cycle, member); a cancelled rating (R-A2) stays as history and a new row
replaces it. Every change is appended to RatingChange with who, when and why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Rating
from storage.models import RatingChange
from storage.models import RatingState
from storage.models import UnitRatingChange


async def live_rating(session: AsyncSession, cycle_id: int, member_id: int) -> Rating | None:
    return await session.scalar(
        select(Rating).where(
            Rating.cycle_id == cycle_id,
            Rating.member_id == member_id,
            Rating.state != RatingState.CANCELLED,
        )
    )


async def record_proposals(
    session: AsyncSession,
    cycle_id: int,
    levels: Mapping[int, str],
    *,
    actor: str,
    now: dt.datetime,
    kind: str = "proposed",
    reason: str | None = None,
) -> list[Rating]:
    """Set the proposed level of members (member id -> level code) before any decision."""
    changed = []
    for member_id, level in levels.items():
        rating = await live_rating(session, cycle_id, member_id)
        if rating is None:
            rating = Rating(cycle_id=cycle_id, member_id=member_id, state=RatingState.PROPOSED)
            session.add(rating)
        elif rating.state == RatingState.DECIDED:
            continue  # decided levels change only by re-rating (R-A2)
        rating.proposed_level = level
        rating.proposed_at = now
        await session.flush()
        record_change(session, rating.id, kind, actor=actor, now=now, level=level, reason=reason)
        changed.append(rating)
    return changed


def record_change(
    session: AsyncSession,
    rating_id: int,
    kind: str,
    *,
    actor: str,
    now: dt.datetime,
    level: str | None = None,
    reason: str | None = None,
    history: type[RatingChange] | type[UnitRatingChange] = RatingChange,
) -> None:
    """Append a change to a rating's history: what (`kind`, `level`), who, when and why
    (`history`: a member's rating, or a unit's, issue 14)."""
    session.add(
        history(rating_id=rating_id, at=now, actor=actor, kind=kind, level=level, reason=reason)
    )
