"""Issue 14 part B: the unit's secret ballot keeps the members' secrecy (R-B6) and casts once
(R-B7), across a restart of the bot. A đảng bộ's committee of ten votes on the level of the đảng bộ and of its committee
(a round of kind "units"), one voter at a time, choices drawn at random; after every cast the
database is copied (SQLite: the file and its WAL; PostgreSQL: every table with xmin and ctid),
and the attacker of tests/e2e/test_ballot_box.py tries the diff of consecutive copies and the
log lines of each cast: no guess beats chance. A replayed cast changes nothing; before the
box is opened no count exists and every sealed ballot has the same size; after it, the tally
is exact, the sealed ballots are gone and the adopted levels are the units' proposals."""

from __future__ import annotations

import logging
import random
from pathlib import Path

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text

from bot.services.ballot import CHOICES
from storage.models import BallotCount
from storage.models import BallotRound
from storage.models import Organisation
from storage.models import Role
from storage.models import SealedBallot
from storage.models import UnitRating
from tests.e2e.meetingkit import ORDER
from tests.e2e.test_ballot import RECEIPT
from tests.e2e.test_ballot import Cell
from tests.e2e.test_ballot import Person
from tests.e2e.test_ballot import build
from tests.e2e.test_ballot import newest
from tests.e2e.test_ballot import press
from tests.e2e.test_ballot import query
from tests.e2e.test_ballot import unseal
from tests.e2e.test_ballot import until
from tests.e2e.test_ballot_box import _check_logs
from tests.e2e.test_ballot_box import beats_chance
from tests.e2e.test_ballot_box import guess
from tests.e2e.test_ballot_box import lines_diff
from tests.e2e.test_ballot_box import score
from tests.e2e.test_ballot_box import sqlite_copy
from tests.e2e.test_ballot_box import sqlite_diff

ORG = "Đảng bộ Phường Bến Thành"
COMMITTEE = f"Tập thể cấp ủy {ORG}"
NAMES = [ORG, COMMITTEE]
LABELS = {"HTXS": "HTXS", "HTT": "HTT", "HT": "HT", "KHT": "KHT", "BLANK": "Để trống"}
SEED = 20261214
PEOPLE = [Person(f"DV{i:02d}", name) for i, name in enumerate(
    ["Nguyễn Văn An", "Trần Thị Bình", "Lê Văn Cường", "Phạm Thị Dung", "Hoàng Văn Em",
     "Vũ Thị Giang", "Đặng Văn Hải", "Bùi Thị Hoa", "Đỗ Văn Khánh", "Hồ Thị Lan"], start=1)]
PEOPLE[0].role = "secretary"


async def _committee(database_url: str, cell: Cell) -> None:
    """Every member of the cell sits on the đảng ủy; the first is its secretary."""
    async def run(session):
        root = await session.scalar(select(Organisation).where(Organisation.code == "DBCS01"))
        for index, person in enumerate(PEOPLE):
            role = ("secretary", "deputy")[index] if index < 2 else "committee_member"
            session.add(Role(member_id=cell.member_ids[person.code], org_id=root.id, role=role))

    await query(database_url, run)


async def _cast(user, choices: dict[str, str]) -> tuple[str, object]:
    ballot = newest(user, "Phiếu bầu kín")
    for name in NAMES:
        await press(user, LABELS[choices[name]], ballot)
    assert "Đồng chí đã chọn:" in ballot.text, ballot.text
    cast = await user.press("✅ Xác nhận bỏ phiếu", message=ballot)
    assert (await user.wait_answer(cast)).text == "Đồng chí đã bỏ phiếu."
    code = (await until(lambda: RECEIPT.search(ballot.text))).group(1)
    return code, cast


async def _sealed(database_url):
    async def run(session):
        counts = await session.scalar(select(func.count()).select_from(BallotCount))
        blobs = (await session.scalars(select(SealedBallot.sealed))).all()
        return counts, blobs

    return await query(database_url, run)


async def _dump(database_url) -> list[bytes]:
    """Every row of every table as a line (xmin and ctid too on PostgreSQL)."""
    async def run(session):
        dialect = session.bind.dialect.name
        if dialect == "sqlite":
            tables = [r[0] for r in await session.execute(
                text("SELECT name FROM sqlite_master WHERE type = 'table'"))]
            prefix = ""
        else:
            tables = [r[0] for r in await session.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))]
            prefix = "xmin::text, ctid::text, "
        lines = []
        for table in sorted(tables):
            for row in await session.execute(text(f'SELECT {prefix}* FROM "{table}"')):
                lines.append(f"{table}|".encode() + repr(tuple(row)).encode())
        return lines

    return await query(database_url, run)


