"""Issue 14, part C through the fake Bot API, as users do it: participants' opinions (/y_kien) by
a representative and by the organising office; what a representative may not do; the đảng ủy
deciding its cells with an R-Q7 breach, a proposal lowered and the breach overridden; each
unit's secretary told; a unit's appeal answered; a unit re-rated (R-A2); and, under hd21-2019,
R-C4 on a cell's secretary: their decision waits for the cell's, then is capped, while the
village cell's secretary who is not a public servant is not."""

from __future__ import annotations

import json

from sqlalchemy import select

from storage.models import AuditEntry
from storage.models import ParticipantOpinion
from storage.models import UnitAppeal
from storage.models import UnitPlanSetting
from storage.models import UnitRatingChange
from tests.e2e.harness import run_cli
from tests.e2e.test_decision import ask
from tests.e2e.test_decision import skip_read
from tests.e2e.test_status_tree import query
from tests.e2e.unitkit import NAME
from tests.e2e.unitkit import YEAR
from tests.e2e.unitkit import propose_members
from tests.e2e.unitkit import propose_units
from tests.e2e.unitkit import unit_ratings
from tests.e2e.unitkit import unit_tree

REASON = "Các chi bộ hoàn thành vượt mức chỉ tiêu, cấp trên cho phép vượt tỷ lệ."
OPINION = "Chi bộ phối hợp tốt với Mặt trận trong công tác vận động nhân dân."


async def press(user, label: str, message):
    skip_read(user)
    await user.wait_answer(await user.press(label, message=message))
    return await user.wait_message()


async def test_opinions_and_what_a_representative_may_not_do(bot, fake_telegram, tmp_path,
                                                             cli_env, database_url, clock):
    now = clock()
    tree = await unit_tree(tmp_path, cli_env, fake_telegram, database_url, now)
    await propose_units(tree, {"CB1": "HTT", "CB2": "HTXS", "CB3": "HTT"}, now)
    front, leadership, office = tree.users["R1"], tree.users["R2"], tree.users["D02"]

    # The Front's representative reaches only the village cell: no unit or body to choose.
    greeting = await ask(front, "/start")
    assert "Đồng chí là đại diện Ủy ban MTTQ Đảng bộ xã Tân Phú." in greeting.text
    level = await ask(front, "/y_kien")
    assert level.text.startswith("Ủy ban Mặt trận Tổ quốc Việt Nam đề xuất mức xếp loại nào đối "
                                 "với Chi bộ Thôn Bình An?")
    assert level.button_labels()[-2:] == ["Không đề xuất mức", "✖ Hủy"]
    prompt = await press(front, "HTT (Hoàn thành tốt nhiệm vụ)", level)
    assert "mức đề xuất: HTT" in prompt.text
    assert "từ 10 đến 4.000 ký tự" in (await ask(front, "ngắn")).text
    confirm = await ask(front, OPINION)
    assert f"nội dung nhận xét {len(OPINION)} ký tự" in confirm.text
    assert confirm.button_labels() == ["✅ Lưu ý kiến", "✖ Hủy"]
    done = await press(front, "✅ Lưu ý kiến", confirm)
    assert done.text == ("Đã lưu ý kiến của Ủy ban Mặt trận Tổ quốc Việt Nam về Chi bộ Thôn "
                         "Bình An.")

    # The leadership's representative gives none on a village cell; a code out of reach is not
    # even named; a representative neither sees the status nor decides.
    assert (await ask(leadership, "/y_kien CB1")).text == (
        "Hiện Chi bộ Thôn Bình An không có nội dung nào chờ ý kiến của đồng chí.")
    assert "không có quyền" in (await ask(front, "/tinh_trang DB")).text
    assert "không có quyền" in (await ask(front, "/quyet_dinh DB")).text
    assert "không có quyền" in (await ask(front, "/xep_loai_lai CB1")).text
    help_text = (await ask(front, "/help")).text
    assert "/y_kien" in help_text
    assert not any(c in help_text for c in ("/quyet_dinh", "/bao_cao", "/moi", "/ke_hoach"))

    # The organising office of the đảng ủy speaks for any body: the unit, then the body.
    units = await ask(office, "/y_kien")
    assert units.button_labels() == [NAME["CB1"], NAME["CB2"], NAME["CB3"], "✖ Hủy"]
    bodies = await press(office, NAME["CB2"], units)
    assert bodies.button_labels() == ["Tập thể lãnh đạo cơ quan, đơn vị",
                                      "Các đoàn thể chính trị - xã hội", "✖ Hủy"]
    level = await press(office, "Các đoàn thể chính trị - xã hội", bodies)
    prompt = await press(office, "Không đề xuất mức", level)
    assert "mức đề xuất: không" in prompt.text
    confirm = await ask(office, "Đoàn thể đánh giá chi bộ đoàn kết, gương mẫu.")
    await press(office, "✅ Lưu ý kiến", confirm)
    # A second opinion of the same body replaces the first.
    units = await ask(office, "/y_kien CB2")
    level = await press(office, "Các đoàn thể chính trị - xã hội", units)
    assert "Ý kiến ghi trước đó (không đề xuất mức) sẽ được thay" in level.text
    prompt = await press(office, "HTXS (Hoàn thành xuất sắc nhiệm vụ)", level)
    confirm = await ask(office, "Đoàn thể đề nghị mức xuất sắc vì thành tích nổi bật.")
    await press(office, "✅ Lưu ý kiến", confirm)

    async def stored(session):
        rows = await session.scalars(select(ParticipantOpinion).order_by(ParticipantOpinion.id))
        audit = await session.scalars(select(AuditEntry).where(AuditEntry.action == "unit_opinion.enter"))
        return [(r.body, r.level, r.text) for r in rows], [json.loads(a.details) for a in audit]
    opinions, audit = await query(database_url, stored)
    assert opinions == [("front", "HTT", OPINION),
                        ("mass_orgs", "HTXS", "Đoàn thể đề nghị mức xuất sắc vì thành tích nổi bật.")]
    assert len(audit) == 3 and all("text" not in entry for entry in audit)  # never the text
    assert not fake_telegram.refused


