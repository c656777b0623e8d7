"""Queries over the organisation tree and the people in it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select
from sqlalchemy import and_
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Member
from storage.models import Organisation
from storage.models import Role


def subtree_range(path: str):
    """A condition matching every organisation whose path starts with `path`.

    Paths are digits and slashes; '0' follows '/' in byte order, so replacing the trailing
    slash by '0' gives an exclusive upper bound and the test is an index range scan.
    """
    return and_(Organisation.path >= path, Organisation.path < path[:-1] + "0")


def path_ids(path: str) -> list[int]:
    """The organisation ids of a path ("/1/5/23/"), root first: its ancestors, then itself."""
    return [int(part) for part in path.strip("/").split("/")]


async def org_by_code(session: AsyncSession, code: str) -> Organisation | None:
    return await session.scalar(select(Organisation).where(Organisation.code == code.upper()))


def members_in_subtree(path: str) -> Select[tuple[Member]]:
    return (
        select(Member)
        .join(Organisation, Member.org_id == Organisation.id)
        .where(subtree_range(path))
        .order_by(Organisation.path, Member.full_name, Member.code)
    )


async def place_org(session: AsyncSession, org: Organisation, parent: Organisation | None) -> None:
    """Attach `org` under `parent`, rewriting the paths of its subtree if it moves."""
    if org.id is None:
        session.add(org)
        await session.flush()
    new_path = f"{parent.path if parent else '/'}{org.id}/"
    old_path = org.path
    org.parent_id = parent.id if parent else None
    org.depth = parent.depth + 1 if parent else 0
    if old_path == new_path:
        return
    org.path = new_path
    if old_path:
        await session.flush()
        descendants = and_(subtree_range(old_path), Organisation.id != org.id)
        await session.execute(
            update(Organisation)
            .where(descendants)
            .values(
                path=new_path + func.substr(Organisation.path, len(old_path) + 1),
                depth=Organisation.depth + (org.depth - old_path.count("/") + 2),
            )
            .execution_options(synchronize_session=False)
        )


async def roles_of_member(session: AsyncSession, member_id: int) -> list[tuple[Role, Organisation]]:
    rows = await session.execute(
        select(Role, Organisation)
        .join(Organisation, Role.org_id == Organisation.id)
        .where(Role.member_id == member_id)
        .order_by(Organisation.path)
    )
    return [(role, org) for role, org in rows]


async def org_by_id(session: AsyncSession, org_id: int | None) -> Organisation | None:
    return await session.get(Organisation, org_id) if org_id is not None else None


async def member_by_code(session: AsyncSession, code: str) -> Member | None:
    return await session.scalar(select(Member).where(Member.code == code.upper()))


async def with_referenced(
    session: AsyncSession, model: type, row_id: int, *references: tuple[type, str]
) -> tuple[Any, ...] | None:
    """The row `row_id` of `model`, then the row each (model, foreign key attribute) of
    `references` points to, in that order; None when the row is gone."""
    row = await session.get(model, row_id)
    if row is None:
        return None
    return (row, *[await session.get(target, getattr(row, key)) for target, key in references])
