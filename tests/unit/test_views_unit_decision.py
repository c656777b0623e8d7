"""Issue 14, part C: the views of the decision on units and of /y_kien (pure functions), the
buttons' data, and what the policy gives a representative: their body's opinion and nothing else
(no action, no status, no menu command of a role)."""

from __future__ import annotations

import pytest

from bot.callbacks import InvalidButton
from bot.i18n import Translator
from bot.permissions import POLICY
from bot.permissions import REPRESENTATIVES
from bot.permissions import Action
from bot.permissions import Grant
from bot.services.accounts import Identity
from bot.services.unit_decision import RatedUnit
from bot.services.unit_decision import UnitDecisionView
from bot.services.unit_opinion import OpenReview
from handlers.commands import commands_for
from handlers.commands import help_lines
from handlers.views import unit_decision as views
from handlers.views import unit_opinion as opinion_views
from handlers.views.unit_decision import UnitDecideButton
from handlers.views.unit_decision import UnitLowerButton
from handlers.views.unit_opinion import OpinionButton
from rules.breaches import breach
from rules.levels import Level
from storage.models import Cycle
from storage.models import Member
from storage.models import Organisation
from storage.models import ParticipantBody
from storage.models import ParticipantOpinion
from storage.models import RoleKind
from storage.models import UnitRating
from storage.models import UnitReview

VI, EN = Translator("vi"), Translator("en")
DECIDER = Organisation(id=2, code="DB", name="Đảng bộ <Thủy lợi>", kind="grassroots", path="/1/2/")


def _unit(org_id: int, name: str, level: str | None, *, subject="organisation", opinions=()):
    org = Organisation(id=org_id, code=f"CB{org_id}", name=name, kind="cell", path=f"/1/2/{org_id}/")
    review = UnitReview(id=org_id * 10, org_id=org_id, subject=subject)
    rating = UnitRating(id=org_id * 100, review_id=review.id, state="proposed",
                        proposed_level=level, score_tenths=925, not_rated=False)
    return RatedUnit(review, org, rating, tuple(opinions))


def _view(proposals, breaches=()) -> UnitDecisionView:
    return UnitDecisionView(DECIDER, DECIDER, Cycle(id=3, year=2026), list(proposals), [], [],
                            list(breaches))


def test_view_lists_proposals_scores_and_opinions():
    opinion = ParticipantOpinion(body="front", level=None, text="Tốt <lắm> & gương mẫu")
    view = _view([_unit(5, "Chi bộ Thôn <An>", "HTXS", opinions=[opinion]),
                  _unit(6, "Chi bộ Kỹ thuật", "HT")])
    text = views.view_text(VI, view)
    assert "Đảng bộ &lt;Thủy lợi&gt;" in text
    assert "• Chi bộ Thôn &lt;An&gt;: <b>HTXS</b>, 92,5 điểm" in text
    assert "◦ Ủy ban Mặt trận Tổ quốc Việt Nam (không đề xuất mức): <i>Tốt &lt;lắm&gt; &amp; gương mẫu</i>" in text
    assert "92.5 points" in views.view_text(EN, view)
    rows = views.view_keyboard(VI, view).inline_keyboard
    assert [b.text for row in rows for b in row] == [
        "⬇ Hạ mức: Chi bộ Thôn <An>", "⬇ Hạ mức: Chi bộ Kỹ thuật",
        "✅ Quyết định xếp loại 2 tổ chức, tập thể"]
    assert UnitDecideButton.decode(rows[-1][0].callback_data) == UnitDecideButton("ok", 2, 2)


def test_blocked_view_offers_the_override_and_committees_are_named():
    found = breach("quota.org_share", ("R-Q7",), "{count} organisations", count=3)
    view = _view([_unit(5, "Đảng bộ Xã", "HTXS", subject="committee")], [found])
    text = views.view_text(VI, view)
    assert "• Tập thể cấp ủy Đảng bộ Xã: <b>HTXS</b>" in text and "⛔" in text
    assert views.view_keyboard(VI, view).inline_keyboard[-1][0].text == "✍️ Vẫn quyết định, ghi lý do"


