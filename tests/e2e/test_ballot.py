"""Issue 4: the meeting and the secret ballot through the fake Bot API: a chi bộ of 15, a tally
computed by hand, a second round for an undecided member, and what the database and the logs
hold afterwards (R-B6)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

from sqlalchemy import MetaData
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from storage.db import Database
from storage.models import BallotCandidate
from storage.models import BallotCount
from storage.models import BallotRound
from storage.models import Cycle
from storage.models import Member
from storage.models import Organisation
from storage.models import Rating
from storage.models import Role
from storage.models import TelegramAccount
from storage.queries import place_org
from tests.e2e.harness import clock_start
from tests.e2e.harness import vietnam_today
from tests.e2e.orderkit import collectives_reviewed_in

# Labels as Vietnamese users see them.
EVERYONE = "✅ Tất cả có mặt"
CAST = "✅ Xác nhận bỏ phiếu"
CLOSE = "🔒 Kết thúc vòng bỏ phiếu"
CLOSE_NOW = "✅ Xác nhận"  # the confirmation step of closing a round early
LABELS = {"X": "HTXS", "T": "HTT", "H": "HT", "K": "KHT", "-": "Để trống"}
CODES = {"X": "HTXS", "T": "HTT", "H": "HT", "K": "KHT", "-": "BLANK"}
UNLOCK = "🔓 Mở hòm phiếu"
KEY_MESSAGE = "chìa khóa hòm phiếu của đồng chí"
RECEIPTS = "phiếu đã được tính:"  # the published receipt codes, after the results
RECEIPT = re.compile(r"Mã biên nhận: ([0-9A-Z]{5}-[0-9A-Z]{5})")
CANDIDATE = re.compile(r"Đảng viên \d+/\d+: (.+)")


# --- building a cell directly in the database (faster than the CLI) ------------------------------


@dataclass
class Person:
    code: str
    name: str
    official: bool = True
    role: str | None = None  # "secretary" | "deputy"
    started: bool = True  # has a linked account and has started the bot
    admitted_months_ago: int = 120


@dataclass
class Cell:
    code: str
    name: str
    people: list[Person]
    users: dict = field(default_factory=dict)  # code -> FakeUser
    member_ids: dict = field(default_factory=dict)  # code -> member id
    org_id: int = 0


def _months_ago(months: int) -> dt.date:
    today = vietnam_today()
    year, month = divmod(today.year * 12 + today.month - 1 - months, 12)
    return dt.date(year, month + 1, min(today.day, 28))


async def build(
    database_url: str, fake, cells: list[Cell], *, rulebook="hd21-2019", collectives=True
) -> None:
    """A grassroots committee (with this year's plan) and its cells, members linked to users;
    with `collectives`, the cells' collectives already reviewed (R-D3: before the members'
    ballot)."""
    db = Database(database_url)
    now = clock_start()
    try:
        async with db.session() as session:
            root = Organisation(code="DBCS01", name="Đảng bộ Phường Bến Thành", kind="grassroots", path="")
            await place_org(session, root, None)
            year = vietnam_today().year
            session.add(Cycle(org_id=root.id, year=year, rulebook=rulebook,
                              finish_by=dt.date(year, 12, 31), report_by=dt.date(year + 1, 2, 20)))
            for cell in cells:
                org = Organisation(code=cell.code, name=cell.name, kind="cell", path="")
                await place_org(session, org, root)
                cell.org_id = org.id
                for person in cell.people:
                    member = Member(
                        code=person.code, full_name=person.name, org_id=org.id,
                        status="official" if person.official else "probationary",
                        admitted_on=_months_ago(person.admitted_months_ago),
                    )
                    session.add(member)
                    await session.flush()
                    cell.member_ids[person.code] = member.id
                    if person.role:
                        session.add(Role(member_id=member.id, org_id=org.id, role=person.role))
                    given = person.name.split()[-1]
                    user = fake.user(given, language_code="vi")
                    cell.users[person.code] = user
                    if person.started:
                        user.started = True
                        session.add(TelegramAccount(
                            telegram_id=user.id, member_id=member.id, language_code="vi",
                            started_at=now, linked_at=now, failed_invites=0,
                        ))
            if collectives:
                await session.flush()
                await collectives_reviewed_in(session)
    finally:
        await db.dispose()


async def query(database_url: str, fn):
    db = Database(database_url)
    try:
        async with db.session() as session:
            return await fn(session)
    finally:
        await db.dispose()


async def adopted(database_url: str, round_number: int) -> dict[str, str | None]:
    async def run(session):
        rows = await session.execute(
            select(Member.full_name, BallotCandidate.adopted_level, BallotCandidate.undecided)
            .join(BallotCandidate, BallotCandidate.candidate_id == Member.id)
            .join(BallotRound, BallotRound.id == BallotCandidate.round_id)
            .where(BallotRound.number == round_number)
        )
        return {name: (None if undecided else level) for name, level, undecided in rows}
    return await query(database_url, run)


async def counts(database_url: str, round_number: int) -> dict[str, dict[str, int]]:
    async def run(session):
        rows = await session.execute(
            select(Member.full_name, BallotCount.level, BallotCount.votes)
            .join(BallotCandidate, (BallotCandidate.round_id == BallotCount.round_id)
                  & (BallotCandidate.position == BallotCount.position))
            .join(Member, Member.id == BallotCandidate.candidate_id)
            .join(BallotRound, BallotRound.id == BallotCount.round_id)
            .where(BallotRound.number == round_number)
        )
        result: dict[str, dict[str, int]] = {}
        for name, level, votes in rows:
            result.setdefault(name, {})[level] = votes
        return result
    return await query(database_url, run)


# --- driving the bot ------------------------------------------------------------------------------


def newest(user, needle: str):
    """The newest bot message in the user's chat whose text contains `needle`."""
    for message in reversed(user.messages()):
        if message.text and needle in message.text:
            return message
    raise AssertionError(f"{user.first_name}: no message with {needle!r}")


