"""/ke_hoach: an upper committee member sets the year's plan of their subtree; a lower unit
sets earlier deadlines for itself (R-D5). The edge only: the flow is conversations/plan.py,
the screens handlers/views/plan.py, the database work bot/services/plans.py."""

from __future__ import annotations

from telegram.ext import CommandHandler

from bot.permissions import Action
from conversations import engine as flows
from conversations import plan as flow
from handlers import scope
from handlers.base import Turn
from handlers.base import turn_handler
from handlers.views.plan import PlanButton


@turn_handler(action=Action.SET_PLAN, target=scope.plan_unit)
async def plan_command(turn: Turn) -> None:
    await flow.start(turn, turn.target)


HANDLERS = [
    CommandHandler("ke_hoach", plan_command),
    flows.press_handler(
        PlanButton,
        flow.pressed,
        action=Action.SET_PLAN,
        target=flows.from_payload(flow.PLAN_FLOW, scope.plan_draft_unit),
    ),
]
