"""Issue 14 part D: the meeting's minutes (biên bản hội nghị) drafted as a Word file from what
the bot recorded, reopened with python-docx: every section in its place, the figures, the
deductions and additions with their reasons, the ballot's counts per level and never who cast
which vote, and "chưa có" where a part has no data yet."""

from __future__ import annotations

import datetime as dt
import io
import re
from zoneinfo import ZoneInfo

from docx import Document
from sqlalchemy import delete
from sqlalchemy import select

from bot.i18n import Translator
from bot.services import minutes
from bot.services.minutes_docx import render_minutes_docx
from storage.models import BallotRound
from storage.models import BallotTeller
from storage.models import CountingCommittee
from storage.models import Meeting
from storage.models import UnitRating
from storage.models import UnitRatingChange
from storage.queries import org_by_code
from tests import unit_files_kit as kit

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
VI = Translator("vi", VIETNAM)
EN = Translator("en", VIETNAM)
NOW = dt.datetime(2026, 12, 5, 3, 0, tzinfo=dt.UTC)  # 10:00 in Vietnam
TODAY = dt.date(2026, 12, 5)
HEADINGS = ["I. Thời gian, địa điểm, thành phần", "II. Trình tự hội nghị",
            "III. Kiểm điểm tập thể", "IV. Kết quả bỏ phiếu kín",
            "V. Gợi ý kiểm điểm của cấp trên", "VI. Kết luận của chủ trì hội nghị"]


db = kit.db  # a migrated database of the suite's backend


def texts(document) -> list[str]:
    return [p.text for p in document.paragraphs]


def tables(document) -> list[list[list[str]]]:
    return [[[c.text for c in row.cells] for row in table.rows] for table in document.tables]


def between(lines: list[str], start: str, end: str) -> list[str]:
    first = next(i for i, line in enumerate(lines) if line.startswith(start))
    last = next(i for i, line in enumerate(lines) if line.startswith(end))
    return lines[first:last]


async def minutes_of(db, org_code: str, t: Translator = VI):
    async with db.session() as session:
        org = await org_by_code(session, org_code)
        _cycle, meeting = await minutes.unit_meeting(session, org)
        data = await minutes.gather(session, meeting, today=TODAY)
    return data, Document(io.BytesIO(render_minutes_docx(data, t)))


