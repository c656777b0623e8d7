"""Issue 14, item 7 through the fake Bot API: organisations and collectives in /tinh_trang (the
units of the subtree, their decided levels and R-Q7 over the deciding level's peer group, named
only within the reader's subtree), /bao_cao (the "Tổ chức đảng" sheet), /bieu_do, the deadline
monitor (the deciding committee warned once of units undecided after the finish-by date) and
/ket_qua (the levels of the units one has a role in)."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
from sqlalchemy import select
from sqlalchemy import update

from storage.models import Cycle
from storage.models import Role
from storage.models import SentNotice
from storage.models import UnitPlanSetting
from storage.models import UnitRating
from storage.models import UnitReview
from tests.e2e.reviewkit import local
from tests.e2e.test_ballot import until
from tests.e2e.test_decision import ask
from tests.e2e.test_decision import skip_read
from tests.e2e.test_plan_kit import Inbox
from tests.e2e.test_plan_kit import monitor
from tests.e2e.test_status_tree import query
from tests.e2e.unitkit import YEAR
from tests.e2e.unitkit import propose_units
from tests.e2e.unitkit import unit_tree

LEVELS = {"CB1": "HTT", "CB2": "HTXS", "CB3": "HTXS", "CB4": "HTXS", "CB5": "HT"}


async def decide_units(tree, levels: dict[str, str], ids: dict[str, int], now: dt.datetime) -> None:
    """Write decisions as /quyet_dinh leaves them (the decision flow is tested by part C)."""
    async def write(session):
        for code, level in levels.items():
            await session.execute(
                update(UnitRating).where(UnitRating.id == ids[code])
                .values(state="decided", decided_level=level, decided_at=now, decided_by="tg:1"))
        await session.commit()

    await query(tree.database_url, write)


async def test_status_shows_units_and_their_quota(bot, fake_telegram, tmp_path, cli_env,
                                                  database_url, clock):
    now = clock()
    tree = await unit_tree(tmp_path, cli_env, fake_telegram, database_url, now)
    ids = await propose_units(tree, LEVELS, now)
    await decide_units(tree, {"CB5": "HT"}, ids, now)
    duc, tuan = tree.users["D01"], tree.users["S2"]

    status = (await ask(duc, "/tinh_trang DB")).text
    assert "Tổ chức đảng và tập thể lãnh đạo" in status
    # The đảng bộ cơ sở and its five cells (one leader each: no committee is rated).
    assert ("🏛 Cần xếp loại: 6; đã bắt đầu kiểm điểm 5; đã kiểm điểm tại hội nghị 5; "
            "đã đề nghị 4; đã quyết định 1") in status
    assert "✅ Đã quyết định: HTXS 0, HTT 0, HT 1, KHT 0, không xếp loại 0" in status
    assert ("3 tổ chức được đề nghị HTXS, tối đa 1 khi có dưới 5 tổ chức đạt HTT") in status
    assert "Chi bộ Phòng Kỹ thuật, Chi bộ Phòng Hành chính, Chi bộ Đội Thi công" in status
    assert "R-Q7" not in status and "chưa có quyết định xếp loại dù đã quá hạn" not in status

    # A cell's secretary sees the đảng ủy's group breach, naming only their own cell.
    status = (await ask(tuan, "/tinh_trang CB2")).text
    assert "🏛 Cần xếp loại: 1; đã bắt đầu kiểm điểm 1" in status
    assert "tối đa 1 khi có dưới 5 tổ chức đạt HTT" in status
    assert "Chi bộ Phòng Kỹ thuật" in status and "Chi bộ Đội Thi công" not in status

    # A second leader of the đảng bộ: its committee is rated too.
    async def committee(session):
        session.add(Role(member_id=tree.member_ids["M2"], org_id=tree.org_ids["DB"],
                         role="committee_member"))
        await session.commit()
    await query(database_url, committee)
    assert "🏛 Cần xếp loại: 7;" in (await ask(duc, "/tinh_trang DB")).text

    # The đảng ủy puts CB4 in a peer group of its own (R-Q5): the others' quota is counted apart.
    async def peer_group(session):
        session.add(UnitPlanSetting(cycle_id=tree.cycle_id, org_id=tree.org_ids["CB4"],
                                    key="peer_group", value='"A"', set_by="tg:1"))
        await session.commit()
    await query(database_url, peer_group)
    status = (await ask(duc, "/tinh_trang DB")).text
    assert ("2 tổ chức được đề nghị HTXS, tối đa 1 khi có dưới 5 tổ chức đạt HTT" in status
            and "Chi bộ Phòng Kỹ thuật, Chi bộ Phòng Hành chính\n" in status)

    # After the finish-by date the units still undecided are a deadline breach.
    async def passed(session):
        await session.execute(update(Cycle).values(finish_by=now.date() - dt.timedelta(days=2)))
        await session.commit()
    await query(database_url, passed)
    status = (await ask(duc, "/tinh_trang DB")).text
    assert "6 tổ chức, tập thể chưa có quyết định xếp loại dù đã quá hạn hoàn thành" in status
    assert not fake_telegram.refused


def undecided_notices(texts: dict[str, list[str]]) -> dict[str, list[str]]:
    """Only the monitor's messages about units (it also warns of members)."""
    found = {code: [t for t in got if "tổ chức, tập thể thuộc thẩm quyền" in t]
             for code, got in texts.items()}
    return {code: got for code, got in found.items() if got}


