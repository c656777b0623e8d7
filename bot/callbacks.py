"""Validated parsing of what users send: callback data fields and typed numbers.

Telegram delivers whatever a client puts in `callback_data`, so a button's fields are read
as untrusted input: ASCII digits only (`str.isdigit()` also accepts "²" and "٣", which
`int()` then rejects or reads), a length cap (an id longer than a database integer
overflows SQLite), and dates that must exist. A bad field raises `InvalidButton`, a
`Refusal` the turn wrapper answers with "This button is no longer valid."
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection

from bot.i18n import N_
from handlers.base import Refusal

INVALID_BUTTON = N_("This button is no longer valid.")
# Ids are database integers: 12 digits are far above any row id and far below 2**63.
ID_DIGITS = 12
# Row ids are 32-bit on PostgreSQL (INTEGER): a larger number names no row, and asyncpg
# refuses to send it.
ID_MAX = 2**31 - 1
_ASCII_DIGITS = re.compile(r"[0-9]+")


class InvalidButton(Refusal):
    """A button whose data this bot did not make (forged, stale or from an older version)."""

    def __init__(self) -> None:
        super().__init__(INVALID_BUTTON)


def ascii_int(text: str, *, max_digits: int = ID_DIGITS) -> int | None:
    """The integer written in ASCII digits (surrounding spaces allowed), or None."""
    value = text.strip()
    if not 0 < len(value) <= max_digits or not _ASCII_DIGITS.fullmatch(value):
        return None
    return int(value)


def typed_int(text: str, low: int, high: int) -> int | None:
    """A number the user typed, within [low, high], or None (words, other digits, too big)."""
    value = ascii_int(text, max_digits=len(str(high)) + 2)  # leading zeros allowed, a few
    if value is None or not low <= value <= high:
        return None
    return value


def parse_int(field: str, *, max_digits: int = ID_DIGITS, low: int = 0, high: int | None = None) -> int:
    """A numeric callback field, or InvalidButton."""
    value = ascii_int(field, max_digits=max_digits)
    high = ID_MAX if high is None else high
    if value is None or value < low or value > high or field != field.strip():
        raise InvalidButton()
    return value


def parse_date(field: str, fmt: str = "%Y%m%d") -> dt.date:
    """A date callback field in `fmt` (ASCII digits only), or InvalidButton."""
    return parse_datetime(field, fmt).date()


def parse_datetime(field: str, fmt: str) -> dt.datetime:
    """A naive datetime callback field in `fmt` (ASCII digits only), or InvalidButton."""
    if not field.isascii() or len(field) > 20:
        raise InvalidButton()
    try:
        value = dt.datetime.strptime(field, fmt)
    except ValueError:
        raise InvalidButton() from None
    if value.strftime(fmt) != field:  # strptime also takes "2026120" for 2026-01-20
        raise InvalidButton()
    return value


def parse_choice(field: str, allowed: Collection[str]) -> str:
    """A field that must be one of `allowed`, or InvalidButton."""
    if field not in allowed:
        raise InvalidButton()
    return field


def split_fields(data: str, prefix: str, count: int) -> list[str]:
    """The `count` colon-separated fields after `prefix`, or InvalidButton."""
    if not data.startswith(prefix):
        raise InvalidButton()
    parts = data[len(prefix) :].split(":")
    if len(parts) != count:
        raise InvalidButton()
    return parts
