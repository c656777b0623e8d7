"""Issue 14 part D through the fake Bot API: /bien_ban sends the minutes' summary and the Word
file, reopened here; the chair's conclusions are written through their flow (and /huy leaves it
with nothing written); /ho_so sends the file of a collective or a member as a zip, reopened
here, with what it does not hold; refusals for another cell's secretary and for a plain member
asking for someone else's file."""

from __future__ import annotations

import io
import zipfile

import docx
from sqlalchemy import select

from handlers.views.minutes import ConclusionsButton
from storage.models import AuditEntry
from storage.models import Cycle
from storage.models import Meeting
from storage.models import Member
from storage.models import Organisation
from tests import unit_files_kit as kit
from tests.e2e.harness import MEMBERS
from tests.e2e.reviewkit import planned_cell
from tests.e2e.test_status_tree import query

ROLES = [["DV001", "CB01", "Bí thư"], ["DV004", "DBCS01", "Bí thư"],
         ["DV005", "CB02", "Bí thư"]]
WRITE, CHANGE = "✍️ Ghi kết luận", "✍️ Sửa kết luận"
CONFIRM, CANCEL = "✅ Ghi vào biên bản", "✖ Hủy"
TYPED = "Chi bộ hoàn thành xuất sắc nhiệm vụ <năm 2026> & cần phát huy.\nTiếp tục sinh hoạt chuyên đề."


async def setup(tmp_path, cli_env, fake, database_url, clock, *, decided=False):
    """The cell CB01 of DBCS01 after its meeting: every record of parts A–C written."""
    users = await planned_cell(tmp_path, cli_env, fake, members=MEMBERS, roles=ROLES)

    async def fill(session):
        cycle = await session.scalar(select(Cycle))
        orgs = {o.code: o for o in await session.scalars(select(Organisation))}
        people = {m.code: m for m in await session.scalars(select(Member))}
        await kit.fill(
            session, cycle=cycle, cell=orgs["CB01"], framework_org=orgs["DBCS01"],
            present=[people[c] for c in ("DV001", "DV002", "DV003")], excused=[],
            secretary_actor=f"tg:{users['DV001'].id}",
            candidates=[people["DV002"], people["DV003"]], tellers=[people["DV001"]],
            denominator=2, prompted=people["DV002"], conclusions=False, now=clock(),
            decider_actor=f"tg:{users['DV004'].id}" if decided else None)
        await kit.self_review(session, cycle=cycle, member=people["DV002"], now=clock())

    await query(database_url, fill)
    return users


def reopen(message) -> list[str]:
    document = docx.Document(io.BytesIO(message.document.content))
    lines = [p.text for p in document.paragraphs]
    lines += [" | ".join(c.text for c in row.cells) for t in document.tables for row in t.rows]
    return lines


async def conclusions(database_url) -> str | None:
    async def run(session):
        return (await session.scalar(select(Meeting.conclusions).join(
            Organisation, Organisation.id == Meeting.org_id).where(Organisation.code == "CB01")))

    return await query(database_url, run)


