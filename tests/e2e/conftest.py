import pytest

from tests.conftest import migrated
from tests.e2e.harness import BotRunner
from tests.e2e.harness import Clock
from tests.e2e.harness import start_fork_server


@pytest.fixture(autouse=True, scope="session")
def _fork_server():
    """The fork server of the end-to-end tests' child processes starts with the first of them
    and imports the application while they run (tests/e2e/cli_zygote.py)."""
    start_fork_server()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def cli_env(fake_telegram, database_url):
    """What a CLI child process needs to reach the same database and the fake Telegram."""
    return {
        "BOT_TOKEN": fake_telegram.token,
        "TELEGRAM_API_URL": fake_telegram.url,
        "DATABASE_URL": database_url,
        "BOT_DEFAULT_LOCALE": "vi",
    }


@pytest.fixture
async def bot(fake_telegram, database_url, clock):
    # A copy of the session's migrated template: the bot's migrate() then finds the schema
    # at head (it would build the same schema on the empty database, only slower).
    migrated(database_url)
    runner = BotRunner(fake_telegram, database_url, clock)
    await runner.start()
    yield runner
    await runner.stop()
