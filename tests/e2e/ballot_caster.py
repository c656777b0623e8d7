"""The child process of ``test_ballot_kill``: casts the ballot of every voter of a round who
has not voted yet, one transaction each, as the bot does (has_voted, the sealed ballot, its
receipt hash and the receipt message in the outbox), and prints ``member_id code`` once that
transaction committed. The test kills it with SIGKILL at random moments.

Usage: python -m tests.e2e.ballot_caster DATABASE_URL ROUND_ID
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import sys

from sqlalchemy import select

from bot.delivery import Outbox
from bot.delivery import Owed
from bot.services import ballot as service
from storage.db import Database
from storage.models import BallotCandidate
from storage.models import BallotVoter


def choices_for(member_id: int, positions: list[int]) -> dict[int, str]:
    """Each voter's ballot, the same in every run (the test recomputes the tally from it)."""
    rng = random.Random(member_id * 7919)
    return {position: rng.choice(service.CHOICES) for position in positions}


async def main(url: str, round_id: int) -> None:
    db = Database(url)
    try:
        async with db.session() as session:
            waiting = list(
                await session.scalars(
                    select(BallotVoter.member_id)
                    .where(BallotVoter.round_id == round_id, BallotVoter.has_voted.is_(False))
                    .order_by(BallotVoter.member_id)
                )
            )
            positions = sorted(
                await session.scalars(
                    select(BallotCandidate.position).where(BallotCandidate.round_id == round_id)
                )
            )
        print("ready", flush=True)
        for member_id in waiting:
            async with db.session() as session:
                cast = await service.cast(
                    session, round_id, member_id, choices_for(member_id, positions)
                )
                receipt = Owed(chat_id=member_id, text=f"Receipt {cast.code}")
                Outbox.add(session, receipt, dt.datetime.now(dt.UTC))
            print(member_id, cast.code, flush=True)
            await service.checkpoint(db)
            await asyncio.sleep(random.uniform(0.01, 0.05))
    finally:
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
