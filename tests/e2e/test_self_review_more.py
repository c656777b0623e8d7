"""Issue 3: Mẫu 02 under hd21-2019, copy detection, returning a review, caps by discipline."""

from tests.e2e.harness import MEMBERS
from tests.e2e.reviewkit import fill_form
from tests.e2e.reviewkit import local
from tests.e2e.reviewkit import planned_cell
from tests.e2e.reviewkit import schedule
from tests.e2e.reviewkit import submit
from tests.e2e.reviewkit import write_sections

# Two members of the same đảng bộ writing honestly about similar work, and a copy of the first
# with the names changed and a few words moved.
BINH = {
    1: "Đồng chí Trần Thị Bình luôn giữ vững lập trường tư tưởng, tin tưởng vào đường lối của Đảng; "
       "gương mẫu trong sinh hoạt ở khu phố, vận động gia đình chấp hành tốt quy định nơi cư trú. "
       "Tham gia đầy đủ các buổi sinh hoạt chi bộ, nghiêm túc tự phê bình và phê bình.",
    2: "Năm 2026 tôi phụ trách công tác tuyên truyền của khu phố: tổ chức 6 buổi phổ biến nghị quyết, "
       "vận động 120 hộ tham gia phân loại rác tại nguồn, hoàn thành chỉ tiêu thu quỹ vì người nghèo "
       "vượt 15% so với kế hoạch được giao.",
}
EM_COPY = {
    1: "Đồng chí Hoàng Văn Em luôn giữ vững lập trường tư tưởng, tin tưởng vào đường lối của Đảng; "
       "gương mẫu trong sinh hoạt ở khu phố, vận động gia đình chấp hành tốt các quy định nơi cư trú. "
       "Tham gia đầy đủ các buổi sinh hoạt chi bộ, nghiêm túc tự phê bình và phê bình.",
    2: BINH[2],
}
AN_HONEST = {
    1: "Là bí thư chi bộ, tôi quán triệt kịp thời các chỉ thị của đảng ủy phường tới từng đảng viên; "
       "giữ mối liên hệ thường xuyên với ban điều hành khu phố và các đoàn thể, lắng nghe ý kiến nhân dân "
       "qua các buổi đối thoại hằng quý, không để xảy ra khiếu kiện đông người.",
    2: "Chi bộ hoàn thành 9/10 chỉ tiêu nghị quyết năm; tôi trực tiếp theo dõi công tác phát triển đảng "
       "viên, giới thiệu 2 quần chúng ưu tú học lớp nhận thức về Đảng và chỉ đạo sửa chữa nhà văn hóa "
       "khu phố đúng tiến độ bằng nguồn xã hội hóa.",
}


async def _write_and_submit(user, texts):
    await user.send("/kiem_diem")
    await user.wait_message()
    preview = await fill_form(user, texts)
    while "📨 Nộp" not in preview.button_labels():
        preview = await user.wait_message()
    return await submit(user)


async def test_form_02_under_hd21_has_no_scores(tmp_path, cli_env, bot, fake_telegram, clock):
    clock.current = local(2026, 11, 21, 10, 0)
    users = await planned_cell(tmp_path, cli_env, fake_telegram, rulebook="hd21-2019")
    await schedule(users["DV001"])
    binh = users["DV002"]
    await binh.send("/kiem_diem")
    intro = await binh.wait_message()
    assert "Mẫu 02" in intro.text
    preview = await fill_form(binh, level="HTXS")
    while "📨 Nộp" not in preview.button_labels():
        preview = await binh.wait_message()
    texts = " ".join(m.text or "" for m in binh.messages())
    assert "điểm nhóm tiêu chí chung" not in texts
    assert "HTXS" in preview.text or "HTXS" in texts
    assert "Đã nộp" in (await submit(binh)).text