async def test_monitor_warns_the_deciding_committee_of_undecided_units_once(
    bot, fake_telegram, tmp_path, cli_env, database_url, clock
):
    now = clock()
    tree = await unit_tree(tmp_path, cli_env, fake_telegram, database_url, now)
    ids = await propose_units(tree, LEVELS, now)
    await decide_units(tree, {"CB1": "HTT", "CB5": "HT"}, ids, now)
    await fake_telegram.wait_idle(quiet=0.2)
    codes = {code: tree.member_ids[code] for code in tree.users}
    inbox = Inbox({code: tree.users[code] for code in codes})

    clock.current = local(YEAR, 12, 31, 10, 0)  # the finish-by day itself: not yet
    await monitor(bot, clock)
    assert undecided_notices(inbox.all_new()) == {}

    clock.current = local(YEAR + 1, 1, 2, 10, 0)
    await monitor(bot, clock)
    got = undecided_notices(inbox.all_new())
    # The đảng ủy's secretary and organising office; the commune has no committee member here
    # to be told of the đảng bộ itself.
    assert set(got) == {"D01", "D02"}
    [text] = got["D01"]
    assert text == (
        "⏰ 3 tổ chức, tập thể thuộc thẩm quyền quyết định của Đảng bộ Công ty Thủy lợi chưa có "
        f"quyết định xếp loại dù đã quá hạn hoàn thành 31/12/{YEAR}:\n"
        "• Chi bộ Phòng Kỹ thuật (tổ chức đảng)\n"
        "• Chi bộ Phòng Hành chính (tổ chức đảng)\n"
        "• Chi bộ Đội Thi công (tổ chức đảng)\n"
        "Đồng chí quyết định xếp loại bằng lệnh /quyet_dinh.")
    assert got["D02"] == [text]

    # Once: not at the next run, nor after a restart, nor once more units are decided.
    clock.current = local(YEAR + 1, 1, 2, 11, 0)
    await monitor(bot, clock)
    await bot.restart()
    await fake_telegram.wait_idle(quiet=0.3)
    await decide_units(tree, {"CB2": "HTXS"}, ids, now)
    clock.current = local(YEAR + 1, 1, 3, 7, 0)
    await monitor(bot, clock)
    assert undecided_notices(inbox.all_new()) == {}

    async def ledger(session):
        rows = await session.scalars(select(SentNotice).where(SentNotice.kind == "units_undecided"))
        return sorted((r.target, r.stage, r.state) for r in rows)
    rows = await query(database_url, ledger)
    stage = f"{tree.org_ids['DB']}:{YEAR}-12-31"
    assert rows == sorted((f"member:{codes[c]}", stage, "sent") for c in ("D01", "D02"))
    assert not fake_telegram.refused


