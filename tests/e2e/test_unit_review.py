"""Issue 14, part A: a cell's secretary prepares the collective's review report and draft score
sheet (/tap_the) on a phone, the committee and then every participant comment (/gop_y), and the
draft goes out with R-D1's date on the screens; wrong inputs are answered in Vietnamese and
people outside the cell or without the role are refused."""

from __future__ import annotations

import datetime as dt

from tests.e2e.reviewkit import local
from tests.e2e.unit_review_kit import NAMES
from tests.e2e.unit_review_kit import ask
from tests.e2e.unit_review_kit import comments_of
from tests.e2e.unit_review_kit import label_starting
from tests.e2e.unit_review_kit import press
from tests.e2e.unit_review_kit import reviews_of
from tests.e2e.unit_review_kit import unit_world
from tests.e2e.unit_review_kit import word_file

CB01 = "Chi bộ Phòng Kỹ thuật"
PARTS = {
    "I.": "Hoàn thành 18/20 chỉ tiêu nghị quyết; 100% đảng viên học tập nghị quyết.",
    "II.": "Công tác phát triển đảng viên chưa đạt kế hoạch do chưa tạo nguồn.",
    "III.": "Đã khắc phục việc sinh hoạt chi bộ chưa đều của năm trước.",
    "V.": "Giao chi ủy xây dựng kế hoạch tạo nguồn, hoàn thành trong quý I.",
}


async def _write_report(an, home):
    report = await press(an, "📝 Báo cáo", home, edited=True)
    assert "Báo cáo kiểm điểm của Chi bộ Phòng Kỹ thuật (tổ chức đảng)" in report.text
    prompt = await press(an, label_starting(report, "✏️ I."), report)
    assert prompt.text.startswith("<b>I. Ưu điểm, kết quả đạt được</b>") or \
        prompt.text.startswith("I. Ưu điểm, kết quả đạt được"), prompt.text
    for number in ("I.", "II.", "III.", "IV.", "V."):
        assert prompt.text.startswith(number), (number, prompt.text)
        if number == "I.":  # sent with a slip, then corrected in Telegram: the piece follows
            sent = await an.send(PARTS[number].replace("18/20", "81/20"))
            saved = await an.wait_message()
            assert saved.text.startswith("Đã lưu (")
            await an.edit(sent, PARTS[number])
            taken = await an.wait_message()
            assert taken.text.startswith("Đã ghi nhận nội dung sửa: phần «I. Ưu điểm, kết quả đạt "
                                         "được» trong báo cáo của Chi bộ Phòng Kỹ thuật"), taken
            prompt = await press(an, "✅ Xong", saved)
        elif number in PARTS:
            if number == "II.":  # one message too many, withdrawn
                extra = await ask(an, "Gửi nhầm tin nhắn này.")
                undone = await an.wait_answer(await an.press("↩️ Xóa tin nhắn cuối", message=extra))
                assert undone.text == "Đã xóa tin nhắn cuối."
            saved = await ask(an, PARTS[number])
            assert saved.text.startswith("Đã lưu ("), saved.text
            prompt = await press(an, "✅ Xong", saved)
        else:
            prompt = await press(an, "✅ Xong", prompt)
    assert "✅ I. Ưu điểm, kết quả đạt được:" in prompt.text  # the report's parts again
    assert "➖ IV. Giải trình" in prompt.text
    return prompt


async def reviews_texts(database_url: str, org_code: str) -> dict[str, str]:
    from bot.services.unit_report import section_texts
    from tests.e2e.test_plan_kit import query

    [review] = await reviews_of(database_url, org_code)
    return await query(database_url, lambda session: section_texts(session, review.id))


