"""Issue 3: the self-review as a guided conversation, through the fake Bot API."""

import io

import docx

from rules.review_form import sections_for
from tests.e2e.harness import MEMBERS
from tests.e2e.reviewkit import DONE
from tests.e2e.reviewkit import fill_form
from tests.e2e.reviewkit import local
from tests.e2e.reviewkit import planned_cell
from tests.e2e.reviewkit import schedule
from tests.e2e.reviewkit import submit
from tests.e2e.reviewkit import write_section
from tests.e2e.reviewkit import write_sections


async def test_meeting_date_is_validated_then_set(tmp_path, cli_env, bot, fake_telegram, clock):
    clock.current = local(2026, 11, 21, 10, 0)
    users = await planned_cell(tmp_path, cli_env, fake_telegram)
    an = users["DV001"]
    await an.send("/lich_hop")
    menu = await an.wait_message()
    assert "Ngày họp không được sau 31/12/2026" in menu.text
    assert "21" in menu.button_labels() and "20" not in menu.button_labels()  # no days in the past
    for typed, expected in (("mai nhé", "Không đọc được"), ("20/11/2026 08:00", "đã qua"),
                            ("05/01/2027 08:00", "31/12/2026")):
        await an.send(typed)
        assert expected in (await an.wait_message()).text
    # The calendar: next month, a day, then a time.
    await an.press("»", message=menu)
    december = await an.wait_edit(menu)
    assert "Tháng 12/2026" in december.button_labels() and "31" in december.button_labels()
    await an.press("5", message=menu)
    times = await an.wait_edit(menu)
    assert "08:00" in times.button_labels()
    await an.press("14:00", message=menu)
    done = await an.wait_edit(menu)
    assert "14:00 05/12/2026" in done.text and "02/12/2026" in done.text
    # A plain member cannot set it.
    await users["DV002"].send("/lich_hop")
    assert "bí thư hoặc phó bí thư" in (await users["DV002"].wait_message()).text


async def test_full_2b_form_with_scores_caps_and_docx(tmp_path, cli_env, bot, fake_telegram, clock):
    clock.current = local(2026, 11, 21, 10, 0)
    users = await planned_cell(tmp_path, cli_env, fake_telegram)
    await schedule(users["DV001"])
    binh = users["DV002"]
    await binh.send("/kiem_diem")
    intro = await binh.wait_message()
    assert "Mẫu 2B" in intro.text and "02/12/2026" in intro.text
    sections = sections_for("2B")
    first = await binh.wait_message()
    assert f"Phần 1/{len(sections)}" in first.text
    # Section 1 in three messages, then Done.
    pieces = ["Luôn trung thành với mục tiêu lý tưởng của Đảng.", "Giữ gìn phẩm chất đạo đức, lối sống giản dị.",
              "Chấp hành nghiêm nguyên tắc tập trung dân chủ."]
    second = await write_section(binh, *pieces)
    assert "Phần 2" in second.text
    # Back to section 1 and look: all three pieces are there.
    await binh.press("◀ Quay lại", message=second)
    again = await binh.wait_message()
    assert "Đã viết" in again.text
    await binh.press("📄 Xem phần này", message=again)
    shown = await binh.wait_message()
    assert shown.text == "\n".join(pieces)
    await binh.press(DONE, message=again)
    # The rest of the form: scores, a wrong number, the caps on levels.
    prompt = await write_sections(binh, await binh.wait_message(), first=2)
    assert "điểm nhóm tiêu chí chung" in prompt.text
    await binh.send("35")
    assert "từ 0 đến 30" in (await binh.wait_message()).text
    await binh.send("hai mươi lăm")
    assert "từ 0 đến 30" in (await binh.wait_message()).text
    await binh.send("25")
    assert "từ 0 đến 70" in (await binh.wait_message()).text
    await binh.send("57")
    levels = await binh.wait_message()
    assert "82/100" in levels.text
    labels = levels.button_labels()
    assert not any(label.startswith("HTXS") for label in labels)
    assert any(label.startswith("HTT") for label in labels)
    # A forged press for HTXS is refused.
    forged = await binh.wait_answer(await binh.press_data("kd1:lvl:HTXS", message=levels))
    assert "không cho phép" in forged.text
    await binh.press(next(label for label in labels if label.startswith("HTT")), message=levels)
    preview = await binh.wait_message()
    while "📨 Nộp" not in preview.button_labels():
        preview = await binh.wait_message()
    whole = "\n".join(m.text or "" for m in binh.messages()[-3:])
    assert pieces[0] in whole and "HTT" in whole and "82/100" in whole
    done = await submit(binh)
    assert "Đã nộp" in done.text and "muộn" not in done.text
    # Read-only after submitting.
    await binh.send("/kiem_diem")
    status = await binh.wait_message()
    assert "đã nộp" in status.text.lower() and "Chỉ bí thư" in status.text
    # The Word file holds the member's text.
    await binh.send("/tai_ban_kiem_diem")
    sent = await binh.wait_message()
    assert sent.document.file_name == "ban-kiem-diem-DV002-2026.docx"
    document = docx.Document(io.BytesIO(sent.document.content))
    body = "\n".join(p.text for p in document.paragraphs)
    tables = "\n".join(cell.text for table in document.tables for row in table.rows for cell in row.cells)
    assert "Trần Thị Bình" in body + tables
    for piece in pieces:
        assert piece in body
    assert "ĐẢNG CỘNG SẢN VIỆT NAM" in body + tables


