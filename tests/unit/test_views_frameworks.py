"""The screens of the criteria frameworks (handlers/views/frameworks.py), without Telegram or
a database."""

from __future__ import annotations

import datetime as dt

from bot.i18n import Translator
from bot.roster import RosterError
from bot.roster import RosterInvalid
from bot.services.frameworks import InEffect
from handlers.views import frameworks as views
from storage.models import CriteriaFramework
from storage.models import FrameworkCriterion
from storage.models import Organisation

VI, EN = Translator("vi"), Translator("en")
UNIT = Organisation(id=5, code="DBCS<1>", name="Đảng bộ <Xã>", kind="dang_bo_co_so", path="/1/5/")
OWNER = Organisation(id=1, code="TINH", name="Tỉnh & ủy", kind="dang_bo_tinh", path="/1/")


def _criterion(code: str, text: str, tenths: int) -> FrameworkCriterion:
    parent = code.rpartition(".")[0] or None
    return FrameworkCriterion(code=code, parent_code=parent, text=text, max_tenths=tenths,
                              kinds="chi_bo,dang_bo_co_so", guidance=None)


def test_the_template_message_names_the_unit_and_what_it_is_filled_with():
    empty = views.template_text(VI, UNIT, None)
    assert "<b>Đảng bộ &lt;Xã&gt;</b>" in empty and "DBCS&lt;1&gt;" in empty
    filled = views.template_text(EN, UNIT, (2026, "Tỉnh & ủy"))
    assert "filled in with the framework of 2026 loaded by Tỉnh &amp; ủy" in filled
    assert "«Khung tiêu chí»" in filled


def test_errors_are_listed_one_a_line_and_escaped():
    invalid = RosterInvalid([
        RosterError("", None, None, "The file has no sheet «{sheet}».", {"sheet": "<x>"}),
        RosterError("", None, None, "The file has no sheet «{sheet}».", {"sheet": "y"}),
    ])
    text = views.errors_text(EN, invalid)
    assert text.startswith("The framework has 2 errors; nothing was changed.")
    assert "• The file has no sheet «&lt;x&gt;»." in text.splitlines()


def test_the_preview_asks_to_load_or_cancel():
    text, keyboard = views.preview_screen(VI, UNIT, ["Năm: 2026", "a < b"], 42)
    assert "<b>Đảng bộ &lt;Xã&gt;</b>" in text and "a &lt; b" in text
    [[load, cancel]] = keyboard.inline_keyboard
    assert (load.text, cancel.text) == ("✅ Nạp khung", "✖ Hủy")
    assert load.callback_data != cancel.callback_data
    assert "Đảng bộ &lt;Xã&gt;" in views.loaded_text(VI, UNIT, ["x"])


def test_the_framework_in_use_is_indented_by_depth_with_its_points():
    framework = CriteriaFramework(id=3, org_id=OWNER.id, year=2026, filename="k.xlsx",
                                 loaded_by="cli")
    criteria = (
        _criterion("1", "Chính trị <tư tưởng>", 300),
        _criterion("1.1", "Học tập", 155),
        _criterion("1.2", "Rèn luyện", 145),
        _criterion("2", "Nhiệm vụ", 700),
    )
    found = InEffect(framework, OWNER, criteria)
    text = views.in_effect_text(EN, UNIT, found, dt.date(2026, 11, 2))
    lines = text.splitlines()
    assert "loaded by Tỉnh &amp; ủy on 2 Nov 2026" in lines[0] and "2026" in lines[0]
    assert "<b>1</b>. Chính trị &lt;tư tưởng&gt; (30 points)" in lines
    assert "    1.1. Học tập (15.5 points)" in lines
    assert lines[-1] == "Total: 100 points."
    own = InEffect(framework, UNIT, criteria)
    assert "loaded by itself" in views.in_effect_text(EN, UNIT, own, dt.date(2026, 11, 2))
    assert "Đảng bộ &lt;Xã&gt;" in views.none_in_effect_text(VI, UNIT)


def test_the_preview_buttons_are_typed_and_the_language_choice_too():
    from handlers.views.language import LanguageButton
    from handlers.views.language import language_keyboard

    _text, keyboard = views.preview_screen(EN, UNIT, [], 42)
    [[load, cancel]] = keyboard.inline_keyboard
    assert views.FrameworkButton.decode(load.callback_data) == views.FrameworkButton("apply", 42)
    assert views.FrameworkButton.decode(cancel.callback_data) == views.FrameworkButton("cancel", 42)
    [[vi, en]] = language_keyboard("en").inline_keyboard
    assert (vi.text, en.text) == ("Tiếng Việt", "✓ English")
    assert LanguageButton.decode(vi.callback_data) == LanguageButton("vi")
