"""Issue 5: /ke_hoach through the fake Bot API (wrong answers explained and asked again, a
restart in the middle), a lower unit's earlier deadlines (R-D5), and the CLI's plan options."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from storage.models import AuditEntry
from storage.models import Organisation
from storage.models import UnitDeadline
from tests.e2e.harness import run_cli
from tests.e2e.test_plan_kit import build_tree
from tests.e2e.test_plan_kit import cycle_row
from tests.e2e.test_plan_kit import local
from tests.e2e.test_plan_kit import open_plan
from tests.e2e.test_plan_kit import overrides
from tests.e2e.test_plan_kit import query


async def unit_deadlines(database_url, org_code):
    async def run(session):
        rows = await session.execute(
            select(UnitDeadline.key, UnitDeadline.due)
            .join(Organisation, Organisation.id == UnitDeadline.org_id)
            .where(Organisation.code == org_code)
        )
        return dict(rows.all())

    return await query(database_url, run)


async def test_ke_hoach_guided_flow_keeps_answers_through_errors_and_a_restart(
    bot, fake_telegram, database_url, clock
):
    clock.current = local(2026, 11, 21, 10, 0)
    tree = await build_tree(database_url, fake_telegram)
    khanh = tree.users["DV08"]  # organising office of the upper committee UP01

    await khanh.send("/ke_hoach")
    ask = await khanh.wait_message()
    assert "Kế hoạch kiểm điểm của Đảng ủy Phường Bến Thành. Năm nào?" in ask.text
    assert ask.button_labels() == ["2025", "2026", "2027", "✖ Hủy"]
    await khanh.send("năm nay")
    again = await khanh.wait_message()
    assert again.text.startswith("❌ “năm nay” không phải năm có thể lập kế hoạch: gõ 2025, 2026")
    await khanh.send("2026")
    ask = await khanh.wait_message()
    assert "Kế hoạch năm 2026 thực hiện theo quy định nào?" in ask.text
    await khanh.press("Hướng dẫn 21-HD/BTCTW (2019)")
    settings = await khanh.wait_message()
    assert "1. HTXS tối đa, % số đảng viên đạt HTT: 20" in settings.text
    assert "Nghỉ ốm từ số tháng này trở lên: tối đa HT: 3" in settings.text

    await khanh.press("✏ 1", message=settings)
    assert "hiện là 20. Đồng chí gõ giá trị mới." in (await khanh.wait_message()).text
    await khanh.send("150")
    refused = await khanh.wait_message()
    assert "“150” không phải giá trị hợp lệ" in refused.text and "từ 0 đến 100" in refused.text
    await khanh.send("15")
    settings = await khanh.wait_message()
    assert "đạt HTT: 15 ✏" in settings.text

    await bot.restart()  # the draft and the expected input are in the database
    await khanh.press("✏ 4", message=settings)
    await khanh.wait_message()
    await khanh.send("7")
    settings = await khanh.wait_message()
    assert "đạt HTT: 15 ✏" in settings.text and ": 7 ✏" in settings.text
    assert "(R-" not in settings.text
    await khanh.press("✅ Giữ các giá trị này", message=settings)
    ask = await khanh.wait_message()
    assert "Thời hạn 1/7: Hoàn thành kiểm điểm, xếp loại" in ask.text
    await khanh.send("31/02/2026")
    again = await khanh.wait_message()
    assert again.text.startswith("❌ “31/02/2026” không phải ngày hợp lệ")
    await khanh.send("20/12/2026")
    ask = await khanh.wait_message()
    assert "Thời hạn 2/7: Báo cáo kết quả lên cấp trên" in ask.text
    await khanh.send("10/12/2026")
    again = await khanh.wait_message()
    assert "❌ Hạn báo cáo không được trước hạn hoàn thành." in again.text
    assert again.button_labels() == ["Giữ 20/02/2027", "✖ Hủy"]
    prompt = again
    while any(label.startswith("Giữ ") for label in prompt.button_labels()):
        await khanh.press(prompt.button_labels()[0], message=prompt)
        prompt = await khanh.wait_message()
    assert "Hoàn thành kiểm điểm, xếp loại: 20/12/2026" in prompt.text
    assert "Báo cáo kết quả lên cấp trên: 20/02/2027" in prompt.text
    await khanh.press("✅ Lưu kế hoạch", message=prompt)
    assert (await khanh.wait_message()).text == (
        "✅ Đã lưu kế hoạch năm 2026 của Đảng ủy Phường Bến Thành."
    )

    cycle = await cycle_row(database_url)
    assert (cycle.year, cycle.rulebook) == (2026, "hd21-2019")
    assert overrides(cycle) == {"htxs_quota_percent": 15, "small_cell_size_below": 7}
    assert (cycle.finish_by, cycle.report_by) == (dt.date(2026, 12, 20), dt.date(2027, 2, 20))
    assert (await unit_deadlines(database_url, "UP01"))["leaders_reviewed"] == dt.date(2026, 12, 10)

    async def audit(session):
        return (await session.scalars(select(AuditEntry.action))).all()

    assert "plan.save" in await query(database_url, audit)
    assert not fake_telegram.refused


async def test_a_lower_unit_sets_earlier_deadlines_never_later(
    bot, fake_telegram, database_url, clock
):
    clock.current = local(2026, 11, 21, 10, 0)
    tree = await build_tree(database_url, fake_telegram)
    await open_plan(tree.users["DV08"], finish_by="20/12/2026")

    binh = tree.users["DV02"]  # no role: no plan
    await binh.send("/ke_hoach")
    assert (await binh.wait_message()).text == "Chức năng này dành cho cấp ủy viên."

    an = tree.users["DV01"]  # secretary of CB01, under the plan of UP01
    await an.send("/ke_hoach")
    ask = await an.wait_message()
    assert "Thời hạn 1/7: Hoàn thành kiểm điểm, xếp loại" in ask.text
    assert "không được muộn hơn." in ask.text and "(R-" not in ask.text
    assert ask.button_labels() == ["Giữ 20/12/2026", "✖ Hủy"]
    await an.send("25/12/2026")
    refused = await an.wait_message()
    assert "25/12/2026" in refused.text and "20/12/2026" in refused.text
    assert "(R-" not in refused.text
    await an.send("18/12/2026")
    prompt = await an.wait_message()
    while any(label.startswith("Giữ ") for label in prompt.button_labels()):
        await an.press(prompt.button_labels()[0], message=prompt)
        prompt = await an.wait_message()
    assert "Áp dụng kế hoạch năm 2026 của cấp trên" in prompt.text
    await an.press("✅ Lưu kế hoạch", message=prompt)
    assert (await an.wait_message()).text == "✅ Đã lưu kế hoạch năm 2026 của Chi bộ Giáo viên."
    assert await unit_deadlines(database_url, "CB01") == {"finish_by": dt.date(2026, 12, 18)}

    # The committee of the grassroots đảng bộ cannot undercut … nor go past the upper level.
    hoa = tree.users["DV07"]
    await hoa.send("/ke_hoach")
    await hoa.wait_message()
    await hoa.send("15/12/2026")  # earlier than CB01's 18/12: CB01 would be later than it
    prompt = await hoa.wait_message()
    while any(label.startswith("Giữ ") for label in prompt.button_labels()):
        await hoa.press(prompt.button_labels()[0], message=prompt)
        prompt = await hoa.wait_message()
    await hoa.press("✅ Lưu kế hoạch", message=prompt)
    refusal = await hoa.wait_message()
    assert refusal.text.startswith("❌ Một đơn vị cấp dưới đã đặt thời hạn muộn hơn")
    assert "18/12/2026" in refusal.text and "15/12/2026" in refusal.text
    assert "✅ Lưu kế hoạch" in refusal.button_labels()
    assert await unit_deadlines(database_url, "DBCS01") == {}
    assert not fake_telegram.refused


async def test_cli_sets_the_plan_and_a_units_earlier_deadline(
    fake_telegram, database_url, cli_env
):
    await build_tree(database_url, fake_telegram)
    result = await run_cli(
        "cycle", "create", "--org", "UP01", "--year", "2026", "--rulebook", "hd21-2019",
        "--finish-by", "20/12/2026", "--report-by", "20/02/2027",
        "--set", "htxs_quota_percent=15", "--set", "small_cell_size_below=7",
        "--deadline", "leaders_reviewed=05/12/2026", env=cli_env,
    )
    assert result.code == 0, result.err
    cycle = await cycle_row(database_url)
    assert overrides(cycle) == {"htxs_quota_percent": 15, "small_cell_size_below": 7}
    assert (await unit_deadlines(database_url, "UP01"))["leaders_reviewed"] == dt.date(2026, 12, 5)

    later = await run_cli(
        "cycle", "deadline", "--org", "CB01", "--year", "2026", "finish_by=05/01/2027",
        env=cli_env,
    )
    assert later.code == 1
    assert "Đơn vị chỉ được đặt thời hạn sớm hơn" in later.err
    assert "05/01/2027" in later.err and "20/12/2026" in later.err and "R-D5" not in later.err
    earlier = await run_cli(
        "cycle", "deadline", "--org", "CB01", "--year", "2026", "finish_by=15/12/2026",
        env=cli_env,
    )
    assert earlier.code == 0, earlier.err
    assert await unit_deadlines(database_url, "CB01") == {"finish_by": dt.date(2026, 12, 15)}


async def test_cli_plan_refused_with_its_settings_leaves_nothing(
    fake_telegram, database_url, cli_env
):
    """A plan under an upper level's plan of the same year is refused when it changes settings:
    the refusal is told and nothing of it is kept (not even the bare plan)."""
    await build_tree(database_url, fake_telegram)
    dates = ["--year", "2026", "--rulebook", "qd366-2025", "--finish-by", "20/12/2026",
             "--report-by", "20/02/2027"]
    result = await run_cli("cycle", "create", "--org", "UP01", *dates, env=cli_env)
    assert result.code == 0, result.err
    refused = await run_cli(
        "cycle", "create", "--org", "DBCS01", *dates, "--set", "htxs_quota_percent=15",
        env=cli_env,
    )
    assert refused.code == 1 and "Traceback" not in refused.err
    assert "Đảng bộ Trường THPT Lê Lợi" in refused.err and "thời hạn sớm hơn" in refused.err
    assert await cycle_row(database_url, "DBCS01") is None
    again = await run_cli("cycle", "create", "--org", "UP01", *dates, env=cli_env)
    assert again.code == 1 and "đã có kế hoạch" in again.err
