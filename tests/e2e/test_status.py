"""Issue 6: /tinh_trang at every level of an imported four-level tree, against counts computed
here; drill-down, the way back up and paging; the chart as a PNG; the .xlsx reopened."""

from __future__ import annotations

import datetime as dt
import io
import re
from zoneinfo import ZoneInfo

import openpyxl

from tests.e2e.test_status_tree import BY_CODE
from tests.e2e.test_status_tree import PEOPLE
from tests.e2e.test_status_tree import YEAR
from tests.e2e.test_status_tree import build_tree
from tests.e2e.test_status_tree import expected
from tests.e2e.test_status_tree import level_lines
from tests.e2e.test_status_tree import progress_lines
from tests.e2e.test_status_tree import subtree_cells

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")  # the spreadsheet's dates are the bot's local dates


async def ask(user, text: str):
    await user.send(text)
    return await user.wait_message()


async def press(user, label: str, message):
    await user.wait_answer(await user.press(label, message=message))
    return await user.wait_edit(message)


def short(code: str, breaches: int = 0) -> str:
    e = expected(code)
    decided = sum(e.decided.values())
    return (f"📝 {e.submitted}/{e.to_review} ⏰ {e.late} · 🗓 {e.held}/{e.cells} · 🗳 {e.open} · "
            f"✅ {decided}/{e.to_review} · ⚠️ {breaches}")


