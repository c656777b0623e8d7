"""The ballot service without Telegram: exactly-once casts under real concurrency, the tally
under each counting rule, receipts, and the log redaction."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import logging

import pytest
from sqlalchemy import select

from bot.services import ballot as service
from bot.services.ballot_logs import SqlParametersFilter, TelegramPayloadFilter
from rules.people import Presence
from storage.db import Database
from storage.models import BallotCount, BallotReceipt, BallotVoter, Cycle, Member, Organisation
from storage.queries import place_org

NOW = dt.datetime(2026, 12, 5, 1, 0, tzinfo=dt.UTC)


@pytest.fixture
async def db(database_url):
    database = Database(database_url)
    await database.migrate()
    yield database
    await database.dispose()


async def _cell(db: Database, officials: int, *, overrides: dict | None = None) -> tuple[int, list[int]]:
    """A cell with `officials` official members, all present, and a round open; returns
    (round id, member ids)."""
    async with db.session() as session:
        root = Organisation(code="DB", name="Đảng bộ", kind="grassroots", path="")
        await place_org(session, root, None)
        cell = Organisation(code="CB", name="Chi bộ", kind="cell", path="")
        await place_org(session, cell, root)
        session.add(Cycle(org_id=root.id, year=2026, rulebook="hd21-2019",
                          overrides=json.dumps(overrides) if overrides else None,
                          finish_by=dt.date(2026, 12, 31), report_by=dt.date(2027, 2, 20)))
        members = [Member(code=f"M{i}", full_name=f"Member {i:02d}", org_id=cell.id, status="official",
                          admitted_on=dt.date(2000, 1, 1)) for i in range(officials)]
        session.add_all(members)
        await session.flush()
        meeting = await service.meeting_for_cell(session, cell, NOW, create=True)
        await service.set_presence(session, meeting, [m.id for m in members], Presence.PRESENT)
        state = await service.meeting_state(session, meeting, NOW.date())
        opened = await service.open_round(session, state, actor="test", now=NOW)
        return opened.round.id, [m.id for m in members]


async def _votes(db: Database, round_id: int) -> dict[tuple[int, str], int]:
    async with db.session() as session:
        rows = await session.scalars(select(BallotCount).where(BallotCount.round_id == round_id))
        return {(r.position, r.level): r.votes for r in rows}


async def test_two_casts_at_once_count_once(db):
    round_id, members = await _cell(db, 3)
    choices = {0: "HTT", 1: "HT", 2: "BLANK"}
    results = await asyncio.gather(
        *(service.cast(db, round_id, members[0], choices) for _ in range(4)),
        return_exceptions=True,
    )
    codes = [r for r in results if isinstance(r, str)]
    errors = [r for r in results if isinstance(r, service.BallotError)]
    assert len(codes) == 1 and len(errors) == 3
    assert all("already voted" in e.msgid for e in errors)
    votes = await _votes(db, round_id)
    assert votes[(0, "HTT")] == 1 and votes[(1, "HT")] == 1 and votes[(2, "BLANK")] == 1
    assert sum(votes.values()) == 3
    async with db.session() as session:
        assert len((await session.scalars(select(BallotReceipt))).all()) == 1


async def test_refused_casts_change_nothing(db):
    round_id, members = await _cell(db, 3)
    with pytest.raises(service.BallotError, match="no longer valid"):
        await service.cast(db, round_id, members[0], {0: "HTT", 1: "HT"})  # a candidate missing
    with pytest.raises(service.BallotError, match="no longer valid"):
        await service.cast(db, round_id, members[0], {0: "HTT", 1: "HT", 2: "BEST"})
    with pytest.raises(service.BallotError, match="no longer valid"):
        await service.cast(db, round_id + 1, members[0], {0: "HTT"})
    with pytest.raises(service.BallotError, match="not a voter"):
        await service.cast(db, round_id, 9999, {0: "HTT", 1: "HT", 2: "HT"})
    async with db.session() as session:
        await service.close_round(session, round_id, actor="test", now=NOW)
    with pytest.raises(service.BallotError, match="closed"):
        await service.cast(db, round_id, members[1], {0: "HTT", 1: "HT", 2: "HT"})
    assert sum((await _votes(db, round_id)).values()) == 0
    async with db.session() as session:
        voted = await session.scalars(select(BallotVoter).where(BallotVoter.has_voted))
        assert voted.all() == []


async def _tally(db: Database, overrides: dict | None, ballots: list[dict[int, str]]):
    round_id, members = await _cell(db, len(ballots), overrides=overrides)
    for member_id, choices in zip(members, ballots, strict=False):
        await service.cast(db, round_id, member_id, choices)
    async with db.session() as session:
        result = await service.close_round(session, round_id, actor="test", now=NOW)
    return [(r.decision.level.value if r.decision and r.decision.level else None) for r in result.results], result


def _column(levels: str, position: int, size: int) -> list[dict[int, str]]:
    """Ballots where every voter votes `levels[i]` for candidate `position`, HTT elsewhere."""
    code = {"X": "HTXS", "T": "HTT", "H": "HT", "K": "KHT", "-": "BLANK"}
    return [{p: (code[levels[i]] if p == position else "HTT") for p in range(size)} for i in range(size)]


async def test_cumulative_decides_where_plurality_does_not(db, new_database_url):
    # 6 voters, denominator 6, more than half = 4: HTXS 2 + HTT 2 = 4 -> HTT (cumulative).
    ballots = _column("XXTTHH", 0, 6)
    levels, result = await _tally(db, None, ballots)
    assert levels[0] == "HTT" and result.denominator == 6

    other = Database(new_database_url("plurality"))
    await other.migrate()
    try:
        levels, _ = await _tally(other, {"counting_rule": "plurality"}, ballots)
        assert levels[0] is None  # no single level has more than 3 votes: vote again
    finally:
        await other.dispose()


async def test_the_ballots_cast_denominator_is_fixed_at_the_close(db):
    # 5 voters, 3 vote: denominator 3 (setting of R-B3); HT 2 of 3 -> HT.
    round_id, members = await _cell(db, 5, overrides={"denominator_rule": "ballots-cast"})
    for member_id, level in zip(members, ("HT", "HT", "KHT"), strict=False):
        await service.cast(db, round_id, member_id, {p: level for p in range(5)})
    async with db.session() as session:
        result = await service.close_round(session, round_id, actor="test", now=NOW)
    assert result.denominator == 3 and result.cast == 3
    assert [r.decision.level.value for r in result.results] == ["HT"] * 5


async def test_receipts_are_checked_by_hash_only(db):
    round_id, members = await _cell(db, 1)
    code = await service.cast(db, round_id, members[0], {0: "HTXS"})
    shown = service.show_receipt(code)
    async with db.session() as session:
        assert (await session.scalars(select(BallotReceipt.code_hash))).all() == [
            service.receipt_hash(code)
        ]
        assert (await service.check_receipt(session, shown.lower())).found
        assert not (await service.check_receipt(session, shown.lower())).counted
        assert not (await service.check_receipt(session, "AAAAA-AAAAA")).found
        assert not (await service.check_receipt(session, "short")).found
    assert service.normalise_receipt("abcde-o1il0") == "ABCDE01110"


def _record(name: str, msg: str, args: tuple) -> logging.LogRecord:
    return logging.LogRecord(name, logging.DEBUG, __file__, 1, msg, args, None)


def test_log_filters_drop_payloads_and_sql_parameters():
    record = _record("telegram.ext.ExtBot", "Calling Bot API endpoint `%s` with parameters `%s`",
                     ("editMessageText", {"text": "Nguyễn Văn An: HTXS", "callback_data": "bv:1:0:HTXS"}))
    TelegramPayloadFilter().filter(record)
    assert record.getMessage() == "Calling Bot API endpoint `editMessageText` with parameters `[redacted]`"
    record = _record("telegram.ext.Application", "Processing update %s", ({"data": "bv:1:0:HT"},))
    TelegramPayloadFilter().filter(record)
    assert record.getMessage() == "Processing update [redacted]"

    def execute(sql, params):  # stands for sqlite3.Cursor.execute
        return None

    call = functools.partial(execute, "UPDATE ballot_counts SET votes=votes + ? WHERE level = ?", (1, "HTXS"))
    record = _record("aiosqlite", "executing %s", (call,))
    SqlParametersFilter().filter(record)
    line = record.getMessage()
    assert "UPDATE ballot_counts" in line and "HTXS" not in line and "[redacted]" in line
