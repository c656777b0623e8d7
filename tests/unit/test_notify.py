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


class ChatBot(FakeBot):
    """Refuses the chats in `blocked` (403) and fails (an error, as a stop would) on send
    number `fail_at`."""

    def __init__(self, blocked=(), fail_at=None):
        super().__init__()
        self.blocked, self.fail_at, self.tries = set(blocked), fail_at, 0

    async def send_message(self, chat_id, text, **kw):
        self.tries += 1
        if self.tries == self.fail_at:
            raise RuntimeError("the process stops here")
        if chat_id in self.blocked:
            raise Forbidden("Forbidden: bot was blocked by the user")
        return await super().send_message(chat_id, text, **kw)


def outgoing(stage, chat_id=10):
    return notify.Outgoing([key(stage, target=f"member:{chat_id}")], chat_id, lambda ks: stage)


async def send_all(db, bot, messages):
    async with notify.Ledger(db, NOW) as ledger:
        return [(m.chat_id, outcome) async for m, outcome, _ in
                notify.send_all(ledger, bot, messages)]


async def test_a_run_claims_ahead_and_an_error_leaves_only_the_one_in_flight(db):
    messages = [outgoing(f"s{i}") for i in range(notify.CLAIM_AHEAD + 2)]
    bot = ChatBot(fail_at=3)
    with pytest.raises(RuntimeError):
        await send_all(db, bot, messages)
    found = await states(db)
    # The whole first batch was claimed; the third was in flight (never sent again), the
    # rest of the batch was never tried (claimable again), the next batch never claimed.
    assert [found.get(("member:10", f"s{i}")) for i in range(len(messages))] == (
        ["sent", "sent", "pending"] + ["failed"] * (notify.CLAIM_AHEAD - 3) + [None, None])
    again = ChatBot()
    assert await send_all(db, again, messages) == [(10, Outcome.SENT)] * (len(messages) - 3)
    assert [text for _, text in again.sent] == [f"s{i}" for i in range(3, len(messages))]


async def test_a_chat_that_blocked_the_bot_gets_nothing_more_in_the_run(db):
    messages = [outgoing("a", 7), outgoing("b", 8), outgoing("c", 7)]
    messages += [outgoing(f"d{i}", 8) for i in range(notify.CLAIM_AHEAD - 3)]  # one batch
    messages += [outgoing(f"e{i}", 7) for i in range(notify.CLAIM_AHEAD)]  # the next one
    messages += [outgoing("f", 8)]
    bot = ChatBot(blocked={7})
    results = await send_all(db, bot, messages)
    assert results[0] == (7, Outcome.BLOCKED)
    assert results[1:] == [(8, Outcome.SENT)] * (1 + notify.CLAIM_AHEAD - 3 + 1)
    found = await states(db)
    # Claimed in the batch with the refused one: failed, tried again by the next run (which
    # leaves out an account that blocked the bot); in a later batch: never claimed.
    assert found[("member:7", "a")] == "blocked" and found[("member:7", "c")] == "failed"
    assert not any(("member:7", f"e{i}") in found for i in range(notify.CLAIM_AHEAD))


async def test_claim_many_gives_a_key_to_the_first_message_that_has_it(db):
    async with notify.Ledger(db, NOW) as ledger:
        assert await ledger.claim_many([[key("a"), key("b")], [key("b"), key("c")], []]) == [
            [key("a"), key("b")], [key("c")], []]
        assert await ledger.claim_many([[key("a")], [key("d")]]) == [[], [key("d")]]


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
