"""Services created once per process in post_init and shared by every handler."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field

from bot.config import Settings
from bot.delivery import Outbox
from bot.delivery import ShownMessages
from bot.intake import Arrivals
from storage.db import Database


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Services:
    settings: Settings
    db: Database
    bot_username: str = ""
    clock: Callable[[], dt.datetime] = field(default=_utcnow)  # tests may control time

    outbox: Outbox = field(init=False)
    arrivals: Arrivals = field(init=False, default_factory=Arrivals)  # this process's updates
    shown: ShownMessages = field(init=False, default_factory=lambda: ShownMessages())

    def __post_init__(self) -> None:
        self.outbox = Outbox(self.db, self.now)

    def now(self) -> dt.datetime:
        return self.clock()