async def test_minutes_downloaded_reopened_and_concluded(tmp_path, cli_env, bot, fake_telegram,
                                                         database_url, clock):
    users = await setup(tmp_path, cli_env, fake_telegram, database_url, clock)
    an = users["DV001"]

    await an.send("/bien_ban")
    summary = await an.wait_message()
    assert summary.text.startswith("📄 Biên bản hội nghị của Chi bộ Khu phố 1 năm 2026 (dự thảo)")
    assert ("✅ Đã có: điểm danh, báo cáo kiểm điểm tập thể, kết quả chấm điểm, kết quả bỏ phiếu"
            in summary.text)
    assert "⏳ Chưa có: kết luận của chủ trì" in summary.text
    assert summary.button_labels() == [WRITE]
    sent = await an.wait_message()
    assert sent.document.file_name == "bien-ban-CB01-2026.docx"
    lines = reopen(sent)
    assert ("BIÊN BẢN\nHỘI NGHỊ KIỂM ĐIỂM, ĐÁNH GIÁ, XẾP LOẠI CHẤT LƯỢNG TỔ CHỨC ĐẢNG VÀ ĐẢNG "
            "VIÊN NĂM 2026") in lines
    assert "Có mặt: 3 đồng chí: Nguyễn Văn An, Trần Thị Bình, Lê Văn Cường." in lines
    assert any(kit.DEDUCTION_REASON in line and kit.DEDUCTION_WHO in line for line in lines)
    assert any("90,8 điểm" in line for line in lines)
    assert "Chi bộ Khu phố 1 | 3 | 0 | 0 | 0 | 0 | HTXS" in lines
    assert lines[lines.index("VI. Kết luận của chủ trì hội nghị") + 1] == "Chưa có."

    # The conclusions' flow, left with /huy: nothing written.
    await an.wait_answer(await an.press(WRITE, message=summary))
    prompt = await an.wait_message()
    assert prompt.text.startswith("Gửi kết luận của chủ trì hội nghị Chi bộ Khu phố 1")
    assert CANCEL in prompt.button_labels()
    await an.send("/huy")
    assert (await an.wait_message()).text == "Đã dừng ghi kết luận của chủ trì hội nghị."
    await an.send("Câu này không phải kết luận.")
    assert (await an.wait_message()).text.startswith("Tôi chưa hiểu tin nhắn này.")
    assert await conclusions(database_url) is None

    # Written, shown, confirmed.
    await an.wait_answer(await an.press(WRITE, message=summary))
    await an.wait_message()
    await an.send("Bản nháp đầu tiên.")
    first = await an.wait_message()
    assert first.text.endswith("\n\nBản nháp đầu tiên.") and CONFIRM in first.button_labels()
    await an.send(TYPED)  # typed again at the confirmation: the new text is the draft
    confirm = await an.wait_message()
    assert first.button_labels() == []
    assert confirm.text == ("Kết luận sau sẽ được ghi vào biên bản hội nghị của Chi bộ Khu phố 1:"
                            f"\n\n{TYPED}")
    assert confirm.button_labels() == [CONFIRM, CANCEL]
    await an.wait_answer(await an.press(CONFIRM, message=confirm))
    done = await an.wait_message()
    assert done.text.startswith("Đã ghi kết luận vào biên bản hội nghị của Chi bộ Khu phố 1.")
    assert await conclusions(database_url) == TYPED

    async def audited(session):
        return list(await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "minutes.conclusions")))

    [entry] = await query(database_url, audited)
    assert "sinh hoạt" not in (entry.details or "")  # the length, never the text

    await an.send("/bien_ban CB01")
    summary = await an.wait_message()
    assert summary.button_labels() == [CHANGE] and TYPED.split("\n")[0] in summary.text
    lines = reopen(await an.wait_message())
    start = lines.index("VI. Kết luận của chủ trì hội nghị") + 1
    assert lines[start:start + 2] == TYPED.split("\n")


async def test_who_may_read_the_minutes_and_files(tmp_path, cli_env, bot, fake_telegram,
                                                  database_url, clock):
    users = await setup(tmp_path, cli_env, fake_telegram, database_url, clock)
    em, binh, dung = users["DV005"], users["DV002"], users["DV004"]

    # Another cell's secretary: CB01 and its members are out of reach, named as not found.
    await em.send("/bien_ban CB01")
    assert (await em.wait_message()).text == "Không có tổ chức mã CB01 trong phạm vi của đồng chí."
    for code in ("CB01", "DV002"):
        await em.send(f"/ho_so {code}")
        assert (await em.wait_message()).text == (
            f"Không có đảng viên hay tổ chức mã {code} trong phạm vi của đồng chí.")
    meeting_id = await query(database_url, lambda s: s.scalar(select(Meeting.id)))
    anchor = em.messages()[-1]
    answer = await em.wait_answer(await em.press_data(ConclusionsButton("write", meeting_id).encode(),
                                                      message=anchor))
    assert answer.text == "Nút này không còn hiệu lực."

    # A plain member: not another member's file, not the minutes.
    await binh.send("/ho_so DV001")
    assert (await binh.wait_message()).text == (
        "Đồng chí không có quyền thực hiện việc này đối với Chi bộ Khu phố 1.")
    await binh.send("/bien_ban")
    assert (await binh.wait_message()).text == (
        "Chức năng này dành cho bí thư, phó bí thư và cấp ủy viên.")

    # The đảng ủy's secretary reads the cell's minutes and may write the conclusions.
    await dung.send("/bien_ban CB01")
    assert (await dung.wait_message()).button_labels() == [WRITE]
    assert (await dung.wait_message()).document.file_name == "bien-ban-CB01-2026.docx"
    await dung.send("/ho_so DBCS01")
    progress = await dung.wait_message()
    text = (await dung.wait_message()).text
    assert progress.text == "⏳ Đang tổng hợp hồ sơ của Đảng bộ Phường Bến Thành…"
    assert "Báo cáo kiểm điểm của tập thể (chưa lập trên hệ thống)" in text
    await dung.wait_message()  # the zip