async def test_report_lists_the_units_and_their_quota_breach(bot, fake_telegram, tmp_path,
                                                              cli_env, database_url, clock):
    now = clock()
    tree = await unit_tree(tmp_path, cli_env, fake_telegram, database_url, now)
    ids = await propose_units(tree, LEVELS, now)
    await decide_units(tree, {"CB5": "HT"}, ids, now)
    duc = tree.users["D01"]
    skip_read(duc)
    await duc.send("/bao_cao DB")
    report = await until(lambda: next((m for m in duc.messages() if m.document), None), 30)
    book = openpyxl.load_workbook(io.BytesIO(report.document.content))
    assert book.sheetnames == ["Tổng hợp", "Đảng viên", "Vi phạm", "Tổ chức đảng"]
    sheet = book["Tổ chức đảng"]
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0] == ["Mã", "Tổ chức", "Đối tượng", "Kiểm điểm", "Điểm tổng hợp", "Mức đề nghị",
                       "Mức xếp loại đã quyết định", "Xếp loại"]
    assert rows[1:] == [
        ["CB1", "Chi bộ Thôn Bình An", "tổ chức đảng", "đã kiểm điểm tại hội nghị", "85,5",
         "HTT", None, "đề nghị, chưa quyết định"],
        ["CB2", "Chi bộ Phòng Kỹ thuật", "tổ chức đảng", "đã kiểm điểm tại hội nghị", "85,5",
         "HTXS", None, "đề nghị, chưa quyết định"],
        ["CB3", "Chi bộ Phòng Hành chính", "tổ chức đảng", "đã kiểm điểm tại hội nghị", "85,5",
         "HTXS", None, "đề nghị, chưa quyết định"],
        ["CB4", "Chi bộ Đội Thi công", "tổ chức đảng", "đã kiểm điểm tại hội nghị", "85,5",
         "HTXS", None, "đề nghị, chưa quyết định"],
        ["CB5", "Chi bộ Phòng Kế hoạch", "tổ chức đảng", "đã kiểm điểm tại hội nghị", "85,5",
         "HT", "HT", "đã quyết định"],
    ]
    assert all(c.data_type == "s" for row in sheet.iter_rows(min_row=2) for c in row
               if c.value is not None)
    # R-Q7 of the đảng ủy's group is in the breaches sheet, in words.
    breaches = [[c.value for c in row] for row in book["Vi phạm"].iter_rows(min_row=2)]
    [quota] = [row for row in breaches if "tổ chức được đề nghị HTXS" in (row[3] or "")]
    assert quota[:2] == ["DB", "Đảng bộ Công ty Thủy lợi"]
    assert "R-Q7" not in quota[2] and "R-Q7" not in quota[3]
    assert quota[4] == "Chi bộ Phòng Kỹ thuật, Chi bộ Phòng Hành chính, Chi bộ Đội Thi công"
    assert not fake_telegram.refused


async def test_results_show_the_levels_of_ones_units_by_year(bot, fake_telegram, tmp_path,
                                                             cli_env, database_url, clock):
    now = clock()
    tree = await unit_tree(tmp_path, cli_env, fake_telegram, database_url, now)
    ids = await propose_units(tree, {"CB2": "HTXS", "CB3": "HT"}, now)
    await decide_units(tree, {"CB2": "HTXS", "CB3": "HT"}, ids, now)

    async def history(session):  # last year's plan: CB2 decided HTT, the đảng bộ not rated
        cycle = Cycle(org_id=tree.org_ids["XA"], year=YEAR - 1, rulebook="qd366-2025",
                      finish_by=dt.date(YEAR - 1, 12, 31), report_by=dt.date(YEAR, 1, 15))
        session.add(cycle)
        await session.flush()
        for code, level in (("CB2", "HTT"), ("DB", None)):
            review = UnitReview(cycle_id=cycle.id, org_id=tree.org_ids[code],
                                subject="organisation", state="reviewed")
            session.add(review)
            await session.flush()
            session.add(UnitRating(review_id=review.id, state="decided", proposed_level=level,
                                   decided_level=level, not_rated=level is None))
        await session.commit()
    await query(database_url, history)

    text = (await ask(tree.users["S2"], "/ket_qua")).text
    assert text.endswith(
        "Xếp loại các tổ chức, tập thể của đồng chí qua các năm\n"
        f"• Chi bộ Phòng Kỹ thuật (tổ chức đảng): Năm {YEAR - 1}: HTT; Năm {YEAR}: HTXS")
    text = (await ask(tree.users["D01"], "/ket_qua")).text
    assert text.endswith(f"• Đảng bộ Công ty Thủy lợi (tổ chức đảng): Năm {YEAR - 1}: chỉ kiểm điểm, "
                         "không xếp loại")
    # A plain member and a participating body's representative see no unit.
    assert "qua các năm\n•" not in (await ask(tree.users["M2"], "/ket_qua")).text
    assert "tổ chức, tập thể" not in (await ask(tree.users["R2"], "/ket_qua")).text
    assert not fake_telegram.refused


async def test_chart_adds_the_units_panel(bot, fake_telegram, tmp_path, cli_env, database_url,
                                          clock):
    now = clock()
    tree = await unit_tree(tmp_path, cli_env, fake_telegram, database_url, now)
    ids = await propose_units(tree, LEVELS, now)
    await decide_units(tree, {"CB1": "HTT", "CB5": "HT"}, ids, now)
    duc = tree.users["D01"]
    skip_read(duc)
    await duc.send("/bieu_do DB")
    chart = await duc.wait_message(timeout=30)
    assert chart.caption == "Tiến độ và xếp loại của Đảng bộ Công ty Thủy lợi"
    # Five cells in two panels, then one bar of organisations: taller than the two panels alone.
    assert chart.photo.width == 900 and chart.photo.height > 100 * (0.6 * (2 * 5 + 8) + 1)
    assert not fake_telegram.refused
