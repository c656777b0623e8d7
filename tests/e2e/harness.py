"""Run the real bot Application against the fake Bot API, and the CLI as a subprocess."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from telegram import Update

from bot.app import ALLOWED_UPDATES
from bot.app import build_application
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


STOP_SECONDS = 30  # a graceful stop takes well under a second


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
            try:
                await asyncio.wait_for(self._stop_application(app), STOP_SECONDS)
            except TimeoutError:
                # A graceful stop that hangs is a bug to find (the product survives SIGKILL by
                # design, so nothing is lost): say what was still running, then move on.
                stuck = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
                print(f"BotRunner.stop: the Application did not stop in {STOP_SECONDS}s; "
                      f"still running: {[t.get_name() for t in stuck]}", file=sys.stderr)
                for task in stuck:
                    task.print_stack(file=sys.stderr)
        finally:  # (a stopped Application is never busy: the probe may stay until here)
            if self._probe is not None:
                self.fake.remove_idle_probe(self._probe)
                self._probe = None

    @staticmethod
    async def _stop_application(app) -> None:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        await app.post_shutdown(app)

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
    menus = app.bot_data.get("menus")
    if menus is not None and menus.busy:
        return "menus being set"
    services = app.bot_data.get("services")
    outbox = getattr(services, "outbox", None)
    if outbox is not None and outbox.forgetting:
        outbox.forget_now()  # a test need not wait for the batch (bot/delivery.py)
        return "delivered messages being forgotten"
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
    """`kiemdiem ARGS` in a child process; the event loop keeps serving the fake meanwhile.

    The environment is the test process's without BOT_TOKEN and DATABASE_URL, then `env`.
    The child is started by `spawn_module` (forked from a server that has the CLI's modules
    imported already)."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("BOT_TOKEN", "DATABASE_URL")}
    full_env.update(env)
    full_env["PYTHONPATH"] = str(ROOT)
    process = await spawn_module(
        "bot.cli", *args, env=full_env, cwd=cwd or ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(CLI_TIMEOUT):
            out, err = await process.communicate()
    finally:
        if process.returncode is None:  # timed out (or cancelled): the child dies with the test
            with contextlib.suppress(ProcessLookupError):
                process.kill()
    return CliResult(process.returncode, out.decode(), err.decode())


# --- child processes, forked from a server with the imports done (tests/e2e/cli_zygote.py) ------

FORK_ENV = "KIEMDIEM_TEST_CLI"  # "subprocess": every child a fresh interpreter instead


async def spawn_module(module: str, *args: str, env: dict[str, str], cwd: Path | str,
                       stdout=None, stderr=None):
    """`python -m MODULE ARGS` as a child process, like `asyncio.create_subprocess_exec`
    (stdout/stderr: None to inherit, asyncio.subprocess.PIPE, DEVNULL, STDOUT for stderr, a
    file object or descriptor); returns an object with the asyncio Process's `pid`,
    `returncode`, `stdout`, `stderr`, `wait()`, `communicate()`, `kill()`, `send_signal()`,
    `terminate()`. `env` is the child's whole environment. The child is forked from a server
    that imported the application once (no interpreter start, no imports: a second or more
    of CPU saved each time); KIEMDIEM_TEST_CLI=subprocess starts a fresh interpreter."""
    server = await _fork_server()
    if server is None:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", module, *args, env=env, cwd=str(cwd),
            stdout=stdout, stderr=stderr, stdin=asyncio.subprocess.DEVNULL)
    process = ForkedProcess()
    await process._start(server, module, list(args), env, str(cwd), stdout, stderr)
    return process


