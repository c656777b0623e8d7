"""Issue 12 item 6: what users typed (names, codes, organisation names) is written into /bao_cao
as text, never as a live formula, whatever it starts with."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io

import openpyxl

from storage.models import Cycle
from storage.models import Organisation
from storage.models import UnitReview
from tests.e2e.test_ballot import until
from tests.e2e.test_plan_kit import PEOPLE
from tests.e2e.test_plan_kit import build_tree
from tests.e2e.test_plan_kit import query

HOSTILE = '=HYPERLINK("https://evil.example","x")'


async def test_a_member_named_like_a_formula_is_text_in_the_report(
    bot, fake_telegram, database_url
):
    people = [dataclasses.replace(p, name=HOSTILE) if p.code == "DV02" else p for p in PEOPLE]
    tree = await build_tree(database_url, fake_telegram, people)

    async def plan(session):
        cycle = Cycle(org_id=tree.org_ids["UP01"], year=2026, rulebook="hd21-2019",
                      finish_by=dt.date(2026, 12, 31), report_by=dt.date(2027, 1, 15))
        session.add(cycle)
        cell = await session.get(Organisation, tree.org_ids["CB01"])
        cell.name = "@SUM(1+1)*cmd|' /C calc'!A0"
        await session.flush()  # the cell's review: its name is in the "Tổ chức đảng" sheet too
        session.add(UnitReview(cycle_id=cycle.id, org_id=cell.id, subject="organisation"))

    await query(database_url, plan)
    an = tree.users["DV01"]
    before = len(an.messages())
    await an.send("/bao_cao CB01")
    report = await until(lambda: next((m for m in an.messages()[before:] if m.document), None), 30)
    book = openpyxl.load_workbook(io.BytesIO(report.document.content))
    assert book.sheetnames == ["Tổng hợp", "Đảng viên", "Vi phạm", "Tổ chức đảng"]
    cells = [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    values = [c.value for c in cells]
    assert HOSTILE in values
    assert "@SUM(1+1)*cmd|' /C calc'!A0" in values
    assert book["Tổng hợp"]["A1"].value.startswith("Tình trạng của @SUM")
    assert book["Tổ chức đảng"]["B2"].value == "@SUM(1+1)*cmd|' /C calc'!A0"
    assert not fake_telegram.refused
