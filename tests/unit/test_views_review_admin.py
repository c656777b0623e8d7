"""The secretary's self-review screens, without Telegram."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from bot.i18n import Translator
from bot.services.reviews import FlagView
from handlers.views import review_admin as views
from handlers.views.review_admin import CellReviewButton
from handlers.views.review_admin import ReturnButton
from storage.models import SelfReview
from tests.unit.test_views_self_review import setting

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
SUBMITTED = dt.datetime(2026, 11, 30, 3, 0, tzinfo=dt.UTC)


def datas(keyboard) -> list[str]:
    return [b.callback_data for row in keyboard.inline_keyboard for b in row]


def test_listing_counts_and_opens_only_what_was_handed_in():
    t = Translator("vi", TZ)
    s = setting()
    handed = SelfReview(id=11, state="submitted", submitted_at=SUBMITTED, late=True)
    drafting = SelfReview(id=12, state="drafting", late=False)
    rows = [
        views.MemberRow(s.member, s, handed, flagged=True),
        views.MemberRow(s.member, s, drafting, flagged=False),
        views.MemberRow(s.member, s, None, flagged=False),
    ]
    parts, keyboard = views.listing_screen(t, "Chi bộ <1>", 3, rows, TZ)
    assert len(parts) == 1
    text = parts[0]
    assert "Chi bộ &lt;1&gt;" in text
    assert "Đã nộp 1/3; nộp muộn 1; nghi sao chép 1." in text
    assert "đã nộp 30/11/2026, muộn" in text
    assert datas(keyboard) == [
        CellReviewButton("open", 11).encode(),
        CellReviewButton("all", 3).encode(),
    ]


def test_opened_review_offers_return_only_to_who_may():
    t = Translator("vi", TZ)
    handed = SelfReview(id=11, state="submitted", submitted_at=SUBMITTED, late=False)
    _, keyboard = views.opened_screen(t, "…", handed, [], may_return=True)
    assert datas(keyboard) == [ReturnButton("ask", 11).encode(), CellReviewButton("doc", 11).encode()]
    _, keyboard = views.opened_screen(t, "…", handed, [], may_return=False)
    assert datas(keyboard) == [CellReviewButton("doc", 11).encode()]


def test_flags_name_the_other_member_to_the_secretary():
    t = Translator("vi", TZ)
    lines = views.flag_lines(
        t, setting(), [FlagView("politics", "review", 93, "Lê <Văn> Cường"), FlagView("x", "hint", 80, None)]
    )
    assert "93%" in lines[0] and "Lê &lt;Văn&gt; Cường" in lines[0]
    assert "80%" in lines[1]


def test_the_return_is_confirmed_with_the_reason_shown():
    t = Translator("vi", TZ)
    text, keyboard = views.confirm_return(t, "Bình", "Chưa <cụ thể>", 11)
    assert "Chưa &lt;cụ thể&gt;" in text and "Bình" in text
    assert datas(keyboard) == [ReturnButton("ok", 11).encode()]
    assert [b.text for row in keyboard.inline_keyboard for b in row] == ["✅ Xác nhận"]


def test_a_large_cell_is_listed_in_parts_of_a_phone_screen():
    t = Translator("vi", TZ)
    s = setting()
    handed = SelfReview(id=11, state="submitted", submitted_at=SUBMITTED, late=False)
    rows = [views.MemberRow(s.member, s, handed, flagged=False) for _ in range(60)]
    parts, keyboard = views.listing_screen(t, "Chi bộ 1", 3, rows, TZ)
    assert len(parts) > 1 and all(len(part) <= views.SCREEN_LIMIT for part in parts)
    assert parts[0].startswith("Bản tự kiểm điểm của") and "Đã nộp 60/60" in parts[0]
    assert "\n".join(parts).count("Trần Thị &lt;Bình&gt;: đã nộp") == 60
    assert len(datas(keyboard)) == 61
