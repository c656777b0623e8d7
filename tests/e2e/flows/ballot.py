"""Drivers: the meeting's attendance and counting committee, closing a ballot round."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import BallotRound
from storage.models import Meeting
from storage.models import MeetingAttendance
from tests.e2e.flows import Reached
from tests.e2e.flows import World
from tests.e2e.flows import answer_of
from tests.e2e.flows import ask
from tests.e2e.test_status_tree import query

COMMITTEE = "🧮 Ban kiểm phiếu"
CLOSE = "🔒 Kết thúc vòng bỏ phiếu"


def _meeting(world: World):
    cell_id = world.tree.org_ids["CB11"]

    async def snapshot():
        meetings = await world.rows(Meeting, Meeting.org_id == cell_id)
        ids = [row[0] for row in meetings]
        present = await world.rows(MeetingAttendance, MeetingAttendance.meeting_id.in_(ids),
                                   order_by=MeetingAttendance.member_id)
        return meetings, present

    return snapshot


def _rounds(world: World):
    cell_id = world.tree.org_ids["CB11"]

    async def snapshot():
        async def run(session):
            rows = await session.execute(
                select(BallotRound.id, BallotRound.state, BallotRound.ended_at,
                       BallotRound.closed_at)
                .join(Meeting, Meeting.id == BallotRound.meeting_id)
                .where(Meeting.org_id == cell_id)
                .order_by(BallotRound.id)
            )
            return [tuple(row) for row in rows]

        return await query(world.database_url, run)

    return snapshot


async def attendance(world: World) -> Reached:
    an = world.user("DV101")  # the secretary of CB11, whose meeting was held
    prompt = await ask(an, "/hop")
    return Reached(an, prompt, _meeting(world))


async def committee(world: World) -> Reached:
    an = world.user("DV101")
    meeting = await ask(an, "/hop")
    an._msg_cursor[an.chat_id] = len(an._fake._chats[an.chat_id].bot_messages)
    await an.wait_answer(await an.press(COMMITTEE, message=meeting))
    await an.wait_edit(meeting)
    return Reached(an, meeting, _meeting(world))


async def close_confirm(world: World) -> Reached:
    an = world.user("DV101")  # CB11's round 2 is open
    progress = await ask(an, "/bo_phieu")
    prompt = await answer_of(an, CLOSE, progress)
    assert "không thể hoàn tác" in prompt.text, prompt.text
    return Reached(an, prompt, _rounds(world))


DRIVERS = {
    ("meeting", "attendance"): attendance,
    ("meeting", "committee"): committee,
    ("round_close", "confirm"): close_confirm,
}
