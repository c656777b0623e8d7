"""Fake Telegram Bot API server and user simulation for end-to-end tests."""

from .html_check import EntityParseError
from .html_check import parse_html
from .server import API_METHODS
from .server import BotMessage
from .server import Call
from .server import CallbackRecord
from .server import FakeFile
from .server import FakeGroup
from .server import FakeTelegram
from .server import FakeUser

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
