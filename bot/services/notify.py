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

from sqlalchemy import BigInteger, and_, bindparam, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from telegram import InlineKeyboardMarkup

from bot.delivery import Outcome, Owed, deliver
from rules.people import name_sort_key
from storage.db import Database
from storage.models import Member, NoticeState, Role, RoleKind, SentNotice, TelegramAccount

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


CHUNK = 300  # keys per statement (4 parameters each: SQLite allows 32,766)
LEDGER = SentNotice.__table__  # Core statements: no ORM work for a row of the ledger
_KEY = (LEDGER.c.kind, LEDGER.c.target, LEDGER.c.cycle_id, LEDGER.c.stage)


def _chunks(values: Sequence) -> list[Sequence]:
    return [values[i : i + CHUNK] for i in range(0, len(values), CHUNK)]


def _as_tuple(key: Key) -> tuple[str, str, int, str]:
    return key.kind, key.target, key.cycle_id, key.stage


def _in(keys: Sequence[Key]):
    if len(keys) == 1:
        return and_(*(column == value for column, value in zip(_KEY, _as_tuple(keys[0]),
                                                                strict=True)))
    return tuple_(*_KEY).in_([_as_tuple(k) for k in keys])


_UNIQUE = ["kind", "target", "cycle_id", "stage"]
_BY_KEY = tuple(column == bindparam(name) for column, name in zip(_KEY, "ktcs", strict=True))
# A failed notice claimed again.
_RETRY = (
    update(LEDGER)
    .where(*_BY_KEY, LEDGER.c.state == NoticeState.FAILED)
    .values(state=NoticeState.PENDING, claimed_at=bindparam("claimed_at"))
)
# Step 3 for one key: its state, when it was sent, and its message id (kept when not known).
_MARK = (
    update(LEDGER)
    .where(*_BY_KEY)
    .values(
        state=bindparam("state"),
        sent_at=bindparam("sent_at"),
        message_id=func.coalesce(bindparam("message_id", type_=BigInteger), LEDGER.c.message_id),
    )
)


@dataclass(frozen=True)
class Marked:
    """Step 3 for one message: its keys, what became of it, its Telegram message id."""

    keys: Sequence[Key]
    state: NoticeState
    message_id: int | None = None


class Ledger:
    """Claims and marks in as few transactions as the protocol allows: each claim commits in
    one transaction, with the marks of the messages sent since the last one. A stop between
    a send and the next claim leaves that one message pending (never sent again), as a stop
    between a send and its own mark would: the window stays one message wide."""

    def __init__(self, db: Database, now: dt.datetime) -> None:
        self.db, self.now = db, now
        self.marks: list[Marked] = []

    async def claim(self, keys: Sequence[Key]) -> list[Key]:
        """Step 1: the keys this run may send, each now recorded as pending (committed): new
        rows inserted (a row another run inserted first is skipped), failed ones flipped back
        to pending by a guarded UPDATE."""
        keys = list(dict.fromkeys(keys))
        async with self.db.engine.begin() as connection:
            await self._write_marks(connection)
            claimed = await _claim(connection, keys, self.now)
        return [k for k in keys if k in claimed]

    def mark(self, keys: Sequence[Key], state: NoticeState, message_id: int | None = None) -> None:
        """Step 3, written with the next claim (or ``flush``)."""
        self.marks.append(Marked(keys, state, message_id))

    async def flush(self) -> None:
        if self.marks:
            async with self.db.engine.begin() as connection:
                await self._write_marks(connection)

    async def _write_marks(self, connection) -> None:
        marks, self.marks = self.marks, []
        rows = []  # one statement for all the marks: compiled once, executed for each row
        for item in marks:
            for key in item.keys:
                rows.append({
                    **_key_params(key), "state": item.state, "message_id": item.message_id,
                    "sent_at": self.now if item.state == NoticeState.SENT else None,
                })
        if rows:
            await connection.execute(_MARK, rows)


async def _claim(connection, keys: list[Key], now: dt.datetime) -> set[Key]:
    if len(keys) == 1:
        return await _claim_one(connection, keys[0], now)
    claimed: set[Key] = set()
    insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    for chunk in _chunks(keys):
        rows = [_row(k, now) for k in chunk]
        inserted = await connection.execute(
            insert(LEDGER).values(rows).on_conflict_do_nothing(index_elements=_UNIQUE)
            .returning(*_KEY)
        )
        claimed.update(Key(*row) for row in inserted)
        rest = [k for k in chunk if k not in claimed]
        if rest:
            retried = await connection.execute(
                update(LEDGER)
                .where(_in(rest), LEDGER.c.state == NoticeState.FAILED)
                .values(state=NoticeState.PENDING, claimed_at=now)
                .returning(*_KEY)
            )
            claimed.update(Key(*row) for row in retried)
    return claimed


async def _claim_one(connection, key: Key, now: dt.datetime) -> set[Key]:
    """The common case, one key: statements compiled once, the row count says it all."""
    insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    inserted = await connection.execute(
        insert(LEDGER).on_conflict_do_nothing(index_elements=_UNIQUE), _row(key, now)
    )
    if inserted.rowcount != 1:
        retried = await connection.execute(_RETRY, {**_key_params(key), "claimed_at": now})
        if retried.rowcount != 1:
            return set()
    return {key}


def _row(key: Key, now: dt.datetime) -> dict:
    return {"kind": key.kind, "target": key.target, "cycle_id": key.cycle_id,
            "stage": key.stage, "state": NoticeState.PENDING, "claimed_at": now}


def _key_params(key: Key) -> dict:
    return {"k": key.kind, "t": key.target, "c": key.cycle_id, "s": key.stage}


async def claim(db: Database, keys: Sequence[Key], now: dt.datetime) -> list[Key]:
    """Step 1 (see ``Ledger.claim``)."""
    return await Ledger(db, now).claim(keys) if keys else []


async def mark(
    db: Database,
    keys: Sequence[Key],
    state: NoticeState,
    now: dt.datetime,
    message_id: int | None = None,
) -> None:
    """Step 3 (with the message id when Telegram accepted it)."""
    ledger = Ledger(db, now)
    ledger.mark(keys, state, message_id)
    await ledger.flush()


def _match(key: Key):
    return (
        SentNotice.kind == key.kind,
        SentNotice.target == key.target,
        SentNotice.cycle_id == key.cycle_id,
        SentNotice.stage == key.stage,
    )


async def record_message_id(db: Database, keys: Sequence[Key], message_id: int) -> None:
    """Between 2 and 3: Telegram accepted the first part of a long message."""
    async with db.session() as session:
        for key in keys:
            await session.execute(
                update(SentNotice)
                .where(*_match(key), SentNotice.state == NoticeState.PENDING)
                .values(message_id=message_id)
                .execution_options(synchronize_session=False)
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
    ledger = Ledger(db, now)
    try:
        return await send(ledger, bot, keys, chat_id, render, markup)
    finally:
        await ledger.flush()


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
        await record_message_id(db, claimed, message_id)

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
