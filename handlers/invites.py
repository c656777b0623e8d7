"""/moi: invite links for the members of an organisation who have not linked an account."""

from __future__ import annotations

import datetime as dt

from telegram import InlineKeyboardButton
from telegram import InlineKeyboardMarkup
from telegram.ext import CallbackQueryHandler
from telegram.ext import CommandHandler

from bot.callbacks import ButtonData
from bot.permissions import Action
from bot.permissions import grants_for
from bot.services.invite_sheet import invites_workbook
from bot.services.invites import create_invites
from bot.services.invites import deep_link
from bot.text import esc
from handlers import scope
from handlers.base import Turn
from handlers.base import turn_handler
from storage.models import Organisation


class InviteButton(ButtonData, prefix="moi"):
    """Which organisation's invite links, when the caller may invite for several."""

    org_id: int


@turn_handler(action=Action.INVITE, target=scope.invite_unit)
async def invite_command(turn: Turn) -> None:
    if turn.target is not None:
        await _send_invites(turn, turn.target)
        return
    roots = grants_for(turn.identity.grants, Action.INVITE)  # several: the caller chooses
    buttons = [
        [InlineKeyboardButton(g.org_code, callback_data=InviteButton(g.org_id).encode())]
        for g in {g.org_id: g for g in roots}.values()
    ]
    await turn.reply(
        turn.t("For which organisation do you want the invite links?"),
        reply_markup=InlineKeyboardMarkup(buttons),
    )


@turn_handler(button=InviteButton, action=Action.INVITE, target=scope.org_from_button)
async def invite_org_chosen(turn: Turn) -> None:
    await turn.answer()
    await _send_invites(turn, turn.target)


async def _send_invites(turn: Turn, org: Organisation) -> None:
    t, services = turn.t, turn.services
    invites = await create_invites(
        turn.session,
        org,
        now=services.now(),
        ttl=dt.timedelta(days=services.settings.invite_ttl_days),
        actor=turn.actor,
    )
    if not invites:
        await turn.reply(
            t("Every member of {org} has already linked their account.", org=esc(org.name))
        )
        return
    lines = [
        t(
            "Invite links for {org}: {count} members have not linked their account. "
            "Each link is personal, works once, and expires on {date}. "
            "Links sent earlier to these members no longer work.",
            org=f"<b>{esc(org.name)}</b>",
            count=t.number(len(invites)),
            date=t.datetime(invites[0].expires_at),
        ),
        "",
    ]
    for invite in invites:
        link = deep_link(services.bot_username, invite.token)
        lines.append(f"• {esc(invite.member.full_name)} ({esc(invite.member.code)}): {link}")
    # The links are secrets stored only as hashes: never in the outbox.
    await turn.reply("\n".join(lines), durable=False)
    sheet = invites_workbook(invites, t, services.bot_username)
    caption, filename = t("The same list as a spreadsheet."), f"moi-{org.code}.xlsx"
    chat_id, bot = turn.chat_id, turn.context.bot
    turn.after_commit(
        lambda: bot.send_document(chat_id, sheet, filename=filename, caption=caption)
    )


HANDLERS = [
    CommandHandler("moi", invite_command),
    CallbackQueryHandler(invite_org_chosen, pattern=InviteButton.pattern()),
]
