import os

# Tests never read a developer's .env or talk to the real Telegram.
os.environ.pop("BOT_TOKEN", None)
os.environ.pop("DATABASE_URL", None)
# Opt in to PTB 22's timedelta retry_after now rather than at its next major version.
os.environ["PTB_TIMEDELTA"] = "1"

pytest_plugins = ["tests.fakebot.plugin"]
