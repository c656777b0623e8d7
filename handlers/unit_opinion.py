"""/y_kien: a participating body's opinion on the rating of an organisation (issue 14, part C;
seed 004 B.1.4 step 2). The edge only: the flow is conversations/unit_opinion.py, the screens
handlers/views/unit_opinion.py, the database work bot/services/unit_opinion.py. Who may speak
for which body on which unit is the policy table's (``bot.permissions.speaks_for``), checked on
every answer."""

from __future__ import annotations

from telegram.ext import CommandHandler

from conversations import engine as flows
from conversations import unit_opinion as flow
from handlers.base import Turn
from handlers.base import turn_handler
from handlers.views.unit_opinion import OpinionButton


@turn_handler()
async def opinion_command(turn: Turn) -> None:
    args = turn.context.args or []
    await flow.start(turn, args[0] if args else None)


HANDLERS = [
    CommandHandler("y_kien", opinion_command),
    flows.press_handler(OpinionButton, flow.pressed),
]
