import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from storage.db import Database
from storage.models import AuditEntry
from storage.models import Base
from storage.models import Member
from storage.models import Organisation
from storage.queries import members_in_subtree
from storage.queries import place_org
from storage.queries import subtree_range


@pytest.fixture
async def db(database_url):
    database = Database(database_url)
    await database.migrate()
    yield database
    await database.dispose()


async def test_migrations_match_the_models(db):
    def diff(connection):
        return compare_metadata(MigrationContext.configure(connection), Base.metadata)

    async with db.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


@pytest.mark.sqlite_only("WAL, foreign_keys and secure_delete are SQLite pragmas")
async def test_sqlite_runs_in_wal_with_foreign_keys_and_secure_delete(db):
    async with db.engine.connect() as conn:
        assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
        assert (await conn.execute(text("PRAGMA secure_delete"))).scalar() == 1


async def _tree(session):
    """root -> a -> a1, root -> b; returns them by name."""
    orgs = {}
    for name, parent in [("root", None), ("a", "root"), ("a1", "a"), ("b", "root"), ("a10", "a")]:
        org = Organisation(code=name.upper(), name=name, kind="grassroots", path="")
        await place_org(session, org, orgs.get(parent))
        orgs[name] = org
    await session.flush()
    return orgs


async def _subtree_codes(session, org):
    rows = await session.scalars(select(Organisation.code).where(subtree_range(org.path)).order_by(Organisation.code))
    return list(rows)


async def test_subtree_and_move(db):
    async with db.session() as session:
        orgs = await _tree(session)
        assert await _subtree_codes(session, orgs["a"]) == ["A", "A1", "A10"]
        assert await _subtree_codes(session, orgs["root"]) == ["A", "A1", "A10", "B", "ROOT"]
        assert orgs["a1"].depth == 2
        # Move a under b: its subtree follows, paths and depths rewritten.
        await place_org(session, orgs["a"], orgs["b"])
        await session.flush()
        for org in orgs.values():
            await session.refresh(org)
        assert await _subtree_codes(session, orgs["b"]) == ["A", "A1", "A10", "B"]
        assert orgs["a1"].path.startswith(orgs["a"].path) and orgs["a"].path.startswith(orgs["b"].path)
        assert (orgs["a"].depth, orgs["a1"].depth) == (2, 3)


async def test_a_sibling_whose_id_extends_the_prefix_is_not_in_the_subtree(db):
    # ids 1 and 10 under the same parent: "/x/1/" must not match "/x/10/".
    async with db.session() as session:
        root = Organisation(code="R", name="r", kind="upper", path="")
        await place_org(session, root, None)
        children = []
        for i in range(12):
            child = Organisation(code=f"C{i}", name="c", kind="cell", path="")
            await place_org(session, child, root)
            children.append(child)
        first = children[0]
        assert await _subtree_codes(session, first) == [first.code]


async def test_subtree_query_uses_the_path_index(db):
    query = "SELECT id FROM organisations WHERE path >= '/1/' AND path < '/10'"
    async with db.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            plan = await conn.execute(text(f"EXPLAIN QUERY PLAN {query}"))
        else:
            # An empty table is cheapest to scan whole: forbid that to see whether the index
            # can serve the range at all (it cannot under a collation that ignores slashes).
            await conn.execute(text("SET LOCAL enable_seqscan = off"))
            plan = await conn.execute(text(f"EXPLAIN {query}"))
        assert "ix_organisations_path" in " ".join(str(row) for row in plan)


async def test_members_in_subtree(db):
    async with db.session() as session:
        orgs = await _tree(session)
        for code, org in [("M1", "a1"), ("M2", "b"), ("M3", "a")]:
            session.add(Member(code=code, full_name=code, org_id=orgs[org].id, status="official",
                               admitted_on=dt.date(2000, 1, 1)))
        await session.flush()
        found = (await session.scalars(members_in_subtree(orgs["a"].path))).all()
        assert sorted(m.code for m in found) == ["M1", "M3"]


async def test_audit_log_is_append_only_in_the_orm_and_in_the_database(db):
    async with db.session() as session:
        session.add(AuditEntry.record("cli", "test", "thing", 1, field="value"))
    async with db.session() as session:
        entry = await session.scalar(select(AuditEntry))
        entry.action = "changed"
        with pytest.raises(PermissionError):
            await session.flush()
        await session.rollback()
    for statement in ("UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.engine.begin() as conn:
                await conn.execute(text(statement))
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(AuditEntry)) == 1