async def test_status_at_every_level(bot, fake_telegram, tmp_path, cli_env, database_url, clock):
    tree = await build_tree(tmp_path, cli_env, fake_telegram, database_url, clock())
    province = tree.users["DV401"]  # committee member of the province

    # The province: every figure against the counts computed from the data.
    message = await ask(province, "/tinh_trang")
    text = message.text
    assert text.startswith("Tình trạng của Đảng bộ tỉnh Bình Dương (TINH)"), text
    assert f"Kế hoạch năm {YEAR}: hoàn thành trước 31/12/{YEAR}" in text
    for line in progress_lines(expected("TINH")) + level_lines(expected("TINH")):
        assert line in text, (line, text)
    # One quota breach (DBCS1: 2 HTXS of 6 at HTT, 20% allows 1) and one cap (disciplined, HT).
    assert "⚠️ Vi phạm: tỷ lệ 1; mức tối đa 1; thời hạn 0" in text, text
    assert "Đơn vị trực thuộc (1–2 / 2):" in text
    assert f"• XA1 Đảng bộ phường Phú Cường: {short('XA1', 2)}" in text, text
    assert f"• XA2 Đảng bộ phường Hiệp Thành: {short('XA2')}" in text, text
    assert message.button_labels()[:2] == ["🔎 XA1", "🔎 XA2"]
    assert "⬆️" not in " ".join(message.button_labels())  # nothing above the caller's root

    # Drill down: XA1, then DBCS1 (quota on the committee, the cap on CB12), then back up.
    shown = await press(province, "🔎 XA1", message)
    assert "Tình trạng của Đảng bộ phường Phú Cường (XA1)" in shown.text
    for line in progress_lines(expected("XA1")) + level_lines(expected("XA1")):
        assert line in shown.text, (line, shown.text)
    assert f"• DBCS1 Đảng bộ Công ty Điện lực: {short('DBCS1', 2)}" in shown.text, shown.text
    assert f"• CBCS1 Chi bộ Trường Tiểu học Phú Cường: {short('CBCS1')}" in shown.text
    assert "⬆️ Lên: TINH" in message.button_labels()
    shown = await press(province, "🔎 DBCS1", message)
    for line in progress_lines(expected("DBCS1")) + level_lines(expected("DBCS1")):
        assert line in shown.text, (line, shown.text)
    assert "⚠️ Vi phạm: tỷ lệ 1; mức tối đa 1; thời hạn 0" in shown.text
    assert "2 đảng viên được đề nghị HTXS" in shown.text or "HTXS" in shown.text
    assert f"• CB11 Chi bộ Phòng Kỹ thuật: {short('CB11')}" in shown.text, shown.text
    assert f"• CB12 Chi bộ Phòng Kinh doanh: {short('CB12', 1)}" in shown.text, shown.text
    shown = await press(province, "🔎 CB11", message)
    for line in progress_lines(expected("CB11")) + level_lines(expected("CB11")):
        assert line in shown.text, (line, shown.text)
    assert "Đơn vị trực thuộc" not in shown.text
    shown = await press(province, "⬆️ Lên: DBCS1", message)
    assert "Tình trạng của Đảng bộ Công ty Điện lực (DBCS1)" in shown.text

    # Paging: DBCS2 has 23 cells, 20 a page.
    message = await ask(province, "/tinh_trang DBCS2")
    for line in progress_lines(expected("DBCS2")):
        assert line in message.text, (line, message.text)
    assert "Đơn vị trực thuộc (1–20 / 23):" in message.text
    assert "• CB40 " in message.text and "• CB41 " not in message.text
    assert len([b for b in message.button_labels() if b.startswith("🔎")]) == 20
    shown = await press(province, "Sau ▶️", message)
    assert "Đơn vị trực thuộc (21–23 / 23):" in shown.text
    assert "• CB43 Chi bộ Nhà máy số 23" in shown.text and "• CB40 " not in shown.text
    assert "◀️ Trước" in message.button_labels() and "Sau ▶️" not in message.button_labels()
    shown = await press(province, "◀️ Trước", message)
    assert "Đơn vị trực thuộc (1–20 / 23):" in shown.text

    # The grassroots committee member: their subtree, and nothing above or beside it.
    committee = tree.users["DV201"]
    message = await ask(committee, "/tinh_trang")
    assert "Tình trạng của Đảng bộ Công ty Điện lực (DBCS1)" in message.text
    assert not any(label.startswith("⬆️") for label in message.button_labels())
    refused = await ask(committee, "/tinh_trang XA1")
    assert refused.text == "Đồng chí không có quyền thực hiện việc này đối với Đảng bộ phường Phú Cường."
    refused = await ask(committee, "/tinh_trang CB21")
    assert refused.text == "Không có tổ chức mã CB21 trong phạm vi của đồng chí."
    assert (await ask(committee, "/tinh_trang KHONGCO")).text == "Không có tổ chức mã KHONGCO trong phạm vi của đồng chí."

    # A plain member: their cell's progress in figures only.
    member = tree.users["DV103"]
    message = await ask(member, "/tinh_trang")
    assert "Tình trạng của Chi bộ Phòng Kỹ thuật (CB11)" in message.text
    for line in progress_lines(expected("CB11")):
        assert line in message.text
    assert "Đề nghị" not in message.text and "Vi phạm" not in message.text
    assert message.button_labels() == []
    assert "Không có tổ chức mã CB12 trong phạm vi" in (await ask(member, "/tinh_trang CB12")).text
    assert "Không có tổ chức mã DBCS1 trong phạm vi" in (await ask(member, "/tinh_trang DBCS1")).text
    assert "bí thư, phó bí thư và cấp ủy viên" in (await ask(member, "/bieu_do")).text

    # Past the plan's finish-by date, undecided members are deadline breaches.
    clock.current = dt.datetime(YEAR + 1, 1, 2, 3, tzinfo=dt.UTC)
    message = await ask(province, "/tinh_trang XA1")
    undecided = expected("XA1").to_review - sum(expected("XA1").decided.values())
    assert f"⚠️ Vi phạm: tỷ lệ 1; mức tối đa 1; thời hạn {undecided}" in message.text, message.text
    assert f"{undecided} đảng viên chưa có quyết định xếp loại dù đã quá hạn hoàn thành 31/12/{YEAR}" in message.text
    assert not fake_telegram.refused


