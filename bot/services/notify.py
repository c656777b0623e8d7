"""Sending what the bot says unasked, each thing once: the ``sent_notices`` ledger.

A notice is keyed (kind, target, cycle, stage), UNIQUE. The protocol for one Telegram
message (which may carry several notices, e.g. the upper committee's grouped breaches):

1. **claim**, in its own committed transaction: INSERT each row as ``pending``; a row that
   already exists is skipped unless it is ``failed`` (then it is flipped back to ``pending``
   by a guarded UPDATE). Only the rows this run claimed go into the message.
2. **send** through the bot (AIORateLimiter waits out a 429 ``retry_after`` and retries).
3. **mark**, in its own transaction: ``sent`` when Telegram accepted it; ``failed`` when it
   refused it for another reason, or still said 429 after the retries (the next run sends it
   again); ``blocked`` on 403 (the account's ``blocked_at`` is set and the caller tells the
   secretary, once).

Every accepted message's Telegram message id is written with its rows (``message_id``): with
the mark for a message of one part; for a long message split in parts, as soon as its first
part is accepted, before the rest is sent (and a failure after that marks it ``sent``: it was
partly delivered, and sending it again would say it twice).

A process that stops between 1 and 3 leaves ``pending`` rows. ``reconcile`` runs at start-up
(before the first monitor run, bot/jobs.py): a pending row **with** a message id was accepted
by Telegram, so it is marked ``sent``. A pending row **without** one is ambiguous: the
process may have stopped before the send, or after Telegram accepted it but before the id
came back. Telegram has no idempotency key and no way to ask whether a message was
delivered, so such a row is left ``pending`` and never sent again (at most once: a reminder
said twice is worse than one lost); start-up logs how many there are. The window is one
message wide; everything not yet claimed is sent by the next run, and nothing claimed is
sent twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from telegram import InlineKeyboardMarkup

from bot.delivery import Outcome
from bot.delivery import Owed
from bot.delivery import deliver
from rules.people import name_sort_key
from storage.db import Database
from storage.models import Member
from storage.models import NoticeState
from storage.models import Role
from storage.models import RoleKind
from storage.models import SentNotice
from storage.models import TelegramAccount

log = logging.getLogger(__name__)

COMMITTEE_ROLES = (
    RoleKind.SECRETARY,
    RoleKind.DEPUTY,
    RoleKind.COMMITTEE_MEMBER,
    RoleKind.ORGANISING_OFFICE,
)


@dataclass(frozen=True)
class Key:
    kind: str
    target: str
    cycle_id: int
    stage: str


def member_target(member_id: int) -> str:
    return f"member:{member_id}"


@dataclass(frozen=True)
class Marked:
    """Step 3 for one message: its keys, what became of it, its Telegram message id."""

    keys: Sequence[Key]
    state: NoticeState
    message_id: int | None = None


# The ledger's three statements, written for the driver itself (see ``Ledger``).
_CLAIM = (
    "INSERT INTO sent_notices (kind, target, cycle_id, stage, state, claimed_at) "
    "VALUES (?, ?, ?, ?, 'pending', ?) ON CONFLICT (kind, target, cycle_id, stage) DO NOTHING"
)
_RETRY = (  # a failed notice claimed again
    "UPDATE sent_notices SET state = 'pending', claimed_at = ? "
    "WHERE kind = ? AND target = ? AND cycle_id = ? AND stage = ? AND state = 'failed'"
)
_MARK = (  # the message id is kept when none is given (a long message's, written earlier)
    "UPDATE sent_notices SET state = ?, sent_at = ?, message_id = COALESCE(?, message_id) "
    "WHERE kind = ? AND target = ? AND cycle_id = ? AND stage = ?"
)


# SQLite: the marks of messages Telegram accepted are written MARK_BATCH at a time (a refused
# or blocked one at once, with the next claim); see ``Ledger``.
MARK_BATCH = 200


_FIRST_PART = (
    "UPDATE sent_notices SET message_id = ? "
    "WHERE kind = ? AND target = ? AND cycle_id = ? AND stage = ? AND state = 'pending'"
)


def _numbered(sql: str, first: int = 1) -> str:
    """``?`` placeholders as PostgreSQL's ``$1, $2…`` (from ``$first``)."""
    parts = sql.split("?")
    return "".join(f"{part}${n}" for n, part in enumerate(parts[:-1], first)) + parts[-1]


