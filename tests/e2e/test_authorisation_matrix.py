"""Issue 12, "Done when": the authorisation matrix.

A two-đảng-bộ tree (A and B, each a đảng bộ cơ sở with two cells, under one upper unit). Every
role of đảng bộ A (plain member, cell secretary, deputy, committee member, organising office,
đảng ủy secretary) sends every command of `handlers.commands.COMMANDS` (read when the test runs)
with every unit code (own, sibling, the other đảng bộ and its cell, the parent, one that does not
exist), presses forged buttons for every callback prefix the running bot registers (the real
buttons B's own secretaries were given, and the bare prefix followed by each id outside the
caller's subtree), and uploads rosters that try issue 12's 1a–1c.

It fails on any reply (text, caption, button, alert, edit, spreadsheet or Word file) that holds a
datum of a unit outside the caller's subtree (an organisation's name or code, a member's name or
code), and on any change in the database that touches such a unit. The names and codes of the
units above the caller (their own chain) are not data of another unit: every member knows them.
A code the caller typed may come back in the refusal that names what they typed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import re
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass
from dataclasses import field

import docx
import openpyxl
import pytest
from openpyxl import Workbook
from sqlalchemy import select
from telegram.ext import CallbackQueryHandler

from handlers.commands import COMMANDS
from storage.models import Cycle
from storage.models import Meeting
from storage.models import Member
from storage.models import Organisation
from storage.models import Rating
from storage.models import RatingChange
from storage.models import SelfReview
from storage.models import TelegramAccount
from tests.e2e.harness import run_cli
from tests.e2e.test_status_tree import query

TODAY = dt.date.today()
YEAR = TODAY.year

ORGS = [  # code, name, kind, parent
    ("TREN01", "Đảng bộ phường Tân Định", "Đảng bộ cấp trên trực tiếp", ""),
    ("DBA01", "Đảng bộ Công ty Cấp nước Sài Gòn", "Đảng bộ cơ sở", "TREN01"),
    ("CBA11", "Chi bộ Phòng Kế toán Tài vụ", "Chi bộ trực thuộc", "DBA01"),
    ("CBA12", "Chi bộ Xí nghiệp Vận hành", "Chi bộ trực thuộc", "DBA01"),
    ("DBB01", "Đảng bộ Bệnh viện Quận Ba", "Đảng bộ cơ sở", "TREN01"),
    ("CBB21", "Chi bộ Khoa Nội tổng hợp", "Chi bộ trực thuộc", "DBB01"),
    ("CBB22", "Chi bộ Khoa Ngoại chấn thương", "Chi bộ trực thuộc", "DBB01"),
]
PARENT = {code: parent for code, _n, _k, parent in ORGS}
NAME = {code: name for code, name, _k, _p in ORGS}
# code, name, cell, self-review, proposed level, decided level
MEMBERS = [
    ("DVA111", "Lê Thị Thu Ánh", "CBA11", "submitted", "HTXS", None),
    ("DVA112", "Nguyễn Hữu Bằng", "CBA11", "submitted", "HTXS", None),
    ("DVA113", "Trần Minh Châu", "CBA11", "drafting", "HTT", None),
    ("DVA114", "Phạm Quốc Dũng", "CBA11", None, "HTT", None),
    ("DVA121", "Hoàng Thị Giao", "CBA12", "submitted", "HTXS", None),
    ("DVA122", "Vũ Đức Hạnh", "CBA12", "submitted", "HTXS", None),
    ("DVA123", "Đỗ Thị Kim Huệ", "CBA12", "submitted", "HTT", None),
    ("DVA124", "Bùi Văn Khải", "CBA12", None, "HT", "HT"),
    ("DVB211", "Mai Xuân Lộc", "CBB21", "submitted", "HTXS", None),
    ("DVB212", "Tạ Thị Mận", "CBB21", "submitted", "HTXS", "HTXS"),
    ("DVB213", "Quách Văn Nghĩa", "CBB21", None, "HTT", None),
    ("DVB221", "Lương Thị Oanh", "CBB22", "submitted", "HTXS", None),
    ("DVB222", "Kiều Văn Phát", "CBB22", "drafting", "HTXS", None),
    ("DVB223", "Châu Thị Quế", "CBB22", "submitted", "HT", "HT"),
]
CELL_OF = {code: cell for code, _n, cell, *_ in MEMBERS}
ROLES = [
    ("DVA112", "CBA11", "Bí thư"),
    ("DVA113", "CBA11", "Phó bí thư"),
    ("DVA121", "DBA01", "Cấp ủy viên"),
    ("DVA122", "DBA01", "Ban tổ chức"),
    ("DVA123", "DBA01", "Bí thư"),
    ("DVA124", "CBA12", "Bí thư"),
    ("DVB211", "CBB21", "Bí thư"),
    ("DVB222", "CBB22", "Bí thư"),
    ("DVB221", "DBB01", "Bí thư"),
    ("DVB223", "DBB01", "Cấp ủy viên"),
]
# persona -> (member code, the root of their subtree)
PERSONAS: dict[str, tuple[str, str]] = {
    "plain member": ("DVA111", "CBA11"),
    "cell secretary": ("DVA112", "CBA11"),
    "deputy": ("DVA113", "CBA11"),
    "committee member": ("DVA121", "DBA01"),
    "organising office": ("DVA122", "DBA01"),
    "đảng ủy secretary": ("DVA123", "DBA01"),
}
# B's own secretaries: the real buttons they are given are replayed by A's personas.
HARVESTERS = {"B đảng ủy secretary": ("DVB221", "DBB01"), "B cell secretary": ("DVB211", "CBB21")}
UNKNOWN_ORG, UNKNOWN_MEMBER = "KHONG99", "DVKHONG9"
# The units each level asks about: its own, a sibling, the other đảng bộ (or its cell), the parent;
# and a code that does not exist. Member commands: a member of each.
TARGETS = {
    "CBA11": (["CBA11", "CBA12", "DBB01", "DBA01"], ["DVA114", "DVA121", "DVB211", "DVB223"]),
    "DBA01": (["DBA01", "DBB01", "CBB21", "TREN01"], ["DVA114", "DVB211", "DVB223", "DVA121"]),
}
MEETINGS = {"CBA11": -2, "CBA12": 4, "CBB21": -1, "CBB22": 6}
# Tables whose rows belong to no unit (the caller's own session state and the audit trail), and
# the figures kept for /tinh_trang (counts derived from the rows checked here, kept as read or
# bumped by a write inside the subtree on every unit above it).
UNATTRIBUTED = {"audit_log", "pending_imports", "telegram_accounts",
                "sent_notices", "unit_figures", "unit_versions"}


def subtree(root: str) -> set[str]:
    def under(code: str) -> bool:
        while code:
            if code == root:
                return True
            code = PARENT[code]
        return False
    return {code for code, *_ in ORGS if under(code)}


def ancestors(code: str) -> set[str]:
    found = set()
    while PARENT[code]:
        code = PARENT[code]
        found.add(code)
    return found


def secrets_for(root: str) -> dict[str, str]:
    """datum -> the unit it belongs to, for every unit outside `root`'s subtree and chain."""
    allowed = subtree(root) | ancestors(root)
    found = {}
    for code, name, _kind, _parent in ORGS:
        if code not in allowed:
            found[code] = found[name] = code
    for code, name, cell, *_ in MEMBERS:
        if cell not in subtree(root):
            found[code] = found[name] = cell
    return found


