"""/goi_y CODE text with an organisation's code (issue 14, part A; seed 004 A.4.1.b): the upper
level's written points for a collective's review. Kept with each review of the unit (the
organisation; its committee where rated), shown above part IV of its report; its heads are
told; its meeting then lasts a full day (R-D4). handlers/prompts.py sends a member's code to
the member's path and an organisation's code here."""

from __future__ import annotations

from bot.i18n import N_
from bot.permissions import POLICY, Action, in_subtree
from bot.services import orgs, prompts
from bot.services import unit_review as service
from bot.services.unit_review import UnitReviewRefused
from bot.text import esc
from conversations.unit_review import refusal
from handlers.base import Refusal, Turn, translator_for
from handlers.scope import can_see
from handlers.views import unit_review as views
from storage.models import Member, Organisation
from storage.queries import org_by_code

NO_SUCH_CODE = N_("There is no member or organisation with the code {code} within your reach.")
NOT_ABOVE = N_(
    "Points for review come from the upper level: you hold no role above {org} to send them."
)


async def member_or_unit(turn: Turn, code: str) -> Member | Organisation:
    """The member with this code if the caller may see their cell, else the organisation with
    it if the caller may see it; refused the same way when neither (exists or is in reach)."""
    member = await orgs.member_with_code(turn.session, code)
    if member is not None:
        cell = await orgs.organisation(turn.session, member.org_id)
        if cell is not None and can_see(turn, cell):
            return member
    org = await org_by_code(turn.session, code)
    if org is not None and can_see(turn, org):
        return org
    raise Refusal(NO_SUCH_CODE, code=esc(code))


async def prompt_unit(turn: Turn, unit: Organisation, text: str) -> None:
    """Send `text` to the collective of `unit` (the caller's right is checked here)."""
    turn.require(Action.SEND_PROMPT, unit)
    # The sender speaks for the nearest organisation strictly above the unit where a role
    # allows it: a unit does not send points to itself.
    grants = [g for g in turn.identity.grants
              if g.role in POLICY[Action.SEND_PROMPT] and in_subtree(g.org_path, unit.path)
              and g.org_path != unit.path]
    if not grants:
        raise Refusal(NOT_ABOVE, org=esc(unit.name))
    sender = await orgs.organisation(turn.session, max(grants, key=lambda g: len(g.org_path)).org_id)
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
