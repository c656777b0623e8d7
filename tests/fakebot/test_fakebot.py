"""Tests of the fake Telegram server itself (run with ``-p tests.fakebot.plugin``)."""

from __future__ import annotations

import asyncio
import json
import struct
import zlib

import aiohttp
import pytest
from telegram import Bot
from telegram import InlineKeyboardButton
from telegram import InlineKeyboardMarkup
from telegram import Update
from telegram.error import BadRequest
from telegram.error import Forbidden
from telegram.error import InvalidToken
from telegram.error import RetryAfter
from telegram.ext import Application
from telegram.ext import ApplicationBuilder
from telegram.ext import CallbackQueryHandler
from telegram.ext import CommandHandler
from telegram.ext import ContextTypes
from telegram.ext import MessageHandler
from telegram.ext import filters

from tests.fakebot import FakeTelegram
from tests.fakebot import parse_html
from tests.fakebot.html_check import EntityParseError
from tests.fakebot.plugin import fake_telegram_problems

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

KB = InlineKeyboardMarkup([[InlineKeyboardButton("Đồng ý", callback_data="yes"),
                            InlineKeyboardButton("Không", callback_data="no")]])


def _png(width: int = 2, height: int = 3) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    raw = b"".join(b"\0" + b"\0\0\0" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


@pytest.fixture
async def bot(fake_telegram: FakeTelegram):
    b = Bot(fake_telegram.token, base_url=f"{fake_telegram.url}/bot",
            base_file_url=f"{fake_telegram.url}/file/bot")
    async with b:
        yield b


@pytest.fixture
async def alice(fake_telegram: FakeTelegram):
    u = fake_telegram.user("Alice", "Nguyễn", username="alice")
    await u.send("/start")
    return u


async def _raw(fake: FakeTelegram, method: str, *, token: str | None = None, **kwargs):
    async with aiohttp.ClientSession() as s, s.post(
            f"{fake.url}/bot{token or fake.token}/{method}", **kwargs) as r:
        return r.status, await r.json()


# --- transport, methods, parameters ---------------------------------------------------------


async def test_get_me_and_user_shapes(bot: Bot, fake_telegram: FakeTelegram):
    me = await bot.get_me()
    assert me.id == fake_telegram.bot_id and me.username == "kiemdiem_test_bot" and me.is_bot
    assert fake_telegram.calls[0].method == "getMe" and fake_telegram.calls[0].ok


@pytest.mark.allow_refused
async def test_unknown_token_method_and_unimplemented(fake_telegram: FakeTelegram):
    status, body = await _raw(fake_telegram, "getMe", token="1:wrong")
    assert (status, body["description"]) == (401, "Unauthorized")
    status, body = await _raw(fake_telegram, "sendMesage", json={"chat_id": 1, "text": "x"})
    assert (status, body["description"]) == (404, "Not Found")
    status, body = await _raw(fake_telegram, "sendInvoice", json={
        "chat_id": 1, "title": "x", "description": "x", "payload": "x", "currency": "VND",
        "prices": [{"label": "x", "amount": 1}]})
    assert status == 400 and body["description"] == "Bad Request: fake: method sendInvoice not implemented"
    status, body = await _raw(fake_telegram, "GETME")  # case-insensitive like the real API
    assert status == 200 and body["result"]["id"] == fake_telegram.bot_id
    assert [c.error_code for c in fake_telegram.refused] == [401, 404, 400]
    bad = Bot("1:wrong", base_url=f"{fake_telegram.url}/bot")
    with pytest.raises(InvalidToken):
        await bad.get_me()


@pytest.mark.allow_refused
async def test_parameter_decoding_and_checks(fake_telegram: FakeTelegram, alice):
    cid = alice.id
    status, body = await _raw(fake_telegram, "sendMessage", json={"chat_id": cid, "text": "json"})
    assert status == 200 and body["result"]["text"] == "json"
    status, body = await _raw(fake_telegram, "sendMessage", data={"chat_id": str(cid), "text": "form"})
    assert status == 200 and body["result"]["chat"]["id"] == cid
    status, body = await _raw(fake_telegram, f"sendMessage?chat_id={cid}&text=query")
    assert status == 200
    form = aiohttp.FormData()
    form.add_field("chat_id", str(cid))
    form.add_field("text", "multi")
    form.add_field("reply_markup", json.dumps({"inline_keyboard": [[{"text": "a", "callback_data": "a"}]]}))
    status, body = await _raw(fake_telegram, "sendMessage", data=form)
    assert status == 200 and body["result"]["reply_markup"]["inline_keyboard"][0][0]["text"] == "a"
    assert [m.text for m in alice.messages()] == ["json", "form", "query", "multi"]

    status, body = await _raw(fake_telegram, "sendMessage", json={"chat_id": cid, "txt": "x"})
    assert status == 400 and "unknown parameter 'txt'" in body["description"]
    status, body = await _raw(fake_telegram, "sendMessage", json={"text": "x"})
    assert (status, body["description"]) == (400, "Bad Request: chat_id is empty")
    status, body = await _raw(fake_telegram, "sendMessage", json={"chat_id": cid})
    assert body["description"] == "Bad Request: message text is empty"
    assert len(fake_telegram.refused) == 3


async def test_valid_send_passes_and_is_recorded(bot: Bot, fake_telegram: FakeTelegram, alice):
    sent = await bot.send_message(alice.id, "<b>Chào</b> &lt;bạn&gt; &amp; <i>x</i>", parse_mode="HTML",
                                  reply_markup=KB)
    assert sent.text == "Chào <bạn> & x" and sent.entities[0].type == "bold"
    assert sent.reply_markup.inline_keyboard[0][0].callback_data == "yes"
    msg = await alice.wait_message()
    assert msg.text == "Chào <bạn> & x" and msg.html.startswith("<b>Chào</b>")
    assert msg.button_labels() == ["Đồng ý", "Không"] and msg.parse_mode == "HTML"
    assert not fake_telegram.refused


# --- HTML ------------------------------------------------------------------------------------


@pytest.mark.allow_refused
@pytest.mark.parametrize(("html", "error"), [
    ("<b>bold", 'can\'t find end tag corresponding to start tag "b"'),
    ("<b>x</i>", 'unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
    ("a<br>b", 'unsupported start tag "br" at byte offset 1'),
    ("1 < 2", 'unsupported start tag "" at byte offset 2'),
    ("Tom & Jerry", "fake: unescaped '&'"),
    ("x &nbsp; y", "fake: unescaped '&'"),
    ("<span>x</span>", 'tag "span" must have class "tg-spoiler"'),
    ("x</b>", "unexpected end tag at byte offset 1"),
    ("<b", "unclosed start tag at byte offset 0"),
])
async def test_html_refused(bot: Bot, alice, html: str, error: str):
    with pytest.raises(BadRequest) as exc:
        await bot.send_message(alice.id, html, parse_mode="HTML")
    assert exc.value.message.lower() == f"can't parse entities: {error}".lower() or \
        exc.value.message.lower().startswith(f"can't parse entities: {error}".lower())


def test_html_parser_entities():
    text, ents = parse_html('😀 <b>đậm <i>nghiêng</i></b> <a href="https://x.org/?a=1&amp;b=2">l</a>')
    assert text == "😀 đậm nghiêng l"
    assert ents == [
        {"type": "bold", "offset": 3, "length": 11},  # the emoji counts 2 UTF-16 units
        {"type": "italic", "offset": 7, "length": 7},
        {"type": "text_link", "offset": 15, "length": 1, "url": "https://x.org/?a=1&b=2"},
    ]
    text, ents = parse_html('<pre><code class="language-python">x = 1</code></pre>'
                            '<blockquote expandable>q</blockquote><tg-spoiler>s</tg-spoiler>'
                            '<span class="tg-spoiler">t</span><code>c</code>&#65;&#x42;&quot;')
    assert text == 'x = 1qstcAB"'
    assert [e["type"] for e in ents] == ["pre", "expandable_blockquote", "spoiler", "spoiler", "code"]
    assert ents[0]["language"] == "python" and "language" not in ents[4]
    assert parse_html("a &amp; b", strict_ampersand=False) == ("a & b", [])
    assert parse_html("Tom & Jerry", strict_ampersand=False) == ("Tom & Jerry", [])
    with pytest.raises(EntityParseError):
        parse_html("<b>x</b><u>")


@pytest.mark.allow_refused
async def test_markdown_refused_as_unsupported(bot: Bot, alice):
    with pytest.raises(BadRequest, match="not supported by the fake"):
        await bot.send_message(alice.id, "*x*", parse_mode="MarkdownV2")


# --- lengths ---------------------------------------------------------------------------------


@pytest.mark.allow_refused
async def test_text_lengths(bot: Bot, alice):
    await bot.send_message(alice.id, "a" * 4096)
    await bot.send_message(alice.id, "😀" * 2048)  # 4096 UTF-16 units
    await bot.send_message(alice.id, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")  # after parsing
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(alice.id, "a" * 4097)
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(alice.id, "😀" * 2049)
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(alice.id, "  \n ")
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(alice.id, "<b></b>", parse_mode="HTML")
    await bot.send_document(alice.id, b"x", filename="a.txt", caption="c" * 1024)
    with pytest.raises(BadRequest, match="Message caption is too long"):
        await bot.send_document(alice.id, b"x", filename="a.txt", caption="c" * 1025)


# --- keyboards -------------------------------------------------------------------------------


@pytest.mark.allow_refused
async def test_inline_keyboard_rules(bot: Bot, fake_telegram: FakeTelegram, alice):
    ok = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="d" * 64),
                                InlineKeyboardButton("site", url="https://example.org")]])
    await bot.send_message(alice.id, "ok", reply_markup=ok)
    too_long = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="ệ" * 22)]])  # 66 bytes
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(alice.id, "x", reply_markup=too_long)

    async def raw_kb(button: dict):
        return await _raw(fake_telegram, "sendMessage", json={
            "chat_id": alice.id, "text": "x", "reply_markup": {"inline_keyboard": [[button]]}})
    status, body = await raw_kb({"text": "no action"})
    assert body["description"] == "Bad Request: text buttons are unallowed in the inline keyboard"
    status, body = await raw_kb({"text": "two", "callback_data": "a", "url": "https://x.org"})
    assert status == 400 and "exactly one action field" in body["description"]
    status, body = await raw_kb({"callback_data": "a"})
    assert status == 400 and "text" in body["description"]
    status, body = await raw_kb({"text": "e", "callback_data": ""})
    assert body["description"] == "Bad Request: BUTTON_DATA_INVALID"
    assert len(fake_telegram.refused) == 5


