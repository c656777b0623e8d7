"""Keep ballot choices and receipt codes out of the logs, even at DEBUG level (R-B6, R-B8).

Three libraries log what passes through them when DEBUG is on:

- python-telegram-bot logs every Bot API call with its parameters and result
  (``telegram.Bot`` / ``telegram.ext.ExtBot``) and every update it processes
  (``telegram.ext.Application``): the voter's name next to the button they pressed, the
  summary of their choices, their receipt code;
- aiosqlite logs every statement it executes with its parameters: the cast's
  ``UPDATE ballot_voters ... member_id`` followed by ``UPDATE ballot_counts ... level``.

A filter on each of those loggers replaces the payload by ``[redacted]`` (SQL text is kept,
its parameters are not). The filters are attached once, when the ballot handlers are imported.
"""

from __future__ import annotations

import functools
import logging

REDACTED = "[redacted]"

_PTB_PAYLOAD_PREFIXES = (
    "Calling Bot API endpoint",
    "Call to Bot API endpoint",
    "Processing update",
    "Dropping pending update",
)
PTB_LOGGERS = ("telegram.Bot", "telegram.ext.ExtBot", "telegram.ext.Application")
AIOSQLITE_LOGGER = "aiosqlite"


class TelegramPayloadFilter(logging.Filter):
    """Keep the endpoint name; drop parameters, results and whole updates."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith(_PTB_PAYLOAD_PREFIXES):
            # A single mapping argument is stored by logging as the mapping itself.
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            if record.msg.startswith(("Calling", "Call to")) and len(args) == 2:
                record.args = (args[0], REDACTED)
            elif args:
                record.args = (REDACTED,) * len(args)
        return True


def _describe(function: object) -> str:
    if isinstance(function, functools.partial):
        name = getattr(function.func, "__name__", "call")
        sql = next((a for a in function.args if isinstance(a, str)), None)
        return f"{name}({sql!r}, {REDACTED})" if sql is not None else f"{name}({REDACTED})"
    return getattr(function, "__qualname__", type(function).__name__)


class SqlParametersFilter(logging.Filter):
    """aiosqlite's "executing %s" / "operation %s completed": the SQL stays, values go."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(_describe(arg) if callable(arg) else arg for arg in record.args)
        return True


def install() -> None:
    """Attach the filters (idempotent)."""
    for name in PTB_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, TelegramPayloadFilter) for f in logger.filters):
            logger.addFilter(TelegramPayloadFilter())
    logger = logging.getLogger(AIOSQLITE_LOGGER)
    if not any(isinstance(f, SqlParametersFilter) for f in logger.filters):
        logger.addFilter(SqlParametersFilter())
