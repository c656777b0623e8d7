"""bot/callbacks.py: button fields and typed numbers are read as untrusted input (issue 12)."""

import datetime as dt

import pytest

from bot.callbacks import INVALID_BUTTON
from bot.callbacks import InvalidButton
from bot.callbacks import ascii_int
from bot.callbacks import parse_choice
from bot.callbacks import parse_date
from bot.callbacks import parse_datetime
from bot.callbacks import parse_int
from bot.callbacks import split_fields
from bot.callbacks import typed_int

# str.isdigit() says yes to every one of these, and int() rejects or misreads them.
OTHER_DIGITS = ["²", "¹", "٣", "१२", "１２", "2⁰²⁶", "٢٠٢٦", "𝟗"]


@pytest.mark.parametrize("text", OTHER_DIGITS + ["", " ", "-1", "+3", "1.5", "1e9", "12 13", "x"])
def test_only_ascii_digits_are_numbers(text):
    assert ascii_int(text) is None
    with pytest.raises(InvalidButton):
        parse_int(text)


def test_numbers_have_a_length_cap_and_a_range():
    assert ascii_int("42") == 42 and ascii_int(" 42 ") == 42
    assert ascii_int("9" * 12) == 999_999_999_999
    assert ascii_int("9" * 13) is None and ascii_int("18446744073709551616") is None
    assert parse_int("7", high=7) == 7
    for bad in ("8", "9" * 13, "18446744073709551616", " 7"):
        with pytest.raises(InvalidButton):
            parse_int(bad, high=7)
    assert typed_int("2026", 2025, 2027) == 2026
    for bad in ("0", "10000", "18446744073709551616", "٢٠٢٦", "2024", "9" * 4000):
        assert typed_int(bad, 2025, 2027) is None


def test_dates_must_exist_and_be_written_in_ascii():
    assert parse_date("20261205") == dt.date(2026, 12, 5)
    assert parse_date("2026-12", "%Y-%m") == dt.date(2026, 12, 1)
    assert parse_datetime("202612050800", "%Y%m%d%H%M") == dt.datetime(2026, 12, 5, 8, 0)
    for bad in ("20261340", "20260230", "99999999", "", "２０２６１２０５", "٢٠٢٦١٢٠٥", "2026120"):
        with pytest.raises(InvalidButton):
            parse_date(bad)
    with pytest.raises(InvalidButton):
        parse_datetime("202612052599", "%Y%m%d%H%M")


def test_choices_and_fields():
    assert parse_choice("ok", ("ok", "no")) == "ok"
    with pytest.raises(InvalidButton):
        parse_choice("OK", ("ok", "no"))
    assert split_fields("tt:o:12:0", "tt:", 3) == ["o", "12", "0"]
    for data in ("tt:o:12", "tt:o:12:0:1", "xx:o:12:0"):
        with pytest.raises(InvalidButton):
            split_fields(data, "tt:", 3)
    assert InvalidButton().msgid == INVALID_BUTTON == "This button is no longer valid."
