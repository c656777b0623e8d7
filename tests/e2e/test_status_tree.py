"""Issue 6 test kit: a four-level tree imported through the CLI, this year's plan on the
province, progress and ratings written straight to the database, and the figures a test
expects, computed here from the same data. Imported by the status, decision, appeal and
authorisation tests (this module holds no test of its own)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from dataclasses import field

from openpyxl import Workbook
from sqlalchemy import select

from storage.db import Database
from storage.models import BallotRound
from storage.models import Cycle
from storage.models import Meeting
from storage.models import Member
from storage.models import Organisation
from storage.models import Rating
from storage.models import RatingChange
from storage.models import SelfReview
from storage.models import TelegramAccount
from tests.e2e.harness import run_cli
from tests.e2e.harness import vietnam_today

TODAY = vietnam_today()
YEAR = TODAY.year


def months_ago(months: int) -> str:
    year, month = divmod(TODAY.year * 12 + TODAY.month - 1 - months, 12)
    return dt.date(year, month + 1, min(TODAY.day, 28)).strftime("%d/%m/%Y")


ORGS = [
    ("TINH", "Đảng bộ tỉnh Bình Dương", "Đảng bộ tỉnh", ""),
    ("XA1", "Đảng bộ phường Phú Cường", "Đảng bộ cấp trên trực tiếp", "TINH"),
    ("DBCS1", "Đảng bộ Công ty Điện lực", "Đảng bộ cơ sở", "XA1"),
    ("CB11", "Chi bộ Phòng Kỹ thuật", "Chi bộ trực thuộc", "DBCS1"),
    ("CB12", "Chi bộ Phòng Kinh doanh", "Chi bộ trực thuộc", "DBCS1"),
    ("CBCS1", "Chi bộ Trường Tiểu học Phú Cường", "Chi bộ cơ sở", "XA1"),
    ("XA2", "Đảng bộ phường Hiệp Thành", "Đảng bộ cấp trên trực tiếp", "TINH"),
    ("DBCS2", "Đảng bộ Khu công nghiệp", "Đảng bộ cơ sở", "XA2"),
] + [(f"CB{20 + i}", f"Chi bộ Nhà máy số {i:02d}", "Chi bộ trực thuộc", "DBCS2") for i in range(1, 24)]
PARENT = {code: parent for code, _n, _k, parent in ORGS}
CELLS = [code for code, _n, kind, _p in ORGS if kind.startswith("Chi bộ")]


@dataclass
class Person:
    code: str
    name: str
    cell: str
    official: bool = True
    admitted: str = "01/06/2005"
    exempt: bool = False
    discipline: str | None = None
    review: str | None = None  # "submitted" | "late" | "drafting"
    proposed: str | None = None
    decided: str | None = None
    user: bool = False  # linked to a Telegram user who has started the bot

    @property
    def old(self) -> bool:
        return dt.datetime.strptime(self.admitted, "%d/%m/%Y").date() <= dt.datetime.strptime(
            months_ago(6), "%d/%m/%Y").date()

    @property
    def reviewed(self) -> bool:  # qd366-2025: new members are neither reviewed nor rated
        return not self.exempt and self.old


PEOPLE = [
    Person("DV101", "Nguyễn Văn An", "CB11", review="submitted", proposed="HTXS", user=True),
    Person("DV102", "Trần Thị Bình", "CB11", review="late", proposed="HTXS", user=True),
    Person("DV103", "Lê Văn Cường", "CB11", review="submitted", proposed="HTT", user=True),
    Person("DV104", "Phạm Thị Dung", "CB11", review="drafting", proposed="HTT", user=True),
    Person("DV105", "Hoàng Văn Em", "CB11", exempt=True),
    Person("DV106", "Vũ Thị Phương", "CB11", official=False, admitted=months_ago(2)),
    Person("DV201", "Đặng Văn Giang", "CB12", review="submitted", proposed="HTT", user=True),
    Person("DV202", "Bùi Thị Hoa", "CB12", review="submitted", proposed="HTT"),
    Person("DV203", "Đỗ Văn Khoa", "CB12", discipline="Khiển trách", proposed="HT"),
    Person("DV301", "Ngô Thị Lan", "CBCS1", review="submitted", proposed="HTT", user=True),
    Person("DV302", "Dương Văn Minh", "CBCS1", proposed="HT", decided="HT", user=True),
    Person("DV303", "Lý Thị Ngọc", "CBCS1"),
    Person("DV401", "Trịnh Văn Phúc", "CB21", user=True),
    Person("DV402", "Mai Thị Quỳnh", "CB21", review="submitted"),
    Person("DV403", "Tạ Văn Sơn", "CB21", user=True),
]
BY_CODE = {p.code: p for p in PEOPLE}
ROLES = [
    ("DV101", "CB11", "Bí thư"),
    ("DV102", "CB11", "Phó bí thư"),
    ("DV201", "DBCS1", "Cấp ủy viên"),
    ("DV301", "CBCS1", "Bí thư"),
    ("DV401", "TINH", "Cấp ủy viên"),
    ("DV403", "CB21", "Bí thư"),
]
# Meetings: cell -> days from now (negative: held); ballot rounds: cell -> states.
MEETINGS = {"CB11": -2, "CB12": 5, "CB21": 10}
ROUNDS = {"CB11": ["closed", "open"]}


def roster(path) -> None:
    book = Workbook()
    book.remove(book.active)
    sheet = book.create_sheet("Tổ chức")
    sheet.append(["Mã tổ chức", "Tên tổ chức", "Loại", "Mã tổ chức cấp trên", "Ngày thành lập"])
    for code, name, kind, parent in ORGS:
        sheet.append([code, name, kind, parent, "01/01/2000"])
    sheet = book.create_sheet("Đảng viên")
    sheet.append(["Mã đảng viên", "Họ và tên", "Ngày sinh", "Mã chi bộ", "Loại đảng viên",
                  "Ngày kết nạp", "Miễn công tác", "Hình thức kỷ luật",
                  "Kỷ luật do vi phạm trong thực thi công vụ"])
    for p in PEOPLE:
        sheet.append([p.code, p.name, "01/01/1980", p.cell, "Chính thức" if p.official else "Dự bị",
                      p.admitted, "Có" if p.exempt else "", p.discipline or "",
                      "Có" if p.discipline else ""])
    sheet = book.create_sheet("Vai trò")
    sheet.append(["Mã đảng viên", "Mã tổ chức", "Vai trò"])
    for row in ROLES:
        sheet.append(list(row))
    book.save(path)


@dataclass
class Tree:
    database_url: str
    users: dict = field(default_factory=dict)  # member code -> FakeUser
    org_ids: dict = field(default_factory=dict)  # org code -> id
    member_ids: dict = field(default_factory=dict)  # member code -> id
    cycle_id: int = 0


async def query(database_url: str, fn):
    db = Database(database_url)
    try:
        async with db.session() as session:
            return await fn(session)
    finally:
        await db.dispose()


async def build_tree(tmp_path, cli_env, fake, database_url: str, now: dt.datetime, *,
                     rounds: bool = True) -> Tree:
    """Import the tree, open this year's plan on the province, and write the progress
    (without ballot rounds when `rounds` is False)."""
    roster(tmp_path / "cay.xlsx")
    result = await run_cli("import-roster", str(tmp_path / "cay.xlsx"), env=cli_env)
    assert result.code == 0, result.out + result.err
    result = await run_cli("cycle", "create", "--org", "TINH", "--year", str(YEAR), "--rulebook",
                           "qd366-2025", "--finish-by", f"31/12/{YEAR}", "--report-by",
                           f"15/01/{YEAR + 1}", env=cli_env)
    assert result.code == 0, result.out + result.err
    tree = Tree(database_url)

    async def fill(session):
        tree.org_ids = dict((await session.execute(select(Organisation.code, Organisation.id))).all())
        tree.member_ids = dict((await session.execute(select(Member.code, Member.id))).all())
        cycle = await session.scalar(select(Cycle))
        tree.cycle_id = cycle.id
        for p in PEOPLE:
            member_id = tree.member_ids[p.code]
            if p.review:
                session.add(SelfReview(
                    cycle_id=cycle.id, member_id=member_id, form_code="2B",
                    state="drafting" if p.review == "drafting" else "submitted", stage="preview",
                    reached_preview=True, late=p.review == "late",
                    submitted_at=None if p.review == "drafting" else now - dt.timedelta(days=3)))
            if p.proposed:
                rating = Rating(cycle_id=cycle.id, member_id=member_id,
                                state="decided" if p.decided else "proposed",
                                proposed_level=p.proposed, proposed_at=now,
                                decided_level=p.decided, decided_at=now if p.decided else None,
                                decided_by="tg:1" if p.decided else None)
                session.add(rating)
                await session.flush()
                session.add(RatingChange(rating_id=rating.id, at=now, actor="tg:1", kind="proposed",
                                         level=p.proposed))
            if p.user:
                user = fake.user(p.name.split()[-1], language_code="vi")
                user.started = True
                tree.users[p.code] = user
                session.add(TelegramAccount(telegram_id=user.id, member_id=member_id,
                                            language_code="vi", started_at=now, linked_at=now,
                                            failed_invites=0))
        for cell, days in MEETINGS.items():
            meeting = Meeting(cycle_id=cycle.id, org_id=tree.org_ids[cell],
                              scheduled_at=now + dt.timedelta(days=days))
            session.add(meeting)
            await session.flush()
            for number, state in enumerate(ROUNDS.get(cell, []) if rounds else [], 1):
                session.add(BallotRound(
                    meeting_id=meeting.id, number=number, state=state, counting_rule="cumulative",
                    denominator_rule="convened", opened_by="tg:1", opened_at=now,
                    closed_at=now if state == "closed" else None))

    await query(database_url, fill)
    return tree


# --- the figures a test expects --------------------------------------------------------------


def subtree_cells(code: str) -> list[str]:
    def under(cell: str) -> bool:
        node = cell
        while node:
            if node == code:
                return True
            node = PARENT[node]
        return False
    return [cell for cell in CELLS if under(cell)]


@dataclass
class Expected:
    members: int = 0
    to_review: int = 0
    submitted: int = 0
    late: int = 0
    held: int = 0
    scheduled: int = 0
    cells: int = 0
    open: int = 0
    closed: int = 0
    proposed: Counter = field(default_factory=Counter)
    decided: Counter = field(default_factory=Counter)

    @property
    def missing(self) -> int:
        return self.to_review - self.submitted


def expected(code: str) -> Expected:
    cells = subtree_cells(code)
    e = Expected(cells=len(cells))
    for p in PEOPLE:
        if p.cell not in cells:
            continue
        e.members += 1
        if p.reviewed:
            e.to_review += 1
            if p.review in ("submitted", "late"):
                e.submitted += 1
                e.late += p.review == "late"
        if p.decided:
            e.decided[p.decided] += 1
        elif p.proposed:
            e.proposed[p.proposed] += 1
    for cell, days in MEETINGS.items():
        if cell in cells:
            e.held += days < 0
            e.scheduled += days >= 0
            e.open += ROUNDS.get(cell, []).count("open")
            e.closed += ROUNDS.get(cell, []).count("closed")
    return e


def levels(counter: Counter) -> str:
    return ", ".join(f"{code} {counter[code]}" for code in ("HTXS", "HTT", "HT", "KHT"))


def progress_lines(e: Expected) -> list[str]:
    """The lines of /tinh_trang as a Vietnamese user reads them."""
    return [
        f"👥 Đảng viên: {e.members}; phải kiểm điểm: {e.to_review}; được xếp loại: {e.to_review}",
        f"📝 Bản tự kiểm điểm: đã nộp {e.submitted} (nộp muộn {e.late}); chưa nộp {e.missing}",
        f"🗓 Hội nghị: đã họp {e.held}; đã lên lịch {e.scheduled}; số chi bộ {e.cells}",
        f"🗳 Bỏ phiếu: đang mở {e.open}; đã kết thúc {e.closed}",
    ]


def level_lines(e: Expected) -> list[str]:
    return [f"📋 Đề nghị: {levels(e.proposed)}", f"✅ Đã quyết định: {levels(e.decided)}"]
