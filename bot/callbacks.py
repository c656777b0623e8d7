"""Validated parsing of what users send: callback data (one typed codec) and typed numbers.

Telegram delivers whatever a client puts in `callback_data`, so a button's fields are read
as untrusted input: ASCII digits only (`str.isdigit()` also accepts "²" and "٣", which
`int()` then rejects or reads), a length cap (an id longer than a database integer
overflows SQLite), and dates that must exist. A bad field raises `InvalidButton`, a
`Refusal` the turn wrapper answers with "This button is no longer valid."
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import re
import types
import typing
from collections.abc import Collection
from typing import Any
from typing import ClassVar
from typing import Literal
from typing import Self

from telegram import InlineKeyboardButton

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


# --- the one codec for callback data -------------------------------------------------------

CALLBACK_LIMIT = 64  # bytes Telegram keeps of a button's callback_data
_PREFIX = re.compile(r"[a-z]+")
_WORD = re.compile(r"[A-Za-z0-9_.-]*")
_PREFIXES: dict[str, type[ButtonData]] = {}


@typing.dataclass_transform(frozen_default=True)
@dataclasses.dataclass(frozen=True)
class ButtonData:
    """A button's data as a typed, versioned record: `PREFIX` + `VERSION`, then the fields in
    declaration order, colon-separated, at most 64 bytes. Field types: int (a row id, or a
    small number), bool, str (a plain word), dt.date, a Literal of words, a StrEnum, and any of
    these or None. Decoding validates every field: forged, stale or older-version data raises
    InvalidButton, which the turn answers with "This button is no longer valid."

    A button is declared by its prefix and its fields; the class is made a frozen dataclass
    here, so every button is declared the same way:

        class ReviewButton(ButtonData, prefix="kd"):
            action: Literal["done", "back"]
            review_id: int
    """

    PREFIX: ClassVar[str]
    VERSION: ClassVar[int] = 1

    def __init_subclass__(cls, prefix: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if prefix is None:
            return
        if not _PREFIX.fullmatch(prefix):
            raise ValueError(f"button prefix {prefix!r}: lowercase letters only")
        if prefix in _PREFIXES and _PREFIXES[prefix].__qualname__ != cls.__qualname__:
            raise ValueError(f"button prefix {prefix!r} is taken by {_PREFIXES[prefix]}")
        cls.PREFIX = prefix
        _PREFIXES[prefix] = cls
        dataclasses.dataclass(frozen=True)(cls)

    @classmethod
    def pattern(cls) -> str:
        """The CallbackQueryHandler pattern: this prefix in any version (an older one is then
        refused by `decode` with the usual answer)."""
        return rf"^{cls.PREFIX}[0-9]+:"

    def button(self, label: str) -> InlineKeyboardButton:
        """An inline button that sends this data."""
        return InlineKeyboardButton(label, callback_data=self.encode())

    def encode(self) -> str:
        hints = typing.get_type_hints(type(self))
        parts = [
            _encode_field(hints[f.name], getattr(self, f.name)) for f in dataclasses.fields(self)
        ]
        data = ":".join([f"{self.PREFIX}{self.VERSION}", *parts])
        if len(data.encode()) > CALLBACK_LIMIT:
            raise ValueError(f"callback data over {CALLBACK_LIMIT} bytes: {data!r}")
        return data

    @classmethod
    def decode(cls, data: str | None) -> Self:
        if data is None:
            raise InvalidButton()
        head, *parts = data.split(":")
        fields = dataclasses.fields(cls)
        if head != f"{cls.PREFIX}{cls.VERSION}" or len(parts) != len(fields):
            raise InvalidButton()
        hints = typing.get_type_hints(cls)
        return cls(*(_decode_field(hints[f.name], part) for f, part in zip(fields, parts, strict=True)))


def _optional(hint: Any) -> tuple[Any, bool]:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return hint, False


def _encode_field(hint: Any, value: Any) -> str:
    hint, optional = _optional(hint)
    if value is None:
        if not optional:
            raise ValueError("None in a field that is not optional")
        return ""
    if hint is bool:
        return "1" if value else "0"
    if hint is int:
        if not 0 <= value <= ID_MAX:
            raise ValueError(f"button number out of range: {value}")
        return str(value)
    if hint is dt.date:
        return value.strftime("%Y%m%d")
    text = str(value.value if isinstance(value, enum.Enum) else value)
    if not _WORD.fullmatch(text):
        raise ValueError(f"button word with other characters: {text!r}")
    return text


def _decode_field(hint: Any, field: str) -> Any:
    hint, optional = _optional(hint)
    if field == "" and optional:
        return None
    if hint is bool:
        return parse_choice(field, ("0", "1")) == "1"
    if hint is int:
        return parse_int(field)
    if hint is dt.date:
        return parse_date(field)
    if typing.get_origin(hint) is Literal:
        return parse_choice(field, [str(a) for a in typing.get_args(hint)])
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(parse_choice(field, [str(m.value) for m in hint]))
    if hint is str:
        if len(field) > CALLBACK_LIMIT or not _WORD.fullmatch(field):
            raise InvalidButton()
        return field
    raise TypeError(f"no codec for button field type {hint!r}")
