"""Issue 10: the handlers' layer holds no SQL and no database access of its own.

`handlers/` and `conversations/` parse updates, call services and render views; queries and
writes live in `bot/services/` (passing `turn.session` to a service is the way)."""

from __future__ import annotations

import ast
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


# The one place a permission is checked is the declared edge: `turn_handler(action=, target=)`
# (handlers/base.py, `act_on`) and a flow step's `Step(action=, target=)`, applied by the engine.
PERMISSION_CHECKERS = {"handlers/base.py", "conversations/engine.py"}


def _permission_calls(path: Path, root: Path = ROOT) -> list[str]:
    """Calls of `<x>.require(...)` or `allowed(...)` / `<x>.allowed(...)` in a module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if (isinstance(func, ast.Attribute) and name == "require") or name == "allowed":
            found.append(f"{path.relative_to(root)}:{node.lineno}: {ast.unparse(node)[:80]}")
    return found


def test_no_permission_is_checked_by_hand_in_the_handlers_layer():
    found = []
    for folder in LAYER:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.relative_to(ROOT).as_posix() not in PERMISSION_CHECKERS:
                found += _permission_calls(path)
    assert not found, "permissions checked outside the declared edge:\n" + "\n".join(found)


def test_the_permission_check_finder_finds_them(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "turn.require(Action.DECIDE, org)\n"
        "if allowed(grants, action, path): pass\n"
        "permissions.allowed(g, a, p)\n"
        "turn.require_member()\n"
        "turn.may(Action.DECIDE, org)\n",
        encoding="utf-8",
    )
    found = _permission_calls(sample, tmp_path)
    assert [line.split(":")[1] for line in found] == ["1", "2", "3"]