async def press(user, label: str, message=None):
    return await user.wait_answer(await user.press(label, message=message))


async def open_meeting(secretary, excused: list[str] = (), absent: list[str] = ()):
    """/hop, everyone present, then the given names pressed once (excused) or twice (absent)."""
    await secretary.send("/hop")
    meeting = await secretary.wait_message()
    await press(secretary, EVERYONE, meeting)
    for name in excused:
        await press(secretary, f"✅ {name}", meeting)
    for name in absent:
        await press(secretary, f"✅ {name}", meeting)
        await press(secretary, f"🟡 {name}", meeting)
    return meeting


async def vote(user, choices: dict[str, str], *, confirm: bool = True, fix_first: bool = False):
    """Press through the ballot: for each candidate shown, the level `choices[name]`
    (X/T/H/K/-). With `fix_first`, the first choice is made wrong, then changed from the
    summary. Returns the receipt code (or the ballot message when not confirming)."""
    ballot = newest(user, "Phiếu bầu kín")
    first = True
    while True:
        shown = CANDIDATE.search(ballot.text)
        if shown is None:
            break
        name = shown.group(1).strip()
        wanted = choices[name]
        if first and fix_first:
            wanted = "K" if choices[name] != "K" else "X"
        first = False
        await press(user, LABELS[wanted], ballot)
    assert "Đồng chí đã chọn:" in ballot.text, ballot.text
    if fix_first:
        await press(user, "✏ 1", ballot)
        name = CANDIDATE.search(ballot.text).group(1).strip()
        await press(user, LABELS[choices[name]], ballot)
    for name, code in choices.items():
        label = "để trống" if code == "-" else LABELS[code]
        assert f"{name}: {label}" in ballot.text, (name, ballot.text)
    if not confirm:
        return ballot
    answer = await press(user, CAST, ballot)
    assert answer.text == "Đồng chí đã bỏ phiếu.", answer
    return (await until(lambda: RECEIPT.search(ballot.text))).group(1)