def roster_book(orgs=None, members=None) -> bytes:
    book = Workbook()
    book.remove(book.active)
    if orgs:
        sheet = book.create_sheet("Tổ chức")
        sheet.append(["Mã tổ chức", "Tên tổ chức", "Loại", "Mã tổ chức cấp trên", "Ngày thành lập"])
        for row in orgs:
            sheet.append(list(row))
    sheet = book.create_sheet("Đảng viên")
    sheet.append(["Mã đảng viên", "Họ và tên", "Ngày sinh", "Mã chi bộ", "Loại đảng viên", "Ngày kết nạp"])
    for row in members:
        sheet.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def own_cell_rows() -> list[tuple]:
    return [(c, n, "01/01/1980", cell, "Chính thức", "01/06/2005") for c, n, cell, *_ in MEMBERS
            if cell == "CBA11"]


def dedupe_shapes(data: list[str], per_shape: int = 2) -> list[str]:
    """At most `per_shape` buttons of each shape (the data with its numbers blanked)."""
    seen: Counter = Counter()
    kept = []
    for item in data:
        shape = re.sub(r"\d+", "#", item)
        if seen[shape] < per_shape:
            seen[shape] += 1
            kept.append(item)
    return kept


# Issue 12's 1a–1c, from CBA11.
UPLOADS = {
    "1a take a member of B": roster_book(members=own_cell_rows() + [
        ("DVB211", "Mai Xuân Lộc", "01/01/1980", "CBA11", "Chính thức", "01/06/2005")]),
    "1b move the cell under B": roster_book(
        orgs=[("CBA11", NAME["CBA11"], "Chi bộ trực thuộc", "DBB01", "01/01/2000")],
        members=own_cell_rows()),
    "1c make the cell a chi bộ cơ sở": roster_book(
        orgs=[("CBA11", NAME["CBA11"], "Chi bộ cơ sở", "TREN01", "01/01/2000")],
        members=own_cell_rows()),
}


