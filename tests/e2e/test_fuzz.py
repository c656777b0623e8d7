"""Issue 12: seeded fuzzing of the real bot through the fake Bot API.

Five users of different roles in a small tree with hostile names (and one stranger) send,
one input at a time: commands known and unknown with random arguments (Unicode digits, huge
numbers, HTML, long strings, nothing), free text in and out of flows, stickers, photos,
voice…, documents that are not rosters, presses of buttons the bot showed them, and forged
callback data (each module's prefix with random or mutated fields). After every input the
test waits until the bot has finished the update, then fails on any error-handler hit, any
call the fake refused, any press left unanswered and any input that got no answer at all.

`KIEMDIEM_FUZZ=10000` runs that many inputs (2,000 by default), `KIEMDIEM_FUZZ_SEED=N`
another seed. The figures are printed (run with `-s` to see them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import re
import time
from dataclasses import dataclass
from dataclasses import field

from telegram.ext import Application
from telegram.ext import CallbackQueryHandler

from bot import app as bot_app
from handlers.commands import COMMANDS
from tests.e2e.hostile import hostile_tree
from tests.e2e.hostile import live_evil_links
from tests.fakebot import BotMessage
from tests.fakebot import FakeTelegram
from tests.fakebot import FakeUser
from tests.fakebot.server import MEDIA_KINDS

INPUTS = int(os.environ.get("KIEMDIEM_FUZZ", "2000"))
SEED = int(os.environ.get("KIEMDIEM_FUZZ_SEED", "20261201"))
ANSWERS = {"sendMessage", "sendDocument", "sendPhoto", "editMessageText", "editMessageCaption",
           "editMessageReplyMarkup", "deleteMessage"}

NUMBERS = ["0", "1", "2", "5", "7", "25", "57", "100", "2026", "2025", "2027", "-1", "+3", "1.5",
           "²", "¹", "٣", "१२", "１２", "2⁰²⁶", "٢٠٢٦", "10000", "18446744073709551616",
           "9" * 30, "9" * 5000, "0" * 20 + "7", "1e9", "  12  ", "12 13"]
DATES = ["05/12/2026 08:00", "05/12/2026", "31/02/2026 08:00", "٠٥/١٢/٢٠٢٦ ٠٨:٠٠", "00/00/0000",
         "05/12/10000 08:00", "5/12/2026 8:00", "20/12/2026", "32/13/2026", "01/01/0001 00:00",
         "31/12/9999 23:59", "29/02/2027"]
HTML = ["<b>", "</b>", "<a href=\"https://evil.example/\">x</a>", "&", "&amp;", "<Hai> & \"Ba\"",
        "<script>", "<", ">", "<code>", "&#0;", "\u202e", "\u200b", "&lt;b&gt;"]
WORDS = ["có", "không", "yes", "no", "none", "-", "ok", "HTXS", "HTT", "HT", "KHT", "Đồng ý",
         "CB01", "CB02", "DBCS01", "DV001", "DV003", "DV005", "XYZ", "TINH", "ABCDE-FGHIJ",
         "Tôi đã hoàn thành tốt nhiệm vụ.", "🙂", "ɑ", "x" * 64]
CODES = ["CB01", "CB02", "DBCS01", "DV001", "DV002", "DV003", "DV004", "DV005", "DV006", "XYZ",
         "cb01", "CB99", "DBCS01 CB01", "%", "'; DROP TABLE members; --", "ABCDE-FGHIJ"]
MEDIA = sorted(MEDIA_KINDS)
# Not forged: the secret ballot's buttons (handlers/ballot.py, being redesigned under another
# issue) still crash on Unicode digits ("hop:open:²", "bv:²:1:HTXS"). Their buttons the bot
# shows are still pressed. Drop this once the ballot parses its data with bot/callbacks.py.
NOT_FORGED: tuple[str, ...] = ()  # every prefix, the ballot's included, is forged
FIELDS = ["", "0", "1", "2", "3", "7", "12", "99", "999999999999", "18446744073709551616",
          "9" * 40, "²", "٣", "１", "-1", "x", "ok", "no", "keep", "a", "d", "m", "t", "o",
          "20261205", "20261340", "99999999", "2026-12", "2026-13", "0000-00", "202612050800",
          "202612052599", "²⁰²⁶", "HTXS", "HTT", "HT", "KHT", "<b>", "::", "vi", "en", "xx"]


def callback_prefixes(application: Application) -> list[str]:
    """The literal prefix of every button pattern the bot registered."""
    prefixes = []
    for handlers in application.handlers.values():
        for handler in handlers:
            if isinstance(handler, CallbackQueryHandler) and handler.pattern is not None:
                pattern = getattr(handler.pattern, "pattern", handler.pattern)
                prefix = re.sub(r"[\\^$]", "", str(pattern))
                if not prefix.startswith(NOT_FORGED):
                    prefixes.append(prefix)
    return sorted(set(prefixes))


def cut(data: str) -> str:
    """At most 64 bytes, at least one: what Telegram lets a client send."""
    raw = data.encode()[:64]
    return raw.decode(errors="ignore") or "x"


@dataclass
class Figures:
    inputs: int = 0
    hits: int = 0
    refused: int = 0
    unanswered: int = 0
    silent: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)

    def note(self, what: str, problem: str) -> None:
        if len(self.examples) < 40:
            self.examples.append(f"{problem}: {what}")


def answered_since(fake: FakeTelegram, user: FakeUser, callback, start: int) -> bool:
    """Whether the bot wrote to the user's chat, or answered their press, after call `start`."""
    return any(
        c.ok and c.method in ANSWERS and c.params.get("chat_id") == user.chat_id
        for c in fake.calls[start:]
    ) or (callback is not None and callback.answered)