async def test_restart_mid_form_loses_nothing_and_preview_edit(tmp_path, cli_env, bot, fake_telegram, clock):
    clock.current = local(2026, 11, 21, 10, 0)
    users = await planned_cell(tmp_path, cli_env, fake_telegram)
    await schedule(users["DV001"])
    em = users["DV005"]
    await em.send("/kiem_diem")
    await em.wait_message()
    await em.wait_message()
    await em.send("Phần một, đoạn đầu.")
    await em.wait_message()
    await bot.restart()
    await em.send("Phần một, đoạn sau khi máy chủ khởi động lại.")
    ack = await em.wait_message()
    assert ack.text.startswith("Đã lưu")
    await bot.restart()
    await em.send("/kiem_diem")
    welcome = await em.wait_message()
    assert "tiếp tục" in welcome.text
    prompt = await em.wait_message()
    assert "Phần 1" in prompt.text and "Đã viết" in prompt.text
    await em.press("📄 Xem phần này", message=prompt)
    assert (await em.wait_message()).text == "Phần một, đoạn đầu.\nPhần một, đoạn sau khi máy chủ khởi động lại."
    await em.press(DONE, message=prompt)
    preview = await fill_form(em)
    while "📨 Nộp" not in preview.button_labels():
        preview = await em.wait_message()
    # Edit section 2 from the preview: Done brings the member back to the preview.
    label = next(label for label in preview.button_labels() if label.startswith("✏️ I.2"))
    await em.press(label, message=preview)
    section = await em.wait_message()
    assert "I.2" in section.text and "Đã viết" in section.text
    back = await write_section(em, "Bổ sung: hoàn thành vượt chỉ tiêu thu gom rác thải.")
    while "📨 Nộp" not in back.button_labels():  # «Xong» leads back to the preview
        assert "Phần 3" not in back.text
        back = await em.wait_message()
    whole = "\n".join(m.text or "" for m in em.messages()[-3:])
    assert "Bổ sung: hoàn thành vượt chỉ tiêu thu gom rác thải." in whole


async def test_late_submission_is_marked(tmp_path, cli_env, bot, fake_telegram, clock):
    clock.current = local(2026, 11, 21, 10, 0)
    users = await planned_cell(tmp_path, cli_env, fake_telegram)
    await schedule(users["DV004"])  # Em is in CB02, whose secretary is Dung
    em = users["DV005"]
    await em.send("/kiem_diem")
    await em.wait_message()
    preview = await fill_form(em)
    while "📨 Nộp" not in preview.button_labels():
        preview = await em.wait_message()
    clock.current = local(2026, 12, 3, 9, 0)  # the due date was 02/12
    done = await submit(em)
    assert "muộn" in done.text and "02/12/2026" in done.text
    await users["DV004"].send("/kiem_diem_chi_bo")
    listing = await users["DV004"].wait_message()
    assert "Hoàng Văn Em: đã nộp 03/12/2026, muộn" in listing.text


async def test_not_reviewed_and_capped_members_are_told_why(tmp_path, cli_env, bot, fake_telegram, clock):
    clock.current = local(2026, 11, 21, 10, 0)
    members = [row[:] for row in MEMBERS]
    members[2][6] = "01/09/2026"  # Cường: admitted less than 6 months before the meeting
    users = await planned_cell(tmp_path, cli_env, fake_telegram, members=members)
    await schedule(users["DV001"])
    cuong = users["DV003"]
    await cuong.send("/kiem_diem")
    reply = await cuong.wait_message()
    assert "không viết bản tự kiểm điểm" in reply.text and "6 tháng" in reply.text