async def start_round(secretary, fake):
    """/bo_phieu, then wait for the round message, sent once the keys and ballots are out."""
    before = len(secretary.messages())
    await secretary.send("/bo_phieu")
    progress = await until(lambda: next(
        (m for m in secretary.messages()[before:] if "đã bỏ phiếu" in (m.text or "")), None), 30)
    await fake.wait_idle()
    return progress


async def unseal(*tellers):
    """Committee members press the key button of their newest key message; returns the
    answers. The last press of k opens the box."""
    answers = []
    for user in tellers:
        answers.append(await press(user, UNLOCK, newest(user, KEY_MESSAGE)))
    return answers


async def unseal_with(users) -> None:
    """Whoever of `users` holds a key presses it, until the box is open."""
    for user in users:
        try:
            key = newest(user, KEY_MESSAGE)
        except AssertionError:
            continue
        if (await press(user, UNLOCK, key)).text == "Hòm phiếu đã được mở.":
            return
    raise AssertionError("the box did not open")
def _has(user, needle: str) -> bool:
    return any(needle in (m.text or "") for m in user.messages())


async def until(condition, seconds: float = 10):
    """Poll `condition` until it returns something truthy."""
    for _ in range(int(seconds * 100)):
        if result := condition():
            return result
        await asyncio.sleep(0.01)
    raise AssertionError(f"condition not met within {seconds}s")


# --- the chi bộ of 15 ------------------------------------------------------------------------------

PEOPLE = [
    Person("DV01", "Nguyễn Văn An", role="secretary"),
    Person("DV02", "Trần Thị Bình", role="deputy"),
    Person("DV03", "Lê Văn Cường"),
    Person("DV04", "Phạm Thị Dung"),
    Person("DV05", "Hoàng Văn Em"),
    Person("DV06", "Vũ Thị Giang"),
    Person("DV07", "Đặng Văn Hải"),
    Person("DV08", "Bùi Thị Hoa"),
    Person("DV09", "Đỗ Văn Khánh"),
    Person("DV10", "Hồ Thị Lan"),
    Person("DV11", "Ngô Văn Minh"),
    Person("DV12", "Dương Thị Nga"),
    Person("DV13", "Lý Văn Phúc"),  # official, absent with an accepted excuse
    Person("DV14", "Mai Thị Quỳnh", official=False, admitted_months_ago=8),
    Person("DV15", "Trịnh Văn Sơn", official=False, admitted_months_ago=9),
]
VOTERS = [p.code for p in PEOPLE[:12]]  # R-B1: the 12 official members present