class Ledger:
    """Claims a message's notices in a transaction of their own before it is sent: a stop
    between a claim and its send leaves that one message pending (never sent again), so the
    window stays one message wide. Marks wait: on PostgreSQL they commit with the next claim
    (one statement); on SQLite each claim commits by itself (autocommit, one trip to the
    driver's thread) and the marks of messages Telegram accepted are written ``MARK_BATCH``
    at a time, a refused or blocked one with the next claim, all of them at the end. A stop
    before a batch is written leaves those accepted messages pending: never sent again,
    which is right, only without their message id (start-up counts them among the ones that
    may or may not have been delivered).

    A run sends tens of thousands of messages, so this transaction is the monitor's cost per
    message: it is written for the driver itself, on one connection held for the run
    (``async with Ledger(...)``), about a quarter of what SQLAlchemy's statements cost. Holding
    the connection holds no lock: on SQLite each transaction takes the process's write lock
    (``storage.db``) while it lasts, as SQLAlchemy's writers do; on PostgreSQL the commits do
    not wait for the write-ahead log to reach the disk (``synchronous_commit = off``): a stop of
    the bot loses nothing, a crash of the server or the machine may lose the last fraction of a
    second, the same durability SQLite gives in WAL mode with ``synchronous = NORMAL``."""

    def __init__(self, db: Database, now: dt.datetime) -> None:
        self.db, self.now = db, now
        self.marks: list[Marked] = []
        self._refused = False  # a mark other than sent waits: written with the next claim
        self._connection = None

    async def __aenter__(self) -> Ledger:
        self._connection = await self.db.engine.connect()
        self._postgresql = self._connection.dialect.name == "postgresql"
        if not self._postgresql:  # each claim its own transaction, with no BEGIN/COMMIT trip
            await self._connection.execution_options(isolation_level="AUTOCOMMIT")
        raw = await self._connection.get_raw_connection()
        self._driver = raw.driver_connection
        if self._postgresql:  # this connection's own setting, until it goes back to the pool
            await self._driver.execute("SET synchronous_commit TO OFF")
        return self

    async def __aexit__(self, *_exc: object) -> None:
        connection, self._connection = self._connection, None
        try:
            await self.flush()
            if self._postgresql:
                await self._driver.execute("RESET synchronous_commit")
        except BaseException:
            await connection.invalidate()  # never back to the pool with the setting
            raise
        finally:
            await connection.close()

    async def claim(self, keys: Sequence[Key]) -> list[Key]:
        """Step 1: the keys this run may send, each now recorded as pending (committed): new
        rows inserted (a row another run inserted first is skipped), failed ones flipped back
        to pending by a guarded UPDATE."""
        keys = list(dict.fromkeys(keys))
        return await self._transaction(keys)

    def mark(self, keys: Sequence[Key], state: NoticeState, message_id: int | None = None) -> None:
        """Step 3, written with the next claim (or ``flush``)."""
        self.marks.append(Marked(keys, state, message_id))
        if state != NoticeState.SENT:
            self._refused = True

    async def record_message_id(self, keys: Sequence[Key], message_id: int) -> None:
        """Between 2 and 3: Telegram accepted the first part of a long message (committed
        before the next part is sent). A province's breaches are thousands of keys in one
        message: one statement for them all."""
        rows = [(message_id, *key_values(key)) for key in keys]
        if self._postgresql:
            async with self._driver.transaction():
                await self._driver.executemany(_numbered(_FIRST_PART), rows)
            return
        async with self.db.write_lock.lock():
            await self._driver.execute("BEGIN")
            try:
                await self._driver.executemany(_FIRST_PART, rows)
            except BaseException:
                await self._driver.rollback()
                raise
            await self._driver.commit()

    async def flush(self) -> None:
        if self.marks:
            await self._transaction([], flush=True)

    async def _transaction(self, keys: list[Key], flush: bool = False) -> list[Key]:
        if self._postgresql:
            marks, self.marks = self.marks, []
            if len(keys) == 1 and sum(len(m.keys) for m in marks) <= 1:
                return await self._mark_and_claim(marks, keys[0])
            async with self._driver.transaction():
                return await self._write(marks, keys, self.now)
        # SQLite keeps the datetimes as SQLAlchemy writes them (storage.models.UTCDateTime).
        stamp = self.now.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        marks: list[Marked] = []
        if self.marks and (flush or self._refused or len(self.marks) >= MARK_BATCH):
            marks, self.marks, self._refused = self.marks, [], False
        async with self.db.write_lock.lock():
            if not marks and len(keys) <= 1:  # the common case: one claim, committing itself
                return await self._write([], keys, stamp)
            await self._driver.execute("BEGIN")
            try:
                claimed = await self._write(marks, keys, stamp)
            except BaseException:
                await self._driver.rollback()
                raise
            await self._driver.commit()
        return claimed

    async def _write(self, marks: list[Marked], keys: list[Key], stamp) -> list[Key]:
        rows = [
            (str(item.state), stamp if item.state == NoticeState.SENT else None, item.message_id,
             *key_values(key))
            for item in marks
            for key in item.keys
        ]
        if rows and not self._postgresql:
            await self._driver.executemany(_MARK, rows)
        else:
            for row in rows:
                await self._run(_MARK, *row)
        claimed = []
        for key in keys:
            if await self._run(_CLAIM, *key_values(key), stamp) == 1 or await self._run(
                _RETRY, stamp, *key_values(key)
            ) == 1:
                claimed.append(key)
        return claimed

    async def _mark_and_claim(self, marks: list[Marked], key: Key) -> list[Key]:
        """PostgreSQL, the common case (a message of one notice after another): the mark and
        the claim in one statement, so one round trip a message."""
        claim = (_numbered(_CLAIM), *key_values(key), self.now)
        if marks:
            item, [marked] = marks[0], marks[0].keys
            sent_at = self.now if item.state == NoticeState.SENT else None
            values = (str(item.state), sent_at, item.message_id, *key_values(marked))
            claim = (
                f"WITH marked AS ({_numbered(_MARK)} RETURNING 1) "
                f"{_numbered(_CLAIM, len(values) + 1)}",
                *values, *key_values(key), self.now,
            )
        status = await self._driver.execute(*claim)
        if int(status.rsplit(" ", 1)[-1]) == 1 or await self._run(
            _RETRY, self.now, *key_values(key)
        ) == 1:
            return [key]
        return []

    async def _run(self, sql: str, *values) -> int:
        """Execute a statement; the number of rows it changed."""
        if self._postgresql:
            status = await self._driver.execute(_numbered(sql), *values)
            return int(status.rsplit(" ", 1)[-1])
        cursor = await self._driver.execute(sql, values)
        return cursor.rowcount