async def test_a_cell_prepares_its_draft_and_circulates_it(
    tmp_path, cli_env, bot, fake_telegram, database_url, clock
):
    users = await unit_world(tmp_path, cli_env, fake_telegram, clock)
    an, binh, cuong, gam = users["DV001"], users["DV002"], users["DV003"], users["DV006"]
    dung = users["DV004"]

    # The meeting's screen says how long it lasts (R-D4) and when the draft is due (R-D1).
    await an.send("/lich_hop")
    calendar = await an.wait_message()
    assert "Hội nghị kiểm điểm tối thiểu nửa ngày." in calendar.text
    saved = await ask(an, "01/12/2026 08:00")
    assert "Dự thảo báo cáo kiểm điểm của tập thể phải gửi đến các đồng chí dự hội nghị chậm " \
           "nhất ngày 26/11/2026 (trước hội nghị 3 ngày làm việc)" in saved.text

    # Who may not prepare it: a plain member, an upper committee, a member of another cell.
    assert (await ask(binh, "/tap_the")).text.startswith("Việc này dành cho bí thư, phó bí thư")
    assert "không có quyền" in (await ask(binh, "/tap_the CB01")).text
    assert "không có quyền" in (await ask(dung, "/tap_the CB01")).text
    assert (await ask(gam, "/tap_the CB01")).text == \
        "Không có tổ chức mã CB01 trong phạm vi của đồng chí."
    await gam.send_document(b"%PDF-1.4", "bao-cao.pdf")  # neither a spreadsheet nor a report
    assert (await gam.wait_message()).text.startswith("Tôi đọc bảng tính (.xlsx hoặc .csv")

    home = await ask(an, "/tap_the")
    assert home.text.startswith("📋 Kiểm điểm Chi bộ Phòng Kỹ thuật (tổ chức đảng) năm 2026")
    assert "Đang soạn dự thảo." in home.text
    assert "Hội nghị: 08:00 01/12/2026." in home.text
    assert "Dự thảo phải đến 3 đồng chí dự hội nghị chậm nhất ngày 26/11/2026." in home.text
    assert "📊 Dự kiến chấm điểm: đã chấm 0/6 tiêu chí." in home.text

    # The report, typed part by part; part IV has no points to answer, so it may stay empty.
    report = await _write_report(an, home)
    home = await press(an, "◀ Quay lại", report, edited=True)
    assert "Gửi nhầm" not in (await reviews_texts(database_url, "CB01"))["shortcomings"]
    assert "📝 Báo cáo soạn trực tiếp: đã viết 4/5 phần." in home.text

    # The draft score sheet: six criteria, one message each, the grade typed or pressed.
    sheet = await press(an, "📊 Phiếu chấm điểm", home, edited=True)
    assert "Dự kiến chấm điểm Chi bộ Phòng Kỹ thuật (Mẫu 01)" in sheet.text
    assert "◻️ 1.1" in sheet.button_labels()
    prompt = await press(an, "▶ Chấm tiêu chí tiếp", sheet)
    assert prompt.text.startswith("Tiêu chí <b>1.1</b>") or "Tiêu chí 1.1" in prompt.text
    assert "tối đa 10 điểm" in prompt.text
    wrong = await ask(an, "mười điểm")
    assert wrong.text.startswith("Gõ số điểm, dấu chấm phẩy rồi kết quả"), wrong.text
    wrong = await ask(an, "11; Đủ")
    assert wrong.text.startswith("Tiêu chí 1.1 chấm từ 0 đến 10 điểm"), wrong.text
    wrong = await ask(an, "9,5")
    assert wrong.text.startswith("Ghi kết quả bằng lời và số liệu sau số điểm"), wrong.text
    pending = await ask(an, "9,5; 100% đảng viên học tập nghị quyết")
    assert "Đã nhận 9,5 điểm: bấm mức đánh giá." in pending.text
    prompt = await press(an, "Xuất sắc", pending)
    assert prompt.text.startswith("✅ Đã lưu 1.1: 9,5/10 · Xuất sắc."), prompt.text
    assert "Tiêu chí 1.2" in prompt.text
    chosen = await press(an, "Tốt", prompt)  # the grade first, then the points
    assert "✓ Tốt" in chosen.button_labels()
    prompt = await ask(an, "8; Nắm tình hình tư tưởng hằng tháng")
    assert prompt.text.startswith("✅ Đã lưu 1.2: 8/10 · Tốt.")
    for typed in ("35; tốt; Hoàn thành 18/20 chỉ tiêu", "18; Tot; Kết nạp 2 đảng viên",
                  "9; xuất sắc; Không có đảng viên vi phạm"):
        prompt = await ask(an, typed)
        assert prompt.text.startswith("✅ Đã lưu"), prompt.text
    done = await ask(an, "8.5; TB; Phối hợp với đoàn thể còn chậm")
    assert "Đã chấm đủ các tiêu chí. Tổng: 88 điểm" in done.text
    assert "Hoàn thành tốt nhiệm vụ" in done.text
    assert "✅ 5" in done.button_labels()

    # A deduction and an addition, by the seed's rule.
    adjust = await press(an, "± Trừ, cộng điểm", done, edited=True)
    prompt = await press(an, "➖ Đề xuất trừ điểm", adjust)
    assert "Ví dụ:" in prompt.text
    wrong = await ask(an, "2; 3; Thu ngân sách đạt 97% kế hoạch; Chi ủy")
    assert wrong.text == "Chỉ tiêu không đạt 3% thì chưa bị trừ điểm: chỉ trừ khi không đạt " \
                         "từ 5% trở lên."
    wrong = await ask(an, "9; 12; Thu ngân sách đạt 88% kế hoạch; Chi ủy")
    assert wrong.text == "Khung tiêu chí chấm điểm Chi bộ Phòng Kỹ thuật không có tiêu chí 9."
    wrong = await ask(an, "2; 12; Thu ngân sách đạt 88% kế hoạch")
    assert wrong.text.startswith("Ghi đủ bốn phần, cách nhau bằng dấu chấm phẩy")
    adjust = await ask(an, "2; 12; Thu ngân sách đạt 88% kế hoạch; Chi ủy")
    assert "➖ 2: không đạt 12% chỉ tiêu, −1 điểm" in adjust.text
    prompt = await press(an, "➕ Đề xuất cộng điểm", adjust)
    wrong = await ask(an, "3; 2,5; Mô hình dân vận khéo; Chi bộ")
    assert wrong.text == "Mỗi nội dung, thành tích được cộng tối đa 2 điểm; «2,5» vượt mức đó."
    adjust = await ask(an, "3; 1,5; Mô hình dân vận khéo được tỉnh khen thưởng; Chi bộ")
    assert "➕ 3: +1,5 điểm" in adjust.text
    assert "Tổng: 88,5 điểm (88 điểm các tiêu chí, −1, +1,5): Hoàn thành tốt nhiệm vụ." \
        in adjust.text

    # The committee's comments while drafting: the deputy gets the draft; a plain member
    # may not comment yet.
    home = await press(an, "◀ Quay lại", adjust, edited=True)
    asked = await press(an, "👥 Lấy ý kiến cấp ủy", home)
    assert asked.text == "Đã gửi dự thảo đến 1 cấp ủy viên để lấy ý kiến."
    draft = await cuong.wait_message()
    assert draft.text.startswith("📄 Dự thảo báo cáo kiểm điểm của Chi bộ Phòng Kỹ thuật")
    assert "Xin ý kiến cấp ủy" in draft.text and "Tổng: 88,5 điểm" in draft.text
    assert PARTS["I."] in draft.text
    await cuong.press("💬 Góp ý", message=draft)
    await cuong.wait_message()  # the draft again
    prompt = await cuong.wait_message()
    assert prompt.text.startswith("💬 Góp ý của đồng chí về dự thảo của Chi bộ Phòng Kỹ thuật")
    thanks = await ask(cuong, "Đề nghị nêu rõ số đảng viên chưa hoàn thành nhiệm vụ.")
    assert thanks.text == "Cảm ơn đồng chí: góp ý đã được gửi đến Nguyễn Văn An."
    told = await an.wait_message()
    assert told.text.startswith("💬 Đồng chí Lê Văn Cường góp ý dự thảo của Chi bộ Phòng Kỹ "
                                "thuật (cấp ủy):")
    assert (await ask(binh, "/gop_y CB01")).text == (
        "Dự thảo của Chi bộ Phòng Kỹ thuật đang được chuẩn bị: lúc này chỉ cấp ủy góp ý.")
    assert (await ask(binh, "/gop_y")).text == "Hiện không có dự thảo nào để đồng chí góp ý."

    # Sent to every participant, confirmed.
    question = await press(an, "📤 Gửi dự thảo", home)
    assert question.text.startswith("📤 Gửi dự thảo của Chi bộ Phòng Kỹ thuật (tổ chức đảng) "
                                    "đến 3 đồng chí dự hội nghị?")
    sent = await press(an, "✅ Gửi dự thảo", question, edited=True)
    assert sent.text == "📤 Đã gửi dự thảo của Chi bộ Phòng Kỹ thuật đến 2 đồng chí dự hội nghị."
    [review] = await reviews_of(database_url, "CB01")
    assert review.state == "circulated" and review.circulated_at == clock()
    for user in (binh, cuong):
        notice = await user.wait_message()
        assert notice.text.startswith("📄 Dự thảo báo cáo kiểm điểm của Chi bộ Phòng Kỹ thuật")
        assert "Đồng chí Nguyễn Văn An gửi. Góp ý đến trước hội nghị" in notice.text
        assert "1.1. Tổ chức học tập" in notice.text and PARTS["V."] in notice.text
        assert notice.button_labels() == ["💬 Góp ý"]
    home = await ask(an, "/tap_the")
    assert "Đã gửi dự thảo đến các đồng chí dự hội nghị lúc 09:00 20/11/2026. Đúng hạn." \
        in home.text

    # Participants comment until the meeting; both heads hear of it.
    await ask(binh, "/gop_y")
    prompt = await binh.wait_message()
    assert prompt.text.startswith("💬 Góp ý của đồng chí")
    thanks = await ask(binh, "Phần hạn chế cần nêu tên đồng chí phụ trách <tạo nguồn>.")
    assert thanks.text == "Cảm ơn đồng chí: góp ý đã được gửi đến Nguyễn Văn An, Lê Văn Cường."
    for head in (an, cuong):
        told = await head.wait_message()
        assert "Đồng chí Trần Thị Bình góp ý" in told.text and "<tạo nguồn>" in told.text
    assert (await ask(gam, "/gop_y CB01")).text == \
        "Không có tổ chức mã CB01 trong phạm vi của đồng chí."
    em = users["DV005"]  # on the đảng ủy: sees the cell, does not take part in its meeting
    assert (await ask(em, "/gop_y CB01")).text == (
        "Đồng chí không tham gia kiểm điểm Chi bộ Phòng Kỹ thuật nên không góp ý dự thảo.")
    home = await ask(an, "/tap_the")
    assert "💬 Góp ý: 1 của cấp ủy, 1 của đảng viên." in home.text
    listing = await press(an, "💬 Góp ý (2)", home)
    assert "Lê Văn Cường (cấp ủy," in listing.text and "Trần Thị Bình (đảng viên dự hội nghị," \
        in listing.text
    assert [stage for stage, _ in await comments_of(database_url, review.id)] == [
        "committee", "participant"]

    clock.current = local(2026, 12, 1, 8, 30)
    assert (await ask(binh, "/gop_y CB01")).text.startswith(
        "Hội nghị của Chi bộ Phòng Kỹ thuật đã bắt đầu: đã hết thời gian góp ý dự thảo.")
    assert NAMES["DV001"] == "Nguyễn Văn An"
    assert not fake_telegram.refused
    assert isinstance(clock(), dt.datetime)


