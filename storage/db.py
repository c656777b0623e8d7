"""Engine, sessions and migrations."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import await_only
from sqlalchemy.util.concurrency import in_greenlet

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the writer; secure_delete overwrites freed pages so
    # deleted rows (ballot choices in progress) do not linger in the file.
    for pragma in (
        "journal_mode=WAL",
        "foreign_keys=ON",
        "secure_delete=ON",
        "busy_timeout=10000",
        "synchronous=NORMAL",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


# --- one writer at a time on SQLite -------------------------------------------------------
#
# Updates of different chats run side by side (bot/intake.py), but SQLite has one writer at a
# time. Left to itself, a second writer waits inside SQLite's busy handler (it polls, sleeping,
# for at most busy_timeout) and fails with "database is locked" when the first holds on longer;
# and the waiting is not fair. SQLAlchemy's aiosqlite documentation ("Serializable isolation /
# Savepoints / Transactional DDL") shows where to hook transaction control: the engine's events.
# We keep the driver's own transaction control (a plain BEGIN just before the first INSERT,
# UPDATE or DELETE, so every reading statement before it runs on its own snapshot and no read
# snapshot is ever upgraded into a write, the case WAL refuses with SQLITE_BUSY_SNAPSHOT), and
# add a process-wide asyncio lock taken in `before_cursor_execute` when a connection issues its
# first writing statement and released when the connection goes back to the pool (after its
# COMMIT or ROLLBACK). Writers therefore queue in the event loop, in arrival order, without
# holding a thread or polling; readers never wait (WAL); the write transactions are the turns'
# own, which never wait on Telegram (everything a turn says goes out after its commit). The
# busy timeout stays for other processes (the CLI beside a running bot).
WRITE_LOCK_TIMEOUT = 60.0  # seconds a writer waits in the queue before it gives up
_WRITING = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER)\b", re.IGNORECASE)
_HOLDS = "kiemdiem_write_lock"


class WriteLock:
    """One asyncio.Lock per event loop (tests and the CLI run more than one loop)."""

    def __init__(self) -> None:
        self._locks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.waits = 0  # writers that found the lock taken (for tests and benchmarks)

    def lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    async def acquire(self) -> asyncio.Lock:
        lock = self.lock()
        if lock.locked():
            self.waits += 1
        try:
            await asyncio.wait_for(lock.acquire(), WRITE_LOCK_TIMEOUT)
        except TimeoutError:
            raise sqlite3.OperationalError(
                f"database is locked: no write turn within {WRITE_LOCK_TIMEOUT:.0f} s"
            ) from None
        return lock


def _install_write_lock(engine: AsyncEngine, write_lock: WriteLock) -> None:
    def before_cursor_execute(conn, _cursor, statement, _parameters, context, _many) -> None:
        info = conn.info
        if _HOLDS in info or not in_greenlet():
            return
        writes = context is not None and (
            context.isinsert or context.isupdate or context.isdelete or context.isddl
        )
        if writes or _WRITING.match(statement):
            info[_HOLDS] = await_only(write_lock.acquire())

    def checkin(_dbapi_connection, record) -> None:
        lock = record.info.pop(_HOLDS, None) if record is not None else None
        if lock is not None and lock.locked():
            lock.release()

    def invalidate(_dbapi_connection, record, _exception) -> None:
        checkin(_dbapi_connection, record)

    event.listen(engine.sync_engine, "before_cursor_execute", before_cursor_execute)
    event.listen(engine.sync_engine.pool, "checkin", checkin)
    event.listen(engine.sync_engine.pool, "invalidate", invalidate)


async def holds_write_lock(session: AsyncSession) -> bool:
    """Whether the session's transaction has written on SQLite (and so holds the write lock:
    another session of the same task would wait for it)."""
    if session.bind is None or session.bind.dialect.name != "sqlite" or not session.in_transaction():
        return False
    connection = await session.connection()
    return _HOLDS in connection.sync_connection.info


# Connections enough for every concurrent update, the intake, the monitor and a report.
POOL_SIZE = 24
POOL_OVERFLOW = 16


def make_engine(url: str, write_lock: WriteLock | None = None) -> AsyncEngine:
    # hide_parameters: SQL values (names, review text) never reach a log, even with echo on.
    options: dict = {"hide_parameters": True}
    if not (url.startswith("sqlite") and ":memory:" in url):
        options.update(pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW)
    engine = create_async_engine(url, pool_pre_ping=not url.startswith("sqlite"), **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        _install_write_lock(engine, write_lock or WriteLock())
    return engine


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def _upgrade(connection: Connection) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "heads")  # parallel branches need no merge step


class Database:
    """One engine for the process; one session (and transaction) per unit of work."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.write_lock = WriteLock()
        self.engine = make_engine(url, self.write_lock)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    async def migrate(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(_upgrade)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session whose transaction commits on success and rolls back on error. Work may
        commit early (`session.commit()`) and go on in a new transaction."""
        async with self.sessionmaker() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            await session.commit()

    async def dispose(self) -> None:
        await self.engine.dispose()
