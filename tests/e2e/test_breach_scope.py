"""Issue 12 item 2: a quota counted over the đảng bộ (R-Q5) is told to a cell with the đảng bộ's
figures and the cell's own names only; the đảng ủy sees the names of every cell; a "⬇ Hạ mức"
button is shown for, and acts on, only the members the presser may act on."""

from __future__ import annotations

import asyncio
import datetime as dt
import io

import openpyxl
from sqlalchemy import select

from handlers.views.plan import LowerButton
from storage.models import Cycle
from storage.models import Rating
from storage.models import RatingState
from tests.e2e.orderkit import collectives_reviewed
from tests.e2e.test_ballot import open_meeting
from tests.e2e.test_ballot import unseal_with
from tests.e2e.test_ballot import until
from tests.e2e.test_ballot import vote
from tests.e2e.test_plan_kit import build_tree
from tests.e2e.test_plan_kit import query

CELL = ("DV01", "DV02", "DV03", "DV04", "DV05")
AN, GIANG = "Nguyễn Văn An", "Vũ Thị Giang"  # CB01's secretary; a member of CB02


async def _report(user, code: str) -> list[tuple]:
    before = len(user.messages())
    await user.send(f"/bao_cao {code}")
    report = await until(
        lambda: next((m for m in user.messages()[before:] if m.document), None), 30
    )
    book = openpyxl.load_workbook(io.BytesIO(report.document.content))
    return list(book["Vi phạm"].iter_rows(min_row=2, values_only=True))


async def test_a_quota_over_the_dang_bo_names_only_what_the_reader_may_see(
    bot, fake_telegram, database_url
):
    tree = await build_tree(database_url, fake_telegram)
    ids = tree.member_ids

    async def plan(session):
        cycle = Cycle(org_id=tree.org_ids["UP01"], year=2026, rulebook="hd21-2019",
                      finish_by=dt.date(2026, 12, 31), report_by=dt.date(2027, 1, 15))
        session.add(cycle)
        await session.flush()
        # CB02 has already voted: Giang HTXS, the others HTT.
        for code, level in (("DV06", "HTXS"), ("DV07", "HTT"), ("DV08", "HTT")):
            session.add(Rating(cycle_id=cycle.id, member_id=ids[code], proposed_level=level,
                               state=RatingState.PROPOSED))
        return cycle.id

    cycle_id = await query(database_url, plan)
    await collectives_reviewed(database_url)  # R-D3: the collectives before the members
    users, an = tree.users, tree.users["DV01"]
    await open_meeting(an)
    await an.send("/bo_phieu")
    await until(lambda: all(any("Phiếu bầu kín" in (m.text or "") for m in users[c].messages())
                            for c in CELL))
    # CB01 alone: 1 HTXS of 5 is within its share; over DBCS01: An and Giang, 2 HTXS of 8.
    choices = {AN: "X", "Trần Thị Bình": "T", "Lê Văn Cường": "T", "Phạm Thị Dung": "T",
               "Hoàng Văn Em": "T"}
    await asyncio.gather(*(vote(users[c], choices) for c in CELL))
    await fake_telegram.wait_idle()
    await unseal_with([users[c] for c in CELL])  # the counting committee opens the box

    warning = await until(
        lambda: next((m for m in reversed(an.messages()) if "vi phạm quy định" in (m.text or "")),
                     None), 30)
    quota = next(line for line in warning.text.splitlines() if "HTXS" in line)
    assert "2 đảng viên được đề xuất HTXS, tối đa 1: 20% của 8" in quota, quota  # the đảng bộ's figures
    assert AN in quota and GIANG not in warning.text, warning.text
    labels = warning.button_labels()
    assert f"⬇ Hạ mức: {AN} (HTXS)" in labels, labels
    assert not any(GIANG in label for label in labels), labels

    # A forged press on Giang's proposal is refused and changes nothing.
    before = len(an.messages())
    answer = await an.wait_answer(await an.press_data(LowerButton("member", cycle_id, ids["DV06"]).encode(),
                                                      message=warning))
    assert answer.text == "Nút này không còn hiệu lực.", answer  # confirms nothing (item 3)
    await fake_telegram.wait_idle()
    assert not any(GIANG in (m.text or "") for m in an.messages()[before:])

    async def giang(session):
        return await session.scalar(select(Rating.proposed_level).where(
            Rating.member_id == ids["DV06"], Rating.state != RatingState.CANCELLED))

    assert await query(database_url, giang) == "HTXS"

    # /bao_cao of the cell: the same figures, CB01's names only.
    rows = await _report(an, "CB01")
    quota_rows = [r for r in rows if r[3] and "HTXS" in r[3]]
    assert len(quota_rows) == 1, rows
    assert quota_rows[0][4] == AN, rows
    assert not any(GIANG in (r[4] or "") for r in rows), rows

    # The đảng ủy (a committee member of DBCS01) sees the names of both cells.
    rows = await _report(users["DV07"], "DBCS01")
    quota_rows = [r for r in rows if r[3] and "HTXS" in r[3]]
    assert len(quota_rows) == 1, rows
    assert set(quota_rows[0][4].split(", ")) == {AN, GIANG}, rows
    assert not fake_telegram.refused
