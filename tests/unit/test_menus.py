"""Menus owed are never lost: a change that lands while a menu is being set keeps it owed, and a
release that changes the commands makes every menu set before it owed at start-up."""

import datetime as dt

import pytest
from sqlalchemy import update

from bot.services.menus import MenuSync
from handlers.commands import declaration_digest
from handlers.commands import menu
from storage.db import Database
from storage.models import Member
from storage.models import Organisation
from storage.models import Role
from storage.models import TelegramAccount
from storage.queries import place_org

NOW = dt.datetime(2026, 12, 4, 3, 0, tzinfo=dt.UTC)
CHAT = 700_000_001


class Bot:
    """Takes menus like Telegram; `during` runs inside a call (what happens meanwhile)."""

    def __init__(self) -> None:
        self.menus: dict[int, list[str]] = {}
        self.during = None

    async def set_my_commands(self, commands, scope=None, language_code=None):
        if scope is not None and getattr(scope, "chat_id", None):
            self.menus[scope.chat_id] = [c.command for c in commands]
        if self.during is not None:
            during, self.during = self.during, None
            await during()
        return True

    async def delete_my_commands(self, scope=None, language_code=None):
        self.menus.pop(scope.chat_id, None)
        return True


@pytest.fixture
async def db(database_url):
    database = Database(database_url)
    await database.migrate()
    async with database.session() as session:
        cell = Organisation(code="CB01", name="Chi bộ 1", kind="cell", path="")
        await place_org(session, cell, None)
        member = Member(
            code="DV001", full_name="An", org_id=cell.id, status="official",
            admitted_on=dt.date(1995, 6, 15),
        )
        session.add(member)
        await session.flush()
        session.add(
            TelegramAccount(
                telegram_id=CHAT, member_id=member.id, failed_invites=0, started_at=NOW, menu_owed=1
            )
        )
    yield database
    await database.dispose()


def sync(bot, db, declaration=None) -> MenuSync:
    return MenuSync(
        bot, db, menu_for=menu, declaration=declaration or declaration_digest(),
        default_locale="vi", clock=lambda: NOW,
    )


async def account(db) -> TelegramAccount:
    async with db.session() as session:
        return await session.get(TelegramAccount, CHAT)


async def test_a_role_given_while_the_menu_is_set_stays_owed(db):
    bot = Bot()

    async def secretary_meanwhile():  # a roster import commits while Telegram is called
        async with db.session() as session:
            session.add(Role(member_id=(await session.get(TelegramAccount, CHAT)).member_id,
                             org_id=1, role="secretary"))
            await session.execute(
                update(TelegramAccount).values(menu_owed=TelegramAccount.menu_owed + 1)
            )

    bot.during = secretary_meanwhile
    menus = sync(bot, db)
    await menus.run_pass()
    assert "lich_hop" not in bot.menus[CHAT]  # set from the roles read before the change
    assert (await account(db)).menu_owed > 0  # ... so it is still owed
    await menus.run_pass()
    assert "lich_hop" in bot.menus[CHAT]
    assert (await account(db)).menu_owed == 0
    calls = menus.calls
    async with db.session() as session:  # owed again with nothing changed: no call
        await session.execute(update(TelegramAccount).values(menu_owed=1))
    await menus.run_pass()
    assert menus.calls == calls and (await account(db)).menu_owed == 0


async def test_menus_of_an_older_release_are_owed_at_start_up(db):
    bot = Bot()
    old = sync(bot, db, declaration="an older release")
    await old.run_pass()
    shown = (await account(db)).menu
    assert shown is not None and (await account(db)).menu_owed == 0
    await old.start()  # the same release again: nothing owed
    await old.close()
    assert (await account(db)).menu_owed == 0
    new = sync(bot, db)
    await new.start()
    await new.close()
    assert (await account(db)).menu_owed == 1
    await new.run_pass()
    assert (await account(db)).menu not in (None, shown)
