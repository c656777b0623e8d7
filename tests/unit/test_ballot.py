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
from bot.services import ballot_box as box
from bot.services.ballot_logs import SqlParametersFilter
from bot.services.ballot_logs import TelegramPayloadFilter
from handlers.views.ballot import REDACTED
from handlers.views.ballot import KeyButton
from handlers.views.ballot import VoteButton
from handlers.views.ballot import redact_key
from handlers.views.ballot import redact_vote
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

NOW = dt.datetime(2026, 12, 5, 1, 0, tzinfo=dt.UTC)


@pytest.fixture
async def db(database_url):
    database = Database(database_url)
    await database.migrate()
    yield database
    await database.dispose()


async def _cell(db: Database, officials: int, *, overrides: dict | None = None,
                committee: tuple[list[int], int] | None = None):
    """A cell with `officials` official members, all present, and a round open; returns
    (round id, member ids, the committee's shares)."""
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
        session.add(Role(member_id=members[-1].id, org_id=cell.id, role="secretary"))
        meeting = await service.meeting_for_cell(session, cell, NOW, create=True)
        await service.set_presence(session, meeting, [m.id for m in members], Presence.PRESENT)
        state = await service.meeting_state(session, meeting, NOW.date())
        if committee is not None:
            indexes, threshold = committee
            for index in indexes:
                await service.toggle_teller(session, state, members[index].id)
            await service.set_threshold(session, state, threshold)
        opened = await service.open_round(session, state, actor="test", now=NOW)
        shares = list(opened.shares)
        assert await service.activate(session, opened.round.id)
        return opened.round.id, [m.id for m in members], shares


async def _cast(db: Database, round_id: int, member_id: int, choices: dict[int, str]) -> str:
    async with db.session() as session:
        return (await service.cast(session, round_id, member_id, choices)).code


async def _open(db: Database, round_id: int, shares):
    async with db.session() as session:
        await service.end_voting(session, round_id, now=NOW)
        ballot_round = await session.get(BallotRound, round_id)
        private = service.unlock(ballot_round, shares)
        assert private is not None
        result = await service.open_box(session, round_id, private, actor="test", now=NOW)
    await service.purge(db)
    return result


async def _votes(db: Database, round_id: int) -> dict[tuple[int, str], int]:
    async with db.session() as session:
        rows = await session.scalars(select(BallotCount).where(BallotCount.round_id == round_id))
        return {(r.position, r.level): r.votes for r in rows}


async def test_two_casts_at_once_count_once(db):
    round_id, members, shares = await _cell(db, 3)
    choices = {0: "HTT", 1: "HT", 2: "BLANK"}
    results = await asyncio.gather(
        *(_cast(db, round_id, members[0], choices) for _ in range(4)),
        return_exceptions=True,
    )
    codes = [r for r in results if isinstance(r, str)]
    errors = [r for r in results if isinstance(r, service.BallotError)]
    assert len(codes) == 1 and len(errors) == 3, results
    assert all("already voted" in e.msgid for e in errors)
    async with db.session() as session:
        assert len((await session.scalars(select(BallotReceipt))).all()) == 1
        assert len((await session.scalars(select(SealedBallot))).all()) == 1
    assert await _votes(db, round_id) == {}  # no count exists before the box is opened
    await _open(db, round_id, shares)
    votes = await _votes(db, round_id)
    assert votes[(0, "HTT")] == 1 and votes[(1, "HT")] == 1 and votes[(2, "BLANK")] == 1
    assert sum(votes.values()) == 3
    async with db.session() as session:
        assert (await session.scalars(select(SealedBallot))).all() == []  # deleted at the opening


async def test_refused_casts_change_nothing(db):
    round_id, members, shares = await _cell(db, 3)
    with pytest.raises(service.BallotError, match="no longer valid"):
        await _cast(db, round_id, members[0], {0: "HTT", 1: "HT"})  # a candidate missing
    with pytest.raises(service.BallotError, match="no longer valid"):
        await _cast(db, round_id, members[0], {0: "HTT", 1: "HT", 2: "BEST"})
    with pytest.raises(service.BallotError, match="no longer valid"):
        await _cast(db, round_id + 1, members[0], {0: "HTT"})
    with pytest.raises(service.BallotError, match="not a voter"):
        await _cast(db, round_id, 9999, {0: "HTT", 1: "HT", 2: "HT"})
    async with db.session() as session:
        assert await service.end_voting(session, round_id, now=NOW)
    with pytest.raises(service.BallotError, match="closed"):
        await _cast(db, round_id, members[1], {0: "HTT", 1: "HT", 2: "HT"})
    await _open(db, round_id, shares)
    assert sum((await _votes(db, round_id)).values()) == 0
    async with db.session() as session:
        voted = await session.scalars(select(BallotVoter).where(BallotVoter.has_voted))
        assert voted.all() == []


