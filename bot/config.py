"""Typed settings read from the environment (and an optional `.env` file)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import load_dotenv

# A BotFather token: the bot's numeric id, a colon, then 35 URL-safe characters.
TOKEN_PATTERN = re.compile(r"^\d{5,}:[A-Za-z0-9_-]{30,}$")
SUPPORTED_LOCALES = ("vi", "en")


class SettingsError(ValueError):
    """A setting is missing or malformed; the message says which and how to fix it."""


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


def load_settings(*, require_token: bool = True, env_file: str | Path | None = ".env") -> Settings:
    """Read settings; raise SettingsError with a user-readable message when one is wrong."""
    if env_file and Path(env_file).is_file():
        load_dotenv(env_file, override=False)
    token = os.environ.get("BOT_TOKEN", "").strip()
    if require_token and not TOKEN_PATTERN.match(token):
        raise SettingsError("token")
    tz_name = _env("BOT_TIMEZONE", "Asia/Ho_Chi_Minh")
    try:
        ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SettingsError(f"BOT_TIMEZONE={tz_name!r} is not a known time zone") from exc
    locale = _env("BOT_DEFAULT_LOCALE", "vi")
    if locale not in SUPPORTED_LOCALES:
        raise SettingsError(f"BOT_DEFAULT_LOCALE must be one of {', '.join(SUPPORTED_LOCALES)}")
    ttl = _env("INVITE_TTL_DAYS", "14")
    if not ttl.isascii() or not ttl.isdigit() or int(ttl) < 1:
        raise SettingsError("INVITE_TTL_DAYS must be a whole number of days, at least 1")
    window = _env("BOT_ANSWER_WINDOW_SECONDS", "12")
    try:
        answer_window = float(window)
    except ValueError:
        answer_window = -1.0
    if not 0 < answer_window <= 15:
        raise SettingsError("BOT_ANSWER_WINDOW_SECONDS must be a number of seconds, above 0, at most 15")
    concurrency = _env("BOT_CONCURRENT_UPDATES", "16")
    if not concurrency.isascii() or not concurrency.isdigit() or not 1 <= int(concurrency) <= 256:
        raise SettingsError("BOT_CONCURRENT_UPDATES must be a whole number from 1 to 256")
    max_rows = _env("REPORT_MAX_ROWS", "1048576")
    if not max_rows.isascii() or not max_rows.isdigit() or not 5 <= int(max_rows) <= 1_048_576:
        raise SettingsError("REPORT_MAX_ROWS must be a whole number from 5 to 1048576")
    max_bytes = _env("REPORT_MAX_BYTES", "50000000")
    if not max_bytes.isascii() or not max_bytes.isdigit() or not 100_000 <= int(max_bytes):
        raise SettingsError("REPORT_MAX_BYTES must be a whole number of bytes, at least 100000")
    return Settings(
        bot_token=token,
        telegram_api_url=_env("TELEGRAM_API_URL", "https://api.telegram.org"),
        database_url=_env("DATABASE_URL", "sqlite+aiosqlite:///kiemdiem.db"),
        timezone=tz_name,
        default_locale=locale,
        invite_ttl_days=int(ttl),
        answer_window_seconds=answer_window,
        concurrent_updates=int(concurrency),
        report_max_rows=int(max_rows),
        report_max_bytes=int(max_bytes),
    )
