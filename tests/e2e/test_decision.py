"""Issue 6: /quyet_dinh blocked by a standing breach, then overridden with a reason; a grassroots
cell deciding for itself; each member told their level; /xep_loai_lai with history kept; an
appeal answered; /ket_qua with HTXS five years running."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select

from storage.models import Appeal
from storage.models import AuditEntry
from storage.models import Cycle
from storage.models import Decision
from storage.models import Organisation
from storage.models import Rating
from storage.models import RatingChange
from tests.e2e.test_status_tree import YEAR
from tests.e2e.test_status_tree import build_tree
from tests.e2e.test_status_tree import query

REASON = "Chi bộ có thành tích nổi bật, cấp trên đã cho phép tỷ lệ 25%."


def skip_read(user) -> None:
    """Messages already checked through user.messages() are not waited for again."""
    user._msg_cursor[user.chat_id] = len(user.messages())


async def ask(user, text: str):
    skip_read(user)
    await user.send(text)
    return await user.wait_message()


async def ratings_of(database_url, member_id):
    async def run(session):
        rows = await session.scalars(select(Rating).where(Rating.member_id == member_id).order_by(Rating.id))
        return [(r.state, r.proposed_level, r.decided_level) for r in rows]
    return await query(database_url, run)


async def test_decide_override_rerate_appeal(bot, fake_telegram, tmp_path, cli_env, database_url, clock):
    tree = await build_tree(tmp_path, cli_env, fake_telegram, database_url, clock())
    committee = tree.users["DV201"]  # committee member of DBCS1
    secretary = tree.users["DV101"]  # secretary of CB11, proposed HTXS
    an, binh, cuong, dung = (tree.users[c] for c in ("DV101", "DV102", "DV103", "DV104"))

    # The cell's secretary cannot decide: the grassroots committee does (DOMAIN §1 step 6).
    refused = await ask(secretary, "/quyet_dinh CB11")
    assert refused.text == "Đồng chí không có quyền thực hiện việc này đối với Đảng bộ Công ty Điện lực."
    assert (await ask(committee, "/quyet_dinh CBCS1")).text == "Không có tổ chức mã CBCS1 trong phạm vi của đồng chí."
    assert "là cấp trên" in (await ask(tree.users["DV401"], "/quyet_dinh XA1")).text

    # The quota breach of DBCS1 blocks the decision for CB11.
    view = await ask(committee, "/quyet_dinh CB11")
    assert view.text.startswith(f"Quyết định xếp loại đảng viên của Chi bộ Phòng Kỹ thuật, năm {YEAR}")
    assert "Đề nghị, chờ quyết định: 4" in view.text
    assert "• Nguyễn Văn An (DV101): HTXS" in view.text
    assert "⛔ Chưa thể quyết định vì còn vi phạm:" in view.text
    assert view.button_labels() == ["✍️ Vẫn quyết định, ghi lý do"]
    await committee.wait_answer(await committee.press("✍️ Vẫn quyết định, ghi lý do", message=view))
    prompt = await committee.wait_message()
    assert "lý do vẫn quyết định" in prompt.text
    await committee.send("ngắn")
    assert "từ 10 đến 2000 ký tự" in (await committee.wait_message()).text
    await committee.send(REASON)
    confirm = await committee.wait_message()
    assert "dù còn vi phạm" in confirm.text and confirm.button_labels() == ["✅ Xác nhận", "✖ Hủy"]
    await committee.wait_answer(await committee.press("✅ Xác nhận", message=confirm))
    done = await committee.wait_message()
    assert done.text.startswith(f"Đã quyết định 4 mức xếp loại của Chi bộ Phòng Kỹ thuật, năm {YEAR}.")
    assert "dù còn vi phạm" in done.text

    # Each member is told their level in their language (R-A3); the secretary gets the list.
    told = {user: [m.text for m in user.messages() if m.text and "đã quyết định xếp loại chất lượng" in m.text]
            for user in (an, binh, cuong, dung)}
    assert told[binh] == [f"Đảng bộ Công ty Điện lực đã quyết định xếp loại chất lượng năm {YEAR} của đồng chí: "
                          "HTXS (Hoàn thành xuất sắc nhiệm vụ).\n"
                          "Nếu không đồng ý, đồng chí có thể gửi đơn khiếu nại bằng /khieu_nai."]
    assert "HTT (Hoàn thành tốt nhiệm vụ)" in told[cuong][0]
    listing = next(m.text for m in an.messages() if m.text and m.text.startswith("Kết quả xếp loại đã quyết định"))
    assert "3. Lê Văn Cường: HTT" in listing and "2. Trần Thị Bình: HTXS" in listing  # by given name
    assert len([line for line in listing.splitlines() if line[:1].isdigit()]) == 4

    async def stored(session):
        decision = await session.scalar(select(Decision))
        audit = await session.scalar(select(AuditEntry).where(AuditEntry.action == "rating.decide"))
        changes = (await session.scalars(select(RatingChange).where(RatingChange.kind == "decided"))).all()
        return decision, audit, changes
    decision, audit, changes = await query(database_url, stored)
    assert decision.override_reason == REASON and decision.decided_count == 4
    details = json.loads(audit.details)
    assert details["reason"] == REASON and details["overridden"] == ["quota.htxs_share"]
    assert len(changes) == 4 and {c.reason for c in changes} == {REASON}
    assert await ratings_of(database_url, tree.member_ids["DV102"]) == [("decided", "HTXS", "HTXS")]

    # A grassroots cell decides for itself, with nothing standing in the way.
    lan = tree.users["DV301"]
    view = await ask(lan, "/quyet_dinh")
    assert "Đề nghị, chờ quyết định: 1" in view.text and "Đã quyết định: 1" in view.text
    await lan.wait_answer(await lan.press("✅ Quyết định 1 mức xếp loại", message=view))
    texts = [m.text for m in await lan.collect()]
    assert texts[0].startswith(f"Chi bộ Trường Tiểu học Phú Cường đã quyết định xếp loại chất lượng năm {YEAR}"
                               " của đồng chí: HTT")  # she is rated too
    assert texts[1].startswith("Kết quả xếp loại đã quyết định của Chi bộ Trường Tiểu học Phú Cường")
    assert texts[2] == f"Đã quyết định 1 mức xếp loại của Chi bộ Trường Tiểu học Phú Cường, năm {YEAR}."
    assert (await ask(lan, "/quyet_dinh")).text.endswith("Không có đề nghị nào chờ quyết định.")

    # Re-rating (R-A2): the decided level is cancelled with a reason and reopened.
    assert "không có quyền" in (await ask(secretary, "/xep_loai_lai DV103")).text
    prompt = await ask(committee, "/xep_loai_lai DV103")
    assert "Hủy mức xếp loại HTT" in prompt.text
    await committee.send("Phát hiện vi phạm sau khi đã xếp loại.")
    confirm = await committee.wait_message()
    assert "sẽ bị hủy" in confirm.text and "bí thư chi bộ sẽ được báo" in confirm.text
    assert await ratings_of(database_url, tree.member_ids["DV103"]) == [("decided", "HTT", "HTT")]
    await committee.wait_answer(await committee.press("✅ Xác nhận", message=confirm))
    done = await committee.wait_message()
    assert done.text.startswith(f"Đã hủy mức xếp loại HTT năm {YEAR} của đồng chí Lê Văn Cường")
    assert await ratings_of(database_url, tree.member_ids["DV103"]) == [
        ("cancelled", "HTT", "HTT"), ("proposed", None, None)]
    notice = cuong.messages()[-1]
    assert "Lý do: Phát hiện vi phạm sau khi đã xếp loại." in notice.text

    async def history(session):
        rows = await session.execute(
            select(RatingChange.kind, RatingChange.level).join(Rating, Rating.id == RatingChange.rating_id)
            .where(Rating.member_id == tree.member_ids["DV103"]).order_by(RatingChange.id))
        return [tuple(row) for row in rows]
    assert await query(database_url, history) == [
        ("proposed", "HTT"), ("decided", "HTT"), ("cancelled", "HTT"), ("reopened", None)]
    assert "chưa có mức xếp loại năm" in (await ask(committee, "/xep_loai_lai DV103")).text

    # An appeal (R-A1) reaches the committee, whose written answer comes back.
    assert "chưa có mức xếp loại đã được quyết định" in (await ask(cuong, "/khieu_nai")).text
    prompt = await ask(dung, "/khieu_nai")
    assert f"Mức xếp loại năm {YEAR} đã quyết định đối với đồng chí là HTT" in prompt.text
    await dung.send("Tôi đề nghị xem xét lại vì tôi đã hoàn thành vượt mức các chỉ tiêu được giao.")
    confirm = await dung.wait_message()
    assert "không rút lại được" in confirm.text
    await dung.wait_answer(await dung.press("✅ Xác nhận", message=confirm))
    sent = await dung.wait_message()
    assert sent.text.startswith("Đơn khiếu nại của đồng chí đã được gửi đến 1 đồng chí trong cấp ủy")
    appeal = [m for m in committee.messages() if m.text and m.text.startswith("Đơn khiếu nại của đồng chí Phạm Thị Dung")][-1]
    assert "vượt mức các chỉ tiêu" in appeal.text
    assert "Không có tổ chức mã CB12 trong phạm vi" in (await ask(secretary, "/quyet_dinh CB12")).text
    skip_read(committee)
    await committee.wait_answer(await committee.press("✍️ Trả lời", message=appeal))
    assert "câu trả lời của cấp ủy" in (await committee.wait_message()).text
    await committee.send("Cấp ủy giữ nguyên mức HTT vì tỷ lệ HTXS của đảng bộ đã đủ.")
    confirm = await committee.wait_message()
    await committee.wait_answer(await committee.press("✅ Xác nhận", message=confirm))
    assert (await committee.wait_message()).text == "Câu trả lời đã được lưu và gửi cho đồng chí Phạm Thị Dung."
    answer = dung.messages()[-1]
    assert answer.text.startswith("Trả lời của Đảng bộ Công ty Điện lực về đơn khiếu nại của đồng chí:")
    assert "giữ nguyên mức HTT" in answer.text
    press = await committee.press("✍️ Trả lời", message=appeal)
    assert (await committee.wait_answer(press)).text == "Đơn khiếu nại này đã được trả lời."

    async def appeals(session):
        return (await session.scalars(select(Appeal))).all()
    [stored_appeal] = await query(database_url, appeals)
    assert stored_appeal.answer.startswith("Cấp ủy giữ nguyên") and stored_appeal.answered_at

    # History (R-A5): four earlier years of HTXS for Nguyễn Văn An, a gap for Trần Thị Bình.
    async def past_years(session):
        province = await session.scalar(select(Organisation).where(Organisation.code == "TINH"))
        for back in range(1, 5):
            cycle = Cycle(org_id=province.id, year=YEAR - back, rulebook="hd21-2019",
                          finish_by=dt.date(YEAR - back, 12, 31), report_by=dt.date(YEAR - back + 1, 1, 15))
            session.add(cycle)
            await session.flush()
            for code, level in (("DV101", "HTXS"), ("DV102", "HTXS" if back != 2 else "HTT")):
                session.add(Rating(cycle_id=cycle.id, member_id=tree.member_ids[code], state="decided",
                                   proposed_level=level, decided_level=level))
    await query(database_url, past_years)
    mine = await ask(an, "/ket_qua")
    assert [line for line in mine.text.splitlines() if line.startswith("Năm")] == [
        f"Năm {YEAR - back}: HTXS" for back in range(4, -1, -1)]
    assert "HTXS 5 năm liền" in mine.text  # the secretary sees their cell's
    runs = await ask(committee, "/ket_qua")
    section = runs.text.split("Đảng viên của Đảng bộ Công ty Điện lực được xếp loại HTXS 5 năm liền:")[1]
    assert section.strip().splitlines() == [
        f"• Nguyễn Văn An (DV101), Chi bộ Phòng Kỹ thuật: {YEAR - 4}–{YEAR}"]
    plain = await ask(cuong, "/ket_qua")
    assert "5 năm liền" not in plain.text
    assert not fake_telegram.refused