# --- edits and deletes -----------------------------------------------------------------------


@pytest.mark.allow_refused
async def test_edits(bot: Bot, fake_telegram: FakeTelegram, alice):
    sent = await bot.send_message(alice.id, "<b>v1</b>", parse_mode="HTML", reply_markup=KB)
    msg = await alice.wait_message()
    with pytest.raises(BadRequest, match="Message is not modified: specified new message content"):
        await bot.edit_message_text("<b>v1</b>", alice.id, sent.message_id, parse_mode="HTML",
                                    reply_markup=KB)
    # same plain text but different entities is a modification
    await bot.edit_message_text("v1", alice.id, sent.message_id, reply_markup=KB)
    # omitting reply_markup removes the keyboard, like Telegram does
    await bot.edit_message_text("v1", alice.id, sent.message_id)
    assert msg.buttons == [] and msg.edited and len(msg.versions) == 2
    first = await alice.wait_edit(msg)
    assert first.entities == [] and first.button_labels() == ["Đồng ý", "Không"]
    second = await alice.wait_edit(msg)
    assert second.buttons == []
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_reply_markup(alice.id, sent.message_id)
    await bot.edit_message_reply_markup(alice.id, sent.message_id, reply_markup=KB)
    assert msg.button_labels() == ["Đồng ý", "Không"]
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", alice.id, 9999)
    with pytest.raises(BadRequest, match="Message can't be edited"):
        await bot.edit_message_text("x", alice.id, 1)  # Alice's own /start
    assert await bot.delete_message(alice.id, sent.message_id)
    assert msg.deleted and alice.messages() == []
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(alice.id, sent.message_id)
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", alice.id, sent.message_id)


