"""The chart's third panel (issue 14): the subtree's units by subject, their decided levels."""

from __future__ import annotations

import struct
from collections import Counter
from collections import defaultdict

from bot.i18n import Translator
from bot.services.report import draw_chart
from bot.services.report import unit_chart_rows
from bot.services.status import Figures
from bot.services.status import Status
from bot.services.unit_rating_status import NOT_RATED
from bot.services.unit_rating_status import PROPOSED
from bot.services.unit_rating_status import TO_RATE
from bot.services.unit_rating_status import UnitFigures


def png_height(png: bytes) -> int:
    assert png.startswith(b"\x89PNG")
    return struct.unpack(">II", png[16:24])[1]


def status_with(units: UnitFigures | None) -> Status:
    return Status(org=None, cycle=None, cycle_ids=[], total=Figures(), children=[], breaches=[],
                  finish_by_passed=False, units=units)


def test_unit_rows_by_subject_and_none_without_units():
    by_subject = defaultdict(Counter)
    by_subject["organisation"].update({TO_RATE: 6, "HTT": 1, "HT": 1, PROPOSED: 3})
    by_subject["committee"].update({TO_RATE: 1, NOT_RATED: 1})
    units = UnitFigures(to_rate=7, reviews=6, by_subject=by_subject)
    rows = unit_chart_rows(status_with(units))
    assert rows == [("organisation", {TO_RATE: 6, "HTT": 1, "HT": 1, PROPOSED: 3}),
                    ("committee", {TO_RATE: 1, NOT_RATED: 1})]
    assert unit_chart_rows(status_with(None)) == []
    assert unit_chart_rows(status_with(UnitFigures())) == []


def test_the_units_panel_adds_height():
    t = Translator("vi")
    rows = [("CB1", Figures(members=5, to_review=5, submitted=3))]
    units = [("organisation", {TO_RATE: 6, "HTT": 1, PROPOSED: 3})]
    without, with_units = draw_chart(rows, "X", t), draw_chart(rows, "X", t, units)
    assert png_height(with_units) > png_height(without)