# Denominator (R-B3): 13 official members convened - 1 excused = 12; adopted when the votes
# for a level and every higher one are more than half: 2 * votes > 12, i.e. at least 7 (R-B4).
# One character per voter DV01..DV12: X=HTXS, T=HTT, H=HT, K=KHT, -=blank.
ROUND_1 = {
    "Nguyễn Văn An": "XXXXXXXTTTTH",  # HTXS 7 > 6                          -> HTXS
    "Trần Thị Bình": "XXXXXXTTTTTT",  # HTXS 6; HTXS+HTT 6+6 = 12            -> HTT
    "Lê Văn Cường": "XXXTTTHHHHKK",  # 3; 3+3 = 6; 3+3+4 = 10               -> HT
    "Phạm Thị Dung": "TTTHHHHKKKK-",  # 0; 0+3 = 3; 3+4 = 7                   -> HT
    "Hoàng Văn Em": "KKKKKKKHHH--",  # 0; 0; 0+3 = 3; 3+7 = 10              -> KHT
    "Vũ Thị Giang": "HHHKKK------",  # 0; 0; 3; 3+3 = 6, 6 blank: undecided -> round 2
    "Đặng Văn Hải": "XXXXTTTHHHKK",  # 4; 4+3 = 7 (plurality would decide nothing) -> HTT
    "Bùi Thị Hoa": "XTTTTTTTTTT-",  # 1; 1+10 = 11                          -> HTT
    "Đỗ Văn Khánh": "TTTTTTTTTTTT",  # 0; 12                                 -> HTT
    "Hồ Thị Lan": "TTTTTTTHHHHH",  # 0; 7                                  -> HTT
    "Ngô Văn Minh": "TTTTTTHHHHHH",  # 0; 6; 6+6 = 12                        -> HT
    "Dương Thị Nga": "XXXXXXX-----",  # 7                                     -> HTXS
    "Mai Thị Quỳnh": "TTTTTTTT----",  # probationary, rated: 0; 8            -> HTT
    "Trịnh Văn Sơn": "HHHHHHH-----",  # probationary, rated: 0; 0; 7         -> HT
}
EXPECTED_1 = {
    "Nguyễn Văn An": "HTXS", "Trần Thị Bình": "HTT", "Lê Văn Cường": "HT",
    "Phạm Thị Dung": "HT", "Hoàng Văn Em": "KHT", "Vũ Thị Giang": None,
    "Đặng Văn Hải": "HTT", "Bùi Thị Hoa": "HTT", "Đỗ Văn Khánh": "HTT", "Hồ Thị Lan": "HTT",
    "Ngô Văn Minh": "HT", "Dương Thị Nga": "HTXS", "Mai Thị Quỳnh": "HTT", "Trịnh Văn Sơn": "HT",
}
ROUND_2 = {"Vũ Thị Giang": "HHHHTTTKK---"}  # 0; 3; 3+4 = 7 -> HT
EXPECTED_2 = {"Vũ Thị Giang": "HT"}


def ballots(plan: dict[str, str]) -> dict[str, dict[str, str]]:
    """Voter code -> {candidate name: choice}."""
    return {code: {name: votes[i] for name, votes in plan.items()} for i, code in enumerate(VOTERS)}


