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
said twice is worse than one lost); start-up logs how many there are. A run claims the
notices of ``CLAIM_AHEAD`` messages at a time (``send_all``), so the window is that many
messages wide; everything not yet claimed is sent by the next run, and nothing claimed is
sent twice.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from collections.abc import AsyncIterator
from collections.abc import Callable
from collections.abc import Iterable
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
_CLAIM_MANY = (  # the rows it inserted come back
    "INSERT INTO sent_notices (kind, target, cycle_id, stage, state, claimed_at) VALUES {rows} "
    "ON CONFLICT (kind, target, cycle_id, stage) DO NOTHING RETURNING kind, target, cycle_id, stage"
)
_CLAIM_ROW = "(?, ?, ?, ?, 'pending', ?)"
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

# A run claims the notices of this many messages in one statement before it sends them. Each
# claim is a committed transaction, the monitor's main cost a message when it was made one a
# message (at a province's 38,000 reminders: 7 of its 11 seconds of CPU); a stop mid-run now
# leaves at most this many messages claimed and unsent (never sent again, see above) instead of
# one. Eight messages is under a third of a second of Telegram's 30 a second.
CLAIM_AHEAD = 8

# Keys per claiming statement (5 values each: within SQLite's 32,766 variables).
_CLAIM_ROWS = 1000


_FIRST_PART = (
    "UPDATE sent_notices SET message_id = ? "
    "WHERE kind = ? AND target = ? AND cycle_id = ? AND stage = ? AND state = 'pending'"
)


def _numbered(sql: str, first: int = 1) -> str:
    """``?`` placeholders as PostgreSQL's ``$1, $2…`` (from ``$first``)."""
    parts = sql.split("?")
    return "".join(f"{part}${n}" for n, part in enumerate(parts[:-1], first)) + parts[-1]


class Ledger:
    """Claims messages' notices in a transaction of their own before they are sent (those of
    ``CLAIM_AHEAD`` messages at once in a run, ``send_all``): a stop between a claim and its
    send leaves those messages pending (never sent again). Marks wait: on PostgreSQL they
    commit with the next claim; on SQLite a claim commits by itself (autocommit, one
    statement, one trip to the driver's thread) and the marks of messages Telegram accepted are written ``MARK_BATCH``
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
        return (await self.claim_many([keys]))[0]

    async def claim_many(self, groups: Sequence[Sequence[Key]]) -> list[list[Key]]:
        """``claim`` for several messages in one transaction: each group's keys this run may
        send (a key in two groups goes to the first)."""
        keys = list(dict.fromkeys(key for group in groups for key in group))
        claimed = set(await self._transaction(keys))
        found = []
        for group in groups:
            mine = [key for key in dict.fromkeys(group) if key in claimed]
            claimed.difference_update(mine)
            found.append(mine)
        return found

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
            async with self._driver.transaction():
                return await self._write(marks, keys, self.now)
        # SQLite keeps the datetimes as SQLAlchemy writes them (storage.models.UTCDateTime).
        stamp = self.now.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        marks: list[Marked] = []
        if self.marks and (flush or self._refused or len(self.marks) >= MARK_BATCH):
            marks, self.marks, self._refused = self.marks, [], False
        async with self.db.write_lock.lock():
            if not marks:  # the common case: the claims alone, committing themselves
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
        if rows:
            if self._postgresql:
                await self._driver.executemany(_numbered(_MARK), rows)
            else:
                await self._driver.executemany(_MARK, rows)
        inserted: set[Key] = set()
        for start in range(0, len(keys), _CLAIM_ROWS):
            chunk = keys[start : start + _CLAIM_ROWS]
            sql = _CLAIM_MANY.format(rows=", ".join([_CLAIM_ROW] * len(chunk)))
            values = [value for key in chunk for value in (*key_values(key), stamp)]
            if self._postgresql:
                returned = await self._driver.fetch(_numbered(sql), *values)
            else:
                returned = await self._driver.execute_fetchall(sql, values)
            inserted.update(Key(*row) for row in returned)
        # A row that was there already: claimed again only if it failed (rare: a run's keys
        # leave out what the ledger shows as sent).
        return [key for key in keys
                if key in inserted or await self._run(_RETRY, stamp, *key_values(key)) == 1]

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
    return await _deliver_claimed(ledger, bot, claimed, chat_id, render, markup), claimed


@dataclass(frozen=True)
class Outgoing:
    """A message a run sends: its notices' keys, to whom, how to say the keys claimed (a
    function of them), and the caller's own note of what it is (``tag``)."""

    keys: Sequence[Key]
    chat_id: int
    render: Callable[[list[Key]], str]
    tag: object = None
    markup: InlineKeyboardMarkup | None = None


