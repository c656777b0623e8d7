"""Issue 10: the handlers' layer holds no SQL and no database access of its own.

`handlers/` and `conversations/` parse updates, call services and render views; queries and
writes live in `bot/services/` (passing `turn.session` to a service is the way)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYER = ["handlers", "conversations"]
SQL = re.compile(
    r"^\s*(from|import) sqlalchemy(?!\.ext\.asyncio import AsyncSession$)"
    r"|\bselect\(|\bsession\.(get|scalar|scalars|execute|add|add_all|delete|flush|merge|stream)\("
)


def test_no_sql_in_the_handlers_layer():
    found = []
    for folder in LAYER:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if SQL.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "SQL in the handlers' layer:\n" + "\n".join(found)
