"""Issue 14's acceptance test: a đảng bộ cơ sở with three cells through the whole of the
organisations' review, under both rulebooks (under qd366-2025 the plan turns R-C4 on: it is
a setting there, off by default).

Chi bộ Phòng Kỹ thuật (CB01) goes the whole way through the fake Bot API as its people do it:
the đảng ủy loads the criteria framework by sending the template back; the secretary sets the
meeting, sends the report as a Word file, marks the draft score sheet and proposes a deduction
and an addition; the deputy comments as the committee; the deadline monitor reminds the
secretary and the draft goes out on time; a member comments; at the meeting the members'
ballot waits for the collective (R-D3), every member scores (one changes a mark), the
meeting agrees the deduction and the addition, the combined score is the band the cell votes
on by secret ballot, then the members' ballot; a participating body gives its opinion; the
đảng ủy meets R-Q7's breach, lowers the cell and decides, which caps the cell's secretary
(R-C4); the minutes and the file are downloaded and reopened.

Chi bộ Phòng Kinh doanh (CB02) and Chi bộ Phòng Hành chính (CB03) take the earlier steps
through the parts' services (tests/e2e/unit_cycle_kit.py), what the parts' own tests drive
through Telegram; CB02's draft goes out late and the monitor warns its secretary and the
đảng ủy. All three reach the đảng ủy's decision."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from dataclasses import dataclass

import docx
import openpyxl
import pytest
from sqlalchemy import select

from rules.levels import Level
from storage.models import BallotRound
from storage.models import ParticipantBody
from storage.models import ScoreAdjustment
from storage.models import UnitRating
from storage.models import UnitRatingChange
from storage.models import UnitReview
from tests.e2e.flows import answer_of
from tests.e2e.flows import ask
from tests.e2e.harness import BotRunner
from tests.e2e.harness import Clock
from tests.e2e.meetingkit import AGREE_DRAFT
from tests.e2e.meetingkit import CONFIRM
from tests.e2e.meetingkit import EVERYONE
from tests.e2e.meetingkit import ORDER
from tests.e2e.meetingkit import SCORING
from tests.e2e.meetingkit import SHEET
from tests.e2e.meetingkit import SUBMIT
from tests.e2e.test_ballot import newest
from tests.e2e.test_ballot import press
from tests.e2e.test_ballot import start_round
from tests.e2e.test_ballot import unseal
from tests.e2e.test_ballot import until
from tests.e2e.test_ballot import vote
from tests.e2e.test_plan_kit import Inbox
from tests.e2e.test_plan_kit import monitor
from tests.e2e.test_status_tree import Tree
from tests.e2e.test_status_tree import query
from tests.e2e.test_unit_deadlines import drafts
from tests.e2e.unit_cycle_kit import CB02_DRAFT
from tests.e2e.unit_cycle_kit import CB03_DRAFT
from tests.e2e.unit_cycle_kit import NAME
from tests.e2e.unit_cycle_kit import PEOPLE
from tests.e2e.unit_cycle_kit import YEAR
from tests.e2e.unit_cycle_kit import Days
from tests.e2e.unit_cycle_kit import circulate_late
from tests.e2e.unit_cycle_kit import cycle_world
from tests.e2e.unit_cycle_kit import give_opinion
from tests.e2e.unit_cycle_kit import hold_meeting
from tests.e2e.unit_cycle_kit import prepare_draft
from tests.e2e.unit_review_kit import press as press_then_see
from tests.e2e.unit_review_kit import word_file
from tests.fakebot.server import FakeTelegram

CB01, CB02, CB03, DB = NAME["CB01"], NAME["CB02"], NAME["CB03"], NAME["DBCS01"]
REPORT = word_file("BÁO CÁO KIỂM ĐIỂM CHI BỘ PHÒNG KỸ THUẬT NĂM " + str(YEAR),
                   "I. Ưu điểm, kết quả đạt được",
                   "Hoàn thành 18/20 chỉ tiêu nghị quyết; 100% đảng viên học tập nghị quyết.",
                   "II. Hạn chế, khuyết điểm và nguyên nhân",
                   "Tỷ lệ thất thoát nước còn cao.")
MARKS = ["9,5; Xuất sắc; 100% đảng viên học tập nghị quyết", "9; Tốt; Nắm tư tưởng hằng tháng",
         "37; Tốt; Hoàn thành 18/20 chỉ tiêu", "18; Tốt; Kết nạp 2 đảng viên",
         "9,5; Xuất sắc; Không có đảng viên vi phạm", "9; Tốt; Phối hợp tốt với công đoàn"]
DEDUCTION = ("Doanh thu nước sạch chỉ đạt 88% kế hoạch", "Chi ủy và đồng chí phụ trách kinh doanh")
ADDITION = ("Sáng kiến giảm thất thoát nước được Thành phố khen thưởng", "Tổ kỹ thuật")
COMMITTEE_COMMENT = "Đề nghị nêu rõ nguyên nhân doanh thu chưa đạt."
MEMBER_COMMENT = "Phần hạn chế cần nêu tên đồng chí phụ trách giảm thất thoát nước."
OPINION = "Chi bộ lãnh đạo đơn vị hoàn thành tốt nhiệm vụ chuyên môn, đoàn kết nội bộ."
OTHER_OPINION = "Chi bộ lãnh đạo vượt kế hoạch doanh thu."
LOWERED = "Đảng bộ chỉ được một chi bộ hoàn thành xuất sắc; Chi bộ Phòng Kinh doanh nổi bật hơn."
# The members' ballot of CB01 (one character per voter An, Bình, Cường, Dung): An HTXS 3 of 4.
MEMBER_VOTES = {"Nguyễn Văn An": "XXXT", "Trần Thị Bình": "TTTT", "Lê Văn Cường": "TTTT",
                "Phạm Thị Dung": "TTTH"}
VOTERS = ["DV001", "DV002", "DV003", "DV004"]


def reopen(content: bytes) -> list[str]:
    """A Word file's paragraphs, then its tables' rows (cells joined by " | ")."""
    document = docx.Document(io.BytesIO(content))
    lines = [p.text for p in document.paragraphs]
    lines += [" | ".join(c.text for c in row.cells) for t in document.tables for row in t.rows]
    return lines


def section(lines: list[str], start: str, end: str) -> list[str]:
    first = next(i for i, line in enumerate(lines) if line.startswith(start))
    last = next(i for i, line in enumerate(lines) if i > first and line.startswith(end))
    return lines[first:last]


async def press_then_edit(user, label: str, message):
    """Press `label` on `message`; the message as the press edited it."""
    return await press_then_see(user, label, message, edited=True)


def on(days: Days, offset: int) -> str:
    return (days.meeting + dt.timedelta(days=offset)).strftime("%d/%m/%Y")


def check_minutes(lines: list[str], days: Days, receipts: list[str]) -> None:
    """The meeting's facts in its minutes: attendance, order, the report and its comments, the
    scores with the deduction and the addition, the level voted and decided, the ballot's
    counts (never who voted what)."""
    text = "\n".join(lines)
    meeting = on(days, 0)
    for line in (
        "Có mặt: 4 đồng chí: Nguyễn Văn An, Trần Thị Bình, Lê Văn Cường, Phạm Thị Dung.",
        "Số đảng viên tính tỷ lệ biểu quyết: 4; có mặt: 4/4: hội nghị đủ điều kiện tiến hành (có "
        "mặt ít nhất hai phần ba).",
        "Hội nghị kiểm điểm tập thể trước, cá nhân sau.",
        f"– Tổ chức đảng: {CB01}: đã kiểm điểm lúc 08:05 {meeting}.",
        "Đồng chí Nguyễn Văn An trình bày báo cáo kiểm điểm của tập thể (tệp Word "
        "«bao-cao-kiem-diem.docx»).",
        f"Dự thảo báo cáo và kết quả chấm điểm dự kiến đã gửi đến người tham dự ngày {on(days, -8)}.",
        f"– Đồng chí Lê Văn Cường (cấp ủy viên, góp ý dự thảo): {COMMITTEE_COMMENT}",
        f"– Đồng chí Trần Thị Bình (người tham dự, góp ý trước hội nghị): {MEMBER_COMMENT}",
        "2 | Lãnh đạo thực hiện nhiệm vụ chính trị được giao | 40 | 37 | 36,5",
        f"– Tiêu chí 2: trừ 1 điểm (chỉ tiêu không đạt 12%); lý do: {DEDUCTION[0]}; trách "
        f"nhiệm: {DEDUCTION[1]}",
        f"– Tiêu chí 3: cộng 1,5 điểm; thành tích nổi bật: {ADDITION[0]}; của: {ADDITION[1]}",
        "Tổng số điểm (bình quân các phiếu chấm, đã tính cộng, trừ điểm): 92 điểm, thuộc khung "
        "mức «Hoàn thành xuất sắc nhiệm vụ».",
        "Mức tập thể tự xếp loại: Hoàn thành xuất sắc nhiệm vụ",
        f"Quyết định của {DB}: Hoàn thành tốt nhiệm vụ",
        "Ban kiểm phiếu: Nguyễn Văn An; cần 1 thành viên để mở hòm phiếu.",
        "Vòng 1: xếp loại tổ chức đảng, tập thể",
        "Vòng 2: xếp loại đảng viên",
        f"{CB01} | 3 | 1 | 0 | 0 | 0 | HTXS",
        "Nguyễn Văn An | 3 | 1 | 0 | 0 | 0 | HTXS",
        "Phạm Thị Dung | 0 | 3 | 1 | 0 | 0 | HTT",
    ):
        assert line in lines, (line, text)
    # The ballot's part names the counting committee and the candidates with their counts;
    # no voter beside a choice, no receipt.
    ballot = section(lines, "IV. Kết quả bỏ phiếu kín", "V. ")
    named = [line for line in ballot if any(name in line for name in PEOPLE.values())]
    assert named == ["Ban kiểm phiếu: Nguyễn Văn An; cần 1 thành viên để mở hòm phiếu."], ballot
    counts = [line for line in lines if line.count(" | ") == 6]
    assert len(counts) == 2 + 1 + 4, counts  # two headers, the cell, its four members
    assert not any(receipt in text for receipt in receipts)


@dataclass
class Run:
    """What every phase of the test uses."""

    world: Tree
    days: Days
    clock: Clock
    fake: FakeTelegram
    bot: BotRunner

    @property
    def users(self) -> dict:
        return self.world.users

    def user(self, code: str):
        return self.world.users[code]

    @property
    def due(self) -> str:
        return self.days.due.strftime("%d/%m/%Y")


@pytest.mark.parametrize(("rulebook", "sets"), [("hd21-2019", ()),
                                                ("qd366-2025", ("head_cap=true",))])
async def test_a_grassroots_organisation_and_its_cells_through_the_whole_cycle(
    rulebook, sets, tmp_path, cli_env, bot, fake_telegram, database_url, clock
):
    days = Days.of(YEAR)
    clock.current = days.at(-11, 9)  # a Friday, eleven days before the meetings
    world = await cycle_world(tmp_path, cli_env, fake_telegram, database_url, clock(), rulebook,
                              *sets)
    run = Run(world, days, clock, fake_telegram, bot)

    await load_framework(run)
    await schedule_meetings(run)
    # CB03's draft goes out at once; CB02's is prepared and left there (services, part A).
    await prepare_draft(world, "CB03", CB03_DRAFT, head="DV008", now=clock(), circulate=True)
    await prepare_draft(world, "CB02", CB02_DRAFT, head="DV005", now=clock(), circulate=False)
    await prepare_cb01(run)
    await deadlines(run)
    receipts = await meeting_of_cb01(run)
    # CB02 and CB03 meet the same afternoon (services, part B): HTXS and HTT.
    assert await hold_meeting(world, "CB02", head="DV005", level=Level.HTXS,
                              now=days.at(0, 15)) == 945
    assert await hold_meeting(world, "CB03", head="DV008", level=Level.HTT,
                              now=days.at(0, 17)) == 800
    await opinions(run)
    await decision(run)
    await minutes_and_file(run, receipts)

    async def stored(session):
        ratings = (await session.execute(
            select(UnitReview.org_id, UnitRating.state, UnitRating.proposed_level,
                   UnitRating.decided_level, UnitRating.score_tenths)
            .join(UnitRating, UnitRating.review_id == UnitReview.id)
            .order_by(UnitReview.org_id))).all()
        rounds = (await session.execute(select(BallotRound.kind, BallotRound.state)
                                        .order_by(BallotRound.id))).all()
        adjustments = (await session.execute(select(ScoreAdjustment.kind, ScoreAdjustment.agreed)
                                             .order_by(ScoreAdjustment.id))).all()
        history = (await session.scalars(select(UnitRatingChange.kind)
                                         .order_by(UnitRatingChange.id))).all()
        return ratings, rounds, adjustments, history

    ratings, rounds, adjustments, history = await query(database_url, stored)
    assert [tuple(r)[1:] for r in ratings] == [("decided", "HTT", "HTT", 920),
                                               ("decided", "HTXS", "HTXS", 945),
                                               ("decided", "HTT", "HTT", 800)], ratings
    assert [tuple(r) for r in rounds] == [("units", "closed"), ("members", "closed")]
    assert [tuple(a) for a in adjustments] == [("deduction", True), ("addition", True)]
    assert history.count("lowered") == 1 and history.count("decided") == 3
    assert not fake_telegram.refused
    assert not fake_telegram.unanswered_callbacks()


async def load_framework(run: Run) -> None:
    """The đảng ủy takes the template and sends it back: its cells inherit the framework."""
    hoa = run.user("DV007")
    await hoa.send("/mau_khung")
    assert f"Mẫu khung tiêu chí cho {DB}" in (await hoa.wait_message()).text
    template = (await hoa.wait_message()).document
    assert openpyxl.load_workbook(io.BytesIO(template.content)).sheetnames[0] == "Hướng dẫn"
    await hoa.send_document(template.content, "khung-tieu-chi.xlsx")
    preview = await hoa.wait_message()
    assert "• Chi bộ trực thuộc: 7 tiêu chí, 6 tiêu chí được chấm điểm, tổng 100 điểm" \
        in preview.text, preview.text
    done = await press_then_edit(hoa, "✅ Nạp khung", preview)
    assert done.text.startswith(f"Đã nạp khung tiêu chí cho {DB}.")


async def schedule_meetings(run: Run) -> None:
    """Each cell meets on the first Tuesday of December: the draft is due the Thursday before."""
    for code, hour in (("DV001", "08:00"), ("DV005", "14:00"), ("DV008", "16:00")):
        await ask(run.user(code), "/lich_hop")
        saved = await ask(run.user(code), f"{on(run.days, 0)} {hour}")
        assert f"chậm nhất ngày {run.due} (trước hội nghị 3 ngày làm việc)" in saved.text, \
            saved.text


async def prepare_cb01(run: Run) -> None:
    """CB01's secretary: the report as a Word file, the draft sheet, a deduction and an
    addition proposed; the deputy comments as the committee."""
    an, cuong = run.user("DV001"), run.user("DV003")
    home = await ask(an, "/tap_the")
    assert home.text.startswith(f"📋 Kiểm điểm {CB01} (tổ chức đảng) năm {YEAR}"), home.text
    assert f"Dự thảo phải đến 4 đồng chí dự hội nghị chậm nhất ngày {run.due}." in home.text
    assert "tối đa 5 MB" in (await answer_of(an, "📎 Tệp Word", home)).text
    await an.send_document(REPORT, "bao-cao-kiem-diem.docx")
    taken = await an.wait_message()
    assert taken.text.startswith(f"Tệp Word «bao-cao-kiem-diem.docx» nay là báo cáo của {CB01}")
    home = await an.wait_message()
    assert "📝 Báo cáo: tệp Word «bao-cao-kiem-diem.docx»" in home.text, home.text

    sheet = await press_then_edit(an, "📊 Phiếu chấm điểm", home)
    await answer_of(an, "▶ Chấm tiêu chí tiếp", sheet)
    for typed in MARKS[:-1]:
        prompt = await ask(an, typed)
        assert prompt.text.startswith("✅ Đã lưu"), prompt.text
    done = await ask(an, MARKS[-1])
    assert "Đã chấm đủ các tiêu chí. Tổng: 92 điểm" in done.text, done.text

    adjust = await press_then_edit(an, "± Trừ, cộng điểm", done)
    await answer_of(an, "➖ Đề xuất trừ điểm", adjust)
    adjust = await ask(an, f"2; 12; {DEDUCTION[0]}; {DEDUCTION[1]}")
    assert "➖ 2: không đạt 12% chỉ tiêu, −1 điểm" in adjust.text, adjust.text
    await answer_of(an, "➕ Đề xuất cộng điểm", adjust)
    adjust = await ask(an, f"3; 1,5; {ADDITION[0]}; {ADDITION[1]}")
    assert "Tổng: 92,5 điểm (92 điểm các tiêu chí, −1, +1,5): Hoàn thành xuất sắc nhiệm vụ." \
        in adjust.text, adjust.text

    home = await press_then_edit(an, "◀ Quay lại", adjust)
    asked = await answer_of(an, "👥 Lấy ý kiến cấp ủy", home)
    assert asked.text == "Đã gửi dự thảo đến 1 cấp ủy viên để lấy ý kiến."
    draft = await cuong.wait_message()
    await cuong.press("💬 Góp ý", message=draft)
    await cuong.wait_message()  # the draft again
    assert (await cuong.wait_message()).text.startswith("💬 Góp ý của đồng chí")
    assert (await ask(cuong, COMMITTEE_COMMENT)).text == \
        "Cảm ơn đồng chí: góp ý đã được gửi đến Nguyễn Văn An."
    assert COMMITTEE_COMMENT in (await an.wait_message()).text


async def deadlines(run: Run) -> None:
    """R-D1 in the deadline monitor: CB01's and CB02's secretaries reminded three days before
    the due day; CB01's draft goes out on time and a member comments; CB02's does not, and
    the day after its secretary is warned and the đảng ủy's committee told."""
    an, binh = run.user("DV001"), run.user("DV002")
    await run.fake.wait_idle(quiet=0.2)
    inbox = Inbox(run.users)
    run.clock.current = run.days.at(-8, 10)  # Monday: three days before the due Thursday
    await monitor(run.bot, run.clock)
    reminded = drafts(inbox.all_new())
    assert sorted(reminded) == ["DV001", "DV005"], reminded
    assert reminded["DV001"][0].startswith(
        f"📄 Dự thảo báo cáo kiểm điểm của {CB01} (tổ chức đảng) phải gửi đến các đồng chí dự "
        f"hội nghị chậm nhất ngày {run.due} (còn 3 ngày)"), reminded

    question = await answer_of(an, "📤 Gửi dự thảo", await ask(an, "/tap_the"))
    assert question.text.startswith(
        f"📤 Gửi dự thảo của {CB01} (tổ chức đảng) đến 4 đồng chí dự hội nghị?"), question.text
    sent = await press_then_edit(an, "✅ Gửi dự thảo", question)
    assert sent.text == f"📤 Đã gửi dự thảo của {CB01} đến 3 đồng chí dự hội nghị."
    for code in ("DV002", "DV003", "DV004"):
        notice = await run.user(code).wait_message()
        assert notice.text.startswith(f"📄 Dự thảo báo cáo kiểm điểm của {CB01}"), notice.text
        assert notice.button_labels() == ["💬 Góp ý", "📄 Tệp Word"]
    assert "Đúng hạn." in (await ask(an, "/tap_the")).text
    await ask(binh, "/gop_y")
    assert (await binh.wait_message()).text.startswith("💬 Góp ý của đồng chí")
    assert (await ask(binh, MEMBER_COMMENT)).text == \
        "Cảm ơn đồng chí: góp ý đã được gửi đến Nguyễn Văn An, Lê Văn Cường."

    await run.fake.wait_idle(quiet=0.2)
    inbox = Inbox(run.users)
    run.clock.current = run.days.at(-4, 10)  # Friday, the day after the due day
    await monitor(run.bot, run.clock)
    warned = drafts(inbox.all_new())
    assert warned.pop("DV005")[0].startswith(
        f"⏰ Dự thảo báo cáo kiểm điểm của {CB02} (tổ chức đảng) phải gửi đến các đồng chí dự "
        f"hội nghị chậm nhất ngày {run.due}"), warned
    upper = (f"⏰ Dự thảo báo cáo kiểm điểm chưa gửi đến các đồng chí dự hội nghị trước 3 ngày "
             f"làm việc:\n• {CB02} (tổ chức đảng): hạn gửi {run.due}, hội nghị lúc 14:00 "
             f"{on(run.days, 0)}")
    assert warned == {"DV007": [upper], "DV009": [upper]}, warned
    await circulate_late(run.world, "CB02", head="DV005", now=run.days.at(-4, 11))


