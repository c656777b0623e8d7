"""Gettext catalogs and Babel formatting.

Every user-facing sentence is an English msgid translated through the catalogs in
`locales/<lang>/LC_MESSAGES/<domain>.po`. Each package owns a domain (`kiemdiem` for the
bot, `rules`, `roster`, ...); a translator chains them all, so callers need not know which
domain a msgid came from. `.mo` files are compiled by the set-up commands; a missing or
stale one is compiled in memory from its `.po`, so a fresh checkout still speaks.
"""

from __future__ import annotations

import datetime as dt
import gettext
import io
from collections.abc import Callable
from functools import cache
from functools import lru_cache
from pathlib import Path

from babel.dates import format_date
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.numbers import format_percent

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
PRIMARY_DOMAIN = "kiemdiem"
LOCALES = ("vi", "en")
# Dates the way each audience writes them: Vietnamese users expect dd/mm/yyyy.
DATE_PATTERNS = {"vi": "dd/MM/yyyy", "en": "d MMM yyyy"}
DATETIME_PATTERNS = {"vi": "HH:mm dd/MM/yyyy", "en": "d MMM yyyy, HH:mm"}


def N_(message: str) -> str:
    """Mark a msgid for extraction without translating it yet."""
    return message



class Explained(Exception):
    """An error that says why in the reader's language: a msgid and its parameters. The
    services raise their refusals as subclasses; the edge says them with the user's gettext."""

    def __init__(self, msgid: str, **params: object) -> None:
        super().__init__(msgid)
        self.msgid = msgid
        self.params = params


def _load_domain(po_path: Path) -> gettext.GNUTranslations:
    mo_path = po_path.with_suffix(".mo")
    if mo_path.is_file() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
        with mo_path.open("rb") as fp:
            return gettext.GNUTranslations(fp)
    with po_path.open("rb") as fp:
        catalog = read_po(fp)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


@cache
def _translations(locale: str) -> gettext.NullTranslations:
    folder = LOCALES_DIR / locale / "LC_MESSAGES"
    paths = sorted(folder.glob("*.po"), key=lambda p: (p.stem != PRIMARY_DOMAIN, p.stem))
    if not paths:
        return gettext.NullTranslations()
    chain = _load_domain(paths[0])
    for path in paths[1:]:
        chain.add_fallback(_load_domain(path))
    return chain


@cache
def _gettext_of(locale: str) -> Callable[[str], str]:
    """The chain's gettext, remembered per msgid: a msgid of a later domain walks every
    catalog before it (the chain's fallbacks) each time it is asked for, and a run of the
    deadline monitor asks for the same few tens of msgids tens of thousands of times."""
    return lru_cache(maxsize=8192)(_translations(locale).gettext)


# Keyed by the value's type and time zone too: aware datetimes of the same instant in two
# zones are equal (and hash alike) but read differently.
@lru_cache(maxsize=4096)
def _date(value: dt.date, _kind: type, _zone: object, locale: str) -> str:
    return format_date(value, DATE_PATTERNS[locale], locale=locale)


@lru_cache(maxsize=4096)
def _datetime(value: dt.datetime, _zone: object, locale: str) -> str:
    return format_datetime(value, DATETIME_PATTERNS[locale], locale=locale)


@cache
def domain_gettext(domain: str, locale: str = "vi") -> Callable[[str], str]:
    """One domain's catalog alone (a spreadsheet's guide sheet is always Vietnamese, whatever
    the reader's language); the msgid where a message is missing or untranslated."""
    po_path = LOCALES_DIR / locale / "LC_MESSAGES" / f"{domain}.po"
    if not po_path.is_file():
        return lambda message: message
    return _load_domain(po_path).gettext


class Translator:
    """The texts and formats of one locale: `t("Hello {name}", name=...)`."""

    def __init__(self, locale: str, timezone: dt.tzinfo | None = None) -> None:
        self.locale = locale if locale in LOCALES else LOCALES[0]
        self.timezone = timezone
        self._gettext: Callable[[str], str] = _gettext_of(self.locale)

    def __call__(self, msgid: str, /, **params: object) -> str:
        text = self._gettext(msgid)
        return text.format(**params) if params else text

    def gettext(self, msgid: str) -> str:
        return self._gettext(msgid)

    def ngettext(self, singular: str, plural: str, n: int, /, **params: object) -> str:
        text = _translations(self.locale).ngettext(singular, plural, n)
        return text.format(n=self.number(n), **params)

    def date(self, value: dt.date) -> str:
        """Babel parses the pattern each time: the few dates a run of reminders names are
        formatted once (``_date``)."""
        return _date(value, type(value), getattr(value, "tzinfo", None), self.locale)

    def datetime(self, value: dt.datetime) -> str:
        if self.timezone is not None and value.tzinfo is not None:
            value = value.astimezone(self.timezone)
        return _datetime(value, value.tzinfo, self.locale)

    def number(self, value: float) -> str:
        return format_decimal(value, locale=self.locale)

    def percent(self, value: float) -> str:
        return format_percent(value, locale=self.locale)


def locale_for(language_code: str | None, chosen: str | None, default: str) -> str:
    """The user's choice from /ngon_ngu wins; else English for `en*` and the default otherwise."""
    if chosen in LOCALES:
        return chosen
    if language_code and language_code.lower().startswith("en"):
        return "en"
    return default
