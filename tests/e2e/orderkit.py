"""R-D3 for tests of the members' ballot: the collectives are reviewed before the members
vote, so a test that opens a members' round first records its cells' collectives as reviewed
(written straight to the database, as the meeting's order would: tests/e2e/test_unit_meeting.py
drives that step through the bot)."""

from __future__ import annotations

from sqlalchemy import select

from bot.services import units
from bot.services.cycles import cycle_for_org
from storage.db import Database
from storage.models import Organisation
from storage.models import OrgKind
from storage.models import UnitReviewState
from storage.models import utcnow


async def collectives_reviewed_in(session, codes: list[str] | None = None) -> None:
    """Every collective of the cells named (all cells by default) reviewed, in their plan."""
    query = select(Organisation).where(
        Organisation.kind.in_([OrgKind.CELL.value, OrgKind.GRASSROOTS_CELL.value])
    )
    if codes is not None:
        query = query.where(Organisation.code.in_(codes))
    for org in (await session.scalars(query)).all():
        cycle = await cycle_for_org(session, org)
        if cycle is None:
            continue
        for subject in await units.subjects_of(session, org):
            review = await units.ensure_review(session, cycle, org, subject)
            review.state = UnitReviewState.REVIEWED
            review.reviewed_at = utcnow()
    await session.flush()


async def collectives_reviewed(database_url: str, codes: list[str] | None = None) -> None:
    db = Database(database_url)
    try:
        async with db.session() as session:
            await collectives_reviewed_in(session, codes)
    finally:
        await db.dispose()
