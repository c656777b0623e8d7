"""The meeting calendar (/lich_hop), without Telegram."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot.callbacks import InvalidButton
from bot.i18n import Translator
from handlers.views import meeting
from handlers.views.meeting import CalendarLabel
from handlers.views.meeting import MeetingButton

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def datas(keyboard) -> list[str]:
    return [b.callback_data for row in keyboard.inline_keyboard for b in row]


def test_calendar_offers_only_days_in_range():
    t = Translator("vi", TZ)
    first, last = dt.date(2026, 11, 21), dt.date(2026, 12, 31)
    keyboard = meeting.calendar_keyboard(t, 3, dt.date(2026, 11, 1), first, last)
    days = [MeetingButton.decode(d) for d in datas(keyboard) if d.startswith("lh1:")]
    pressable = [b.day.day for b in days if b.action == "d"]
    assert pressable == list(range(21, 31))
    assert [b.day for b in days if b.action == "m"] == [dt.date(2026, 12, 1)]
    labels = [d for d in datas(keyboard) if d.startswith("lhx1:")]
    assert labels and all(CalendarLabel.decode(d) == CalendarLabel() for d in labels)


def test_times_of_a_day_and_forged_presses():
    t = Translator("vi", TZ)
    text, keyboard = meeting.times_screen(t, 3, dt.date(2026, 12, 5))
    assert "05/12/2026" in text
    times = [MeetingButton.decode(d) for d in datas(keyboard)]
    assert MeetingButton("t", 3, dt.date(2026, 12, 5), "0800") in times
    assert times[-1] == MeetingButton("m", 3, dt.date(2026, 12, 1))
    for forged in ("lh1:d:3:20261340:", "lh1:d:²:20261205:", "lh:d:3:20261205", "lh1:q:3:20261205:"):
        with pytest.raises(InvalidButton):
            MeetingButton.decode(forged)
