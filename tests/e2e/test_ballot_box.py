"""Issue 11: the sealed ballot box, tried as someone who holds every copy of the database.

A cell of 16 votes through the real bot against the fake Bot API, one voter at a time, with
choices drawn at random (uniform over HTXS, HTT, HT, KHT, blank): whatever does not depend on
a choice guesses it right one time in five. After every single cast the database is copied:
the SQLite file and its WAL, or on PostgreSQL every table with ``xmin`` and ``ctid`` and a
``pageinspect`` read of every page of the ballot tables. An attacker then tries, for each
voter, what changed between the copy before and after their cast (the diff of consecutive
copies), the rows that share that voter's ``xmin`` (PostgreSQL), the sealed ballots in the
order they sit in the pages, and the log lines written during the cast; the test fails if any
of those guesses beats chance. The same attacker is first shown a leaky copy, to prove that it
finds choices when they are there. Then the committee opens the box: the tally is exact and
every receipt is in the published list.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import os
import random
import re
import secrets
import shutil
import struct
import threading
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.services.ballot import CHOICES
from storage.db import Database
from tests.e2e.harness import BotRunner
from tests.e2e.harness import Clock
from tests.e2e.test_ballot import RECEIPTS
from tests.e2e.test_ballot import Cell
from tests.e2e.test_ballot import Person
from tests.e2e.test_ballot import build
from tests.e2e.test_ballot import counts
from tests.e2e.test_ballot import newest
from tests.e2e.test_ballot import open_meeting
from tests.e2e.test_ballot import unseal
from tests.e2e.test_ballot import until
from tests.e2e.test_ballot import vote

VOTERS = 16
SEED = 20261201
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi"]
GIVEN = ["Văn An", "Thị Bình", "Văn Cường", "Thị Dung", "Văn Em", "Thị Giang", "Văn Hải",
         "Thị Hoa", "Văn Khánh", "Thị Lan", "Văn Minh", "Thị Nga", "Văn Phúc", "Thị Quỳnh",
         "Văn Sơn", "Thị Tâm"]
LETTER = {"HTXS": "X", "HTT": "T", "HT": "H", "KHT": "K", "BLANK": "-"}
CHANCE = 1 / len(CHOICES)
BALLOT_TABLES = ("ballot_rounds", "ballot_voters", "ballot_sealed", "ballot_receipts",
                 "ballot_counts", "outbox_messages", "inbox_updates")
PAGE = 4096
LEVEL_WORD = re.compile(rb"(?<![A-Z])(HTXS|HTT|HT|KHT|BLANK)(?![A-Z])")


def _people() -> list[Person]:
    names = [f"{f} {g}" for f, g in zip(itertools.cycle(FAMILY), GIVEN[:VOTERS])]
    people = [Person(f"DV{i + 1:02d}", name) for i, name in enumerate(names)]
    people[0].role, people[1].role = "secretary", "deputy"
    return people


def _plan(people: list[Person]) -> dict[str, dict[str, str]]:
    """voter code -> {candidate name: choice code}, uniform at random."""
    rng = random.Random(SEED)
    return {p.code: {c.name: rng.choice(CHOICES) for c in people} for p in people}


# --- the attacker -----------------------------------------------------------------------------


def _ballot_windows(evidence: bytes, size: int) -> list[bytes]:
    """Runs of `size` bytes that read as a plaintext ballot (one choice index per candidate)."""
    found = []
    run = 0
    for index, byte in enumerate(evidence):
        run = run + 1 if byte < len(CHOICES) else 0
        if run >= size:
            window = evidence[index - size + 1 : index + 1]
            if len(set(window)) > 1:  # not zeroed free space
                found.append(window)
    return found


def guess(evidence: bytes, names: list[str]) -> dict[str, str]:
    """The attacker's best guess of one ballot from `evidence`: a level's name written next
    to a candidate (or anywhere), or a run of bytes that reads as a plaintext ballot; with no
    evidence, a fixed guess (right one time in five)."""
    words = {c: 0 for c in CHOICES}
    for level in LEVEL_WORD.finditer(evidence):
        words[level.group(1).decode()] += 1
    result = {}
    windows = _ballot_windows(evidence, len(names))
    for position, name in enumerate(names):
        near: dict[str, int] = {}  # the first level written after each mention of the name
        for mention in re.finditer(re.escape(name.encode()), evidence):
            after = evidence[mention.end() : mention.end() + 40]
            level = LEVEL_WORD.search(after)
            if level:
                near[level.group(1).decode()] = near.get(level.group(1).decode(), 0) + 1
        if near:
            result[name] = max(near, key=near.get)
        elif windows:
            result[name] = CHOICES[windows[0][position]]
        elif any(words.values()):
            result[name] = max(words, key=words.get)
        else:
            result[name] = CHOICES[0]
    return result


def beats_chance(correct: int, total: int) -> bool:
    """More right guesses than chance allows (mean + 4.5 standard deviations: a false alarm
    about once in 300,000 runs)."""
    mean = total * CHANCE
    return correct > mean + 4.5 * math.sqrt(total * CHANCE * (1 - CHANCE))


def score(guesses: dict[str, dict[str, str]], plan: dict[str, dict[str, str]]) -> tuple[int, int]:
    right = sum(guesses[v][name] == plan[v][name] for v in guesses for name in guesses[v])
    total = sum(len(g) for g in guesses.values())
    print(f"attack: {right} of {total} choices guessed right (chance {total * CHANCE:.0f})")
    return right, total


def _chunks(data: bytes) -> list[bytes]:
    return [data[i : i + PAGE] for i in range(0, len(data), PAGE)]


def sqlite_diff(before: tuple[bytes, bytes], after: tuple[bytes, bytes]) -> bytes:
    """The pages of the file and of the WAL that differ between two copies."""
    changed = []
    for old, new in zip(before, after, strict=True):
        old_pages, new_pages = _chunks(old), _chunks(new)
        for index, page in enumerate(new_pages):
            if index >= len(old_pages) or old_pages[index] != page:
                changed.append(page)
    return b"".join(changed)


def lines_diff(before: list[bytes], after: list[bytes]) -> bytes:
    old = set(before)
    return b"\n".join(line for line in after if line not in old)


def attack_diffs(snapshots, diff, cast_order, names) -> dict[str, dict[str, str]]:
    return {
        voter: guess(diff(snapshots[i], snapshots[i + 1]), names)
        for i, voter in enumerate(cast_order)
    }


# --- copies -------------------------------------------------------------------------------------


def sqlite_copy(path: Path, into: Path) -> tuple[bytes, bytes]:
    """Copy the database file and its WAL, as a backup would; returns their bytes."""
    wal = path.with_name(path.name + "-wal")
    shutil.copyfile(path, into)
    data = (path.read_bytes(), wal.read_bytes() if wal.exists() else b"")
    into.with_name(into.name + "-wal").write_bytes(data[1])
    return data


async def pg_copy(url: str) -> list[bytes]:
    """Every table with xmin and ctid, and every heap page of the ballot tables through
    pageinspect, one line per row or line pointer."""
    db = Database(url)
    lines: list[bytes] = []
    try:
        async with db.engine.connect() as conn:
            tables = sorted(
                row[0]
                for row in await conn.exec_driver_sql(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                )
            )
            for table in tables:
                for row in await conn.exec_driver_sql(f'SELECT xmin::text, ctid::text, * FROM "{table}"'):
                    lines.append(f"{table}|xmin={row[0]}|".encode() + repr(tuple(row[1:])).encode())
            for table in BALLOT_TABLES:
                size = (await conn.exec_driver_sql(f"SELECT pg_relation_size('{table}')")).scalar()
                for page in range(size // 8192):
                    raw = (await conn.exec_driver_sql(f"SELECT get_raw_page('{table}', {page})")).scalar()
                    lines.append(f"page|{table}|{page}|".encode() + bytes(raw))
                    items = await conn.exec_driver_sql(
                        "SELECT lp, t_xmin::text, t_ctid::text, t_data "
                        f"FROM heap_page_items(get_raw_page('{table}', {page}))"
                    )
                    for lp, xmin, ctid, data in items:
                        lines.append(f"item|{table}|{page}|{lp}|xmin={xmin}|{ctid}|".encode() + bytes(data or b""))
    finally:
        await db.dispose()
    return lines


def xmin_groups(copy: list[bytes], voter_xmins: dict[str, str]) -> dict[str, bytes]:
    """For each voter, every line written by the transaction that flipped their has_voted."""
    return {
        voter: b"\n".join(line for line in copy if f"xmin={xmin}|".encode() in line)
        for voter, xmin in voter_xmins.items()
    }


async def pg_voter_xmins(url: str, member_codes: dict[int, str]) -> dict[str, str]:
    db = Database(url)
    try:
        async with db.engine.connect() as conn:
            rows = await conn.exec_driver_sql(
                "SELECT member_id, xmin::text FROM ballot_voters WHERE has_voted"
            )
            return {member_codes[member_id]: xmin for member_id, xmin in rows}
    finally:
        await db.dispose()


# --- the round ----------------------------------------------------------------------------------


async def _round(fake, url: str, copy, caplog):
    """Vote a round of VOTERS, one voter at a time, copying after every cast."""
    people = _people()
    cell = Cell("CB01", "Chi bộ Khu phố 1", people)
    db = Database(url)
    try:
        await db.migrate()
    finally:
        await db.dispose()
    await build(url, fake, [cell])
    runner = BotRunner(fake, url, Clock())
    await runner.start()
    try:
        users = cell.users
        secretary = users["DV01"]
        await open_meeting(secretary)
        await secretary.send("/bo_phieu")
        await until(lambda: all(
            any("Phiếu bầu kín" in (m.text or "") for m in user.messages()) for user in users.values()
        ), seconds=30)
        await fake.wait_idle()
        plan = _plan(people)
        order = [p.code for p in people]
        random.Random(SEED + 1).shuffle(order)
        snapshots = [await copy(0)]
        log_marks = [len(caplog.records)]
        receipts = {}
        for step, code in enumerate(order, start=1):
            receipts[code] = await vote(users[code], {n: LETTER[c] for n, c in plan[code].items()})
            await fake.wait_idle()
            snapshots.append(await copy(step))
            log_marks.append(len(caplog.records))
        counts_before = await counts(url, 1)
        # Voting ended with the last ballot: two of the committee of three open the box.
        await unseal(users["DV02"], users["DV01"])
        await fake.wait_idle()
        # The results, then the published receipts in a message of their own.
        results = (newest(secretary, "Kết quả bỏ phiếu kín"), newest(secretary, RECEIPTS))
        final = await copy(len(order) + 1)
        tally = await counts(url, 1)
        return people, plan, order, snapshots, log_marks, receipts, counts_before, results, tally, final
    finally:
        await runner.stop()


def _check_tally_and_receipts(people, plan, receipts, counts_before, results, tally) -> None:
    assert counts_before == {}  # no count existed before the box was opened
    for candidate in people:
        expected = {c: sum(plan[v][candidate.name] == c for v in plan) for c in CHOICES}
        assert tally[candidate.name] == expected, candidate.name
    shown, published = results
    assert f"Số phiếu bầu: {VOTERS}/{VOTERS}" in shown.text
    for code in receipts.values():
        assert code in published.text  # every counted ballot's receipt is in the published list
    assert f"Mã biên nhận của {VOTERS} phiếu đã được tính" in published.text


def _check_logs(caplog, log_marks, order, plan, names, people) -> None:
    lines = [r.getMessage().encode() for r in caplog.records]
    guesses = {
        voter: guess(b"\n".join(lines[log_marks[i] : log_marks[i + 1]]), names)
        for i, voter in enumerate(order)
    }
    right, total = score(guesses, plan)
    assert not beats_chance(right, total), ("logs", right, total)
    level = re.compile(r"\b(HTXS|HTT|HT|KHT)\b")
    for record in caplog.records:
        line = record.getMessage()
        assert not level.search(line) and "bv1:" not in line and "bk1:" not in line, line
        assert not any(p.name in line for p in people), line


def _self_check(names: list[str], plan, order) -> None:
    """The attacker is not blind: shown copies that do leak, it finds the choices."""
    for leak in (
        lambda v: repr({n: plan[v][n] for n in names}).encode(),  # a JSON-like draft
        lambda v: bytes(CHOICES.index(plan[v][n]) for n in names),  # an unsealed ballot
    ):
        snapshots = [(b"\0" * PAGE, b"")]
        for voter in order:
            snapshots.append((snapshots[-1][0] + leak(voter).ljust(PAGE, b"\0"), b""))
        guesses = attack_diffs(snapshots, sqlite_diff, order, names)
        right, total = score(guesses, plan)
        assert beats_chance(right, total) and right == total


async def test_no_copy_of_the_sqlite_database_tells_a_choice(fake_telegram, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "box.db"
    url = f"sqlite+aiosqlite:///{path}"
    copies = tmp_path / "copies"
    copies.mkdir()

    async def copy(step: int):
        return sqlite_copy(path, copies / f"after-{step:02d}.db")

    (people, plan, order, snapshots, log_marks, receipts, counts_before, results, tally,
     final) = await _round(fake_telegram, url, copy, caplog)
    names = [p.name for p in people]
    _self_check(names, plan, order)

    # 1. The diff of every consecutive pair of copies.
    right, total = score(attack_diffs(snapshots, sqlite_diff, order, names), plan)
    assert not beats_chance(right, total), ("diffs", right, total)
    # 2. Each copy on its own: no count, one sealed ballot per cast, all of one size; the
    #    sealed ballots in the order they sit in the file, matched to the cast order.
    sealed_by_step = []
    for step in range(1, len(order) + 1):
        db = Database(f"sqlite+aiosqlite:///{copies / f'after-{step:02d}.db'}")
        try:
            async with db.engine.connect() as conn:
                assert (await conn.exec_driver_sql("SELECT count(*) FROM ballot_counts")).scalar() == 0
                blobs = [row[0] for row in await conn.exec_driver_sql("SELECT sealed FROM ballot_sealed")]
        finally:
            await db.dispose()
        assert len(blobs) == step and len({len(b) for b in blobs}) == 1
        sealed_by_step.append(blobs)
    main_file = snapshots[-1][0]
    in_page_order = sorted(sealed_by_step[-1], key=main_file.find)
    guesses = {voter: guess(blob, names) for voter, blob in zip(order, in_page_order, strict=True)}
    right, total = score(guesses, plan)
    assert not beats_chance(right, total), ("page order", right, total)
    # Even knowing which sealed ballot each voter added (the diff), its bytes say nothing.
    added = {}
    for i, voter in enumerate(order):
        before = set(sealed_by_step[i - 1]) if i else set()
        (blob,) = set(sealed_by_step[i]) - before
        added[voter] = guess(blob, names)
    right, total = score(added, plan)
    assert not beats_chance(right, total), ("each voter's sealed ballot", right, total)
    # 3. The logs written during each cast.
    _check_logs(caplog, log_marks, order, plan, names, people)
    # 4. The opening: exact tally, every receipt published, no sealed ballot left anywhere.
    _check_tally_and_receipts(people, plan, receipts, counts_before, results, tally)
    for blob in sealed_by_step[-1]:
        assert blob[:32] not in final[0] and blob[:32] not in final[1]


# --- PostgreSQL -----------------------------------------------------------------------------------


def _admin(url: str, *statements: str) -> None:
    """Run admin statements on their own event loop, in a thread (the test's loop is busy)."""
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(url, timeout=30)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(run())
        except BaseException as error:  # re-raised in the test's thread
            errors.append(error)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


@pytest.fixture
def pg_url(request):
    """A fresh PostgreSQL database with pageinspect, on the suite's server (``pg_admin_url``
    where the suite provides it, else KIEMDIEM_PG_ADMIN_URL); skipped without a server."""
    try:
        admin = request.getfixturevalue("pg_admin_url")
    except pytest.FixtureLookupError:
        admin = os.environ.get("KIEMDIEM_PG_ADMIN_URL", "").strip()
    if not admin:
        pytest.skip("no PostgreSQL server (set KIEMDIEM_PG_ADMIN_URL)")
    name = f"box_{secrets.token_hex(4)}"
    base = make_url(admin)
    plain = base.set(drivername="postgresql").render_as_string(hide_password=False)
    target = base.set(drivername="postgresql", database=name).render_as_string(hide_password=False)
    _admin(plain, f'CREATE DATABASE "{name}"')
    _admin(target, "CREATE EXTENSION IF NOT EXISTS pageinspect")
    try:
        yield base.set(drivername="postgresql+asyncpg", database=name).render_as_string(
            hide_password=False
        )
    finally:
        _admin(plain, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_no_copy_of_the_postgresql_database_tells_a_choice(fake_telegram, pg_url, caplog):
    caplog.set_level(logging.DEBUG)

    async def copy(_step: int):
        return await pg_copy(pg_url)

    (people, plan, order, snapshots, log_marks, receipts, counts_before, results, tally,
     final) = await _round(fake_telegram, pg_url, copy, caplog)
    names = [p.name for p in people]
    # 1. The diff of every consecutive pair of dumps (rows with xmin and ctid, raw pages and
    #    line pointers of the ballot tables, dead row versions included).
    right, total = score(attack_diffs(snapshots, lines_diff, order, names), plan)
    assert not beats_chance(right, total), ("diffs", right, total)
    # 2. Rows that share the xmin of a voter's has_voted: their transaction's other writes.
    db = Database(pg_url)
    try:
        async with db.engine.connect() as conn:
            codes = {
                member_id: code
                for member_id, code in await conn.exec_driver_sql("SELECT id, code FROM members")
            }
    finally:
        await db.dispose()
    # The last copy before the opening still has every row version of every cast (dead ones
    # through pageinspect): the version of a voter's row with has_voted = true that the cast
    # wrote carries the cast's xmin.
    before_opening = snapshots[-1]
    xmins: dict[str, set[str]] = {}
    for line in before_opening:
        if not line.startswith(b"item|ballot_voters|"):
            continue
        _item, _table, _page, _lp, xmin, _ctid, data = line.split(b"|", 6)
        if len(data) >= 9 and data[8] == 1:
            _round_id, member_id = struct.unpack("<ii", data[:8])
            xmins.setdefault(codes[member_id], set()).add(xmin.removeprefix(b"xmin=").decode())
    assert set(xmins) == set(order)
    first_xmin = {voter: min(found, key=int) for voter, found in xmins.items()}
    groups = xmin_groups(before_opening, first_xmin)
    assert all(b"item|ballot_sealed|" in group for group in groups.values())  # the link exists...
    right, total = score({v: guess(g, names) for v, g in groups.items()}, plan)
    assert not beats_chance(right, total), ("xmin", right, total)  # ...and tells nothing
    for line in before_opening:
        assert not line.startswith(b"ballot_counts|"), line
    # 3. The logs; 4. the opening, and after it no sealed ballot in any page.
    _check_logs(caplog, log_marks, order, plan, names, people)
    _check_tally_and_receipts(people, plan, receipts, counts_before, results, tally)
    tails = [line[-32:] for line in before_opening if line.startswith(b"item|ballot_sealed|")]
    assert len(tails) >= VOTERS
    for tail in tails:  # deleted, then VACUUM: no page still holds a sealed ballot
        assert not any(tail in line for line in final if b"ballot_sealed" in line[:40])