async def test_a_copy_is_flagged_and_an_honest_review_is_not(tmp_path, cli_env, bot, fake_telegram, clock):
    clock.current = local(2026, 11, 21, 10, 0)
    users = await planned_cell(tmp_path, cli_env, fake_telegram)
    await schedule(users["DV001"])
    await _write_and_submit(users["DV002"], BINH)

    an = users["DV001"]
    await an.send("/kiem_diem")
    await an.wait_message()
    preview = await fill_form(an, AN_HONEST)
    while "📨 Nộp" not in preview.button_labels():
        preview = await an.wait_message()
    await an.press("📨 Nộp")
    question = await an.wait_message()
    assert "✅ Nộp" in question.button_labels() and "⚠️" not in question.text

    em = users["DV005"]  # another cell of the same đảng bộ: compared too
    await em.send("/kiem_diem")
    await em.wait_message()
    preview = await fill_form(em, EM_COPY)
    while "📨 Nộp" not in preview.button_labels():
        preview = await em.wait_message()
    await em.press("📨 Nộp")
    warning = await em.wait_message()
    assert "rất giống bản kiểm điểm đã nộp của một đảng viên khác" in warning.text
    assert "Trần Thị Bình" not in warning.text  # the member is not told whose
    await em.press("📨 Vẫn nộp")
    assert "Đã nộp" in (await em.wait_edit(warning)).text

    dung = users["DV004"]  # secretary of Em's cell
    await dung.send("/kiem_diem_chi_bo")
    listing = await dung.wait_message()
    assert "Hoàng Văn Em: đã nộp" in listing.text and "nghi sao chép" in listing.text
    await dung.press("📄 Hoàng Văn Em")
    opened = await dung.wait_message()
    assert "bản kiểm điểm của Trần Thị Bình" in opened.text


async def test_secretary_returns_and_member_resubmits(tmp_path, cli_env, bot, fake_telegram, clock):
    clock.current = local(2026, 11, 21, 10, 0)
    users = await planned_cell(tmp_path, cli_env, fake_telegram)
    await schedule(users["DV001"])
    binh, an = users["DV002"], users["DV001"]
    await _write_and_submit(binh, BINH)
    await an.send("/kiem_diem_chi_bo")
    listing = await an.wait_message()
    assert "Trần Thị Bình: đã nộp" in listing.text and "Đã nộp 1/3" in listing.text
    await an.press("📄 Trần Thị Bình")
    opened = await an.wait_message()
    assert BINH[2] in opened.text
    await an.press("↩️ Trả lại để sửa", message=opened)
    assert "Nhập lý do" in (await an.wait_message()).text
    await an.send("Phần hạn chế còn chung chung, đề nghị nêu cụ thể.")
    question = await an.wait_message()  # returning is confirmed first: nothing is sent yet
    assert "còn chung chung" in question.text and "✅ Xác nhận" in question.button_labels()
    await an.press("✅ Xác nhận", message=question)
    assert "Đảng viên đã được thông báo" in (await an.wait_edit(question)).text
    notice = await binh.wait_message()
    assert "đã trả lại" in notice.text and "còn chung chung" in notice.text

    await binh.send("/kiem_diem")
    assert "còn chung chung" in (await binh.wait_message()).text
    preview = await binh.wait_message()
    while "📨 Nộp" not in preview.button_labels():
        preview = await binh.wait_message()
    label = next(label for label in preview.button_labels() if label.startswith("✏️ II."))
    await binh.press(label, message=preview)
    await binh.wait_message()
    await binh.send("Hạn chế: chưa dành đủ thời gian đi cơ sở; cách khắc phục: mỗi tháng dự 2 buổi tổ dân phố.")
    await binh.wait_message()
    await binh.press("✅ Xong")
    preview = await binh.wait_message()
    while "📨 Nộp" not in preview.button_labels():
        preview = await binh.wait_message()
    assert "Đã nộp" in (await submit(binh)).text
    await an.send("/kiem_diem_chi_bo")
    assert "Trần Thị Bình: đã nộp" in (await an.wait_message()).text