async def meeting_of_cb01(run: Run) -> list[str]:
    """CB01's meeting: attendance, the order (R-D3), every member's score sheet, the draft's
    deduction and addition agreed, the combined score, the units' ballot and the members'.
    Returns the receipts of the members' ballot."""
    users, fake = run.users, run.fake
    an, binh, cuong = users["DV001"], users["DV002"], users["DV003"]
    run.clock.current = run.days.at(0, 8, 5)
    assert (await ask(binh, "/gop_y CB01")).text.startswith(f"Hội nghị của {CB01} đã bắt đầu")
    meeting = await ask(an, "/hop")
    await press(an, EVERYONE, meeting)
    assert "Có mặt: 4/4 đảng viên" in meeting.text, meeting.text
    refused = await ask(an, "/bo_phieu")  # R-D3: the collective first
    assert "Kiểm điểm tập thể trước" in refused.text and f"Chưa kiểm điểm: {CB01}." in refused.text
    await press(an, ORDER, meeting)
    order = meeting.text
    assert f"⏳ {CB01}: báo cáo đã gửi trước cho người dự hội nghị; 2 ý kiến góp ý." in order, order
    people = ["1. Nguyễn Văn An — bí thư", "2. Lê Văn Cường — phó bí thư", "3. Trần Thị Bình",
              "4. Phạm Thị Dung"]
    assert [order.index(p) for p in people] == sorted(order.index(p) for p in people), order
    assert (await press(an, f"✅ Đã kiểm điểm: {CB01}", meeting)).text == \
        "Đã ghi nhận đã kiểm điểm."

    # Every member present scores: Cường lowers criterion 2, the others keep the draft.
    await press(an, SCORING, meeting)
    assert "0/4 đã chấm" in meeting.text, meeting.text
    assert "1. ☐ Trừ điểm, tiêu chí 2" in meeting.text and "2. ☐ Cộng điểm, tiêu chí 3" \
        in meeting.text, meeting.text
    sheets = {code: await until(lambda u=users[code]: next(
        (m for m in u.messages() if SHEET in (m.text or "")), None)) for code in VOTERS}
    assert "Tổng điểm các tiêu chí: 92/100 điểm." in sheets["DV003"].text, sheets["DV003"].text
    await press(cuong, "2: 37", sheets["DV003"])
    changed = await ask(cuong, "35")
    assert "✏ (dự thảo: 37)" in changed.text, changed.text
    assert (await press(cuong, SUBMIT, changed)).text == "Đã gửi."
    for code in ("DV001", "DV002", "DV004"):
        assert (await press(users[code], AGREE_DRAFT, sheets[code])).text == "Đã gửi."
    await press(an, "☐ 1", meeting)  # the meeting agrees the draft's deduction and addition
    await press(an, "☐ 2", meeting)
    assert "1. ✅ Trừ điểm, tiêu chí 2" in meeting.text and "2. ✅ Cộng điểm, tiêu chí 3" \
        in meeting.text, meeting.text
    await press(an, "🔒 Kết thúc chấm điểm", meeting)
    await press(an, CONFIRM, newest(an, f"Kết thúc chấm điểm {CB01}?"))
    result = await until(lambda: next((m for m in an.messages()
                                       if "Đã kết thúc chấm điểm" in (m.text or "")), None))
    # 92,5 three times and 90,5 (35 for 37): 92.
    assert "Điểm tổng hợp: 92 điểm; mức xếp loại tương ứng: HTXS." in result.text, result.text

    # The cell votes on its level by secret ballot, then on its members.
    before = len(an.messages())
    await press(an, "🗳 Bỏ phiếu xếp loại tập thể", result)
    await until(lambda: next((m for m in an.messages()[before:]
                              if "đã bỏ phiếu" in (m.text or "")), None), 30)
    for code, level in zip(VOTERS, ("HTXS", "HTXS", "HTXS", "HTT"), strict=True):
        ballot = newest(users[code], "Phiếu bầu kín")
        assert "Điểm tổng hợp 92 điểm: mức xếp loại tương ứng là HTXS." in ballot.text
        await press(users[code], level, ballot)
        assert (await press(users[code], "✅ Xác nhận bỏ phiếu", ballot)).text == \
            "Đồng chí đã bỏ phiếu."
    await fake.wait_idle()
    await unseal(an)  # a cell under five: the secretary alone holds the key
    units = await until(lambda: next((m for m in an.messages()
                                      if "Kết quả bỏ phiếu kín" in (m.text or "")), None))
    assert f"{CB01}: HTXS 3 · HTT 1 · HT 0 · KHT 0 · để trống 0 → HTXS" in units.text, units.text

    await start_round(an, fake)
    receipts = [await vote(users[code], {name: votes[index]
                                         for name, votes in MEMBER_VOTES.items()})
                for index, code in enumerate(VOTERS)]
    await fake.wait_idle()
    await unseal(an)
    members = await until(lambda: next(
        (m for m in an.messages() if f"Kết quả bỏ phiếu kín — {CB01}, vòng 2" in (m.text or "")),
        None), 30)
    assert "Nguyễn Văn An: HTXS 3 · HTT 1 · HT 0 · KHT 0 · để trống 0 → HTXS" in members.text, \
        members.text
    return receipts


