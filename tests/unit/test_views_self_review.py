"""The self-review's screens, rendered without Telegram or a database."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from bot.i18n import Translator
from bot.services.copycheck import CopyFlag
from bot.services.reviews import LEVEL
from bot.services.reviews import PREVIEW
from bot.services.reviews import SCORE_GENERAL
from bot.services.reviews import ReviewSetting
from handlers.views import self_review as views
from handlers.views.self_review import ReviewButton
from rules.caps import AllowedLevels
from rules.eligibility import Eligibility
from rules.levels import Level
from rules.review_form import sections_for
from rules.rulebooks import rulebook
from rules.scoring import Score
from storage.models import Cycle
from storage.models import Member
from storage.models import SelfReview

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def setting(*, rated: bool = True, due: dt.date | None = dt.date(2026, 12, 2)) -> ReviewSetting:
    member = Member(id=7, code="DV002", full_name="Trần Thị <Bình>", org_id=3)
    cycle = Cycle(id=1, year=2026)
    return ReviewSetting(
        member=member,
        cycle=cycle,
        rulebook=rulebook("qd366-2025"),
        form_code="2B",
        sections=sections_for("2B"),
        eligibility=Eligibility(reviewed=True, rated=rated),
        meeting=None,
        due=due,
    )


def review(**values) -> SelfReview:
    defaults = dict(id=5, stage="politics", reached_preview=False, state="drafting", late=False)
    return SelfReview(**{**defaults, **values})


def datas(keyboard) -> list[ReviewButton]:
    return [ReviewButton.decode(b.callback_data) for row in keyboard.inline_keyboard for b in row]


def test_section_prompt_counts_the_part_and_offers_its_buttons():
    t = Translator("vi", TZ)
    s = setting()
    text, keyboard = views.section_prompt(t, s, review(), "politics", 0)
    assert text.startswith(f"Phần 1/{len(s.sections)}")
    assert [b.action for b in datas(keyboard)] == ["done", "show", "undo"]
    assert {b.arg for b in datas(keyboard)} == {"politics"}
    # Later parts go back; once the preview was reached, they lead back to it too.
    second = s.sections[1].key
    text, keyboard = views.section_prompt(t, s, review(reached_preview=True), second, 1234)
    assert "1.234" in text
    assert ReviewButton("goto", PREVIEW) in datas(keyboard)
    assert ReviewButton("back", second) in datas(keyboard)


def test_levels_prompt_shows_only_the_allowed_levels_and_the_total():
    t = Translator("en", TZ)
    allowed = AllowedLevels(levels=(Level.HTT, Level.HT), explanations=())
    text, keyboard = views.levels_prompt(t, review(stage=LEVEL), allowed, Score(25, 57))
    assert "82/100" in text
    assert [b.arg for b in datas(keyboard) if b.action == "lvl"] == ["HTT", "HT"]


def test_the_review_text_escapes_what_the_member_wrote():
    t = Translator("vi", TZ)
    s = setting()
    r = review(stage=PREVIEW, general_score=25, task_score=57, proposed_level="HTT")
    text = views.review_text(t, s, r, {"politics": "Tôi <b>gương mẫu</b> & đúng hạn"})
    assert "Trần Thị &lt;Bình&gt;" in text
    assert "Tôi &lt;b&gt;gương mẫu&lt;/b&gt; &amp; đúng hạn" in text
    assert "82/100" in text and "HTT" in text
    unrated = views.review_text(t, setting(rated=False), r, {})
    assert "HTT" not in unrated


def test_preview_has_an_edit_button_per_part_and_submit():
    t = Translator("vi", TZ)
    s = setting()
    _, keyboard = views.preview_screen(t, s, review(stage=PREVIEW, reached_preview=True), {})
    pressed = datas(keyboard)
    assert [b.arg for b in pressed if b.action == "goto"] == [
        *[section.key for section in s.sections], SCORE_GENERAL, LEVEL
    ]
    assert ReviewButton("submit") in pressed and ReviewButton("docx") in pressed
    for row in keyboard.inline_keyboard:
        for b in row:
            assert len(b.text) <= 45


def test_submit_question_warns_of_copies_without_naming_anyone():
    t = Translator("vi", TZ)
    s = setting()
    flag = CopyFlag(section_key="politics", source="review", other_review_id=9, score=91.6)
    text, keyboard = views.submit_question(t, s, [flag])
    assert "92%" in text and "9" not in text.replace("92%", "")
    assert [b.action for b in datas(keyboard)] == ["cancel", "confirm"]
    text, keyboard = views.submit_question(t, s, [])
    assert "02/12/2026" in text


def test_due_line_without_a_meeting_says_how_many_days_before():
    t = Translator("en", TZ)
    assert "3 days" in views.due_line(t, setting(due=None))


def test_buttons_round_trip_and_fit():
    for button in (ReviewButton("lvl", "HTXS"), ReviewButton("goto", "earlier_fixes"), ReviewButton("view")):
        data = button.encode()
        assert len(data.encode()) <= 64 and ReviewButton.decode(data) == button
