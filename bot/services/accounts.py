"""Telegram accounts: who talks to the bot, their language, and the member they are."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.i18n import Translator, locale_for
from bot.permissions import Grant
from rules.org_scoring import RATED_KINDS
from storage.models import Member, OrgKind, RoleKind, TelegramAccount
from storage.queries import roles_of_member


async def touch_account(
    session: AsyncSession,
    telegram_id: int,
    language_code: str | None,
    *,
    private: bool,
    now: dt.datetime,
    default_locale: str,
) -> TelegramAccount:
    """Load or create the account; a private message means the user has started the bot.
    Telegram's language of the user may have changed since their last update: if that changes
    the language the bot speaks to them (they never chose one with /ngon_ngu), their command
    menu is owed in the new one, in this transaction."""
    account = await session.get(TelegramAccount, telegram_id)
    if account is None:
        account = TelegramAccount(telegram_id=telegram_id, failed_invites=0)
        session.add(account)
    elif locale_for(language_code, account.chosen_locale, default_locale) != locale_for(
        account.language_code, account.chosen_locale, default_locale
    ):
        from bot.services.menus import owe  # menus builds on this module

        await owe(session, telegram_ids=[telegram_id])
    account.language_code = language_code
    if private:
        account.started_at = account.started_at or now
        account.blocked_at = None
    return account


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


async def identify(session: AsyncSession, account: TelegramAccount) -> Identity:
    if account.member_id is None:
        return Identity(None, ())
    member = await session.get(Member, account.member_id)
    if member is None:
        return Identity(None, ())
    grants = tuple(
        Grant(
            role=RoleKind(role.role),
            org_id=org.id,
            org_path=org.path,
            org_code=org.code,
            org_is_cell=OrgKind(org.kind).is_cell,
            org_decides=OrgKind(org.kind) != OrgKind.CELL,
            org_rated=org.kind in RATED_KINDS,
        )
        for role, org in await roles_of_member(session, member.id)
    )
    return Identity(member, grants)

