"""Engine, sessions and migrations."""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import time
import weakref
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Callable
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import Session
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
# A SAVEPOINT (``session.begin_nested()``, to catch a lost insert race) starts a transaction
# that will write: the lock is taken at the SAVEPOINT (and the transaction opened IMMEDIATE,
# see ``_install_write_lock``).
_WRITING = re.compile(
    r"^\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER|SAVEPOINT)\b", re.IGNORECASE
)
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
    def before_cursor_execute(conn, cursor, statement, _parameters, context, _many) -> None:
        if not in_greenlet():
            return
        info = conn.info
        if _HOLDS not in info:
            writes = context is not None and (
                context.isinsert or context.isupdate or context.isdelete or context.isddl
            )
            if writes or _WRITING.match(statement):
                info[_HOLDS] = await_only(write_lock.acquire())
        if statement.startswith("SAVEPOINT") and not conn.connection.driver_connection.in_transaction:
            # The transaction a SAVEPOINT would open is deferred: what the session reads in it
            # (the figures' hook reads paths before it bumps versions) is a snapshot that its
            # first write must upgrade, and SQLite refuses that at once ("database is locked")
            # when another process (a report's worker) committed meanwhile. Opened IMMEDIATE
            # it holds the write lock from the start, and the SAVEPOINT nests in it.
            cursor.execute("BEGIN IMMEDIATE")

    def checkin(_dbapi_connection, record) -> None:
        lock = record.info.pop(_HOLDS, None) if record is not None else None
        if lock is not None and lock.locked():
            lock.release()

    def invalidate(_dbapi_connection, record, _exception) -> None:
        checkin(_dbapi_connection, record)

    event.listen(engine.sync_engine, "before_cursor_execute", before_cursor_execute)
    event.listen(engine.sync_engine.pool, "checkin", checkin)
    event.listen(engine.sync_engine.pool, "invalidate", invalidate)


# --- whether a transaction wrote ---------------------------------------------------------
#
# A turn that changed nothing needs no outbox row for its answer (handlers/base.py): the
# session notes each write it makes (a flush, or an INSERT, UPDATE or DELETE it executes)
# until its transaction ends.
_WROTE = "kiemdiem_wrote"


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, _context) -> None:
    session.info[_WROTE] = True


@event.listens_for(Session, "do_orm_execute")
def _executed(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[_WROTE] = True


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _ended(session: Session) -> None:
    session.info.pop(_WROTE, None)


def writes(session: Session) -> bool:
    """Whether the session's transaction wrote, or will write when it commits (changes not
    flushed yet)."""
    return bool(
        session.info.get(_WROTE)
        or session.new
        or session.deleted
        or any(session.is_modified(o) for o in session.dirty)
    )


_BEFORE_COMMIT = "kiemdiem_before_commit"  # session.info: what to do as it commits


def before_commit(session: AsyncSession, action: Callable[[Session], None]) -> None:
    """Have `action` called with the (sync) session each time its transaction commits, before
    the commit: what it adds is committed with the rest."""
    session.info[_BEFORE_COMMIT] = action


@event.listens_for(Session, "before_commit")
def _run_before_commit(session: Session) -> None:
    action = session.info.get(_BEFORE_COMMIT)
    if action is not None:
        action(session)


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
    if url.startswith("sqlite"):
        options.update(pool_reset_on_return=None)  # _sqlite_reset does it, when needed
    engine = create_async_engine(url, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine.pool, "reset", _sqlite_reset)
        _install_write_lock(engine, write_lock or WriteLock())
    else:
        event.listen(engine.sync_engine.pool, "checkin", _returned)
        event.listen(engine.sync_engine.pool, "checkout", _ping_if_idle)
    return engine


# A server connection that sat in the pool may have been closed meanwhile (a restart of the
# server, a proxy's timeout): it is pinged before use, as SQLAlchemy's pool_pre_ping does, but
# only after PING_IDLE seconds unused. A ping costs three round trips on asyncpg (BEGIN, ";",
# ROLLBACK) and an update takes a connection three times, so pinging every checkout tripled
# what a busy bot sends the server. A failed ping discards the connection and the pool takes
# another ("pessimistic disconnect handling", SQLAlchemy's pooling documentation).
PING_IDLE = 10.0


def _returned(_dbapi_connection, record) -> None:
    if record is not None:
        record.info["returned_at"] = time.monotonic()


def _ping_if_idle(dbapi_connection, record, _proxy) -> None:
    returned = record.info.get("returned_at")
    if returned is None or time.monotonic() - returned < PING_IDLE:
        return  # new, or used a moment ago
    try:
        dbapi_connection.ping()
    except Exception as error:
        raise DisconnectionError("the pooled connection did not answer") from error


def _sqlite_reset(dbapi_connection, record, state) -> None:
    """A connection back in the pool is rolled back only if a transaction is still open (an
    error, a reader that never committed): on aiosqlite a rollback is a trip to the
    connection's own thread, and most connections come back committed."""
    if state.terminate_only or not state.asyncio_safe or state.transaction_was_reset:
        return
    if getattr(record.driver_connection, "in_transaction", True):
        dbapi_connection.rollback()


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
    async def autocommit(self) -> AsyncIterator[AsyncConnection]:
        """A connection for one statement that commits by itself, without an ORM session: on
        PostgreSQL in autocommit (no BEGIN and COMMIT round trips), on SQLite in a transaction
        of its own (switching the driver's autocommit costs more than the COMMIT)."""
        if self.engine.dialect.name == "sqlite":
            async with self.engine.begin() as connection:
                yield connection
            return
        async with self.engine.connect() as connection:
            yield await connection.execution_options(isolation_level="AUTOCOMMIT")

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
        await settled(self.engine)
        await self.engine.dispose()


# --- writes nobody waits for ---------------------------------------------------------------
#
# What a reader keeps for the next one (bot/services/aggregates.py: the figures it counted) is
# written in the background, in a transaction of its own: the reader's answer does not wait for
# it, and a write that fails only leaves the next reader to count again. The database waits
# for them before it closes.
_BACKGROUND: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
log = logging.getLogger(__name__)


def write_later(engine: AsyncEngine, write: Callable[[], Awaitable[None]], what: str) -> None:
    """Run `write()` in the background of the running event loop."""

    async def run() -> None:
        try:
            await write()
        except Exception:
            log.warning("could not keep %s; it is counted again when read", what, exc_info=True)

    task = asyncio.get_running_loop().create_task(run(), name=f"keep {what}")
    tasks = _BACKGROUND.setdefault(engine.sync_engine, set())
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def settled(engine: AsyncEngine) -> None:
    """Wait for the background writes of `engine` (of this event loop) to end."""
    loop = asyncio.get_running_loop()
    while True:
        pending = [t for t in _BACKGROUND.get(engine.sync_engine, ()) if t.get_loop() is loop]
        if not pending:
            return
        await asyncio.gather(*pending, return_exceptions=True)