def test_lowering_screens_offer_lower_levels_only():
    unit = _unit(5, "Chi bộ A", "HTT")
    text, markup = views.levels_screen(VI, unit)
    assert [b.text for row in markup.inline_keyboard for b in row] == [
        "HT (Hoàn thành nhiệm vụ)", "KHT (Không hoàn thành nhiệm vụ)"]
    data = markup.inline_keyboard[0][0].callback_data
    assert UnitLowerButton.decode(data) == UnitLowerButton("level", 500, Level.HT)
    with pytest.raises(InvalidButton):
        UnitLowerButton.decode(data.replace(":HT", ":XX"))


def test_opinion_screens_and_buttons():
    org = Organisation(id=5, code="CB5", name="Chi bộ <Thôn>", kind="cell", path="/1/2/5/")
    item = OpenReview(UnitReview(id=50, org_id=5, subject="organisation"), org,
                      (ParticipantBody.LEADERSHIP, ParticipantBody.MASS_ORGS))
    text, markup = opinion_views.bodies_screen(VI, item)
    assert "Chi bộ &lt;Thôn&gt;" in text
    assert [row[0].text for row in markup.inline_keyboard] == [
        "Tập thể lãnh đạo cơ quan, đơn vị", "Các đoàn thể chính trị - xã hội"]
    assert OpinionButton.decode(markup.inline_keyboard[1][0].callback_data) == OpinionButton(
        "body", 50, "mass_orgs")
    text, markup = opinion_views.level_screen(EN, item, ParticipantBody.MASS_ORGS, None)
    assert text.startswith("Mass organisations on <b>Chi bộ &lt;Thôn&gt;</b>")
    assert markup.inline_keyboard[-1][0].text == "No level proposed"
    for row in markup.inline_keyboard:  # every button's data fits Telegram's 64 bytes
        assert len(row[0].callback_data.encode()) <= 64


def _identity(*roles: RoleKind) -> Identity:
    member = Member(id=1, code="R1", full_name="Hoàng Văn Tư", org_id=5)
    grants = tuple(Grant(role=r, org_id=2, org_path="/1/2/", org_code="DB", org_is_cell=False,
                         org_decides=True) for r in roles)
    return Identity(member, grants)


def test_representatives_hold_their_opinion_and_nothing_else():
    for action, roles in POLICY.items():
        if action is not Action.GIVE_OPINION:
            assert not roles & REPRESENTATIVES, action
    assert REPRESENTATIVES <= POLICY[Action.GIVE_OPINION]
    member_only = {spec.name for spec in commands_for(_identity())}
    for role in REPRESENTATIVES:
        names = {spec.name for spec in commands_for(_identity(role))}
        assert names == member_only | {"y_kien"}, role
    lines = help_lines(VI, _identity(RoleKind.REP_COUNCIL))
    assert any(line.startswith("/y_kien") for line in lines)
    office = {spec.name for spec in commands_for(_identity(RoleKind.ORGANISING_OFFICE))}
    assert "y_kien" in office


def test_help_lines_of_decisions_and_appeals_name_organisations_too():
    """/quyet_dinh, /xep_loai_lai and /khieu_nai serve units as well as members (issue 14,
    part C): their /help lines say so, in both languages."""
    for t, words in ((VI, "tổ chức đảng"), (EN, "organisation")):
        lines = {line.split()[0]: line for line in help_lines(t, _identity(RoleKind.SECRETARY))}
        for command in ("/quyet_dinh", "/xep_loai_lai", "/khieu_nai"):
            assert words in lines[command], (command, lines[command])
    member = {line.split()[0]: line for line in help_lines(VI, _identity())}
    assert "/quyet_dinh" not in member and "mã tổ chức" in member["/khieu_nai"]


def test_decided_notice_and_summary():
    text = views.decided_notice(VI, "Đảng bộ <X>", "Chi bộ A", 2026, None)
    assert "chỉ kiểm điểm, không xếp loại" in text and "Đảng bộ &lt;X&gt;" in text
    assert views.points(VI, None) == "" and views.points(EN, 700) == "70 points"
