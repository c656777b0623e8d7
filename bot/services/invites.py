"""Invite links: random single-use tokens, stored only as hashes, that link an account."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.menus import owe as owe_menu
from rules.people import name_sort_key
from storage.models import AuditEntry
from storage.models import InviteToken
from storage.models import Member
from storage.models import Organisation
from storage.models import TelegramAccount
from storage.queries import subtree_range

TOKEN_BYTES = 32  # 256 bits; token_urlsafe gives 43 characters, inside Telegram's 64
FREE_ATTEMPTS = 3  # wrong tokens allowed before the account is slowed down
MAX_BACKOFF = dt.timedelta(hours=1)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def deep_link(bot_username: str, token: str) -> str:
    return f"https://t.me/{bot_username}?start={token}"


@dataclass(frozen=True)
class Invite:
    member: Member
    org: Organisation
    token: str
    expires_at: dt.datetime


async def create_invites(
    session: AsyncSession, org: Organisation, *, now: dt.datetime, ttl: dt.timedelta, actor: str
) -> list[Invite]:
    """A fresh token for every member of the subtree with no linked account.

    Older unused tokens of those members are revoked: only the newest link works, so a list
    handed out again never leaves two live links for one person.
    """
    linked = select(TelegramAccount.member_id).where(TelegramAccount.member_id.is_not(None))
    rows = (
        await session.execute(
            select(Member, Organisation)
            .join(Organisation, Member.org_id == Organisation.id)
            .where(subtree_range(org.path), Member.id.not_in(linked))
            .order_by(Organisation.path, Member.code)
        )
    ).all()
    rows.sort(key=lambda row: (row[1].path, name_sort_key(row[0].full_name)))
    member_ids = [member.id for member, _ in rows]
    if member_ids:
        await session.execute(
            update(InviteToken)
            .where(
                InviteToken.member_id.in_(member_ids),
                InviteToken.used_at.is_(None),
                InviteToken.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
    invites = []
    for member, member_org in rows:
        token = secrets.token_urlsafe(TOKEN_BYTES)
        session.add(
            InviteToken(
                member_id=member.id,
                token_hash=hash_token(token),
                created_at=now,
                expires_at=now + ttl,
            )
        )
        invites.append(Invite(member, member_org, token, now + ttl))
    session.add(
        AuditEntry.record(actor, "invites.create", "organisation", org.code, count=len(invites))
    )
    return invites


class Redeem(enum.Enum):
    LINKED = "linked"
    ALREADY_YOURS = "already_yours"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"
    REVOKED = "revoked"
    ACCOUNT_LINKED_ELSEWHERE = "account_linked_elsewhere"
    MEMBER_LINKED_ELSEWHERE = "member_linked_elsewhere"
    SLOWED_DOWN = "slowed_down"


@dataclass(frozen=True)
class RedeemResult:
    outcome: Redeem
    member: Member | None = None
    wait: dt.timedelta | None = None


def backoff(failures: int) -> dt.timedelta:
    """Waiting time after `failures` wrong tokens: none at first, then doubling from 30 s."""
    if failures < FREE_ATTEMPTS:
        return dt.timedelta(0)
    return min(MAX_BACKOFF, dt.timedelta(seconds=30 * 2 ** (failures - FREE_ATTEMPTS)))


async def redeem(
    session: AsyncSession, account: TelegramAccount, token: str, *, now: dt.datetime
) -> RedeemResult:
    if account.last_failed_invite_at is not None:
        ready_at = account.last_failed_invite_at + backoff(account.failed_invites)
        if now < ready_at:
            return RedeemResult(Redeem.SLOWED_DOWN, wait=ready_at - now)
    invite = await session.scalar(
        select(InviteToken).where(InviteToken.token_hash == hash_token(token))
    )
    result = await _check(session, account, invite, now)
    if result.outcome in (Redeem.UNKNOWN, Redeem.EXPIRED, Redeem.USED, Redeem.REVOKED):
        account.failed_invites += 1
        account.last_failed_invite_at = now
        return result
    if result.outcome is not Redeem.LINKED:
        return result
    assert invite is not None
    invite.used_at = now
    account.member_id = invite.member_id
    account.linked_at = now
    account.failed_invites = 0
    account.last_failed_invite_at = None
    await owe_menu(session, telegram_ids=[account.telegram_id])  # their roles' menu, after the commit
    session.add(
        AuditEntry.record(
            f"tg:{account.telegram_id}",
            "account.link",
            "member",
            result.member.code if result.member else None,
        )
    )
    return result


async def _check(
    session: AsyncSession, account: TelegramAccount, invite: InviteToken | None, now: dt.datetime
) -> RedeemResult:
    if invite is None:
        return RedeemResult(Redeem.UNKNOWN)
    member = await session.get(Member, invite.member_id)
    if account.member_id == invite.member_id:
        return RedeemResult(Redeem.ALREADY_YOURS, member)
    if invite.used_at is not None:
        return RedeemResult(Redeem.USED)
    if invite.revoked_at is not None:
        return RedeemResult(Redeem.REVOKED)
    if invite.expires_at <= now:
        return RedeemResult(Redeem.EXPIRED)
    if account.member_id is not None:
        return RedeemResult(
            Redeem.ACCOUNT_LINKED_ELSEWHERE, await session.get(Member, account.member_id)
        )
    other = await session.scalar(
        select(TelegramAccount).where(TelegramAccount.member_id == invite.member_id)
    )
    if other is not None:
        return RedeemResult(Redeem.MEMBER_LINKED_ELSEWHERE, member)
    return RedeemResult(Redeem.LINKED, member)