@dataclass
class Step:
    persona: str
    kind: str  # "command" | "press" | "upload"
    what: str  # the command, the callback data or the upload's name
    typed: set[str]  # codes the caller typed: they may be echoed back
    first: int = 0  # index of the first bot message in the chat after the step began
    answer: str | None = None  # a press's alert or toast
    refused: bool = False
    seconds: float = 0.0  # until the first answer


@dataclass
class Results:
    steps: list[Step] = field(default_factory=list)
    leaks: list[tuple[Step, str, str]] = field(default_factory=list)  # (step, datum, where)
    changes: list[tuple[str, str, tuple]] = field(default_factory=list)  # (phase, table, row)
    unreadable: Counter = field(default_factory=Counter)  # media the test cannot read (photos)
    # (persona, command, answer to a code out of reach, answer to a code that does not exist)
    different: list[tuple[str, str, str, str]] = field(default_factory=list)
    seconds: float = 0.0


# --- the tree ------------------------------------------------------------------------------------


async def build(tmp_path, cli_env, fake, database_url) -> dict:
    book = Workbook()
    book.remove(book.active)
    sheet = book.create_sheet("Tổ chức")
    sheet.append(["Mã tổ chức", "Tên tổ chức", "Loại", "Mã tổ chức cấp trên", "Ngày thành lập"])
    for code, name, kind, parent in ORGS:
        sheet.append([code, name, kind, parent, "01/01/2000"])
    sheet = book.create_sheet("Đảng viên")
    sheet.append(["Mã đảng viên", "Họ và tên", "Ngày sinh", "Mã chi bộ", "Loại đảng viên", "Ngày kết nạp"])
    for code, name, cell, *_ in MEMBERS:
        sheet.append([code, name, "01/01/1980", cell, "Chính thức", "01/06/2005"])
    sheet = book.create_sheet("Vai trò")
    sheet.append(["Mã đảng viên", "Mã tổ chức", "Vai trò"])
    for row in ROLES:
        sheet.append(list(row))
    book.save(tmp_path / "cay.xlsx")
    result = await run_cli("import-roster", str(tmp_path / "cay.xlsx"), env=cli_env)
    assert result.code == 0, result.out + result.err
    result = await run_cli("cycle", "create", "--org", "TREN01", "--year", str(YEAR), "--rulebook",
                           "qd366-2025", "--finish-by", f"31/12/{YEAR}", "--report-by",
                           f"15/01/{YEAR + 1}", env=cli_env)
    assert result.code == 0, result.out + result.err
    users = {}
    now = dt.datetime.now(dt.UTC)

    async def fill(session):
        org_ids = dict((await session.execute(select(Organisation.code, Organisation.id))).all())
        member_ids = dict((await session.execute(select(Member.code, Member.id))).all())
        cycle = await session.scalar(select(Cycle))
        linked = {code for code, _root in (*PERSONAS.values(), *HARVESTERS.values())}
        for code, name, _cell, review, proposed, decided in MEMBERS:
            member_id = member_ids[code]
            if review:
                session.add(SelfReview(
                    cycle_id=cycle.id, member_id=member_id, form_code="2B", state=review,
                    stage="preview", reached_preview=True, late=False,
                    submitted_at=now - dt.timedelta(days=3) if review == "submitted" else None))
            rating = Rating(cycle_id=cycle.id, member_id=member_id,
                            state="decided" if decided else "proposed", proposed_level=proposed,
                            proposed_at=now, decided_level=decided,
                            decided_at=now if decided else None, decided_by="tg:1" if decided else None)
            session.add(rating)
            await session.flush()
            session.add(RatingChange(rating_id=rating.id, at=now, actor="tg:1", kind="proposed",
                                     level=proposed))
            if code in linked:
                user = fake.user(name.split()[-1], language_code="vi")
                user.started = True
                users[code] = user
                session.add(TelegramAccount(telegram_id=user.id, member_id=member_id,
                                            language_code="vi", started_at=now, linked_at=now,
                                            failed_invites=0))
        for cell, days in MEETINGS.items():
            session.add(Meeting(cycle_id=cycle.id, org_id=org_ids[cell],
                                scheduled_at=now + dt.timedelta(days=days)))
        return org_ids, member_ids

    org_ids, member_ids = await query(database_url, fill)
    return {"users": users, "org_ids": org_ids, "member_ids": member_ids, "fake": fake}


