"""Issue 14, part A: the screens of a unit review's draft, as pure functions (no Telegram, no
database): what the head sees at each state, the sheet and a criterion's mark, the adjustments,
the draft as the participants receive it, the meeting screens' lines; in both languages, every
button's data within Telegram's 64 bytes and read back by its codec."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from bot.i18n import Translator
from bot.services.prompts import Prompt
from bot.services.unit_review import Draft
from bot.services.unit_review import MeetingNeeds
from handlers.views import unit_review as views
from handlers.views.unit_review import DraftButton
from handlers.views.unit_review import UnitButton
from rules.org_scoring import Criterion
from rules.org_scoring import Framework
from rules.rulebooks import rulebook
from storage.models import Cycle
from storage.models import Organisation
from storage.models import ScoreAdjustment
from storage.models import ScoreMark
from storage.models import UnitReview

TZ = dt.timezone(dt.timedelta(hours=7))
VI, EN = Translator("vi", TZ), Translator("en", TZ)
KINDS = frozenset({"cell"})
FRAMEWORK = Framework((
    Criterion("1", "Giáo dục chính trị, tư tưởng", 200, KINDS),
    Criterion("1.1", "Tổ chức học tập, quán triệt nghị quyết", 100, KINDS, "1",
              "Đủ 100% đảng viên tham gia: 10 điểm."),
    Criterion("1.2", "Nắm bắt tư tưởng <đảng viên>", 100, KINDS, "1"),
    Criterion("2", "Lãnh đạo thực hiện nhiệm vụ chính trị", 800, KINDS),
))


def _draft(state="drafting", *, marks=None, adjustments=(), file=None, prompts=(),
           texts=None, rated=True, framework=FRAMEWORK, circulated_on=None) -> Draft:
    review = UnitReview(id=7, cycle_id=1, org_id=3, subject="organisation", state=state,
                        report_docx=file, report_filename="bao-cao.docx" if file else None,
                        circulated_at=dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)
                        if circulated_on else None)
    return Draft(
        review=review,
        org=Organisation(id=3, code="CB01", name="Chi bộ <Phòng> Kỹ thuật", kind="cell", path="/1/3/"),
        cycle=Cycle(id=1, year=2026, rulebook="hd21-2019"),
        rulebook=rulebook("hd21-2019"),
        meeting_at=dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC),
        draft_due=dt.date(2026, 11, 26),
        prompted=bool(prompts),
        rated=rated,
        texts=texts or {},
        prompts=list(prompts),
        framework=framework,
        marks=marks or {},
        adjustments=list(adjustments),
        comments={"committee": 1},
        participants=3,
        circulated_on=circulated_on,
    )


def _mark(code, tenths, grade="good", result="Đạt"):
    return ScoreMark(sheet_id=1, criterion=code, tenths=tenths, grade=grade, result=result)


def _data(markup) -> list[str]:
    return [b.callback_data for row in markup.inline_keyboard for b in row if b.callback_data]


def _checked(markup) -> None:
    for data in _data(markup):
        assert len(data.encode()) <= 64, data
        for codec in (UnitButton, DraftButton, views.UnitPick):
            if data.startswith(codec.PREFIX + "1:"):
                assert codec.decode(data).encode() == data


def test_the_heads_screen_while_drafting():
    text, markup = views.head_screen(VI, _draft(marks={"1.1": _mark("1.1", 95)}))
    assert text.startswith("📋 Kiểm điểm <b>Chi bộ &lt;Phòng&gt; Kỹ thuật</b> (tổ chức đảng) "
                           "năm 2026")
    assert "Hội nghị: 08:00 01/12/2026." in text
    assert "Hội nghị kiểm điểm tối thiểu nửa ngày." in text
    assert "Dự thảo phải đến 3 đồng chí dự hội nghị chậm nhất ngày 26/11/2026." in text
    assert "📊 Dự kiến chấm điểm: đã chấm 1/3 tiêu chí." in text
    assert "Tạm tính: 9,5 điểm; còn 2 tiêu chí chưa chấm." in text
    assert "Còn phải viết: I, II, III, V." in text
    labels = [b.text for row in markup.inline_keyboard for b in row]
    assert labels == ["📝 Báo cáo", "📎 Tệp Word", "📊 Phiếu chấm điểm", "± Trừ, cộng điểm",
                      "💬 Góp ý (1)", "👥 Lấy ý kiến cấp ủy", "📤 Gửi dự thảo"]
    _checked(markup)
    english, _ = views.head_screen(EN, _draft())
    assert "The draft must reach the 3 participants by 26 Nov 2026." in english


def test_the_heads_screen_once_sent_and_once_reviewed():
    text, markup = views.head_screen(VI, _draft("circulated", circulated_on=dt.date(2026, 11, 27)))
    assert "Đã gửi dự thảo đến các đồng chí dự hội nghị lúc 09:00 20/11/2026. Gửi muộn: hạn là " \
           "ngày 26/11/2026." in text
    assert "📤 Gửi lại bản đã sửa" in [b.text for row in markup.inline_keyboard for b in row]
    text, markup = views.head_screen(VI, _draft("reviewed"))
    assert "Đã kiểm điểm tại hội nghị." in text
    assert [b.text for row in markup.inline_keyboard for b in row] == ["💬 Góp ý (1)"]


def test_not_rated_and_no_framework():
    text, markup = views.head_screen(VI, _draft(rated=False))
    assert "chỉ kiểm điểm, không xếp loại" in text
    assert "📊 Phiếu chấm điểm" not in [b.text for row in markup.inline_keyboard for b in row]
    text, _ = views.head_screen(VI, _draft(framework=None))
    assert "Chưa có khung tiêu chí áp dụng" in text


def test_the_sheet_and_a_criterions_mark():
    draft = _draft(marks={"1.1": _mark("1.1", 95, "excellent")})
    text, markup = views.sheet_screen(VI, draft)
    assert "✅ <b>1.1</b> Tổ chức học tập, quán triệt nghị quyết — 9,5/10 · Xuất sắc" in text
    assert "◻️ <b>1.2</b> Nắm bắt tư tưởng &lt;đảng viên&gt; — …/10" in text
    labels = [b.text for row in markup.inline_keyboard for b in row]
    assert labels[:3] == ["✅ 1.1", "◻️ 1.2", "◻️ 2"] and "▶ Chấm tiêu chí tiếp" in labels
    _checked(markup)
    text, markup = views.mark_prompt(VI, draft, FRAMEWORK.get("1.1"), "excellent", None)
    assert "Tiêu chí <b>1.1</b>: Tổ chức học tập" in text and "(tối đa 10 điểm)" in text
    assert "<i>Đủ 100% đảng viên tham gia: 10 điểm.</i>" in text
    assert "Hiện tại: 9,5/10 · Xuất sắc. Kết quả: Đạt" in text
    assert "ví dụ «9,5; đạt 95% kế hoạch, 19/20 chỉ tiêu»" in text
    labels = [b.text for row in markup.inline_keyboard for b in row]
    assert labels == ["✓ Xuất sắc", "Tốt", "Trung bình", "Kém", "⏭ Bỏ qua", "📊 Phiếu chấm điểm"]
    _checked(markup)
    text, _ = views.mark_prompt(EN, draft, FRAMEWORK.get("2"), None, 355)
    assert "35.5 points taken: now press the grade." in text


def test_a_sheet_of_thirty_criteria_fits():
    criteria = tuple(Criterion(f"{i}.{j}", "Tiêu chí " + "rất dài " * 20, 33, KINDS, str(i))
                     for i in range(1, 11) for j in range(1, 4))
    parents = tuple(Criterion(str(i), f"Nhóm {i}", 99, KINDS) for i in range(1, 11))
    draft = _draft(framework=Framework(parents + criteria))
    text, markup = views.sheet_screen(VI, draft)
    assert len(_data(markup)) == 30 + 3 and text.count("…") >= 30
    _checked(markup)


def test_adjustments_and_the_draft_as_sent():
    adjustments = [
        ScoreAdjustment(id=5, kind="deduction", criterion="2", shortfall_tenths=120,
                        reason="Thu ngân sách đạt 88%", responsible="Chi ủy"),
        ScoreAdjustment(id=6, kind="addition", criterion="1.1", points_tenths=15,
                        reason="Mô hình dân vận khéo", responsible="Chi bộ"),
    ]
    marks = {c: _mark(c, t) for c, t in (("1.1", 95), ("1.2", 80), ("2", 720))}
    draft = _draft(marks=marks, adjustments=adjustments,
                   texts={"results": "Kết quả <tốt>.", "prompts": "Giải trình."},
                   prompts=[Prompt("Đảng bộ Phường", "Làm rõ việc <chậm>.")])
    text, markup = views.adjustments_screen(VI, draft)
    assert "➖ 2: không đạt 12% chỉ tiêu, −1 điểm" in text and "➕ 1.1: +1,5 điểm" in text
    assert "Tổng: 90 điểm (89,5 điểm các tiêu chí, −1, +1,5): Hoàn thành xuất sắc nhiệm vụ." in text
    assert "🗑 ➖ 2" in [b.text for row in markup.inline_keyboard for b in row]
    _checked(markup)
    notice, markup = views.draft_notice(VI, draft, "Nguyễn Văn An", committee=False)
    assert notice.startswith("📄 Dự thảo báo cáo kiểm điểm của <b>Chi bộ &lt;Phòng&gt; Kỹ thuật</b>")
    assert "Kết quả &lt;tốt&gt;." in notice
    assert notice.index("Nội dung gợi ý kiểm điểm của Đảng bộ Phường:") < notice.index(
        "Giải trình.")
    assert "<b>II. Hạn chế, khuyết điểm và nguyên nhân</b>\n(chưa viết)" in notice
    assert [b.text for row in markup.inline_keyboard for b in row] == ["💬 Góp ý"]
    notice, markup = views.draft_notice(EN, _draft(file=b"PK"), "An", committee=True)
    assert "The report is a Word file" in notice and "The committee's comments" in notice
    assert [b.text for row in markup.inline_keyboard for b in row] == ["💬 Comment", "📄 Word file"]
    _checked(markup)


def test_the_meeting_screens_lines():
    half = views.meeting_needs_text(VI, MeetingNeeds(Decimal("0.5"), dt.date(2026, 11, 26), 3))
    assert half == ("Hội nghị kiểm điểm tối thiểu nửa ngày.\nDự thảo báo cáo kiểm điểm của tập "
                    "thể phải gửi đến các đồng chí dự hội nghị chậm nhất ngày 26/11/2026 (trước "
                    "hội nghị 3 ngày làm việc): /tap_the.")
    full = views.meeting_needs_text(EN, MeetingNeeds(Decimal(1), None, 3))
    assert full == "The review meeting lasts at least a full day: the upper level sent points " \
                   "for review."


def test_circulation_question_and_comments():
    text, markup = views.circulate_question(VI, _draft(), dt.date(2026, 11, 27))
    assert "đến 3 đồng chí dự hội nghị?" in text and "Hạn gửi là ngày 26/11/2026" in text
    assert [b.text for row in markup.inline_keyboard for b in row] == ["✅ Gửi dự thảo"]
    text, _ = views.circulate_question(VI, _draft("circulated", circulated_on=dt.date(2026, 11, 20)),
                                       dt.date(2026, 11, 27))
    assert "Các đồng chí đã nhận một bản dự thảo ngày 20/11/2026" in text
    notice = views.comment_notice(VI, "Trần Thị Bình", "Chi bộ 1", "participant", "<b>x</b>")
    assert notice == "💬 Đồng chí <b>Trần Thị Bình</b> góp ý dự thảo của Chi bộ 1 (đảng viên dự " \
                     "hội nghị):\n&lt;b&gt;x&lt;/b&gt;"