def key_values(key: Key) -> tuple[str, str, int, str]:
    return key.kind, key.target, key.cycle_id, key.stage


async def claim(db: Database, keys: Sequence[Key], now: dt.datetime) -> list[Key]:
    """Step 1 (see ``Ledger.claim``)."""
    async with Ledger(db, now) as ledger:
        return await ledger.claim(keys)


async def mark(
    db: Database,
    keys: Sequence[Key],
    state: NoticeState,
    now: dt.datetime,
    message_id: int | None = None,
) -> None:
    """Step 3 (with the message id when Telegram accepted it)."""
    async with Ledger(db, now) as ledger:
        ledger.mark(keys, state, message_id)


def _match(key: Key):
    return (
        SentNotice.kind == key.kind,
        SentNotice.target == key.target,
        SentNotice.cycle_id == key.cycle_id,
        SentNotice.stage == key.stage,
    )


async def reconcile(db: Database, now: dt.datetime) -> tuple[int, int]:
    """At start-up, the notices a crash left claimed: those Telegram accepted (a message id
    is recorded) are marked sent; the others stay pending, never sent again (see above).
    Returns (marked sent, left pending)."""
    async with db.session() as session:
        marked = await session.execute(
            update(SentNotice)
            .where(SentNotice.state == NoticeState.PENDING, SentNotice.message_id.is_not(None))
            .values(state=NoticeState.SENT, sent_at=now)
            .execution_options(synchronize_session=False)
        )
        left = await session.scalar(
            select(func.count())
            .select_from(SentNotice)
            .where(SentNotice.state == NoticeState.PENDING, SentNotice.message_id.is_(None))
        )
    if marked.rowcount or left:
        log.warning(
            "notices left claimed by a stop: %d were accepted by Telegram and are marked sent; "
            "%d may or may not have been delivered and are not sent again",
            marked.rowcount,
            left,
        )
    return marked.rowcount, left or 0


