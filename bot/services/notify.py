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

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
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


async def claim(db: Database, keys: Sequence[Key], now: dt.datetime) -> list[Key]:
    """Step 1: the keys this run may send, each now recorded as pending (committed)."""
    claimed = []
    for key in keys:
        try:
            async with db.session() as session:
                session.add(
                    SentNotice(
                        kind=key.kind,
                        target=key.target,
                        cycle_id=key.cycle_id,
                        stage=key.stage,
                        state=NoticeState.PENDING,
                        claimed_at=now,
                    )
                )
            claimed.append(key)
            continue
        except IntegrityError:
            pass
        async with db.session() as session:
            retried = await session.execute(
                update(SentNotice)
                .where(*_match(key), SentNotice.state == NoticeState.FAILED)
                .values(state=NoticeState.PENDING, claimed_at=now)
                .execution_options(synchronize_session=False)
            )
        if retried.rowcount == 1:
            claimed.append(key)
    return claimed


def _match(key: Key):
    return (
        SentNotice.kind == key.kind,
        SentNotice.target == key.target,
        SentNotice.cycle_id == key.cycle_id,
        SentNotice.stage == key.stage,
    )


async def mark(
    db: Database,
    keys: Sequence[Key],
    state: NoticeState,
    now: dt.datetime,
    message_id: int | None = None,
) -> None:
    """Step 3 (with the message id when Telegram accepted it)."""
    values = {"state": state, "sent_at": now if state == NoticeState.SENT else None}
    if message_id is not None:
        values["message_id"] = message_id
    async with db.session() as session:
        for key in keys:
            await session.execute(
                update(SentNotice)
                .where(*_match(key))
                .values(**values)
                .execution_options(synchronize_session=False)
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
    claimed = await claim(db, keys, now)
    if not claimed:
        return None, []

    async def on_first(message_id: int) -> None:
        await record_message_id(db, claimed, message_id)

    owed = Owed.message(chat_id, render(claimed), markup)
    outcome, message_id = await deliver(bot, db, owed, now, on_first=on_first)
    # Blocked: deliver() marked the account. Still owed or refused: never sent twice (see claim).
    state = {Outcome.SENT: NoticeState.SENT, Outcome.BLOCKED: NoticeState.BLOCKED}.get(
        outcome, NoticeState.FAILED
    )
    await mark(db, claimed, state, now, message_id)
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
