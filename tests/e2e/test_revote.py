"""Issue 5 / R-Q6: a cell whose proposals break a rule votes again on just the members concerned."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import select

from storage.models import Cycle
from storage.models import Member
from storage.models import Rating
from storage.models import RatingState
from tests.e2e.orderkit import collectives_reviewed
from tests.e2e.test_ballot import newest
from tests.e2e.test_ballot import open_meeting
from tests.e2e.test_ballot import press
from tests.e2e.test_ballot import unseal_with
from tests.e2e.test_ballot import until
from tests.e2e.test_ballot import vote
from tests.e2e.test_plan_kit import build_tree
from tests.e2e.test_plan_kit import query

REVOTE = "🗳 Bỏ phiếu lại cho các đồng chí liên quan"
CELL = ("DV01", "DV02", "DV03", "DV04", "DV05")


async def _proposals(database_url):
    async def run(session):
        rows = await session.execute(
            select(Member.full_name, Rating.proposed_level)
            .join(Rating, Rating.member_id == Member.id)
            .where(Rating.state != RatingState.CANCELLED)
        )
        return dict(rows.all())

    return await query(database_url, run)


async def test_vote_again_on_the_members_concerned(bot, fake_telegram, database_url):
    tree = await build_tree(database_url, fake_telegram)

    async def plan(session):
        session.add(Cycle(org_id=tree.org_ids["UP01"], year=2026, rulebook="hd21-2019",
                          finish_by=dt.date(2026, 12, 31), report_by=dt.date(2027, 1, 15)))

    await query(database_url, plan)
    await collectives_reviewed(database_url)  # R-D3: the collectives before the members
    users, an = tree.users, tree.users["DV01"]
    await open_meeting(an)
    await an.send("/bo_phieu")
    await until(lambda: all(any("Phiếu bầu kín" in (m.text or "") for m in users[c].messages()) for c in CELL))
    first = {"Nguyễn Văn An": "X", "Trần Thị Bình": "X", "Lê Văn Cường": "T", "Phạm Thị Dung": "T",
             "Hoàng Văn Em": "T"}
    await asyncio.gather(*(vote(users[c], first) for c in CELL))
    await fake_telegram.wait_idle()
    await unseal_with([users[c] for c in CELL])
    await fake_telegram.wait_idle()
    warning = newest(an, "vi phạm quy định")
    assert REVOTE in warning.button_labels()
    ballots_before = {c: len([m for m in users[c].messages() if "Phiếu bầu kín" in (m.text or "")]) for c in CELL}

    await press(an, REVOTE, warning)
    # Each voter gets a new ballot with only the three members named by the breaches.
    await until(lambda: all(
        len([m for m in users[c].messages() if "Phiếu bầu kín" in (m.text or "")]) > ballots_before[c]
        for c in CELL))
    await fake_telegram.wait_idle()
    # The round the warning asked for is open: its button is gone; lowering stays possible.
    assert REVOTE not in warning.button_labels()
    assert any(label.startswith("⬇ Hạ mức") for label in warning.button_labels())
    second = {"Nguyễn Văn An": "X", "Trần Thị Bình": "T", "Lê Văn Cường": "H"}
    await asyncio.gather(*(vote(users[c], second) for c in CELL))
    await fake_telegram.wait_idle()
    await unseal_with([users[c] for c in CELL])
    await fake_telegram.wait_idle()
    assert await _proposals(database_url) == {
        "Nguyễn Văn An": "HTXS", "Trần Thị Bình": "HTT", "Lê Văn Cường": "HT",
        "Phạm Thị Dung": "HTT", "Hoàng Văn Em": "HTT",
    }
