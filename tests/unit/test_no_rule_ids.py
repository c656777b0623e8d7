"""Rule ids such as "(R-B3)" are for code and tests: no translation shown to a user has one
(issue 10 item 5), neither written out nor through the ``{rules}`` placeholder, and the
command line's help names none."""

import argparse
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.cli import main
from bot.cli import parser
from bot.i18n import Translator
from rules.levels import Level
from rules.quotas import check_quota
from rules.rulebooks import rulebook

ROOT = Path(__file__).resolve().parents[2]
CATALOGS = sorted((ROOT / "locales").glob("*/LC_MESSAGES/*.po"))
RULE_ID = re.compile(r"\bR-[A-Z][0-9]")


def test_every_catalog_is_checked():
    assert {p.stem for p in CATALOGS} >= {"kiemdiem", "rules", "ballot", "plans", "status"}
    assert {p.parts[-3] for p in CATALOGS} == {"vi", "en"}


@pytest.mark.parametrize("path", CATALOGS, ids=lambda p: f"{p.parts[-3]}/{p.stem}")
def test_no_msgstr_names_a_rule_id(path):
    with path.open("rb") as fh:
        catalog = read_po(fh)
    found = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in strings:
            if RULE_ID.search(text) or "{rules}" in text:
                found.append(text)
    assert found == []


@pytest.mark.parametrize("locale", ["vi", "en"])
def test_a_rendered_breach_names_no_rule(locale):
    proposals = {f"m{i}": Level.HTXS if i < 3 else Level.HTT for i in range(12)}
    [found] = check_quota(proposals, rulebook("hd21-2019"))
    assert found.rule_ids  # the ids stay on the breach, for code and tests
    text = found.render(Translator(locale).gettext)
    assert "HTXS" in text and not RULE_ID.search(text) and "()" not in text


def _command_paths(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """Every command of the CLI, as the words that name it ((), ("run",), ("cycle", "create")…)."""
    yield path
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _command_paths(sub, (*path, name))


def _names_a_rule(text: str) -> bool:
    # argparse wraps help at hyphens too: "(R-" at the end of one line, "D5)" on the next.
    return bool(RULE_ID.search(re.sub(r"-\s+", "-", text)))


def test_a_rule_id_wrapped_by_argparse_is_still_found():
    assert _names_a_rule("deadlines (R-\n                        D5)")
    assert not _names_a_rule("Quy định 366-QĐ/TW (2025); hd21-2019 — Hướng dẫn 21-HD/BTCTW")


@pytest.mark.parametrize("locale", ["vi", "en"])
def test_no_cli_help_names_a_rule_id(locale, capsys, monkeypatch, tmp_path):
    """`--help` of the CLI and of every subcommand, a new one included, in both languages."""
    monkeypatch.chdir(tmp_path)  # no developer's .env
    monkeypatch.setenv("BOT_DEFAULT_LOCALE", locale)
    paths = list(_command_paths(parser(Translator(locale))))
    assert ("cycle", "create") in paths and ("import-framework",) in paths and len(paths) > 10
    shown = {}
    for path in paths:
        with pytest.raises(SystemExit) as exit_:
            main([*path, "--help"])
        assert exit_.value.code == 0
        shown[" ".join(path)] = capsys.readouterr().out
    assert "kiemdiem cycle create" in shown["cycle create"]
    assert [command for command, text in shown.items() if _names_a_rule(text)] == []
