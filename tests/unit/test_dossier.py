"""Issue 14 part D: the file (hồ sơ, R-A4) of a collective or a member as a zip, reopened: the
documents the bot holds under ASCII names that read as Vietnamese, each Word file with its
content, the index, the list of what R-A4 lists that the bot does not hold, and the limit of
what Telegram takes."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from zoneinfo import ZoneInfo

from docx import Document

from bot.i18n import Translator
from bot.services import dossier
from bot.services.dossier import dossier_off_loop
from bot.services.dossier import member_dossier
from bot.services.dossier import unit_dossier
from storage.models import Cycle
from storage.models import UnitRating
from storage.models import UnitRatingChange
from storage.models import UnitReview
from storage.queries import member_by_code
from storage.queries import org_by_code
from tests import unit_files_kit as kit

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
VI = Translator("vi", VIETNAM)
NOW = dt.datetime(2026, 12, 5, 3, 0, tzinfo=dt.UTC)


db = kit.db  # a migrated database of the suite's backend


def opened(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


def words(content: bytes) -> str:
    document = Document(io.BytesIO(content))
    parts = [p.text for p in document.paragraphs]
    parts += [c.text for table in document.tables for row in table.rows for c in row.cells]
    return "\n".join(parts)


async def test_the_file_of_a_collective(db):
    async with db.session() as session:
        await kit.tree(session, NOW, decided=True)
        cell = await org_by_code(session, "CB1")
        built = await unit_dossier(session, cell, VI, now=NOW, tz=VIETNAM)
    files = opened(built.content)
    assert list(files) == [
        "00-danh-muc-ho-so.docx", "01-bao-cao-kiem-diem.docx", "02-ket-qua-cham-diem.docx",
        "03-bien-ban-hoi-nghi.docx", "04-xep-loai.docx", "05-goi-y-kiem-diem.docx",
        "06-y-kien-tham-gia.docx", "07-khieu-nai.docx",
    ]
    assert all(name.isascii() for name in files) and built.filename == "ho-so-CB1-2026.zip"
    report = words(files["01-bao-cao-kiem-diem.docx"])
    assert "BÁO CÁO KIỂM ĐIỂM TẬP THỂ NĂM 2026" in report
    # Typed through /tap_the (part A's service), under the headings of Mẫu 01.
    assert ("I. Ưu điểm, kết quả đạt được\nChi bộ đã lãnh đạo hoàn thành các chỉ tiêu chủ yếu."
            "\nKết nạp 2 đảng viên mới.\nII. Hạn chế, khuyết điểm và nguyên nhân\n"
            "Sinh hoạt chuyên đề còn ít.") in report
    assert "T/M CHI BỘ PHÒNG KỸ THUẬT" in report and "Vũ Văn Bình" in report
    scores = words(files["02-ket-qua-cham-diem.docx"])
    assert "90,8 điểm" in scores and kit.DEDUCTION_REASON in scores and "27,7" in scores
    assert "BIÊN BẢN\nHỘI NGHỊ KIỂM ĐIỂM" in words(files["03-bien-ban-hoi-nghi.docx"])
    rating = words(files["04-xep-loai.docx"])
    assert "Đảng bộ Công ty Điện lực quyết định ngày 05/12/2026: Hoàn thành tốt nhiệm vụ" in rating
    # Who decided sits in another cell: the papers of CB1 name the deciding committee, not them.
    assert "Ngô Thị Lan" not in rating
    assert "quyết định | HTT |  | Đảng bộ Công ty Điện lực" in rating.replace("\n", " | ")
    assert kit.COLLECTIVE_PROMPT in words(files["05-goi-y-kiem-diem.docx"])
    opinions = words(files["06-y-kien-tham-gia.docx"])
    assert "Thường trực HĐND, UBND" in opinions and kit.OPINION in opinions
    assert kit.COMMENT in opinions
    appeals = words(files["07-khieu-nai.docx"])
    assert kit.APPEAL in appeals and kit.APPEAL_ANSWER in appeals
    assert "Trả lời của Đảng bộ Công ty Điện lực ngày 05/12/2026:" in appeals
    assert "Vũ Văn Bình" in appeals  # the cell's own member who filed it
    index = words(files["00-danh-muc-ho-so.docx"])
    assert "DANH MỤC HỒ SƠ NĂM 2026" in index
    assert [e.title for e in built.missing] == [
        "Tổng hợp kết quả thẩm định của cơ quan, đơn vị, tổ chức"]
    assert "Tổng hợp kết quả thẩm định của cơ quan, đơn vị, tổ chức" in index
    assert "hệ thống không có: bổ sung bản giấy" in index


async def test_a_lowered_proposal_keeps_the_units_own_level(db):
    """The deciding level lowered the unit's proposal before deciding: the level proposed is
    the unit's vote, and the lowering is the deciding committee's (it is named, not its
    member from another cell)."""
    async with db.session() as session:
        _cycle, cell, *_rest, records = await kit.tree(session, NOW, decided=True)
        rating = await session.get(UnitRating, records.rating_id)
        rating.proposed_level = "HTT"
        session.add(UnitRatingChange(rating_id=rating.id, at=NOW, actor="tg:502",
                                     kind="lowered", level="HTT", reason="Vượt tỷ lệ."))
        await session.flush()
        built = await unit_dossier(session, cell, VI, now=NOW, tz=VIETNAM)
    rating_text = words(opened(built.content)["04-xep-loai.docx"])
    assert "Mức đề nghị: Hoàn thành xuất sắc nhiệm vụ" in rating_text
    assert "hạ mức | HTT | Vượt tỷ lệ. | Đảng bộ Công ty Điện lực" in rating_text.replace("\n", " | ")


async def test_an_uploaded_report_goes_in_as_sent_and_a_missing_decision_is_named(db):
    async with db.session() as session:
        _cycle, cell, *_ = await kit.tree(session, NOW)
        review = await session.scalar(UnitReview.__table__.select().limit(1))
        row = await session.get(UnitReview, review)
        row.report_docx, row.report_filename = b"PK\x03\x04 the head's own file", "Bao cao.docx"
        built = await unit_dossier(session, cell, VI, now=NOW, tz=VIETNAM)
    files = opened(built.content)
    assert files["01-bao-cao-kiem-diem.docx"] == b"PK\x03\x04 the head's own file"
    missing = {e.title: e.note for e in built.missing}
    assert missing["Quyết định, kết luận đánh giá, kết quả xếp loại của cấp có thẩm quyền"] == (
        "chưa có quyết định; mức đề nghị và quá trình xếp loại có trong tệp 04-xep-loai.docx")
    assert "07-khieu-nai.docx" not in files  # no appeal: "không phát sinh"
    assert "Hồ sơ giải quyết khiếu nại về kết quả đánh giá, xếp loại" in [
        e.title for e in built.entries if e.state == "none"]


async def test_a_file_too_large_for_telegram_is_named_instead(db, monkeypatch):
    monkeypatch.setattr(dossier, "MAX_ZIP_BYTES", 60_000)
    async with db.session() as session:
        _cycle, cell, *_ = await kit.tree(session, NOW)
        review = await session.scalar(UnitReview.__table__.select().limit(1))
        row = await session.get(UnitReview, review)
        row.report_docx, row.report_filename = b"x" * 80_000, "bao-cao.docx"
        built = await unit_dossier(session, cell, VI, now=NOW, tz=VIETNAM)
    files = opened(built.content)
    assert "01-bao-cao-kiem-diem.docx" not in files and "02-ket-qua-cham-diem.docx" in files
    assert {e.title: e.note for e in built.missing}["Báo cáo kiểm điểm của tập thể"] == (
        "tệp quá lớn để gửi qua Telegram: đề nghị đơn vị gửi trực tiếp")


async def test_the_file_of_a_member(db):
    async with db.session() as session:
        await kit.tree(session, NOW)
        cycle = await session.scalar(Cycle.__table__.select().limit(1))
        member = await member_by_code(session, "DV2")
        await kit.self_review(session, cycle=await session.get(Cycle, cycle), member=member,
                              now=NOW, decided_by="tg:502")
        built = await member_dossier(session, member, VI, now=NOW, tz=VIETNAM)
    files = opened(built.content)
    assert list(files) == ["00-danh-muc-ho-so.docx", "01-ban-tu-kiem-diem.docx",
                           "02-goi-y-kiem-diem.docx", "03-xep-loai.docx"]
    review = words(files["01-ban-tu-kiem-diem.docx"])
    assert "BẢN KIỂM ĐIỂM CÁ NHÂN" in review and "Tôi luôn giữ vững" in review
    assert kit.MEMBER_PROMPT in words(files["02-goi-y-kiem-diem.docx"])
    assert "quyết định ngày 05/12/2026: Hoàn thành tốt nhiệm vụ" in words(files["03-xep-loai.docx"])
    # hd21-2019 scores no member: "không phát sinh", not missing.
    missing = [e.title for e in built.missing]
    assert missing == ["Phiếu bổ sung hồ sơ đảng viên", "Phiếu nhận xét của cấp ủy nơi cư trú"]
    index = words(files["00-danh-muc-ho-so.docx"])
    assert "Phiếu nhận xét của cấp ủy nơi cư trú" in index and "Đồng chí Đặng Thị An" in index


async def test_a_member_scored_under_the_2025_rules_gets_the_score_sheet(db):
    async with db.session() as session:
        cycle_id = (await kit.tree(session, NOW))[0].id
        cycle = await session.get(Cycle, cycle_id)
        cycle.rulebook = "qd366-2025"
        member = await member_by_code(session, "DV3")
        member.leader = True
        await kit.self_review(session, cycle=cycle, member=member, now=NOW)
        built = await member_dossier(session, member, VI, now=NOW, tz=VIETNAM)
    files = opened(built.content)
    scores = words(files["02-ket-qua-cham-diem.docx"])
    assert "Nhóm tiêu chí chung\n26\n30" in scores and "Tổng cộng\n86\n100" in scores
    assert "Tổng điểm thuộc khung mức «Hoàn thành tốt nhiệm vụ»." in scores
    assert "Bản kê khai tài sản (đối với cán bộ lãnh đạo, quản lý)" in [
        e.title for e in built.missing]
    notes = {e.title: e.note for e in built.missing}
    assert notes["Quyết định và kết quả xếp loại, quá trình xếp loại"].startswith("chưa có quyết")


async def test_the_file_is_built_off_the_event_loop(db):
    """The worker thread opens the database with an engine of its own (both backends)."""
    async with db.session() as session:
        await kit.tree(session, NOW)
        cell_id = (await org_by_code(session, "CB1")).id
    built = await dossier_off_loop(db.url, "unit", cell_id, VI, now=NOW, tz=VIETNAM)
    assert "03-bien-ban-hoi-nghi.docx" in opened(built.content)
