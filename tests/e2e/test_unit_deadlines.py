"""Issue 14, part A: R-D1 in the deadline monitor. A cell's draft review report is due three
working days before its meeting: the secretary is reminded three days and one day before and on
the day, warned once it passed without the draft going out, and the đảng ủy's committee is told
of the breach; each notice once, also across a restart; nothing more once the draft went out."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import Cycle
from storage.models import Organisation
from storage.models import SentNotice
from storage.models import UnitReview
from tests.e2e.flows import ask as fresh_ask
from tests.e2e.reviewkit import local
from tests.e2e.test_plan_kit import Inbox
from tests.e2e.test_plan_kit import monitor
from tests.e2e.test_plan_kit import query
from tests.e2e.unit_review_kit import ask
from tests.e2e.unit_review_kit import unit_world

DUE_D3 = ("📄 Dự thảo báo cáo kiểm điểm của Chi bộ Phòng Kỹ thuật (tổ chức đảng) phải gửi đến các "
          "đồng chí dự hội nghị chậm nhất ngày 26/11/2026 (còn 3 ngày), trước hội nghị lúc 08:00 "
          "01/12/2026 3 ngày làm việc. Đồng chí chuẩn bị và gửi bằng lệnh /tap_the.")
LATE = ("⏰ Dự thảo báo cáo kiểm điểm của Chi bộ Phòng Kỹ thuật (tổ chức đảng) phải gửi đến các "
        "đồng chí dự hội nghị chậm nhất ngày 26/11/2026")
UPPER = ("⏰ Dự thảo báo cáo kiểm điểm chưa gửi đến các đồng chí dự hội nghị trước 3 ngày làm việc:\n"
         "• Chi bộ Phòng Kỹ thuật (tổ chức đảng): hạn gửi 26/11/2026, hội nghị lúc 08:00 01/12/2026")


def drafts(texts: dict[str, list[str]]) -> dict[str, list[str]]:
    """Only the notices about draft reports (the monitor also reminds of self-reviews)."""
    found = {code: [t for t in got if "Dự thảo báo cáo kiểm điểm" in t] for code, got in texts.items()}
    return {code: got for code, got in found.items() if got}


async def ledger(database_url: str) -> list[tuple[str, str]]:
    async def run(session):
        rows = await session.scalars(select(SentNotice).where(SentNotice.kind.like("draft_%"))
                                     .order_by(SentNotice.id))
        return [(r.kind, r.stage.rsplit(":", 1)[-1]) for r in rows.all()]

    return await query(database_url, run)


async def test_draft_report_reminded_warned_and_told_upward_once(
    tmp_path, cli_env, bot, fake_telegram, database_url, clock
):
    users = await unit_world(tmp_path, cli_env, fake_telegram, clock)
    an = users["DV001"]
    await an.send("/lich_hop")
    await an.wait_message()
    await ask(an, "01/12/2026 08:00")  # a Tuesday: the draft is due on Thursday 26/11
    hai = users["DV007"]  # the chi bộ cơ sở meets the same day and has sent its draft already
    await hai.send("/lich_hop")
    await hai.wait_message()
    await ask(hai, "01/12/2026 14:00")
    await circulated(database_url, "CBCS01", local(2026, 11, 20, 9, 0))
    await fake_telegram.wait_idle(quiet=0.2)
    inbox = Inbox(users)

    clock.current = local(2026, 11, 22, 10, 0)  # four days before: nothing yet
    await monitor(bot, clock)
    assert drafts(inbox.all_new()) == {}
    clock.current = local(2026, 11, 23, 10, 0)
    await monitor(bot, clock)
    assert drafts(inbox.all_new()) == {"DV001": [DUE_D3]}
    await monitor(bot, clock)
    clock.current = local(2026, 11, 24, 10, 0)  # still the three-day stage: not again
    await monitor(bot, clock)
    assert drafts(inbox.all_new()) == {}
    clock.current = local(2026, 11, 25, 7, 0)
    await monitor(bot, clock)
    [day_before] = drafts(inbox.all_new())["DV001"]
    assert "(còn 1 ngày)" in day_before
    clock.current = local(2026, 11, 26, 7, 0)
    await monitor(bot, clock)
    [on_the_day] = drafts(inbox.all_new())["DV001"]
    assert "(hôm nay)" in on_the_day

    # Passed without the draft going out: the secretary is warned and the đảng ủy told, once.
    clock.current = local(2026, 11, 27, 7, 0)
    await monitor(bot, clock)
    got = drafts(inbox.all_new())
    assert [text.startswith(LATE) for text in got.pop("DV001")] == [True]
    assert got == {"DV004": [UPPER], "DV005": [UPPER]}
    await bot.restart()
    await fake_telegram.wait_idle(quiet=0.3)
    await monitor(bot, clock)
    assert drafts(inbox.all_new()) == {}
    assert await ledger(database_url) == [
        ("draft_due", "d3"), ("draft_due", "d1"), ("draft_due", "d0"), ("draft_late", "2026-11-26"),
        ("draft_late_upper", "2026-11-26"), ("draft_late_upper", "2026-11-26")]
    home = await fresh_ask(an, "/tap_the")
    assert "Dự thảo phải đến 3 đồng chí dự hội nghị chậm nhất ngày 26/11/2026." in home.text
    assert "DV007" not in got
    assert not fake_telegram.refused


async def circulated(database_url: str, org_code: str, when) -> None:
    async def run(session):
        org = await session.scalar(select(Organisation).where(Organisation.code == org_code))
        cycle = await session.scalar(select(Cycle))
        session.add(UnitReview(cycle_id=cycle.id, org_id=org.id, subject="organisation",
                               state="circulated", circulated_at=when))
        await session.commit()

    await query(database_url, run)
