"""Drivers for the walk test (tests/e2e/test_flows_leave.py): one per declared (flow, step).

Each feature keeps its drivers in a module of this package: `DRIVERS = {(flow, step): driver}`,
where `async def driver(world: World) -> Reached` brings a user to that step of the flow in the
shared world (the tree of tests/e2e/test_status_tree.py, with its committee, cells, reviews,
proposals and decided levels). The walk test then leaves the step and checks that nothing the
snapshot covers changed and that the next free text goes nowhere.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Awaitable
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from sqlalchemy import select

from tests.e2e.test_status_tree import Tree
from tests.e2e.test_status_tree import query
from tests.fakebot.server import BotMessage
from tests.fakebot.server import FakeTelegram
from tests.fakebot.server import FakeUser


@dataclass
class World:
    tree: Tree
    fake: FakeTelegram
    database_url: str
    # Facts a driver found that a later driver may reuse (e.g. an appeal it filed).
    notes: dict[str, Any] = field(default_factory=dict)

    def user(self, code: str) -> FakeUser:
        return self.tree.users[code]

    async def rows(self, model, *where, order_by=None) -> list[tuple]:
        """Every column of the matching rows, as tuples: a snapshot that any change shows."""

        async def run(session):
            statement = select(model).where(*where)
            statement = statement.order_by(order_by if order_by is not None else model.id)
            found = (await session.scalars(statement)).all()
            columns = [c.key for c in model.__table__.columns]
            return [tuple(getattr(row, c) for c in columns) for row in found]

        return await query(self.database_url, run)


@dataclass
class Reached:
    user: FakeUser
    prompt: BotMessage  # the message that asked for this step
    snapshot: Callable[[], Awaitable[object]]  # what leaving must not change


Driver = Callable[[World], Awaitable[Reached]]


async def ask(user: FakeUser, text: str) -> BotMessage:
    """Send `text` and return the bot's next message (earlier ones are skipped)."""
    user._msg_cursor[user.chat_id] = len(user._fake._chats[user.chat_id].bot_messages)
    await user.send(text)
    return await user.wait_message()


async def answer_of(user: FakeUser, label: str, message: BotMessage) -> BotMessage:
    """Press `label` on `message` and return the bot's next message."""
    user._msg_cursor[user.chat_id] = len(user._fake._chats[user.chat_id].bot_messages)
    await user.wait_answer(await user.press(label, message=message))
    return await user.wait_message()


def all_drivers() -> dict[tuple[str, str], Driver]:
    drivers: dict[tuple[str, str], Driver] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for key, driver in module.DRIVERS.items():
            assert key not in drivers, f"two drivers for {key}"
            drivers[key] = driver
    return drivers