async def test_the_units_round_is_secret_and_casts_once(
    bot, fake_telegram, database_url, tmp_path, caplog
):
    caplog.set_level(logging.DEBUG)
    cell = Cell("CB01", "Chi bộ Khu phố 1", PEOPLE)
    await build(database_url, fake_telegram, [cell])
    await _committee(database_url, cell)
    users = cell.users
    an = users["DV01"]
    sqlite_path = Path(database_url.split("///", 1)[1]) if database_url.startswith("sqlite") else None

    async def copy(step: int):
        if sqlite_path is not None:
            return sqlite_copy(sqlite_path, tmp_path / f"after-{step:02d}.db")
        return await _dump(database_url)

    # The đảng ủy's meeting: all present, both collectives reviewed, no framework (no score).
    an._msg_cursor[an.chat_id] = len(an.messages())
    await an.send("/hop DBCS01")
    meeting = await an.wait_message()
    await press(an, "✅ Tất cả có mặt", meeting)
    await press(an, ORDER, meeting)
    for name in NAMES:
        await press(an, f"✅ Đã kiểm điểm: {name}", meeting)
    await press(an, "🗳 Bỏ phiếu xếp loại tập thể", meeting)
    await until(lambda: all(any("Phiếu bầu kín" in (m.text or "") for m in u.messages())
                            for u in users.values()), seconds=30)
    await fake_telegram.wait_idle()

    rng = random.Random(SEED)
    plan = {p.code: {name: rng.choice(CHOICES) for name in NAMES} for p in PEOPLE}
    order = [p.code for p in PEOPLE]
    random.Random(SEED + 1).shuffle(order)
    snapshots, log_marks, receipts = [await copy(0)], [len(caplog.records)], {}
    replayed = None
    for step, code in enumerate(order, start=1):
        receipts[code], cast = await _cast(users[code], plan[code])
        await fake_telegram.wait_idle()
        if step == 1:  # R-B7: the same cast pressed again (a replay) counts nothing
            replayed = await users[code].wait_answer(
                await users[code].press_data(cast.data, message=cast.message))
            await fake_telegram.wait_idle()
        if step == len(order) // 2:  # R-B7: a restart in the middle loses no cast ballot
            await bot.restart()
        snapshots.append(await copy(step))
        log_marks.append(len(caplog.records))
        if step < len(order):
            counts, blobs = await _sealed(database_url)
            assert counts == 0 and len(blobs) == step and len({len(b) for b in blobs}) == 1
    assert replayed.text.startswith("Đồng chí đã bỏ phiếu trong vòng này"), replayed.text

    diff = sqlite_diff if sqlite_path is not None else lines_diff
    guesses = {voter: guess(diff(snapshots[i], snapshots[i + 1]), NAMES)
               for i, voter in enumerate(order)}
    right, total = score(guesses, plan)
    assert not beats_chance(right, total), ("diffs", right, total)
    _check_logs(caplog, log_marks, order, plan, NAMES, PEOPLE)

    # Every voter cast: voting ended; the secretary alone opens the box (under five members
    # would be 1 of 1; here 2 of 3: the secretary and the deputy).
    await unseal(an, users["DV02"])
    await fake_telegram.wait_idle()
    results = newest(an, "Kết quả bỏ phiếu kín")
    published = newest(an, "phiếu đã được tính:")
    for code in receipts.values():
        assert code in published.text
    for position, name in enumerate(NAMES, start=1):
        counted = {c: sum(plan[v][name] == c for v in plan) for c in CHOICES}
        shown = " · ".join(
            f"{'để trống' if c == 'BLANK' else c} {counted[c]}" for c in CHOICES)
        assert f"{position}. {name}: {shown}" in results.text, results.text
    counts, blobs = await _sealed(database_url)
    assert counts == 2 * len(CHOICES) and blobs == []

    async def outcome(session):
        ballot_round = await session.scalar(select(BallotRound))
        ratings = (await session.scalars(select(UnitRating))).all()
        return ballot_round, ratings

    ballot_round, ratings = await query(database_url, outcome)
    assert (ballot_round.kind, ballot_round.state) == ("units", "closed")
    lines = [line for line in results.text.splitlines() if line[:3] in ("1. ", "2. ")]
    decided = [line for line in lines if "chưa có kết quả" not in line]
    assert len([r for r in ratings if r.proposed_level]) == len(decided)
    assert not fake_telegram.refused
    assert not fake_telegram.unanswered_callbacks()
