"""Typed settings read from the environment (and an optional `.env` file).

A setting that is missing or malformed raises SettingsError with a msgid of the catalogs, so
the command line tells it in its language (BOT_DEFAULT_LOCALE, see `default_locale`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import load_dotenv

from bot.i18n import N_

# A BotFather token: the bot's numeric id, a colon, then 35 URL-safe characters.
TOKEN_PATTERN = re.compile(r"^\d{5,}:[A-Za-z0-9_-]{30,}$")
SUPPORTED_LOCALES = ("vi", "en")
# The async drivers the bot is built with (pyproject.toml): SQLite and PostgreSQL.
DATABASE_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")

TOKEN_HELP = N_(
    "BOT_TOKEN is missing or malformed.\n"
    "Get a token from @BotFather in Telegram (send /newbot, or /token for an existing bot),\n"
    "then set it in the environment or in a .env file:  BOT_TOKEN=123456789:AA...\n"
)
E_API_URL = N_(
    "TELEGRAM_API_URL must be an http:// or https:// address, such as https://api.telegram.org."
)
E_DATABASE_URL = N_(
    "DATABASE_URL is not a database address. Write sqlite+aiosqlite:///kiemdiem.db for SQLite, "
    "or postgresql+asyncpg://user:pass@host/db for PostgreSQL."
)
E_DATABASE_DRIVER = N_(
    "DATABASE_URL starts with {scheme}://, a database or driver the bot does not use. Write "
    "sqlite+aiosqlite:///kiemdiem.db for SQLite, or postgresql+asyncpg://user:pass@host/db for "
    "PostgreSQL."
)
E_TIMEZONE = N_("BOT_TIMEZONE={value} is not a known time zone; write one such as Asia/Ho_Chi_Minh.")
E_LOCALE = N_("BOT_DEFAULT_LOCALE={value} is not a language the bot speaks; write {choices}.")
E_INVITE_TTL = N_("INVITE_TTL_DAYS must be a whole number of days, at least 1.")
E_ANSWER_WINDOW = N_(
    "BOT_ANSWER_WINDOW_SECONDS must be a number of seconds above 0 and at most 15."
)
E_CONCURRENCY = N_("BOT_CONCURRENT_UPDATES must be a whole number from 1 to 256.")


class SettingsError(ValueError):
    """A setting is missing or malformed: `msgid` and `params` say which and how to fix it (in
    English as the exception's text; through the catalogs for the user)."""

    def __init__(self, msgid: str, **params: object) -> None:
        super().__init__(msgid.format(**params) if params else msgid)
        self.msgid, self.params = msgid, params


@dataclass(frozen=True)
class Settings:
    bot_token: str
    telegram_api_url: str = "https://api.telegram.org"
    database_url: str = "sqlite+aiosqlite:///kiemdiem.db"
    timezone: str = "Asia/Ho_Chi_Minh"
    default_locale: str = "vi"
    invite_ttl_days: int = 14
    # Seconds after its arrival a button press is still answered as a toast or alert; later
    # the answer goes out as a message (Telegram drops a callback query after about 15 s).
    answer_window_seconds: float = 12.0
    # Updates of different chats handled side by side (one chat's always in order); SQLite
    # keeps one writer at a time (storage/db.py), so this is safe on both databases.
    concurrent_updates: int = 16

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def api_base_url(self) -> str:
        return f"{self.telegram_api_url.rstrip('/')}/bot"

    @property
    def api_base_file_url(self) -> str:
        return f"{self.telegram_api_url.rstrip('/')}/file/bot"


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def default_locale() -> str:
    """BOT_DEFAULT_LOCALE when the bot speaks it, else Vietnamese: the command line's language,
    also when another setting is wrong (read after `load_settings` has read the .env file)."""
    locale = _env("BOT_DEFAULT_LOCALE", "vi")
    return locale if locale in SUPPORTED_LOCALES else "vi"


def _whole(text: str, low: int, high: int | None = None) -> bool:
    """Whether `text` is a whole number (ASCII digits) from `low` up to `high`, if given."""
    if not (text.isascii() and text.isdigit()):
        return False
    return int(text) >= low and (high is None or int(text) <= high)


def _check_database_url(url: str) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        driver = make_url(url).drivername
    except (ArgumentError, ValueError):  # unparsable, or a port that is not a number
        raise SettingsError(E_DATABASE_URL) from None
    if driver not in DATABASE_DRIVERS:  # only the scheme is told: the URL may hold a password
        raise SettingsError(E_DATABASE_DRIVER, scheme=driver)


def load_settings(*, require_token: bool = True, env_file: str | Path | None = ".env") -> Settings:
    """Read settings; raise SettingsError with a user-readable message when one is wrong."""
    if env_file and Path(env_file).is_file():
        load_dotenv(env_file, override=False)
    token = os.environ.get("BOT_TOKEN", "").strip()
    if require_token and not TOKEN_PATTERN.match(token):
        raise SettingsError(TOKEN_HELP)
    api_url = _env("TELEGRAM_API_URL", "https://api.telegram.org")
    parts = urlsplit(api_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(E_API_URL)
    database_url = _env("DATABASE_URL", "sqlite+aiosqlite:///kiemdiem.db")
    _check_database_url(database_url)
    tz_name = _env("BOT_TIMEZONE", "Asia/Ho_Chi_Minh")
    try:
        ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(E_TIMEZONE, value=tz_name) from None
    locale = _env("BOT_DEFAULT_LOCALE", "vi")
    if locale not in SUPPORTED_LOCALES:
        raise SettingsError(E_LOCALE, value=locale, choices=" / ".join(SUPPORTED_LOCALES))
    ttl = _env("INVITE_TTL_DAYS", "14")
    if not _whole(ttl, 1):
        raise SettingsError(E_INVITE_TTL)
    window = _env("BOT_ANSWER_WINDOW_SECONDS", "12")
    try:
        answer_window = float(window)
    except ValueError:
        answer_window = -1.0
    if not 0 < answer_window <= 15:
        raise SettingsError(E_ANSWER_WINDOW)
    concurrency = _env("BOT_CONCURRENT_UPDATES", "16")
    if not _whole(concurrency, 1, 256):
        raise SettingsError(E_CONCURRENCY)
    return Settings(
        bot_token=token,
        telegram_api_url=api_url,
        database_url=database_url,
        timezone=tz_name,
        default_locale=locale,
        invite_ttl_days=int(ttl),
        answer_window_seconds=answer_window,
        concurrent_updates=int(concurrency),
    )
