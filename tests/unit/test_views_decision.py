"""The views of decisions, re-rating, appeals and the roster preview: pure functions."""

from __future__ import annotations

import pytest

from bot.callbacks import InvalidButton
from bot.i18n import Translator
from bot.services.appeal import Outstanding
from bot.services.checks import RatedMember
from bot.services.decision import DecisionView
from handlers.views import appeal as appeal_views
from handlers.views import decision as views
from handlers.views import roster as roster_views
from handlers.views.appeal import AnswerButton
from handlers.views.appeal import AppealConfirm
from handlers.views.decision import DecideButton
from handlers.views.decision import DecisionConfirm
from handlers.views.roster import RosterButton
from rules.levels import Level
from storage.models import Cycle
from storage.models import Member
from storage.models import Organisation
from storage.models import Rating

VI, EN = Translator("vi"), Translator("en")


def _rated(code: str, name: str, level: str, cell_id: int = 7) -> RatedMember:
    member = Member(id=int(code[2:]), code=code, full_name=name, org_id=cell_id)
    rating = Rating(member_id=member.id, proposed_level=level, decided_level=level)
    return RatedMember(member, rating, Level(level), None)


def _view(proposals, decided=(), breaches=()) -> DecisionView:
    unit = Organisation(id=7, code="CB11", name="Chi bộ <Kỹ thuật>", kind="chi_bo", path="/1/7/")
    return DecisionView(unit, Cycle(id=3, year=2026), list(proposals), list(decided), list(breaches))


def test_view_lists_the_proposals_and_offers_to_decide():
    view = _view([_rated("DV101", "Nguyễn Văn An", "HTXS"), _rated("DV102", "Trần Thị Bình", "HT")])
    text = views.view_text(VI, view)
    assert "Chi bộ &lt;Kỹ thuật&gt;" in text  # the unit's name is escaped
    assert "• Nguyễn Văn An (DV101): HTXS" in text
    [[button]] = views.view_keyboard(VI, view).inline_keyboard
    assert button.text == "✅ Quyết định 2 mức xếp loại"
    assert DecideButton.decode(button.callback_data) == DecideButton("ok", 7)


def test_nothing_to_decide_has_no_button():
    view = _view([], decided=[_rated("DV101", "Nguyễn Văn An", "HTT")])
    assert views.view_keyboard(VI, view) is None
    assert views.view_text(EN, view).endswith("There is nothing to decide.")


def test_the_confirmations_say_what_will_happen():
    text = views.rerate_confirm_text(VI, "HTT", "Lê <b>Văn</b> Cường", 2026, "vi phạm & sai sót")
    assert "HTT" in text and "2026" in text and "sẽ bị hủy" in text
    assert "&lt;b&gt;Văn&lt;/b&gt;" in text and "vi phạm &amp; sai sót" in text
    assert "bí thư chi bộ sẽ được báo" in text
    view = _view([_rated("DV101", "Nguyễn Văn An", "HTXS")])
    override = views.override_confirm_text(EN, view, "allowed 25%")
    assert "despite the breaches" in override and "allowed 25%" in override
    [[confirm]] = views.confirm_keyboard(VI, "rerate").inline_keyboard
    assert confirm.text == "✅ Xác nhận"
    assert DecisionConfirm.decode(confirm.callback_data).flow == "rerate"


def test_prompts_do_not_send_people_to_help():
    prompts = [
        views.rerate_reason_prompt(VI, "HTT", "An", 2026),
        views.override_reason_prompt(VI, "CB11"),
        appeal_views.appeal_prompt(VI, 2026, "HT"),
        appeal_views.answer_prompt(VI, "An"),
    ]
    assert not any("/help" in prompt for prompt in prompts)


def test_buttons_refuse_forged_data():
    for button, data in ((DecideButton, "qd1:xx:7"), (DecideButton, "qd1:ok:٣"),
                         (AnswerButton, "kn1:a:99999999999999999999"),
                         (AppealConfirm, "knc1:other"), (RosterButton, "roster1:cancel:1"),
                         (DecisionConfirm, "qdc2:rerate")):
        with pytest.raises(InvalidButton):
            button.decode(data)
    assert AnswerButton.decode(AnswerButton("a", 12).encode()).appeal_id == 12


def test_a_long_appeal_is_cut_before_it_is_escaped():
    body = "<mức> & " * 800
    parts = appeal_views.long_parts("<b>Head</b>", body)
    assert len(parts) >= 2 and parts[0].startswith("<b>Head</b>\n\n&lt;mức&gt;")
    assert all("&amp" not in part[-4:] for part in parts)  # no escape cut in two


def test_results_list_the_years_and_the_htxs_runs():
    member = Member(code="DV101", full_name="Nguyễn Văn An")
    cell = Organisation(name="Chi bộ 1")
    text = appeal_views.results_text(
        VI, [(2025, "HTXS", "decided"), (2026, "HTT", "proposed")],
        [("Đảng bộ A", [Outstanding(member, cell, 2022, 2026)]), ("Đảng bộ B", [])],
    )
    assert "2025" in text and "HTXS" in text
    assert "• Nguyễn Văn An (DV101), Chi bộ 1: 2022–2026" in text
    assert text.splitlines()[-1] == VI("nobody")


def test_the_roster_preview_waits_for_apply():
    text, keyboard = roster_views.preview(VI, "Chi bộ <1>", ["Đảng viên thêm mới: 1"], 42)
    assert "Chi bộ &lt;1&gt;" in text and "Đảng viên thêm mới: 1" in text
    [[apply]] = keyboard.inline_keyboard
    assert RosterButton.decode(apply.callback_data) == RosterButton("apply", 42)
