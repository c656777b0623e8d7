"""Command menus per person: each chat's Telegram menu lists the commands of that person's roles,
in their language.

- Unlinked users see the default menu, set at start-up for all private chats, once per
  language Telegram may report (`language_code`), each in the language the bot would speak.
- A linked member's chat gets a menu of its own (`setMyCommands` with `BotCommandScopeChat`),
  as does an unlinked user who chose with /ngon_ngu a language other than the default menu's.
- What may change a menu (linking, /ngon_ngu, a roster import that grants or removes a role or
  moves a member) calls `owe()` in its own transaction: the account's `menu_owed` counter goes
  up with the change, so the debt is in the database and survives a restart or a crash.
- Telegram is called only by `MenuSync`, a background task of the bot, after the commit and
  never with a transaction open: it reads what is owed, sets each menu that differs from what
  its chat shows (the digest in `menu`), paced at `CALLS_PER_SECOND`, then records what it set.
  A roster import of thousands of members costs one UPDATE; only the chats whose menu really
  changes are called. Users who never started the bot, or who blocked it, are skipped (their
  debt stays for when they come back).

`setMyCommands` carries no `chat_id`, so python-telegram-bot's AIORateLimiter does not throttle
it (it only retries it after a 429): the pace here is the menus' own, a third of Telegram's
30 calls a second, so replies to users keep most of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import logging
import weakref
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam
from sqlalchemy import case
from sqlalchemy import event
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot
from telegram import BotCommand
from telegram import BotCommandScopeAllPrivateChats
from telegram import BotCommandScopeChat
from telegram.error import BadRequest
from telegram.error import Forbidden
from telegram.error import TelegramError

from bot.i18n import Translator
from bot.i18n import locale_for
from bot.services.accounts import Identity
from bot.services.accounts import identify
from storage.db import Database
from storage.models import AuditEntry
from storage.models import Member
from storage.models import Organisation
from storage.models import Role
from storage.models import TelegramAccount

log = logging.getLogger(__name__)

# (command, description) pairs of a person's menu, in the translator's language.
MenuFor = Callable[[Translator, Identity], list[tuple[str, str]]]

CALLS_PER_SECOND = 10.0
BATCH = 100  # accounts read per pass
RETRY_SECONDS = 30.0  # after Telegram was unreachable or kept answering 429
CHUNK = 500  # values per IN (...) list: far inside SQLite's and asyncpg's parameter limits
# The languages Telegram may report that the default menu has its own entry for ("" is
# everyone else); each entry is in the language the bot speaks to such a user.
DEFAULT_MENU_LANGUAGES = ("", "vi", "en")
NOBODY = Identity(None, ())


def _chunks(values: Iterable, size: int = CHUNK) -> Iterable[list]:
    items = list(dict.fromkeys(values))
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def owe(
    session: AsyncSession,
    *,
    telegram_ids: Iterable[int] = (),
    member_ids: Iterable[int] = (),
    member_codes: Iterable[str] = (),
    org_codes: Iterable[str] = (),
) -> None:
    """Record, in the caller's transaction, that the menus of these people may have changed:
    accounts by Telegram id, by member (id or code), and the holders of roles on these
    organisations. A running bot updates them soon after the commit; any other process (the
    CLI) leaves them to the bot's next pass or start."""
    conditions = [TelegramAccount.telegram_id.in_(chunk) for chunk in _chunks(telegram_ids)]
    conditions += [TelegramAccount.member_id.in_(chunk) for chunk in _chunks(member_ids)]
    conditions += [
        TelegramAccount.member_id.in_(select(Member.id).where(Member.code.in_(chunk)))
        for chunk in _chunks(member_codes)
    ]
    conditions += [
        TelegramAccount.member_id.in_(
            select(Role.member_id)
            .join(Organisation, Role.org_id == Organisation.id)
            .where(Organisation.code.in_(chunk))
        )
        for chunk in _chunks(org_codes)
    ]
    # One statement per chunk, so that no statement outgrows the database's parameter limit
    # (an account named twice is owed twice: harmless, the counter only says "something").
    for condition in conditions:
        await session.execute(
            update(TelegramAccount)
            .where(condition)
            .values(menu_owed=TelegramAccount.menu_owed + 1)
            .execution_options(synchronize_session=False)  # no loaded account reads it
        )
    if conditions:
        _kick_after_commit(session)


# The running bot's MenuSync for each database engine, so that `owe()` can wake it after the
# commit of the transaction that owed a menu.
_RUNNING: weakref.WeakValueDictionary[int, MenuSync] = weakref.WeakValueDictionary()
_KICK_KEY = "menus.kick"


