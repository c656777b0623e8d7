"""Issue 14, item 7 through the fake Bot API: organisations and collectives in /tinh_trang (the
units of the subtree, their decided levels and R-Q7 over the deciding level's peer group, named
only within the reader's subtree), /bao_cao (the "Tổ chức đảng" sheet), /bieu_do, the deadline
monitor (the deciding committee warned once of units undecided after the finish-by date) and
/ket_qua (the levels of the units one has a role in)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from storage.models import Cycle, UnitRating
from tests.e2e.test_decision import ask
from tests.e2e.test_status_tree import query
from tests.e2e.unitkit import propose_units, unit_tree

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

    # After the finish-by date the units still undecided are a deadline breach.
    async def passed(session):
        await session.execute(update(Cycle).values(finish_by=now.date() - dt.timedelta(days=2)))
        await session.commit()
    await query(database_url, passed)
    status = (await ask(duc, "/tinh_trang DB")).text
    assert "5 tổ chức, tập thể chưa có quyết định xếp loại dù đã quá hạn hoàn thành" in status
    assert not fake_telegram.refused
