"""The self-review as a Word file laid out like the official form."""

from __future__ import annotations

import io
from datetime import date

import pytest
from docx import Document
from docx.shared import Cm

from bot.i18n import Translator
from bot.services.review_docx import ReviewDocument
from bot.services.review_docx import clean_text
from bot.services.review_docx import official_date_parts
from bot.services.review_docx import paragraphs_of
from bot.services.review_docx import render_review_docx
from rules.levels import Level
from rules.review_form import sections_for

VI = Translator("vi")
EN = Translator("en")

LONG = ("Tôi luôn chấp hành nghiêm chủ trương của Đảng <và> pháp luật & quy định 🇻🇳 "
        "của cơ quan; ") * 200
LONG = LONG[:15_000]
TEXTS = {
    "politics": "Đoạn một về tư tưởng chính trị.\n\nĐoạn hai: lối sống giản dị.\nĐoạn ba.",
    "results": LONG,
    "commitment": "Hoàn thành lớp trung cấp lý luận chính trị.",
    "shortcomings": "Còn ngại va chạm <b>không</b> & \"nể nang\".",
    "earlier_fixes": "Đã khắc phục việc chậm cập nhật hồ sơ.",
    "prompts": "",
    "collective": "   ",
    "measures": "\tMỗi tháng tự học hai buổi 💪\r\nGóp ý thẳng thắn.",
}


def make(form_code: str = "2B", **changes) -> ReviewDocument:
    fields = dict(
        form_code=form_code, year=2025, full_name="Nguyễn Thị Lan",
        birth_date=date(1985, 3, 7), position="Giáo viên", cell_name="Chi bộ Trường THCS Kim Đồng",
        upper_org_name="Đảng bộ xã Hòa Bình",
        sections=[(s, TEXTS.get(s.key, "")) for s in sections_for(form_code)],
        general_score=27, task_score=60, proposed_level=Level.HTT, place="Hòa Bình",
        signed_on=date(2025, 12, 5))
    fields.update(changes)
    return ReviewDocument(**fields)


def reopen(data: bytes):
    return Document(io.BytesIO(data))


def texts_of(document) -> list[str]:
    return [p.text for p in document.paragraphs]


@pytest.fixture(scope="module")
def vi_doc():
    return reopen(render_review_docx(make(), VI))


def test_header_table(vi_doc):
    left, right = vi_doc.tables[0].rows[0].cells
    assert [p.text for p in left.paragraphs] == [
        "ĐẢNG BỘ XÃ HÒA BÌNH", "CHI BỘ TRƯỜNG THCS KIM ĐỒNG", "*"]
    assert left.paragraphs[1].runs[0].bold
    party = right.paragraphs[0]
    assert party.text == "ĐẢNG CỘNG SẢN VIỆT NAM"
    assert party.runs[0].bold and party.runs[0].underline
    dated = right.paragraphs[-1]
    assert dated.text == "Hòa Bình, ngày 05 tháng 12 năm 2025"
    assert dated.runs[0].italic


def test_header_has_no_borders(vi_doc):
    borders = vi_doc.tables[0]._tbl.tblPr.xml
    assert 'w:val="nil"' in borders


def test_title_and_particulars(vi_doc):
    texts = texts_of(vi_doc)
    title = texts.index("BẢN KIỂM ĐIỂM CÁ NHÂN")
    assert texts[title + 1] == "Năm 2025"
    assert vi_doc.paragraphs[title].runs[0].bold
    assert "Họ và tên: Nguyễn Thị Lan" in texts
    assert "Ngày sinh: 07/03/1985" in texts
    assert "Chức vụ: Giáo viên" in texts
    assert "Chi bộ: Chi bộ Trường THCS Kim Đồng" in texts


def test_sections_headings_and_every_character(vi_doc):
    texts = texts_of(vi_doc)
    assert "A. NỘI DUNG KIỂM ĐIỂM" in texts
    assert "I. Ưu điểm, kết quả đạt được" in texts
    for section in sections_for("2B"):
        heading = VI(section.heading)
        index = texts.index(heading)
        assert vi_doc.paragraphs[index].runs[0].bold
    start = texts.index(VI(sections_for("2B")[0].heading))
    assert texts[start + 1: start + 4] == [
        "Đoạn một về tư tưởng chính trị.", "Đoạn hai: lối sống giản dị.", "Đoạn ba."]
    assert LONG in texts  # 15,000 characters, emoji, < and & intact
    assert len(LONG) == 15_000
    assert "Còn ngại va chạm <b>không</b> & \"nể nang\"." in texts
    assert "\tMỗi tháng tự học hai buổi 💪" in texts
    assert "Góp ý thẳng thắn." in texts
    # IV and V left empty: "Không có."
    prompts = texts.index(VI(sections_for("2B")[5].heading))
    assert texts[prompts + 1] == "Không có."


