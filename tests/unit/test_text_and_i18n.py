import datetime as dt
import re

import pytest

from bot.i18n import Translator
from bot.i18n import locale_for
from bot.text import TELEGRAM_TEXT_LIMIT
from bot.text import esc
from bot.text import split_message


def test_short_text_is_one_chunk():
    assert split_message("Xin chào") == ["Xin chào"]


def test_long_text_splits_at_lines_then_words_never_mid_word():
    words = ["kiểm", "điểm", "đảng", "viên"] * 800  # about 15,000 characters
    text = "\n".join(" ".join(words[i : i + 40]) for i in range(0, len(words), 40))
    chunks = split_message(text)
    assert len(chunks) > 1
    assert all(len(c.encode("utf-16-le")) // 2 <= TELEGRAM_TEXT_LIMIT for c in chunks)
    assert " ".join(" ".join(chunks).split()) == " ".join(words)
    for chunk in chunks:
        assert set(chunk.split()) <= {"kiểm", "điểm", "đảng", "viên"}


def test_one_huge_line_splits_between_words():
    text = " ".join(["Hoàn thành tốt nhiệm vụ"] * 600)
    chunks = split_message(text)
    assert all(len(c) <= TELEGRAM_TEXT_LIMIT for c in chunks)
    assert all(not c.startswith(" ") and c.split()[0] in {"Hoàn", "thành", "tốt", "nhiệm", "vụ"} for c in chunks)


def test_emoji_count_as_two_utf16_units():
    text = "👍" * 3000  # 6000 UTF-16 units in one "word"
    chunks = split_message(text)
    assert all(len(c.encode("utf-16-le")) // 2 <= TELEGRAM_TEXT_LIMIT for c in chunks)
    assert "".join(chunks) == text


@pytest.mark.parametrize(
    ("language_code", "chosen", "expected"),
    [("en", None, "en"), ("en-GB", None, "en"), ("vi", None, "vi"), ("fr", None, "vi"), (None, None, "vi"),
     ("en", "vi", "vi"), ("vi", "en", "en")],
)
def test_locale_follows_telegram_until_chosen(language_code, chosen, expected):
    assert locale_for(language_code, chosen, "vi") == expected


def test_translations_and_formats():
    vi, en = Translator("vi"), Translator("en")
    assert vi("Choose your language:") == "Chọn ngôn ngữ:"
    assert en("Choose your language:") == "Choose your language:"
    assert vi("Hello, comrade {name}!", name="An") == "Xin chào đồng chí An!"
    assert vi.date(dt.date(2026, 12, 3)) == "03/12/2026"
    assert en.date(dt.date(2026, 12, 3)) == "3 Dec 2026"
    assert vi.number(12345.5) == "12.345,5"
    assert en.number(12345.5) == "12,345.5"
    saigon = Translator("vi", dt.timezone(dt.timedelta(hours=7)))
    assert saigon.datetime(dt.datetime(2026, 12, 3, 2, 5, tzinfo=dt.UTC)) == "09:05 03/12/2026"


def test_a_word_cut_in_pieces_never_splits_an_html_entity_or_tag():
    # Found by the fuzz: a 5,000-character code of "&lt;/b&gt;" was cut into "&g" + "t;".
    for word in (esc("</b>" * 1000), "&amp;" * 1500, "x" * 2046 + "<br/>" + "y" * 3000):
        parts = split_message(f"Mã {word} không có.")
        assert "".join(parts).replace(" ", "") == f"Mã{word}khôngcó."
        for part in parts:
            assert len(part) <= 4096
            assert not re.search(r"&[a-z#0-9]*$", part), part[-12:]
            assert not re.search(r"<[^>]*$", part), part[-12:]
