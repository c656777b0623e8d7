"""Issue 14, part C test kit: a commune with a đảng bộ cơ sở of five cells (one of them a village
cell) imported through the CLI — with the representatives of the participating bodies, the
organising office and the village column — the year's plan, and the earlier steps (each
unit's proposal with its combined score, members' proposals) written straight to the database,
as parts A and B leave them."""

from __future__ import annotations

import datetime as dt

from openpyxl import Workbook
from sqlalchemy import select

from storage.models import Cycle
from storage.models import Member
from storage.models import Organisation
from storage.models import Rating
from storage.models import RatingChange
from storage.models import TelegramAccount
from storage.models import UnitRating
from storage.models import UnitRatingChange
from storage.models import UnitReview
from tests.e2e.harness import run_cli
from tests.e2e.harness import vietnam_today
from tests.e2e.test_status_tree import Tree
from tests.e2e.test_status_tree import query

YEAR = vietnam_today().year
ORGS = [  # code, name, kind, parent, village
    ("XA", "Đảng bộ xã Tân Phú", "Đảng bộ cấp trên trực tiếp", "", ""),
    ("DB", "Đảng bộ Công ty Thủy lợi", "Đảng bộ cơ sở", "XA", ""),
    ("CB1", "Chi bộ Thôn Bình An", "Chi bộ trực thuộc", "DB", "Có"),
    ("CB2", "Chi bộ Phòng Kỹ thuật", "Chi bộ trực thuộc", "DB", ""),
    ("CB3", "Chi bộ Phòng Hành chính", "Chi bộ trực thuộc", "DB", ""),
    ("CB4", "Chi bộ Đội Thi công", "Chi bộ trực thuộc", "DB", ""),
    ("CB5", "Chi bộ Phòng Kế hoạch", "Chi bộ trực thuộc", "DB", ""),
]
NAME = {code: name for code, name, *_ in ORGS}
PEOPLE = [  # code, name, cell, public servant
    ("D01", "Trần Văn Đức", "CB2", "Có"),
    ("D02", "Lê Thị Hằng", "CB2", "Có"),
    ("S1", "Nguyễn Văn Bảy", "CB1", ""),
    ("S2", "Phạm Minh Tuấn", "CB2", "Có"),
    ("S3", "Bùi Thị Thu", "CB3", "Có"),
    ("M2", "Võ Thị Mai", "CB2", "Có"),
    ("R1", "Hoàng Văn Tư", "CB1", ""),
    ("R2", "Đinh Thị Lụa", "CB3", "Có"),
]
ROLES = [
    ("D01", "DB", "Bí thư"),
    ("D02", "DB", "Ban tổ chức"),
    ("S1", "CB1", "Bí thư"),
    ("S2", "CB2", "Bí thư"),
    ("S3", "CB3", "Bí thư"),
    ("R1", "XA", "Đại diện Ủy ban MTTQ"),
    ("R2", "DB", "Đại diện lãnh đạo cơ quan, đơn vị"),  # the written form with a comma
]


def roster(path) -> None:
    book = Workbook()
    book.remove(book.active)
    sheets = (
        ("Tổ chức", ["Mã tổ chức", "Tên tổ chức", "Loại", "Mã tổ chức cấp trên", "Ngày thành lập",
                     "Chi bộ thôn, tổ dân phố"],
         [[code, name, kind, parent, "01/01/2000", village]
          for code, name, kind, parent, village in ORGS]),
        ("Đảng viên", ["Mã đảng viên", "Họ và tên", "Ngày sinh", "Mã chi bộ", "Loại đảng viên",
                       "Ngày kết nạp", "Cán bộ, công chức"],
         [[code, name, "01/01/1975", cell, "Chính thức", "01/06/2005", servant]
          for code, name, cell, servant in PEOPLE]),
        ("Vai trò", ["Mã đảng viên", "Mã tổ chức", "Vai trò"], [list(row) for row in ROLES]),
    )
    for title, headers, rows in sheets:
        sheet = book.create_sheet(title)
        for row in [headers, *rows]:
            sheet.append(row)
    book.save(path)