async def test_decide_units_lower_override_appeal_rerate(bot, fake_telegram, tmp_path, cli_env,
                                                         database_url, clock):
    now = clock()
    tree = await unit_tree(tmp_path, cli_env, fake_telegram, database_url, now)
    ids = await propose_units(
        tree, {"CB1": "HTT", "CB2": "HTXS", "CB3": "HTXS", "CB4": "HTXS", "CB5": "HT"}, now)
    await propose_members(tree, {"S2": "HTT", "M2": "HTT"}, now)
    duc, tuan, thu, bay, mai = (tree.users[c] for c in ("D01", "S2", "S3", "S1", "M2"))

    # A cell's secretary decides nothing; the đảng ủy's secretary sees the units, then members.
    assert "không có quyền" in (await ask(tuan, "/quyet_dinh DB")).text
    skip_read(duc)
    await duc.send("/quyet_dinh DB")
    view, members = await duc.wait_message(), await duc.wait_message()
    assert view.text.startswith(
        f"Quyết định xếp loại tổ chức, tập thể thuộc thẩm quyền của Đảng bộ Công ty Thủy lợi, năm {YEAR}")
    assert "Đề nghị, chờ quyết định: 5" in view.text
    assert "• Chi bộ Phòng Kỹ thuật: HTXS, 85,5 điểm" in view.text
    assert "chưa có ý kiến của các chủ thể tham gia" in view.text
    # R-Q7: 3 HTXS where fewer than 5 reach HTT (R-Q4: one allowed).
    assert "⛔ Chưa thể quyết định vì còn vi phạm:" in view.text
    assert "3 tổ chức được đề nghị HTXS, tối đa 1 khi có dưới 5 tổ chức đạt HTT" in view.text
    assert view.button_labels()[-1] == "✍️ Vẫn quyết định, ghi lý do"
    assert "Hạ mức: Chi bộ Đội Thi công" in " ".join(view.button_labels())
    assert members.text.startswith("Quyết định xếp loại đảng viên của Đảng bộ Công ty Thủy lợi")

    # Lowering a proposal: the level, the reason, a confirmation.
    levels = await press(duc, "⬇ Hạ mức: Chi bộ Đội Thi công", view)
    assert levels.button_labels() == ["HTT (Hoàn thành tốt nhiệm vụ)", "HT (Hoàn thành nhiệm vụ)",
                                      "KHT (Không hoàn thành nhiệm vụ)", "✖ Hủy"]
    prompt = await press(duc, "HTT (Hoàn thành tốt nhiệm vụ)", levels)
    assert "lý do hạ mức đề nghị của Chi bộ Đội Thi công xuống HTT" in prompt.text
    confirm = await ask(duc, "Chưa đạt chỉ tiêu an toàn lao động.")
    assert confirm.button_labels() == ["✅ Xác nhận", "✖ Hủy"]
    lowered = await press(duc, "✅ Xác nhận", confirm)
    assert lowered.text == "Đã hạ mức đề nghị của Chi bộ Đội Thi công từ HTXS xuống HTT."
    view = await duc.wait_message()
    assert "• Chi bộ Đội Thi công: HTT" in view.text and "tối đa 1" in view.text  # still 2 HTXS

    # The breach stands: decided anyway with a typed, confirmed reason.
    prompt = await press(duc, "✍️ Vẫn quyết định, ghi lý do", view)
    assert "lý do vẫn quyết định xếp loại các tổ chức" in prompt.text
    assert "từ 10 đến 2000 ký tự" in (await ask(duc, "ngắn")).text
    confirm = await ask(duc, REASON)
    assert "dù còn vi phạm" in confirm.text
    done = await press(duc, "✅ Xác nhận", confirm)
    assert done.text.startswith(
        f"Đảng bộ Công ty Thủy lợi đã quyết định xếp loại 5 tổ chức, tập thể, năm {YEAR}.")
    assert "Đã quyết định dù còn vi phạm" in done.text

    # Each unit's secretary is told its level (R-A3).
    told = [m.text for m in tuan.messages() if "đã quyết định xếp loại chất lượng năm" in (m.text or "")]
    assert told == [f"Đảng bộ Công ty Thủy lợi đã quyết định xếp loại chất lượng năm {YEAR} của "
                    "Chi bộ Phòng Kỹ thuật: HTXS (Hoàn thành xuất sắc nhiệm vụ).\n"
                    "Nếu không đồng ý, bí thư hoặc phó bí thư có thể gửi đơn khiếu nại bằng "
                    "/khieu_nai kèm mã của tổ chức."]
    assert any("Chi bộ Thôn Bình An: HTT" in (m.text or "") for m in bay.messages())

    async def stored(session):
        audit = await session.scalar(select(AuditEntry).where(AuditEntry.action == "unit_rating.decide"))
        changes = (await session.scalars(
            select(UnitRatingChange).where(UnitRatingChange.kind.in_(["decided", "lowered"]))
            .order_by(UnitRatingChange.id))).all()
        return json.loads(audit.details), [(c.kind, c.level, c.reason) for c in changes]
    details, changes = await query(database_url, stored)
    assert details["reason"] == REASON and details["overridden"] == ["quota.org_small_group"]
    assert changes[0] == ("lowered", "HTT", "Chưa đạt chỉ tiêu an toàn lao động.")
    assert len(changes) == 6 and {c[2] for c in changes[1:]} == {REASON}

    # The unit's appeal (R-A1): only its head files it; the đảng ủy answers in writing.
    assert "Chỉ bí thư hoặc phó bí thư của Chi bộ Phòng Kỹ thuật" in (await ask(mai, "/khieu_nai CB2")).text
    prompt = await ask(tuan, "/khieu_nai CB2")
    assert "Mức xếp loại năm" in prompt.text and "Chi bộ Phòng Kỹ thuật" in prompt.text
    confirm = await ask(tuan, "Chi bộ đề nghị xem xét lại vì đã hoàn thành mọi chỉ tiêu được giao.")
    skip_read(duc)
    sent = await press(tuan, "✅ Xác nhận", confirm)
    assert sent.text.startswith("Đơn khiếu nại của đồng chí đã được gửi đến 1 đồng chí")
    appeal = await duc.wait_message()
    assert appeal.text.startswith("Đơn khiếu nại của Chi bộ Phòng Kỹ thuật (đồng chí Phạm Minh Tuấn gửi)")
    prompt = await press(duc, "✍️ Trả lời", appeal)
    confirm = await ask(duc, "Đảng ủy giữ nguyên mức đã quyết định sau khi xem xét.")
    skip_read(tuan)
    await press(duc, "✅ Xác nhận", confirm)
    answer = await tuan.wait_message()
    assert answer.text.startswith("Trả lời của Đảng bộ Công ty Thủy lợi về đơn khiếu nại")

    async def appeals(session):
        row = await session.scalar(select(UnitAppeal))
        return row.text, row.answer, row.filed_by
    text, answer_text, filer = await query(database_url, appeals)
    assert answer_text == "Đảng ủy giữ nguyên mức đã quyết định sau khi xem xét."
    assert filer == tree.member_ids["S2"] and text.startswith("Chi bộ đề nghị")

    # Re-rating (R-A2): the decided level is cancelled with a reason, history kept, reopened.
    assert "không có quyền" in (await ask(tuan, "/xep_loai_lai CB2")).text
    # A sibling's code reads as an unknown code (a member's or an organisation's).
    assert (await ask(tuan, "/xep_loai_lai CB3")).text == (
        "Không có đảng viên hay tổ chức mã CB3 trong phạm vi của đồng chí.")
    assert (await ask(tuan, "/xep_loai_lai KHONGCO")).text == (
        "Không có đảng viên hay tổ chức mã KHONGCO trong phạm vi của đồng chí.")
    prompt = await ask(duc, "/xep_loai_lai CB3")
    assert "Hủy mức xếp loại HTXS (Hoàn thành xuất sắc nhiệm vụ)" in prompt.text
    confirm = await ask(duc, "Phát hiện chỉ tiêu báo cáo chưa đúng thực tế.")
    skip_read(thu)
    done = await press(duc, "✅ Xác nhận", confirm)
    assert done.text.startswith("Đã hủy mức xếp loại HTXS")
    assert "đã bị hủy để xếp loại lại" in (await thu.wait_message()).text
    assert await unit_ratings(database_url, [ids["CB3"]]) == [
        ("cancelled", "HTXS", "HTXS"), ("proposed", None, None)]
    view = await ask(duc, "/quyet_dinh CB3")
    assert "Chưa có đề nghị: 1 (Chi bộ Phòng Hành chính)" in view.text
    await duc.wait_message()  # the members' screen
    assert "chưa có mức xếp loại đã quyết định để hủy" in (await ask(duc, "/xep_loai_lai CB3")).text
    assert not fake_telegram.refused


