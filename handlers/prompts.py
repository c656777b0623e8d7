"""/goi_y CODE text: an upper level's written points for a member's self-review (gợi ý kiểm
điểm), in one message; the member is told, and the points appear in part IV of their form and
of its Word file. An organisation's code sends them to its collective
(handlers/unit_review_prompt.py)."""

from __future__ import annotations

from telegram.ext import CommandHandler

from bot.i18n import N_
from bot.permissions import Action
from bot.services import orgs
from bot.services.cycles import cycle_for_org
from bot.services.decision import reachable_account
from bot.services.prompts import PROMPT_MAX
from bot.services.prompts import add_prompt
from bot.text import esc
from handlers import scope
from handlers.base import Refusal
from handlers.base import Turn
from handlers.base import translator_for
from handlers.base import turn_handler
from handlers.unit_review_prompt import prompt_unit
from handlers.views.frameworks import PROMPT_USAGE
from storage.models import Organisation


@turn_handler(action=Action.SEND_PROMPT, target=scope.prompted)
async def prompt_command(turn: Turn) -> None:
    parts = (turn.update.effective_message.text or "").split(maxsplit=2)
    found = await scope.member_or_unit(turn, parts[1])
    text = parts[2].strip() if len(parts) > 2 else ""
    if not text:
        raise Refusal(PROMPT_USAGE)
    if len(text) > PROMPT_MAX:
        raise Refusal("The points are {length} characters long; at most {max} in one message.",
                      length=turn.t.number(len(text)), max=turn.t.number(PROMPT_MAX))
    if isinstance(found, Organisation):  # issue 14, part A: points for a collective
        await prompt_unit(turn, found, text)
        return
    member, cell = found, turn.target
    cycle = await cycle_for_org(turn.session, cell)
    if cycle is None:
        raise Refusal("There is no plan for {org} yet: open the year's plan first (/ke_hoach).",
                      org=esc(cell.name))
    # The sender speaks for the nearest organisation above the cell where their role allows it.
    org = await orgs.organisation(turn.session, scope.speaking_for(turn, Action.SEND_PROMPT, cell))
    await add_prompt(turn.session, cycle, member, org, text, actor=turn.actor)
    t = turn.t
    account = await reachable_account(turn.session, member.id)
    if account is not None:
        mt = translator_for(account, turn.services)
        turn.notify(
            account.telegram_id,
            mt(N_("{org} suggests points for your self-review of {year}; answer them in part IV "
                  "(/kiem_diem):"), org=f"<b>{esc(org.name)}</b>", year=cycle.year)
            + "\n\n" + esc(text),
            unreachable=t("{name} could not be reached on Telegram; the points are kept and "
                          "shown in their self-review.", name=esc(member.full_name)),
        )
        await turn.reply(t("Sent to {name} ({code}): the points appear in part IV of their "
                           "self-review of {year}.", name=esc(member.full_name),
                           code=esc(member.code), year=cycle.year))
        return
    await turn.reply(t("Recorded for {name} ({code}), who has not linked a Telegram account yet: "
                       "the points appear in part IV of their self-review of {year}.",
                       name=esc(member.full_name), code=esc(member.code), year=cycle.year))


HANDLERS = [CommandHandler("goi_y", prompt_command)]
