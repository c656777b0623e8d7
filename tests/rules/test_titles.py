"""Every rule of DOMAIN.md has a title in words (rules/titles.py), in both languages, for where a
user reads which rules a breach concerns; the ids themselves never reach users."""

import re
from pathlib import Path

import pytest

from bot.i18n import Translator
from rules.levels import Level
from rules.quotas import check_quota
from rules.rulebooks import rulebook
from rules.titles import RULE_TITLES
from rules.titles import rule_titles

DOMAIN = Path(__file__).resolve().parents[3] / "shared" / "DOMAIN.md"
RULE_ID = re.compile(r"\bR-[A-Z][0-9]+\b")


def test_every_rule_of_the_domain_has_a_title():
    ids = set(RULE_ID.findall(DOMAIN.read_text(encoding="utf-8")))
    assert ids and ids <= set(RULE_TITLES), sorted(ids - set(RULE_TITLES))


@pytest.mark.parametrize("locale", ["vi", "en"])
def test_titles_are_words_in_both_languages(locale):
    t = Translator(locale)
    for msgid in RULE_TITLES.values():
        text = t.gettext(msgid)
        assert text and not RULE_ID.search(text)
    assert Translator("vi").gettext(RULE_TITLES["R-Q6"]) == "xếp loại lại khi vượt tỷ lệ"


def test_a_breach_gets_its_rules_once_each_in_order():
    proposals = {f"m{i}": Level.HTXS if i < 3 else Level.HTT for i in range(12)}
    [breach] = check_quota(proposals, rulebook("hd21-2019"))
    titles = rule_titles(breach.rule_ids + ("R-Q1", "R-Z9"))
    assert titles[0] == RULE_TITLES["R-Q1"] and len(titles) == len(set(titles))
    assert titles == [RULE_TITLES[r] for r in dict.fromkeys(breach.rule_ids)]
