"""The sent-notices ledger (claim → send → mark), quiet hours and reminder stages."""

import datetime as dt
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from telegram.error import Forbidden
from telegram.error import NetworkError
from telegram.error import RetryAfter

from bot.delivery import Outcome
from bot.jobs import REMINDER_DAYS
from bot.jobs import quiet
from bot.services import notify
from bot.services.notify import Key
from rules.deadlines import reminder_stage
from storage.db import Database
from storage.models import Cycle
from storage.models import NoticeState
from storage.models import Organisation
from storage.models import SentNotice
from storage.queries import place_org

NOW = dt.datetime(2026, 12, 4, 3, 0, tzinfo=dt.UTC)
SAIGON = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
async def db(database_url):
    database = Database(database_url)
    await database.migrate()
    async with database.session() as session:
        org = Organisation(code="UP", name="UP", kind="upper", path="")
        await place_org(session, org, None)
        session.add(Cycle(org_id=org.id, year=2026, rulebook="hd21-2019",
                          finish_by=dt.date(2026, 12, 31), report_by=dt.date(2027, 2, 20)))
    yield database
    await database.dispose()


def key(stage="2026-12-07:d3", target="member:1"):
    return Key("review_due", target, 1, stage)


class FakeBot:
    def __init__(self, error=None):
        self.error, self.sent = error, []

    async def send_message(self, chat_id, text, **_kw):
        if self.error:
            raise self.error
        self.sent.append((chat_id, text))
        return SimpleNamespace(message_id=len(self.sent))


async def states(db):
    async with db.session() as session:
        return {(n.target, n.stage): n.state for n in await session.scalars(select(SentNotice))}


async def test_a_notice_is_claimed_once(db):
    assert await notify.claim(db, [key(), key(target="member:2")], NOW) == [
        key(), key(target="member:2")]
    assert await notify.claim(db, [key()], NOW) == []  # pending: never claimed again
    await notify.mark(db, [key()], NoticeState.SENT, NOW)
    assert await notify.claim(db, [key()], NOW) == []
    assert (await states(db))[("member:1", "2026-12-07:d3")] == "sent"


async def test_failed_is_claimed_again_sent_and_blocked_are_not(db):
    bot = FakeBot(NetworkError("Bad Gateway"))
    outcome, claimed = await notify.send_once(db, bot, [key()], 10, lambda ks: "x", NOW)
    assert (outcome, claimed) == (Outcome.RETRY, [key()])
    assert (await states(db))[("member:1", "2026-12-07:d3")] == "failed"
    bot.error = None
    outcome, _ = await notify.send_once(db, bot, [key()], 10, lambda ks: "x", NOW)
    assert outcome == Outcome.SENT and bot.sent == [(10, "x")]
    assert await notify.send_once(db, bot, [key()], 10, lambda ks: "x", NOW) == (None, [])
    blocked = FakeBot(Forbidden("Forbidden: bot was blocked by the user"))
    outcome, _ = await notify.send_once(db, blocked, [key("s2")], 10, lambda ks: "x", NOW)
    assert outcome == Outcome.BLOCKED
    assert await notify.claim(db, [key("s2")], NOW) == []


async def test_429_after_the_rate_limiters_retries_waits_for_the_next_run(db):
    bot = FakeBot(RetryAfter(dt.timedelta(seconds=5)))
    outcome, _ = await notify.send_once(db, bot, [key()], 10, lambda ks: "x", NOW)
    assert outcome == Outcome.RETRY
    assert await notify.claim(db, [key()], NOW) == [key()]


async def test_a_group_renders_only_what_it_claimed(db):
    await notify.claim(db, [key("a")], NOW)
    bot = FakeBot()
    outcome, claimed = await notify.send_once(
        db, bot, [key("a"), key("b")], 10, lambda ks: ",".join(k.stage for k in ks), NOW)
    assert claimed == [key("b")] and bot.sent == [(10, "b")]


@pytest.mark.parametrize(
    ("hour", "minute", "is_quiet"),
    [(20, 59, False), (21, 0, True), (23, 30, True), (0, 0, True), (6, 59, True),
     (7, 0, False), (12, 0, False)],
)
def test_quiet_hours(hour, minute, is_quiet):
    assert quiet(dt.datetime(2026, 12, 6, hour, minute, tzinfo=SAIGON)) is is_quiet


@pytest.mark.parametrize(
    ("today", "stage"),
    [(1, None), (3, None), (4, "d3"), (5, "d3"), (6, "d1"), (7, "d0"), (8, None)],
)
def test_reminder_stage(today, stage):  # due 07/12: 3 days before, the day before, the day
    # R-D2's reminders of the self-review are the rule's stages on the monitor's days.
    assert reminder_stage(dt.date(2026, 12, 7), dt.date(2026, 12, today), REMINDER_DAYS) == stage
