"""Fake Telegram Bot API server and user simulation for end-to-end tests."""

from .html_check import EntityParseError, parse_html
from .server import (
    API_METHODS,
    BotMessage,
    Call,
    CallbackRecord,
    FakeFile,
    FakeGroup,
    FakeTelegram,
    FakeUser,
)

__all__ = [
    "API_METHODS",
    "BotMessage",
    "Call",
    "CallbackRecord",
    "EntityParseError",
    "FakeFile",
    "FakeGroup",
    "FakeTelegram",
    "FakeUser",
    "parse_html",
]
