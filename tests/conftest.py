import asyncio
import atexit
import os
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable
from collections.abc import Coroutine
from collections.abc import Iterator
from typing import Any

import pytest

# Tests never read a developer's .env or talk to the real Telegram.
os.environ.pop("BOT_TOKEN", None)
os.environ.pop("DATABASE_URL", None)
# Opt in to PTB 22's timedelta retry_after now rather than at its next major version.
os.environ["PTB_TIMEDELTA"] = "1"

pytest_plugins = ["tests.fakebot.plugin"]

# The database the suite runs on: "sqlite" (default, a file per test) or "postgresql" (a fresh
# database per test on the server KIEMDIEM_PG_ADMIN_URL points to; scripts/test.sh starts one).
TEST_DB = os.environ.get("KIEMDIEM_TEST_DB", "sqlite").strip().lower() or "sqlite"
PG_ADMIN_URL = os.environ.get("KIEMDIEM_PG_ADMIN_URL", "").strip()
if TEST_DB not in ("sqlite", "postgresql"):
    raise RuntimeError(f"KIEMDIEM_TEST_DB must be sqlite or postgresql, not {TEST_DB!r}")
if TEST_DB == "postgresql" and not PG_ADMIN_URL:
    raise RuntimeError("KIEMDIEM_TEST_DB=postgresql needs KIEMDIEM_PG_ADMIN_URL "
                       "(postgresql://USER@HOST:PORT/postgres); scripts/test.sh sets both")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite_only(reason): the test checks a property of SQLite itself; "
        "skipped when the suite runs on PostgreSQL")


def pytest_report_header(config: pytest.Config) -> str:
    return f"kiemdiem test database: {TEST_DB}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if TEST_DB == "sqlite":
        return
    for item in items:
        marker = item.get_closest_marker("sqlite_only")
        if marker is not None:
            reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")
            item.add_marker(pytest.mark.skip(reason=f"SQLite only: {reason}"))


