"""Issue 10: a flow step that takes typed text declares what it acts on and the permission it
needs (`Step(action=, target=)`); the engine requires it before the step's handler runs, with
the same wording as a command or a button, and a refused step ends its flow."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy import select

from storage.models import Meeting
from storage.models import Member
from storage.models import Role
from tests.e2e.reviewkit import local
from tests.e2e.reviewkit import planned_cell
from tests.e2e.test_status_tree import query

NOT_EXPECTED = "Tôi chưa hiểu tin nhắn này. Gửi /help để xem những việc đồng chí có thể làm."


async def test_a_typed_step_is_refused_once_the_role_is_gone(
    tmp_path, cli_env, bot, fake_telegram, database_url, clock
):
    clock.current = local(2026, 11, 21, 10, 0)
    users = await planned_cell(tmp_path, cli_env, fake_telegram)
    an = users["DV001"]  # the secretary of CB01
    await an.send("/lich_hop")
    calendar = await an.wait_message()
    assert calendar.buttons  # the calendar waits for a day pressed or a date typed

    async def drop_roles(session):  # as a roster import that names another secretary would
        member = await session.scalar(select(Member.id).where(Member.code == "DV001"))
        await session.execute(delete(Role).where(Role.member_id == member))
        await session.commit()

    await query(database_url, drop_roles)
    await an.send("05/12/2026 08:00")
    refused = await an.wait_message()
    assert refused.text == "Đồng chí không có quyền thực hiện việc này đối với Chi bộ Khu phố 1."
    await bot.idle()
    assert not calendar.buttons  # the flow ended: its prompt lost its buttons
    await an.send("06/12/2026 08:00")
    assert (await an.wait_message()).text == NOT_EXPECTED
    meetings = await query(database_url, lambda s: s.scalar(select(Meeting.id).limit(1)))
    assert meetings is None  # nothing was saved
    assert not fake_telegram.refused
