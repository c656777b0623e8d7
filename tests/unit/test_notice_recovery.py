"""Issue 9 item 3: every sent notice keeps its Telegram message id, and the notices a stop left
claimed are reconciled at start-up: sent if Telegram accepted them, else never sent twice."""

import datetime as dt
from types import SimpleNamespace

import pytest
from sqlalchemy import select
from telegram.error import NetworkError

from bot.delivery import Outcome
from bot.services import notify
from bot.services.notify import Key
from storage.db import Database
from storage.models import Cycle
from storage.models import Organisation
from storage.models import SentNotice
from storage.queries import place_org

NOW = dt.datetime(2026, 12, 4, 3, 0, tzinfo=dt.UTC)


@pytest.fixture
async def db(tmp_path):
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/recovery.db")
    await database.migrate()
    async with database.session() as session:
        org = Organisation(code="UP", name="UP", kind="upper", path="")
        await place_org(session, org, None)
        session.add(
            Cycle(
                org_id=org.id,
                year=2026,
                rulebook="hd21-2019",
                finish_by=dt.date(2026, 12, 31),
                report_by=dt.date(2027, 2, 20),
            )
        )
    yield database
    await database.dispose()


def key(target: str) -> Key:
    return Key("review_due", target, 1, "2026-12-07:d3")


class Bot:
    """Accepts messages with increasing ids; fails (or stops the process) at the n-th."""

    def __init__(self, fail_at: int | None = None, error: Exception | None = None) -> None:
        self.fail_at, self.error, self.sent = fail_at, error, []

    async def send_message(self, chat_id, text, **_kwargs):
        if self.fail_at is not None and len(self.sent) + 1 == self.fail_at:
            raise self.error
        self.sent.append(text)
        return SimpleNamespace(message_id=100 + len(self.sent))


async def rows(db):
    async with db.session() as session:
        found = await session.execute(
            select(SentNotice.target, SentNotice.state, SentNotice.message_id).order_by(
                SentNotice.target
            )
        )
        return [tuple(r) for r in found]


async def test_the_message_id_is_kept_with_the_mark(db):
    bot = Bot()
    outcome, _ = await notify.send_once(db, bot, [key("member:1")], 7, lambda _k: "hello", NOW)
    assert outcome == Outcome.SENT
    assert await rows(db) == [("member:1", "sent", 101)]


async def test_a_long_message_cut_after_its_first_part_is_sent_not_resent(db):
    # The first part is accepted, the second fails: it was partly delivered, so it counts as
    # sent and its id is kept; a later claim does not send it again.
    bot = Bot(fail_at=2, error=NetworkError("down"))
    text = "\n".join(["x" * 100] * 60)  # over 4,096 characters: two parts
    outcome, _ = await notify.send_once(db, bot, [key("member:1")], 7, lambda _k: text, NOW)
    assert outcome == Outcome.SENT and len(bot.sent) == 1
    assert await rows(db) == [("member:1", "sent", 101)]
    assert await notify.claim(db, [key("member:1")], NOW) == []


async def test_a_stop_between_the_first_part_and_the_mark_is_reconciled_as_sent(db):
    # The process stops while sending the second part: the first part's id was recorded.
    bot = Bot(fail_at=2, error=SystemExit("killed"))
    text = "\n".join(["x" * 100] * 60)
    with pytest.raises(SystemExit):
        await notify.send_once(db, bot, [key("member:1")], 7, lambda _k: text, NOW)
    # And another stop right after a claim, before anything was sent.
    assert await notify.claim(db, [key("member:2")], NOW) == [key("member:2")]
    assert await rows(db) == [("member:1", "pending", 101), ("member:2", "pending", None)]

    assert await notify.reconcile(db, NOW) == (1, 1)
    # Accepted by Telegram: sent. Unknown: left pending, and never claimed (so sent) again.
    assert await rows(db) == [("member:1", "sent", 101), ("member:2", "pending", None)]
    assert await notify.claim(db, [key("member:1"), key("member:2")], NOW) == []
    assert await notify.reconcile(db, NOW) == (0, 1)