async def send_all(
    ledger: Ledger, bot, messages: Iterable[Outgoing]
) -> AsyncIterator[tuple[Outgoing, str, list[Key]]]:
    """Send `messages` in order, each once: the notices of ``CLAIM_AHEAD`` messages are claimed
    in one transaction, then each message is sent and marked. Yields (message, outcome, keys
    claimed) for each message sent or tried; a message with nothing left to claim is skipped.
    A chat that turns out blocked (403) gets nothing more in the run: its messages already
    claimed are marked failed (the next run skips an account that blocked the bot, and sends
    them if it comes back), the rest are not claimed. Only a stop of the process (SIGKILL)
    leaves claimed messages unsent: at most ``CLAIM_AHEAD``."""
    blocked: set[int] = set()
    pending = iter(messages)
    while chunk := list(itertools.islice(pending, CLAIM_AHEAD)):
        batch = [m for m in chunk if m.chat_id not in blocked]
        claims = await ledger.claim_many([m.keys for m in batch]) if batch else []
        tried = 0  # the batch's messages sent, skipped or in flight
        try:
            for message, claimed in zip(batch, claims, strict=True):
                tried += 1
                if not claimed:
                    continue
                if message.chat_id in blocked:
                    ledger.mark(claimed, NoticeState.FAILED)
                    continue
                outcome = await _deliver_claimed(ledger, bot, claimed, message.chat_id,
                                                 message.render, message.markup)
                if outcome == Outcome.BLOCKED:
                    blocked.add(message.chat_id)
                yield message, outcome, claimed
        except BaseException:
            # Stopped by an error or by the caller: the one in flight stays pending, the ones
            # after it were never tried and the next run may claim them (the ledger's exit
            # writes the marks).
            for later in claims[tried:]:
                if later:
                    ledger.mark(later, NoticeState.FAILED)
            raise


async def send_run(db: Database, bot, messages: Iterable[Outgoing], now: dt.datetime) -> int:
    """``send_all`` through a ledger of its own; the number of messages Telegram accepted."""
    sent = 0
    async with Ledger(db, now) as ledger:
        async for _message, outcome, _claimed in send_all(ledger, bot, messages):
            sent += outcome == Outcome.SENT
    return sent


async def _deliver_claimed(ledger: Ledger, bot, claimed: list[Key], chat_id: int, render,
                           markup: InlineKeyboardMarkup | None) -> str:
    """Steps 2 and 3 for keys claimed: send, then mark (written with the next claim)."""

    async def on_first(message_id: int) -> None:
        await ledger.record_message_id(claimed, message_id)

    owed = Owed.message(chat_id, render(claimed), markup)
    outcome, message_id = await deliver(bot, ledger.db, owed, ledger.now, on_first=on_first)
    # Blocked: deliver() marked the account. Still owed or refused: never sent twice (see claim).
    state = {Outcome.SENT: NoticeState.SENT, Outcome.BLOCKED: NoticeState.BLOCKED}.get(
        outcome, NoticeState.FAILED
    )
    ledger.mark(claimed, state, message_id)
    return outcome


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
