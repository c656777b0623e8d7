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

A process that stops between 1 and 3 leaves ``pending`` rows. They are never sent again:
Telegram has no idempotency key, so a pending row may or may not have been delivered, and a
reminder said twice is worse than one lost (at-most-once). The window is one message wide;
everything not yet claimed is sent by the next run, and nothing claimed is sent twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from telegram import InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import Forbidden, TelegramError

from bot.text import split_message
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


async def mark(db: Database, keys: Sequence[Key], state: NoticeState, now: dt.datetime) -> None:
    """Step 3."""
    async with db.session() as session:
        for key in keys:
            await session.execute(
                update(SentNotice)
                .where(*_match(key))
                .values(state=state, sent_at=now if state == NoticeState.SENT else None)
                .execution_options(synchronize_session=False)
            )


async def already(db: Database, key: Key) -> bool:
    async with db.session() as session:
        return await session.scalar(select(SentNotice.id).where(*_match(key))) is not None


class Outcome:
    SENT = "sent"
    BLOCKED = "blocked"
    FAILED = "failed"


async def deliver(bot, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None) -> str:
    """Step 2: send (split if long); the outcome decides step 3."""
    parts = split_message(text)
    try:
        for index, part in enumerate(parts):
            await bot.send_message(
                chat_id,
                part,
                parse_mode=ParseMode.HTML,
                reply_markup=markup if index == len(parts) - 1 else None,
                disable_web_page_preview=True,
            )
    except Forbidden:
        return Outcome.BLOCKED
    except TelegramError as error:  # RetryAfter after the limiter's retries, network, 5xx
        log.warning("a notice was not delivered: %s", type(error).__name__)
        return Outcome.FAILED
    return Outcome.SENT


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
    outcome = await deliver(bot, chat_id, render(claimed), markup)
    state = {
        Outcome.SENT: NoticeState.SENT,
        Outcome.BLOCKED: NoticeState.BLOCKED,
        Outcome.FAILED: NoticeState.FAILED,
    }[outcome]
    await mark(db, claimed, state, now)
    if outcome == Outcome.BLOCKED:
        await mark_account_blocked(db, chat_id, now)
    return outcome, claimed


async def mark_account_blocked(db: Database, telegram_id: int, now: dt.datetime) -> None:
    async with db.session() as session:
        await session.execute(
            update(TelegramAccount)
            .where(TelegramAccount.telegram_id == telegram_id, TelegramAccount.blocked_at.is_(None))
            .values(blocked_at=now)
            .execution_options(synchronize_session=False)
        )


def reachable(account: TelegramAccount | None) -> bool:
    return account is not None and account.started_at is not None and account.blocked_at is None


async def accounts_by_member(session, member_ids: Sequence[int]) -> dict[int, TelegramAccount]:
    if not member_ids:
        return {}
    rows = await session.scalars(
        select(TelegramAccount).where(TelegramAccount.member_id.in_(list(member_ids)))
    )
    return {a.member_id: a for a in rows}


async def role_holders(
    session, org_ids: Sequence[int], roles: Sequence[RoleKind]
) -> list[tuple[Member, Role]]:
    if not org_ids:
        return []
    rows = await session.execute(
        select(Member, Role)
        .join(Role, Role.member_id == Member.id)
        .where(Role.org_id.in_(list(org_ids)), Role.role.in_([r.value for r in roles]))
        .order_by(Member.full_name, Member.id)
    )
    return [(m, r) for m, r in rows]


async def secretaries_of(session, org_id: int) -> list[Member]:
    """The secretary of a unit; the deputies when it has none."""
    for role in (RoleKind.SECRETARY, RoleKind.DEPUTY):
        found = [m for m, _ in await role_holders(session, [org_id], [role])]
        if found:
            return found
    return []