# --- the database, unit by unit ------------------------------------------------------------------


def snapshot(path: str) -> dict[str, set[tuple]]:
    connection = sqlite3.connect(path)
    try:
        tables = [r[0] for r in connection.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
            "AND name != 'alembic_version'")]
        found = {}
        for table in tables:
            cursor = connection.execute(f'SELECT * FROM "{table}"')  # noqa: S608 (names from the schema)
            columns = [d[0] for d in cursor.description]
            found[table] = {tuple(zip(columns, map(repr, row), strict=True)) for row in cursor}
        return found
    finally:
        connection.close()


def units_of(table: str, row: tuple, maps: dict) -> set[int]:
    """The organisations a row belongs to (by id), following its references."""
    values = {name: value for name, value in row}

    def ref(name: str) -> int | None:
        value = values.get(name)
        return None if value in (None, "None") else int(value)

    orgs = set()
    if table == "organisations":
        orgs |= {ref("id"), ref("parent_id")}
    for column in ("org_id", "temporary_org_id", "deciding_org_id"):
        orgs.add(ref(column))
    if ref("member_id") is not None:
        orgs.add(maps["member"].get(ref("member_id")))
    if table == "members":
        orgs.add(ref("org_id"))
    if ref("meeting_id") is not None:
        orgs.add(maps["meeting"].get(ref("meeting_id")))
    if ref("rating_id") is not None:
        orgs.add(maps["member"].get(maps["rating"].get(ref("rating_id"))))
    if ref("review_id") is not None:
        orgs.add(maps["member"].get(maps["review"].get(ref("review_id"))))
    if ref("round_id") is not None:
        orgs.add(maps["meeting"].get(maps["round"].get(ref("round_id"))))
    if table in ("ballot_candidates",) and ref("candidate_id") is not None:
        orgs.add(maps["member"].get(ref("candidate_id")))
    return {o for o in orgs if o is not None}


def reference_maps(*snapshots: dict) -> dict:
    maps = {"member": {}, "meeting": {}, "rating": {}, "review": {}, "round": {}}
    for snap in snapshots:
        for table, key, target, column in (
            ("members", "member", "id", "org_id"), ("meetings", "meeting", "id", "org_id"),
            ("ratings", "rating", "id", "member_id"), ("self_reviews", "review", "id", "member_id"),
            ("ballot_rounds", "round", "id", "meeting_id"),
        ):
            for row in snap.get(table, ()):
                values = dict(row)
                maps[key][int(values[target])] = int(values[column])
    return maps


def changes_outside(before: dict, after: dict, allowed_ids: set[int]) -> list[tuple[str, tuple]]:
    maps = reference_maps(before, after)
    found = []
    for table in sorted(set(before) | set(after)):
        if table in UNATTRIBUTED:
            continue
        for row in before.get(table, set()) ^ after.get(table, set()):
            if units_of(table, row, maps) - allowed_ids:
                found.append((table, row))
    return found


# --- what a reply says ---------------------------------------------------------------------------


def document_texts(content: bytes, filename: str) -> list[tuple[str, str]]:
    """(part, text): each sheet of a workbook, the whole of a Word file."""
    if filename.endswith(".xlsx"):
        book = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
        return [(f"sheet {sheet.title}", "\n".join(
            str(v) for row in sheet.iter_rows(values_only=True) for v in row if v is not None))
            for sheet in book.worksheets]
    if filename.endswith(".docx"):
        document = docx.Document(io.BytesIO(content))
        parts = [p.text for p in document.paragraphs]
        parts += [cell.text for table in document.tables for row in table.rows for cell in row.cells]
        return [("document", "\n".join(parts))]
    return [("file", content.decode("utf-8", "replace"))]


