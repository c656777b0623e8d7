"""Telegram accounts: who talks to the bot, their language, and the member they are."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import bindparam
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.i18n import Translator
from bot.i18n import locale_for
from bot.permissions import Grant
from bot.services import flow_states
from rules.org_scoring import RATED_KINDS
from storage.models import FlowState
from storage.models import Member
from storage.models import Organisation
from storage.models import OrgKind
from storage.models import Role
from storage.models import RoleKind
from storage.models import TelegramAccount
from storage.queries import roles_of_member


async def _language_seen(
    session: AsyncSession, account: TelegramAccount, language_code: str | None, default: str
) -> None:
    """Telegram's language of the user may have changed since their last update: if that
    changes the language the bot speaks to them (they never chose one with /ngon_ngu), their
    command menu is owed in the new one, in this transaction."""
    if locale_for(language_code, account.chosen_locale, default) != locale_for(
        account.language_code, account.chosen_locale, default
    ):
        from bot.services.menus import owe  # menus builds on this module

        await owe(session, telegram_ids=[account.telegram_id])


def _touched(
    account: TelegramAccount, language_code: str | None, *, private: bool, now: dt.datetime
) -> None:
    # Only what changes is set: an unchanged account is no write (handlers/base.py).
    if account.language_code != language_code:
        account.language_code = language_code
    if private:
        if account.started_at is None:
            account.started_at = now
        if account.blocked_at is not None:
            account.blocked_at = None


def translator_of(account: TelegramAccount, settings: Settings) -> Translator:
    """The language an account reads in: their /ngon_ngu choice, else Telegram's language."""
    locale = locale_for(account.language_code, account.chosen_locale, settings.default_locale)
    return Translator(locale, settings.tz)


@dataclass(frozen=True)
class Identity:
    """The member behind an account, and the grants their roles give."""

    member: Member | None
    grants: tuple[Grant, ...]

    @property
    def is_member(self) -> bool:
        return self.member is not None

    @property
    def is_manager(self) -> bool:
        return bool(self.grants)

    def holds(self, *roles: RoleKind) -> bool:
        return any(g.role in roles for g in self.grants)

    def holds_on_cell(self, *roles: RoleKind) -> bool:
        return any(g.role in roles and g.org_is_cell for g in self.grants)


def _grant(role: str, org_id: int, path: str, code: str, kind: str) -> Grant:
    return Grant(
        role=RoleKind(role),
        org_id=org_id,
        org_path=path,
        org_code=code,
        org_is_cell=OrgKind(kind).is_cell,
        org_decides=OrgKind(kind) != OrgKind.CELL,
        org_rated=kind in RATED_KINDS,
    )


async def identify(session: AsyncSession, account: TelegramAccount) -> Identity:
    if account.member_id is None:
        return Identity(None, ())
    member = await session.get(Member, account.member_id)
    if member is None:
        return Identity(None, ())
    grants = tuple(
        _grant(role.role, org.id, org.path, org.code, org.kind)
        for role, org in await roles_of_member(session, member.id)
    )
    return Identity(member, grants)


# Built once: every update runs it (a statement built per call pays for its cache key).
_ARRIVAL = (
    select(
        TelegramAccount,
        Member,
        FlowState.telegram_id,  # whether a flow holds the user (the engine loads it)
        Role.role,
        Organisation.id,
        Organisation.path,
        Organisation.code,
        Organisation.kind,
    )
    .outerjoin(FlowState, FlowState.telegram_id == TelegramAccount.telegram_id)
    .outerjoin(Member, Member.id == TelegramAccount.member_id)
    .outerjoin(Role, Role.member_id == Member.id)
    .outerjoin(Organisation, Organisation.id == Role.org_id)
    .where(TelegramAccount.telegram_id == bindparam("telegram_id"))
    .order_by(Organisation.path)
)


async def arrive(
    session: AsyncSession,
    telegram_id: int,
    language_code: str | None,
    *,
    private: bool,
    now: dt.datetime,
    default_locale: str,
) -> tuple[TelegramAccount, Identity]:
    """As every update starts, in one query: the account (created at the user's first
    update; a private message means they started the bot), its member and the member's roles
    (one row per role), and whether a flow holds the user (when none does, as for most
    updates, ``flow_states.load`` asks the database nothing). A change of the user's
    Telegram language may owe their menu (``_language_seen``)."""
    rows = (await session.execute(_ARRIVAL, {"telegram_id": telegram_id})).all()
    if not rows:
        account = TelegramAccount(telegram_id=telegram_id, failed_invites=0)
        session.add(account)
        _touched(account, language_code, private=private, now=now)
        return account, Identity(None, ())
    account, member, in_flow = rows[0][:3]
    if in_flow is None:
        flow_states.known_absent(session, telegram_id)
    await _language_seen(session, account, language_code, default_locale)
    _touched(account, language_code, private=private, now=now)
    if member is None:
        return account, Identity(None, ())
    grants = tuple(_grant(*row[3:]) for row in rows if row[3] is not None)
    return account, Identity(member, grants)

