"""The whole cycle of issue 14 (tests/e2e/test_unit_cycle.py): a đảng bộ cơ sở of three cells
under an upper committee, imported and planned through the CLI, everyone linked; and the
earlier steps of the two cells the test does not drive through Telegram, written through the
parts' own services (plain async functions taking a session) as their handlers call them:
part A's draft (report, draft sheet, circulation), part B's meeting (attendance, the
collective reviewed, every member's sheet submitted as the draft stands, the combined score,
the level the units' ballot adopted), part C's opinion of a participating body."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from dataclasses import field

from sqlalchemy import select

from bot.services import unit_report
from bot.services import unit_review
from bot.services import units
from bot.services.ballot import cell_members
from bot.services.ballot import set_presence
from bot.services.reviews import meeting_for
from bot.services.unit_ballot import record_unit_proposals
from bot.services.unit_meeting import mark_reviewed
from bot.services.unit_opinion import OpenReview
from bot.services.unit_opinion import save_opinion
from bot.services.unit_scoring import close_scoring
from bot.services.unit_scoring import open_scoring
from bot.services.unit_scoring import sheet_view
from bot.services.unit_scoring import submit
from rules.deadlines import draft_report_due
from rules.levels import Level
from rules.people import Presence
from rules.rulebooks import RULEBOOKS
from storage.models import Cycle
from storage.models import Organisation
from storage.models import ParticipantBody
from storage.models import ScoreGrade
from storage.models import UnitSubject
from tests.e2e.harness import roster_workbook
from tests.e2e.harness import vietnam_today
from tests.e2e.reviewkit import SAIGON
from tests.e2e.reviewkit import local
from tests.e2e.test_status_tree import Tree
from tests.e2e.test_status_tree import query
from tests.e2e.unitkit import planned_tree

YEAR = vietnam_today().year
ORGS = [
    ["XA01", "Đảng bộ Phường Sài Gòn", "Đảng bộ cấp trên trực tiếp", "", "01/01/2000"],
    ["DBCS01", "Đảng bộ Công ty Cấp nước", "Đảng bộ cơ sở", "XA01", "01/01/2000"],
    ["CB01", "Chi bộ Phòng Kỹ thuật", "Chi bộ trực thuộc", "DBCS01", "01/01/2005"],
    ["CB02", "Chi bộ Phòng Kinh doanh", "Chi bộ trực thuộc", "DBCS01", "01/01/2005"],
    ["CB03", "Chi bộ Phòng Hành chính", "Chi bộ trực thuộc", "DBCS01", "01/01/2005"],
]
NAME = {code: name for code, name, *_ in ORGS}
MEMBERS = [
    ["DV001", "Nguyễn Văn An", "12/03/1970", "CB01", "Trưởng phòng", "Chính thức", "15/06/1995"],
    ["DV002", "Trần Thị Bình", "02/07/1982", "CB01", "", "Chính thức", "03/02/2008"],
    ["DV003", "Lê Văn Cường", "21/11/1980", "CB01", "", "Chính thức", "19/05/2006"],
    ["DV004", "Phạm Thị Dung", "30/01/1985", "CB01", "", "Chính thức", "01/09/2010"],
    ["DV005", "Hoàng Văn Em", "09/09/1978", "CB02", "Trưởng phòng", "Chính thức", "10/10/2002"],
    ["DV006", "Đỗ Thị Gấm", "09/09/1990", "CB02", "", "Chính thức", "10/10/2014"],
    ["DV007", "Vũ Thị Hoa", "09/09/1968", "CB02", "Giám đốc", "Chính thức", "10/10/1992"],
    ["DV008", "Đặng Văn Hải", "09/09/1975", "CB03", "Trưởng phòng", "Chính thức", "10/10/2000"],
    ["DV009", "Ngô Thị Lan", "09/09/1972", "CB03", "Phó giám đốc", "Chính thức", "10/10/1998"],
    ["DV010", "Đinh Thị Lụa", "09/09/1980", "CB03", "Chủ tịch công đoàn", "Chính thức", "10/10/2006"],
]
PEOPLE = {code: name for code, name, *_ in MEMBERS}
ROLES = [
    ["DV001", "CB01", "Bí thư"],
    ["DV003", "CB01", "Phó bí thư"],
    ["DV005", "CB02", "Bí thư"],
    ["DV008", "CB03", "Bí thư"],
    ["DV007", "DBCS01", "Bí thư"],  # the đảng ủy: it decides its cells
    ["DV009", "DBCS01", "Cấp ủy viên"],
    ["DV010", "DBCS01", "Đại diện lãnh đạo cơ quan, đơn vị"],  # a participating body
]
# The six criteria of the framework template's example (tenths): 1.1, 1.2 (10 points each),
# 2 (40), 3 (20), 4, 5 (10 each).
CB02_DRAFT = {"1.1": 100, "1.2": 95, "2": 380, "3": 190, "4": 90, "5": 90}  # 94,5: HTXS
CB03_DRAFT = {"1.1": 80, "1.2": 80, "2": 320, "3": 160, "4": 80, "5": 80}  # 80: HTT
REPORT = {
    "results": "Hoàn thành các chỉ tiêu chủ yếu của nghị quyết năm.",
    "shortcomings": "Sinh hoạt chuyên đề chưa đều.",
    "earlier_fixes": "Đã khắc phục hạn chế của năm trước về công tác kiểm tra.",
    "direction": "Duy trì sinh hoạt chuyên đề hằng quý.",
}


@dataclass
class Days:
    """The cycle's days in Vietnam: every cell meets on the first Tuesday of December, so
    the draft is due on the Thursday before (R-D1: three working days)."""

    meeting: dt.date
    due: dt.date = field(init=False)

    def __post_init__(self) -> None:
        self.due = draft_report_due(self.meeting, RULEBOOKS["hd21-2019"])

    @classmethod
    def of(cls, year: int) -> Days:
        first = dt.date(year, 12, 1)
        return cls(first + dt.timedelta(days=(1 - first.weekday()) % 7))

    def at(self, days: int, hour: int, minute: int = 0) -> dt.datetime:
        """`days` after (before, if negative) the meeting's day, at hour:minute in Vietnam."""
        day = self.meeting + dt.timedelta(days=days)
        return local(day.year, day.month, day.day, hour, minute)


