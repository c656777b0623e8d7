"""The one path every update takes: a database session, the caller's identity and language,
the private-chat rule and authorisation. Handlers receive a `Turn` and stay thin."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
from collections.abc import Awaitable
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import CallbackQuery
from telegram import InlineKeyboardButton
from telegram import InlineKeyboardMarkup
from telegram import Message
from telegram import MessageEntity
from telegram import Update
from telegram.constants import ChatType
from telegram.error import BadRequest

from bot.context import BotContext
from bot.delivery import EDIT
from bot.delivery import KEYBOARD
from bot.delivery import Outbox
from bot.delivery import Owed
from bot.delivery import Undeliverable
from bot.delivery import deliver
from bot.delivery import plain_text
from bot.delivery import same_buttons
from bot.i18n import Explained
from bot.i18n import Translator
from bot.intake import mark_handled
from bot.permissions import Action
from bot.permissions import allowed
from bot.permissions import sees
from bot.services import Services
from bot.services.accounts import Identity
from bot.services.accounts import arrive
from bot.services.accounts import translator_of
from bot.text import esc
from storage.db import Session
from storage.db import before_commit
from storage.db import writes
from storage.models import Organisation
from storage.models import OutboxMessage
from storage.models import TelegramAccount

log = logging.getLogger(__name__)


class Refusal(Explained):
    """Raised inside a handler to stop and tell the user why, in their language."""


# A press answered later than this after it reached us is answered in a message instead:
# Telegram stops taking answers to a callback query after about 15 seconds.
ANSWER_WINDOW_SECONDS = 12.0
ALERT_LIMIT = 200  # characters Telegram shows in a button's alert


@dataclass
class Turn:
    """One update being handled. What it says to users is delivered after its transaction
    commits (bot/delivery.py): replies, edits and notices are recorded in the outbox in the
    same transaction, so nothing is said about work that was not saved, and nothing owed is
    lost in a crash."""

    update: Update
    context: BotContext
    session: AsyncSession
    account: TelegramAccount
    identity: Identity
    t: Translator
    answered: bool = field(default=False)
    owed: list[tuple[OutboxMessage | None, Owed]] = field(default_factory=list)
    unsaved: list[int] = field(default_factory=list)  # durable ones of `owed` not in the outbox
    kept: bool = False  # a message could not be delivered and stays owed (Telegram away)
    later: list[Callable[[], Awaitable[object]]] = field(default_factory=list)
    pending_answer: tuple[str | None, bool] | None = None
    button: Any = None  # the pressed button's decoded data (turn_handler(button=...))
    target: Organisation | None = None  # the organisation the turn acts on (target=...)

    @property
    def services(self) -> Services:
        return self.context.services

    @property
    def query(self) -> CallbackQuery | None:
        return self.update.callback_query

    @property
    def chat_id(self) -> int:
        return self.update.effective_chat.id

    @property
    def actor(self) -> str:
        return f"tg:{self.account.telegram_id}"

    def require(self, action: Action, org: Organisation) -> None:
        """The single authorisation check: a role on an ancestor-or-self of `org`."""
        if allowed(self.identity.grants, action, org.path):
            return
        member = self.identity.member
        own = (member.org_id, member.temporary_org_id) if member is not None else ()
        if sees(self.identity.grants, org.path, org.id, own):
            raise Refusal("You do not have permission to do this for {org}.", org=esc(org.name))
        # Never confirm that a unit outside the caller's reach exists (issue 12).
        if self.query is not None:
            raise Refusal("This button is no longer valid.")
        raise Refusal("You do not have permission to do this.")

    def may(self, action: Action, org: Organisation) -> bool:
        """Whether the caller may do `action` for `org`: for what a screen shows (a button only
        for those who may press it), never in place of a declared target's check."""
        return allowed(self.identity.grants, action, org.path)

    def require_member(self) -> None:
        if not self.identity.is_member:
            raise Refusal(
                "Your Telegram account is not linked to a party member yet. "
                "Open the personal invite link your cell secretary sent you."
            )

    # --- what the turn says, delivered after the commit ------------------------------------

    def owe(self, owed: Owed, *, durable: bool = True) -> None:
        """Record a message owed; durable ones go in the outbox with the turn's changes, when
        it commits some (``save_owed``)."""
        if durable:
            self.unsaved.append(len(self.owed))
        self.owed.append((None, owed))

    def save_owed(self, session: Session) -> None:
        """As the turn's transaction commits (a session event): the durable messages owed so
        far into the outbox, if the transaction changed anything. A turn that changed nothing
        stores no message: its update stays unhandled until its answer went out, so a crash
        in between handles it again."""
        if not self.unsaved or not writes(session):
            return
        now = self.services.now()
        for index in self.unsaved:
            self.owed[index] = (Outbox.add(session, self.owed[index][1], now), self.owed[index][1])
        self.unsaved.clear()

    async def reply(
        self,
        text: str,
        *,
        reply_markup: InlineKeyboardMarkup | None = None,
        durable: bool = True,
        in_place: bool = False,
    ) -> None:
        """HTML text to the current chat (split if long; buttons on the last part), or
        (`in_place`, as `edit`) in place of the message whose button was pressed.
        `durable=False` for text the database must never hold (invite tokens, ballots)."""
        owed = self._in_place(text, reply_markup) if in_place else Owed.message(
            self.chat_id, text, reply_markup
        )
        if owed is not None:
            self.owe(owed, durable=durable)

    # Replace the text of the message whose button was pressed: a reply in its place.
    edit = functools.partialmethod(reply, in_place=True)

    def _in_place(self, text: str, reply_markup: InlineKeyboardMarkup | None) -> Owed | None:
        """The edit of the pressed message; a new message where what it shows is not known
        (after a restart, or long after the press), never an edit that might change nothing
        (None: it shows this already)."""
        assert self.query is not None
        message = self.query.message
        replayed = self.services.arrivals.was_replayed(self.update.update_id)
        if message is None or replayed or self._stale():
            return Owed.message(self.chat_id, text, reply_markup)
        if self.services.shown.unchanged(message, text, reply_markup):
            return None  # Telegram refuses an edit that changes nothing
        return Owed.message(
            message.chat.id, text, reply_markup, kind=EDIT, message_id=message.message_id
        )

    async def edit_keyboard(self, reply_markup: InlineKeyboardMarkup | None) -> None:
        """Change only the buttons of the message whose button was pressed (None: remove)."""
        message = self.query.message if self.query is not None else None
        if message is None or same_buttons(message.reply_markup, reply_markup):
            return  # Telegram refuses an edit that changes nothing
        owed = Owed.message(
            message.chat.id, "", reply_markup, kind=KEYBOARD, message_id=message.message_id
        )
        self.owe(owed, durable=False)

    def notify(
        self,
        chat_id: int,
        text: str,
        *,
        reply_markup: InlineKeyboardMarkup | None = None,
        unreachable: str | None = None,
    ) -> None:
        """A message to another user; `unreachable` goes to this chat if they cannot be reached."""
        fallback = Owed(self.chat_id, unreachable) if unreachable else None
        self.owe(Owed.message(chat_id, text, reply_markup, fallback=fallback))

    def after_commit(self, action: Callable[[], Awaitable[object]]) -> None:
        """Telegram I/O that is not an owed message (files, charts), run after the commit."""
        self.later.append(action)

    async def answer(self, text: str | None = None, *, alert: bool = False) -> None:
        """Answer the press (once), after the commit."""
        if self.query is not None and not self.answered:
            self.answered = True
            self.pending_answer = (text, alert)

    async def release(self) -> None:
        """Commit now and deliver what is owed so far; the session goes on in a new
        transaction. For work that must reach Telegram before the turn ends (a progress note
        before a long job), never with a transaction open across the call."""
        await self.session.commit()
        await self.deliver()

    async def reply_now(
        self, text: str, *, reply_markup: InlineKeyboardMarkup | None = None
    ) -> Message:
        """Commit, then send at once and return the message (to edit or delete it later)."""
        await self.release()
        return await self.context.bot.send_message(self.chat_id, text, reply_markup=reply_markup)

    async def deliver(self) -> None:
        """After the commit: the owed messages in order, the press's answer (so what the press
        changed is on screen when its spinner stops), then the rest."""
        owed, self.owed, self.unsaved = self.owed, [], []
        refused: list[Owed] = []
        if owed:
            refused, kept = await self.services.outbox.deliver_rows(self.context.bot, owed)
            self.kept = self.kept or bool(kept)
            for _row, item in owed:
                self.services.shown.remember(item)
        await self._deliver_answer()
        later, self.later = self.later, []
        if later:  # they see the delivered rows gone (a cast's WAL checkpoint scrubs its receipt)
            await self.services.outbox.flush()
        for action in later:
            await action()
        if any(item.chat_id == self.chat_id for item in refused):
            # the user would hear nothing: the error handler logs it and tells them
            raise Undeliverable("Telegram refused a reply")

    async def _deliver_answer(self) -> None:
        if self.pending_answer is None:
            return
        text, alert = self.pending_answer
        self.pending_answer = None
        if self._stale():
            if text:  # too late for a toast: say it in a message
                await self._say(text)
            return
        plain = plain_text(text) if text else text  # an alert shows no HTML: no tags, no &lt;
        if plain and len(plain) > ALERT_LIMIT:
            await self.query.answer()
            await self._say(text)
            return
        try:
            await self.query.answer(plain, show_alert=alert)
        except BadRequest as error:
            if "query is too old" not in str(error).lower():
                raise
            if text:
                await self._say(text)

    async def _say(self, text: str) -> None:
        await deliver(
            self.context.bot, self.services.db, Owed(self.chat_id, text), self.services.now()
        )

    def _stale(self) -> bool:
        arrived = self.services.arrivals.arrived_at(self.update.update_id)
        if arrived is None:
            return False
        age = asyncio.get_running_loop().time() - arrived
        return age > self.services.settings.answer_window_seconds