def message_texts(message, results: Results) -> list[tuple[str, str]]:
    """(where, text) for everything a user can read in a message, its earlier versions too."""
    found = []
    for version in [*message.versions, {"text": message.text, "caption": message.caption,
                                        "reply_markup": message.reply_markup}]:
        for key in ("text", "caption"):
            if version.get(key):
                found.append((key, version[key]))
        markup = version.get("reply_markup") or {}
        for row in markup.get("inline_keyboard", []):
            for button in row:
                found.append(("button", button.get("text", "")))
    if message.document is not None:
        name = message.document.file_name or ""
        found += [(f"file {name} {part}", text)
                  for part, text in document_texts(message.document.content, name)]
    if message.photo is not None:
        results.unreadable["photo"] += 1
    return found


def datum_pattern(datum: str) -> re.Pattern:
    if re.fullmatch(r"[A-Z0-9]+", datum):
        return re.compile(rf"(?<![A-Za-z0-9]){datum}(?![A-Za-z0-9])")
    return re.compile(re.escape(datum))


def scan(results: Results, step: Step, where: str, text: str, secrets: dict[str, str],
         typed: set[str]) -> None:
    """A datum of another unit in `text` is a leak, except a code the caller typed coming back
    in a refusal of what they typed (e.g. "Không có tổ chức mã CBB21 trong phạm vi…")."""
    echo = typed if is_refusal(text) else set()
    for datum in secrets:
        if datum in echo:
            continue
        if datum_pattern(datum).search(text):
            results.leaks.append((step, datum, f"{where}: {text[:300]}"))


# --- the walk ------------------------------------------------------------------------------------


def is_refusal(text: str) -> bool:
    return any(marker in text for marker in (
        "không có quyền", "trong phạm vi của đồng chí", "không còn hiệu lực", "dành cho",
        "Chỉ bí thư", "ngoài phạm vi chi bộ", "chưa có", "Không có phiếu bầu"))


class Pace:
    """At most `rate` commands a second from all test users together: the bot answers each with
    one or more messages, and going over Telegram's 30 a second (which the fake enforces) makes
    the whole bot wait a second after each 429."""

    def __init__(self, rate: float = 24.0) -> None:
        self.interval, self.next = 1.0 / rate, 0.0

    async def __call__(self) -> None:
        now = time.monotonic()
        self.next = max(self.next + self.interval, now)
        if self.next > now:
            await asyncio.sleep(self.next - now)


PACE = Pace()


async def run_steps(user, persona: str, plan: list[tuple[str, str, set[str], object]],
                    results: Results) -> list[Step]:
    steps = []
    for kind, what, typed, payload in plan:
        step = Step(persona, kind, what, typed, first=len(user.messages()))
        steps.append(step)
        if kind != "press":
            await PACE()
        began = time.monotonic()
        if kind == "command":
            await user.send(what)
        elif kind == "upload":
            await user.send_document(payload, "danh-sach.xlsx")
        else:
            anchor = user.messages()[-1]
            record = await user.wait_answer(await user.press_data(what, message=anchor), timeout=30)
            step.answer = record.text or ""
            step.refused = is_refusal(step.answer)
            step.seconds = time.monotonic() - began
            continue
        try:
            first = await user.wait_message(timeout=30)
        except AssertionError:  # no answer at all (the fuzz test counts those)
            continue
        step.refused = is_refusal(first.text or first.caption or "")
        step.seconds = time.monotonic() - began
    return steps


def command_plan(root: str) -> list[tuple[str, str, set[str], None]]:
    """Every command, bare and with each unit code (or member code, for the member commands)."""
    org_codes, member_codes = TARGETS[root]
    plan = []
    for spec in COMMANDS:
        targets = member_codes if "MEMBER_CODE" in spec.help else org_codes
        plan.append(("command", f"/{spec.name}", set(), None))
        if spec.name in ("start",):
            continue  # /start takes an invite token, not a code
        for code in targets:
            plan.append(("command", f"/{spec.name} {code}", {code}, None))
    return plan


