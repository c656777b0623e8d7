"""A fork server for the end-to-end tests' child processes (`harness.spawn_module`, used by
`run_cli`, the crash tests' bot and the ballot caster): `python -m MODULE ARGS` as a real child
process, without paying for a Python start and the application's imports (a second or more
of CPU each, and the suite starts a few hundred).

The server is started once per test session, imports what the children import, and forks for
each request. The process it forks (the "runner") forks once more: the grandchild takes the
standard streams the caller passed (pipes, over the socket), the requested environment
(exactly, nothing inherited) and working directory, and runs MODULE as `python -m MODULE`
would (`runpy`, as `__main__`; its exit status from `SystemExit`, 1 and a traceback for an
uncaught exception); the runner reports the grandchild's pid, then its exit status. So each
child still has its own process, pid, environment, streams, signals and exit code; only the
interpreter and the modules imported when the server started are shared.

Usage (by harness.spawn_module only): python -m tests.e2e.cli_zygote SOCKET_PATH
Protocol: an 8-byte length with three file descriptors (stdin, stdout, stderr) attached, then
that many bytes of JSON {"module", "args", "env", "cwd"}; answers "pid N" and "exit N" lines
(N < 0: killed by signal -N).
"""

from __future__ import annotations

import gc
import json
import os
import select
import signal
import socket
import sys
import traceback

# What the children import, loaded once in the server (never an event loop, a thread or a
# connection: the process forks).
PRELOAD = (
    "bot.cli", "bot.app", "bot.roster", "bot.services.invite_sheet", "bot.services.roster_import",
    "storage.db", "storage.models", "alembic.command", "alembic.runtime.migration",
    "openpyxl", "aiosqlite", "asyncpg", "sqlalchemy.ext.asyncio", "sqlalchemy.dialects.postgresql",
    "sqlalchemy.dialects.sqlite", "telegram", "telegram.ext", "httpx", "tests.e2e.ballot_caster",
)


def _preload() -> None:
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:  # a module that is gone: the child imports what it needs
            pass


def _exec_module(request: dict, fds: list[int]) -> None:
    """In the grandchild: become `python -m MODULE ARGS` and never return."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        for fd in set(fds):
            if fd > 2:
                os.close(fd)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        sys.path[0] = request["cwd"]  # as `python -m` puts the working directory first
        sys.argv = [request["module"], *request["args"]]  # runpy sets argv[0] to the file
        import runpy

        try:
            runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as stop:
            if stop.code is None:
                code = 0
            elif isinstance(stop.code, int):
                code = stop.code
            else:
                print(stop.code, file=sys.stderr)
                code = 1
        except KeyboardInterrupt:
            traceback.print_exc()
            code = 130
        except BaseException:
            traceback.print_exc()
            code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code & 0xFF)


def _receive(conn: socket.socket) -> tuple[dict, list[int]]:
    header, fds, _flags, _addr = socket.recv_fds(conn, 8, 3)
    while len(header) < 8:
        more = conn.recv(8 - len(header))
        if not more:
            raise EOFError("the request was cut")
        header += more
    size = int.from_bytes(header, "big")
    body = b""
    while len(body) < size:
        more = conn.recv(min(1 << 20, size - len(body)))
        if not more:
            raise EOFError("the request was cut")
        body += more
    if len(fds) != 3:
        raise ValueError(f"expected 3 file descriptors, got {len(fds)}")
    return json.loads(body), list(fds)


def _serve_one(conn: socket.socket) -> None:
    """In the runner: read the request, fork the child, report its pid and status. If the
    caller goes away (its end of the connection closes: the test process died or dropped the
    child), the child is killed rather than left running."""
    request, fds = _receive(conn)
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes the select below
    pid = os.fork()
    if pid == 0:
        signal.set_wakeup_fd(-1)
        for fd in (wake_read, wake_write):
            os.close(fd)
        conn.close()
        _exec_module(request, fds)
    for fd in fds:
        os.close(fd)
    conn.sendall(f"pid {pid}\n".encode())
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        readable, _, _ = select.select([conn, wake_read], [], [])
        if wake_read in readable:
            os.read(wake_read, 512)
        if conn in readable and not conn.recv(1):  # the caller is gone
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return
    code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    conn.sendall(f"exit {code}\n".encode())
    conn.close()


def main(path: str) -> None:
    parent = os.getppid()
    _preload()
    # The preloaded modules' objects go to the collector's permanent generation, as the gc
    # docs advise before fork(): else a child's first full collection walks them all, copying
    # every page it touches (0.3-0.4 s here), which delays a child's first work by a margin
    # that depends on how many objects the application happens to hold (test_ballot_kill
    # kills its caster within 0.1 s of "ready" and needs casts in between).
    gc.freeze()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # runners are reaped by the kernel
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(64)
    server.settimeout(1.0)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while True:
        try:
            conn, _ = server.accept()
        except TimeoutError:
            if os.getppid() != parent:  # the test session is gone: so are we
                return
            continue
        conn.settimeout(None)
        if os.fork() == 0:
            server.close()
            code = 0
            try:
                _serve_one(conn)
            except BaseException:
                traceback.print_exc()
                code = 1
            finally:
                os._exit(code)
        conn.close()


if __name__ == "__main__":
    main(sys.argv[1])