def _kick_after_commit(session: AsyncSession) -> None:
    engine = session.bind
    sync = _RUNNING.get(id(engine.sync_engine)) if engine is not None else None
    if sync is None or session.info.get(_KICK_KEY):
        return
    session.info[_KICK_KEY] = True

    def after_commit(_session: object) -> None:
        session.info.pop(_KICK_KEY, None)
        sync.kick()

    event.listen(session.sync_session, "after_commit", after_commit, once=True)


async def _identities(
    session: AsyncSession, accounts: Sequence[TelegramAccount]
) -> list[tuple[TelegramAccount, Identity]]:
    """Each account's identity, as `identify` gives it, in a few queries for the batch: the
    members at once, and roles only for those who hold some."""
    member_ids = [a.member_id for a in accounts if a.member_id is not None]
    members: dict[int, Member] = {}
    with_roles: set[int] = set()
    for chunk in _chunks(member_ids):
        members |= {m.id: m for m in await session.scalars(select(Member).where(Member.id.in_(chunk)))}
        with_roles |= set(
            await session.scalars(select(Role.member_id).where(Role.member_id.in_(chunk)).distinct())
        )
    found = []
    for account in accounts:
        member = members.get(account.member_id) if account.member_id is not None else None
        if member is None:
            identity = NOBODY
        elif member.id in with_roles:
            identity = await identify(session, account)
        else:
            identity = Identity(member, ())
        found.append((account, identity))
    return found


def digest_of(prefix: str, commands: Sequence[tuple[str, str]]) -> str:
    body = json.dumps(list(commands), ensure_ascii=False).encode()
    return f"{prefix}:{hashlib.sha256(body).hexdigest()[:16]}"


@dataclass(frozen=True)
class Wanted:
    """What one chat's own menu should be: None for none (the default menu shows)."""

    digest: str | None
    commands: list[tuple[str, str]] | None