def callback_prefixes(application) -> list[str]:
    prefixes = set()
    for handlers in application.handlers.values():
        for handler in handlers:
            if isinstance(handler, CallbackQueryHandler) and handler.pattern is not None:
                pattern = getattr(handler.pattern, "pattern", str(handler.pattern))
                prefix = re.match(r"\^?([A-Za-z0-9_:\-]*)", pattern).group(1)
                if prefix:
                    prefixes.add(prefix)
    return sorted(prefixes)


def forged_plan(harvested: list[str], prefixes: list[str], root: str, tree: dict) -> list[tuple]:
    """B's real buttons, and each prefix followed by ids of units and members outside `root`."""
    org_ids = [tree["org_ids"][code] for code in TARGETS[root][0][1:3]]  # sibling, other đảng bộ
    outside = set(secrets_for(root).values())
    member_ids = [tree["member_ids"][code] for code, *_ in MEMBERS if CELL_OF[code] in outside][:1]
    plan = [("press", data, set(), None) for data in dedupe_shapes(harvested)]
    for prefix in prefixes:
        for number in org_ids + member_ids:
            plan.append(("press", f"{prefix}{number}", set(), None))
    return plan


async def harvest(users: dict, fake) -> list[str]:
    """Press nothing: only collect the buttons B's secretaries get for their own units."""
    found = []
    for _persona, (code, root) in HARVESTERS.items():
        user = users[code]
        plan = [("command", f"/{spec.name}", set(), None) for spec in COMMANDS if spec.name != "start"]
        plan += [("command", f"/{name} {unit}", set(), None) for unit in sorted(subtree(root))
                 for name in ("tinh_trang", "quyet_dinh", "kiem_diem_chi_bo", "moi", "ke_hoach",
                              "lich_hop", "hop", "bo_phieu")]
        await run_steps(user, "harvest", plan, Results())
        await fake.wait_idle(quiet=0.5, timeout=60)  # the last answers' late parts
        for message in user.messages():
            for row in message.buttons:
                for button in row:
                    if "callback_data" in button:
                        found.append(button["callback_data"])
    return sorted(set(found))


async def walk_phase(phase: str, personas: dict, tree: dict, harvested: list[str], prefixes: list[str],
                     database_path: str, results: Results, alongside) -> int:
    """Walk the personas' plans at once (with `alongside`, a check of a persona of the other
    phase that may change nothing at all); returns what `alongside` returns."""
    before = snapshot(database_path)
    plans = {}
    for persona, (_code, root) in personas.items():
        plan = command_plan(root)
        plan += [("upload", name, {"DVB211", "DBB01", "TREN01"}, content) for name, content in UPLOADS.items()]
        plan += forged_plan(harvested, prefixes, root, tree)
        plans[persona] = plan
    *batches, extra = await asyncio.gather(*(
        run_steps(tree["users"][code], persona, plans[persona], results)
        for persona, (code, _root) in personas.items()), alongside)
    # Late parts of the last answers (documents, edits): the bot has sent all it will.
    await tree["fake"].wait_idle(quiet=1.0, timeout=60)
    for persona, steps in zip(personas, batches, strict=True):
        code, root = personas[persona]
        secrets = secrets_for(root)
        user = tree["users"][code]
        messages = user.messages()
        results.steps += steps
        typed = set().union(*(step.typed for step in steps))
        for index, step in enumerate(steps):
            if step.answer:
                scan(results, step, "answer", step.answer, secrets, typed)
            end = steps[index + 1].first if index + 1 < len(steps) else len(messages)
            for message in messages[step.first:end]:  # roughly: answers may come late
                for where, text in message_texts(message, results):
                    scan(results, step, where, text, secrets, typed)
    allowed = set()
    for _code, root in personas.values():
        allowed |= {tree["org_ids"][c] for c in subtree(root)}
    after = snapshot(database_path)
    results.changes += [(phase, table, row) for table, row in changes_outside(before, after, allowed)]
    return extra


