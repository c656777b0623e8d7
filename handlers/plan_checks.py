"""Checks after the ballot (DOMAIN §5): the secretary hears of every breach at once, and may
lower a proposal with a reason (the flow is in conversations/plan.py).

``breaches_owed(session, services, round_id)`` runs in the transaction that opens a round's
box (called from handlers/ballot.py, which records what it returns in the outbox with the
results): the cell's proposals are checked (caps on each member, the quota in the
cell alone and in its grassroots đảng bộ, R-Q5) and the secretary who ran the ballot (or the
cell's secretary) gets the breaches with the rule, the figures and the names, and a button per
member concerned. The upper committee hears of breaches that stand from the deadline monitor
(bot/jobs.py).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery import Owed
from bot.permissions import Action
from bot.services import Services
from bot.services import checks
from conversations import engine as flows
from conversations import plan as flow
from handlers import scope
from handlers.base import translator_for
from handlers.views import plan as views
from handlers.views.plan import LowerButton
from storage.models import Meeting

LOWER_FLOW = flow.LOWER_FLOW


async def members_to_revote(session: AsyncSession, meeting: Meeting) -> list[int]:
    """The cell's members concerned by its standing breaches, not yet decided (for the ballot)."""
    return await checks.members_to_revote(session, meeting)


async def breaches_owed(session: AsyncSession, services: Services, round_id: int) -> list[Owed]:
    """What the proposals of a closed round break, owed to the secretary: recorded by the
    caller in the transaction that closed the round, so a crash loses nothing."""
    found = await checks.breach_announcement(session, round_id)
    owed = []
    for reader in found.readers if found is not None else ():
        t = translator_for(reader.account, services)
        text = views.breaches_text(t, found.cell.name, reader.breaches)
        markup = views.lower_keyboard(t, reader.lowerable, flow.revote_data(found.meeting.id))
        owed.append(Owed.message(reader.account.telegram_id, text, markup))
    return owed


HANDLERS = [
    flows.press_handler(
        LowerButton,
        flow.lower_pressed,
        action=Action.LOWER_PROPOSAL,
        target=scope.lowered_member_cell,
    )
]
