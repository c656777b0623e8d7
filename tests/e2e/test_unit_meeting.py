"""Issue 14 part B through the fake Bot API: the meeting's order (R-D3), the members' ballot
refused before the collectives and allowed with a recorded reason, the members scoring their
cell (one changes marks, one types a wrong value first), a deduction and an addition agreed,
the draft's proposal agreed, and the combined score computed by hand."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from storage.models import AuditEntry
from storage.models import BallotCandidate
from storage.models import BallotRound
from storage.models import Meeting
from storage.models import Organisation
from storage.models import Role
from storage.models import ScoreAdjustment
from storage.models import ScoreSheet
from storage.models import UnitRating
from storage.models import UnitRatingChange
from storage.models import UnitReview
from tests.e2e.meetingkit import AGREE_DRAFT
from tests.e2e.meetingkit import CONFIRM
from tests.e2e.meetingkit import EVERYONE
from tests.e2e.meetingkit import ORDER
from tests.e2e.meetingkit import SCORING
from tests.e2e.meetingkit import SHEET
from tests.e2e.meetingkit import SUBMIT
from tests.e2e.meetingkit import add_draft
from tests.e2e.meetingkit import add_framework
from tests.e2e.meetingkit import draft_marks
from tests.e2e.meetingkit import points
from tests.e2e.test_ballot import Cell
from tests.e2e.test_ballot import Person
from tests.e2e.test_ballot import build
from tests.e2e.test_ballot import newest
from tests.e2e.test_ballot import open_meeting
from tests.e2e.test_ballot import press
from tests.e2e.test_ballot import query
from tests.e2e.test_ballot import start_round
from tests.e2e.test_ballot import unseal
from tests.e2e.test_ballot import until

PEOPLE = [
    Person("DV01", "Nguyễn Văn An", role="secretary"),
    Person("DV02", "Trần Thị Bình", role="deputy"),
    Person("DV03", "Lê Văn Cường"),
    Person("DV04", "Phạm Thị Dung"),
    Person("DV05", "Hoàng Văn Em", official=False, admitted_months_ago=8),
    Person("DV06", "Vũ Thị Giang", started=False),  # no linked account: no sheet reaches her
]
REASON_TOO_SHORT = "Gấp"
REASON = "Đồng chí bí thư đảng ủy phải về trước, hội nghị thống nhất bỏ phiếu đảng viên trước."


async def _cell(database_url, fake, *, framework=True, draft=True):
    cell = Cell("CB01", "Chi bộ Khu phố 1", PEOPLE)
    await build(database_url, fake, [cell], collectives=False)
    year = await query(database_url, lambda s: _year(s))
    if framework:
        await add_framework(database_url, "DBCS01", year)
    if draft:
        await add_draft(database_url, "CB01")
    return cell


async def _year(session):
    from storage.models import Cycle

    return (await session.scalar(select(Cycle))).year


def _skip(user) -> None:
    """The next wait_message returns a message sent from now on."""
    user._msg_cursor[user.chat_id] = len(user._fake._chats[user.chat_id].bot_messages)


async def _answer(user, label, message):
    return (await user.wait_answer(await user.press(label, message=message))).text


async def test_order_then_scoring_with_agreed_adjustments(bot, fake_telegram, database_url):
    cell = await _cell(database_url, fake_telegram)
    an, binh, cuong, dung, em = (cell.users[c] for c in ("DV01", "DV02", "DV03", "DV04", "DV05"))

    meeting = await open_meeting(an)
    assert ORDER in meeting.button_labels()

    # The members' ballot waits for the collectives (R-D3).
    before = len(an.messages())
    await an.send("/bo_phieu")
    refused = await until(lambda: next((m for m in an.messages()[before:]
                                        if "Kiểm điểm tập thể trước" in (m.text or "")), None))
    assert "Chưa kiểm điểm: Chi bộ Khu phố 1." in refused.text
    assert "✍ Ghi lý do bỏ phiếu trước" in refused.button_labels()

    # The order: the collectives, then the head, the deputy, the members by name.
    await press(an, ORDER, meeting)
    text = meeting.text
    assert "Trình tự hội nghị Chi bộ Khu phố 1" in text
    assert "Chi bộ Khu phố 1: báo cáo đã gửi trước cho người dự hội nghị." in text
    people = ["1. Nguyễn Văn An — bí thư", "2. Trần Thị Bình — phó bí thư", "3. Lê Văn Cường",
              "4. Phạm Thị Dung", "5. Hoàng Văn Em", "6. Vũ Thị Giang"]
    positions = [text.index(line) for line in people]
    assert positions == sorted(positions), text
    assert "đồng chí cấp phó chủ trì" in text
    assert SCORING not in meeting.button_labels()  # scoring comes after the collectives
    assert await _answer(an, "✅ Đã kiểm điểm: Chi bộ Khu phố 1", meeting) == \
        "Đã ghi nhận đã kiểm điểm."
    assert "✅ Chi bộ Khu phố 1: đã kiểm điểm tại hội nghị này." in meeting.text
    assert "có thể mở bỏ phiếu kín xếp loại đảng viên" in meeting.text

    # Scoring opens: a sheet for each of the six present, five reach their phones.
    await press(an, SCORING, meeting)
    assert "0/6 đã chấm" in meeting.text, meeting.text
    assert "Chưa gửi được phiếu cho: Vũ Thị Giang" in meeting.text
    assert "1. ☐ Cộng điểm, tiêu chí 3: +1 điểm (đề xuất, chưa thống nhất)" in meeting.text
    sheets = {user: await until(lambda u=user: next(
        (m for m in u.messages() if SHEET in (m.text or "")), None)) for user in (an, binh, cuong, dung, em)}
    sheet = sheets[cuong]
    assert "Phiếu đã điền sẵn theo dự thảo" in sheet.text
    assert "1.2 Công tác giáo dục chính trị, tư tưởng: nội dung… — 4,5/5" in sheet.text
    assert "Tổng điểm các tiêu chí: 95,5/100 điểm." in sheet.text
    assert len([b for b in sheet.button_labels() if ":" in b]) == 22

    # Cường changes 2.1 by typing: a word, then too many points, then 3,5.
    await press(cuong, "2.1: 5", sheet)
    assert "Tiêu chí 2.1 (tối đa 5 điểm)" in sheet.text
    _skip(cuong)
    await cuong.send("ba điểm")
    assert (await cuong.wait_message()).text == "Đồng chí gõ số điểm, ví dụ 8 hoặc 8,5."
    await cuong.send("7")
    assert (await cuong.wait_message()).text == "Tiêu chí 2.1 chấm từ 0 đến 5 điểm."
    await cuong.send("3,5")
    again = await cuong.wait_message()
    assert "2.1 Lãnh đạo thực hiện nhiệm vụ chính trị: nội dung… — 3,5/5 ✏ (dự thảo: 5)" in again.text
    assert AGREE_DRAFT not in again.button_labels()
    assert await _answer(cuong, SUBMIT, again) == "Đã gửi."
    assert "Đồng chí đã gửi phiếu chấm điểm Chi bộ Khu phố 1: 94 điểm." in again.text

    # Bình raises 2.3 with a quick button; An and Em agree with the draft; Dung does nothing.
    sheet = sheets[binh]
    await press(binh, "2.3: 4", sheet)
    await press(binh, "5", sheet)
    assert "2.3 Lãnh đạo thực hiện nhiệm vụ chính trị: nội dung… — 5/5 ✏ (dự thảo: 4)" in sheet.text
    await press(binh, SUBMIT, sheet)
    for user in (an, em):
        assert await _answer(user, AGREE_DRAFT, sheets[user]) == "Đã gửi."
    await press(an, "🔄 Cập nhật", meeting)
    assert "4/6 đã chấm" in meeting.text and "Chưa chấm: Phạm Thị Dung, Vũ Thị Giang" in meeting.text

    # The meeting agrees the draft's addition, a deduction and another addition.
    await press(an, "☐ 1", meeting)
    assert "1. ✅ Cộng điểm, tiêu chí 3: +1 điểm" in meeting.text
    await press(an, "➖ Trừ điểm", meeting)
    prompt = newest(an, "Tiêu chí nào?")
    assert "✖ Hủy" in prompt.button_labels()
    _skip(an)
    await an.send("9.9")
    assert (await an.wait_message()).text == "Khung tiêu chí của Chi bộ Khu phố 1 không có tiêu chí 9.9."
    await press(an, "2", prompt)
    amount = await an.wait_message()
    assert "Chỉ tiêu không đạt bao nhiêu phần trăm?" in amount.text
    await an.send("nhiều")
    assert (await an.wait_message()).text == "Đồng chí gõ một số, ví dụ 12 hoặc 1,5."
    await an.send("12%")
    assert "Lý do?" in (await an.wait_message()).text
    await an.send("Thu ngân sách chỉ đạt 88% chỉ tiêu nghị quyết.")
    assert "chịu trách nhiệm" in (await an.wait_message()).text
    await an.send("Đồng chí Lê Văn Cường, phụ trách kinh tế")
    screen = await an.wait_message()
    assert "Đã lưu: hội nghị đã thống nhất." in screen.text
    assert "2. ✅ Trừ điểm, tiêu chí 2: chỉ tiêu không đạt 12% → −1 điểm" in screen.text

    await press(an, "➕ Cộng điểm", screen)
    prompt = newest(an, "Tiêu chí nào?")
    _skip(an)
    await press(an, "4", prompt)
    await an.wait_message()
    await an.send("3")
    assert (await an.wait_message()).text == "Điểm cộng phải lớn hơn 0 và tối đa 2 điểm cho mỗi nội dung."
    await an.send("1,5")
    await an.wait_message()
    await an.send("Không có đảng viên vi phạm kỷ luật năm thứ năm liên tiếp.")
    await an.wait_message()
    await an.send("Chi ủy")
    screen = await an.wait_message()
    assert "3. ✅ Cộng điểm, tiêu chí 4: +1,5 điểm" in screen.text

    # The meeting lowers that addition to 0,5, keeping the rest.
    await press(an, "✏ 3", screen)
    prompt = newest(an, "Tiêu chí nào?")
    _skip(an)
    await press(an, "➡ Giữ nguyên: 4", prompt)
    await an.wait_message()
    await an.send("0,5")
    keep = await an.wait_message()
    await press(an, next(b for b in keep.button_labels() if b.startswith("➡ Giữ nguyên")), keep)
    keep = await an.wait_message()
    await press(an, "➡ Giữ nguyên: Chi ủy", keep)
    screen = await an.wait_message()
    assert "3. ✅ Cộng điểm, tiêu chí 4: +0,5 điểm" in screen.text

    # Closing asks first, and says whose sheets are not counted.
    await press(an, "🔒 Kết thúc chấm điểm", screen)
    confirm = newest(an, "Kết thúc chấm điểm Chi bộ Khu phố 1?")
    assert "Không tính, chưa gửi phiếu: Phạm Thị Dung, Vũ Thị Giang." in confirm.text
    await press(an, CONFIRM, confirm)
    result = await until(lambda: next((m for m in an.messages()
                                       if "Đã kết thúc chấm điểm" in (m.text or "")), None))
    # By hand: the draft totals 95,5; the agreed adjustments add +1 −1 +0,5 = +0,5.
    draft = sum(points(v) for v in draft_marks().values())
    assert draft == points(955)
    totals = [draft + points(5), draft + points(5), draft + points(15), draft - points(10)]
    assert sorted(totals) == sorted([points(960), points(960), points(970), points(945)])
    # The mean 95,875 rounds half up to a tenth: 95,9, in the band of HTXS (90 and above).
    assert "Điểm tổng hợp: 95,9 điểm; mức xếp loại tương ứng: HTXS." in result.text
    assert "Số phiếu được tính: 4." in result.text

    async def stored(session):
        review = await session.scalar(select(UnitReview))
        adjustments = (await session.scalars(select(ScoreAdjustment))).all()
        sheets = (await session.scalars(select(ScoreSheet).where(ScoreSheet.member_id.is_not(None)))).all()
        actions = (await session.scalars(select(AuditEntry.action))).all()
        return review, adjustments, sheets, actions

    review, adjustments, sheets_stored, actions = await query(database_url, stored)
    assert review.combined_tenths == 959 and review.state == "reviewed" and review.meeting_id
    assert [(a.kind, a.criterion, a.agreed) for a in adjustments] == [
        ("addition", "3", True), ("deduction", "2", True), ("addition", "4", True)]
    assert adjustments[1].shortfall_tenths == 120 and adjustments[2].points_tenths == 5
    assert sum(1 for s in sheets_stored if s.submitted_at) == 4
    assert {"unit.reviewed", "unit.scoring_open", "unit.scoring_close"} <= set(actions)
    # Dung hears the result; her sheet no longer takes marks.
    notice = await until(lambda: next((m for m in dung.messages()
                                       if "Đã kết thúc chấm điểm" in (m.text or "")), None))
    assert "95,9" in notice.text
    answer = await _answer(dung, AGREE_DRAFT, sheets[dung])
    assert answer == "Việc chấm điểm Chi bộ Khu phố 1 đã kết thúc; không thể sửa điểm nữa."

    # The cell votes on its level by secret ballot: the combined score's band is suggested.
    # Round 1 decides nothing: HTXS 1, with HTT 2 of the denominator 5 (3 needed, R-B4).
    votes_1 = {an: "HTXS", binh: "HTT", cuong: "Để trống", dung: "Để trống"}
    await _unit_round(an, fake_telegram, "🗳 Bỏ phiếu xếp loại tập thể", result, votes_1)
    first = newest(an, "Kết quả bỏ phiếu kín")
    assert "Chi bộ Khu phố 1: HTXS 1 · HTT 1 · HT 0 · KHT 0 · để trống 2 → chưa có kết quả, bỏ phiếu lại" in first.text
    assert await query(database_url, lambda s: s.scalar(select(UnitRating))) is None
    # Round 2 on the undecided collective: HTXS 3 of 5.
    votes_2 = {an: "HTXS", binh: "HTXS", cuong: "HTXS", dung: "HTT"}
    await _unit_round(an, fake_telegram, "🗳 Bỏ phiếu lại cho 1 tập thể", first, votes_2)
    second = newest(an, "Kết quả bỏ phiếu kín")
    assert "Chi bộ Khu phố 1: HTXS 3 · HTT 1 · HT 0 · KHT 0 · để trống 0 → HTXS" in second.text
    assert "Mức được biểu quyết là mức đề xuất của các tập thể" in second.text

    async def proposal(session):
        rating = await session.scalar(select(UnitRating))
        history = (await session.scalars(select(UnitRatingChange))).all()
        rounds = (await session.scalars(select(BallotRound).order_by(BallotRound.number))).all()
        candidates = (await session.scalars(select(BallotCandidate))).all()
        return rating, history, rounds, candidates

    rating, history, rounds, candidates = await query(database_url, proposal)
    assert (rating.proposed_level, rating.score_tenths, rating.state) == ("HTXS", 959, "proposed")
    assert [(h.kind, h.level) for h in history] == [("proposed", "HTXS")]
    assert [(r.number, r.kind, r.state) for r in rounds] == [(1, "units", "closed"), (2, "units", "closed")]
    assert all(c.review_id == review.id and c.candidate_id is None for c in candidates)
    await press(an, ORDER, result)  # the closed scoring's message shows the order
    shown = result
    assert "Mức đề xuất theo kết quả bỏ phiếu: HTXS." in shown.text
    assert "🗳 Bỏ phiếu xếp loại tập thể" not in shown.button_labels()

    # The collectives are reviewed: the members' ballot opens, numbered after the units'.
    progress = await start_round(an, fake_telegram)
    assert "0/5 đã bỏ phiếu" in progress.text and "vòng 3" in progress.text
    assert not fake_telegram.refused
    assert not fake_telegram.unanswered_callbacks()


async def _unit_round(secretary, fake, label, message, votes) -> None:
    """Open a round on the collectives from `message`, cast `votes` (user -> the button of the
    level), close the round (a voter cannot be reached), and open the box."""
    before = len(secretary.messages())
    await press(secretary, label, message)
    progress = await until(lambda: next(
        (m for m in secretary.messages()[before:] if "đã bỏ phiếu" in (m.text or "")), None), 30)
    assert "Số tập thể được xếp loại: 1" in progress.text
    for user, choice in votes.items():
        ballot = newest(user, "Phiếu bầu kín")
        assert "Tập thể 1/1: Chi bộ Khu phố 1" in ballot.text
        assert "Điểm tổng hợp 95,9 điểm: mức xếp loại tương ứng là HTXS." in ballot.text
        await press(user, choice, ballot)
        assert "Chi bộ Khu phố 1: " in ballot.text and "Đồng chí đã chọn:" in ballot.text
        assert (await press(user, "✅ Xác nhận bỏ phiếu", ballot)).text == "Đồng chí đã bỏ phiếu."
    await fake.wait_idle()
    await press(secretary, "🔒 Kết thúc vòng bỏ phiếu", progress)
    await press(secretary, CONFIRM, newest(secretary, "Kết thúc vòng bỏ phiếu"))
    await fake.wait_idle()
    binh = next(u for u in votes if u is not secretary)
    await unseal(secretary, binh)
    await fake.wait_idle()


async def test_the_ballot_goes_first_with_a_recorded_reason(bot, fake_telegram, database_url):
    cell = await _cell(database_url, fake_telegram, framework=False, draft=False)
    an = cell.users["DV01"]
    await open_meeting(an)
    before = len(an.messages())
    await an.send("/bo_phieu")
    refused = await until(lambda: next((m for m in an.messages()[before:]
                                        if "Kiểm điểm tập thể trước" in (m.text or "")), None))
    await press(an, "✍ Ghi lý do bỏ phiếu trước", refused)
    prompt = newest(an, "Vì sao hội nghị")
    assert "✖ Hủy" in prompt.button_labels()
    _skip(an)
    await an.send(REASON_TOO_SHORT)
    assert (await an.wait_message()).text == "Đồng chí ghi lý do từ 10 đến 1000 ký tự."
    await an.send(REASON)
    confirm = await an.wait_message()
    assert REASON in confirm.text
    await press(an, CONFIRM, confirm)
    saved = await an.wait_message()
    assert saved.text == "Đã ghi lý do. Đồng chí có thể mở bỏ phiếu kín xếp loại đảng viên."
    stored = await query(database_url, lambda s: s.scalar(select(Meeting.order_reason)))
    assert stored == REASON

    before = len(an.messages())
    await press(an, "🗳 Mở bỏ phiếu kín", saved)
    progress = await until(lambda: next(
        (m for m in an.messages()[before:] if "đã bỏ phiếu" in (m.text or "")), None), 30)
    assert "0/5 đã bỏ phiếu" in progress.text
    assert not fake_telegram.refused
    assert not fake_telegram.unanswered_callbacks()


# --- a đảng bộ cơ sở: its committee's meeting -----------------------------------------------------

OTHERS = [Person("DV21", "Đỗ Văn Khánh", role="secretary"), Person("DV22", "Hồ Thị Lan")]
LEADERS = {"DV01": "secretary", "DV02": "deputy", "DV04": "committee_member",
           "DV21": "committee_member"}


async def _leaders(database_url, cells) -> None:
    async def run(session):
        root = await session.scalar(select(Organisation).where(Organisation.code == "DBCS01"))
        for cell in cells:
            for code, role in LEADERS.items():
                if code in cell.member_ids:
                    session.add(Role(member_id=cell.member_ids[code], org_id=root.id, role=role))

    await query(database_url, run)


async def test_a_grassroots_committee_reviews_scores_and_votes(bot, fake_telegram, database_url):
    cb01 = Cell("CB01", "Chi bộ Khu phố 1", PEOPLE)
    cb02 = Cell("CB02", "Chi bộ Khu phố 2", OTHERS)
    await build(database_url, fake_telegram, [cb01, cb02], collectives=False)
    await _leaders(database_url, [cb01, cb02])
    year = await query(database_url, lambda s: _year(s))
    await add_framework(database_url, "DBCS01", year)
    await add_draft(database_url, "DBCS01")
    an, binh, dung, khanh = cb01.users["DV01"], cb01.users["DV02"], cb01.users["DV04"], cb02.users["DV21"]
    leaders = (an, binh, dung, khanh)

    # /hop DBCS01: the attendance is the committee's four members, not the cells'.
    _skip(an)
    await an.send("/hop DBCS01")
    meeting = await an.wait_message()
    assert "Hội nghị kiểm điểm năm 2026 — Đảng bộ Phường Bến Thành" in meeting.text, meeting.text
    names = [b for b in meeting.button_labels() if b.startswith("❌")]
    assert names == ["❌ Nguyễn Văn An", "❌ Trần Thị Bình", "❌ Phạm Thị Dung", "❌ Đỗ Văn Khánh"]
    await press(an, EVERYONE, meeting)
    await press(an, ORDER, meeting)
    text = meeting.text
    assert "Đảng bộ Phường Bến Thành: báo cáo đã gửi trước" in text
    assert "Tập thể cấp ủy Đảng bộ Phường Bến Thành: chưa có báo cáo trên hệ thống" in text
    assert "Cấp dưới kiểm điểm trước; các chi bộ sau chưa kiểm điểm: Chi bộ Khu phố 1, Chi bộ Khu phố 2." in text
    assert text.index("1. Nguyễn Văn An — bí thư") < text.index("2. Trần Thị Bình — phó bí thư") \
        < text.index("3. Phạm Thị Dung") < text.index("4. Đỗ Văn Khánh")
    assert "Đảng ủy biểu quyết mức xếp loại của đảng bộ và của tập thể đảng ủy." in text
    await press(an, "✅ Đã kiểm điểm: Đảng bộ Phường Bến Thành", meeting)
    await press(an, "✅ Đã kiểm điểm: Tập thể cấp ủy Đảng bộ Phường Bến Thành", meeting)

    # The committee's members score the đảng bộ; everyone agrees with the draft.
    await press(an, SCORING, meeting)
    assert "0/4 đã chấm" in meeting.text
    for user in leaders:
        sheet = await until(lambda u=user: next(
            (m for m in u.messages() if "Phiếu chấm điểm Đảng bộ Phường Bến Thành" in (m.text or "")), None))
        await press(user, AGREE_DRAFT, sheet)
    done = await until(lambda: next((m for m in binh.messages() if "Tất cả đảng viên có mặt đã chấm"
                                     in (m.text or "")), None))  # the deputy hears it too
    assert "(4 phiếu)" in done.text and SCORING in done.button_labels()
    await press(an, "🔄 Cập nhật", meeting)
    assert "4/4 đã chấm" in meeting.text
    await press(an, "🔒 Kết thúc chấm điểm", meeting)
    await press(an, CONFIRM, newest(an, "Kết thúc chấm điểm"))
    result = await until(lambda: next((m for m in an.messages()
                                       if "Đã kết thúc chấm điểm" in (m.text or "")), None))
    assert "Điểm tổng hợp: 95,5 điểm; mức xếp loại tương ứng: HTXS." in result.text

    # One round on both collectives; voters: the four official members of the committee.
    before = len(an.messages())
    await press(an, "🗳 Bỏ phiếu xếp loại tập thể", result)
    await until(lambda: next((m for m in an.messages()[before:]
                              if "0/4 đã bỏ phiếu" in (m.text or "")), None), 30)
    for user, committee in zip(leaders, ("HTT", "HTT", "HTT", "HTXS"), strict=True):
        ballot = newest(user, "Phiếu bầu kín")
        assert "Tập thể 1/2: Đảng bộ Phường Bến Thành" in ballot.text
        await press(user, "HTXS", ballot)
        assert "Tập thể 2/2: Tập thể cấp ủy Đảng bộ Phường Bến Thành" in ballot.text
        assert "Không chấm điểm: không có mức gợi ý." in ballot.text
        await press(user, committee, ballot)
        await press(user, "✅ Xác nhận bỏ phiếu", ballot)
    await fake_telegram.wait_idle()
    await unseal(an)  # a committee of four: the secretary alone holds the key (1 of 1)
    await fake_telegram.wait_idle()
    results = newest(an, "Kết quả bỏ phiếu kín")
    assert "Đảng bộ Phường Bến Thành: HTXS 4" in results.text
    assert "Tập thể cấp ủy Đảng bộ Phường Bến Thành: HTXS 1 · HTT 3" in results.text

    async def ratings(session):
        rows = await session.execute(
            select(UnitReview.subject, UnitRating.proposed_level, UnitRating.score_tenths)
            .join(UnitRating, UnitRating.review_id == UnitReview.id).order_by(UnitReview.subject))
        return [tuple(r) for r in rows]

    assert await query(database_url, ratings) == [("committee", "HTT", None),
                                                  ("organisation", "HTXS", 955)]
    # No member of the đảng ủy is rated here: the members' ballot has nobody to vote on.
    _skip(an)
    await an.send("/bo_phieu DBCS01")
    assert "không xếp loại đảng viên" in (await an.wait_message()).text
    assert not fake_telegram.refused
    assert not fake_telegram.unanswered_callbacks()


async def test_a_new_cell_is_not_rated_and_a_cell_without_framework_votes_unscored(
    bot, fake_telegram, database_url, clock
):
    cb01 = Cell("CB01", "Chi bộ Khu phố 1", PEOPLE)
    cb02 = Cell("CB02", "Chi bộ Khu phố 2", OTHERS)
    await build(database_url, fake_telegram, [cb01, cb02], collectives=False)
    founded = clock.today() - dt.timedelta(days=60)

    async def young(session):
        org = await session.scalar(select(Organisation).where(Organisation.code == "CB01"))
        org.founded_on = founded

    await query(database_url, young)
    an = cb01.users["DV01"]
    meeting = await open_meeting(an)
    await press(an, ORDER, meeting)
    assert "thành lập chưa đủ 6 tháng: kiểm điểm, không xếp loại" in meeting.text
    await press(an, "✅ Đã kiểm điểm: Chi bộ Khu phố 1", meeting)
    assert "đã kiểm điểm tại hội nghị này. Không xếp loại chất lượng." in meeting.text
    assert SCORING not in meeting.button_labels()
    assert "🗳 Bỏ phiếu xếp loại tập thể" not in meeting.button_labels()
    stored = await query(database_url, lambda s: s.scalar(select(UnitRating)))
    assert stored.not_rated and stored.proposed_level is None
    history = await query(database_url, lambda s: s.scalar(select(UnitRatingChange.kind)))
    assert history == "not_rated"

    # CB02 has no framework: scoring is refused with the reason; the vote has no suggestion.
    khanh = cb02.users["DV21"]
    meeting = await open_meeting(khanh)
    await press(khanh, ORDER, meeting)
    await press(khanh, "✅ Đã kiểm điểm: Chi bộ Khu phố 2", meeting)
    refused = await press(khanh, SCORING, meeting)
    assert refused.text == ("Chưa có khung tiêu chí áp dụng cho Chi bộ Khu phố 2 nên chưa chấm "
                            "điểm được. Cấp ủy cấp trên nạp khung tiêu chí (/mau_khung).")
    before = len(khanh.messages())
    await press(khanh, "🗳 Bỏ phiếu xếp loại tập thể", meeting)
    ballot = await until(lambda: next((m for m in khanh.messages()[before:]
                                       if "Phiếu bầu kín" in (m.text or "")), None), 30)
    assert "Tập thể 1/1: Chi bộ Khu phố 2" in ballot.text
    assert "Không chấm điểm: không có mức gợi ý." in ballot.text
    assert not fake_telegram.refused
    assert not fake_telegram.unanswered_callbacks()