class ErrorLog(logging.Handler):
    """Counts the error handler's reports (bot.app.report_error logs each at ERROR)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("error while handling update"):
            self.records.append(record)


class Fuzzer:
    def __init__(self, fake: FakeTelegram, users: list[FakeUser], prefixes: list[str],
                 rng: random.Random) -> None:
        self.fake, self.users, self.prefixes, self.rng = fake, users, prefixes, rng
        self.shown: list[str] = []  # callback data the bot has shown, to mutate

    # --- generators ------------------------------------------------------------------------
    def scalar(self) -> str:
        rng = self.rng
        pool = rng.choice([NUMBERS, DATES, HTML, WORDS, CODES])
        value = rng.choice(pool)
        roll = rng.random()
        if roll < 0.05:
            value = rng.choice(HTML) * rng.randint(200, 600)
        elif roll < 0.1:
            value = "Nội dung " + "rất dài " * rng.randint(300, 520)
        elif roll < 0.2:
            value = value + " " + rng.choice(HTML) + rng.choice(NUMBERS)
        return value

    def text(self) -> str:
        value = self.scalar().strip() or "·"
        while len(value.encode("utf-16-le")) // 2 > 4096:
            value = value[: len(value) // 2]
        return value

    def command(self) -> str:
        rng = self.rng
        name = rng.choice([spec.name for spec in COMMANDS]) if rng.random() < 0.8 else rng.choice(
            ["xyz", "Start", "help_me", "kiem", "a" * 40, "tinh_trang2", "bo_phieu_", "admin"])
        suffix = rng.choice(["", "", "", "@" + self.fake.bot_username, "@other_bot"])
        args = " ".join(self.scalar() for _ in range(rng.choice([0, 0, 1, 1, 1, 2, 3])))
        return self.trim(f"/{name}{suffix} {args}".strip())

    def trim(self, value: str) -> str:
        while len(value.encode("utf-16-le")) // 2 > 4096:
            value = value[: len(value) // 2]
        return value

    def forged(self) -> str:
        rng = self.rng
        shown = [data for data in self.shown if not data.startswith(NOT_FORGED)]
        if shown and rng.random() < 0.5:
            parts = rng.choice(shown).split(":")
            index = rng.randrange(len(parts))
            if index == 0 and len(parts) > 1:
                index = rng.randrange(1, len(parts))
            parts[index] = rng.choice(FIELDS)
            if rng.random() < 0.2:
                parts.append(rng.choice(FIELDS))
            if rng.random() < 0.1 and len(parts) > 1:
                parts.pop()
            return cut(":".join(parts))
        if rng.random() < 0.1:
            return cut(rng.choice(["zz:1", "x", "unknown", "🙂", "lang", "a:b:c", ":"]))
        prefix = rng.choice(self.prefixes)
        fields = [rng.choice(FIELDS) for _ in range(rng.choice([0, 1, 2, 3, 4]))]
        return cut(prefix + ":".join(fields))

    def pressable(self, user: FakeUser) -> list[tuple[BotMessage, str]]:
        found = []
        for message in user.messages()[-6:]:
            for row in message.buttons:
                for button in row:
                    if "callback_data" in button:
                        found.append((message, button["callback_data"]))
        return found

    # --- one input ---------------------------------------------------------------------------
    async def act(self, user: FakeUser) -> tuple[str, str, object]:
        rng = self.rng
        roll = rng.random()
        if roll < 0.25:
            value = self.command()
            await user.send(value)
            return "command", value, None
        if roll < 0.42:
            value = self.text()
            await user.send(value)
            return "text", value[:80], None
        if roll < 0.50:
            kind = rng.choice(MEDIA)
            await user.send_media(kind, caption=rng.choice([None, None, self.text()[:100]]))
            return "media", kind, None
        if roll < 0.53:
            name = rng.choice(["note.txt", "scan.pdf", "photo.jpg", "x", "ds.doc", "a.xlsx.exe"])
            await user.send_document(rng.randbytes(rng.randint(1, 300)), name)
            return "document", name, None
        messages = user.messages()
        if roll < 0.80:
            choices = self.pressable(user)
            if choices:
                message, data = rng.choice(choices)
                return "press", data, await user.press_data(data, message=message)
        if not messages:
            value = self.command()
            await user.send(value)
            return "command", value, None
        message = rng.choice(messages[-4:])
        data = self.forged()
        return "forged", data, await user.press_data(data, message=message)


async def test_fuzz(bot, fake_telegram, tmp_path, cli_env, monkeypatch):
    tree = await hostile_tree(tmp_path, cli_env, fake_telegram)
    users = [*tree.users.values(), tree.stranger]
    for user in users[:-1]:  # every linked user has met the bot; the stranger only now
        await user.collect(quiet=0.1)
    await fake_telegram.wait_idle(quiet=0.3, timeout=30)

    processed = 0
    finished = asyncio.Event()
    original = Application.process_update

    async def counted(self, update):
        nonlocal processed
        try:
            await original(self, update)
        finally:
            processed += 1
            finished.set()

    monkeypatch.setattr(Application, "process_update", counted)
    errors = ErrorLog()
    logging.getLogger(bot_app.__name__).addHandler(errors)
    rng = random.Random(SEED)
    fuzzer = Fuzzer(fake_telegram, users, callback_prefixes(bot.application), rng)
    figures = Figures()
    started = time.monotonic()
    try:
        for _ in range(INPUTS):
            user = rng.choice(users)
            calls_before, refused_before = len(fake_telegram.calls), len(fake_telegram.refused)
            hits_before, target = len(errors.records), processed + 1
            began = time.monotonic()
            kind, what, callback = await fuzzer.act(user)
            figures.inputs += 1
            figures.kinds[kind] = figures.kinds.get(kind, 0) + 1
            deadline = time.monotonic() + 30
            while processed < target:  # the bot has finished the update: all its groups ran
                finished.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(finished.wait(), 1)
                assert time.monotonic() < deadline, f"bot stuck after {kind} {what!r}"
            while fake_telegram._inflight:  # calls still under way
                await fake_telegram._wait_change(0.05)
            slot = what.split()[0].split("@")[0] if kind == "command" else kind
            figures.seconds[slot] = figures.seconds.get(slot, 0) + time.monotonic() - began
            label = f"{user.first_name} {kind} {what!r}"
            if len(errors.records) > hits_before:
                figures.hits += len(errors.records) - hits_before
                error = errors.records[-1].exc_info
                figures.note(label, f"error handler ({error[0].__name__ if error else '?'}: "
                                    f"{str(error[1])[:120] if error else ''})")
            if len(fake_telegram.refused) > refused_before:
                figures.refused += len(fake_telegram.refused) - refused_before
                refused = fake_telegram.refused[-1]
                figures.note(label, f"refused {refused.method}: {refused.description}")
            answered = answered_since(fake_telegram, user, callback, calls_before)
            for quiet in (0.2, 1.0):  # a handler run as a task (block=False) may start late
                if answered and (callback is None or callback.answered):
                    break
                # An answer sent after the update (a task, an outbox) still counts, if it comes.
                await fake_telegram.wait_idle(quiet=quiet, timeout=10)
                answered = answered_since(fake_telegram, user, callback, calls_before)
            if callback is not None:
                if not callback.answered:
                    figures.unanswered += 1
                    figures.note(label, "unanswered press")
            if not answered:
                figures.silent += 1
                figures.note(label, "silent")
            for message in user.messages()[-3:]:
                for row in message.buttons:
                    for button in row:
                        data = button.get("callback_data")
                        if data and data not in fuzzer.shown:
                            fuzzer.shown.append(data)
    finally:
        logging.getLogger(bot_app.__name__).removeHandler(errors)
    elapsed = time.monotonic() - started
    evil = live_evil_links(fake_telegram)
    summary = (f"fuzz seed {SEED}: {figures.inputs} inputs in {elapsed:.1f} s {figures.kinds}; "
               f"error-handler hits {figures.hits}, refused {figures.refused}, unanswered "
               f"{figures.unanswered}, silent {figures.silent}, live evil links {len(evil)}")
    print(summary)
    slow = sorted(figures.seconds.items(), key=lambda item: -item[1])[:8]
    print("slowest inputs (s):", {k: round(v, 1) for k, v in slow})
    problems = figures.hits + figures.refused + figures.unanswered + figures.silent + len(evil)
    assert not problems, summary + "\n" + "\n".join(figures.examples + evil[:10])