async def opinions(run: Run) -> None:
    """The leadership's representative gives CB01's opinion in Telegram; CB02's through the
    service."""
    lua = run.user("DV010")
    run.clock.current = run.days.at(1, 9)
    units = await ask(lua, "/y_kien")
    assert units.button_labels() == [CB01, CB02, CB03, "✖ Hủy"], units.button_labels()
    level = await answer_of(lua, CB01, units)
    assert f"đối với {CB01}?" in level.text, level.text
    await answer_of(lua, "HTXS (Hoàn thành xuất sắc nhiệm vụ)", level)
    confirm = await ask(lua, OPINION)
    assert (await answer_of(lua, "✅ Lưu ý kiến", confirm)).text.startswith("Đã lưu ý kiến của")
    await give_opinion(run.world, "CB02", ParticipantBody.LEADERSHIP, Level.HTXS,
                       OTHER_OPINION, by="DV010", now=run.clock())


async def decision(run: Run) -> None:
    """The đảng ủy decides its three cells: R-Q7's breach shown, CB01 lowered with a reason,
    decided; CB01's secretary is now capped at the cell's level (R-C4)."""
    hoa, an = run.user("DV007"), run.user("DV001")
    run.clock.current = run.days.at(2, 9)
    view = await ask(hoa, "/quyet_dinh DBCS01")
    members = await hoa.wait_message()
    assert "Đề nghị, chờ quyết định: 3" in view.text, view.text
    assert f"• {CB01}: HTXS, 92 điểm" in view.text and f"• {CB02}: HTXS, 94,5 điểm" in view.text
    assert "⛔ Chưa thể quyết định vì còn vi phạm:" in view.text
    assert "2 tổ chức được đề nghị HTXS, tối đa 1 khi có dưới 5 tổ chức đạt HTT" in view.text
    assert "Chờ kết quả xếp loại tập thể: 1\n• Nguyễn Văn An (DV001): HTXS" in members.text, \
        members.text
    levels = await answer_of(hoa, f"⬇ Hạ mức: {CB01}", view)
    prompt = await answer_of(hoa, "HTT (Hoàn thành tốt nhiệm vụ)", levels)
    assert f"lý do hạ mức đề nghị của {CB01} xuống HTT" in prompt.text
    lowered = await answer_of(hoa, "✅ Xác nhận", await ask(hoa, LOWERED))
    assert lowered.text == f"Đã hạ mức đề nghị của {CB01} từ HTXS xuống HTT."
    view = await hoa.wait_message()
    assert "⛔" not in view.text, view.text
    done = await answer_of(hoa, "✅ Quyết định xếp loại 3 tổ chức, tập thể", view)
    assert done.text.startswith(f"{DB} đã quyết định xếp loại 3 tổ chức, tập thể, năm {YEAR}.")
    assert "Nguyễn Văn An (DV001): đề nghị HTXS, tối đa HTT" in done.text, done.text
    told = await until(lambda: next((m for m in an.messages() if "đã quyết định xếp loại chất "
                                     "lượng năm" in (m.text or "")), None))
    assert f"của {CB01}: HTT (Hoàn thành tốt nhiệm vụ)" in told.text
    await ask(hoa, "/quyet_dinh CB01")
    members = await hoa.wait_message()
    assert "Đồng chí Nguyễn Văn An được đề xuất HTXS, cao nhất chỉ được HTT" in members.text, \
        members.text
    assert members.button_labels() == ["✍️ Vẫn quyết định, ghi lý do"]