# --- chats -----------------------------------------------------------------------------------


@pytest.mark.allow_refused
async def test_forbidden_and_chat_not_found(bot: Bot, fake_telegram: FakeTelegram):
    bob = fake_telegram.user("Bob")
    with pytest.raises(Forbidden, match="bot can't initiate conversation with a user"):
        await bot.send_message(bob.id, "hi")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(424242, "hi")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message("@nobody", "hi")
    await bob.send("/start")
    assert bob.started
    await bot.send_message(bob.id, "hi")
    bob.block()
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(bob.id, "hi")
    await bob.send("/start")  # writing again unblocks
    await bot.send_message(bob.id, "welcome back")
    g = fake_telegram.group("Chi bộ 1")
    await bot.send_message(g.id, "in group")  # the bot is a member: no /start needed
    g.remove_bot()
    with pytest.raises(Forbidden, match="bot was kicked from the group chat"):
        await bot.send_message(g.id, "x")
    assert [c.error_code for c in fake_telegram.refused] == [403, 400, 400, 403, 403]
    assert [(u["update_id"] > 0, next(k for k in u if k != "update_id"))
            for u in fake_telegram._updates][-2:] == [(True, "my_chat_member"), (True, "message")]


async def test_get_chat_and_chat_action(bot: Bot, fake_telegram: FakeTelegram, alice):
    chat = await bot.get_chat(alice.id)
    assert chat.type == "private" and chat.first_name == "Alice" and chat.username == "alice"
    g = fake_telegram.group("Chi bộ")
    gchat = await bot.get_chat(g.id)
    assert gchat.type == "group" and gchat.title == "Chi bộ"
    assert await bot.send_chat_action(alice.id, "typing")
    assert fake_telegram.chat_actions == [(alice.id, "typing")]