async def same_answer(user, persona: str, root: str, results: Results) -> int:
    """A code out of reach and a code that does not exist get the same answer, word for word."""
    await user.send("/huy")  # both codes of a pair are tried from the same state: no flow open
    await user.collect(quiet=0.3, timeout=30)
    outside = TARGETS[root][0][2]  # the other đảng bộ, or its cell
    compared = 0
    for spec in COMMANDS:
        if spec.name == "start" or "MEMBER_CODE" in spec.help:
            pairs = [("DVB211", UNKNOWN_MEMBER)] if "MEMBER_CODE" in spec.help else []
        else:
            pairs = [(outside, UNKNOWN_ORG)]
        for known, unknown in pairs:
            answers = []
            for code in (known, unknown):
                await PACE()
                await user.send(f"/{spec.name} {code}")
                first = await user.wait_message(timeout=30)
                answers.append((first.text or first.caption or "").replace(code, "«code»"))
                await user.collect(quiet=0.1, timeout=30)
            compared += 1
            if answers[0] != answers[1]:
                results.different.append((persona, spec.name, *answers))
    return compared


_CACHE: dict[str, Results] = {}


async def matrix(tmp_path, cli_env, fake, bot, database_url) -> Results:
    if "results" in _CACHE:
        return _CACHE["results"]
    start = time.monotonic()
    tree = await build(tmp_path, cli_env, fake, database_url)
    database_path = database_url.split("///", 1)[1]
    marks = [("tree", time.monotonic())]
    harvested = await harvest(tree["users"], fake)
    marks.append(("harvest", time.monotonic()))
    prefixes = callback_prefixes(bot.application)
    results = Results()
    cell_level = {p: v for p, v in PERSONAS.items() if v[1] == "CBA11"}
    committee_level = {p: v for p, v in PERSONAS.items() if v[1] == "DBA01"}
    # The cell's people first: whatever the committee may do in CBA12 is outside their reach.
    def check(persona: str):
        code, root = PERSONAS[persona]
        return same_answer(tree["users"][code], persona, root, results)

    compared = await walk_phase("cell", cell_level, tree, harvested, prefixes, database_path,
                                results, check("đảng ủy secretary"))
    marks.append(("cell phase", time.monotonic()))
    compared += await walk_phase("committee", committee_level, tree, harvested, prefixes,
                                 database_path, results, check("cell secretary"))
    marks.append(("committee phase", time.monotonic()))
    results.seconds = time.monotonic() - start
    previous = start
    for name, at in marks:
        print(f"  {name}: {at - previous:.1f} s", end="")
        previous = at
    print(f"; bot messages: {len(fake.calls_to('sendMessage'))}, "
          f"answers: {len(fake.calls_to('answerCallbackQuery'))}, throttled: {len(fake.throttled)}")
    attempts = len(results.steps)
    refused = sum(s.refused for s in results.steps)
    print(f"\nauthorisation matrix: {attempts} attempts ({len(harvested)} harvested buttons, "
          f"{len(prefixes)} callback prefixes), {refused} refusals, {len(results.leaks)} leaks, "
          f"{len(results.changes)} changes outside the subtree, {compared} known/unknown pairs "
          f"compared ({len(results.different)} different), unreadable {dict(results.unreadable)}, "
          f"{results.seconds:.1f} s")
    slow: Counter = Counter()
    for step in results.steps:
        slow[step.what.split()[0] if step.kind == "command" else step.kind + " " + step.what.split(":")[0]] += step.seconds
    print("  slowest:", [(k, round(v, 1)) for k, v in slow.most_common(12)])
    for step, datum, where in results.leaks[:40]:
        print(f"  LEAK {step.persona} {step.kind} {step.what!r}: {datum!r} in {where[:160]!r}")
    for phase, table, row in results.changes[:20]:
        print(f"  CHANGE {phase} {table}: {row}")
    _CACHE["results"] = results
    return results


# --- the verdict ----------------------------------------------------------------------------------


@pytest.mark.sqlite_only("the before/after snapshots read the SQLite file; who may reach what does "
                         "not depend on the database, and the run is long")
async def test_no_leak_and_no_change_outside_the_subtree(tmp_path, cli_env, fake_telegram, bot, database_url):
    results = await matrix(tmp_path, cli_env, fake_telegram, bot, database_url)
    leaks = [(s.persona, s.kind, s.what, d, w[:200]) for s, d, w in results.leaks]
    assert not leaks, "\n".join(map(str, leaks[:30]))
    assert not results.changes, "\n".join(map(str, results.changes[:30]))
    assert not results.different, "\n".join(map(str, results.different))
    assert len(results.steps) > 800
    assert not fake_telegram.refused
