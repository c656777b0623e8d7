"""Shared steps for the plan and monitor tests (no tests here): a small tree built straight in the
database, the /ke_hoach flow, and the monitor run with the test's clock."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from dataclasses import field

from sqlalchemy import select

from bot.jobs import run_monitor
from storage.db import Database
from storage.models import Cycle
from storage.models import Member
from storage.models import Organisation
from storage.models import Role
from storage.models import TelegramAccount
from storage.queries import place_org
from tests.e2e.harness import clock_start
from tests.e2e.reviewkit import local

# code, name, kind, parent
ORGS = [
    ("UP01", "Đảng ủy Phường Bến Thành", "upper", None),
    ("DBCS01", "Đảng bộ Trường THPT Lê Lợi", "grassroots", "UP01"),
    ("CB01", "Chi bộ Giáo viên", "cell", "DBCS01"),
    ("CB02", "Chi bộ Hành chính", "cell", "DBCS01"),
]


@dataclass
class P:
    code: str
    name: str
    cell: str
    roles: tuple[tuple[str, str], ...] = ()  # (org code, role)
    sick_leave_months: int = 0
    started: bool = True


PEOPLE = [
    P("DV01", "Nguyễn Văn An", "CB01", (("CB01", "secretary"),)),
    P("DV02", "Trần Thị Bình", "CB01"),
    P("DV03", "Lê Văn Cường", "CB01", sick_leave_months=4),
    P("DV04", "Phạm Thị Dung", "CB01"),
    P("DV05", "Hoàng Văn Em", "CB01"),
    P("DV06", "Vũ Thị Giang", "CB02", (("CB02", "secretary"),)),
    P("DV07", "Bùi Thị Hoa", "CB02", (("DBCS01", "committee_member"),)),
    P("DV08", "Đỗ Văn Khánh", "CB02", (("UP01", "organising_office"),)),
]


@dataclass
class Tree:
    users: dict = field(default_factory=dict)  # member code -> FakeUser
    member_ids: dict = field(default_factory=dict)  # member code -> id
    org_ids: dict = field(default_factory=dict)  # org code -> id


async def build_tree(database_url: str, fake, people=PEOPLE) -> Tree:
    tree = Tree()
    db = Database(database_url)
    now = clock_start()
    try:
        await db.migrate()
        async with db.session() as session:
            orgs = {}
            for code, name, kind, parent in ORGS:
                org = Organisation(code=code, name=name, kind=kind, path="")
                await place_org(session, org, orgs.get(parent))
                orgs[code] = org
                tree.org_ids[code] = org.id
            for person in people:
                member = Member(
                    code=person.code,
                    full_name=person.name,
                    org_id=orgs[person.cell].id,
                    status="official",
                    admitted_on=dt.date(2010, 5, 19),
                    sick_leave_months=person.sick_leave_months,
                )
                session.add(member)
                await session.flush()
                tree.member_ids[person.code] = member.id
                for org_code, role in person.roles:
                    session.add(Role(member_id=member.id, org_id=orgs[org_code].id, role=role))
                user = fake.user(person.name.split()[-1], language_code="vi")
                tree.users[person.code] = user
                if person.started:
                    user.started = True
                    session.add(
                        TelegramAccount(
                            telegram_id=user.id,
                            member_id=member.id,
                            language_code="vi",
                            started_at=now,
                            linked_at=now,
                            failed_invites=0,
                        )
                    )
    finally:
        await db.dispose()
    return tree


async def query(database_url: str, fn):
    db = Database(database_url)
    try:
        async with db.session() as session:
            return await fn(session)
    finally:
        await db.dispose()


async def cycle_row(database_url: str, org_code: str = "UP01") -> Cycle | None:
    async def run(session):
        return await session.scalar(
            select(Cycle).join(Organisation, Organisation.id == Cycle.org_id).where(
                Organisation.code == org_code
            )
        )

    return await query(database_url, run)


async def monitor(bot, clock) -> int:
    """One explicit run, at the test's time."""
    app = bot.application
    return await run_monitor(app.bot_data["services"], app.bot, now=clock())


class Inbox:
    """What each user received since the last look."""

    def __init__(self, users: dict) -> None:
        self.users = users
        self.seen = {code: len(user.messages()) for code, user in users.items()}

    def new(self, code: str) -> list[str]:
        messages = self.users[code].messages()
        found = [m.text or "" for m in messages[self.seen[code] :]]
        self.seen[code] = len(messages)
        return found

    def all_new(self) -> dict[str, list[str]]:
        return {code: texts for code in self.users if (texts := self.new(code))}


async def open_plan(user, *, settings: dict[int, str] | None = None, finish_by: str | None = None):
    """/ke_hoach for the 2026 plan under hd21-2019: change the given settings (number →
    typed value), type finish-by if given, keep every other deadline, save."""
    await user.send("/ke_hoach")
    await user.wait_message()
    await user.press("2026")
    await user.wait_message()
    await user.press("Hướng dẫn 21-HD/BTCTW (2019)")
    prompt = await user.wait_message()
    for number, value in (settings or {}).items():
        await user.press(f"✏ {number}", message=prompt)
        await user.wait_message()
        await user.send(value)
        prompt = await user.wait_message()
    await user.press("✅ Giữ các giá trị này", message=prompt)
    prompt = await user.wait_message()
    if finish_by:
        await user.send(finish_by)
        prompt = await user.wait_message()
    while any(label.startswith("Giữ ") for label in prompt.button_labels()):
        await user.press(prompt.button_labels()[0], message=prompt)
        prompt = await user.wait_message()
    assert "Kế hoạch sẽ lưu" in prompt.text, prompt.text
    await user.press("✅ Lưu kế hoạch", message=prompt)
    await user.wait_edit(prompt)
    done = await user.wait_message()
    assert done.text.startswith("✅ Đã lưu kế hoạch năm 2026"), done.text
    return prompt


def overrides(cycle: Cycle) -> dict:
    return json.loads(cycle.overrides) if cycle.overrides else {}


__all__ = ["Inbox", "P", "build_tree", "local", "monitor", "open_plan", "query"]