async def already(db: Database, key: Key) -> bool:
    async with db.session() as session:
        return await session.scalar(select(SentNotice.id).where(*_match(key))) is not None


async def send_once(
    db: Database,
    bot,
    keys: Sequence[Key],
    chat_id: int,
    render,
    now: dt.datetime,
    markup: InlineKeyboardMarkup | None = None,
) -> tuple[str | None, list[Key]]:
    """Claim `keys`, send `render(claimed keys)` to `chat_id`, mark them. Returns the outcome
    (None when nothing was left to send) and the keys claimed."""
    async with Ledger(db, now) as ledger:
        return await send(ledger, bot, keys, chat_id, render, markup)


async def send(
    ledger: Ledger,
    bot,
    keys: Sequence[Key],
    chat_id: int,
    render,
    markup: InlineKeyboardMarkup | None = None,
) -> tuple[str | None, list[Key]]:
    """``send_once`` in a run of many: the mark waits for the ledger's next claim."""
    claimed = await ledger.claim(keys)
    if not claimed:
        return None, []
    db, now = ledger.db, ledger.now

    async def on_first(message_id: int) -> None:
        await ledger.record_message_id(claimed, message_id)

    owed = Owed.message(chat_id, render(claimed), markup)
    outcome, message_id = await deliver(bot, db, owed, now, on_first=on_first)
    # Blocked: deliver() marked the account. Still owed or refused: never sent twice (see claim).
    state = {Outcome.SENT: NoticeState.SENT, Outcome.BLOCKED: NoticeState.BLOCKED}.get(
        outcome, NoticeState.FAILED
    )
    ledger.mark(claimed, state, message_id)
    return outcome, claimed


def reachable(account: TelegramAccount | None) -> bool:
    return account is not None and account.started_at is not None and account.blocked_at is None


async def accounts_by_member(session, member_ids: Sequence[int]) -> dict[int, TelegramAccount]:
    """The account of each member, read in chunks (a province's recipients exceed SQLite's
    parameter limit in one IN list)."""
    ids = list(dict.fromkeys(member_ids))
    found: dict[int, TelegramAccount] = {}
    for start in range(0, len(ids), 500):
        rows = await session.scalars(
            select(TelegramAccount).where(TelegramAccount.member_id.in_(ids[start : start + 500]))
        )
        found.update({a.member_id: a for a in rows})
    return found


async def contacts_by_member(session, member_ids: Sequence[int]) -> dict[int, object]:
    """What the monitor needs of each member's account, as plain rows (no ORM object per
    recipient): telegram_id, the languages, started_at and blocked_at (``reachable``)."""
    ids = list(dict.fromkeys(member_ids))
    account = TelegramAccount
    found = {}
    for start in range(0, len(ids), 500):
        rows = await session.execute(
            select(account.member_id, account.telegram_id, account.language_code,
                   account.chosen_locale, account.started_at, account.blocked_at)
            .where(account.member_id.in_(ids[start : start + 500]))
        )
        found.update({row.member_id: row for row in rows})
    return found


async def role_holders(
    session, org_ids: Sequence[int], roles: Sequence[RoleKind]
) -> list[tuple[Member, Role]]:
    if not org_ids:
        return []
    rows = await session.execute(
        select(Member, Role)
        .join(Role, Role.member_id == Member.id)
        .where(Role.org_id.in_(list(org_ids)), Role.role.in_([r.value for r in roles]))
        .order_by(Member.id)
    )
    return sorted(((m, r) for m, r in rows), key=lambda row: name_sort_key(row[0].full_name))


async def secretaries_of(session, org_id: int) -> list[Member]:
    """The secretary of a unit; the deputies when it has none."""
    for role in (RoleKind.SECRETARY, RoleKind.DEPUTY):
        found = [m for m, _ in await role_holders(session, [org_id], [role])]
        if found:
            return found
    return []
