"""/goi_y CODE text with an organisation's code (issue 14, part A; seed 004 A.4.1.b): the upper
level's written points for a collective's review. Kept with each review of the unit (the
organisation; its committee where rated), shown above part IV of its report; its heads are
told; its meeting then lasts a full day (R-D4). handlers/prompts.py sends a member's code to
the member's path and an organisation's code here."""

from __future__ import annotations

from bot.permissions import Action
from bot.services import orgs
from bot.services import prompts
from bot.services import unit_review as service
from bot.services.unit_review import UnitReviewRefused
from conversations.unit_review import refusal
from handlers.base import Turn
from handlers.base import translator_for
from handlers.scope import speaking_for
from handlers.views import unit_review as views
from storage.models import Organisation


async def prompt_unit(turn: Turn, unit: Organisation, text: str) -> None:
    """Send `text` to the collective of `unit` (the right to, strictly above the unit, is
    declared by the command's target: handlers/scope.prompted)."""
    # The sender speaks for the nearest organisation strictly above the unit where a role
    # allows it: a unit does not send points to itself.
    above = await orgs.organisation(turn.session, unit.parent_id)
    sender = await orgs.organisation(
        turn.session, speaking_for(turn, Action.SEND_PROMPT, above))
    try:
        cycle, subjects = await service.plan_and_subjects(turn.session, unit)
    except UnitReviewRefused as refused:
        raise refusal(turn, refused) from None
    await prompts.add_unit_prompt(turn.session, cycle, unit, [s.value for s in subjects], sender,
                                  text, actor=turn.actor)
    told = 0
    for head in await service.unit_heads(turn.session, unit.id):
        if not head.reachable:
            continue
        ht = translator_for(head.account, turn.services)
        turn.notify(head.account.telegram_id,
                    views.unit_prompt_notice(ht, sender.name, unit.name, cycle.year, text))
        told += 1
    await turn.reply(views.unit_prompt_sent(turn.t, unit.name, unit.code, cycle.year, told))