async def test_head_waits_for_the_cell_then_is_capped(bot, fake_telegram, tmp_path, cli_env,
                                                      database_url, clock):
    """hd21-2019: R-C4 applies."""
    now = clock()
    tree = await unit_tree(tmp_path, cli_env, fake_telegram, database_url, now, "hd21-2019")
    await propose_units(tree, {"CB1": "HT", "CB2": "HTT", "CB3": "HTT", "CB4": "HT", "CB5": "HT"}, now)
    await propose_members(tree, {"S2": "HTXS", "M2": "HTT", "S1": "HTT"}, now)
    duc = tree.users["D01"]

    # The cell's secretary waits for the cell's decision; the others are decided as usual.
    skip_read(duc)
    await duc.send("/quyet_dinh CB2")
    units, members = await duc.wait_message(), await duc.wait_message()
    assert units.text.startswith("Quyết định xếp loại Chi bộ Phòng Kỹ thuật (Đảng bộ Công ty Thủy lợi quyết định)")
    assert "Chờ kết quả xếp loại tập thể: 1\n• Phạm Minh Tuấn (S2): HTXS" in members.text
    assert "Đề nghị, chờ quyết định: 1\n• Võ Thị Mai (M2): HTT" in members.text

    # The đảng ủy decides its cells: the secretary is now capped at the cell's level.
    view = await ask(duc, "/quyet_dinh DB")
    await duc.wait_message()  # the members' screen
    done = await press(duc, "✅ Quyết định xếp loại 5 tổ chức, tập thể", view)
    assert "Phạm Minh Tuấn (S2): đề nghị HTXS, tối đa HTT" in done.text
    assert "Nguyễn Văn Bảy" not in done.text  # the village secretary: not a public servant
    skip_read(duc)
    await duc.send("/quyet_dinh CB2")
    units, members = await duc.wait_message(), await duc.wait_message()
    assert "Đã quyết định: 1" in units.text
    assert "Chờ kết quả xếp loại tập thể" not in members.text
    assert "Đề nghị, chờ quyết định: 2" in members.text
    assert "Đồng chí Phạm Minh Tuấn được đề xuất HTXS, cao nhất chỉ được HTT" in members.text
    assert members.button_labels() == ["✍️ Vẫn quyết định, ghi lý do"]
    # The village cell's secretary proposed HTT above the cell's HT: the exception applies.
    skip_read(duc)
    await duc.send("/quyet_dinh CB1")
    await duc.wait_message()
    members = await duc.wait_message()
    assert "vi phạm" not in members.text and members.button_labels() == ["✅ Quyết định 1 mức xếp loại"]
    assert not fake_telegram.refused