# --- flood limits and injected errors ------------------------------------------------------


async def test_flood_limits():
    async with FakeTelegram(global_per_second=3, group_per_minute=2, private_per_second=1) as fake:
        b = Bot(fake.token, base_url=f"{fake.url}/bot")
        users = [fake.user(f"U{i}") for i in range(4)]
        for u in users:
            await u.send("/start")
        async with b:
            for u in users[:3]:
                await b.send_message(u.id, "x")
            with pytest.raises(RetryAfter) as exc:
                await b.send_message(users[3].id, "x")
            assert exc.value.retry_after in (1, dt_seconds(1))
            await asyncio.sleep(1.05)
            await b.send_message(users[0].id, "x")
            with pytest.raises(RetryAfter):  # private_per_second=1
                await b.send_message(users[0].id, "again")
            g = fake.group("G")
            await asyncio.sleep(1.05)
            await b.send_message(g.id, "1")
            await b.send_message(g.id, "2")
            with pytest.raises(RetryAfter) as exc:
                await b.send_message(g.id, "3")
        assert 55 <= _seconds(exc.value.retry_after) <= 60
        assert len(fake.throttled) == 3 and not fake.refused
        assert fake.throttled[-1].description.startswith("Too Many Requests: retry after ")


def dt_seconds(n: int):
    import datetime as dtm
    return dtm.timedelta(seconds=n)


def _seconds(v) -> float:
    return v.total_seconds() if hasattr(v, "total_seconds") else v


async def test_inject_error(bot: Bot, fake_telegram: FakeTelegram, alice):
    fake_telegram.inject_error("sendMessage", retry_after=7)
    with pytest.raises(RetryAfter) as exc:
        await bot.send_message(alice.id, "x")
    assert _seconds(exc.value.retry_after) == 7
    fake_telegram.inject_error("sendmessage", chat_id=alice.id, error_code=403, times=2)
    for _ in range(2):
        with pytest.raises(Forbidden, match="blocked"):
            await bot.send_message(alice.id, "x")
    await bot.send_message(alice.id, "now it works")
    assert len(fake_telegram.injected) == 3 and not fake_telegram.refused
    assert not fake_telegram.throttled
    with pytest.raises(ValueError):
        fake_telegram.inject_error("noSuchMethod")


# --- callbacks -------------------------------------------------------------------------------


@pytest.mark.allow_refused
async def test_callback_answers(bot: Bot, fake_telegram: FakeTelegram, alice):
    await bot.send_message(alice.id, "q?", reply_markup=KB)
    await bot.send_message(alice.id, "other")
    cb = await alice.press("Không")  # newest message having that button
    assert cb.data == "no" and fake_telegram.unanswered_callbacks() == [cb]
    update = Update.de_json(fake_telegram._updates[-1], bot)
    assert update.callback_query.data == "no" and update.callback_query.message.text == "q?"
    assert await bot.answer_callback_query(cb.id, text="Đã ghi nhận", show_alert=True)
    await alice.wait_answer(cb)
    assert cb.answered and cb.text == "Đã ghi nhận" and cb.show_alert
    with pytest.raises(BadRequest, match="Query is too old and response timeout expired"):
        await bot.answer_callback_query(cb.id)
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query("12345")
    with pytest.raises(AssertionError, match=r"buttons available: \{'#\d+': \['Đồng ý', 'Không'\]\}"):
        await alice.press("Có")
    forged = await alice.press_data("admin:delete_all", message=alice.messages()[0])
    await bot.answer_callback_query(forged.id)
    assert fake_telegram.unanswered_callbacks() == []