async def unit_tree(tmp_path, cli_env, fake, database_url: str, now: dt.datetime,
                    rulebook: str = "qd366-2025", *sets: str) -> Tree:
    """Import the tree, open the plan on the commune (`sets`: KEY=VALUE settings) and link every
    person to a Telegram user who has started the bot."""
    roster(tmp_path / "xa.xlsx")
    people = [(code, name) for code, name, *_ in PEOPLE]
    return await planned_tree(tmp_path / "xa.xlsx", cli_env, fake, database_url, now, "XA",
                              people, rulebook, *sets)


async def planned_tree(book, cli_env, fake, database_url: str, now: dt.datetime, plan_org: str,
                       people: list[tuple[str, str]], rulebook: str, *sets: str) -> Tree:
    """Import the roster `book`, open this year's plan on `plan_org` (`sets`: KEY=VALUE
    settings) and link each of `people` (code, name) to a user who has started the bot."""
    result = await run_cli("import-roster", str(book), env=cli_env)
    assert result.code == 0, result.out + result.err
    options = [arg for value in sets for arg in ("--set", value)]
    result = await run_cli("cycle", "create", "--org", plan_org, "--year", str(YEAR),
                           "--rulebook", rulebook, "--finish-by", f"31/12/{YEAR}",
                           "--report-by", f"15/01/{YEAR + 1}", *options, env=cli_env)
    assert result.code == 0, result.out + result.err
    tree = Tree(database_url)

    async def fill(session):
        tree.org_ids = dict((await session.execute(select(Organisation.code, Organisation.id))).all())
        tree.member_ids = dict((await session.execute(select(Member.code, Member.id))).all())
        tree.cycle_id = (await session.scalar(select(Cycle))).id
        tree.users = link(session, fake, tree.member_ids, people, now)
        await session.commit()

    await query(database_url, fill)
    return tree


def link(session, fake, member_ids: dict[str, int], people: list[tuple[str, str]],
         now: dt.datetime) -> dict:
    """Each (code, name) linked to a new Vietnamese-speaking user who has started the bot;
    returns the users by member code."""
    users = {}
    for code, name in people:
        user = fake.user(name.split()[-1], language_code="vi")
        user.started = True
        users[code] = user
        session.add(TelegramAccount(telegram_id=user.id, member_id=member_ids[code],
                                    language_code="vi", started_at=now, linked_at=now,
                                    failed_invites=0))
    return users


async def propose_units(tree: Tree, levels: dict[str, str], now: dt.datetime) -> dict[str, int]:
    """Each cell's review and its proposal (its vote, with a combined score), as part B leaves
    them; returns the rating ids by cell code."""
    ids = {}

    async def write(session):
        for code, level in levels.items():
            review = UnitReview(cycle_id=tree.cycle_id, org_id=tree.org_ids[code],
                                subject="organisation", state="reviewed", reviewed_at=now)
            session.add(review)
            await session.flush()
            rating = UnitRating(review_id=review.id, state="proposed", proposed_level=level,
                                proposed_at=now, score_tenths=855)
            session.add(rating)
            await session.flush()
            session.add(UnitRatingChange(rating_id=rating.id, at=now, actor="tg:1",
                                         kind="proposed", level=level))
            ids[code] = rating.id
        await session.commit()

    await query(tree.database_url, write)
    return ids


async def propose_members(tree: Tree, levels: dict[str, str], now: dt.datetime) -> None:
    async def write(session):
        for code, level in levels.items():
            rating = Rating(cycle_id=tree.cycle_id, member_id=tree.member_ids[code],
                            state="proposed", proposed_level=level, proposed_at=now)
            session.add(rating)
            await session.flush()
            session.add(RatingChange(rating_id=rating.id, at=now, actor="tg:1", kind="proposed",
                                     level=level))
        await session.commit()

    await query(tree.database_url, write)


async def unit_ratings(database_url: str, rating_ids) -> list[tuple]:
    """(state, proposed, decided) of the ratings of the reviews these ratings belong to, in
    order: history included."""
    async def run(session):
        reviews = select(UnitRating.review_id).where(UnitRating.id.in_(list(rating_ids)))
        rows = await session.scalars(
            select(UnitRating).where(UnitRating.review_id.in_(reviews)).order_by(UnitRating.id))
        return [(r.state, r.proposed_level, r.decided_level) for r in rows]

    return await query(database_url, run)
