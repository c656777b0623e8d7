"""Issue 12 test kit: a small tree whose organisation names, member names and positions are
hostile HTML, imported through the CLI, with a plan and every member linked to a user.
Imported by the hostile-names and the fuzz tests (this module holds no test of its own)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import openpyxl

from tests.e2e.harness import roster_workbook
from tests.e2e.harness import run_cli
from tests.fakebot import FakeTelegram
from tests.fakebot import FakeUser

EVIL = "https://evil.example"
CELL_NAME = 'Chi bộ <a href="https://evil.example/">Bình Hai</a>'
MEMBER_NAME = '<Hai> & "Ba"'
ORGS = [
    ["DBCS01", "Đảng bộ <b>Phường</b> & <i>Bến Thành", "Đảng bộ cơ sở", "", "01/01/2000"],
    ["CB01", CELL_NAME, "Chi bộ trực thuộc", "DBCS01", "01/01/2005"],
    ["CB02", 'Chi bộ <Hai> & "Ba" </code>', "Chi bộ trực thuộc", "DBCS01", "01/01/2005"],
]
MEMBERS = [
    ["DV001", MEMBER_NAME, "12/03/1970", "CB01", "Bí thư chi bộ", "Chính thức", "15/06/1995"],
    ["DV002", "Trần <i>Thị</i> Bình", "02/07/1982", "CB01", '<u>Tổ trưởng</u> & "x"', "Chính thức",
     "03/02/2008"],
    ["DV003", f'<a href="{EVIL}/">Lê Văn Cường</a>', "21/11/1990", "CB01", "", "Chính thức",
     "19/05/2012"],
    ["DV004", "Phạm & Dung <", "30/01/1965", "CB02", "Bí thư đảng ủy", "Chính thức", "01/09/1990"],
    ["DV005", 'Hoàng "Em" <br>', "09/09/1988", "CB02", "", "Chính thức", "10/10/2012"],
    ["DV006", "Võ <s>Văn</s> Phúc", "09/09/1985", "CB02", "", "Dự bị", "10/10/2026"],
]
ROLES = [
    ["DV001", "CB01", "Bí thư"],
    ["DV002", "CB01", "Phó bí thư"],
    ["DV004", "CB02", "Bí thư"],
    ["DV004", "DBCS01", "Bí thư"],
    ["DV005", "DBCS01", "Cấp ủy viên"],
]
# Who plays which role.
SECRETARY, DEPUTY, PLAIN, COMMITTEE_SECRETARY, COMMITTEE = "DV001", "DV002", "DV003", "DV004", "DV005"


@dataclass
class Tree:
    users: dict[str, FakeUser]  # member code -> linked user
    stranger: FakeUser  # a Telegram user with no account link


async def hostile_tree(tmp_path, cli_env, fake: FakeTelegram) -> Tree:
    """Roster imported, this year's plan on DBCS01, and every member linked (by /start)."""
    book = roster_workbook(tmp_path / "ds.xlsx", orgs=ORGS, members=MEMBERS, roles=ROLES)
    assert (result := await run_cli("import-roster", str(book), env=cli_env)).code == 0, result.err
    result = await run_cli("cycle", "create", "--org", "DBCS01", "--year", "2026", "--rulebook",
                           "qd366-2025", "--finish-by", "31/12/2026", "--report-by", "15/01/2027",
                           env=cli_env)
    assert result.code == 0, result.err
    out = tmp_path / "moi.xlsx"
    assert (await run_cli("invite", "--org", "DBCS01", "--out", str(out), env=cli_env)).code == 0
    users = {}
    rows = openpyxl.load_workbook(out).active.iter_rows(min_row=2, values_only=True)
    for code, _name, _cell, link, _ in rows:
        user = fake.user(f"U{code}", language_code="vi")
        await user.send("/start " + link.split("start=")[1])
        await user.collect(quiet=0.2)
        users[code] = user
    stranger = fake.user("Lạ", language_code="vi")
    return Tree(users, stranger)


_LIVE_LINK = re.compile(r"<a\s[^>]*href=[\"']?https://evil\.example", re.I)


def live_evil_links(fake: FakeTelegram) -> list[str]:
    """Every text the bot sent (messages, edits, captions, alerts) that carries a live link
    to evil.example: as a text_link entity after parsing, or as a raw tag in plain text."""
    found = []
    for call in fake.calls:
        p = call.params
        for key in ("text", "caption"):
            value = p.get(key)
            if not isinstance(value, str):
                continue
            if p.get("parse_mode", "").lower() == "html" and _LIVE_LINK.search(value):
                found.append(f"{call.method}: {value[:300]!r}")
    for chat in fake._chats.values():
        for message in chat.bot_messages:
            for entity in message.entities + message.caption_entities:
                if EVIL in (entity.get("url") or ""):
                    found.append(f"#{message.message_id}: {message.text or message.caption!r}")
    return found