# --- files -----------------------------------------------------------------------------------


@pytest.mark.allow_refused
async def test_files(bot: Bot, fake_telegram: FakeTelegram, alice):
    sent = await bot.send_document(alice.id, b"%PDF-1.4 fake", filename="bao-cao.pdf",
                                   caption="<b>Báo cáo</b>", parse_mode="HTML")
    msg = await alice.wait_message()
    assert msg.document.content == b"%PDF-1.4 fake" and msg.document.file_name == "bao-cao.pdf"
    assert msg.document.mime_type == "application/pdf" and msg.caption == "Báo cáo"
    assert msg.text is None
    again = await bot.send_document(alice.id, sent.document.file_id)  # re-send by file_id
    assert again.document.file_id == sent.document.file_id
    f = await bot.get_file(sent.document.file_id)
    assert f.file_path.startswith(f"{fake_telegram.url}/file/bot")
    assert await f.download_as_bytearray() == bytearray(b"%PDF-1.4 fake")
    photo = await bot.send_photo(alice.id, _png(5, 7), caption="ảnh")
    assert photo.photo[-1].width == 5 and photo.photo[-1].height == 7
    assert alice.messages()[-1].photo.content == _png(5, 7)
    with pytest.raises(BadRequest, match="Image_process_failed"):
        await bot.send_photo(alice.id, b"not an image")
    with pytest.raises(BadRequest, match="Wrong file identifier/http url specified"):
        await bot.send_document(alice.id, "BQACnope")
    with pytest.raises(BadRequest, match="Invalid file_id"):
        await bot.get_file("nope")
    async with aiohttp.ClientSession() as s, s.get(f"{fake_telegram.url}/file/bot{fake_telegram.token}/x") as r:
        assert r.status == 404


# --- commands and menu -----------------------------------------------------------------------


@pytest.mark.allow_refused
async def test_commands_and_menu(bot: Bot, fake_telegram: FakeTelegram, alice):
    from telegram import BotCommandScopeAllPrivateChats
    from telegram import BotCommandScopeChat
    from telegram import MenuButtonCommands
    assert await bot.set_my_commands([("start", "Bắt đầu"), ("help", "Trợ giúp")], language_code="vi")
    await bot.set_my_commands([("start", "Start")], scope=BotCommandScopeAllPrivateChats())
    await bot.set_my_commands([("admin", "Quản trị")], scope=BotCommandScopeChat(alice.id))
    assert [c["command"] for c in fake_telegram.my_commands("vi")] == ["start", "help"]
    assert fake_telegram.my_commands(scope_type="all_private_chats") == [
        {"command": "start", "description": "Start"}]
    assert fake_telegram.my_commands(scope_type="chat", chat_id=alice.id)[0]["command"] == "admin"
    assert [c.command for c in await bot.get_my_commands(language_code="vi")] == ["start", "help"]
    assert await bot.get_my_commands() == ()
    assert await bot.delete_my_commands(language_code="vi")
    assert fake_telegram.my_commands("vi") == []
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([("Start", "x")])
    with pytest.raises(BadRequest, match="Invalid language code"):
        await bot.set_my_commands([("start", "x")], language_code="vie")
    assert await bot.set_chat_menu_button(alice.id, MenuButtonCommands())
    assert (await bot.get_chat_menu_button(alice.id)).type == "commands"
    assert fake_telegram.menu_button(alice.id) == {"type": "commands"}



