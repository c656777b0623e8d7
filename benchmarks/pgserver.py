"""A throw-away PostgreSQL server for the benchmarks, made the way ``scripts/test.sh`` makes the
suite's: Debian's ``postgresql`` binaries, a cluster made by ``initdb`` in a temporary directory
(run as the ``postgres`` user when we are root), a free port of 127.0.0.1, removed at the end.
Unlike the suite's, it keeps ``fsync`` on: the figures are a real server's."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _bindir() -> Path:
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(folder, "initdb").exists() and Path(folder, "pg_ctl").exists():
            return Path(folder)
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).parent
    raise SystemExit("PostgreSQL is not installed: apt-get install postgresql (scripts/test.sh does)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def postgresql_server() -> Iterator[str]:
    """Yields an asyncpg URL of an empty database ``bench`` owned by the superuser."""
    bindir = _bindir()
    root = os.geteuid() == 0
    folder = Path(tempfile.mkdtemp(prefix="kiemdiem-bench-pg.", dir="/tmp" if root else None))
    run_as: list[str] = []
    if root:
        subprocess.run(["id", "postgres"], check=True, capture_output=True)
        shutil.chown(folder, "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    folder.chmod(0o700)
    data = folder / "data"
    port = _free_port()
    try:
        subprocess.run(
            [*run_as, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
             "--encoding=UTF8", "--locale=C"],
            check=True, capture_output=True,
        )
        subprocess.run(
            [*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"),
             "-w", "-t", "60", "-o",
             f"-p {port} -c listen_addresses=127.0.0.1 -k {folder} -c max_connections=100 "
             "-c shared_buffers=256MB",
             "start"],
            check=True, capture_output=True,
        )
        subprocess.run(
            [*run_as, str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U",
             "postgres", "bench"],
            check=True, capture_output=True,
        )
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/bench"
    finally:
        subprocess.run(
            [*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)
