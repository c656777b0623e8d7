"""The plan's and the checks' screens as pure functions (handlers/views/plan.py), and their
typed buttons."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.callbacks import InvalidButton
from bot.i18n import Translator
from bot.services import plans
from bot.services.checks import Lowerable
from bot.services.plans import INHERIT
from bot.services.plans import OWN
from bot.services.plans import Draft
from handlers.views import plan as views
from handlers.views.plan import LowerButton
from handlers.views.plan import PlanButton
from rules.levels import Level

T = Translator("vi")
EN = Translator("en")


def labels(markup):
    return [b.text for row in markup.inline_keyboard for b in row] if markup else []


def data(markup):
    return [b.callback_data for row in markup.inline_keyboard for b in row]


def own_draft(**values) -> Draft:
    return Draft(1, OWN, 2026, "hd21-2019", **values)


def test_year_screen_offers_three_years_and_escapes_the_name():
    text, markup = views.year_screen(T, "Chi bộ <A&B>", 2026)
    assert "Chi bộ &lt;A&amp;B&gt;" in text and "<A&B>" not in text
    assert labels(markup) == ["2025", "2026", "2027"]
    assert [PlanButton.decode(d) for d in data(markup)][1] == PlanButton("year", 2026)


def test_a_note_comes_first_then_the_question():
    note = views.bad_year(T, "<b>năm nay</b>", 2026)
    text, _ = views.year_screen(T, "Đảng ủy", 2026, note)
    assert text.startswith("❌ “&lt;b&gt;năm nay&lt;/b&gt;” không phải năm")
    assert text.index("Năm nào?") > text.index("❌")


def test_settings_mark_the_changed_values():
    text, markup = views.settings_screen(T, own_draft(overrides={"htxs_quota_percent": 15}))
    assert "đạt HTT: <b>15</b> ✏" in text and "(R-" not in text
    assert labels(markup)[0] == "✅ Giữ các giá trị này"
    assert f"✏ {len(plans.SETTINGS)}" in labels(markup)
    assert len(text) < 1200  # one phone screen


def test_setting_screen_hints_at_the_kind_of_value():
    text, markup = views.setting_screen(EN, own_draft(), "head_cap")
    assert "Type “có” (yes) or “không” (no)." in text and markup is None
    assert "A share is from 0 to 100." in views.bad_setting(EN, "htxs_quota_percent", "150")


def test_deadline_screen_counts_and_offers_to_keep():
    draft = own_draft(key=plans.REPORT_BY)
    text, markup = views.deadline_screen(T, draft, plans.REPORT_BY, dt.date(2027, 2, 20))
    assert text.startswith(f"Thời hạn 2/{len(draft.keys())}: ")
    assert labels(markup) == ["Giữ 20/02/2027"]
    assert PlanButton.decode(data(markup)[0]) == PlanButton("date")
    inherited = Draft(1, INHERIT, 2026, "hd21-2019", key=plans.FINISH_BY)
    text, _ = views.deadline_screen(T, inherited, plans.FINISH_BY, dt.date(2026, 12, 20))
    assert "không được muộn hơn" in text


def test_summary_lists_every_deadline_and_fits_a_phone():
    draft = own_draft(overrides={"htxs_quota_percent": 15})
    deadlines = plans.default_deadlines(draft.rules(), 2026)
    text, markup = views.summary_screen(T, draft, "Đảng ủy Phường Bến Thành", deadlines)
    for key in draft.keys():
        assert t_label(draft, key) in text
    assert labels(markup) == ["✅ Lưu kế hoạch"]
    assert "đạt HTT: <b>15</b> ✏" in text and "(R-" not in text
    assert "Miễn" not in text  # only what changed
    assert len(text) < 1200
    text, _ = views.summary_screen(EN, own_draft(), "Đảng ủy", deadlines)
    assert "Every setting as in the rulebook." in text
    inherited = Draft(1, INHERIT, 2026, "hd21-2019")
    text, _ = views.summary_screen(T, inherited, "Chi bộ", deadlines)
    assert "Áp dụng kế hoạch năm 2026 của cấp trên" in text and "đạt HTT" not in text


def t_label(draft: Draft, key: str) -> str:
    return T(plans.deadline_msgid(draft.rules(), key))


def test_lower_keyboard_and_the_level_choice():
    members = [Lowerable(7, 11, "Lê Văn <Cường>", "HTT")]
    markup = views.lower_keyboard(T, members, "bs:revote:3")
    assert labels(markup) == ["⬇ Hạ mức: Lê Văn <Cường> (HTT)",
                              "🗳 Bỏ phiếu lại cho các đồng chí liên quan"]
    assert LowerButton.decode(data(markup)[0]) == LowerButton("member", 7, 11)
    assert views.lower_keyboard(T, [], "bs:revote:3") is None
    text, markup = views.levels_screen(T, 7, 11, "Cường", Level.HTT)
    assert labels(markup) == ["HT", "KHT"]
    assert LowerButton.decode(data(markup)[1]) == LowerButton("level", 7, 11, Level.KHT)


def test_the_confirmation_shows_what_will_happen():
    text, markup = views.confirm_lower_screen(T, 7, 11, "Cường", "HTT", "HT", "Ốm <4 tháng>")
    assert "sẽ được hạ từ HTT xuống HT" in text and "Ốm &lt;4 tháng&gt;" in text
    assert labels(markup) == ["✅ Xác nhận"]
    assert LowerButton.decode(data(markup)[0]) == LowerButton("confirm", 7, 11)


def test_breaches_text_without_breaches():
    assert views.breaches_text(T, "Chi bộ <1>", []).startswith("✅ ")
    assert "&lt;1&gt;" in views.breaches_text(T, "Chi bộ <1>", [])


@pytest.mark.parametrize("forged", ["kh1:year:²⁰²⁶:", "kh1:fly::", "kh0:save::", "pc1:member:1:",
                                    "pc1:level:1:2:HTTT", "pc1:member:1:99999999999:"])
def test_forged_buttons_are_invalid(forged):
    cls = PlanButton if forged.startswith("kh") else LowerButton
    with pytest.raises(InvalidButton):
        cls.decode(forged)