async def test_the_upper_level_gives_units_their_settings(bot, fake_telegram, tmp_path, cli_env,
                                                          database_url, clock):
    """Item 8: the outstanding share (R-Q1) and the peer group (R-Q5) a level above gives a unit,
    in /ke_hoach and on the command line, and what they change in the decision."""
    now = clock()
    tree = await unit_tree(tmp_path, cli_env, fake_telegram, database_url, now)
    await propose_units(tree, {"CB1": "HTXS", "CB2": "HTXS", "CB3": "HTT", "CB4": "HTT",
                               "CB5": "HTT"}, now)
    duc, tuan = tree.users["D01"], tree.users["S2"]

    # A cell's own secretary sets earlier deadlines only: never a share for itself.
    assert (await ask(tuan, "/ke_hoach CB2")).text.startswith("Thời hạn 1/")
    await ask(tuan, "/huy")
    # The đảng ủy's secretary gives CB1 the outstanding share and a peer group.
    unit = await ask(duc, "/ke_hoach CB1")
    assert unit.text.startswith(f"Cấp trên giao cho Chi bộ Thôn Bình An trong kế hoạch năm {YEAR}:")
    assert "1. Đơn vị có thành tích nổi bật: tỷ lệ HTXS được nâng lên: không" in unit.text
    unit = await press(duc, "✏ 1", unit)
    assert "có, tối đa 25%" in unit.text
    prompt = await press(duc, "✏ 2", unit)
    assert "Nhóm tương đồng: hiện là không" in prompt.text
    assert "không phải là nhãn hợp lệ" in (await ask(duc, "thôn bình an")).text
    unit = await ask(duc, "thon")
    assert "2. Nhóm tương đồng để tính tỷ lệ: THON" in unit.text
    step = await press(duc, "✅ Giữ các giá trị này", unit)
    while any(label.startswith("Giữ ") for label in step.button_labels()):
        step = await press(duc, step.button_labels()[0], step)
    assert "THON" in step.text and "✅ Lưu kế hoạch" in step.button_labels()
    saved = await press(duc, "✅ Lưu kế hoạch", step)
    assert saved.text == f"✅ Đã lưu kế hoạch năm {YEAR} của Chi bộ Thôn Bình An."
    # The operator puts CB2 in the same group from the command line.
    result = await run_cli("cycle", "unit", "--org", "CB2", "--year", str(YEAR), "--set",
                           "peer_group=THON", env=cli_env)
    assert result.code == 0, result.err
    assert "Đã lưu các thiết lập của Chi bộ Phòng Kỹ thuật." in result.out
    result = await run_cli("cycle", "unit", "--org", "XA", "--year", str(YEAR), "--set",
                           "outstanding_unit=yes", env=cli_env)
    assert result.code == 1 and "cấp trên giao" in result.err  # the plan's own organisation

    async def settings(session):
        rows = await session.scalars(select(UnitPlanSetting).order_by(UnitPlanSetting.id))
        return [(r.org_id, r.key, json.loads(r.value)) for r in rows]
    assert await query(database_url, settings) == [
        (tree.org_ids["CB1"], "outstanding_unit", True), (tree.org_ids["CB1"], "peer_group", "THON"),
        (tree.org_ids["CB2"], "peer_group", "THON")]

    # THON holds CB1 and CB2, both HTXS: of 2 reaching HTT one may be (R-Q4), and the group is
    # not outstanding as a whole (CB2 is not); the three others break nothing.
    view = await ask(duc, "/quyet_dinh CB3")
    assert "⛔" not in view.text
    await duc.wait_message()  # the members' screen
    view = await ask(duc, "/quyet_dinh CB2")
    assert "2 tổ chức được đề nghị HTXS, tối đa 1" in view.text
    assert not fake_telegram.refused
