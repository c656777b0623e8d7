"""Run the real bot Application against the fake Bot API, and the CLI as a subprocess."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from telegram import Update

from bot.app import ALLOWED_UPDATES, build_application
from bot.config import Settings
from bot.intake import chat_key
from bot.services import Services
from storage.db import Database

ROOT = Path(__file__).resolve().parents[2]
CLI_TIMEOUT = 60  # seconds; a hung child fails the test instead of the whole run


VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
# KIEMDIEM_TEST_TIME=HH:MM starts every test clock today at that Vietnam time of day, so the
# suite can be run as if it were, say, 23:30 or 00:30 in Vietnam (dates differ from UTC then).
TEST_TIME_ENV = "KIEMDIEM_TEST_TIME"


def clock_start(now: dt.datetime | None = None) -> dt.datetime:
    """When a test clock starts (UTC): now, or today at KIEMDIEM_TEST_TIME in Vietnam."""
    now = now or dt.datetime.now(dt.UTC)
    wanted = os.environ.get(TEST_TIME_ENV, "").strip()
    if not wanted:
        return now
    try:
        time_of_day = dt.time.fromisoformat(wanted)
    except ValueError as exc:
        raise ValueError(f"{TEST_TIME_ENV} must be HH:MM (Vietnam time), not {wanted!r}") from exc
    today = now.astimezone(VIETNAM).date()
    return dt.datetime.combine(today, time_of_day, VIETNAM).astimezone(dt.UTC)


def vietnam_today() -> dt.date:
    """The date in Vietnam when test clocks start: the date the bot sees (use clock.today()
    where a clock is at hand), not dt.date.today(), which is the machine's local date."""
    return clock_start().astimezone(VIETNAM).date()


class Clock:
    """A clock the test moves; the bot reads it through Services.now()."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.current = start or clock_start()

    def today(self) -> dt.date:
        """The clock's date in Vietnam (where the bot's dates are)."""
        return self.current.astimezone(VIETNAM).date()

    def __call__(self) -> dt.datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += dt.timedelta(**delta)


class BotRunner:
    """Start, stop and restart the bot application in this event loop, polling the fake."""

    def __init__(self, fake, database_url: str, clock: Clock, *, webhook: bool = False) -> None:
        self.fake = fake
        self.database_url = database_url
        self.clock = clock
        self.webhook = webhook  # receive updates by webhook instead of long polling
        self.application = None
        self.db: Database | None = None
        self._probe = None

    @property
    def settings(self) -> Settings:
        return Settings(
            bot_token=self.fake.token,
            telegram_api_url=self.fake.url,
            database_url=self.database_url,
        )

    async def start(self) -> None:
        self.db = Database(self.database_url)
        await self.db.migrate()
        services = Services(settings=self.settings, db=self.db, clock=self.clock)
        app = build_application(self.settings, services=services)
        work = ChatWork(app)  # before anything reaches the queue (start-up replays do)
        await app.initialize()
        await app.post_init(app)
        if self.webhook:
            port = free_port()
            await app.updater.start_webhook(
                listen="127.0.0.1",
                port=port,
                url_path="hook",
                webhook_url=f"http://127.0.0.1:{port}/hook",
                secret_token="test-secret",
                allowed_updates=ALLOWED_UPDATES,
            )
        else:
            await app.updater.start_polling(
                poll_interval=0, timeout=1, allowed_updates=ALLOWED_UPDATES
            )
        await app.start()
        self.application = app
        self._probe = lambda horizon, chat_id=None: busy_reason(app, horizon, chat_id, work)
        self.fake.add_idle_probe(self._probe)

    async def idle(self, *, timeout: float = 10) -> None:  # noqa: ASYNC109
        """Wait until the bot has handled every update it was given and sent every answer
        (no quiet window: see FakeTelegram.bot_idle)."""
        await self.fake.bot_idle(timeout=timeout)

    async def stop(self) -> None:
        app, self.application = self.application, None
        if app is None:
            return
        try:
            await app.updater.stop()
            await app.stop()
            await app.shutdown()
            await app.post_shutdown(app)
        finally:  # (a stopped Application is never busy: the probe may stay until here)
            if self._probe is not None:
                self.fake.remove_idle_probe(self._probe)
                self._probe = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()


class ChatWork:
    """Which chats' updates the Application `app` took from its queue and has not finished
    handling: counted when the update leaves the queue, until its update processor is done."""

    def __init__(self, app) -> None:
        self.counts: Counter[int | None] = Counter()
        queue, processor = app.update_queue, app.update_processor
        take, process = queue.get, processor.process_update

        async def get():
            update = await take()
            if isinstance(update, Update):
                self.counts[chat_key(update)] += 1
            return update

        async def process_update(update, coroutine) -> None:
            try:
                await process(update, coroutine)
            finally:
                if isinstance(update, Update):
                    key = chat_key(update)
                    self.counts[key] -= 1
                    if self.counts[key] <= 0:
                        del self.counts[key]

        queue.get = get
        processor.process_update = process_update

    def busy(self, chat_id: int) -> bool:
        return bool(self.counts.get(chat_id) or self.counts.get(None))


_UPDATE_TASK = ":process_concurrent_update"


def busy_reason(app, horizon: float = 0.0, chat_id: int | None = None,
                work: ChatWork | None = None) -> str | None:
    """Why the running Application `app` is not done (None when it is): updates in its queue
    or being handled (every update runs as an `Application.create_task` task, since the
    bot's update processor runs updates side by side), other tasks it started (handlers with
    block=False, `create_task`), a job running or due within `horizon` seconds. With
    `chat_id` (and `work`), only the updates of that chat count, besides the tasks and jobs."""
    if not app.running:
        return None
    queue = app.update_queue
    tasks = getattr(app, "_Application__create_task_tasks", None)
    if tasks is None:  # python-telegram-bot renamed its bookkeeping: fail loudly, not flakily
        raise RuntimeError("tests.e2e.harness.busy_reason: Application has no task set")
    if chat_id is None or work is None:
        if queue.qsize() or getattr(queue, "_unfinished_tasks", 0):
            return "updates being handled"
        if any(not task.done() for task in tasks):
            return "tasks running"
    else:
        if work.busy(chat_id) or any(
                chat_key(update) in (chat_id, None) for update in list(queue._queue)):
            return f"updates of chat {chat_id} being handled"
        if any(not task.done() and not task.get_name().endswith(_UPDATE_TASK) for task in tasks):
            return "tasks running"
    job_queue = app.job_queue
    if job_queue is not None and job_queue.scheduler.running:
        executor = job_queue._executor
        if any(not f.done() for f in getattr(executor, "_pending_futures", ())):
            return "a job running"
        soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=horizon)
        for job in job_queue.scheduler.get_jobs():
            if job.next_run_time is not None and job.next_run_time <= soon:
                return f"job {job.name} due"
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class CliResult:
    code: int
    out: str
    err: str


async def run_cli(*args: str, env: dict[str, str], cwd: Path | None = None) -> CliResult:
    """`kiemdiem ARGS` in a child process; the event loop keeps serving the fake meanwhile."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("BOT_TOKEN", "DATABASE_URL")}
    full_env.update(env)
    full_env["PYTHONPATH"] = str(ROOT)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", *args,
        env=full_env, cwd=str(cwd or ROOT),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(CLI_TIMEOUT):
        out, err = await process.communicate()
    return CliResult(process.returncode, out.decode(), err.decode())