async def test_the_minutes_hold_what_the_meeting_recorded(db):
    async with db.session() as session:
        await kit.tree(session, NOW)
    _data, document = await minutes_of(db, "CB1")
    lines = texts(document)
    header, *_rest = tables(document)
    assert header[0][0] == "ĐẢNG BỘ CÔNG TY ĐIỆN LỰC\nCHI BỘ PHÒNG KỸ THUẬT\n*"
    assert header[0][1].startswith("ĐẢNG CỘNG SẢN VIỆT NAM")
    assert header[0][1].endswith("ngày 05 tháng 12 năm 2026")
    assert ("BIÊN BẢN\nHỘI NGHỊ KIỂM ĐIỂM, ĐÁNH GIÁ, XẾP LOẠI CHẤT LƯỢNG TỔ CHỨC ĐẢNG VÀ ĐẢNG "
            "VIÊN NĂM 2026") in lines
    assert [line for line in lines if line in HEADINGS] == HEADINGS

    who = between(lines, HEADINGS[0], HEADINGS[1])
    assert "Thời gian: 08:00 05/12/2026." in who
    assert any(line.startswith("Địa điểm: ……") for line in who)
    assert any(line.startswith("Chủ trì hội nghị: đồng chí ……") for line in who)
    assert any(line.startswith("Thư ký hội nghị: đồng chí ……") for line in who)
    assert "Tổng số đảng viên của chi bộ: 6 (chính thức 5, dự bị 1)." in who
    assert ("Có mặt: 4 đồng chí: Đặng Thị An, Vũ Văn Bình, Dương Văn Cường, Hoàng Văn Em."
            in who)
    assert "Vắng có lý do: 1 đồng chí: Lê Thị Dung." in who
    assert "Vắng không có lý do: 1 đồng chí: Trịnh Văn Phúc." in who
    # R-B3: five official members less the excused one; three of them present (R-B9: 3/4).
    assert ("Số đảng viên tính tỷ lệ biểu quyết: 4; có mặt: 3/4: hội nghị đủ điều kiện tiến hành "
            "(có mặt ít nhất hai phần ba).") in who

    order = between(lines, HEADINGS[1], HEADINGS[2])
    assert order[1:] == [
        "Việc bỏ phiếu xếp loại đảng viên được tiến hành trước khi hoàn thành kiểm điểm tập thể. "
        f"Lý do: {kit.ORDER_REASON}",
        "– Tổ chức đảng: Chi bộ Phòng Kỹ thuật: đã kiểm điểm lúc 09:40 05/12/2026.",
        "– Bản tự kiểm điểm của đảng viên: chưa có.",
    ]

    collective = between(lines, HEADINGS[2], HEADINGS[3])
    # The report typed and the comment made through part A's services (tests/unit_files_kit.py).
    assert ("Đồng chí Vũ Văn Bình trình bày báo cáo kiểm điểm của tập thể (soạn trên hệ thống)."
            in collective)
    assert ("Dự thảo báo cáo và kết quả chấm điểm dự kiến đã gửi đến người tham dự ngày "
            "30/11/2026.") in collective
    assert (f"– Đồng chí Hoàng Văn Em (người tham dự, góp ý trước hội nghị): {kit.COMMENT}"
            in collective)
    assert "Ý kiến thảo luận tại hội nghị:" in collective
    assert (f"– Tiêu chí 2: trừ 1 điểm (chỉ tiêu không đạt 12%); lý do: {kit.DEDUCTION_REASON}; "
            f"trách nhiệm: {kit.DEDUCTION_WHO}") in collective
    assert (f"– Tiêu chí 1.1: cộng 1,5 điểm; thành tích nổi bật: {kit.ADDITION_REASON}; của: "
            f"{kit.ADDITION_WHO}") in collective
    agreed = collective.index("Nội dung cộng điểm, trừ điểm được hội nghị thống nhất:")
    proposed = collective.index("Nội dung cộng điểm, trừ điểm đề xuất trong dự thảo, chưa được "
                                "hội nghị thống nhất:")
    assert agreed < proposed and kit.PROPOSED_REASON in collective[proposed + 1]
    assert ("Tổng số điểm (bình quân các phiếu chấm, đã tính cộng, trừ điểm): 90,8 điểm, thuộc "
            "khung mức «Hoàn thành xuất sắc nhiệm vụ».") in collective
    assert "Mức tập thể tự xếp loại: Hoàn thành xuất sắc nhiệm vụ" in collective
    assert "Quyết định của Đảng bộ Công ty Điện lực: chưa quyết định" in collective

    scores, units_round, members_round, _signatures = tables(document)[1:]
    assert scores == [
        ["TT", "Tiêu chí", "Điểm chuẩn", "Dự kiến", "Hội nghị chấm (3 phiếu)"],
        ["1", "Công tác chính trị, tư tưởng", "30", "27", "27,7"],
        ["1.1", "Học tập, quán triệt nghị quyết", "15", "14", "14"],
        ["1.2", "Nắm bắt tư tưởng đảng viên", "15", "13", "13,7"],
        ["2", "Thực hiện nhiệm vụ chính trị", "70", "60", "63"],
    ]
    assert units_round == [["Đối tượng", "HTXS", "HTT", "HT", "KHT", "Không chọn", "Kết quả"],
                           ["Chi bộ Phòng Kỹ thuật", "3", "0", "0", "0", "0", "HTXS"]]
    assert members_round[1:] == [["Đặng Thị An", "1", "2", "0", "0", "0", "HTT"],
                                 ["Hoàng Văn Em", "0", "1", "0", "0", "2",
                                  "chưa đủ: bỏ phiếu lại"]]

    ballot = between(lines, HEADINGS[3], HEADINGS[4])
    assert "Ban kiểm phiếu: Đặng Thị An, Vũ Văn Bình; cần 2 thành viên để mở hòm phiếu." in ballot
    assert "Vòng 1: xếp loại tổ chức đảng, tập thể" in ballot
    assert "Mở lúc 09:30 05/12/2026; 3/3 đảng viên đã bỏ phiếu." in ballot
    assert ("Mở hòm phiếu lúc 10:00 05/12/2026; mức xếp loại được thông qua khi có trên một nửa "
            "của 4 phiếu.") in ballot
    assert "Vòng 3: xếp loại đảng viên" in ballot
    assert "Tình trạng: đang bỏ phiếu: chưa có kết quả." in ballot  # no counts before the box

    prompts = between(lines, HEADINGS[4], HEADINGS[5])
    assert prompts[1:] == [
        "Đối với Chi bộ Phòng Kỹ thuật, của Đảng bộ Công ty Điện lực:",
        f"– {kit.COLLECTIVE_PROMPT}",
        "Đối với Đặng Thị An, của Đảng bộ Công ty Điện lực:",
        f"– {kit.MEMBER_PROMPT}",
    ]
    conclusions = lines[lines.index(HEADINGS[5]) + 1:]
    assert conclusions[:2] == kit.CONCLUSIONS.split("\n")
    signatures = tables(document)[-1][0]
    assert signatures[0].startswith("THƯ KÝ HỘI NGHỊ\n(Ký, ghi rõ họ tên)")
    assert signatures[1].startswith("CHỦ TRÌ HỘI NGHỊ\n(Ký, ghi rõ họ tên)")


