"""The suite's database fixtures: every test gets a fresh, empty database on its backend."""

import pytest
from sqlalchemy import inspect
from sqlalchemy import text

from storage.db import Database


async def _tables(url: str) -> list[str]:
    db = Database(url)
    try:
        async with db.engine.connect() as conn:
            return await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await db.dispose()


async def test_each_database_is_fresh_and_migrates(new_database_url):
    first, second = new_database_url("first"), new_database_url("second")
    assert first != second
    assert await _tables(first) == []
    db = Database(first)
    try:
        await db.migrate()
    finally:
        await db.dispose()
    assert "alembic_version" in await _tables(first)
    assert await _tables(second) == []


async def test_a_postgresql_database_has_pageinspect(pg_database):
    db = Database(pg_database)
    try:
        async with db.engine.connect() as conn:
            available = (await conn.execute(text(
                "SELECT count(*) FROM pg_available_extensions WHERE name = 'pageinspect'"))).scalar()
            if not available:
                pytest.skip("this PostgreSQL has no pageinspect (Debian ships it in postgresql-NN)")
            installed = (await conn.execute(text(
                "SELECT count(*) FROM pg_extension WHERE extname = 'pageinspect'"))).scalar()
            assert installed == 1
    finally:
        await db.dispose()