async def _tally(db: Database, overrides: dict | None, ballots: list[dict[int, str]]):
    round_id, members, shares = await _cell(db, len(ballots), overrides=overrides)
    for member_id, choices in zip(members, ballots, strict=False):
        await _cast(db, round_id, member_id, choices)
    result = await _open(db, round_id, shares[: 1 if len(shares) == 1 else 2])
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
    round_id, members, shares = await _cell(db, 5, overrides={"denominator_rule": "ballots-cast"})
    for member_id, level in zip(members, ("HT", "HT", "KHT"), strict=False):
        await _cast(db, round_id, member_id, {p: level for p in range(5)})
    result = await _open(db, round_id, shares[1:])
    assert result.denominator == 3 and result.cast == 3
    assert [r.decision.level.value for r in result.results] == ["HT"] * 5
    assert len(result.receipts) == 3


async def test_receipts_are_checked_by_hash_only(db):
    round_id, members, _shares = await _cell(db, 1)
    code = await _cast(db, round_id, members[0], {0: "HTXS"})
    shown = service.show_receipt(code)
    async with db.session() as session:
        assert (await session.scalars(select(BallotReceipt.code_hash))).all() == [
            service.receipt_hash(code)
        ]
        sealed = (await session.scalars(select(SealedBallot))).one()
        assert box.receipt_code(box.tracker(sealed.sealed)) == code  # the tracker's first bits
        assert (await service.check_receipt(session, shown.lower())).found
        assert not (await service.check_receipt(session, shown.lower())).counted
        assert not (await service.check_receipt(session, "AAAAA-AAAAA")).found
        assert not (await service.check_receipt(session, "short")).found
    assert service.normalise_receipt("abcde-o1il0") == "ABCDE01110"


# --- the box: committee, key shares, sealed ballots ------------------------------------------------


async def test_the_default_committee_and_k_of_n(db, tmp_path):
    # A cell of 6: 3 members present, 2 of them open; the secretary first.
    round_id, members, shares = await _cell(db, 6)
    async with db.session() as session:
        view = await service.round_view(session, round_id)
        assert view.round.threshold == 2 and len(view.tellers) == 3 and len(shares) == 3
        assert members[-1] in {m.id for m in view.tellers}
        ballot_round = view.round
        for pair in ((0, 1), (0, 2), (1, 2)):  # any two shares open it, one does not
            assert service.unlock(ballot_round, [shares[i] for i in pair]) is not None
        assert service.unlock(ballot_round, shares[:1]) is None
        forged = box.Share(shares[0].index, bytes(16))
        assert service.unlock(ballot_round, [forged, shares[1]]) is None
    # A cell under five members: the secretary alone, 1 of 1.
    small = Database(f"sqlite+aiosqlite:///{tmp_path}/small.db")
    await small.migrate()
    try:
        round_id, members, shares = await _cell(small, 4)
        async with small.session() as session:
            view = await service.round_view(session, round_id)
            assert [m.id for m in view.tellers] == [members[-1]] and view.round.threshold == 1
    finally:
        await small.dispose()


async def test_a_named_committee_of_four_opened_by_three(db):
    round_id, members, shares = await _cell(db, 7, committee=([0, 1, 2, 3], 3))
    async with db.session() as session:
        view = await service.round_view(session, round_id)
    # The default three are the secretary and the first two by name; the toggles take 0 and 1
    # off and put 2 and 3 on: the secretary, 2 and 3, all three needed.
    assert {m.id for m in view.tellers} == {members[6], members[2], members[3]}
    assert len(shares) == 3 and view.round.threshold == 3
    for i, member_id in enumerate(members[:5]):
        await _cast(db, round_id, member_id, {p: ("HTXS" if i < 3 else "KHT") for p in range(7)})
    with pytest.raises(AssertionError):
        await _open(db, round_id, shares[:2])
    result = await _open(db, round_id, shares[-3:])
    assert result.results[0].counts == {"HTXS": 3, "HTT": 0, "HT": 0, "KHT": 2, "BLANK": 0}