Handler = Callable[[Turn], Awaitable[None]]


@dataclass(frozen=True)
class Reach:
    """What a target found when the action is not required on the organisation acted on
    itself: `checked_on` is where it is required instead (DECIDE on the deciding level above
    a cell), or None where the rule asks for no role (a plain member's own cell's progress)."""

    org: Organisation
    checked_on: Organisation | None


# How a handler finds the organisation it acts on (see handlers/scope.py): refuses with the
# one wording when there is none within reach. None: the command names no organisation and
# the caller holds the action on several, so the handler offers them to choose.
Found = Organisation | Reach | None
Target = Callable[[Turn, Action | None], Awaitable[Found]]


async def act_on(turn: Turn, action: Action | None, found: Found) -> None:
    """The declared edge's check, the one place a permission is required: the turn acts on
    what the target found (`turn.target`), and `action` is required where the rule puts it.
    Used by `turn_handler`, by the flow engine before a step's handler runs, and where what a
    turn acts on is known only from what the user sent (a workbook's sheets)."""
    org, checked = (found.org, found.checked_on) if isinstance(found, Reach) else (found, found)
    turn.target = org
    if action is not None and checked is not None:
        turn.require(action, checked)


class DecodesButton(Protocol):
    @classmethod
    def decode(cls, data: str | None) -> Any: ...


