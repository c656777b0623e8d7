"""Shared steps for the tests of a unit's draft review (issue 14, part A; no tests here): an
upper committee with a đảng bộ cơ sở of two cells and a chi bộ cơ sở, its plan and criteria
framework loaded through the CLI, everyone linked, and the test clock in late November 2026."""

from __future__ import annotations

import io

import docx
import openpyxl
from sqlalchemy import select

from storage.models import Organisation
from storage.models import UnitComment
from storage.models import UnitReview
from tests.e2e.harness import roster_workbook
from tests.e2e.harness import run_cli
from tests.e2e.reviewkit import local
from tests.e2e.test_plan_kit import query

ORGS = [
    ["XA01", "Đảng bộ Phường Sài Gòn", "Đảng bộ cấp trên trực tiếp", "", "01/01/2000"],
    ["DBCS01", "Đảng bộ Công ty Cấp nước", "Đảng bộ cơ sở", "XA01", "01/01/2000"],
    ["CB01", "Chi bộ Phòng Kỹ thuật", "Chi bộ trực thuộc", "DBCS01", "01/01/2005"],
    ["CB02", "Chi bộ Phòng Kinh doanh", "Chi bộ trực thuộc", "DBCS01", "01/01/2005"],
    ["CBCS01", "Chi bộ Trường Tiểu học Bến Nghé", "Chi bộ cơ sở", "XA01", "01/01/2005"],
]
MEMBERS = [
    ["DV001", "Nguyễn Văn An", "12/03/1970", "CB01", "Trưởng phòng", "Chính thức", "15/06/1995"],
    ["DV002", "Trần Thị Bình", "02/07/1982", "CB01", "", "Chính thức", "03/02/2008"],
    ["DV003", "Lê Văn Cường", "21/11/1980", "CB01", "", "Chính thức", "19/05/2006"],
    ["DV004", "Phạm Thị Dung", "30/01/1965", "CB02", "Bí thư đảng ủy", "Chính thức", "01/09/1990"],
    ["DV005", "Hoàng Văn Em", "09/09/1988", "CB02", "", "Chính thức", "10/10/2012"],
    ["DV006", "Đỗ Thị Gấm", "09/09/1990", "CB02", "", "Chính thức", "10/10/2014"],
    ["DV007", "Vũ Văn Hải", "09/09/1975", "CBCS01", "Hiệu trưởng", "Chính thức", "10/10/2000"],
    ["DV008", "Ngô Thị Lan", "09/09/1972", "CBCS01", "", "Chính thức", "10/10/1998"],
]
ROLES = [
    ["DV001", "CB01", "Bí thư"],
    ["DV003", "CB01", "Phó bí thư"],
    ["DV004", "CB02", "Bí thư"],
    ["DV004", "DBCS01", "Bí thư"],
    ["DV005", "DBCS01", "Cấp ủy viên"],
    ["DV007", "CBCS01", "Bí thư"],
    ["DV008", "XA01", "Cấp ủy viên"],
]
NAMES = {code: name for code, name, *_ in MEMBERS}


async def unit_world(tmp_path, cli_env, fake, clock, *, rulebook: str = "hd21-2019") -> dict:
    """The tree, the plan of 2026 on XA01 and its framework (the template's example: six
    criteria to mark, 100 points, for every kind), every member linked; the clock at
    09:00 on Friday 20/11/2026."""
    book = roster_workbook(tmp_path / "ds.xlsx", orgs=ORGS, members=MEMBERS, roles=ROLES)
    assert (result := await run_cli("import-roster", str(book), env=cli_env)).code == 0, result.err
    result = await run_cli("cycle", "create", "--org", "XA01", "--year", "2026", "--rulebook",
                           rulebook, "--finish-by", "31/12/2026", "--report-by", "15/01/2027",
                           env=cli_env)
    assert result.code == 0, result.err
    template = tmp_path / "khung.xlsx"
    assert (result := await run_cli("framework-template", str(template), env=cli_env)).code == 0
    result = await run_cli("import-framework", "--org", "XA01", str(template), env=cli_env)
    assert result.code == 0, result.out + result.err
    out = tmp_path / "moi.xlsx"
    assert (await run_cli("invite", "--org", "XA01", "--out", str(out), env=cli_env)).code == 0
    users = {}
    for code, name, _cell, link, _ in openpyxl.load_workbook(out).active.iter_rows(
            min_row=2, values_only=True):
        user = fake.user(name.split()[-1], language_code="vi")
        await user.send("/start " + link.split("start=")[1])
        assert "Xin chào đồng chí" in (await user.wait_message()).text
        users[code] = user
    await fake.wait_idle(quiet=0.2)
    clock.current = local(2026, 11, 20, 9, 0)
    return users


async def ask(user, text: str):
    """Send `text`; the bot's next message."""
    await user.send(text)
    return await user.wait_message()


async def press(user, label: str, message, *, edited: bool = False):
    """Press `label` on `message`; the edited message, or the next new one."""
    await user.wait_answer(await user.press(label, message=message))
    return await user.wait_edit(message) if edited else await user.wait_message()


def label_starting(message, prefix: str) -> str:
    return next(label for label in message.button_labels() if label.startswith(prefix))


def word_file(*paragraphs: str) -> bytes:
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


async def reviews_of(database_url: str, org_code: str) -> list[UnitReview]:
    async def run(session):
        org = await session.scalar(select(Organisation).where(Organisation.code == org_code))
        found = await session.scalars(select(UnitReview).where(UnitReview.org_id == org.id)
                                      .order_by(UnitReview.id))
        return list(found.all())

    return await query(database_url, run)


async def comments_of(database_url: str, review_id: int) -> list[tuple[str, str]]:
    async def run(session):
        found = await session.scalars(select(UnitComment).where(UnitComment.review_id == review_id)
                                      .order_by(UnitComment.id))
        return [(c.stage, c.text) for c in found.all()]

    return await query(database_url, run)