def actor(world: Tree, code: str) -> str:
    """The audit actor of the member `code`'s Telegram account, as the handlers write it."""
    return f"tg:{world.users[code].id}"


async def cycle_world(tmp_path, cli_env, fake, database_url: str, now: dt.datetime,
                      rulebook: str, *sets: str) -> Tree:
    """The tree imported, the plan of YEAR opened on XA01 (`sets`: KEY=VALUE settings), and
    every member linked to a Telegram user who has started the bot."""
    book = roster_workbook(tmp_path / "ds.xlsx", orgs=ORGS, members=MEMBERS, roles=ROLES)
    return await planned_tree(book, cli_env, fake, database_url, now, "XA01",
                              list(PEOPLE.items()), rulebook, *sets)


async def _org(session, code: str) -> Organisation:
    return await session.scalar(select(Organisation).where(Organisation.code == code))


# --- part A: the collective's draft, through unit_report and unit_review ---------------------


async def prepare_draft(world: Tree, code: str, marks: dict[str, int], *, head: str,
                        now: dt.datetime, circulate: bool) -> None:
    """The head's report typed in its parts and the draft sheet marked (as /tap_the stores
    them); with `circulate`, sent to the participants at `now` (as "📤 Gửi dự thảo")."""
    async def run(session):
        org = await _org(session, code)
        [review] = await unit_review.open_reviews(session, org)
        for key, text in REPORT.items():
            await unit_report.add_piece(session, review, key, text, None, actor(world, head))
        draft = await unit_review.load_draft(session, review, SAIGON, now.astimezone(SAIGON).date())
        for criterion in draft.leaves():
            mark = unit_review.TypedMark(marks[criterion.code], None, "Đạt kế hoạch năm")
            await unit_review.save_mark(session, review, criterion, mark, ScoreGrade.GOOD,
                                        actor(world, head), now=now)
        if circulate:
            await send_draft(session, review, actor(world, head), now)

    await query(world.database_url, run)


async def send_draft(session, review, by: str, now: dt.datetime) -> None:
    """The complete draft goes to the participants (as "📤 Gửi dự thảo" confirmed)."""
    draft = await unit_review.load_draft(session, review, SAIGON, now.astimezone(SAIGON).date())
    assert draft.ready(), draft.missing_parts()
    unit_review.circulate(session, draft, by, now, SAIGON)


async def circulate_late(world: Tree, code: str, *, head: str, now: dt.datetime) -> None:
    async def run(session):
        org = await _org(session, code)
        [review] = await unit_review.existing_reviews(session, org)
        await send_draft(session, review, actor(world, head), now)

    await query(world.database_url, run)


# --- part B: the meeting, through unit_meeting, unit_scoring and unit_ballot -------------------


async def hold_meeting(world: Tree, code: str, *, head: str, level: Level,
                       now: dt.datetime) -> int:
    """The cell's meeting: everyone present, its collective reviewed, every member's sheet
    submitted as the draft stands, the scoring closed, and `level` adopted by the units'
    ballot (what its tally records); returns the combined score in tenths."""
    today = now.astimezone(SAIGON).date()
    by = actor(world, head)

    async def run(session):
        org = await _org(session, code)
        cycle = await session.scalar(select(Cycle))
        meeting = await meeting_for(session, cycle, org.id)
        members = await cell_members(session, org)
        await set_presence(session, meeting, [m.id for m in members], Presence.PRESENT)
        review = await mark_reviewed(session, meeting, UnitSubject.ORGANISATION, actor=by,
                                     now=now, today=today)
        _scoring, sheets = await open_scoring(session, meeting, today, actor=by, now=now)
        assert len(sheets) == len(members)
        for sheet in sheets:
            view = await sheet_view(session, sheet.sheet.id, sheet.member, today)
            await submit(session, view, now=now)
        closed = await close_scoring(session, meeting, today, actor=by, now=now)
        assert closed.band is level, (code, closed.combined, closed.band)
        await record_unit_proposals(session, {review.id: level.value}, actor=by, now=now)
        return review.combined_tenths

    return await query(world.database_url, run)


# --- part C: a participating body's opinion, through unit_opinion ------------------------------


async def give_opinion(world: Tree, code: str, body: ParticipantBody, level: Level | None,
                       text: str, *, by: str, now: dt.datetime) -> None:
    async def run(session):
        org = await _org(session, code)
        [review] = await unit_review.existing_reviews(session, org)
        item = OpenReview(review, org, (body,))
        await save_opinion(session, item, body, level, text, actor=actor(world, by), now=now)

    await query(world.database_url, run)


async def combined_of(database_url: str, code: str) -> int | None:
    async def run(session):
        org = await _org(session, code)
        cycle = await session.scalar(select(Cycle))
        review = await units.find_review(session, cycle.id, org.id, UnitSubject.ORGANISATION)
        return review.combined_tenths

    return await query(database_url, run)