async def minutes_and_file(run: Run, receipts: list[str]) -> None:
    """The minutes and the file, downloaded from Telegram and reopened."""
    an, hoa, days = run.user("DV001"), run.user("DV007"), run.days
    summary = await ask(an, "/bien_ban")
    assert summary.text.startswith(f"📄 Biên bản hội nghị của {CB01} năm {YEAR} (dự thảo)")
    sent = (await an.wait_message()).document
    assert sent.file_name == f"bien-ban-CB01-{YEAR}.docx"
    check_minutes(reopen(sent.content), days, receipts)

    progress = await ask(hoa, "/ho_so CB01")
    assert progress.text == f"⏳ Đang tổng hợp hồ sơ của {CB01}…"
    summary = await hoa.wait_message()
    assert "• Tổng hợp kết quả thẩm định của cơ quan, đơn vị, tổ chức (hệ thống không lưu)" \
        in summary.text, summary.text
    archive = (await hoa.wait_message()).document
    assert archive.file_name == f"ho-so-CB01-{YEAR}.zip"
    with zipfile.ZipFile(io.BytesIO(archive.content)) as opened:
        files = {name: opened.read(name) for name in opened.namelist()}
    assert sorted(files) == ["00-danh-muc-ho-so.docx", "01-bao-cao-kiem-diem.docx",
                             "02-ket-qua-cham-diem.docx", "03-bien-ban-hoi-nghi.docx",
                             "04-xep-loai.docx", "05-y-kien-tham-gia.docx"]
    assert files["01-bao-cao-kiem-diem.docx"] == REPORT  # the Word file as its head sent it
    check_minutes(reopen(files["03-bien-ban-hoi-nghi.docx"]), days, receipts)
    scores = reopen(files["02-ket-qua-cham-diem.docx"])
    assert "2 | Lãnh đạo thực hiện nhiệm vụ chính trị được giao | 40 | 37 | 36,5" in scores
    rating = reopen(files["04-xep-loai.docx"])
    assert "Mức đề nghị: Hoàn thành xuất sắc nhiệm vụ" in rating, rating
    assert f"{DB} quyết định ngày {on(days, 2)}: Hoàn thành tốt nhiệm vụ" in rating, rating
    assert f"09:00 {on(days, 2)} | hạ mức | HTT | {LOWERED} | {DB}" in rating, rating
    said = reopen(files["05-y-kien-tham-gia.docx"])
    assert (f"Tập thể lãnh đạo cơ quan, đơn vị (ngày {on(days, 1)}); mức đề xuất: Hoàn thành "
            "xuất sắc nhiệm vụ") in said, said
    assert f"– {OPINION}" in said and f"– {OTHER_OPINION}" not in said  # CB02's is CB02's
    assert not any(PEOPLE["DV010"] in line for line in said)  # outside the cell: unnamed
