"""Issue 6: every command of the bot (read from handlers/commands.py when the test runs, so new
commands are covered) for a plain member, a cell secretary, a deputy and a grassroots committee
member, each inside and outside the place they ask about: allowed or refused as it should be.

"Refused" means one of the authorisation refusals below; anything else (the feature itself,
or a domain answer such as "no decided level yet") means the command got past the check."""

from __future__ import annotations

import asyncio
import re

from bot.i18n import Translator
from handlers.commands import COMMANDS
from tests.e2e.test_status_tree import build_tree

VI = Translator("vi")
REFUSALS = [
    "You do not have permission to do this for {org}.",
    "This is for the secretary or deputy secretary of a cell.",
    "Only the secretary, deputies and committee members can get invite links.",
    "This is for the secretaries, deputies and committee members.",
    "This is for the members of a party committee.",
    # Outside the caller's reach: the same answer as for a code that does not exist.
    "There is no organisation with the code {code} within your reach.",
    "There is no member with the code {code} within your reach.",
    "There is no member or organisation with the code {code} within your reach.",
    "You do not have permission to do this.",
]
REFUSED = [re.compile(re.sub(r"\\\{\w+\\\}", ".+", re.escape(VI(msgid)))) for msgid in REFUSALS]
ERROR = VI("Sorry, something went wrong on my side. Please try again in a moment.")
# A progress message comes first and the answer (a document) after a computation that may be
# quiet for longer than collect() waits (a slow machine, PostgreSQL): wait for the answer.
PREPARING = re.compile(re.sub(r"\\\{\w+\\\}", ".+", re.escape(VI("Preparing the report of {org}…"))))

PERSONAS = {"plain": "DV103", "secretary": "DV101", "deputy": "DV102", "committee": "DV201"}
# The place asked about: inside every persona's reach (CB11, the cell of the first three and a
# cell of the committee member's DBCS1), or outside it (CB21, under another upper committee).
INSIDE, OUTSIDE = {"org": "CB11", "member": "DV104"}, {"org": "CB21", "member": "DV402"}
# Commands about the caller themself: sent once, never refused to a linked member.
SELF = {"start": "", "help": "", "huy": "", "ngon_ngu": "", "kiem_diem": "", "tai_ban_kiem_diem": "",
        "phieu": "", "kiem_tra_phieu": "ABCDE-FGHIJ", "khieu_nai": "", "ket_qua": "",
        "cham_diem": ""}
# Commands about a place: who may use them inside it (outside, nobody may).
SCOPED = {
    "moi": ("org", {"secretary", "deputy", "committee"}),
    "lich_hop": ("org", {"secretary", "deputy"}),
    "kiem_diem_chi_bo": ("org", {"secretary", "deputy", "committee"}),
    "hop": ("org", {"secretary", "deputy"}),
    "bo_phieu": ("org", {"secretary", "deputy"}),
    "tinh_trang": ("org", {"plain", "secretary", "deputy", "committee"}),
    "bieu_do": ("org", {"secretary", "deputy", "committee"}),
    "bao_cao": ("org", {"secretary", "deputy", "committee"}),
    "quyet_dinh": ("org", {"committee"}),  # the deciding level is DBCS1, not the cell
    "xep_loai_lai": ("member", {"committee"}),
    "ke_hoach": ("org", {"secretary", "deputy", "committee"}),
    "tap_the": ("org", {"secretary", "deputy"}),  # the unit's own heads, not the đảng ủy
    # Issue 14 part D: the minutes of a unit, the file of a member (a plain member: their own only).
    "bien_ban": ("org", {"secretary", "deputy", "committee"}),
    "ho_so": ("member", {"secretary", "deputy", "committee"}),
}


def verdict(first, what: str) -> str:
    text = first.text if first.text is not None else (first.caption or "")
    assert ERROR not in text, (what, text)
    return "refused" if any(p.fullmatch(text) for p in REFUSED) else "allowed"


async def walk(user, persona: str, steps: list[tuple[str, str, str]]) -> list[tuple]:
    found = []
    for command, argument, where in steps:
        await user.send(f"/{command} {argument}".strip())
        first = await user.wait_message(timeout=30)
        if first.text is not None and PREPARING.fullmatch(first.text):
            await user.wait_message(timeout=60)
        await user.collect(quiet=0.2, timeout=30)  # the rest of the answer, if any
        found.append((persona, command, where, verdict(first, f"{persona} /{command} {where}")))
    return found


async def test_every_command_for_every_role(bot, fake_telegram, tmp_path, cli_env, database_url, clock):
    tree = await build_tree(tmp_path, cli_env, fake_telegram, database_url, clock(), rounds=False)
    expected, plans = [], {}
    for persona in PERSONAS:
        steps = []
        for spec in COMMANDS:
            if spec.name in SELF:
                steps.append((spec.name, SELF[spec.name], "self"))
                expected.append((persona, spec.name, "self", "allowed"))
                continue
            kind, allowed_inside = SCOPED.get(spec.name, ("org", None))
            for where, place in (("inside", INSIDE), ("outside", OUTSIDE)):
                steps.append((spec.name, place[kind], where))
                if where == "outside":
                    expected.append((persona, spec.name, where, "refused"))
                elif allowed_inside is not None:
                    outcome = "allowed" if persona in allowed_inside else "refused"
                    expected.append((persona, spec.name, where, outcome))
        plans[persona] = steps
    results = await asyncio.gather(*(
        walk(tree.users[PERSONAS[persona]], persona, steps) for persona, steps in plans.items()))
    found = {(p, c, w): v for batch in results for p, c, w, v in batch}
    # A command added later without an entry above is still walked: refused outside, and
    # answered without an error inside.
    wrong = [(p, c, w, want, found[(p, c, w)]) for p, c, w, want in expected if found[(p, c, w)] != want]
    assert not wrong, "\n".join(f"{p} /{c} {w}: expected {want}, got {got}" for p, c, w, want, got in wrong)
    assert {c for _p, c, _w in found} == {spec.name for spec in COMMANDS}
    assert not fake_telegram.refused