async def test_a_cell_of_fifteen_votes_and_the_tally_matches_the_hand_count(
    bot, fake_telegram, database_url
):
    cell = Cell("CB01", "Chi bộ Khu phố 1", PEOPLE)
    await build(database_url, fake_telegram, [cell])
    users = cell.users
    secretary = users["DV01"]

    meeting = await open_meeting(secretary, excused=["Lý Văn Phúc"])
    assert "🟡 Lý Văn Phúc" in meeting.button_labels()
    assert "Có mặt: 14/15 đảng viên; đảng viên chính thức có mặt, được bỏ phiếu: 12." in meeting.text
    assert "Mẫu số: 12; quá một nửa là từ 7 phiếu trở lên." in meeting.text
    assert "Số đảng viên có mặt: đủ (12/12, cần từ hai phần ba trở lên)." in meeting.text
    assert "(R-" not in meeting.text
    assert "Số đảng viên được xếp loại tại hội nghị: 14." in meeting.text

    await secretary.send("/bo_phieu")
    progress = await until(
        lambda: next((m for m in secretary.messages() if "0/12 đã bỏ phiếu" in (m.text or "")), None),
        seconds=30,
    )
    assert "Chưa bỏ phiếu: Nguyễn Văn An, Trần Thị Bình, Lê Văn Cường" in progress.text  # by given name
    for code in ("DV13", "DV14", "DV15"):  # the excused and the probationary get no ballot
        assert not any("Phiếu bầu kín" in (m.text or "") for m in users[code].messages())
    for code in VOTERS:
        assert "Đảng viên 1/14: Nguyễn Văn An" in newest(users[code], "Phiếu bầu kín").text

    plan = ballots(ROUND_1)
    codes = await asyncio.gather(*(
        vote(users[code], plan[code], fix_first=(code == "DV02")) for code in VOTERS
    ))
    assert len(set(codes)) == 12

    # Voting ends with the last ballot; the box stays sealed until 2 of the committee of 3
    # (the secretary, the deputy and the first other member present) press their key.
    await fake_telegram.wait_idle()
    assert "Đã kết thúc bỏ phiếu: 12/12" in progress.text and progress.buttons == []
    assert "(Nguyễn Văn An, Trần Thị Bình, Lê Văn Cường)" in progress.text  # by given name
    assert await counts(database_url, 1) == {}
    first, second = await unseal(users["DV03"], users["DV02"])
    assert first.text.startswith("Đã nhận chìa khóa của đồng chí. Đã có 1/2"), first.text
    assert second.text == "Hòm phiếu đã được mở."
    await fake_telegram.wait_idle()
    assert "Đã kết thúc: 12/12 đã bỏ phiếu" in progress.text and progress.buttons == []
    assert await adopted(database_url, 1) == EXPECTED_1
    tallies = await counts(database_url, 1)
    for name, votes in ROUND_1.items():
        for char, level in CODES.items():
            assert tallies[name][level] == votes.count(char), (name, level)
    for code in VOTERS:
        results = newest(users[code], "Kết quả bỏ phiếu kín")
        assert "Số phiếu bầu: 12/12. Mẫu số: 12" in results.text
        assert "Nguyễn Văn An: HTXS 7 · HTT 4 · HT 1 · KHT 0 · để trống 0 → HTXS" in results.text
        assert "Vũ Thị Giang: HTXS 0 · HTT 0 · HT 3 · KHT 3 · để trống 6 → chưa có kết quả" in results.text
        receipts = newest(users[code], RECEIPTS)  # every counted receipt, published
        assert all(receipt in receipts.text for receipt in codes) and "/kiem_tra_phieu" in receipts.text
        assert not any(receipt in results.text for receipt in codes)  # a message of its own
    results = newest(secretary, "Kết quả bỏ phiếu kín")
    assert results.button_labels() == ["🗳 Bỏ phiếu lại cho 1 đồng chí"]

    # Round 2, for the undecided member only.
    [[again]] = results.buttons
    await press(secretary, "🗳 Bỏ phiếu lại cho 1 đồng chí", results)
    plan = ballots(ROUND_2)
    for code in VOTERS:  # the keys go out first, then the ballots: wait for each
        await until(lambda code=code: "vòng 2" in newest(users[code], "Phiếu bầu kín").text, 30)
    await fake_telegram.wait_idle()
    # The round the results asked for is open: their button is gone, and a press of it still
    # in a chat (a copy, a replay) is checked again and answered with the open round.
    assert results.buttons == []
    replayed = await secretary.press_data(again["callback_data"], message=results)
    assert (await secretary.wait_answer(replayed)).text == "Vòng bỏ phiếu 2 đang mở."
    await fake_telegram.wait_idle()
    await asyncio.gather(*(vote(users[code], plan[code]) for code in VOTERS))
    await fake_telegram.wait_idle()
    await unseal(secretary, users["DV03"])
    # The tally can be quiet for longer than wait_idle's window on a loaded machine.
    await until(lambda: _has(secretary, "Kết quả bỏ phiếu kín — Chi bộ Khu phố 1, vòng 2"), seconds=30)
    await fake_telegram.wait_idle()
    assert await adopted(database_url, 2) == EXPECTED_2
    # The adopted levels are now the cell's proposals, waiting for the deciding level.
    proposals = await proposed_levels(database_url)
    assert proposals == {name: level for name, level in {**EXPECTED_1, **EXPECTED_2}.items() if level}
    results = newest(secretary, "Kết quả bỏ phiếu kín — Chi bộ Khu phố 1, vòng 2")
    assert "Vũ Thị Giang: HTXS 0 · HTT 3 · HT 4 · KHT 2 · để trống 3 → HT" in results.text
    assert results.buttons == []


async def proposed_levels(database_url: str) -> dict[str, str]:
    db = Database(database_url)
    try:
        async with db.session() as session:
            rows = await session.execute(
                select(Member.full_name, Rating.proposed_level).join(Rating, Rating.member_id == Member.id)
            )
            return dict(rows.all())
    finally:
        await db.dispose()