class MenuSync:
    """Sets the menus owed, in the background of the running bot (see the module's doc)."""

    def __init__(
        self,
        bot: Bot,
        db: Database,
        *,
        menu_for: MenuFor,
        declaration: str,
        default_locale: str,
        clock: Callable[[], dt.datetime],
        calls_per_second: float = CALLS_PER_SECOND,
    ) -> None:
        self.bot = bot
        self.db = db
        self.menu_for = menu_for
        self.default_locale = default_locale
        self.clock = clock
        self.interval = 1.0 / calls_per_second
        # Every digest starts with the declaration's (and the default language's): a release
        # that changes a command or its wording makes every menu set before it owed.
        self.prefix = hashlib.sha256(f"{declaration}/{default_locale}".encode()).hexdigest()[:8]
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._next_call = 0.0
        self._working = False
        self.calls = 0  # Telegram calls made, for tests and benchmarks

    @property
    def busy(self) -> bool:
        """Whether owed menus are being looked for or set (tests wait for it to end)."""
        return self._working or self._wake.is_set()

    # --- life cycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """At start-up: the default menus, menus set by an older release marked owed, and the
        background task started on whatever is owed (left by a stop, a crash or the CLI)."""
        await self.set_default_menus()
        async with self.db.session() as session:
            await session.execute(
                update(TelegramAccount)
                .where(
                    TelegramAccount.menu.is_not(None),
                    TelegramAccount.menu.not_like(f"{self.prefix}:%"),
                )
                .values(menu_owed=TelegramAccount.menu_owed + 1)
            )
        _RUNNING[id(self.db.engine.sync_engine)] = self
        self._task = asyncio.create_task(self._work(), name="menus")
        self.kick()

    async def close(self) -> None:
        _RUNNING.pop(id(self.db.engine.sync_engine), None)
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def kick(self) -> None:
        """Look for owed menus soon (from the event loop's thread; never blocks)."""
        self._wake.set()

    async def set_default_menus(self) -> None:
        for language_code in DEFAULT_MENU_LANGUAGES:
            locale = locale_for(language_code or None, None, self.default_locale)
            commands = self.menu_for(Translator(locale), NOBODY)
            await self.bot.set_my_commands(
                [BotCommand(name, text) for name, text in commands],
                scope=BotCommandScopeAllPrivateChats(),
                language_code=language_code or None,
            )

    # --- the work -----------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            await self._wake.wait()
            self._working = True
            self._wake.clear()
            try:
                while await self.run_pass():
                    pass
            except TelegramError as error:  # away or busy; a refusal is handled per chat
                log.warning("menus: %s; trying again in %ss", type(error).__name__, RETRY_SECONDS)
                await asyncio.sleep(RETRY_SECONDS)
                self.kick()
            except Exception:  # a bug (or the database): logged, and tried again later
                log.exception("menus: the update failed; trying again in %ss", RETRY_SECONDS)
                await asyncio.sleep(RETRY_SECONDS)
                self.kick()
            finally:
                self._working = False

    def wanted(self, account: TelegramAccount, identity: Identity) -> Wanted:
        locale = locale_for(account.language_code, account.chosen_locale, self.default_locale)
        if not identity.is_member and locale == locale_for(
            account.language_code, None, self.default_locale
        ):
            return Wanted(None, None)  # the default menu is the same
        commands = self.menu_for(Translator(locale), identity)
        return Wanted(digest_of(self.prefix, commands), commands)

    async def run_pass(self) -> bool:
        """One batch of owed menus; True if more may be owed."""
        plans: list[tuple[int, int, str | None, Wanted]] = []
        async with self.db.session() as session:
            accounts = (
                await session.scalars(
                    select(TelegramAccount)
                    .where(
                        TelegramAccount.menu_owed > 0,
                        TelegramAccount.started_at.is_not(None),
                        TelegramAccount.blocked_at.is_(None),
                    )
                    .order_by(TelegramAccount.telegram_id)
                    .limit(BATCH)
                )
            ).all()
            # The counter is read before the roles: a change committed after it was read
            # leaves the counter higher than the one cleared below, so it stays owed.
            for account, identity in await _identities(session, accounts):
                wanted = self.wanted(account, identity)
                plans.append((account.telegram_id, account.menu_owed, account.menu, wanted))
        # No transaction is open from here while Telegram is called.
        done: list[tuple[int, int, str | None]] = []
        blocked: list[int] = []
        try:
            for telegram_id, owed, shown, wanted in plans:
                if wanted.digest == shown:
                    done.append((telegram_id, owed, shown))
                    continue
                try:
                    await self._apply(telegram_id, wanted)
                except Forbidden:
                    blocked.append(telegram_id)  # owed still, for when they come back
                    continue
                except BadRequest as error:
                    # Nothing to retry: Telegram will not take this chat's menu (e.g. the
                    # account was deleted). A later change owes it again.
                    log.warning("menus: Telegram refused a chat's menu: %s", error.message)
                    done.append((telegram_id, owed, shown))
                    continue
                done.append((telegram_id, owed, wanted.digest))
        finally:
            await self._record(done, blocked)
        return len(accounts) == BATCH

    async def _apply(self, telegram_id: int, wanted: Wanted) -> None:
        await self._pace()
        scope = BotCommandScopeChat(telegram_id)
        self.calls += 1
        if wanted.commands is None:
            await self.bot.delete_my_commands(scope=scope)
        else:
            await self.bot.set_my_commands(
                [BotCommand(name, text) for name, text in wanted.commands], scope=scope
            )

    async def _pace(self) -> None:
        loop = asyncio.get_running_loop()
        wait = self._next_call - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        self._next_call = max(loop.time(), self._next_call) + self.interval

    async def _record(self, done: list[tuple[int, int, str | None]], blocked: list[int]) -> None:
        if not done and not blocked:
            return
        accounts = TelegramAccount.__table__
        async with self.db.session() as session:
            if done:
                await session.execute(
                    update(accounts)
                    .where(accounts.c.telegram_id == bindparam("account"))
                    .values(
                        menu=bindparam("shown"),
                        # Cleared only if nothing was owed since it was read.
                        menu_owed=case(
                            (accounts.c.menu_owed == bindparam("owed"), 0),
                            else_=accounts.c.menu_owed,
                        ),
                    ),
                    [{"account": i, "owed": owed, "shown": shown} for i, owed, shown in done],
                )
            for chunk in _chunks(blocked):
                await session.execute(
                    update(TelegramAccount)
                    .where(TelegramAccount.telegram_id.in_(chunk))
                    .values(blocked_at=self.clock())
                )


async def choose_locale(
    session: AsyncSession, account: TelegramAccount, code: str, *, actor: str
) -> None:
    """The account's language from now on; its command menu follows (bot/services/menus.py)."""
    account.chosen_locale = code
    session.add(
        AuditEntry.record(actor, "account.language", "account", account.telegram_id, locale=code)
    )
    await owe(session, telegram_ids=[account.telegram_id])
