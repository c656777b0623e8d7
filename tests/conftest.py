import os

# Tests never read a developer's .env or talk to the real Telegram.
os.environ.pop("BOT_TOKEN", None)
os.environ.pop("DATABASE_URL", None)

pytest_plugins = ["tests.fakebot.plugin"]
