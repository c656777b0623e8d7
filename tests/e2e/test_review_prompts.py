"""Issue 14, item 5: an upper level's written points for a member's self-review (gợi ý kiểm
điểm): sent in one message, refused outside the sender's reach, shown in part IV of the
member's form and of its Word file."""

from __future__ import annotations

import io

import docx

from tests.e2e.reviewkit import DONE
from tests.e2e.reviewkit import planned_cell
from tests.e2e.reviewkit import write_section

POINTS = "Làm rõ trách nhiệm của đồng chí trong việc <chậm> triển khai Nghị quyết số 05."


async def test_prompt_reaches_part_iv(tmp_path, cli_env, bot, fake_telegram):
    users = await planned_cell(tmp_path, cli_env, fake_telegram)
    committee, cell_secretary, binh = users["DV004"], users["DV001"], users["DV002"]

    await committee.send(f"/goi_y DV002 {POINTS}")
    told = await binh.wait_message()
    assert told.text.startswith("Đảng bộ Phường Bến Thành gợi ý nội dung kiểm điểm năm 2026")
    assert POINTS in told.text
    assert "Đã gửi cho đồng chí Trần Thị Bình (DV002)" in (await committee.wait_message()).text

    # Outside the sender's reach, a plain member, a message without the points: refused.
    await cell_secretary.send(f"/goi_y DV004 {POINTS}")
    assert (await cell_secretary.wait_message()).text == (
        "Không có đảng viên hay tổ chức mã DV004 trong phạm vi của đồng chí.")
    await binh.send(f"/goi_y DV001 {POINTS}")
    assert "không có quyền" in (await binh.wait_message()).text
    await committee.send("/goi_y DV002")
    assert "Ghi mã đảng viên (hoặc mã tổ chức) và nội dung gợi ý trong cùng một tin nhắn:\n/goi_y MÃ" in (await committee.wait_message()).text

    # Part IV of the form shows the points; the Word file too.
    await binh.send("/kiem_diem")
    assert "Mẫu 2B" in (await binh.wait_message()).text  # the form's introduction
    prompt = await binh.wait_message()
    while not prompt.text.split("\n")[1].startswith("IV."):
        assert DONE in prompt.button_labels(), prompt.text
        prompt = await write_section(binh, "Nội dung.")
    assert "Nội dung gợi ý kiểm điểm của Đảng bộ Phường Bến Thành:" in prompt.text
    assert POINTS in prompt.text and "&lt;" not in prompt.text  # escaped once, shown as typed
    await write_section(binh, "Tôi xin làm rõ: việc chậm là do tôi chưa đôn đốc.")
    await binh.send("/tai_ban_kiem_diem")
    sent = await binh.wait_message()
    body = "\n".join(p.text for p in docx.Document(io.BytesIO(sent.document.content)).paragraphs)
    part_iv = body[body.index("IV. "):]
    assert part_iv.index("Nội dung gợi ý kiểm điểm của Đảng bộ Phường Bến Thành:") < part_iv.index(
        POINTS) < part_iv.index("Tôi xin làm rõ")
    assert not fake_telegram.refused
