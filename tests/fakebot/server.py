"""A fake Telegram Bot API server for end-to-end tests.

The real bot (python-telegram-bot) talks HTTP to an aiohttp server on 127.0.0.1 and a
random port; tests play users through :class:`FakeUser`::

    async with FakeTelegram() as fake:
        app = (ApplicationBuilder().token(fake.token)
               .base_url(f"{fake.url}/bot").base_file_url(f"{fake.url}/file/bot").build())
        ...  # add handlers, app.initialize(), app.start(), app.updater.start_polling(poll_interval=0)
        alice = fake.user("Alice")
        await alice.send("/start")
        msg = await alice.wait_message()        # next bot message in Alice's private chat
        await alice.press("OK")                  # inline button on the newest message having it
        edited = await alice.wait_edit(msg)
        assert not fake.refused, fake.transcript()

Every method name and required parameter comes from ``api.json`` (Bot API 10.1). The
fake refuses what the real API refuses (bad HTML, too long texts, callback_data > 64
bytes, "message is not modified", users who never started the bot, unknown chats, flood
limits, ...), with the real error codes/descriptions; refusals the real server would not
make are prefixed ``fake:``. Every HTTP call is kept in ``fake.calls``; wrong calls in
``fake.refused``, flood 429s in ``fake.throttled`` and ``inject_error`` failures in
``fake.injected``. ``fake.transcript()`` prints a readable log.

Waiting: ``wait_message``/``wait_edit``/``wait_answer`` wait for what the test expects.
To conclude that the bot said nothing more, a bot running in the test's event loop (as
``tests.e2e.harness.BotRunner`` runs it) registers an idle probe (:meth:`FakeTelegram.
add_idle_probe`): ``await fake.bot_idle()`` (or ``wait_idle()``, ``user.collect()``) then
returns as soon as every update is handled, no call is in flight, no task of the bot runs and
no job is due, with no quiet window to guess. A bot in another process gets the quiet window.

Simplifications: flood limits count only new messages (send*); group chats are plain
``"group"`` chats with privacy mode on (the bot only receives commands and replies to its
own messages, as Telegram does by default; pass ``group_privacy=False`` to get all);
MarkdownV2/Markdown parse modes are refused as unsupported by the fake; inline mode,
webhooks, payments etc. are "not implemented" refusals.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import itertools
import json
import math
import mimetypes
import re
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

from aiohttp import web

from .html_check import EntityParseError
from .html_check import parse_html
from .html_check import strip_entities_text
from .html_check import utf16_len

__all__ = [
    "API_METHODS",
    "BotMessage",
    "Call",
    "CallbackRecord",
    "FakeFile",
    "FakeGroup",
    "FakeTelegram",
    "FakeUser",
]

_API = json.loads((Path(__file__).with_name("api.json")).read_text(encoding="utf-8"))
API_VERSION: str = _API["version"]
#: lower-case method name -> {"name": canonical name, "fields": {name: {"required", "types"}}}
API_METHODS: dict[str, dict[str, Any]] = {
    name.lower(): {
        "name": name,
        "fields": {f["name"]: {"required": f["required"], "types": f["types"]}
                   for f in spec.get("fields", [])},
    }
    for name, spec in _API["methods"].items()
}
_BUTTON_FIELDS = {f["name"] for f in _API["types"]["InlineKeyboardButton"]["fields"]}
_BUTTON_NON_ACTION = {"text", "icon_custom_emoji_id", "style"}

_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
_QUERY_TOO_OLD = (
    "Bad Request: query is too old and response timeout expired or query ID is invalid"
)
_DEFAULT_UPDATES = {"message", "edited_message", "channel_post", "edited_channel_post",
                    "callback_query", "my_chat_member", "inline_query", "chosen_inline_result",
                    "shipping_query", "pre_checkout_query", "poll", "poll_answer",
                    "chat_join_request", "business_connection", "business_message",
                    "edited_business_message", "deleted_business_messages",
                    "message_reaction", "message_reaction_count", "chat_member",
                    "chat_boost", "removed_chat_boost", "purchased_paid_media"}
_OPT_IN_UPDATES = {"chat_member", "message_reaction", "message_reaction_count"}
_CHAT_ACTIONS = {"typing", "upload_photo", "record_video", "upload_video", "record_voice",
                 "upload_voice", "upload_document", "choose_sticker", "find_location",
                 "record_video_note", "upload_video_note"}
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")


#: Non-text messages a user can send with :meth:`FakeUser.send_media` (Bot API shapes).
MEDIA_KINDS: dict[str, Any] = {
    "sticker": {"file_id": "", "file_unique_id": "", "type": "regular", "width": 512,
                "height": 512, "is_animated": False, "is_video": False, "emoji": "👍"},
    "photo": [{"file_id": "", "file_unique_id": "", "width": 90, "height": 90}],
    "voice": {"file_id": "", "file_unique_id": "", "duration": 3, "mime_type": "audio/ogg"},
    "audio": {"file_id": "", "file_unique_id": "", "duration": 120, "mime_type": "audio/mpeg"},
    "video": {"file_id": "", "file_unique_id": "", "width": 640, "height": 360,
              "duration": 5},
    "video_note": {"file_id": "", "file_unique_id": "", "length": 240, "duration": 4},
    "animation": {"file_id": "", "file_unique_id": "", "width": 320, "height": 240,
                  "duration": 2},
    "location": {"latitude": 10.7769, "longitude": 106.7009},
    "contact": {"phone_number": "+84901234567", "first_name": "Hai"},
    "venue": {"location": {"latitude": 10.7769, "longitude": 106.7009},
              "title": "Hội trường", "address": "1 Lê Lợi"},
    "dice": {"emoji": "🎲", "value": 4},
}


class ApiError(Exception):
    """Raised inside the fake to produce an error response."""

    def __init__(self, code: int, description: str, *, kind: str = "refused",
                 parameters: dict | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.kind = kind  # refused | throttled | injected
        self.parameters = parameters


@dataclass
class Call:
    method: str
    params: dict
    ok: bool = True
    error_code: int | None = None
    description: str | None = None
    kind: str = "ok"  # ok | refused | throttled | injected
    result: Any = None
    time: float = 0.0

    def __repr__(self) -> str:
        shown = {k: (f"<{len(v.content)} bytes>" if isinstance(v, _Upload) else v)
                 for k, v in self.params.items()}
        status = "ok" if self.ok else f"{self.error_code} {self.description}"
        return f"Call({self.method} {shown!r} -> {status})"


@dataclass
class _Upload:
    filename: str | None
    content: bytes
    content_type: str | None


@dataclass
class FakeFile:
    file_id: str
    file_unique_id: str
    content: bytes
    file_name: str | None = None
    mime_type: str | None = None
    kind: str = "document"  # document | photo
    file_path: str | None = None
    width: int = 0
    height: int = 0

    @property
    def file_size(self) -> int:
        return len(self.content)

    def to_api(self) -> dict:
        if self.kind == "photo":
            return {"file_id": self.file_id, "file_unique_id": self.file_unique_id,
                    "file_size": self.file_size, "width": self.width, "height": self.height}
        d = {"file_id": self.file_id, "file_unique_id": self.file_unique_id,
             "file_size": self.file_size}
        if self.file_name:
            d["file_name"] = self.file_name
        if self.mime_type:
            d["mime_type"] = self.mime_type
        return d


@dataclass
class BotMessage:
    """A message the bot sent, with its current state (updated in place on edits)."""

    message_id: int
    chat_id: int
    date: int
    text: str | None = None  # plain text after entity parsing (None for media messages)
    html: str | None = None  # text exactly as sent
    parse_mode: str | None = None
    entities: list[dict] = field(default_factory=list)
    reply_markup: dict | None = None  # inline keyboard (or reply keyboard as sent)
    document: FakeFile | None = None
    photo: FakeFile | None = None
    caption: str | None = None  # plain caption
    caption_html: str | None = None
    caption_entities: list[dict] = field(default_factory=list)
    reply_to_message_id: int | None = None
    versions: list[dict] = field(default_factory=list)  # previous states, oldest first
    edited: bool = False
    edit_date: int | None = None
    deleted: bool = False

    @property
    def buttons(self) -> list[list[dict]]:
        if self.reply_markup and "inline_keyboard" in self.reply_markup:
            return [[dict(b) for b in row] for row in self.reply_markup["inline_keyboard"]]
        return []

    def button_labels(self) -> list[str]:
        return [b["text"] for row in self.buttons for b in row]

    def find_button(self, label: str) -> dict | None:
        for row in self.buttons:
            for b in row:
                if b.get("text") == label:
                    return b
        return None

    def _state(self) -> dict:
        return {"text": self.text, "html": self.html, "parse_mode": self.parse_mode,
                "entities": self.entities, "reply_markup": self.reply_markup,
                "caption": self.caption, "caption_html": self.caption_html,
                "caption_entities": self.caption_entities, "edit_date": self.edit_date}

    def __repr__(self) -> str:
        body = self.text if self.text is not None else f"[{self._media_label()}] {self.caption or ''}"
        extra = f" buttons={self.button_labels()}" if self.buttons else ""
        flags = " edited" if self.edited else ""
        flags += " deleted" if self.deleted else ""
        return f"<BotMessage #{self.message_id} chat={self.chat_id}{flags} {body!r}{extra}>"

    def _media_label(self) -> str:
        if self.document:
            return f"document {self.document.file_name}"
        if self.photo:
            return "photo"
        return "?"


@dataclass
class CallbackRecord:
    id: str
    user: FakeUser
    chat_id: int
    message: BotMessage
    data: str
    answered: bool = False
    text: str | None = None
    show_alert: bool | None = None
    url: str | None = None
    time: float = 0.0

    def __repr__(self) -> str:
        state = f"answered text={self.text!r} alert={self.show_alert}" if self.answered else "unanswered"
        return (f"<Callback {self.id} by {self.user.first_name} on #{self.message.message_id} "
                f"data={self.data!r} {state}>")


class _Chat:
    def __init__(self, chat_id: int, type_: str, *, user: FakeUser | None = None,
                 group: FakeGroup | None = None):
        self.id = chat_id
        self.type = type_
        self.user = user
        self.group = group
        self._ids = itertools.count(1)
        self.messages: dict[int, BotMessage | dict] = {}
        self.bot_messages: list[BotMessage] = []
        self.edits: list[BotMessage] = []  # snapshots after each edit
        self.menu_button: dict | None = None

    def next_id(self) -> int:
        return next(self._ids)

    @property
    def label(self) -> str:
        if self.user is not None:
            return self.user.first_name
        assert self.group is not None
        return f"group {self.group.title!r}"

    def to_api(self) -> dict:
        if self.user is not None:
            u = self.user
            d: dict[str, Any] = {"id": self.id, "type": "private", "first_name": u.first_name}
            if u.last_name:
                d["last_name"] = u.last_name
            if u.username:
                d["username"] = u.username
            return d
        assert self.group is not None
        return {"id": self.id, "type": "group", "title": self.group.title}


class FakeGroup:
    """A basic group chat (negative id) the bot is a member of."""

    def __init__(self, fake: FakeTelegram, chat_id: int, title: str):
        self._fake = fake
        self.id = chat_id
        self.title = title
        self.bot_is_admin = False
        self.bot_removed = False

    @property
    def chat_id(self) -> int:
        return self.id

    def remove_bot(self) -> None:
        """The bot was kicked: later sends get 403 'bot was kicked from the group chat'."""
        self.bot_removed = True

    def messages(self) -> list[BotMessage]:
        return [m for m in self._fake._chats[self.id].bot_messages if not m.deleted]

    def __repr__(self) -> str:
        return f"<FakeGroup {self.id} {self.title!r}>"


class FakeUser:
    """A Telegram user. Methods default to the user's private chat with the bot."""

    def __init__(self, fake: FakeTelegram, user_id: int, first_name: str, last_name: str | None,
                 language_code: str | None, username: str | None):
        self._fake = fake
        self.id = user_id
        self.first_name = first_name
        self.last_name = last_name
        self.language_code = language_code
        self.username = username
        self.started = False
        self.blocked = False
        self._msg_cursor: dict[int, int] = {}
        self._edits_consumed: dict[int, set[int]] = {}

    @property
    def chat_id(self) -> int:
        return self.id

    def to_api(self) -> dict:
        d: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            d["last_name"] = self.last_name
        if self.username:
            d["username"] = self.username
        if self.language_code:
            d["language_code"] = self.language_code
        return d

    def __repr__(self) -> str:
        return f"<FakeUser {self.id} {self.first_name!r}>"

    def _chat(self, chat: FakeGroup | None) -> _Chat:
        return self._fake._chats[chat.id if chat is not None else self.id]

    # --- acting -------------------------------------------------------------------------
    async def send(self, text: str, *, chat: FakeGroup | None = None,
                   reply_to: BotMessage | None = None) -> dict:
        """Send a text message; a leading /command gets a bot_command entity."""
        msg = self._fake._user_message(self, self._chat(chat), text=text, reply_to=reply_to)
        await asyncio.sleep(0)
        return msg

    async def edit(self, message: dict, text: str) -> dict:
        """Edit a text message this user sent (Telegram sends an ``edited_message`` update)."""
        chat = self._fake._chats[message["chat"]["id"]]
        stored = chat.messages.get(message["message_id"])
        if stored is None or stored.get("from", {}).get("id") != self.id or "text" not in stored:
            raise AssertionError("a user can only edit a text message they sent")
        if not text or utf16_len(text) > 4096:
            raise AssertionError("a user message must have 1..4096 characters")
        stored["text"] = text
        stored["edit_date"] = int(time.time())
        self._fake._say(chat.id, f"{self.first_name} edited #{stored['message_id']}: {text}")
        self._fake._push_update("edited_message", copy.deepcopy(stored))
        await asyncio.sleep(0)
        return stored

    async def send_document(self, content: bytes, filename: str, *, mime_type: str | None = None,
                            caption: str | None = None, chat: FakeGroup | None = None,
                            reply_to: BotMessage | None = None) -> dict:
        f = self._fake._store_file(content, filename=filename,
                                   mime_type=mime_type or mimetypes.guess_type(filename)[0]
                                   or "application/octet-stream")
        msg = self._fake._user_message(self, self._chat(chat), document=f, caption=caption,
                                       reply_to=reply_to)
        await asyncio.sleep(0)
        return msg

    async def send_media(self, kind: str, *, caption: str | None = None,
                         chat: FakeGroup | None = None) -> dict:
        """Send a non-text message: ``kind`` is one of :data:`MEDIA_KINDS` (sticker, photo,
        voice, video, video_note, audio, animation, location, contact, venue, dice)."""
        if kind not in MEDIA_KINDS:
            raise AssertionError(f"unknown media kind {kind!r}; known: {sorted(MEDIA_KINDS)}")
        payload = copy.deepcopy(MEDIA_KINDS[kind])
        n = next(self._fake._file_ids)
        for item in payload if isinstance(payload, list) else [payload]:
            if "file_id" in item:
                item["file_id"] = f"CAACAgIAAxkBAAI{kind}{n}"
                item["file_unique_id"] = f"AgAD{n:06d}"
        msg = self._fake._user_message(self, self._chat(chat), media=(kind, payload),
                                       caption=caption)
        await asyncio.sleep(0)
        return msg

    async def press(self, label: str, *, message: BotMessage | None = None,
                    chat: FakeGroup | None = None) -> CallbackRecord:
        """Press the inline button ``label`` on ``message`` or on the newest message having it."""
        c = self._chat(chat) if message is None else self._fake._chats[message.chat_id]
        candidates = [message] if message is not None else [
            m for m in reversed(c.bot_messages) if not m.deleted]
        for m in candidates:
            b = m.find_button(label)
            if b is not None:
                if m.deleted:
                    raise AssertionError(f"message #{m.message_id} was deleted")
                if "callback_data" not in b:
                    raise AssertionError(f"button {label!r} on #{m.message_id} is not a callback "
                                         f"button: {b}")
                return await self._fake._press(self, m, b["callback_data"])
        if message is not None:
            available = {f"#{message.message_id}": message.button_labels()}
        else:
            available = {f"#{m.message_id}": m.button_labels()
                         for m in c.bot_messages if m.buttons and not m.deleted}
        raise AssertionError(f"{self.first_name}: no inline button {label!r} in {c.label}; "
                             f"buttons available: {available}")

    async def press_data(self, callback_data: str, *, message: BotMessage) -> CallbackRecord:
        """Send a callback_query with arbitrary data for ``message`` (forged/replayed press)."""
        return await self._fake._press(self, message, callback_data)

    def block(self) -> None:
        """The user blocks the bot (sends get 403 'bot was blocked by the user')."""
        self._fake._set_blocked(self, True)

    def unblock(self) -> None:
        self._fake._set_blocked(self, False)

    # --- observing ----------------------------------------------------------------------
    def messages(self, chat: FakeGroup | None = None) -> list[BotMessage]:
        return [m for m in self._chat(chat).bot_messages if not m.deleted]

    async def wait_message(self, *, timeout: float = 10, chat: FakeGroup | None = None) -> BotMessage:  # noqa: ASYNC109
        """Next bot message in the chat not yet returned by wait_message/collect (live object)."""
        c = self._chat(chat)
        deadline = time.monotonic() + timeout
        while True:
            idx = self._msg_cursor.get(c.id, 0)
            if idx < len(c.bot_messages):
                self._msg_cursor[c.id] = idx + 1
                return c.bot_messages[idx]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"{self.first_name}: no new bot message in {c.label} within {timeout}s\n"
                    + self._fake.transcript(tail=25))
            await self._fake._wait_change(remaining)

    async def wait_edit(self, message: BotMessage | None = None, *, timeout: float = 10, chat: FakeGroup | None = None) -> BotMessage:  # noqa: ASYNC109
        """Next not-yet-consumed edit of ``message`` (or of any message in the chat).

        Returns a snapshot of the message right after that edit.
        """
        c = self._fake._chats[message.chat_id] if message is not None else self._chat(chat)
        consumed = self._edits_consumed.setdefault(c.id, set())
        deadline = time.monotonic() + timeout
        while True:
            for i, snap in enumerate(c.edits):
                if i in consumed:
                    continue
                if message is None or snap.message_id == message.message_id:
                    consumed.add(i)
                    return snap
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                what = f"message #{message.message_id}" if message else f"any message in {c.label}"
                raise AssertionError(f"{self.first_name}: no edit of {what} within {timeout}s\n"
                                     + self._fake.transcript(tail=25))
            await self._fake._wait_change(remaining)

    async def wait_answer(self, callback: CallbackRecord, *, timeout: float = 10) -> CallbackRecord:  # noqa: ASYNC109
        deadline = time.monotonic() + timeout
        while not callback.answered:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"callback {callback!r} not answered within {timeout}s\n"
                                     + self._fake.transcript(tail=25))
            await self._fake._wait_change(remaining)
        return callback

    async def collect(self, *, quiet: float = 0.5, timeout: float = 10, chat: FakeGroup | None = None) -> list[BotMessage]:  # noqa: ASYNC109
        """Wait until the bot is idle as far as this chat is concerned
        (:meth:`FakeTelegram.wait_idle` with the chat: its updates handled, and the bot done or
        quiet for ``quiet`` s; for a bot in another process, quiet for ``quiet`` s), then
        return all unconsumed messages."""
        c = self._chat(chat)
        await self._fake.wait_idle(quiet=quiet, timeout=timeout, chat_id=c.id)
        idx = self._msg_cursor.get(c.id, 0)
        self._msg_cursor[c.id] = len(c.bot_messages)
        return c.bot_messages[idx:]