POINTS = "Làm rõ trách nhiệm của Đảng ủy trong việc <chậm> thu phí nước sạch năm 2026."


async def _meeting(database_url: str, org_code: str, when: dt.datetime) -> None:
    """The đảng ủy's own meeting (its committee's): /lich_hop is the cells', so it is written
    here as the meeting part of issue 14 will."""
    from sqlalchemy import select

    from storage.models import Cycle
    from storage.models import Meeting
    from storage.models import Organisation
    from tests.e2e.test_plan_kit import query

    async def run(session):
        org = await session.scalar(select(Organisation).where(Organisation.code == org_code))
        cycle = await session.scalar(select(Cycle))
        session.add(Meeting(cycle_id=cycle.id, org_id=org.id, scheduled_at=when))
        await session.commit()

    await query(database_url, run)


async def test_a_grassroots_committee_sends_a_word_file_and_answers_prompts(
    tmp_path, cli_env, bot, fake_telegram, database_url, clock
):
    users = await unit_world(tmp_path, cli_env, fake_telegram, clock, rulebook="qd366-2025")
    dung, em, gam, lan, hai = (users[c] for c in ("DV004", "DV005", "DV006", "DV008", "DV007"))
    await _meeting(database_url, "DBCS01", local(2026, 12, 3, 8, 0))

    # The upper committee's points to the đảng bộ's collective: its secretary is told.
    assert (await ask(gam, f"/goi_y DBCS01 {POINTS}")).text == (
        "Không có đảng viên hay tổ chức mã DBCS01 trong phạm vi của đồng chí.")
    assert (await ask(em, f"/goi_y DBCS01 {POINTS}")).text == (
        "Gợi ý kiểm điểm do cấp trên gửi: đồng chí không giữ vai trò nào ở cấp trên của Đảng bộ "
        "Công ty Cấp nước để gửi.")
    sent = await ask(lan, f"/goi_y DBCS01 {POINTS}")
    assert sent.text.startswith("Đã gửi cho tập thể Đảng bộ Công ty Cấp nước (DBCS01) để kiểm "
                                "điểm năm 2026"), sent.text
    told = await dung.wait_message()
    assert told.text.startswith("Đảng bộ Phường Sài Gòn gợi ý nội dung kiểm điểm đối với Đảng "
                                "bộ Công ty Cấp nước năm 2026"), told.text
    assert POINTS in told.text and "tối thiểu một ngày" in told.text
    await ask(lan, "/goi_y CBCS01 Làm rõ việc chậm sửa chữa phòng học.")
    await hai.wait_message()
    calendar = await ask(hai, "/lich_hop")
    assert "Hội nghị kiểm điểm tối thiểu một ngày: cấp trên có gợi ý kiểm điểm." in calendar.text

    # Dung heads a cell and the đảng bộ: she chooses; the đảng bộ has two reviews (two leaders).
    choice = await ask(dung, "/tap_the")
    assert choice.text.startswith("Đồng chí đứng đầu nhiều đơn vị")
    await dung.press("Đảng bộ Công ty Cấp nước (DBCS01)", message=choice)
    organisation = await dung.wait_message()
    committee = await dung.wait_message()
    assert organisation.text.startswith("📋 Kiểm điểm Đảng bộ Công ty Cấp nước (tổ chức đảng)")
    assert committee.text.startswith("📋 Kiểm điểm Đảng bộ Công ty Cấp nước (tập thể cấp ủy)")
    for screen in (organisation, committee):
        assert "Hội nghị kiểm điểm tối thiểu một ngày" in screen.text
        assert "❗ Cấp trên có 1 văn bản gợi ý kiểm điểm" in screen.text
        assert "chậm nhất ngày 30/11/2026" in screen.text

    # The report as a Word file: refused outside its step, as another format, as a fake.
    report = word_file("BÁO CÁO KIỂM ĐIỂM TẬP THỂ NĂM 2026", "I. Ưu điểm, kết quả đạt được",
                       "Hoàn thành 95% kế hoạch cấp nước.")
    await dung.send_document(report, "bao-cao.docx")
    assert (await dung.wait_message()).text.startswith(
        "Để gửi báo cáo kiểm điểm của tập thể bằng tệp Word")
    prompt = await press(dung, "📎 Tệp Word", organisation)
    assert "tối đa 5 MB" in prompt.text
    assert (await ask(dung, "Tôi gửi sau")).text.startswith("Tôi đang chờ báo cáo dạng tệp Word")
    await dung.send_document(b"%PDF-1.4 ...", "bao-cao.pdf")
    assert (await dung.wait_message()).text.startswith("Tôi chỉ nhận báo cáo dạng tệp Word")
    await dung.send_document(b"PK\x03\x04 not a zip at all", "bao-cao.docx")
    assert (await dung.wait_message()).text.startswith("Đây không phải tệp Word (.docx)")
    await dung.send_document(report, "bao-cao.docx")
    taken = await dung.wait_message()
    assert taken.text == ("Tệp Word «bao-cao.docx» nay là báo cáo của Đảng bộ Công ty Cấp nước "
                          "(22 từ).")
    home = await dung.wait_message()
    assert "📝 Báo cáo: tệp Word «bao-cao.docx»" in home.text
    [organisation_review, committee_review] = await reviews_of(database_url, "DBCS01")
    assert organisation_review.report_docx == report
    assert committee_review.report_docx is None

    # Part IV shows the upper level's points above the answer.
    parts = await press(dung, "📝 Báo cáo", home, edited=True)
    assert "Tệp Word «bao-cao.docx» là báo cáo" in parts.text
    part_iv = await press(dung, label_starting(parts, "✏️ IV."), parts)
    assert "Nội dung gợi ý kiểm điểm của Đảng bộ Phường Sài Gòn:" in part_iv.text
    assert part_iv.text.index("Đảng bộ Phường Sài Gòn:") < part_iv.text.index(POINTS)
    await ask(dung, "Đảng ủy nhận trách nhiệm; đã giao giám đốc khắc phục trong quý I.")
    home = await press(dung, "◀ Quay lại", parts, edited=True)

    # The sheet, quickly; then circulated to the đảng bộ's committee (its participants).
    sheet = await press(dung, "📊 Phiếu chấm điểm", home, edited=True)
    prompt = await press(dung, "▶ Chấm tiêu chí tiếp", sheet)
    for typed in ("9; Tốt; Học tập đủ", "9; Tốt; Nắm tư tưởng", "36; Tốt; Đạt 95% kế hoạch",
                  "18; Tốt; Kết nạp 3 đảng viên", "9; Tốt; Không vi phạm"):
        prompt = await ask(dung, typed)
        assert prompt.text.startswith("✅ Đã lưu"), prompt.text
    done = await ask(dung, "9; Tốt; Phối hợp tốt")
    assert "Tổng: 90 điểm" in done.text and "Hoàn thành xuất sắc nhiệm vụ" in done.text
    home = await ask(dung, "/tap_the DBCS01")
    await dung.wait_message()  # the committee's screen
    question = await press(dung, "📤 Gửi dự thảo", home)
    assert "đến 2 đồng chí dự hội nghị?" in question.text
    assert "Hạn gửi là ngày" not in question.text
    await press(dung, "✅ Gửi dự thảo", question, edited=True)
    notice = await em.wait_message()
    assert "Báo cáo là tệp Word: bấm «📄 Tệp Word» để nhận." in notice.text
    assert notice.button_labels() == ["💬 Góp ý", "📄 Tệp Word"]
    await em.press("📄 Tệp Word", message=notice)
    document = await em.wait_message()
    assert document.document.file_name == "bao-cao.docx"
    assert document.document.content == report

    # The committee's own review was not sent: its draft is not complete.
    committee = (await ask(dung, "/tap_the DBCS01"), await dung.wait_message())[1]
    refused = await dung.wait_answer(await dung.press("📤 Gửi dự thảo", message=committee))
    assert refused.text.startswith("Dự thảo chưa hoàn chỉnh. Còn phải làm: I, II, III, IV, V; "
                                   "6 tiêu chí của phiếu chấm điểm chưa chấm."), refused.text
    assert not fake_telegram.refused