async def test_every_sealed_ballot_of_a_round_has_the_same_size(db):
    round_id, members, _shares = await _cell(db, 5)
    ballots = [{p: choice for p in range(5)} for choice in service.CHOICES]
    for member_id, choices in zip(members, ballots, strict=True):
        await _cast(db, round_id, member_id, choices)
    async with db.session() as session:
        sizes = {len(row.sealed) for row in await session.scalars(select(SealedBallot))}
    assert sizes == {5 + 48}  # one byte per candidate, in a sealed box (32 + 16 bytes)


def test_a_share_fits_in_a_button():
    keys = box.new_round_keys(3, 5)
    for share in keys.shares:
        # The largest round id a button takes; encode() raises over 64 bytes.
        data = KeyButton(2**31 - 1, share.index, share.encode(), box.key_id(keys.public_key)).encode()
        assert len(data.encode()) <= 64, len(data)
        assert KeyButton.decode(data).share == share.encode()
        assert box.Share.decode(share.index, share.encode()) == share
    assert box.Share.decode(1, "not base64!") is None and box.Share.decode(0, keys.shares[0].encode()) is None


def test_the_stored_copy_of_a_press_has_no_choice_and_no_share():
    assert redact_vote(VoteButton(12, 3, "HTXS").encode()) == "bv1:12:3:x"
    assert redact_vote(VoteButton(12, 3, "edit").encode()) == "bv1:12:3:edit"
    assert redact_vote(VoteButton(12, None, "ok").encode()) == "bv1:12::ok"
    assert redact_vote("bv1:12:HTXS") == "bv1:x"  # any other shape: nothing of it is kept
    # What is kept still decodes, to a press the handler knows was cut.
    assert VoteButton.decode("bv1:12:3:x").choice == REDACTED
    share = box.new_round_keys(1, 1).shares[0]
    data = KeyButton(12, 1, share.encode(), "abcdef").encode()
    assert redact_key(data) == "bk1:12:1:x:abcdef"
    assert share.encode() not in redact_key(data)
    assert redact_key(f"bk1:12:{share.encode()}") == "bk1:x"


def _record(name: str, msg: str, args: tuple) -> logging.LogRecord:
    return logging.LogRecord(name, logging.DEBUG, __file__, 1, msg, args, None)


def test_log_filters_drop_payloads_and_sql_parameters():
    record = _record("telegram.ext.ExtBot", "Calling Bot API endpoint `%s` with parameters `%s`",
                     ("editMessageText", {"text": "Nguyễn Văn An: HTXS", "callback_data": "bv1:1:0:HTXS"}))
    TelegramPayloadFilter().filter(record)
    assert record.getMessage() == "Calling Bot API endpoint `editMessageText` with parameters `[redacted]`"
    record = _record("telegram.ext.Application", "Processing update %s", ({"data": "bv1:1:0:HT"},))
    TelegramPayloadFilter().filter(record)
    assert record.getMessage() == "Processing update [redacted]"

    def execute(sql, params):  # stands for sqlite3.Cursor.execute
        return None

    call = functools.partial(execute, "UPDATE ballot_counts SET votes=votes + ? WHERE level = ?", (1, "HTXS"))
    record = _record("aiosqlite", "executing %s", (call,))
    SqlParametersFilter().filter(record)
    line = record.getMessage()
    assert "UPDATE ballot_counts" in line and "HTXS" not in line and "[redacted]" in line


async def test_the_round_message_locks_are_forgotten_once_idle():
    import asyncio

    locks, order = service.RoundLocks(), []

    async def edit(round_id: int, name: str) -> None:
        async with locks.hold(round_id):
            order.append(f"{name} in")
            await asyncio.sleep(0.01)
            order.append(f"{name} out")

    await asyncio.gather(edit(1, "a"), edit(1, "b"), edit(2, "c"))
    assert order.index("a out") < order.index("b in")  # one edit at a time per round
    assert order.index("c in") < order.index("a out")  # other rounds do not wait
    assert len(locks) == 0  # every round's lock dropped when nobody holds or waits for it
    for round_id in range(1000):
        async with locks.hold(round_id):
            pass
    assert len(locks) == 0
