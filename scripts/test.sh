#!/usr/bin/env bash
# Set up everything and run the whole test suite (lint, catalogs, unit and end-to-end tests) on
# SQLite and on a real PostgreSQL server that this script starts and stops itself.
#
#   scripts/test.sh [--db sqlite|postgresql|both] [pytest arguments...]
#
# --db picks the database(s) (default: both). PostgreSQL comes from Debian's `postgresql`
# package (installed with apt-get when missing, which needs root); its cluster lives in a
# temporary directory, listens on a free 127.0.0.1 port and is removed at the end, pass or fail.
set -euo pipefail

DB=both
PYTEST_ARGS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --db) DB="${2:-}"; shift 2 || { echo "--db needs sqlite, postgresql or both" >&2; exit 2; } ;;
        --db=*) DB="${1#--db=}"; shift ;;
        *) PYTEST_ARGS+=("$1"); shift ;;
    esac
done
case "$DB" in
    sqlite | postgresql | both) ;;
    postgres | pg) DB=postgresql ;;
    *) echo "--db must be sqlite, postgresql or both, not '$DB'" >&2; exit 2 ;;
esac

KIEMDIEM_EXTRAS="[test]"
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
.venv/bin/ruff check .
.venv/bin/python scripts/catalogs.py check

pg_bindir() {
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then echo "$dir"; return 0; fi
    done
    if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v pg_ctl)"
        return 0
    fi
    return 1
}

PG_DIR=""
PG_BIN=""
PG_AS=()
stop_postgresql() {
    if [ -n "$PG_DIR" ] && [ -d "$PG_DIR" ]; then
        "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
        rm -rf "$PG_DIR"
    fi
}

start_postgresql() {
    if ! PG_BIN="$(pg_bindir)"; then
        if [ "$(id -u)" -ne 0 ]; then
            echo "PostgreSQL is not installed: apt-get install postgresql (as root), or run --db sqlite" >&2
            return 1
        fi
        echo "Installing PostgreSQL (Debian package postgresql)..." >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null
        apt-get install -y -qq --no-install-recommends postgresql >/dev/null
        PG_BIN="$(pg_bindir)"
    fi
    # (Under /tmp when root: the postgres user must reach it, and $TMPDIR may be private.)
    PG_DIR="$(mktemp -d "$([ "$(id -u)" -eq 0 ] && echo /tmp || echo "${TMPDIR:-/tmp}")/kiemdiem-pg.XXXXXX")"
    # initdb and postgres refuse to run as root: as root, run the server as the unprivileged
    # `postgres` user that the Debian package creates (created here if it is missing); anyone
    # else runs it as themselves.
    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
        chown postgres "$PG_DIR"
        PG_AS=(runuser -u postgres --)
    else
        PG_AS=(env)
    fi
    chmod 700 "$PG_DIR"
    "${PG_AS[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust \
        --encoding=UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 ||
        "${PG_AS[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust \
            --encoding=UTF8 --locale=C >"$PG_DIR/initdb.log" 2>&1 ||
        { cat "$PG_DIR/initdb.log" >&2; return 1; }
    local port
    port="$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    # A throw-away server: durability off for speed; the socket directory is the cluster's own.
    "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
        -o "-p $port -c listen_addresses=127.0.0.1 -k $PG_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null || { cat "$PG_DIR/server.log" >&2; return 1; }
    export KIEMDIEM_PG_ADMIN_URL="postgresql://postgres@127.0.0.1:$port/postgres"
    echo "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port ($PG_DIR)" >&2
}

run_sqlite() {
    env -u KIEMDIEM_PG_ADMIN_URL KIEMDIEM_TEST_DB=sqlite .venv/bin/python -m pytest -q "${PYTEST_ARGS[@]}"
}
run_postgresql() {
    KIEMDIEM_TEST_DB=postgresql .venv/bin/python -m pytest -q "${PYTEST_ARGS[@]}"
}

status=0
case "$DB" in
    sqlite)
        echo "== tests on SQLite" >&2
        run_sqlite || status=$?
        ;;
    postgresql)
        trap stop_postgresql EXIT
        trap 'exit 130' INT TERM
        start_postgresql
        echo "== tests on PostgreSQL" >&2
        run_postgresql || status=$?
        ;;
    both)
        # Side by side: most of the end-to-end tests wait on the fake Bot API rather than use
        # the CPU, so the two runs share the two cores well. Each run's output is shown whole
        # once it is done.
        trap stop_postgresql EXIT
        trap 'exit 130' INT TERM
        start_postgresql
        LOGS="$(mktemp -d)"
        echo "== tests on SQLite and on PostgreSQL, side by side" >&2
        run_sqlite >"$LOGS/sqlite.log" 2>&1 &
        sqlite_pid=$!
        pg_status=0
        run_postgresql >"$LOGS/postgresql.log" 2>&1 || pg_status=$?
        sqlite_status=0
        wait "$sqlite_pid" || sqlite_status=$?
        echo "SQLite: exit $sqlite_status; PostgreSQL: exit $pg_status"
        echo "== tests on SQLite"
        cat "$LOGS/sqlite.log"
        echo "== tests on PostgreSQL"
        cat "$LOGS/postgresql.log"
        rm -rf "$LOGS"
        [ "$sqlite_status" -eq 0 ] || status=$sqlite_status
        [ "$pg_status" -eq 0 ] || status=$pg_status
        ;;
esac
exit "$status"
