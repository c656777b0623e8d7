"""Every msgid marked with N_ in rules/ is in both catalogs of the ``rules`` domain."""

import gettext
import io
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from rules.levels import Level
from rules.quotas import check_quota
from rules.rulebooks import rulebook

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ("vi", "en")


def extracted() -> set[str]:
    found = extract_from_dir(str(ROOT / "rules"), keywords={"N_": None})
    return {msgid for _file, _line, msgid, _comments, _context in found}


def catalog(locale: str):
    path = ROOT / "locales" / locale / "LC_MESSAGES" / "rules.po"
    with path.open("rb") as fh:
        return read_po(fh, locale=locale, domain="rules")


def fields(text: str) -> set[str]:
    return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name}


MSGIDS = extracted()


def test_msgids_are_extracted():
    assert len(MSGIDS) > 50
    assert "{count} members proposed HTXS, at most {limit}: {percent}% of {base} members " \
           "reaching HTT ({rules})" in MSGIDS


@pytest.mark.parametrize("locale", LOCALES)
def test_catalog_complete_and_clean(locale):
    cat = catalog(locale)
    assert cat.locale.language == locale
    assert cat.charset.lower() == "utf-8"
    assert not cat.fuzzy
    entries = {m.id: m for m in cat if m.id}
    assert set(entries) == MSGIDS  # nothing missing, nothing obsolete
    for msgid, message in entries.items():
        assert message.string, f"empty msgstr for {msgid!r}"
        assert not message.fuzzy, msgid
        # "({rules})" names rule ids for developers and tests; users never see it.
        assert fields(message.string) == fields(msgid) - {"rules"}, msgid
        if fields(msgid):
            assert "python-brace-format" in message.flags, msgid


def test_vi_plural_forms():
    assert catalog("vi").plural_forms == "nplurals=1; plural=0;"


def test_vi_breach_renders_through_gettext():
    buf = io.BytesIO()
    write_mo(buf, catalog("vi"))
    buf.seek(0)
    vi = gettext.GNUTranslations(buf)
    proposals = {f"m{i}": Level.HTXS if i < 3 else Level.HTT for i in range(12)}
    [found] = check_quota(proposals, rulebook("hd21-2019"))
    assert found.render(vi.gettext) == (
        "3 đảng viên được đề xuất HTXS, tối đa 2: 20% của 12 đảng viên đạt HTT")
    assert vi.gettext(Level.HTXS.name_msgid) == "Hoàn thành xuất sắc nhiệm vụ"
    assert vi.gettext(Level.HTT.legacy_org_msgid) == "Trong sạch, vững mạnh"
