"""Rule ids such as "(R-B3)" are for code and tests: no translation shown to a user has one
(issue 10 item 5), neither written out nor through the ``{rules}`` placeholder."""

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

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
