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
from zoneinfo import ZoneInfo
from zoneinfo import ZoneInfoNotFoundError

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
    # What one file of /bao_cao may hold (bot/services/report.py): rows a sheet (Excel's limit)
    # and bytes (Telegram's upload limit for bots); a larger report comes as several files.
    report_max_rows: int = 1_048_576
    report_max_bytes: int = 50_000_000

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


def _whole(name: str, default: str, low: int, high: int, msgid: str) -> int:
    """A setting that is a whole number (ASCII digits) from `low` to `high`."""
    text = _env(name, default)
    if not (text.isascii() and text.isdigit() and low <= int(text) <= high):
        raise SettingsError(msgid)
    return int(text)


def _api_url() -> str:
    url = _env("TELEGRAM_API_URL", "https://api.telegram.org")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(N_(
            "TELEGRAM_API_URL must be an http:// or https:// address, such as "
            "https://api.telegram.org."
        ))
    return url


def _database_url() -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    url = _env("DATABASE_URL", "sqlite+aiosqlite:///kiemdiem.db")
    try:
        driver = make_url(url).drivername
    except (ArgumentError, ValueError):  # unparsable, or a port that is not a number
        raise SettingsError(N_(
            "DATABASE_URL is not a database address. Write sqlite+aiosqlite:///kiemdiem.db for "
            "SQLite, or postgresql+asyncpg://user:pass@host/db for PostgreSQL."
        )) from None
    if driver not in DATABASE_DRIVERS:  # only the scheme is told: the URL may hold a password
        raise SettingsError(N_(
            "DATABASE_URL starts with {scheme}://, a database or driver the bot does not use. "
            "Write sqlite+aiosqlite:///kiemdiem.db for SQLite, or "
            "postgresql+asyncpg://user:pass@host/db for PostgreSQL."
        ), scheme=driver)
    return url


def _timezone() -> str:
    name = _env("BOT_TIMEZONE", "Asia/Ho_Chi_Minh")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(N_(
            "BOT_TIMEZONE={value} is not a known time zone; write one such as Asia/Ho_Chi_Minh."
        ), value=name) from None
    return name


def _locale() -> str:
    locale = _env("BOT_DEFAULT_LOCALE", "vi")
    if locale not in SUPPORTED_LOCALES:
        raise SettingsError(
            N_("BOT_DEFAULT_LOCALE={value} is not a language the bot speaks; write {choices}."),
            value=locale, choices=" / ".join(SUPPORTED_LOCALES),
        )
    return locale


def _answer_window() -> float:
    try:
        seconds = float(_env("BOT_ANSWER_WINDOW_SECONDS", "12"))
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 15:
        raise SettingsError(N_(
            "BOT_ANSWER_WINDOW_SECONDS must be a number of seconds above 0 and at most 15."
        ))
    return seconds


def load_settings(*, require_token: bool = True, env_file: str | Path | None = ".env") -> Settings:
    """Read settings; raise SettingsError with a user-readable message when one is wrong."""
    if env_file and Path(env_file).is_file():
        load_dotenv(env_file, override=False)
    token = os.environ.get("BOT_TOKEN", "").strip()
    if require_token and not TOKEN_PATTERN.match(token):
        raise SettingsError(TOKEN_HELP)
    return Settings(
        bot_token=token,
        telegram_api_url=_api_url(),
        database_url=_database_url(),
        timezone=_timezone(),
        default_locale=_locale(),
        invite_ttl_days=_whole(
            "INVITE_TTL_DAYS", "14", 1, 3650,  # ten years: far beyond, dates overflow
            N_("INVITE_TTL_DAYS must be a whole number of days from 1 to 3650."),
        ),
        answer_window_seconds=_answer_window(),
        concurrent_updates=_whole(
            "BOT_CONCURRENT_UPDATES", "16", 1, 256,
            N_("BOT_CONCURRENT_UPDATES must be a whole number from 1 to 256."),
        ),
        report_max_rows=_whole(
            "REPORT_MAX_ROWS", "1048576", 5, 1_048_576,
            N_("REPORT_MAX_ROWS must be a whole number from 5 to 1048576."),
        ),
        report_max_bytes=_whole(
            "REPORT_MAX_BYTES", "50000000", 100_000, 2_000_000_000,
            N_("REPORT_MAX_BYTES must be a whole number of bytes from 100000 to 2000000000."),
        ),
    )