@dataclass
class _Injection:
    method: str
    chat_id: int | None
    error_code: int
    description: str
    retry_after: int | None
    times: int


class FakeTelegram:
    def __init__(self, *, token: str = "123456789:AAH-fake-token-for-tests-0123456789abcd",
                 bot_username: str = "kiemdiem_test_bot", global_per_second: int = 30,
                 group_per_minute: int = 20, private_per_second: int | None = None,
                 group_privacy: bool = True, strict_ampersand: bool = True,
                 bot_first_name: str = "Kiem Diem Test", callback_ttl: float | None = None):
        self.token = token
        # Seconds a callback query can be answered (Telegram drops it after about 15 s);
        # None: never expires. An expired query is not "unanswered": Telegram let it go.
        self.callback_ttl = callback_ttl
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.bot_id = int(token.split(":", 1)[0])
        self.global_per_second = global_per_second
        self.group_per_minute = group_per_minute
        self.private_per_second = private_per_second
        self.group_privacy = group_privacy
        self.strict_ampersand = strict_ampersand
        self.url = ""
        self.calls: list[Call] = []
        self.callbacks: list[CallbackRecord] = []
        self.commands: dict[tuple, list[dict]] = {}
        self.chat_actions: list[tuple[int, str]] = []
        self._chats: dict[int, _Chat] = {}
        self._users: dict[int, FakeUser] = {}
        self._files: dict[str, FakeFile] = {}
        self._file_paths: dict[str, FakeFile] = {}
        self._user_ids = itertools.count(700_000_001)
        self._group_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._updates: list[dict] = []
        self._update_ids = itertools.count(100_001)
        self._allowed_updates: set[str] | None = None
        self._poll_generation = 0
        self._injections: list[_Injection] = []
        self._global_window: deque[float] = deque()
        self._chat_windows: dict[int, deque[float]] = {}
        self._event = asyncio.Event()
        self._inflight = 0
        self._polls_active = 0
        self._last_poll = float("-inf")
        self._last_activity = time.monotonic()
        self._t0 = time.monotonic()
        self._log: list[tuple[float, int | None, str]] = []
        self._stopping = False
        self._runner: web.AppRunner | None = None
        self._default_menu_button: dict = {"type": "commands"}
        # setWebhook: updates are POSTed there, one at a time, until it answers 200
        self._webhook: dict | None = None
        self._webhook_task: asyncio.Task | None = None
        self.webhook_attempts: list[tuple[int, int | str]] = []  # (update_id, status or error)
        # Busy probes of the bots running in this event loop (see add_idle_probe).
        self._idle_probes: list[Callable[..., str | None]] = []
        self._probes_seen = False
        self._probe_removed_at = float("-inf")

    # --- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        self._stopping = True
        self._notify()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
            self._webhook_task = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- public helpers ---------------------------------------------------------------------
    @property
    def refused(self) -> list[Call]:
        return [c for c in self.calls if c.kind == "refused"]

    @property
    def throttled(self) -> list[Call]:
        return [c for c in self.calls if c.kind == "throttled"]

    @property
    def injected(self) -> list[Call]:
        return [c for c in self.calls if c.kind == "injected"]

    def calls_to(self, method: str) -> list[Call]:
        m = method.lower()
        return [c for c in self.calls if c.method.lower() == m]

    def user(self, first_name: str, last_name: str | None = None, *,
             language_code: str | None = "vi", username: str | None = None) -> FakeUser:
        u = FakeUser(self, next(self._user_ids), first_name, last_name, language_code, username)
        self._users[u.id] = u
        self._chats[u.id] = _Chat(u.id, "private", user=u)
        return u

    def group(self, title: str) -> FakeGroup:
        gid = -(4_000_000_000 + next(self._group_ids))
        g = FakeGroup(self, gid, title)
        self._chats[gid] = _Chat(gid, "group", group=g)
        return g

    def inject_error(self, method: str, *, chat_id: int | None = None, error_code: int = 429,
                     description: str | None = None, retry_after: int | None = None,
                     times: int = 1) -> None:
        """Make the next ``times`` valid calls of ``method`` (optionally to ``chat_id``) fail."""
        spec = API_METHODS.get(method.lower())
        if spec is None:
            raise ValueError(f"unknown Bot API method {method!r}")
        if error_code == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            description = {
                429: f"Too Many Requests: retry after {retry_after}",
                403: "Forbidden: bot was blocked by the user",
                400: "Bad Request: fake: injected error",
                409: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                500: "Internal Server Error",
                502: "Bad Gateway",
            }.get(error_code, f"fake: injected error {error_code}")
        self._injections.append(_Injection(spec["name"].lower(), chat_id, error_code,
                                           description, retry_after, times))

    def unanswered_callbacks(self) -> list[CallbackRecord]:
        return [c for c in self.callbacks if not c.answered and not self._expired(c)]

    def _expired(self, record: CallbackRecord) -> bool:
        if self.callback_ttl is None:
            return False
        return time.monotonic() - self._t0 - record.time > self.callback_ttl

    def my_commands(self, language_code: str = "", scope_type: str = "default", *,
                    chat_id: int | None = None, user_id: int | None = None) -> list[dict]:
        return list(self.commands.get(((scope_type, chat_id, user_id), language_code), []))

    def menu(self, user: FakeUser) -> list[dict]:
        """The command menu ``user`` sees in their private chat with the bot, chosen as
        Telegram does (core.telegram.org/bots/features#determining-list-of-commands): the
        first scope with commands among the chat's, all private chats', the default, each
        first for the user's language and then for every language."""
        lang = (user.language_code or "")[:2].lower()
        for scope in (("chat", user.id, None), ("all_private_chats", None, None),
                      ("default", None, None)):
            for language in ([lang] if lang else []) + [""]:
                found = self.commands.get((scope, language))
                if found:
                    return list(found)
        return []

    def menu_button(self, chat_id: int | None = None) -> dict:
        if chat_id is not None and self._chats.get(chat_id) and self._chats[chat_id].menu_button:
            return dict(self._chats[chat_id].menu_button)  # type: ignore[arg-type]
        return dict(self._default_menu_button)

    def file(self, file_id: str) -> FakeFile:
        return self._files[file_id]

    def transcript(self, chat_id: Any = None, *, tail: int | None = None) -> str:
        if chat_id is not None and not isinstance(chat_id, int):
            chat_id = chat_id.id
        lines = [f"[{t:7.3f}] {line}" for t, cid, line in self._log
                 if chat_id is None or cid is None or cid == chat_id]
        if tail is not None and len(lines) > tail:
            lines = [f"... ({len(lines) - tail} earlier lines)"] + lines[-tail:]
        return "--- fake telegram transcript ---\n" + "\n".join(lines)

    def add_idle_probe(self, probe: Callable[..., str | None]) -> None:
        """Let the fake see inside a bot that runs in this event loop: ``probe(horizon,
        chat_id=None)`` returns why the bot is busy (updates being handled, tasks running, a
        job due within ``horizon`` seconds; with ``chat_id``, only what concerns that chat and
        the bot as a whole) or None when it has finished everything it was given. With a probe,
        :meth:`wait_idle`, :meth:`bot_idle` and :meth:`FakeUser.collect` know when the bot is
        done instead of guessing from a quiet window. ``tests.e2e.harness.BotRunner`` adds one
        at start and removes it at stop."""
        self._idle_probes.append(probe)
        self._probes_seen = True

    def remove_idle_probe(self, probe: Callable[..., str | None]) -> None:
        with contextlib.suppress(ValueError):
            self._idle_probes.remove(probe)
        self._probe_removed_at = time.monotonic()

    def bots_gone(self) -> bool:
        """Whether every bot this fake served ran in this event loop and has stopped, and no
        call or poll came since: nothing more can arrive (teardown need not wait for it)."""
        return (self._probes_seen and not self._idle_probes and self._inflight == 0
                and self._polls_active == 0
                and self._last_activity <= self._probe_removed_at
                and self._last_poll <= self._probe_removed_at)

    @property
    def knows_idle(self) -> bool:
        """Whether a bot in this event loop tells the fake when it is busy (an idle probe)."""
        return bool(self._idle_probes)

    def _busy(self, horizon: float, chat_id: int | None = None) -> str | None:
        """Why the bot is not done (None when it is), as far as the fake and the probes see;
        with ``chat_id``, as far as that chat is concerned (needs a probe)."""
        if chat_id is None and self._inflight:
            return f"{self._inflight} calls in flight"
        if self._updates and (self._idle_probes or self._webhook is not None
                              or self._polls_active > 0
                              or time.monotonic() - self._last_poll < 1.0):
            mine = (self._updates if chat_id is None else
                    [u for u in self._updates if _update_chat(u) in (chat_id, None)])
            if mine:
                return f"{len(mine)} undelivered/unconfirmed updates"
        for probe in self._idle_probes:
            why = probe(horizon) if chat_id is None else probe(horizon, chat_id=chat_id)
            if why:
                return why
        return None

    def _quiet_for(self, quiet: float) -> bool:
        """The quiet-window guess: no bot call for ``quiet`` s, none in flight, and no update
        waiting for a bot that polls."""
        now = time.monotonic()
        polling = self._polls_active > 0 or now - self._last_poll < 1.0
        pending = bool(self._updates) and (polling or self._webhook is not None)
        return not pending and self._inflight == 0 and now - self._last_activity >= quiet

    async def wait_idle(self, quiet: float = 0.3, timeout: float = 10, *,  # noqa: ASYNC109
                        chat_id: int | None = None) -> None:
        """Wait until the bot has finished what it was given; raises AssertionError on timeout.

        With an idle probe (a bot running in this event loop, :meth:`add_idle_probe`): until
        every update is fetched, confirmed and handled, no call is in flight, no task the bot
        started runs and no job of its job queue is due within ``quiet`` seconds (no quiet
        window: while other users keep the bot busy it is not idle). With ``chat_id`` (what
        :meth:`FakeUser.collect` passes): until every update of that chat is handled, no
        task or job of the bot as a whole runs, and then either the whole bot is idle or no
        bot call happened for ``quiet`` s. Without a probe (a bot in another process): until
        no bot call happened for ``quiet`` s and, if the bot is polling, all updates were
        fetched and confirmed."""
        if self._idle_probes:
            if chat_id is None:
                await self.bot_idle(timeout=timeout, horizon=quiet)
            else:
                await self._chat_idle(chat_id, quiet=quiet, timeout=timeout)
            return
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            if self._quiet_for(quiet):
                return
            if now >= deadline:
                why = (f"{len(self._updates)} undelivered/unconfirmed updates" if self._updates
                       else f"{self._inflight} calls in flight" if self._inflight
                       else "bot kept calling")
                raise AssertionError(f"bot not idle after {timeout}s ({why})\n"
                                     + self.transcript(tail=25))
            since = now - self._last_activity
            await self._wait_change(min(deadline - now, max(quiet - since, 0.01)))

    async def _chat_idle(self, chat_id: int, *, quiet: float, timeout: float) -> None:  # noqa: ASYNC109
        deadline = time.monotonic() + timeout
        calm = 0
        while True:
            why = self._busy(quiet, chat_id)
            if why is None and (self._busy(quiet) is None or self._quiet_for(quiet)):
                calm += 1
                if calm >= 2:
                    return
                for _ in range(3):
                    await asyncio.sleep(0)
                continue
            calm = 0
            if time.monotonic() >= deadline:
                why = why or self._busy(quiet) or "bot kept calling"
                raise AssertionError(f"bot not idle for chat {chat_id} after {timeout}s "
                                     f"({why})\n" + self.transcript(tail=25))
            await self._wait_change(0.005)

    async def bot_idle(self, *, timeout: float = 10, horizon: float = 0.0) -> None:  # noqa: ASYNC109
        """Wait until the bot has finished handling everything it was given: no update waits
        to be fetched, confirmed or handled, no call is in flight, no task it started runs,
        and no job is due within ``horizon`` seconds. Event-driven, no quiet window: use it
        after an input to conclude that every answer to it has been sent (the messages are
        then in ``messages()``, or ``collect(quiet=0)``). Needs an idle probe (a bot run by
        ``BotRunner``); for a bot in another process it falls back to a 0.3 s quiet window.
        Raises AssertionError on timeout."""
        if not self._idle_probes:
            await self.wait_idle(quiet=0.3, timeout=timeout)
            return
        deadline = time.monotonic() + timeout
        calm = 0
        while True:
            why = self._busy(horizon)
            if why is None:
                calm += 1
                # Idle twice in a row, a few loop turns apart: any callback already scheduled
                # (a finished request waking its task) has had its turn to show.
                if calm >= 2:
                    return
                for _ in range(3):
                    await asyncio.sleep(0)
                continue
            calm = 0
            if time.monotonic() >= deadline:
                raise AssertionError(f"bot not idle after {timeout}s ({why})\n"
                                     + self.transcript(tail=25))
            # What the bot does between calls (database work) notifies nothing: look again
            # soon, or at once when the fake sees a change.
            await self._wait_change(0.005)

    # --- internals: events ------------------------------------------------------------------
    def _notify(self) -> None:
        ev, self._event = self._event, asyncio.Event()
        ev.set()

    async def _wait_change(self, seconds: float) -> None:
        ev = self._event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ev.wait(), seconds)

    def _say(self, chat_id: int | None, line: str) -> None:
        self._log.append((time.monotonic() - self._t0, chat_id, line))

    def _push_update(self, kind: str, payload: dict) -> None:
        self._updates.append({"update_id": next(self._update_ids), kind: payload})
        self._last_activity = time.monotonic()
        self._notify()

    # --- internals: users acting --------------------------------------------------------------
    def _store_file(self, content: bytes, *, filename: str | None, mime_type: str | None,
                    kind: str = "document") -> FakeFile:
        n = next(self._file_ids)
        prefix = "AgACAgIAAxkBAAI" if kind == "photo" else "BQACAgIAAxkBAAI"
        raw = base64.urlsafe_b64encode(f"{kind}:{n}:{len(content)}".encode()).decode().rstrip("=")
        f = FakeFile(file_id=f"{prefix}{raw}", file_unique_id=f"AgAD{n:06d}",
                     content=content, file_name=filename, mime_type=mime_type, kind=kind)
        self._files[f.file_id] = f
        return f

    def _user_message(self, user: FakeUser, chat: _Chat, *, text: str | None = None,
                      document: FakeFile | None = None, caption: str | None = None,
                      reply_to: BotMessage | None = None,
                      media: tuple[str, Any] | None = None) -> dict:
        if chat.type == "private" and chat.id != user.id:
            raise AssertionError("a user can only write in their own private chat")
        msg: dict[str, Any] = {"message_id": chat.next_id(), "from": user.to_api(),
                               "chat": chat.to_api(), "date": int(time.time())}
        command = None
        if text is not None:
            if not text or utf16_len(text) > 4096:
                raise AssertionError("a user message must have 1..4096 characters")
            msg["text"] = text
            m = re.match(r"/[A-Za-z0-9_]{1,64}(@[A-Za-z0-9_]{3,})?", text)
            if m:
                command = m
                msg["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_len(m.group())}]
        if document is not None:
            msg["document"] = document.to_api()
            if caption:
                msg["caption"] = caption
        if media is not None:
            msg[media[0]] = media[1]
            if caption and media[0] in ("photo", "video", "voice", "audio", "animation"):
                msg["caption"] = caption
        if reply_to is not None:
            target = chat.messages.get(reply_to.message_id)
            if target is None:
                raise AssertionError(f"no message #{reply_to.message_id} in {chat.label}")
            msg["reply_to_message"] = self._message_dict(target, nested=False)
        chat.messages[msg["message_id"]] = msg
        if text is not None:
            what = text
        elif media is not None:
            what = f"[{media[0]}] {caption or ''}"
        else:
            what = f"[document {document.file_name}] {caption or ''}"  # type: ignore[union-attr]
        deliver = True
        if chat.type == "private":
            if user.blocked:
                self._set_blocked(user, False)
            user.started = True
        elif self.group_privacy:
            mentioned = command is not None and (
                not command.group(1) or command.group(1)[1:].lower() == self.bot_username.lower())
            deliver = mentioned or (reply_to is not None)
        where = "" if chat.type == "private" else f" in {chat.label}"
        suffix = "" if deliver else "   (not delivered: group privacy mode)"
        self._say(chat.id, f"{user.first_name}{where}: {what}{suffix}")
        if deliver:
            self._push_update("message", msg)
        return msg

    async def _press(self, user: FakeUser, message: BotMessage, data: str) -> CallbackRecord:
        if not 1 <= len(data.encode()) <= 64:
            raise AssertionError("callback_data must be 1..64 bytes")
        chat = self._chats[message.chat_id]
        if message.deleted:
            raise AssertionError(f"message #{message.message_id} was deleted")
        rec = CallbackRecord(id=str(4_611_686_000_000_000_000 + next(self._callback_ids)),
                             user=user, chat_id=chat.id, message=message, data=data,
                             time=time.monotonic() - self._t0)
        self.callbacks.append(rec)
        label = next((b["text"] for row in message.buttons for b in row
                      if b.get("callback_data") == data), None)
        shown = f"{label!r}" if label is not None else f"data {data!r} (no such button)"
        self._say(chat.id, f"{user.first_name} pressed {shown} on #{message.message_id}")
        self._push_update("callback_query", {
            "id": rec.id, "from": user.to_api(), "message": self._message_dict(message),
            "chat_instance": str(-(8_000_000_000_000_000_000 + abs(chat.id))), "data": data,
        })
        await asyncio.sleep(0)
        return rec

    def _set_blocked(self, user: FakeUser, blocked: bool) -> None:
        if user.blocked == blocked:
            return
        user.blocked = blocked
        self._say(user.id, f"{user.first_name} {'blocked' if blocked else 'unblocked'} the bot")
        if user.started:
            bot = self._bot_user()
            old, new = ("member", "kicked") if blocked else ("kicked", "member")
            self._push_update("my_chat_member", {
                "chat": self._chats[user.id].to_api(), "from": user.to_api(),
                "date": int(time.time()),
                "old_chat_member": {"user": bot, "status": old, **({"until_date": 0} if old == "kicked" else {})},
                "new_chat_member": {"user": bot, "status": new, **({"until_date": 0} if new == "kicked" else {})},
            })

    # --- internals: api objects --------------------------------------------------------------
    def _bot_user(self) -> dict:
        return {"id": self.bot_id, "is_bot": True, "first_name": self.bot_first_name,
                "username": self.bot_username}

    def _message_dict(self, m: BotMessage | dict, *, nested: bool = True) -> dict:
        if isinstance(m, dict):
            d = dict(m)
            if not nested:
                d.pop("reply_to_message", None)
            return d
        chat = self._chats[m.chat_id]
        d: dict[str, Any] = {"message_id": m.message_id, "from": self._bot_user(),
                             "chat": chat.to_api(), "date": m.date}
        if m.edit_date:
            d["edit_date"] = m.edit_date
        if m.text is not None:
            d["text"] = m.text
            if m.entities:
                d["entities"] = m.entities
        if m.document is not None:
            d["document"] = m.document.to_api()
        if m.photo is not None:
            p = m.photo
            small = dict(p.to_api(), width=min(p.width, 90), height=min(p.height, 90))
            d["photo"] = [small, p.to_api()]
        if m.caption:
            d["caption"] = m.caption
            if m.caption_entities:
                d["caption_entities"] = m.caption_entities
        if m.reply_markup and "inline_keyboard" in m.reply_markup:
            d["reply_markup"] = m.reply_markup
        if nested and m.reply_to_message_id and m.reply_to_message_id in chat.messages:
            d["reply_to_message"] = self._message_dict(chat.messages[m.reply_to_message_id],
                                                       nested=False)
        return d

    # --- internals: HTTP ---------------------------------------------------------------------
    def _json(self, payload: dict, status: int = 200) -> web.Response:
        return web.Response(status=status, text=json.dumps(payload, ensure_ascii=False),
                            content_type="application/json")

    def _error_response(self, e: ApiError) -> web.Response:
        payload: dict[str, Any] = {"ok": False, "error_code": e.code, "description": e.description}
        if e.parameters:
            payload["parameters"] = e.parameters
        return self._json(payload, e.code)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        tail = request.match_info["tail"]
        m = re.fullmatch(r"file/bot([^/]+)/(.+)", tail)
        if m:
            return self._download(m.group(1), m.group(2))
        m = re.fullmatch(r"bot([^/]*)/([A-Za-z0-9_]*)/?", tail)
        if not m:
            return self._json({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
        token, raw_method = m.groups()
        call = Call(method=raw_method, params={}, time=time.monotonic() - self._t0)
        self.calls.append(call)
        is_poll = raw_method.lower() == "getupdates"
        if is_poll:
            self._polls_active += 1
        else:
            self._inflight += 1
            self._last_activity = time.monotonic()
        try:
            if token != self.token:
                raise ApiError(401, "Unauthorized")
            spec = API_METHODS.get(raw_method.lower())
            if spec is None:
                raise ApiError(404, "Not Found")
            call.method = spec["name"]
            params = await self._decode(request, spec)
            call.params = params
            self._check_params(spec, params)
            handler = getattr(self, f"_m_{spec['name']}", None)
            if handler is None:
                raise ApiError(400, f"Bad Request: fake: method {spec['name']} not implemented")
            result = await handler(params)
        except ApiError as e:
            call.ok = False
            call.error_code = e.code
            call.description = e.description
            call.kind = e.kind
            mark = {"refused": "REFUSED", "throttled": "THROTTLED", "injected": "INJECTED"}[e.kind]
            cid = call.params.get("chat_id") if isinstance(call.params.get("chat_id"), int) else None
            self._say(cid, f"bot {call.method} {mark} {e.code}: {e.description}   params={_short(call.params)}")
            return self._error_response(e)
        except ConnectionResetError:  # the bot died while sending its request: nothing arrived
            call.ok, call.error_code, call.kind = False, 499, "aborted"
            call.description = "fake: the client closed the connection before its request arrived"
            self._say(None, f"bot {call.method} ABORTED: the connection closed mid-request")
            return self._json({"ok": False, "error_code": 499, "description": call.description}, 499)
        except Exception as e:  # a bug in the fake itself: make it loud, not a hang
            call.ok, call.error_code, call.kind = False, 500, "refused"
            call.description = f"fake: internal error {type(e).__name__}: {e}"
            self._say(None, f"bot {call.method} FAKE CRASHED: {traceback.format_exc()}")
            return self._json({"ok": False, "error_code": 500, "description": call.description}, 500)
        finally:
            if is_poll:
                self._polls_active -= 1
                self._last_poll = time.monotonic()
            else:
                self._inflight -= 1
                self._last_activity = time.monotonic()
                self._notify()
        call.result = result
        return self._json({"ok": True, "result": result})

    async def _decode(self, request: web.Request, spec: dict) -> dict:
        params: dict[str, Any] = dict(request.query)
        files: dict[str, _Upload] = {}
        if request.body_exists:
            ctype = request.content_type
            if ctype == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise ApiError(400, "Bad Request: fake: request body is not valid JSON") from None
                if not isinstance(body, dict):
                    raise ApiError(400, "Bad Request: fake: JSON body must be an object")
                params.update(body)
            elif ctype == "application/x-www-form-urlencoded":
                params.update(await request.post())
            elif ctype.startswith("multipart/"):
                reader = await request.multipart()
                async for part in reader:
                    if part.name is None:
                        continue
                    if part.filename is not None:
                        files[part.name] = _Upload(part.filename, bytes(await part.read()),
                                                   part.headers.get("Content-Type"))
                    else:
                        params[part.name] = await part.text()
            else:
                data = await request.read()
                if data.strip():
                    raise ApiError(400, f"Bad Request: fake: unsupported content type {ctype}")
        fields = spec["fields"]
        for name, upload in files.items():
            if name in fields and "InputFile" in " ".join(fields[name]["types"]):
                params[name] = upload
        out: dict[str, Any] = {}
        for name, value in params.items():
            if name not in fields:
                if name in files:  # attach://name part
                    continue
                out[name] = value
                continue
            types = fields[name]["types"]
            if isinstance(value, str) and value.startswith("attach://") and "InputFile" in " ".join(types):
                ref = value[len("attach://"):]
                if ref not in files:
                    raise ApiError(400, f"Bad Request: fake: attach://{ref} has no matching file part")
                value = files[ref]
            out[name] = _coerce(name, value, types)
        return out

    # python-telegram-bot's Defaults(parse_mode=...) adds parse_mode to every call made through
    # its generic message path, editMessageReplyMarkup included; Telegram ignores it there.
    _PTB_EXTRA = {"editMessageReplyMarkup": {"parse_mode"}}

    def _check_params(self, spec: dict, params: dict) -> None:
        fields = spec["fields"]
        extra = self._PTB_EXTRA.get(spec["name"], set())
        unknown = [k for k in params if k not in fields and k not in extra]
        if unknown:
            raise ApiError(400, f"Bad Request: fake: unknown parameter {unknown[0]!r} for "
                                f"{spec['name']} (known: {', '.join(fields) or 'none'})")
        for name, f in fields.items():
            if f["required"] and (params.get(name) is None or params.get(name) == ""):
                if name == "text":
                    raise ApiError(400, "Bad Request: message text is empty")
                raise ApiError(400, f"Bad Request: {name} is empty")

    def _download(self, token: str, path: str) -> web.Response:
        if token != self.token:
            return self._json({"ok": False, "error_code": 401, "description": "Unauthorized"}, 401)
        f = self._file_paths.get(path)
        if f is None:
            return self._json({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
        self._say(None, f"bot downloaded {path} ({f.file_size} bytes)")
        return web.Response(body=f.content,
                            content_type=f.mime_type or "application/octet-stream")

    # --- internals: validation helpers ---------------------------------------------------
    def _gate(self, method: str, chat: _Chat | None = None, *, flood: bool = False) -> None:
        """Apply injected errors and (if ``flood``) flood limits; call after validation."""
        chat_id = chat.id if chat is not None else None
        for inj in self._injections:
            if inj.times > 0 and inj.method == method.lower() and (
                    inj.chat_id is None or inj.chat_id == chat_id):
                inj.times -= 1
                params = {"retry_after": inj.retry_after} if inj.retry_after else None
                raise ApiError(inj.error_code, inj.description, kind="injected", parameters=params)
        if not flood:
            return
        now = time.monotonic()
        retry = 0.0
        g = self._global_window
        while g and g[0] <= now - 1:
            g.popleft()
        if len(g) >= self.global_per_second:
            retry = max(retry, g[0] + 1 - now)
        w = None
        if chat is not None:
            window, limit = ((60.0, self.group_per_minute) if chat.type != "private"
                             else (1.0, self.private_per_second))
            if limit is not None:
                w = self._chat_windows.setdefault(chat.id, deque())
                while w and w[0] <= now - window:
                    w.popleft()
                if len(w) >= limit:
                    retry = max(retry, w[0] + window - now)
        if retry > 0:
            n = max(1, math.ceil(retry))
            raise ApiError(429, f"Too Many Requests: retry after {n}", kind="throttled",
                           parameters={"retry_after": n})
        g.append(now)
        if w is not None:
            w.append(now)

    def _resolve_chat(self, chat_id: Any, *, for_info: bool = False) -> _Chat:
        chat = self._chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        if chat.user is not None:
            if not chat.user.started:
                if for_info:
                    raise ApiError(400, "Bad Request: chat not found")
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
            if chat.user.blocked and not for_info:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
        elif chat.group is not None and chat.group.bot_removed:
            raise ApiError(403, "Forbidden: bot was kicked from the group chat")
        return chat

    def _format(self, text: str | None, parse_mode: str | None, entities: Any, *,
                caption: bool = False) -> tuple[str, list[dict]]:
        if text is None:
            text = ""
        if not isinstance(text, str):
            raise ApiError(400, "Bad Request: fake: text must be a string")
        ents: list[dict] = []
        if parse_mode:
            mode = parse_mode.lower()
            if mode == "html":
                try:
                    text, ents = parse_html(text, strict_ampersand=self.strict_ampersand)
                except EntityParseError as e:
                    raise ApiError(400, f"Bad Request: can't parse entities: {e}") from None
            elif mode in ("markdownv2", "markdown"):
                raise ApiError(400, f"Bad Request: fake: parse_mode {parse_mode} is not "
                                    "supported by the fake server; use HTML")
            else:
                raise ApiError(400, "Bad Request: unsupported parse_mode")
        elif entities:
            if not isinstance(entities, list) or not all(
                    isinstance(e, dict) and {"type", "offset", "length"} <= e.keys() for e in entities):
                raise ApiError(400, "Bad Request: can't parse entities JSON object")
            total = utf16_len(text)
            for e in entities:
                if e["offset"] < 0 or e["length"] <= 0 or e["offset"] + e["length"] > total:
                    raise ApiError(400, "Bad Request: fake: entity out of the text bounds")
            ents = [dict(e) for e in entities]
        text, ents = strip_entities_text(text, ents)
        n = utf16_len(text)
        if caption:
            if n > 1024:
                raise ApiError(400, "Bad Request: message caption is too long")
        else:
            if n == 0:
                raise ApiError(400, "Bad Request: message text is empty")
            if n > 4096:
                raise ApiError(400, "Bad Request: message is too long")
        return text, ents

    def _check_markup(self, markup: Any, *, inline_only: bool = False) -> dict | None:
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            kb = markup["inline_keyboard"]
            if not isinstance(kb, list) or not all(isinstance(r, list) for r in kb):
                raise ApiError(400, 'Bad Request: field "inline_keyboard" of the '
                                    "InlineKeyboardMarkup should be an Array of Arrays")
            for row in kb:
                for b in row:
                    self._check_button(b)
            return {"inline_keyboard": [[dict(b) for b in row] for row in kb]}
        if inline_only:
            raise ApiError(400, "Bad Request: fake: only an inline keyboard can be used here")
        if "keyboard" in markup:
            kb = markup["keyboard"]
            if not isinstance(kb, list) or not all(isinstance(r, list) for r in kb):
                raise ApiError(400, 'Bad Request: field "keyboard" of the ReplyKeyboardMarkup '
                                    "should be an Array of Arrays")
            return dict(markup)
        if markup.get("remove_keyboard") is True or markup.get("force_reply") is True:
            return dict(markup)
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")

    @staticmethod
    def _check_button(b: Any) -> None:
        if not isinstance(b, dict) or not isinstance(b.get("text"), str):
            raise ApiError(400, "Bad Request: can't parse inline keyboard button: "
                                'Field "text" must be of type String')
        if not b["text"].strip():
            raise ApiError(400, "Bad Request: fake: inline keyboard button text is empty")
        unknown = [k for k in b if k not in _BUTTON_FIELDS]
        if unknown:
            raise ApiError(400, f"Bad Request: fake: unknown inline keyboard button field {unknown[0]!r}")
        actions = [k for k in b if k not in _BUTTON_NON_ACTION]
        if not actions:
            raise ApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
        if len(actions) > 1:
            raise ApiError(400, "Bad Request: fake: an inline keyboard button must have exactly "
                                f"one action field, got {actions}")
        if "callback_data" in b:
            data = b["callback_data"]
            if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        if "url" in b:
            url = b["url"]
            if not isinstance(url, str) or not re.match(r"^(https?://|tg://)\S+$", url, re.I):
                raise ApiError(400, f"Bad Request: inline keyboard button URL '{url}' is invalid: "
                                    "Wrong HTTP URL")

    def _reply_target(self, chat: _Chat, p: dict) -> int | None:
        rp = p.get("reply_parameters")
        if rp is None:
            return None
        if not isinstance(rp, dict) or "message_id" not in rp:
            raise ApiError(400, "Bad Request: can't parse reply parameters JSON object")
        if rp.get("chat_id") not in (None, chat.id):
            raise ApiError(400, "Bad Request: fake: replies to other chats are not supported")
        mid = rp["message_id"]
        target = chat.messages.get(mid)
        if target is None or (isinstance(target, BotMessage) and target.deleted):
            if rp.get("allow_sending_without_reply"):
                return None
            raise ApiError(400, "Bad Request: message to be replied not found")
        return mid

    def _take_file(self, value: Any, *, kind: str) -> FakeFile:
        if isinstance(value, _Upload):
            if not value.content:
                raise ApiError(400, "Bad Request: file must be non-empty")
            if len(value.content) > 50 * 1024 * 1024:
                raise ApiError(413, "Request Entity Too Large")
            if kind == "photo":
                if not value.content.startswith(_IMAGE_MAGIC) and not (
                        value.content[:4] == b"RIFF" and value.content[8:12] == b"WEBP"):
                    raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
                f = self._store_file(value.content, filename=None, mime_type=None, kind="photo")
                f.width, f.height = _image_size(value.content)
                return f
            mime = value.content_type
            if not mime or mime == "application/octet-stream":
                mime = (mimetypes.guess_type(value.filename or "")[0]
                        or "application/octet-stream")
            return self._store_file(value.content, filename=value.filename, mime_type=mime)
        if isinstance(value, str):
            if re.match(r"^https?://", value, re.I):
                raise ApiError(400, "Bad Request: fake: sending files by URL is not supported")
            f = self._files.get(value)
            if f is None:
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
            if f.kind != kind:
                raise ApiError(400, f"Bad Request: wrong file identifier: can't use file of type "
                                    f"{f.kind.capitalize()} as {kind.capitalize()}")
            return f
        raise ApiError(400, "Bad Request: fake: bad file value")

    def _edit_target(self, p: dict) -> tuple[_Chat, BotMessage]:
        if p.get("inline_message_id"):
            raise ApiError(400, "Bad Request: fake: inline messages are not supported")
        if p.get("chat_id") is None:
            raise ApiError(400, "Bad Request: chat_id is empty")
        if p.get("message_id") is None:
            raise ApiError(400, "Bad Request: message identifier is not specified")
        chat = self._resolve_chat(p["chat_id"])
        m = chat.messages.get(p["message_id"])
        if m is None or (isinstance(m, BotMessage) and m.deleted):
            raise ApiError(400, "Bad Request: message to edit not found")
        if not isinstance(m, BotMessage):
            raise ApiError(400, "Bad Request: message can't be edited")
        return chat, m

    def _apply_edit(self, chat: _Chat, m: BotMessage, **changes: Any) -> dict:
        m.versions.append(copy.deepcopy(m._state()))
        for k, v in changes.items():
            setattr(m, k, v)
        m.edited = True
        m.edit_date = int(time.time())
        snap = copy.copy(m)
        snap.versions = list(m.versions)
        chat.edits.append(snap)
        self._notify()
        return self._message_dict(m)

    def _new_bot_message(self, chat: _Chat, **kw: Any) -> BotMessage:
        m = BotMessage(message_id=chat.next_id(), chat_id=chat.id, date=int(time.time()), **kw)
        chat.messages[m.message_id] = m
        chat.bot_messages.append(m)
        self._notify()
        return m

    # --- methods ------------------------------------------------------------------------------
    async def _m_getMe(self, p: dict) -> dict:
        self._gate("getMe")
        return dict(self._bot_user(), can_join_groups=True,
                    can_read_all_group_messages=not self.group_privacy,
                    supports_inline_queries=False, can_connect_to_business=False,
                    has_main_web_app=False)

    async def _m_getUpdates(self, p: dict) -> list[dict]:
        self._gate("getUpdates")
        if self._webhook is not None:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
        offset, limit, timeout = p.get("offset"), p.get("limit") or 100, p.get("timeout") or 0
        if p.get("allowed_updates") is not None:
            au = p["allowed_updates"]
            if not isinstance(au, list):
                raise ApiError(400, "Bad Request: can't parse allowed_updates JSON array")
            self._allowed_updates = set(au) if au else None
        if offset is not None:
            if offset < 0:
                self._updates = self._updates[offset:] if -offset < len(self._updates) else self._updates
            else:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            self._notify()
        limit = min(max(int(limit), 1), 100)
        self._poll_generation += 1
        generation = self._poll_generation
        deadline = time.monotonic() + max(0, timeout)
        while True:
            allowed = self._allowed_updates or (_DEFAULT_UPDATES - _OPT_IN_UPDATES)
            dropped = [u for u in self._updates if _update_kind(u) not in allowed]
            if dropped:
                self._updates = [u for u in self._updates if _update_kind(u) in allowed]
                for u in dropped:
                    self._say(None, f"update {u['update_id']} ({_update_kind(u)}) dropped: "
                                    "not in allowed_updates")
                self._notify()
            if self._updates or self._stopping or generation != self._poll_generation:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            await self._wait_change(remaining)
        if self._stopping or generation != self._poll_generation:
            return []
        return [copy.deepcopy(u) for u in self._updates[:limit]]

    async def _m_deleteWebhook(self, p: dict) -> bool:
        self._gate("deleteWebhook")
        self._webhook = None
        if p.get("drop_pending_updates"):
            self._updates.clear()
        self._notify()
        return True

    async def _m_setWebhook(self, p: dict) -> bool:
        self._gate("setWebhook")
        url = str(p.get("url") or "")
        if not url:
            return await self._m_deleteWebhook({})
        if not re.match(r"^https?://", url):
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        secret = p.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        if p.get("allowed_updates") is not None:
            au = p["allowed_updates"]
            if isinstance(au, str):
                au = json.loads(au)
            self._allowed_updates = set(au) if au else None
        if p.get("drop_pending_updates"):
            self._updates.clear()
        self._webhook = {"url": url, "secret_token": secret}
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.create_task(self._deliver_webhook())
        self._notify()
        return True

    async def _deliver_webhook(self) -> None:
        """As Telegram does: POST the oldest update until the bot answers 200, then the next."""
        import aiohttp

        async with aiohttp.ClientSession() as http:
            while not self._stopping:
                hook = self._webhook
                if hook is None:
                    return
                allowed = self._allowed_updates or (_DEFAULT_UPDATES - _OPT_IN_UPDATES)
                self._updates = [u for u in self._updates if _update_kind(u) in allowed]
                if not self._updates:
                    await self._wait_change(1.0)
                    continue
                update = self._updates[0]
                headers = {"Content-Type": "application/json"}
                if hook["secret_token"]:
                    headers["X-Telegram-Bot-Api-Secret-Token"] = hook["secret_token"]
                try:
                    async with http.post(hook["url"], data=json.dumps(update), headers=headers,
                                         timeout=aiohttp.ClientTimeout(total=10)) as response:
                        status: int | str = response.status
                except (TimeoutError, aiohttp.ClientError) as error:
                    status = type(error).__name__
                self.webhook_attempts.append((update["update_id"], status))
                if status == 200:
                    if self._updates and self._updates[0] is update:
                        self._updates.pop(0)
                    self._last_activity = time.monotonic()
                    self._notify()
                else:
                    await asyncio.sleep(0.05)

    async def _m_getWebhookInfo(self, p: dict) -> dict:
        self._gate("getWebhookInfo")
        return {"url": self._webhook["url"] if self._webhook else "",
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates)}

    async def _m_close(self, p: dict) -> bool:
        self._gate("close")
        return True

    async def _m_logOut(self, p: dict) -> bool:
        self._gate("logOut")
        return True

    def _scope_key(self, scope: Any) -> tuple:
        if scope is None:
            return ("default", None, None)
        if not isinstance(scope, dict) or "type" not in scope:
            raise ApiError(400, "Bad Request: can't parse BotCommandScope JSON object")
        t = scope["type"]
        if t in ("default", "all_private_chats", "all_group_chats", "all_chat_administrators"):
            return (t, None, None)
        if t in ("chat", "chat_administrators", "chat_member"):
            chat_id = scope.get("chat_id")
            chat = self._chats.get(chat_id) if isinstance(chat_id, int) else None
            # A user who never started the bot is a chat the bot cannot know, as for getChat.
            if chat is None or (chat.user is not None and not chat.user.started):
                raise ApiError(400, "Bad Request: chat not found")
            if chat.user is not None and t != "chat":
                raise ApiError(400, "Bad Request: fake: a private chat has no administrators or members")
            if t == "chat_member":
                uid = scope.get("user_id")
                if uid not in self._users:
                    raise ApiError(400, "Bad Request: user not found")
                return (t, chat_id, uid)
            return (t, chat_id, None)
        raise ApiError(400, f"Bad Request: fake: unknown BotCommandScope type {t!r}")

    @staticmethod
    def _lang(p: dict) -> str:
        lang = p.get("language_code") or ""
        if lang and not re.fullmatch(r"[a-z]{2}", lang):
            raise ApiError(400, "Bad Request: invalid language code specified")
        return lang

    async def _m_setMyCommands(self, p: dict) -> bool:
        cmds = p["commands"]
        if not isinstance(cmds, list):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        if len(cmds) > 100:
            raise ApiError(400, "Bad Request: fake: too many commands (max 100)")
        for c in cmds:
            if not isinstance(c, dict) or not isinstance(c.get("command"), str):
                raise ApiError(400, "Bad Request: can't parse BotCommand JSON object")
            if not re.fullmatch(r"[a-z0-9_]{1,32}", c["command"]):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            desc = c.get("description")
            if not isinstance(desc, str) or not desc.strip():
                raise ApiError(400, "Bad Request: command description is empty")
            if len(desc) > 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        key = (self._scope_key(p.get("scope")), self._lang(p))
        self._gate("setMyCommands")
        if cmds:
            self.commands[key] = [{"command": c["command"], "description": c["description"]}
                                  for c in cmds]
        else:
            self.commands.pop(key, None)
        self._say(None, f"bot setMyCommands scope={key[0][0]} lang={key[1]!r}: "
                        + " ".join("/" + c["command"] for c in cmds))
        return True

    async def _m_getMyCommands(self, p: dict) -> list[dict]:
        key = (self._scope_key(p.get("scope")), self._lang(p))
        self._gate("getMyCommands")
        return list(self.commands.get(key, []))

    async def _m_deleteMyCommands(self, p: dict) -> bool:
        key = (self._scope_key(p.get("scope")), self._lang(p))
        self._gate("deleteMyCommands")
        self.commands.pop(key, None)
        return True

    async def _m_setChatMenuButton(self, p: dict) -> bool:
        chat = None
        if p.get("chat_id") is not None:
            chat = self._resolve_chat(p["chat_id"], for_info=True)
            if chat.type != "private":
                raise ApiError(400, "Bad Request: fake: menu button can be set only for private chats")
        button = p.get("menu_button") or {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in ("commands", "web_app", "default"):
            raise ApiError(400, "Bad Request: can't parse menu button JSON object")
        if button["type"] == "web_app" and not (button.get("text") and button.get("web_app")):
            raise ApiError(400, "Bad Request: fake: web_app menu button needs text and web_app")
        self._gate("setChatMenuButton", chat)
        if chat is None:
            self._default_menu_button = (dict(button) if button["type"] != "default"
                                         else {"type": "commands"})
        else:
            chat.menu_button = dict(button) if button["type"] != "default" else None
        return True

    async def _m_getChatMenuButton(self, p: dict) -> dict:
        chat = None
        if p.get("chat_id") is not None:
            chat = self._resolve_chat(p["chat_id"], for_info=True)
        self._gate("getChatMenuButton", chat)
        return self.menu_button(chat.id if chat else None)

    async def _m_getChat(self, p: dict) -> dict:
        chat = self._resolve_chat(p["chat_id"], for_info=True)
        self._gate("getChat", chat)
        return dict(chat.to_api(), accent_color_id=0, max_reaction_count=11,
                    accepted_gift_types={"unlimited_gifts": False, "limited_gifts": False,
                                         "unique_gifts": False, "premium_subscription": False,
                                         "gifts_from_channels": False})

    async def _m_sendChatAction(self, p: dict) -> bool:
        chat = self._resolve_chat(p["chat_id"])
        if p["action"] not in _CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        self._gate("sendChatAction", chat)
        self.chat_actions.append((chat.id, p["action"]))
        return True

    async def _m_sendMessage(self, p: dict) -> dict:
        chat = self._resolve_chat(p["chat_id"])
        text, ents = self._format(p["text"], p.get("parse_mode"), p.get("entities"))
        markup = self._check_markup(p.get("reply_markup"))
        reply_to = self._reply_target(chat, p)
        self._gate("sendMessage", chat, flood=True)
        m = self._new_bot_message(chat, text=text, html=p["text"], parse_mode=p.get("parse_mode"),
                                  entities=ents, reply_markup=markup, reply_to_message_id=reply_to)
        self._say(chat.id, f"bot → {chat.label} #{m.message_id}: {text}{_buttons_suffix(m)}")
        return self._message_dict(m)

    async def _send_media(self, p: dict, kind: str) -> dict:
        chat = self._resolve_chat(p["chat_id"])
        caption, cents = self._format(p.get("caption"), p.get("parse_mode"),
                                      p.get("caption_entities"), caption=True)
        markup = self._check_markup(p.get("reply_markup"))
        reply_to = self._reply_target(chat, p)
        f = self._take_file(p[kind], kind=kind)
        self._gate("send" + kind.capitalize(), chat, flood=True)
        m = self._new_bot_message(chat, caption=caption or None, caption_html=p.get("caption"),
                                  parse_mode=p.get("parse_mode"), caption_entities=cents,
                                  reply_markup=markup, reply_to_message_id=reply_to,
                                  **{kind: f})
        name = f" {f.file_name}" if f.file_name else ""
        self._say(chat.id, f"bot → {chat.label} #{m.message_id}: [{kind}{name}, {f.file_size} bytes] "
                           f"{caption}{_buttons_suffix(m)}")
        return self._message_dict(m)

    async def _m_sendDocument(self, p: dict) -> dict:
        return await self._send_media(p, "document")

    async def _m_sendPhoto(self, p: dict) -> dict:
        return await self._send_media(p, "photo")

    async def _m_editMessageText(self, p: dict) -> dict:
        chat, m = self._edit_target(p)
        if p.get("text") is None or p.get("text") == "":
            raise ApiError(400, "Bad Request: message text is empty")
        if m.text is None:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text, ents = self._format(p["text"], p.get("parse_mode"), p.get("entities"))
        markup = self._check_markup(p.get("reply_markup"), inline_only=True)
        cur_markup = m.reply_markup if m.reply_markup and "inline_keyboard" in m.reply_markup else None
        if text == m.text and ents == m.entities and markup == cur_markup:
            raise ApiError(400, _NOT_MODIFIED)
        self._gate("editMessageText", chat)
        result = self._apply_edit(chat, m, text=text, html=p["text"], parse_mode=p.get("parse_mode"),
                                  entities=ents, reply_markup=markup)
        self._say(chat.id, f"bot edited #{m.message_id}: {text}{_buttons_suffix(m)}")
        return result

    async def _m_editMessageCaption(self, p: dict) -> dict:
        chat, m = self._edit_target(p)
        if m.document is None and m.photo is None:
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        caption, cents = self._format(p.get("caption"), p.get("parse_mode"),
                                      p.get("caption_entities"), caption=True)
        markup = self._check_markup(p.get("reply_markup"), inline_only=True)
        cur_markup = m.reply_markup if m.reply_markup and "inline_keyboard" in m.reply_markup else None
        if (caption or None) == m.caption and cents == m.caption_entities and markup == cur_markup:
            raise ApiError(400, _NOT_MODIFIED)
        self._gate("editMessageCaption", chat)
        result = self._apply_edit(chat, m, caption=caption or None, caption_html=p.get("caption"),
                                  parse_mode=p.get("parse_mode"), caption_entities=cents,
                                  reply_markup=markup)
        self._say(chat.id, f"bot edited caption of #{m.message_id}: {caption}{_buttons_suffix(m)}")
        return result

    async def _m_editMessageReplyMarkup(self, p: dict) -> dict:
        chat, m = self._edit_target(p)
        markup = self._check_markup(p.get("reply_markup"), inline_only=True)
        if markup is not None and not markup["inline_keyboard"]:
            markup = None
        cur_markup = m.reply_markup if m.reply_markup and "inline_keyboard" in m.reply_markup else None
        if markup == cur_markup:
            raise ApiError(400, _NOT_MODIFIED)
        self._gate("editMessageReplyMarkup", chat)
        result = self._apply_edit(chat, m, reply_markup=markup)
        self._say(chat.id, f"bot edited buttons of #{m.message_id}:{_buttons_suffix(m) or ' (none)'}")
        return result

    def _delete_one(self, chat: _Chat, mid: Any) -> None:
        m = chat.messages.get(mid) if isinstance(mid, int) else None
        if m is None or (isinstance(m, BotMessage) and m.deleted):
            raise ApiError(400, "Bad Request: message to delete not found")
        if not isinstance(m, BotMessage) and chat.group is not None and not chat.group.bot_is_admin:
            raise ApiError(400, "Bad Request: message can't be deleted")

    def _do_delete(self, chat: _Chat, mid: int) -> None:
        m = chat.messages[mid]
        if isinstance(m, BotMessage):
            m.deleted = True
        else:
            chat.messages.pop(mid)
        self._say(chat.id, f"bot deleted #{mid}")
        self._notify()

    async def _m_deleteMessage(self, p: dict) -> bool:
        chat = self._resolve_chat(p["chat_id"])
        self._delete_one(chat, p["message_id"])
        self._gate("deleteMessage", chat)
        self._do_delete(chat, p["message_id"])
        return True

    async def _m_deleteMessages(self, p: dict) -> bool:
        chat = self._resolve_chat(p["chat_id"])
        ids = p["message_ids"]
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise ApiError(400, "Bad Request: fake: message_ids must list 1-100 ids")
        existing = [i for i in ids if isinstance(chat.messages.get(i), BotMessage | dict)
                    and not getattr(chat.messages.get(i), "deleted", False)]
        if not existing:
            raise ApiError(400, "Bad Request: message to delete not found")
        self._gate("deleteMessages", chat)
        for i in existing:
            with contextlib.suppress(ApiError):
                self._delete_one(chat, i)
                self._do_delete(chat, i)
        return True

    async def _m_answerCallbackQuery(self, p: dict) -> bool:
        rec = next((c for c in self.callbacks if c.id == str(p["callback_query_id"])), None)
        if rec is None or rec.answered or self._expired(rec):
            raise ApiError(400, _QUERY_TOO_OLD)
        text = p.get("text")
        if text is not None and len(text) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self._gate("answerCallbackQuery", self._chats.get(rec.chat_id))
        rec.answered = True
        rec.text = text
        rec.show_alert = p.get("show_alert")
        rec.url = p.get("url")
        shown = f" {'ALERT' if rec.show_alert else 'toast'} {text!r}" if text else ""
        self._say(rec.chat_id, f"bot answered callback of {rec.user.first_name}{shown}")
        self._notify()
        return True

    async def _m_getFile(self, p: dict) -> dict:
        f = self._files.get(p["file_id"])
        if f is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if f.file_size > 20 * 1024 * 1024:
            raise ApiError(400, "Bad Request: file is too big")
        self._gate("getFile")
        if f.file_path is None:
            if f.kind == "photo":
                f.file_path = f"photos/file_{len(self._file_paths)}.jpg"
            else:
                ext = Path(f.file_name or "").suffix or ""
                f.file_path = f"documents/file_{len(self._file_paths)}{ext}"
            self._file_paths[f.file_path] = f
        return dict(f.to_api() if f.kind != "photo" else
                    {"file_id": f.file_id, "file_unique_id": f.file_unique_id,
                     "file_size": f.file_size}, file_path=f.file_path)


def _coerce(name: str, value: Any, types: list[str]) -> Any:
    """Turn a form/multipart string into the type api.json declares."""
    if not isinstance(value, str):
        return value
    if types == ["String"]:
        return value
    if "InputFile" in types or "String" in types:
        if "Integer" in types and re.fullmatch(r"-?\d+", value):
            return int(value)
        return value
    if types == ["Integer"]:
        if re.fullmatch(r"-?\d+", value.strip()):
            return int(value)
        raise ApiError(400, f"Bad Request: invalid {name} specified")
    if types in (["Float"], ["Float number"]):
        try:
            return float(value)
        except ValueError:
            raise ApiError(400, f"Bad Request: invalid {name} specified") from None
    if types == ["Boolean"] or types == ["True"]:
        low = value.lower()
        if low in ("true", "1"):
            return True
        if low in ("false", "0", ""):
            return False
        raise ApiError(400, f"Bad Request: invalid {name} specified")
    try:
        return json.loads(value)
    except ValueError:
        raise ApiError(400, f"Bad Request: can't parse {name} JSON object") from None


def _update_chat(u: dict) -> int | None:
    """The chat an update belongs to (a press: the chat of its message), None if none."""
    body = u[_update_kind(u)]
    if not isinstance(body, dict):
        return None
    holder = body.get("message") if "chat" not in body else body
    chat = holder.get("chat") if isinstance(holder, dict) else None
    if isinstance(chat, dict) and isinstance(chat.get("id"), int):
        return chat["id"]
    sender = body.get("from")
    return sender.get("id") if isinstance(sender, dict) else None


def _update_kind(u: dict) -> str:
    return next(k for k in u if k != "update_id")


def _buttons_suffix(m: BotMessage) -> str:
    rows = m.buttons
    if not rows:
        return ""
    return "  " + " / ".join(" | ".join(f"[{b['text']}]" for b in row) for row in rows)


def _short(params: dict) -> str:
    out = {}
    for k, v in params.items():
        if isinstance(v, _Upload):
            v = f"<file {v.filename} {len(v.content)} bytes>"
        elif isinstance(v, str) and len(v) > 80:
            v = v[:77] + "..."
        out[k] = v
    return json.dumps(out, ensure_ascii=False, default=str)


def _image_size(data: bytes) -> tuple[int, int]:
    if data.startswith(b"\x89PNG") and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    return 800, 600
