"""The meeting's order, the score sheet and the secretary's scoring screen, without Telegram:
quick marks, one button per criterion within Telegram's limits, names escaped, both languages."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from bot.callbacks import CALLBACK_LIMIT
from bot.callbacks import InvalidButton
from bot.i18n import Translator
from bot.services.unit_scoring import MemberSheet
from bot.services.unit_scoring import Scoring
from bot.services.unit_scoring import SheetView
from handlers.views import unit_scoring as views
from handlers.views.unit_meeting import OrderButton
from handlers.views.unit_meeting import subject_label
from handlers.views.unit_scoring import ScoringButton
from handlers.views.unit_scoring import SheetButton
from handlers.views.unit_scoring import quick_values
from rules.org_scoring import Criterion
from rules.org_scoring import Framework
from rules.rulebooks import rulebook
from storage.models import ScoreAdjustment
from storage.models import UnitSubject

VI, EN = Translator("vi"), Translator("en")


def _framework(leaves: int) -> Framework:
    """One criterion of 100 points in `leaves` sub-criteria with long codes."""
    each = 1000 // leaves
    criteria = [Criterion("9", "Tiêu chí <chung>", each * leaves, frozenset({"cell"}))]
    criteria += [Criterion(f"9.{i}.a.b.c", f"Nội dung {i} & <kèm theo>", each, frozenset({"cell"}),
                           "9") for i in range(1, leaves + 1)]
    return Framework(tuple(criteria))


def _view(leaves: int = 24, *, draft: bool = True, submitted: bool = False) -> SheetView:
    framework = _framework(leaves)
    marks = {c.code: c.max_tenths - 5 for c in framework.leaves()} if draft else {}
    org = SimpleNamespace(id=1, name="Chi bộ <Số 1> & Cộng sự", kind="cell")
    meeting = SimpleNamespace(id=123456)
    scoring = Scoring(org, SimpleNamespace(year=2026), rulebook("hd21-2019"),
                      SimpleNamespace(id=9, combined_tenths=None), framework, True,
                      meeting=meeting, collectives_done=True, draft=marks)
    sheet = SimpleNamespace(id=987654321, submitted_at=dt.datetime(2026, 12, 5) if submitted else None)
    mine = MemberSheet(SimpleNamespace(id=5, full_name="Nguyễn Văn An"), sheet, dict(marks))
    scoring.sheets = [mine]
    return SheetView(scoring, mine)


def _datas(markup) -> list[str]:
    return [b.callback_data for row in markup.inline_keyboard for b in row]


@pytest.mark.parametrize(
    ("most", "offered"),
    [(100, [100, 95, 90, 85, 80, 70, 50, 0]), (50, [50, 45, 40, 35, 30, 20, 0]),
     (25, [25, 20, 15, 10, 5, 0]), (5, [5, 0])],
)
def test_quick_marks_from_the_maximum_down(most, offered):
    assert quick_values(most) == offered


def test_a_sheet_of_twenty_four_criteria_fits_a_phone():
    view = _view()
    for t in (VI, EN):
        text = views.sheet_text(t, view)
        markup = views.sheet_keyboard(t, view)
        assert len(text) < 4096 and "<Số 1>" not in text and "&lt;Số 1&gt;" in text
        buttons = [b for row in markup.inline_keyboard for b in row]
        assert len(buttons) == 25 and all(len(row) <= views.CRITERIA_PER_ROW
                                         for row in markup.inline_keyboard)
        assert all(len(d.encode()) <= CALLBACK_LIMIT for d in _datas(markup))
    assert VI("✅ Agree with the draft, submit") in views.sheet_keyboard(VI, view).inline_keyboard[-1][0].text
    decoded = SheetButton.decode(_datas(views.sheet_keyboard(VI, view))[0])
    assert decoded == SheetButton("crit", 987654321, "9.1.a.b.c")


def test_a_large_framework_still_fits_one_message():
    view = _view(80)
    text = views.sheet_text(VI, view)
    assert len(text) < 4096 and "9.80.a.b.c" in text
    buttons = [b for row in views.sheet_keyboard(VI, view).inline_keyboard for b in row]
    assert len(buttons) == 81


def test_an_empty_sheet_asks_for_every_criterion_and_a_changed_one_shows_the_draft():
    empty = _view(4, draft=False)
    assert "Còn phải chấm: 9.1.a.b.c, 9.2.a.b.c, 9.3.a.b.c, 9.4.a.b.c." in views.sheet_text(VI, empty)
    assert views.sheet_keyboard(VI, empty).inline_keyboard[-1][0].text == "📨 Gửi phiếu"
    changed = _view(4)
    changed.mine.marks["9.2.a.b.c"] = 100
    assert "✏ (dự thảo: 24,5)" in views.sheet_text(VI, changed)
    done = _view(4, submitted=True)
    assert "Đã gửi." in views.sheet_text(VI, done)
    assert all(":" in b.text for b in views.sheet_keyboard(VI, done).inline_keyboard[-1])


def test_the_secretary_screen_lists_adjustments_with_their_buttons():
    view = _view(4)
    view.scoring.adjustments = [
        ScoreAdjustment(id=1, agreed=False, kind="addition", criterion="9", points_tenths=15,
                        reason="Mô hình <tốt>", responsible="Chi bộ"),
        ScoreAdjustment(id=2, agreed=True, kind="deduction", criterion="9.1.a.b.c",
                        shortfall_tenths=125, reason="Thiếu chỉ tiêu", responsible="Đồng chí A"),
    ]
    text = views.scoring_text(VI, view.scoring)
    assert "1. ☐ Cộng điểm, tiêu chí 9: +1,5 điểm (đề xuất, chưa thống nhất)" in text
    assert "2. ✅ Trừ điểm, tiêu chí 9.1.a.b.c: chỉ tiêu không đạt 12,5% → −1 điểm" in text
    assert "Mô hình &lt;tốt&gt;" in text
    assert "0/1 đã chấm" in text
    datas = _datas(views.scoring_keyboard(VI, view.scoring))
    assert ScoringButton("agree", 123456, 1).encode() in datas
    assert ScoringButton("drop", 123456, 2).encode() in datas
    assert OrderButton("show", 123456).encode() in datas


def test_collectives_are_named_and_forged_buttons_refused():
    assert subject_label(VI, "Đảng bộ X", UnitSubject.COMMITTEE) == "Tập thể cấp ủy Đảng bộ X"
    assert subject_label(EN, "Đảng bộ X", "committee") == "The committee of Đảng bộ X"
    assert subject_label(VI, "Chi bộ Y", "organisation") == "Chi bộ Y"
    for forged in ("uo1:done:1:nobody", "uk1:set:1:1.1:abc", "us1:burn:1:", "uk1:crit:1:a b:"):
        with pytest.raises(InvalidButton):
            (OrderButton if forged.startswith("uo") else
             SheetButton if forged.startswith("uk") else ScoringButton).decode(forged)
