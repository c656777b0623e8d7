"""Issue 13: a report larger than one file allows (Excel's rows a sheet, Telegram's bytes a file:
the settings REPORT_MAX_ROWS and REPORT_MAX_BYTES, lowered here) comes as several files: the
summary per unit and the breaches first, then the members unit by unit, every member once, in
the order of the one-file report, no sheet over the limit."""

from __future__ import annotations

import dataclasses
import io

import openpyxl

from tests.e2e.test_status_tree import PEOPLE
from tests.e2e.test_status_tree import YEAR
from tests.e2e.test_status_tree import build_tree

MAX_ROWS = 5  # a sheet: its header and 4 members (the summary's heading alone takes 4)


async def _documents(user, count_before: int, expected: int) -> list:
    documents = []
    while len(documents) < expected:
        message = await user.wait_message(timeout=60)
        if message.document is not None:
            documents.append(message)
    return documents


def _members(content: bytes, max_rows: int = MAX_ROWS) -> list[tuple]:
    book = openpyxl.load_workbook(io.BytesIO(content))
    rows = []
    for sheet in book.worksheets:
        assert sheet.max_row <= max_rows, (sheet.title, sheet.max_row)
        if sheet.title.startswith("Đảng viên"):
            rows += list(sheet.iter_rows(min_row=2, values_only=True))
    return rows


async def test_a_report_too_large_for_one_file_comes_unit_by_unit(
    bot, fake_telegram, tmp_path, cli_env, database_url, clock
):
    tree = await build_tree(tmp_path, cli_env, fake_telegram, database_url, clock())
    province = tree.users["DV401"]

    # The whole province in one file, as a reference.
    await province.send("/bao_cao")
    await province.wait_message()  # "Đang chuẩn bị báo cáo…"
    [whole] = await _documents(province, 0, 1)
    assert whole.document.file_name == f"bao-cao-TINH-{YEAR}.xlsx"
    expected = _members(whole.document.content, 1_048_576)
    assert len(expected) == len(PEOPLE)

    services = bot.application.bot_data["services"]
    services.settings = dataclasses.replace(services.settings, report_max_rows=MAX_ROWS)
    await province.send("/bao_cao")
    progress = await province.wait_message()
    assert progress.text == "Đang chuẩn bị báo cáo của Đảng bộ tỉnh Bình Dương…"
    # XA1's 12 members do not fit a file: CB11's 6 go on two, then CB12 and CBCS1 on one each;
    # XA2's 3 members fit one file of their own.
    documents = await _documents(province, 0, 6)
    names = [d.document.file_name for d in documents]
    assert names == [f"bao-cao-TINH-{YEAR}-tong-hop.xlsx"] + [
        f"bao-cao-TINH-{YEAR}-dang-vien-{n:02d}.xlsx" for n in range(1, 6)
    ], names
    assert progress.deleted
    assert documents[0].caption == (
        "Tình trạng của Đảng bộ tỉnh Bình Dương: tổng hợp và vi phạm. Danh sách đảng viên gửi "
        "tiếp theo trong 5 tệp, theo từng đơn vị."
    )
    assert [d.caption for d in documents[1:]] == [
        f"Đảng viên của Đảng bộ tỉnh Bình Dương, tệp {n}/5: {unit}"
        for n, unit in enumerate(["XA1", "XA1", "XA1", "XA1", "XA2"], 1)
    ]

    summary = openpyxl.load_workbook(io.BytesIO(documents[0].document.content))
    assert summary.sheetnames[:3] == ["Tổng hợp", "Tổng hợp (2)", "Tổng hợp (3)"], summary.sheetnames
    assert "Đảng viên" not in summary.sheetnames and "Vi phạm" in summary.sheetnames
    codes = [row[0] for sheet in summary.worksheets if sheet.title.startswith("Tổng hợp")
             for row in sheet.iter_rows(min_row=5, values_only=True)]
    assert codes == ["XA1", "XA2", "TINH"]

    parts = [_members(d.document.content) for d in documents[1:]]
    assert [len(rows) for rows in parts] == [4, 2, 3, 3, 3]
    assert [row for rows in parts for row in rows] == expected  # each member once, in order
    assert not fake_telegram.refused
