"""The cost of the durable intake, side by side in one run: prints figures, asserts nothing.

    .venv/bin/python -m benchmarks.intake [--users 20] [--each 50] [--runs 3] [--database URL]

The same `/help` traffic (each user sends a command and waits for its answer, users side by
side) goes through
- the bot as it runs (`durable`): every update stored in the inbox before Telegram is told it
  arrived, marked handled in the turn's transaction, the reply in the outbox until delivered;
- the same bot with PTB's plain in-memory update queue (`no intake`): no inbox row, replies
  still recorded in the outbox;
- a bare python-telegram-bot bot answering `/help` with a fixed text (`echo`), no database.
All three talk to the same fake Bot API in this process, so the fake's own cost is in every
figure alike; the differences are the bot's. The bot's replies go through its rate limiter
(Telegram's 30 messages a second), which caps both bot variants' throughput alike: the CPU per
update is the figure that tells the intake's cost.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from telegram import Update
from telegram.ext import ApplicationBuilder
from telegram.ext import CommandHandler
from telegram.ext import ContextTypes
from telegram.ext import Updater

from bot.app import ALLOWED_UPDATES
from bot.app import build_application
from bot.config import Settings
from bot.services import Services
from storage.db import Database
from tests.fakebot.server import FakeTelegram


async def _traffic(fake: FakeTelegram, users: int, each: int) -> float:
    people = [fake.user(f"U{i}", language_code="vi") for i in range(users)]

    async def one(user) -> None:
        for _ in range(each):
            await user.send("/help")
            await user.wait_message(timeout=60)

    started = time.perf_counter()
    await asyncio.gather(*(one(u) for u in people))
    return time.perf_counter() - started


async def _bot_run(variant: str, users: int, each: int, database_url: str | None) -> tuple[float, float]:
    async with FakeTelegram(global_per_second=1_000_000) as fake:
        with tempfile.TemporaryDirectory() as folder:
            url = database_url or f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
            settings = Settings(bot_token=fake.token, telegram_api_url=fake.url, database_url=url)
            if variant == "echo":
                app = ApplicationBuilder().token(fake.token).base_url(settings.api_base_url).build()

                async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
                    await update.effective_message.reply_text("Những việc đồng chí có thể làm")

                app.add_handler(CommandHandler("help", echo))
                await app.initialize()
                db = None
            else:
                db = Database(url)
                await db.migrate()
                app = build_application(settings, services=Services(settings=settings, db=db))
                if variant == "no intake":
                    app.updater = Updater(app.bot, update_queue=app.update_queue)
                await app.initialize()
                await app.post_init(app)
            await app.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=ALLOWED_UPDATES)
            await app.start()
            cpu = time.process_time()
            wall = await _traffic(fake, users, each)
            cpu = time.process_time() - cpu
            await app.updater.stop()
            await app.stop()
            await app.shutdown()
            if db is not None:
                await db.dispose()
    return wall, cpu


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--each", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database", help="a PostgreSQL URL (each run empties nothing: use a fresh database)")
    args = parser.parse_args()
    count = args.users * args.each
    print(f"{count} updates per run ({args.users} users x {args.each}), median of {args.runs} runs")
    results = {}
    for variant in ("echo", "no intake", "durable"):
        walls, cpus = [], []
        for _ in range(args.runs):
            wall, cpu = await _bot_run(variant, args.users, args.each, args.database)
            walls.append(wall)
            cpus.append(cpu)
        wall, cpu = statistics.median(walls), statistics.median(cpus)
        results[variant] = (wall, cpu)
        print(f"{variant:>10}: {count / wall:7.1f} updates/s, {1000 * cpu / count:6.2f} ms CPU per "
              f"update (fake included)")
    durable, plain = results["durable"], results["no intake"]
    print(f"durable intake costs {1000 * (durable[1] - plain[1]) / count:.2f} ms CPU per update; "
          f"throughput {count / durable[0]:.1f} vs {count / plain[0]:.1f} updates/s")


if __name__ == "__main__":
    asyncio.run(main())