def test_order_follows_the_form(vi_doc):
    texts = texts_of(vi_doc)
    positions = [texts.index(VI(s.heading)) for s in sections_for("2B")]
    assert positions == sorted(positions)
    assert texts.index("B. TỰ NHẬN MỨC XẾP LOẠI CHẤT LƯỢNG") > positions[-1]


def test_rating_and_signature(vi_doc):
    texts = texts_of(vi_doc)
    assert "Nhóm tiêu chí chung: 27/30 điểm" in texts
    assert "Kết quả thực hiện nhiệm vụ: 60/70 điểm" in texts
    assert "Tổng điểm: 87/100 điểm" in texts
    assert "Tự nhận mức xếp loại chất lượng: Hoàn thành tốt nhiệm vụ" in texts
    signature = vi_doc.tables[1].rows[0].cells[1]
    lines = [p.text for p in signature.paragraphs]
    assert lines[0] == "NGƯỜI TỰ KIỂM ĐIỂM"
    assert lines[1] == "(Ký, ghi rõ họ tên)"
    assert lines[-1] == "Nguyễn Thị Lan"


def test_page_and_font(vi_doc):
    section = vi_doc.sections[0]
    assert abs(section.page_width - Cm(21)) < Cm(0.01)
    assert abs(section.page_height - Cm(29.7)) < Cm(0.01)
    assert abs(section.top_margin - Cm(2)) < Cm(0.01)
    assert abs(section.bottom_margin - Cm(2)) < Cm(0.01)
    assert abs(section.left_margin - Cm(3)) < Cm(0.01)
    assert Cm(1.5) <= section.right_margin <= Cm(2.01)
    normal = vi_doc.styles["Normal"]
    assert normal.font.name == "Times New Roman"
    assert normal.font.size.pt in (13, 14)
    assert section.header.paragraphs[0].text == "Mẫu 2B"


def test_hd21_member_not_rated_without_scores():
    doc = reopen(render_review_docx(
        make("02", general_score=None, task_score=None, proposed_level=None, place=None,
             birth_date=None, position=None, upper_org_name=None), VI))
    texts = texts_of(doc)
    assert not any("điểm" in t and "/30" in t for t in texts)
    assert "Không xếp loại chất lượng." in texts
    assert "Ngày sinh: ……" in texts
    left, right = doc.tables[0].rows[0].cells
    assert [p.text for p in left.paragraphs] == ["CHI BỘ TRƯỜNG THCS KIM ĐỒNG", "*"]
    assert right.paragraphs[-1].text == "……, ngày 05 tháng 12 năm 2025"
    # Mẫu 02 has the leaders' item, optional: left empty, it says so.
    leadership = texts.index(VI(sections_for("02")[3].heading))
    assert texts[leadership + 1] == "Không có."


def test_english_labels():
    doc = reopen(render_review_docx(make("2A", proposed_level=Level.HTXS), EN))
    texts = texts_of(doc)
    _left, right = doc.tables[0].rows[0].cells
    assert right.paragraphs[0].text == "COMMUNIST PARTY OF VIETNAM"
    assert "PERSONAL SELF-REVIEW" in texts
    assert "Year 2025" in texts
    assert "Full name: Nguyễn Thị Lan" in texts
    assert "A. CONTENT OF THE REVIEW" in texts
    assert "B. SELF-PROPOSED QUALITY LEVEL" in texts
    assert "Proposed quality level: Excellently completed duties" in texts
    assert "General criteria: 27/30 points" in texts
    for section in sections_for("2A"):
        assert section.heading in texts
    assert doc.tables[1].rows[0].cells[1].paragraphs[0].text == "THE MEMBER UNDER REVIEW"
    assert doc.sections[0].header.paragraphs[0].text == "Form 2A"


def test_control_characters_are_stripped():
    nasty = "A\x00B\x07C\x0bD\x1fE\ud800F\uffffG <&> 😀"
    doc = reopen(render_review_docx(make(
        full_name="Lê\x08 Văn Tám", sections=[(sections_for("2B")[0], nasty)]), VI))
    texts = texts_of(doc)
    assert "ABCDEFG <&> 😀" in texts
    assert "Họ và tên: Lê Văn Tám" in texts


def test_helpers():
    assert clean_text("a\r\nb\rc\x0cd") == "a\nb\ncd"
    assert paragraphs_of("x\n\n \ny  \n") == ["x", "y  "]
    assert official_date_parts(date(2025, 2, 3)) == ("03", "02", "2025")
    assert official_date_parts(date(2025, 11, 30)) == ("30", "11", "2025")
