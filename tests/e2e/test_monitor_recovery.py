"""Issue 9 item 3: at start-up the notices a stop left claimed are reconciled before the first
run: one Telegram accepted (its message id is recorded) is marked sent, one without an id is
never sent again, and everything else due goes out once."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import Cycle
from storage.models import SentNotice
from tests.e2e.test_ballot import until
from tests.e2e.test_monitor import CB01
from tests.e2e.test_monitor import REMIND_3
from tests.e2e.test_monitor import reminders_due
from tests.e2e.test_monitor import starting
from tests.e2e.test_plan_kit import Inbox
from tests.e2e.test_plan_kit import local
from tests.e2e.test_plan_kit import monitor
from tests.e2e.test_plan_kit import query

STAGE = "2026-12-07:d3"


async def test_start_up_reconciles_the_notices_left_claimed(
    bot, fake_telegram, database_url, clock
):
    tree = await reminders_due(database_url, fake_telegram)
    ids = tree.member_ids

    async def crashed(session):
        # Left by a stop between the claim and the mark: DV01's reminder was accepted by
        # Telegram (its message id was recorded), DV03's may or may not have left.
        cycle = await session.scalar(select(Cycle))
        for code, message_id in (("DV01", 4242), ("DV03", None)):
            session.add(
                SentNotice(
                    kind="review_due",
                    target=f"member:{ids[code]}",
                    cycle_id=cycle.id,
                    stage=STAGE,
                    state="pending",
                    claimed_at=local(2026, 12, 4, 9, 0),
                    message_id=message_id,
                )
            )

    await query(database_url, crashed)
    users = tree.users
    inbox = Inbox(users)
    clock.current = local(2026, 12, 4, 10, 0)
    await bot.restart()  # the start-up run: reconcile, then send what is due
    await until(lambda: sum(len(u.messages()) for u in users.values()) >= 3)
    await fake_telegram.wait_idle(quiet=0.3)
    got = starting(inbox.all_new(), REMIND_3)
    assert {code: got.get(code, 0) for code in CB01} == {
        code: (0 if code in ("DV01", "DV03") else 1) for code in CB01
    }, got
    assert await monitor(bot, clock) == 0

    async def ledger(session):
        rows = await session.execute(
            select(SentNotice.target, SentNotice.state, SentNotice.message_id)
        )
        return {target: (state, message_id is not None) for target, state, message_id in rows}

    found = await query(database_url, ledger)
    assert found.pop(f"member:{ids['DV01']}") == ("sent", True)
    assert found.pop(f"member:{ids['DV03']}") == ("pending", False)  # never sent twice
    assert set(found.values()) == {("sent", True)} and len(found) == 3
    assert not fake_telegram.refused