@pytest.mark.allow_refused
async def test_a_chats_menu_is_chosen_as_telegram_does(bot: Bot, fake_telegram: FakeTelegram, alice):
    from telegram import BotCommandScopeAllPrivateChats
    from telegram import BotCommandScopeChat
    from telegram import BotCommandScopeChatMember
    english = fake_telegram.user("Eve", language_code="en-GB")
    await english.send("/start")
    assert fake_telegram.menu(alice) == []
    await bot.set_my_commands([("start", "Start")])  # default scope, every language
    assert [c["command"] for c in fake_telegram.menu(alice)] == ["start"]
    await bot.set_my_commands([("help", "Trợ giúp")], scope=BotCommandScopeAllPrivateChats())
    await bot.set_my_commands([("help", "Help")], scope=BotCommandScopeAllPrivateChats(),
                              language_code="en")
    assert fake_telegram.menu(alice)[0]["description"] == "Trợ giúp"  # alice's language is vi
    assert fake_telegram.menu(english)[0]["description"] == "Help"
    await bot.set_my_commands([("moi", "Mời")], scope=BotCommandScopeChat(alice.id))
    assert [c["command"] for c in fake_telegram.menu(alice)] == ["moi"]
    assert fake_telegram.menu(english)[0]["description"] == "Help"  # another chat's is not hers
    assert await bot.delete_my_commands(scope=BotCommandScopeChat(alice.id))
    assert fake_telegram.menu(alice)[0]["description"] == "Trợ giúp"
    # A user who never started the bot is a chat the bot does not know.
    stranger = fake_telegram.user("Mallory")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.set_my_commands([("moi", "Mời")], scope=BotCommandScopeChat(stranger.id))
    with pytest.raises(BadRequest):
        await bot.set_my_commands([("moi", "Mời")], scope=BotCommandScopeChatMember(alice.id, alice.id))
    assert fake_telegram.my_commands(scope_type="chat", chat_id=stranger.id) == []

# --- getUpdates --------------------------------------------------------------------------------


async def test_get_updates_long_poll(bot: Bot, fake_telegram: FakeTelegram):
    carol = fake_telegram.user("Carol", language_code=None)
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    assert not poll.done()
    sent = await carol.send("/start@kiemdiem_test_bot hello")
    updates = await asyncio.wait_for(poll, 2)
    assert len(updates) == 1 and updates[0].message.text == "/start@kiemdiem_test_bot hello"
    ent = updates[0].message.entities[0]
    assert (ent.type, ent.offset, ent.length) == ("bot_command", 0, 24)
    assert updates[0].message.from_user.language_code is None
    assert sent["message_id"] == updates[0].message.message_id
    # not confirmed yet: delivered again; then confirmed by offset
    assert len(await bot.get_updates(timeout=0)) == 1
    assert await bot.get_updates(offset=updates[0].update_id + 1, timeout=0) == ()
    # allowed_updates filters
    await bot.send_message(carol.id, "q", reply_markup=KB)
    await carol.press("Đồng ý")
    await carol.send("text")
    ups = await bot.get_updates(timeout=0, allowed_updates=["message"])
    assert [u.message.text for u in ups] == ["text"]
    cb = fake_telegram.callbacks[0]
    await bot.answer_callback_query(cb.id)
    # stop() releases a pending long poll with []
    poll = asyncio.create_task(bot.get_updates(offset=ups[-1].update_id + 1, timeout=30))
    await asyncio.sleep(0.1)
    await fake_telegram.stop()
    assert await asyncio.wait_for(poll, 2) == ()


async def test_group_privacy_mode(fake_telegram: FakeTelegram, bot: Bot):
    g = fake_telegram.group("Chi bộ 2")
    dan = fake_telegram.user("Dan")
    await dan.send("hello everyone", chat=g)
    await dan.send("/help@other_bot", chat=g)
    await dan.send("/diemdanh@kiemdiem_test_bot", chat=g)
    await dan.send("/start", chat=g)
    ups = await bot.get_updates(timeout=0)
    assert [u.message.text for u in ups] == ["/diemdanh@kiemdiem_test_bot", "/start"]
    assert ups[0].message.chat.type == "group" and ups[0].message.chat.id == g.id < 0
    assert not dan.started  # group messages don't open the private chat
    sent = await bot.send_message(g.id, "reply to me")
    await dan.send("a reply", chat=g, reply_to=(await dan.wait_message(chat=g)))
    ups = await bot.get_updates(offset=ups[-1].update_id + 1, timeout=0)
    assert ups[0].message.reply_to_message.message_id == sent.message_id


# --- full round trip with a PTB Application ----------------------------------------------------


async def _start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    arg = " ".join(context.args)
    await update.message.reply_text(f"Xin chào <b>{update.effective_user.first_name}</b> ({arg})",
                                    parse_mode="HTML", reply_markup=KB)