ORG_HEADERS = ["Mã tổ chức", "Tên tổ chức", "Loại", "Mã tổ chức cấp trên", "Ngày thành lập"]
MEMBER_HEADERS = [
    "Mã đảng viên", "Họ và tên", "Ngày sinh", "Mã chi bộ", "Chức vụ", "Loại đảng viên", "Ngày kết nạp",
]
# Optional member columns; rows may stop before them (the cells are left empty).
MEMBER_EXTRA_HEADERS = [
    "Lãnh đạo, quản lý", "Ngoài hệ thống chính trị", "Số tháng nghỉ ốm", "Hình thức kỷ luật",
    "Kỷ luật do vi phạm trong thực thi công vụ",
]
ROLE_HEADERS = ["Mã đảng viên", "Mã tổ chức", "Vai trò"]


def roster_workbook(path: Path, *, orgs=None, members=None, roles=None) -> Path:
    """An .xlsx with the given sheets (None leaves a sheet out); rows are lists of cell values."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, headers, rows in (
        ("Tổ chức", ORG_HEADERS, orgs),
        ("Đảng viên", MEMBER_HEADERS + MEMBER_EXTRA_HEADERS, members),
        ("Vai trò", ROLE_HEADERS, roles),
    ):
        if rows is None:
            continue
        sheet = workbook.create_sheet(title)
        sheet.append(headers)
        for row in rows:
            sheet.append(list(row) + [None] * (len(headers) - len(row)))
    workbook.save(path)
    return path


# A grassroots committee with two cells: the fixture most tests start from.
ORGS = [
    ["DBCS01", "Đảng bộ Phường Bến Thành", "Đảng bộ cơ sở", "", "01/01/2000"],
    ["CB01", "Chi bộ Khu phố 1", "Chi bộ trực thuộc", "DBCS01", "01/01/2005"],
    ["CB02", "Chi bộ Khu phố 2", "Chi bộ trực thuộc", "DBCS01", "01/01/2005"],
]
MEMBERS = [
    ["DV001", "Nguyễn Văn An", "12/03/1970", "CB01", "Bí thư chi bộ", "Chính thức", "15/06/1995"],
    ["DV002", "Trần Thị Bình", "02/07/1982", "CB01", "", "Chính thức", "03/02/2008"],
    ["DV003", "Lê Văn Cường", "21/11/1990", "CB01", "", "Dự bị", "19/05/2026"],
    ["DV004", "Phạm Thị Dung", "30/01/1965", "CB02", "Bí thư đảng ủy", "Chính thức", "01/09/1990"],
    ["DV005", "Hoàng Văn Em", "09/09/1988", "CB02", "", "Chính thức", "10/10/2012"],
]
ROLES = [
    ["DV001", "CB01", "Bí thư"],
    ["DV004", "CB02", "Bí thư"],
    ["DV004", "DBCS01", "Bí thư"],
    ["DV005", "DBCS01", "Cấp ủy viên"],
]