def translator_for(account: TelegramAccount, services: Services) -> Translator:
    """The language another user reads in (for messages the bot sends them unasked)."""
    return translator_of(account, services.settings)


def private_chat_button(t: Translator, bot_username: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(t("Open the private chat"), url=f"https://t.me/{bot_username}")]]
    )


def _wall_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)  # the inbox's own bookkeeping, not the domain's clock


def turn_handler(
    *,
    private_only: bool = True,
    button: type[DecodesButton] | None = None,
    action: Action | None = None,
    target: Target | None = None,
    leaves_flows: bool = True,
) -> Callable[[Handler], Callable]:
    """Wrap a handler: one session per update, identity, language, the private-chat rule,
    refusals rendered in the user's language, every button press answered, and everything
    the turn says delivered after its transaction committed (with the update marked handled
    in that same transaction).

    The edge is declared here: `button` decodes the press into `turn.button` (forged or stale
    data is refused); `target` finds the organisation the turn acts on and `action` is
    required on it (`turn.target`), so no handler checks permissions by hand; a command
    leaves a pending text prompt before it runs (`leaves_flows`, see conversations/engine.py).
    """
    if action is not None and target is None:
        raise ValueError("an action is required on a target: give target=")

    async def prepare(turn: Turn) -> None:
        if button is not None:
            turn.button = button.decode(turn.query.data if turn.query else None)
        if leaves_flows and _is_command(turn.update):
            from conversations.engine import leave_for_command  # the engine builds on Turn

            await leave_for_command(turn)
        if target is not None:
            await act_on(turn, action, await target(turn, action))

    def decorate(fn: Handler) -> Callable:
        @functools.wraps(fn)
        async def callback(update: Update, context: BotContext) -> None:
            user = update.effective_user
            chat = update.effective_chat
            services = context.services
            if user is None or chat is None:
                async with services.db.session() as session:
                    await mark_handled(session, update.update_id, _wall_now())
                return
            private = chat.type == ChatType.PRIVATE
            async with services.db.session() as session:
                account, identity = await arrive(
                    session, user.id, user.language_code, private=private, now=services.now(),
                    default_locale=services.settings.default_locale,
                )
                t = translator_for(account, services)
                turn = Turn(update, context, session, account, identity, t)
                before_commit(session, turn.save_owed)  # its messages saved as it commits
                try:
                    if private_only and not private:
                        await _point_to_private_chat(turn)
                    else:
                        await prepare(turn)
                        await fn(turn)
                except Refusal as refusal:
                    text = t(refusal.msgid, **refusal.params)
                    if turn.query is not None and not turn.answered:
                        await turn.answer(text, alert=True)
                    else:
                        await turn.reply(text)
                await turn.answer()
                changed = writes(session.sync_session)
                if changed:  # the mark commits with the changes (and the messages owed)
                    await mark_handled(session, update.update_id, _wall_now())
            await turn.deliver()
            if not changed and not turn.kept:  # nothing to keep: handled once answered
                services.outbox.answered(update.update_id)

        return callback

    return decorate


def _is_command(update: Update) -> bool:
    message = update.message
    if message is None or not message.entities:
        return False
    first = message.entities[0]
    return first.type == MessageEntity.BOT_COMMAND and first.offset == 0


async def _point_to_private_chat(turn: Turn) -> None:
    text = turn.t("For privacy I only handle this in a private chat. Please write to me there.")
    if turn.query is not None:
        await turn.answer(text, alert=True)
        return
    await turn.reply(text, reply_markup=private_chat_button(turn.t, turn.services.bot_username))
