"""The meeting-date screens (/lich_hop) as pure functions: the calendar, the times, the result."""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Literal

from babel.dates import get_day_names
from telegram import InlineKeyboardButton
from telegram import InlineKeyboardMarkup

from bot.callbacks import ButtonData
from bot.i18n import Translator
from bot.text import esc

TIMES = ("07:30", "08:00", "08:30", "09:00", "13:30", "14:00", "14:30", "19:30")
EXAMPLE = "05/12/2026 08:00"


class MeetingButton(ButtonData, prefix="lh"):
    """A press on the calendar: another month ("m", `day` its first day), a day ("d"), or a
    time of that day ("t", `time` as HHMM)."""

    action: Literal["m", "d", "t"]
    cell_id: int
    day: dt.date
    time: str = ""


class CalendarLabel(ButtonData, prefix="lhx"):
    """A calendar cell that is only a label (a weekday, a day out of range): answered, no more."""

    kind: Literal["x"] = "x"


def _label(text: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=CalendarLabel().encode())


def _press(text: str, *fields) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=MeetingButton(*fields).encode())


def calendar_keyboard(
    t: Translator, cell_id: int, month: dt.date, first: dt.date, last: dt.date
) -> InlineKeyboardMarkup:
    """A month of day buttons; days outside [first, last] are shown but not pressable."""
    previous_month = (month - dt.timedelta(days=1)).replace(day=1)
    next_month = (month + dt.timedelta(days=32)).replace(day=1)
    nav = [
        _press("«", "m", cell_id, previous_month)
        if previous_month >= first.replace(day=1)
        else _label("·"),
        _label(t("{month}/{year}", month=month.month, year=month.year)),
        _press("»", "m", cell_id, next_month) if next_month <= last else _label("·"),
    ]
    names = get_day_names("short", locale=t.locale)
    rows = [nav, [_label(names[i]) for i in range(7)]]
    for week in calendar.Calendar(firstweekday=0).monthdatescalendar(month.year, month.month):
        row = []
        for day in week:
            if day.month == month.month and first <= day <= last:
                row.append(_press(str(day.day), "d", cell_id, day))
            else:
                row.append(_label("·"))
        rows.append(row)
    return InlineKeyboardMarkup(rows)


def calendar_text(
    t: Translator, cell_name: str, year: int, scheduled: dt.datetime | None, last: dt.date
) -> str:
    lines = [t("Meeting of {cell} for the {year} review.", cell=f"<b>{esc(cell_name)}</b>", year=year)]
    if scheduled:
        lines.append(t("Now set for {when}.", when=t.datetime(scheduled)))
    lines.append(
        t(
            "Choose the day, or type the date and time like {example}. It must be by {last}.",
            example=EXAMPLE,
            last=t.date(last),
        )
    )
    return "\n".join(lines)


def times_screen(t: Translator, cell_id: int, day: dt.date) -> tuple[str, InlineKeyboardMarkup]:
    """The times to choose from on `day`, and the way back to the calendar."""
    rows = [
        [_press(hm, "t", cell_id, day, hm.replace(":", "")) for hm in TIMES[i : i + 4]]
        for i in range(0, len(TIMES), 4)
    ]
    rows.append([_press(t("◀ Another day"), "m", cell_id, day.replace(day=1))])
    text = t(
        "Meeting on {date}: choose the time, or type it like {example}.",
        date=t.date(day),
        example=f"{day:%d/%m/%Y} 08:00",
    )
    return text, InlineKeyboardMarkup(rows)


def saved_text(t: Translator, cell_name: str, when: dt.datetime, due: dt.date) -> str:
    return t(
        "The meeting of {cell} is set for {when}. Self-reviews are due by {due}.",
        cell=f"<b>{esc(cell_name)}</b>",
        when=t.datetime(when),
        due=t.date(due),
    )