class ForkedProcess:
    """A child of the fork server, as the test sees it (the asyncio Process surface it uses)."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.returncode: int | None = None
        self.stdout: asyncio.StreamReader | None = None
        self.stderr: asyncio.StreamReader | None = None
        self._exited: asyncio.Future | None = None
        self._status: asyncio.Task | None = None

    @staticmethod
    def _target(spec, mine: list[int], theirs: list[int], *, allow_stdout: bool = False) -> int:
        if spec is None:
            return -1  # inherit: filled in by the caller
        if spec == asyncio.subprocess.PIPE:
            read, write = os.pipe()
            mine.append(read)
            theirs.append(write)
            return write
        if spec == asyncio.subprocess.DEVNULL:
            fd = os.open(os.devnull, os.O_RDWR)
            theirs.append(fd)
            return fd
        if spec == asyncio.subprocess.STDOUT and allow_stdout:
            return -2
        if isinstance(spec, int):
            return spec
        return spec.fileno()

    async def _start(self, server: str, module: str, args: list[str], env: dict[str, str],
                     cwd: str, stdout, stderr) -> None:
        loop = asyncio.get_running_loop()
        mine: list[int] = []  # read ends kept here
        theirs: list[int] = []  # descriptors made for the child, closed once it has them
        try:
            stdin_fd = os.open(os.devnull, os.O_RDONLY)
            theirs.append(stdin_fd)
            out_fd = self._target(stdout, mine, theirs)
            err_fd = self._target(stderr, mine, theirs, allow_stdout=True)
            out_fd = 1 if out_fd == -1 else out_fd
            err_fd = out_fd if err_fd == -2 else (2 if err_fd == -1 else err_fd)
            body = json.dumps({"module": module, "args": args, "env": env,
                               "cwd": cwd}).encode()
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(server)
                socket.send_fds(sock, [len(body).to_bytes(8, "big")], [stdin_fd, out_fd, err_fd])
                sock.sendall(body)
            except BaseException:
                sock.close()
                raise
        except BaseException:
            for fd in mine:
                os.close(fd)
            raise
        finally:
            for fd in theirs:
                os.close(fd)
        readers = iter(mine)
        if stdout == asyncio.subprocess.PIPE:
            self.stdout = await self._reader(loop, next(readers))
        if stderr == asyncio.subprocess.PIPE:
            self.stderr = await self._reader(loop, next(readers))
        sock.setblocking(False)
        status, writer = await asyncio.open_unix_connection(sock=sock)
        line = await status.readline()
        if not line.startswith(b"pid "):
            writer.close()
            raise RuntimeError(f"the fork server answered {line!r}")
        self.pid = int(line.split()[1])
        self._exited = loop.create_future()
        self._status = asyncio.create_task(self._watch(status, writer))

    @staticmethod
    async def _reader(loop, fd: int) -> asyncio.StreamReader:
        reader = asyncio.StreamReader(limit=2**24)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                     os.fdopen(fd, "rb", 0))
        return reader

    async def _watch(self, status: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await status.readline()
            if not line.startswith(b"exit "):
                raise RuntimeError(f"the fork server answered {line!r}")
            self.returncode = int(line.split()[1])
            if not self._exited.done():
                self._exited.set_result(self.returncode)
        except BaseException as error:
            if not self._exited.done():
                self._exited.set_exception(error)
            raise
        finally:
            writer.close()

    async def wait(self) -> int:
        return await asyncio.shield(self._exited)

    async def communicate(self) -> tuple[bytes | None, bytes | None]:
        async def read(stream):
            return None if stream is None else await stream.read()

        out, err = await asyncio.gather(read(self.stdout), read(self.stderr))
        await self.wait()
        return out, err

    def send_signal(self, signum: int) -> None:
        if self.returncode is None and self.pid is not None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


class _ForkServer:
    """This session's fork server: started by `start_fork_server` (without waiting for it to
    be ready: it imports the application meanwhile), stopped at exit."""

    def __init__(self) -> None:
        self.directory = tempfile.mkdtemp(prefix="kiemdiem-fork-")
        self.path = os.path.join(self.directory, "fork.sock")
        env = {k: v for k, v in os.environ.items() if k not in ("BOT_TOKEN", "DATABASE_URL")}
        env["PYTHONPATH"] = str(ROOT)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.e2e.cli_zygote", self.path], cwd=str(ROOT), env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        )
        self.ready = threading.Event()
        self.failed = False
        threading.Thread(target=self._await_ready, name="fork-server", daemon=True).start()
        atexit.register(self.stop)

    def _await_ready(self) -> None:
        line = self.process.stdout.readline() if self.process.stdout is not None else b""
        self.failed = line.strip() != b"ready"
        self.ready.set()

    async def socket_path(self) -> str:
        if not self.ready.is_set():
            await asyncio.to_thread(self.ready.wait, 300)
        if self.failed or not self.ready.is_set():
            raise RuntimeError("the fork server (tests/e2e/cli_zygote.py) did not start")
        return self.path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.directory, ignore_errors=True)


_fork_servers: list[_ForkServer] = []
_fork_lock = threading.Lock()


def forking_available() -> bool:
    return (hasattr(os, "fork") and hasattr(socket, "send_fds")
            and os.environ.get(FORK_ENV, "").strip().lower() != "subprocess")


def start_fork_server() -> None:
    """Start the session's fork server if it is not running (it gets ready in the background)."""
    if not forking_available():
        return
    with _fork_lock:
        if not _fork_servers:
            _fork_servers.append(_ForkServer())


async def _fork_server() -> str | None:
    """The socket of this session's fork server (None where it cannot run)."""
    if not forking_available():
        return None
    start_fork_server()
    return await _fork_servers[0].socket_path()


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