async def _button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    q = update.callback_query
    await q.answer("OK!")
    await q.edit_message_text(f"Bạn chọn: {q.data}")
    await q.message.reply_document(b"col1,col2\n1,2\n", filename="ket-qua.csv", caption="Kết quả")


async def _document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    f = await update.message.document.get_file()
    data = await f.download_as_bytearray()
    await update.message.reply_text(f"Nhận {len(data)} byte: {bytes(data).decode()}")


@pytest.fixture
async def app(fake_telegram: FakeTelegram):
    application: Application = (ApplicationBuilder().token(fake_telegram.token)
                                .base_url(f"{fake_telegram.url}/bot")
                                .base_file_url(f"{fake_telegram.url}/file/bot").build())
    application.add_handler(CommandHandler("start", _start))
    application.add_handler(CallbackQueryHandler(_button))
    application.add_handler(MessageHandler(filters.Document.ALL, _document))
    await application.initialize()
    await application.start()
    await application.updater.start_polling(poll_interval=0)
    yield application
    await application.updater.stop()
    await application.stop()
    await application.shutdown()


async def test_application_round_trip(app: Application, fake_telegram: FakeTelegram, bot: Bot):
    alice = fake_telegram.user("Alice")
    bob = fake_telegram.user("Bob")
    await alice.send("/start abc")
    await bob.send("/start xyz")
    msg = await alice.wait_message()
    assert msg.text == "Xin chào Alice (abc)" and msg.button_labels() == ["Đồng ý", "Không"]
    assert (await bob.wait_message()).text == "Xin chào Bob (xyz)"
    cb = await alice.press("Đồng ý")
    await alice.wait_answer(cb)
    assert cb.text == "OK!"
    edited = await alice.wait_edit(msg)
    assert edited.text == "Bạn chọn: yes" and edited.buttons == []
    doc_msg = await alice.wait_message()
    assert doc_msg.document.file_name == "ket-qua.csv" and doc_msg.caption == "Kết quả"
    # the test (as a user) downloads what the bot sent, through PTB
    ptb_msg = Update.de_json({"update_id": 1, "message": fake_telegram._message_dict(doc_msg)}, bot).message
    data = await (await ptb_msg.document.get_file()).download_as_bytearray()
    assert bytes(data) == b"col1,col2\n1,2\n" == doc_msg.document.content
    # the bot downloads what the user sent
    await alice.send_document("Xin chào".encode(), "loi-chao.txt")
    reply = await alice.wait_message()
    assert reply.text == "Nhận 9 byte: Xin chào"
    assert await alice.collect(quiet=0.2) == []
    await fake_telegram.wait_idle()
    assert not fake_telegram.refused and not fake_telegram.unanswered_callbacks()
    assert "Alice pressed 'Đồng ý'" in fake_telegram.transcript(alice)
    assert "Bob" not in fake_telegram.transcript(alice.id)


# --- plugin checks -----------------------------------------------------------------------------


async def test_plugin_problem_report():
    async with FakeTelegram() as fake:
        u = fake.user("Eve")
        async with Bot(fake.token, base_url=f"{fake.url}/bot") as b:
            with pytest.raises(Forbidden):
                await b.send_message(u.id, "x")
            await u.send("/start")
            await b.send_message(u.id, "q", reply_markup=KB)
            await u.press("Không")
    report = fake_telegram_problems(fake, allow_refused=False, allow_unanswered=False)
    assert "would refuse" in report and "never answered" in report and "transcript" in report
    assert fake_telegram_problems(fake, allow_refused=True, allow_unanswered=True) is None


@pytest.mark.allow_refused
async def test_a_webhook_takes_updates_and_getupdates_conflicts(fake_telegram: FakeTelegram):
    status, _ = await _raw(fake_telegram, "setWebhook", json={"url": "https://x.example/hook"})
    assert status == 200
    status, body = await _raw(fake_telegram, "getUpdates", json={})
    assert status == 409 and body["description"].startswith("Conflict")
    status, body = await _raw(fake_telegram, "getWebhookInfo", json={})
    assert body["result"]["url"] == "https://x.example/hook"
    assert (await _raw(fake_telegram, "deleteWebhook", json={}))[0] == 200
    assert (await _raw(fake_telegram, "getUpdates", json={}))[0] == 200