# --- R-B6: the database at rest and the logs ----------------------------------------------------

SMALL = [
    Person("DV01", "Nguyễn Văn An", role="secretary"),
    Person("DV02", "Trần Thị Bình"),
    Person("DV03", "Lê Văn Cường"),
    Person("DV04", "Mai Thị Quỳnh", official=False, admitted_months_ago=8),
]
SMALL_VOTES = {  # voters DV01, DV02, DV03
    "DV01": {"Nguyễn Văn An": "T", "Trần Thị Bình": "X", "Lê Văn Cường": "H", "Mai Thị Quỳnh": "-"},
    "DV02": {"Nguyễn Văn An": "X", "Trần Thị Bình": "T", "Lê Văn Cường": "K", "Mai Thị Quỳnh": "T"},
    "DV03": {"Nguyễn Văn An": "X", "Trần Thị Bình": "T", "Lê Văn Cường": "H", "Mai Thị Quỳnh": "H"},
}
VOTER_COLUMNS = {"member_id", "voter_id", "telegram_id", "chat_id", "voter"}
CHOICE_COLUMNS = {"level", "choice", "choices", "votes", "draft"}


def _file_bytes(database_url: str) -> tuple[bytes, bytes]:
    path = Path(database_url.split("///", 1)[1])
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes(), wal.read_bytes() if wal.exists() else b""


async def _dump(database_url: str) -> dict[str, tuple[list[str], list[tuple]]]:
    """Every table, by reflection: column names and all rows (with the SQLite rowid if any)."""
    db = Database(database_url)
    try:
        async with db.engine.connect() as conn:
            metadata = MetaData()
            await conn.run_sync(metadata.reflect)
            dump = {}
            for name, table in metadata.tables.items():
                columns = [c.name for c in table.columns]
                rows = [tuple(r) for r in (await conn.execute(table.select())).all()]
                dump[name] = (columns, rows)
            return dump
    finally:
        await db.dispose()


async def _rowids(database_url: str, table: str) -> list[tuple]:
    """(rowid, *columns) in rowid order on SQLite. PostgreSQL has no stable row id (an UPDATE
    writes a new row version): there the first item is None and rows are in key order."""
    db = Database(database_url)
    try:
        async with db.engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                sql = f"SELECT rowid, * FROM {table} ORDER BY rowid"
            else:
                sql = f"SELECT NULL, * FROM {table} ORDER BY 2, 3, 4"
            return [tuple(r) for r in (await conn.execute(text(sql))).all()]
    finally:
        await db.dispose()