async def test_chart_and_spreadsheet(bot, fake_telegram, tmp_path, cli_env, database_url, clock):
    tree = await build_tree(tmp_path, cli_env, fake_telegram, database_url, clock())
    province = tree.users["DV401"]

    await province.send("/bieu_do")
    chart = await province.wait_message(timeout=30)
    assert chart.photo is not None and chart.photo.content.startswith(b"\x89PNG")
    assert chart.caption == "Tiến độ và xếp loại của Đảng bộ tỉnh Bình Dương"
    assert chart.photo.width == 900 and chart.photo.height > 400

    await province.send("/bao_cao XA1")
    progress = await province.wait_message()
    assert progress.text == "Đang chuẩn bị báo cáo của Đảng bộ phường Phú Cường…"
    report = await province.wait_message(timeout=30)
    assert progress.deleted  # the progress note goes once the file is there
    assert report.document.file_name == f"bao-cao-XA1-{YEAR}.xlsx"
    book = openpyxl.load_workbook(io.BytesIO(report.document.content))
    assert book.sheetnames == ["Tổng hợp", "Đảng viên", "Vi phạm", "Tổ chức đảng"]

    summary = book["Tổng hợp"]
    assert summary["A1"].value == f"Tình trạng của Đảng bộ phường Phú Cường, năm {YEAR}"
    assert summary["B2"].number_format == "dd/mm/yyyy"
    assert summary["D2"].value.date() == dt.date(YEAR, 12, 31)
    header = [c.value for c in summary[4]]
    assert header[:7] == ["Mã", "Tổ chức", "Đảng viên", "Phải kiểm điểm", "Đã nộp", "Nộp muộn", "Chưa nộp"]
    assert summary.column_dimensions["B"].width == 36
    rows = {row[0]: row for row in summary.iter_rows(min_row=5, values_only=True)}
    assert set(rows) == {"DBCS1", "CBCS1", "XA1"}
    for code in ("DBCS1", "CBCS1", "XA1"):
        e = expected(code)
        row = rows[code]
        assert row[2:7] == (e.members, e.to_review, e.submitted, e.late, e.missing), (code, row)
        column = header.index("Quyết định HT")
        assert row[column] == e.decided["HT"]
        assert row[header.index("Đề nghị HTXS")] == e.proposed["HTXS"]
    assert rows["XA1"][1] == "Tổng cộng"
    assert rows["DBCS1"][header.index("Vi phạm tỷ lệ")] == 1

    members = book["Đảng viên"]
    assert [c.value for c in members[1]] == [
        "Mã đảng viên", "Họ và tên", "Chi bộ", "Loại đảng viên", "Mức xếp loại đã quyết định",
        "Ngày quyết định"]
    listed = {row[0]: row for row in members.iter_rows(min_row=2, values_only=True)}
    cells = subtree_cells("XA1")
    assert set(listed) == {p.code for p in PEOPLE if p.cell in cells}
    assert listed["DV302"][4] == "HT" and listed["DV302"][5].date() == clock().astimezone(VIETNAM).date()
    assert listed["DV101"][4] is None  # proposed HTXS, not decided: no level, never votes
    assert listed["DV106"][3] == "dự bị"
    assert members.cell(row=[r[0] for r in members.iter_rows(values_only=True)].index("DV302") + 1,
                        column=6).number_format == "dd/mm/yyyy"

    breaches = book["Vi phạm"]
    found = list(breaches.iter_rows(min_row=2, values_only=True))
    assert len(found) == 2, found
    by_org = {row[0]: row for row in found}
    # The rules in words, never their ids (R-Q1, R-Q6...).
    assert by_org["DBCS1"][2].startswith("Tỷ lệ hoàn thành xuất sắc nhiệm vụ"), by_org["DBCS1"]
    assert "xếp loại lại khi vượt tỷ lệ" in by_org["DBCS1"][2]
    assert not [row for row in found if re.search(r"\bR-[A-Z][0-9]", " ".join(map(str, row)))]
    assert set(by_org["DBCS1"][4].split(", ")) == {BY_CODE["DV101"].name, BY_CODE["DV102"].name}
    assert by_org["CB12"][4] == BY_CODE["DV203"].name

    # The buttons under /tinh_trang give the same files.
    await province.send("/tinh_trang DBCS1")
    message = await province.wait_message()
    await province.wait_answer(await province.press("📥 Báo cáo Excel", message=message))
    await province.wait_message()  # "Đang chuẩn bị báo cáo…"
    again = await province.wait_message(timeout=30)
    assert again.document.file_name == f"bao-cao-DBCS1-{YEAR}.xlsx"
    assert not fake_telegram.refused