async def test_no_vote_is_tied_to_a_voter(db):
    """The ballot part names the counting committee and the candidates with their counts: a
    voter who is neither is never named there, and no count belongs to a person who voted."""
    async with db.session() as session:
        _cycle, _cell, _other, people, _records = await kit.tree(session, NOW)
    data, document = await minutes_of(db, "CB1")
    ballot = "\n".join(between(texts(document), HEADINGS[3], HEADINGS[4]))
    ballot += "\n".join(c for table in tables(document)[2:4] for row in table for c in row)
    assert people["DV3"].full_name not in ballot  # voted in every round, neither candidate nor teller
    for item in data.rounds:
        for result in item.results:
            assert sum(votes for _choice, votes in result.counts) == item.cast
    # Only the aggregate of who cast, never which voter: the data holds no names per voter.
    assert not re.search(r"Dương Văn Cường", repr(data.rounds))


async def test_a_meeting_with_nothing_recorded_says_so_in_every_part(db):
    async with db.session() as session:
        cycle, _cell, other, _people, _records = await kit.tree(session, NOW)
        session.add(Meeting(cycle_id=cycle.id, org_id=other.id, scheduled_at=NOW))
    _data, document = await minutes_of(db, "CB2")
    lines = texts(document)
    assert [line for line in lines if line in HEADINGS] == HEADINGS
    assert "Điểm danh: chưa có (chưa ghi nhận đồng chí nào có mặt hay vắng mặt)." in lines
    assert "Kiểm điểm tập thể này: chưa có." in lines
    assert "– Bản tự kiểm điểm của đảng viên: chưa có." in lines
    assert "Ban kiểm phiếu: chưa có." in lines and "Các vòng bỏ phiếu: chưa có." in lines
    assert lines[lines.index(HEADINGS[4]) + 1] == "Không có."
    assert lines[lines.index(HEADINGS[5]) + 1] == "Chưa có."
    assert lines[lines.index(HEADINGS[1]) + 1] == "Hội nghị kiểm điểm tập thể trước, cá nhân sau."


async def test_a_members_ballot_before_the_collective_is_reviewed_is_told(db):
    """R-D3: the times say the members' ballot opened while the collective was not reviewed,
    and no reason was recorded."""
    async with db.session() as session:
        cycle, _cell, other, people, _records = await kit.tree(session, NOW)
        meeting = Meeting(cycle_id=cycle.id, org_id=other.id, scheduled_at=NOW)
        session.add(meeting)
        await session.flush()
        await kit._round(session, meeting, 1, "members", "open", [people["DV9"]], 1, NOW, [])
    _data, document = await minutes_of(db, "CB2")
    lines = texts(document)
    assert lines[lines.index(HEADINGS[1]) + 1] == (
        "Việc bỏ phiếu xếp loại đảng viên được tiến hành trước khi hoàn thành kiểm điểm tập thể. "
        "Lý do: chưa ghi nhận")


async def test_a_lowered_proposal_and_the_default_counting_committee(db):
    """The deciding level lowered the unit's proposal: the minutes keep the level the
    collective voted for itself. No committee was named: the rounds' key holders are it."""
    async with db.session() as session:
        _cycle, _cell, _other, people, records = await kit.tree(session, NOW, decided=True)
        rating = await session.get(UnitRating, records.rating_id)
        rating.proposed_level = "HTT"
        session.add(UnitRatingChange(rating_id=rating.id, at=NOW, actor="tg:502",
                                     kind="lowered", level="HTT", reason="Vượt tỷ lệ."))
        await session.execute(delete(CountingCommittee))
        for ballot_round in await session.scalars(select(BallotRound)):
            ballot_round.threshold = 1
            session.add(BallotTeller(round_id=ballot_round.id, member_id=people["DV1"].id))
    data, document = await minutes_of(db, "CB1")
    assert data.reviews[0].proposed_level == "HTXS"
    lines = texts(document)
    assert "Mức tập thể tự xếp loại: Hoàn thành xuất sắc nhiệm vụ" in lines
    assert "Ban kiểm phiếu: Vũ Văn Bình; cần 1 thành viên để mở hòm phiếu." in lines


async def test_the_minutes_in_english(db):
    async with db.session() as session:
        await kit.tree(session, NOW)
    _data, document = await minutes_of(db, "CB1", EN)
    lines = texts(document)
    assert ("MINUTES\nMEETING TO REVIEW, EVALUATE AND RATE THE QUALITY OF THE PARTY ORGANISATION "
            "AND ITS MEMBERS, 2026") in lines
    assert "VI. Conclusions of the chair" in lines
    assert any("90.8 points" in line for line in lines)
