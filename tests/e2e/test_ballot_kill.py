"""Issue 11: a kill at any moment of the round loses no sealed ballot. A child process casts
the ballots of 40 voters, one transaction each, and is killed with SIGKILL at random moments
(at least 20 times), then started again on the same database until everyone has voted. After
every kill the database holds exactly as many sealed ballots and receipts as voters marked as
having voted, and every receipt the child reported is there; at the end the committee's
shares open the box and the tally is exactly the sum of the 40 ballots."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import signal

import pytest
from sqlalchemy import func
from sqlalchemy import select

from bot.services import ballot as service
from rules.people import Presence
from storage.db import Database
from storage.models import BallotCount
from storage.models import BallotReceipt
from storage.models import BallotRound
from storage.models import BallotVoter
from storage.models import Cycle
from storage.models import Member
from storage.models import Organisation
from storage.models import Role
from storage.models import SealedBallot
from storage.queries import place_org
from tests.e2e.ballot_caster import choices_for
from tests.e2e.harness import ROOT
from tests.e2e.harness import spawn_module
from tests.e2e.test_ballot_box import pg_url  # noqa: F401  (a fixture)

VOTERS = 40
CANDIDATES = 5
KILLS = 20
NOW = dt.datetime(2026, 12, 5, 1, 0, tzinfo=dt.UTC)


async def _open_round(db: Database):
    """A cell of 40 official members present; the first 5 are rated; a round open."""
    async with db.session() as session:
        root = Organisation(code="DB", name="Đảng bộ", kind="grassroots", path="")
        await place_org(session, root, None)
        cell = Organisation(code="CB", name="Chi bộ", kind="cell", path="")
        await place_org(session, cell, root)
        session.add(Cycle(org_id=root.id, year=2026, rulebook="hd21-2019",
                          finish_by=dt.date(2026, 12, 31), report_by=dt.date(2027, 2, 20)))
        members = [Member(code=f"M{i:02d}", full_name=f"Đảng viên {i:02d}", org_id=cell.id,
                          status="official", admitted_on=dt.date(2000, 1, 1)) for i in range(VOTERS)]
        session.add_all(members)
        await session.flush()
        session.add(Role(member_id=members[0].id, org_id=cell.id, role="secretary"))
        meeting = await service.meeting_for_cell(session, cell, NOW, create=True)
        await service.set_presence(session, meeting, [m.id for m in members], Presence.PRESENT)
        state = await service.meeting_state(session, meeting, NOW.date())
        opened = await service.open_round(
            session, state, actor="test", now=NOW, candidate_ids=[m.id for m in members[:CANDIDATES]]
        )
        assert await service.activate(session, opened.round.id)
        return opened.round.id, [m.id for m in members], list(opened.shares)


async def _stored(db: Database, round_id: int) -> tuple[int, int, int, set[str]]:
    async with db.session() as session:
        voted = await session.scalar(select(func.count()).select_from(BallotVoter).where(
            BallotVoter.round_id == round_id, BallotVoter.has_voted))
        sealed = await session.scalar(select(func.count()).select_from(SealedBallot).where(
            SealedBallot.round_id == round_id))
        hashes = set(await session.scalars(select(BallotReceipt.code_hash).where(
            BallotReceipt.round_id == round_id)))
    return voted, sealed, len(hashes), hashes


async def _run_child(url: str, round_id: int, kill_after: float | None) -> tuple[list[str], bool]:
    """Start the caster; SIGKILL it `kill_after` s after it is ready. Returns the lines it
    printed and whether it was killed."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = await spawn_module(
        "tests.e2e.ballot_caster", url, str(round_id),
        env=env, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    lines: list[str] = []
    killed = False
    ready = asyncio.Event()

    async def read() -> None:
        while line := await child.stdout.readline():
            if line.endswith(b"\n"):  # a line cut by the kill was not fully reported
                lines.append(line.decode().strip())
            ready.set()
        ready.set()  # the child ended

    reader = asyncio.create_task(read())
    async with asyncio.timeout(60):
        await ready.wait()
        if kill_after is not None and child.returncode is None:
            await asyncio.sleep(kill_after)
            if child.returncode is None:
                child.send_signal(signal.SIGKILL)
                killed = True
        await child.wait()
        await reader
    err = (await child.stderr.read()).decode()
    if not killed:
        assert child.returncode == 0, err
    return [line for line in lines if line != "ready"], killed and child.returncode == -signal.SIGKILL


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_a_kill_at_any_moment_loses_no_sealed_ballot(backend, tmp_path, request):
    url = (f"sqlite+aiosqlite:///{tmp_path}/kill.db" if backend == "sqlite"
           else request.getfixturevalue("pg_url"))
    db = Database(url)
    await db.migrate()
    try:
        round_id, members, shares = await _open_round(db)
        rng = random.Random(11)
        reported: dict[int, str] = {}
        kills = mid_round = 0
        while True:
            done = len(reported) == VOTERS
            kill_after = rng.uniform(0, 0.1) if kills < KILLS + 5 and not done else None
            lines, killed = await _run_child(url, round_id, kill_after)
            for line in lines:
                member_id, code = line.split()
                assert int(member_id) not in reported  # never cast twice
                reported[int(member_id)] = code
            voted, sealed, receipts, hashes = await _stored(db, round_id)
            # Whatever the moment of the kill: one sealed ballot and one receipt per voter
            # marked as having voted, and every receipt the child saw committed is there.
            assert voted == sealed == receipts, (voted, sealed, receipts)
            assert {service.receipt_hash(code) for code in reported.values()} <= hashes
            assert 0 <= voted - len(reported) <= kills + 1  # casts whose report a kill cut
            if killed:
                kills += 1
                mid_round += 0 < voted < VOTERS
            if kill_after is None and voted == VOTERS:
                break
        assert kills >= KILLS and mid_round >= KILLS // 2, (kills, mid_round)

        async with db.session() as session:
            assert await service.end_voting(session, round_id, now=NOW)
            ballot_round = await session.get(BallotRound, round_id)
            private = service.unlock(ballot_round, shares[:2])
            result = await service.open_box(session, round_id, private, actor="test", now=NOW)
        await service.purge(db)
        expected = {(p, c): 0 for p in range(CANDIDATES) for c in service.CHOICES}
        for member_id in members:
            for position, choice in choices_for(member_id, list(range(CANDIDATES))).items():
                expected[(position, choice)] += 1
        async with db.session() as session:
            rows = await session.scalars(select(BallotCount).where(BallotCount.round_id == round_id))
            assert {(r.position, r.level): r.votes for r in rows} == expected
        assert result.cast == VOTERS and len(result.receipts) == VOTERS
        assert set(result.receipts) >= {c for c in reported.values()}
    finally:
        await db.dispose()
