"""The sections of the self-review form (DOMAIN §6)."""

import gettext
import io
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from rules.forms import FORM_TITLES
from rules.review_form import CONTENT_HEADING
from rules.review_form import MAX_SECTION_CHARS
from rules.review_form import PART_TITLES
from rules.review_form import RATING_HEADING
from rules.review_form import Section
from rules.review_form import section_keys
from rules.review_form import sections_for

ROOT = Path(__file__).resolve().parents[2]
TAIL = ("shortcomings", "earlier_fixes", "prompts", "collective", "measures")


def translations(locale: str) -> gettext.GNUTranslations:
    with (ROOT / "locales" / locale / "LC_MESSAGES" / "rules.po").open("rb") as fh:
        catalog = read_po(fh, locale=locale, domain="rules")
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


VI = translations("vi")


def test_every_form_code_has_sections():
    assert set(FORM_TITLES) == {"02", "2A", "2B", "2C"}
    for code in FORM_TITLES:
        assert sections_for(code)
        assert all(isinstance(section, Section) for section in sections_for(code))


@pytest.mark.parametrize(
    ("code", "keys"),
    [
        ("2B", ("politics", "results", "commitment", *TAIL)),
        ("2C", ("politics", "results", "commitment", *TAIL)),
        ("2A", ("politics", "results", "commitment", "leadership", *TAIL)),
        ("02", ("politics", "results", "commitment", "leadership", *TAIL)),
    ],
)
def test_keys_in_form_order(code, keys):
    assert section_keys(code) == keys
    assert len(set(keys)) == len(keys)


def test_code_is_case_and_space_tolerant_and_unknown_raises():
    assert sections_for(" 2a ") == sections_for("2A")
    with pytest.raises(ValueError, match="9Z"):
        sections_for("9Z")


def test_optional_sections_are_iv_and_v_and_the_02_leaders_item():
    for code in ("2A", "2B", "2C"):
        optional = {s.key for s in sections_for(code) if s.optional}
        assert optional == {"prompts", "collective"}
    assert {s.key for s in sections_for("02") if s.optional} == {
        "prompts", "collective", "leadership"}


def test_parts_follow_the_form():
    parts = {s.key: s.part for s in sections_for("2A")}
    assert parts == {
        "politics": "I", "results": "I", "commitment": "I", "leadership": "I",
        "shortcomings": "II", "earlier_fixes": "III", "prompts": "IV", "collective": "V",
        "measures": "VI"}
    assert set(PART_TITLES) == {"I"}


def test_2c_results_speak_of_the_chi_bo():
    results_2b = dict(zip(section_keys("2B"), sections_for("2B"), strict=True))["results"]
    results_2c = dict(zip(section_keys("2C"), sections_for("2C"), strict=True))["results"]
    assert results_2c.heading != results_2b.heading
    assert "party cell" in results_2c.heading
    assert "chi bộ" in VI.gettext(results_2c.heading)


@pytest.mark.parametrize("code", ["02", "2A", "2B", "2C"])
def test_hints_are_two_to_five_lines(code):
    for section in sections_for(code):
        lines = section.hint.split("\n")
        assert 2 <= len(lines) <= 5, section.key
        assert all(line.strip() for line in lines), section.key
        assert len(VI.gettext(section.hint).split("\n")) == len(lines), section.key


def test_vietnamese_wording_is_official():
    headings = {s.key: VI.gettext(s.heading) for s in sections_for("2A")}
    assert headings["politics"] == (
        "I.1. Về tư tưởng chính trị; phẩm chất đạo đức, lối sống; ý thức tổ chức kỷ luật; "
        "tác phong, lề lối làm việc")
    assert headings["shortcomings"] == "II. Hạn chế, khuyết điểm và nguyên nhân"
    assert headings["earlier_fixes"] == (
        "III. Kết quả khắc phục những hạn chế, khuyết điểm đã được cấp có thẩm quyền kết luận "
        "hoặc được chỉ ra ở các kỳ kiểm điểm trước")
    assert headings["prompts"] == "IV. Giải trình những vấn đề được gợi ý kiểm điểm (nếu có)"
    assert headings["collective"] == (
        "V. Làm rõ trách nhiệm của cá nhân đối với những hạn chế, khuyết điểm của tập thể "
        "(nếu có)")
    assert headings["measures"] == "VI. Phương hướng, biện pháp khắc phục hạn chế, khuyết điểm"
    assert VI.gettext(PART_TITLES["I"]) == "I. Ưu điểm, kết quả đạt được"
    assert VI.gettext(CONTENT_HEADING) == "A. Nội dung kiểm điểm"
    assert VI.gettext(RATING_HEADING) == "B. Tự nhận mức xếp loại chất lượng"


def test_every_heading_and_hint_is_translated():
    for code in FORM_TITLES:
        for section in sections_for(code):
            for msgid in (section.heading, section.hint):
                assert VI.gettext(msgid) != msgid, msgid


def test_leaders_hint_covers_the_2a_items():
    [leadership] = [s for s in sections_for("2A") if s.key == "leadership"]
    hint = leadership.hint.lower()
    for item in ("unite", "daring", "controlling power", "digital", "family", "corruption",
                 "confidence"):
        assert item in hint


def test_max_section_chars():
    assert MAX_SECTION_CHARS == 20_000
