"""The screens of /tinh_trang, /bieu_do and /bao_cao (handlers/views/status.py), without
Telegram or a database."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from bot.i18n import Translator
from bot.services.status import Figures
from bot.services.status import Status
from bot.services.status import UnitBreach
from handlers.views import status as views
from storage.models import Cycle
from storage.models import Organisation

VI, EN = Translator("vi"), Translator("en")


@dataclass
class _Breach:
    text: str

    def render(self, gettext) -> str:
        return self.text


def _org(org_id: int, code: str, name: str) -> Organisation:
    return Organisation(id=org_id, code=code, name=name, kind="chi_bo", path=f"/1/{org_id}/")


def _status(children: int = 0, breaches: int = 0, *, cycle: bool = True, passed: bool = False):
    total = Figures(
        members=1234, to_review=1200, to_rate=1100, submitted=900, late=12, cells=40,
        meetings_held=30, meetings_scheduled=5, ballots_open=2, ballots_closed=28,
        proposed=Counter(HTXS=10, HTT=500), decided=Counter(HT=7), quota_breaches=breaches,
        deadline_breaches=3 if passed else 0,
    )
    kids = [(_org(100 + i, f"CB{i:02}", f"Chi bộ <{i}>"), Figures(submitted=i, to_review=9))
            for i in range(children)]
    plan = Cycle(id=1, year=2026, finish_by=dt.date(2026, 12, 31), report_by=dt.date(2027, 1, 15))
    return Status(
        org=_org(7, "DBCS1", "Đảng bộ <Xã>"),
        cycle=plan if cycle else None,
        cycle_ids=[1],
        total=total,
        children=kids,
        breaches=[UnitBreach(100, _Breach(f"vi phạm <{i}>")) for i in range(breaches)],
        finish_by_passed=passed,
        breach_count=breaches,
    )


def test_the_full_screen_shows_figures_levels_and_breaches_escaped():
    text = views.full_text(VI, _status(breaches=2), 0)
    assert text.startswith("<b>") and "Đảng bộ &lt;Xã&gt;" in text
    assert "👥 Đảng viên: 1.234; phải kiểm điểm: 1.200; được xếp loại: 1.100" in text
    assert "📝 Bản tự kiểm điểm: đã nộp 900 (nộp muộn 12); chưa nộp 300" in text
    assert "HTXS 10, HTT 500, HT 0, KHT 0" in text  # every level, highest first
    assert "   – vi phạm &lt;0&gt;" in text and "   – vi phạm &lt;1&gt;" in text
    english = views.full_text(EN, _status(), 0)
    assert "👥 Members: 1,234; to be reviewed: 1,200; to be rated: 1,100" in english
    assert "🗓 Meetings: held 30; scheduled 5; cells 40" in english
    assert "🗳 Ballots: open 2; closed 28" in english
    assert "⚠️ Breaches: quota 0; caps 0; deadline 0" in english


def test_breaches_beyond_the_screen_point_to_the_report():
    text = views.full_text(EN, _status(breaches=views.MAX_BREACH_LINES + 3), 0)
    assert text.count("   – vi phạm") == views.MAX_BREACH_LINES
    assert "and 3 more: see /bao_cao" in text
    passed = views.full_text(EN, _status(passed=True), 0)
    assert "3 members still without a decided level after the finish-by date" in passed


def test_units_are_listed_a_page_at_a_time():
    status = _status(children=45)
    assert views.page_count(status) == 3
    assert views.clamp_page(status, 7) == 2 and views.clamp_page(status, -1) == 0
    first = views.full_text(EN, status, 0)
    assert "Units under it (1–20 of 45):" in first
    assert "• <b>CB00</b> Chi bộ &lt;0&gt;: 📝 0/9" in first and "CB20" not in first
    last = views.full_text(EN, status, 2)
    assert "Units under it (41–45 of 45):" in last and "CB44" in last


def test_a_member_sees_only_the_progress_of_their_cell():
    text = views.progress_text(VI, _status(breaches=2))
    assert "👥 Đảng viên" in text and "🗳" in text
    assert "HTXS" not in text and "vi phạm" not in text  # no levels, no breaches, no units
    assert "No review plan covers this organisation yet." in views.progress_text(
        EN, _status(cycle=False))


def test_report_progress_says_when_it_waits_for_other_reports():
    org = _status().org
    assert views.report_progress(EN, org, waits=False) == "Preparing the report of Đảng bộ &lt;Xã&gt;…"
    assert views.report_progress(EN, org, waits=True).startswith(
        "Preparing the report of Đảng bộ &lt;Xã&gt;… Other reports are being prepared")


def test_the_keyboard_drills_down_pages_and_goes_up_with_typed_buttons():
    status = _status(children=25)
    parent = _org(1, "TINH", "Tỉnh")
    rows = views.keyboard(EN, status, 0, parent).inline_keyboard
    drill = [b for row in rows[:-2] for b in row]
    assert [b.text for b in drill][:2] == ["🔎 CB00", "🔎 CB01"] and len(drill) == views.PAGE_SIZE
    assert all(len(row) <= views.DRILL_BUTTONS_PER_ROW for row in rows[:-2])
    assert views.StatusButton.decode(drill[0].callback_data) == views.StatusButton(100, 0)
    [following] = rows[-2]
    assert following.text == "Next ▶️"
    assert views.StatusButton.decode(following.callback_data) == views.StatusButton(7, 1)
    up, chart, sheet = rows[-1]
    assert up.text == "⬆️ Up: TINH" and views.StatusButton.decode(up.callback_data).org_id == 1
    assert views.StatusFileButton.decode(chart.callback_data) == views.StatusFileButton("chart", 7)
    assert views.StatusFileButton.decode(sheet.callback_data) == views.StatusFileButton("sheet", 7)
    last = views.keyboard(VI, status, 1, None).inline_keyboard
    assert [b.text for b in last[-2]] == ["◀️ Trước"]
    assert [b.text for b in last[-1]] == ["📊 Biểu đồ", "📥 Báo cáo Excel"]  # no way up