async def test_nothing_links_a_voter_to_a_choice(bot, fake_telegram, database_url, clock, caplog):
    caplog.set_level(logging.DEBUG)
    cell = Cell("CB01", "Chi bộ Khu phố 1", SMALL)
    await build(database_url, fake_telegram, [cell])
    on_sqlite = database_url.startswith("sqlite")  # the file, WAL and rowid checks are SQLite's
    users = cell.users
    await open_meeting(users["DV01"])
    opened_at = clock()
    await start_round(users["DV01"], fake_telegram)
    key = newest(users["DV01"], KEY_MESSAGE)  # a cell of 4: the secretary alone holds the key
    share_data = key.buttons[0][0]["callback_data"]
    assert share_data.startswith("bk1:") and len(share_data.encode()) <= 64

    # Voter rows exist from the opening; no count row exists before the box is opened.
    voters_before = await _rowids(database_url, "ballot_voters")
    assert [row[3] for row in voters_before] == [0, 0, 0]  # has_voted
    assert await _rowids(database_url, "ballot_counts") == []

    receipts, cast_times = [], []
    for code in ("DV02", "DV03", "DV01"):
        clock.advance(minutes=7)
        cast_times.append(clock())
        receipts.append(await vote(users[code], SMALL_VOTES[code]))
        await fake_telegram.wait_idle()
        if on_sqlite:
            # The receipt went out through the outbox; once delivered, its row is gone from
            # the file (zeroed) and the WAL was truncated: the receipt is nowhere next to the
            # voter.
            main, wal = _file_bytes(database_url)
            for form in (receipts[-1], receipts[-1].replace("-", "")):
                assert form.encode() not in main and form.encode() not in wal
        assert await _rowids(database_url, "ballot_counts") == []
    sealed = await query(database_url, lambda s: s.execute(text("SELECT sealed FROM ballot_sealed")))
    sealed = [row[0] for row in sealed.all()]
    assert len(sealed) == 3 and len({len(blob) for blob in sealed}) == 1
    clock.advance(minutes=3)
    assert (await press(users["DV01"], UNLOCK, key)).text == "Hòm phiếu đã được mở."
    await fake_telegram.wait_idle()
    closed = await query(database_url, lambda s: s.scalar(select(BallotRound)))
    assert closed.state == "closed" and closed.opened_at == opened_at and closed.closed_at == clock()
    assert [r[:3] for r in await _rowids(database_url, "ballot_voters")] == [r[:3] for r in voters_before]
    assert sum(r[-1] for r in await _rowids(database_url, "ballot_counts")) == 3 * 4

    dump = await _dump(database_url)
    for table, (columns, _rows) in dump.items():
        names = set(columns)
        assert not (names & VOTER_COLUMNS and names & CHOICE_COLUMNS), table
    assert set(dump["ballot_voters"][0]) == {"round_id", "member_id", "has_voted", "receipt_message_id"}
    assert set(dump["ballot_counts"][0]) == {"round_id", "position", "level", "votes"}
    assert set(dump["ballot_receipts"][0]) == {"code_hash", "round_id"}
    assert dump["ballot_sealed"][1] == []  # deleted at the opening
    assert not any(t.startswith("ballot_draft") for t in dump)
    # No timestamp of the ballot tables equals the moment of a cast, but the end of voting.
    for table, (_columns, rows) in dump.items():
        if not table.startswith("ballot"):
            continue
        for row in rows:
            for value in row:
                if isinstance(value, dt.datetime):
                    value = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value
                    assert value not in cast_times[:-1], (table, row)
    action = dump["audit_log"][0].index("action")
    audit = [row[action] for row in dump["audit_log"][1] if row[action].startswith("ballot")]
    assert sorted(audit) == ["ballot.close", "ballot.open"]
    # Receipts: no rowid (no insertion order), no plain code; no sealed ballot, no share left.
    share = share_data.split(":")[3].encode()
    if on_sqlite:
        try:
            await _rowids(database_url, "ballot_receipts")
            raise AssertionError("ballot_receipts must be WITHOUT ROWID")
        except OperationalError:
            pass
        main, wal = _file_bytes(database_url)
        for receipt in receipts:
            for form in (receipt, receipt.replace("-", "")):
                assert form.encode() not in main and form.encode() not in wal
        for marker in (b'"choices"', b'"shown"', b"bv1:", share, *(blob[:24] for blob in sealed)):
            assert marker not in main and marker not in wal, marker

    # The logs: no receipt code, no callback data, no share, no member's name, no level.
    names = [p.name for p in SMALL]
    level_word = re.compile(r"\b(HTXS|HTT|HT|KHT)\b")
    lines = [record.getMessage() for record in caplog.records]
    # DEBUG really was on for the libraries that see the payloads; they were redacted.
    assert any(line.startswith("Calling Bot API endpoint `editMessageText`") for line in lines)
    if on_sqlite:  # aiosqlite logs every statement at DEBUG; asyncpg logs none
        assert any("INSERT INTO ballot_sealed" in line for line in lines)
    for record in caplog.records:
        line = record.getMessage()
        assert not any(r in line or r.replace("-", "") in line for r in receipts), line
        assert "bv1:" not in line and "bk1:" not in line and share.decode() not in line, line
        assert not any(name in line for name in names), line
        assert not level_word.search(line), line