def zipped(message) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(message.document.content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


async def test_files_of_a_collective_and_a_member(tmp_path, cli_env, bot, fake_telegram,
                                                   database_url, clock):
    users = await setup(tmp_path, cli_env, fake_telegram, database_url, clock, decided=True)
    dung, binh, an = users["DV004"], users["DV002"], users["DV001"]

    await dung.send("/ho_so CB01")
    progress = await dung.wait_message()
    assert progress.text == "⏳ Đang tổng hợp hồ sơ của Chi bộ Khu phố 1…"
    text = (await dung.wait_message()).text
    sent = await dung.wait_message()
    assert text.startswith("📁 Hồ sơ của Chi bộ Khu phố 1 năm 2026\nTệp nén gồm 7 tài liệu và bản "
                           "danh mục:\n• 01-bao-cao-kiem-diem.docx: Báo cáo kiểm điểm của tập thể")
    assert ("⚠️ Hệ thống không có các tài liệu sau (bổ sung bản giấy):\n• Tổng hợp kết quả thẩm "
            "định của cơ quan, đơn vị, tổ chức (hệ thống không lưu)") in text
    assert sent.document.file_name == "ho-so-CB01-2026.zip"
    assert sent.caption == "Hồ sơ của Chi bộ Khu phố 1 năm 2026 (tệp nén)"
    files = zipped(sent)
    assert sorted(files) == [
        "00-danh-muc-ho-so.docx", "01-bao-cao-kiem-diem.docx", "02-ket-qua-cham-diem.docx",
        "03-bien-ban-hoi-nghi.docx", "04-xep-loai.docx", "05-goi-y-kiem-diem.docx",
        "06-y-kien-tham-gia.docx", "07-khieu-nai.docx"]
    minutes = docx.Document(io.BytesIO(files["03-bien-ban-hoi-nghi.docx"]))
    assert "IV. Kết quả bỏ phiếu kín" in [p.text for p in minutes.paragraphs]
    appeals = "\n".join(p.text for p in docx.Document(io.BytesIO(files["07-khieu-nai.docx"])).paragraphs)
    assert kit.APPEAL in appeals and kit.APPEAL_ANSWER in appeals
    await fake_telegram.wait_idle()
    assert progress.deleted

    # A member's own file; the cell's secretary gets the same by the member's code.
    await binh.send("/ho_so")
    await binh.wait_message()
    text = (await binh.wait_message()).text
    own = await binh.wait_message()
    assert own.document.file_name == "ho-so-DV002-2026.zip"
    assert sorted(zipped(own)) == ["00-danh-muc-ho-so.docx", "01-ban-tu-kiem-diem.docx",
                                   "02-ket-qua-cham-diem.docx", "03-goi-y-kiem-diem.docx",
                                   "04-xep-loai.docx"]
    assert "• Phiếu nhận xét của cấp ủy nơi cư trú (hệ thống không lưu)" in text
    review = docx.Document(io.BytesIO(zipped(own)["01-ban-tu-kiem-diem.docx"]))
    assert "Tôi luôn giữ vững lập trường tư tưởng." in [p.text for p in review.paragraphs]
    await an.send("/ho_so DV002")
    await an.wait_message()
    await an.wait_message()
    assert (await an.wait_message()).document.file_name == "ho-so-DV002-2026.zip"