async def test_a_disciplined_member_is_told_only_kht_is_possible(tmp_path, cli_env, bot, fake_telegram, clock):
    clock.current = local(2026, 11, 21, 10, 0)
    members = [row[:] for row in MEMBERS]
    members.append(["DV006", "Đinh Văn Phúc", "01/01/1980", "CB01", "", "Chính thức", "01/01/2000",
                    "", "", "", "Khiển trách", "Có"])
    users = await planned_cell(tmp_path, cli_env, fake_telegram, members=members)
    await schedule(users["DV001"])
    phuc = users["DV006"]
    await phuc.send("/kiem_diem")
    await phuc.wait_message()
    await write_sections(phuc, await phuc.wait_message())
    await phuc.send("28")
    await phuc.wait_message()
    await phuc.send("65")
    levels = await phuc.wait_message()
    assert [label.split()[0] for label in levels.button_labels() if label[0] in "HK"] == ["KHT"]
    assert "kỷ luật" in levels.text


async def test_a_long_review_is_split_and_all_word_files_are_sent(tmp_path, cli_env, bot, fake_telegram, clock):
    clock.current = local(2026, 11, 21, 10, 0)
    users = await planned_cell(tmp_path, cli_env, fake_telegram)
    await schedule(users["DV001"])
    binh = users["DV002"]
    paragraph = ("Tham gia đầy đủ các hoạt động của khu phố, vận động nhân dân thực hiện nếp sống văn minh. " * 40)
    await binh.send("/kiem_diem")
    await binh.wait_message()
    prompt = await binh.wait_message()
    for _ in range(3):  # three long messages: about 11,000 characters in one part
        await binh.send(paragraph.strip())
        saved = await binh.wait_message()
        assert "✅ Xong" not in prompt.button_labels()  # the part's buttons moved on
    await binh.press("✅ Xong", message=saved)  # they are under the newest acknowledgement
    preview = await fill_form(binh)
    parts = [preview]
    while "📨 Nộp" not in preview.button_labels():
        preview = await binh.wait_message()
        parts.append(preview)
    review_parts = [m for m in binh.messages() if "Tham gia đầy đủ" in (m.text or "") and "Đã lưu" not in m.text]
    assert len(review_parts) >= 3  # the preview came in several messages, each accepted by Telegram
    assert all(not m.text.endswith(("Tham", "gia", "đầy")) or m.text.endswith("minh.") for m in review_parts[:-1])
    assert "Đã nộp" in (await submit(binh)).text
    await _write_and_submit(users["DV003"], None)

    an = users["DV001"]
    await an.send("/kiem_diem_chi_bo")
    listing = await an.wait_message()
    await an.press("📥 Tải tất cả (Word)", message=listing)
    progress = await an.wait_message()
    assert "Đang gửi 2 tệp Word" in progress.text
    files = [await an.wait_message(), await an.wait_message()]
    assert sorted(f.document.file_name for f in files) == [
        "ban-kiem-diem-DV002-2026.docx", "ban-kiem-diem-DV003-2026.docx"]
    assert (await an.wait_edit(progress)).text == "Đã gửi 2 tệp Word."


async def test_hd21_new_member_is_reviewed_without_a_level(tmp_path, cli_env, bot, fake_telegram, clock):
    clock.current = local(2026, 11, 21, 10, 0)
    members = [row[:] for row in MEMBERS]
    members[2][6] = "01/09/2026"  # Cường: admitted three months before the meeting (R-E3)
    users = await planned_cell(tmp_path, cli_env, fake_telegram, members=members, rulebook="hd21-2019")
    await schedule(users["DV001"])
    cuong = users["DV003"]
    await cuong.send("/kiem_diem")
    intro = await cuong.wait_message()
    assert "kiểm điểm nhưng không xếp loại" in intro.text
    preview = await fill_form(cuong)
    while "📨 Nộp" not in preview.button_labels():
        preview = await cuong.wait_message()
    texts = " ".join(m.text or "" for m in cuong.messages())
    assert "Chọn mức xếp loại" not in texts and "✏️ Sửa mức xếp loại" not in preview.button_labels()
    assert "Đã nộp" in (await submit(cuong)).text