def _run_admin(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run an admin coroutine on its own loop in a thread, whatever loop the test has."""
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the test's thread
            result["error"] = exc

    thread = threading.Thread(target=target, name="pg-admin")
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result.get("value")


async def _admin(admin_url: str, *statements: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url, timeout=30)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def _with_database(admin_url: str, name: str, *, driver: str) -> str:
    """The admin URL pointed at database NAME, as an SQLAlchemy URL with DRIVER."""
    from sqlalchemy.engine import make_url

    url = make_url(admin_url).set(drivername=driver, database=name)
    return url.render_as_string(hide_password=False)


@pytest.fixture
def pg_admin_url() -> str:
    """A superuser URL (postgresql://...) of the test PostgreSQL server; skips without one."""
    if not PG_ADMIN_URL:
        pytest.skip("no PostgreSQL server (run scripts/test.sh, or set KIEMDIEM_PG_ADMIN_URL)")
    return PG_ADMIN_URL


# pageinspect lets tests look at what the heap pages still hold (secret-ballot checks). It is
# created once in template1, so every test database has it from its CREATE DATABASE on.
_PAGEINSPECT = """DO $$ BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pageinspect') THEN
        CREATE EXTENSION IF NOT EXISTS pageinspect;
    END IF;
END $$"""
_templates_ready: set[str] = set()


def new_postgresql_database(admin_url: str) -> tuple[str, str]:
    """Create an empty database; returns (its name, its postgresql+asyncpg URL)."""
    if admin_url not in _templates_ready:
        _run_admin(_admin(_with_database(admin_url, "template1", driver="postgresql"), _PAGEINSPECT))
        _templates_ready.add(admin_url)
    name = f"test_{secrets.token_hex(6)}"
    _run_admin(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    return name, _with_database(admin_url, name, driver="postgresql+asyncpg")


def drop_postgresql_database(admin_url: str, name: str) -> None:
    # FORCE ends connections an engine left in its pool.
    _run_admin(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def pg_database(pg_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database (postgresql+asyncpg URL), dropped after the test."""
    name, url = new_postgresql_database(pg_admin_url)
    try:
        yield url
    finally:
        drop_postgresql_database(pg_admin_url, name)


@pytest.fixture
def new_database_url(tmp_path) -> Iterator[Callable[[str], str]]:
    """A factory of fresh, empty databases on the suite's backend (KIEMDIEM_TEST_DB): call it
    with a short name for each database a test needs; PostgreSQL ones are dropped after."""
    created: list[str] = []

    def make(name: str = "kiemdiem") -> str:
        if TEST_DB == "postgresql":
            db_name, url = new_postgresql_database(PG_ADMIN_URL)
            created.append(db_name)
            return url
        return f"sqlite+aiosqlite:///{tmp_path}/{name}.db"

    try:
        yield make
    finally:
        for db_name in created:
            drop_postgresql_database(PG_ADMIN_URL, db_name)


@pytest.fixture
def database_url(new_database_url: Callable[[str], str]) -> str:
    """A fresh, empty database for this test on the suite's backend (KIEMDIEM_TEST_DB)."""
    return new_database_url("kiemdiem")


# --- a migrated template, copied for every test that runs the bot ------------------------------
# Migrating a fresh database takes a few hundred milliseconds (dozens of DDL statements through
# Alembic); the bot does it at every start. `migrated(url)` instead makes a fresh, still empty
# database a copy of one migrated once per session: a file copy on SQLite, CREATE DATABASE ...
# TEMPLATE on PostgreSQL. The bot's own migrate() then finds the schema at head. The `bot`
# fixture does this; `database_url` itself stays empty (tests of migrating from nothing use it).
_templates: dict[str, str] = {}  # backend -> template (SQLite file path / PostgreSQL database)
_template_lock = threading.Lock()


async def _migrate(url: str) -> None:
    from storage.db import Database

    db = Database(url)
    try:
        await db.migrate()
    finally:
        await db.dispose()


def _sqlite_template() -> str:
    with _template_lock:
        if "sqlite" not in _templates:
            directory = tempfile.mkdtemp(prefix="kiemdiem-template-")
            atexit.register(shutil.rmtree, directory, True)
            path = os.path.join(directory, "template.db")
            _run_admin(_migrate(f"sqlite+aiosqlite:///{path}"))
            # The engine is disposed: SQLite has folded the WAL into the file and removed it.
            leftovers = [f for f in (path + "-wal", path + "-shm") if os.path.exists(f)]
            if leftovers:
                raise RuntimeError(f"the SQLite template left {leftovers} behind")
            _templates["sqlite"] = path
        return _templates["sqlite"]


def _postgresql_template(admin_url: str) -> str:
    with _template_lock:
        if admin_url not in _templates:
            name, url = new_postgresql_database(admin_url)
            atexit.register(drop_postgresql_database, admin_url, name)
            _run_admin(_migrate(url))
            _templates[admin_url] = name
        return _templates[admin_url]


async def _count_relations(url: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=30)
    try:
        return await conn.fetchval(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public'")
    finally:
        await conn.close()


async def _recreate_from(admin_url: str, name: str, template: str) -> bool:
    import asyncpg

    conn = await asyncpg.connect(admin_url, timeout=30)
    try:
        try:
            await conn.execute(f'DROP DATABASE "{name}"')  # refused if anyone is connected
        except asyncpg.PostgresError:
            return False
        try:
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            return True
        except asyncpg.PostgresError:
            await conn.execute(f'CREATE DATABASE "{name}"')  # empty again, as it was
            return False
    finally:
        await conn.close()


def migrated(url: str) -> bool:
    """Make the fresh, empty test database at `url` a copy of the session's migrated template
    (built at the first call). Returns False, changing nothing, when the database is not
    empty any more (or is not one of the suite's), so that the bot migrates it itself."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database
        if not path or path == ":memory:" or os.path.exists(path):
            return False
        template = _sqlite_template()
        shutil.copyfile(template, path)
        return True
    if parsed.get_backend_name() == "postgresql" and PG_ADMIN_URL:
        name = parsed.database
        if not name or not name.startswith("test_"):
            return False
        template = _postgresql_template(PG_ADMIN_URL)
        plain = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        if _run_admin(_count_relations(plain)):
            return False
        return bool(_run_admin(_recreate_from(PG_ADMIN_URL, name, template)))
    return False
