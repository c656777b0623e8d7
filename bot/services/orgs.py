"""Looking up organisations and members for the edge (handlers hold no SQL)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Member
from storage.models import Organisation


async def organisation(session: AsyncSession, org_id: int | None) -> Organisation | None:
    return await session.get(Organisation, org_id) if org_id is not None else None


async def member_with_code(session: AsyncSession, code: str) -> Member | None:
    return await session.scalar(select(Member).where(Member.code == code.strip().upper()))
