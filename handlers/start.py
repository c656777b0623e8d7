"""/start: deep-link invites, greeting by name, and /help."""

from __future__ import annotations

import math

from telegram.ext import CommandHandler

from bot.i18n import N_
from bot.services.accounts import identify
from bot.services.invites import Redeem, redeem
from bot.text import esc
from handlers.base import Refusal, Turn, turn_handler
from handlers.commands import help_lines
from storage.models import Organisation, RoleKind

ROLE_NAMES = {
    RoleKind.SECRETARY: N_("secretary"),
    RoleKind.DEPUTY: N_("deputy secretary"),
    RoleKind.COMMITTEE_MEMBER: N_("committee member"),
    RoleKind.ORGANISING_OFFICE: N_("organising office"),
}

REDEEM_REFUSALS = {
    Redeem.UNKNOWN: N_(
        "This invite link is not valid. Please check that you opened the whole link, "
        "or ask your cell secretary for a new one."
    ),
    Redeem.EXPIRED: N_(
        "This invite link has expired. Please ask your cell secretary for a new one."
    ),
    Redeem.USED: N_(
        "This invite link has already been used. Each link works once; "
        "if it was not you who used it, tell your cell secretary at once."
    ),
    Redeem.REVOKED: N_(
        "This invite link was replaced by a newer one. Please use the latest link your cell "
        "secretary sent you."
    ),
}


async def greeting(turn: Turn) -> str:
    identity, t = turn.identity, turn.t
    lines = []
    if identity.member is None:
        lines.append(t("Hello! I help party cells run the annual review and quality rating."))
    else:
        org = await turn.session.get(Organisation, identity.member.org_id)
        lines.append(t("Hello, comrade {name}!", name=f"<b>{esc(identity.member.full_name)}</b>"))
        lines.append(t("You are a member of {org}.", org=esc(org.name if org else "")))
        for grant in identity.grants:
            org_of_role = await turn.session.get(Organisation, grant.org_id)
            lines.append(
                t(
                    "You are {role} of {org}.",
                    role=t(ROLE_NAMES[grant.role]),
                    org=esc(org_of_role.name if org_of_role else grant.org_code),
                )
            )
    lines.append("")
    lines.append(t("What you can do:"))
    lines += [f"• {line}" for line in help_lines(t, identity)]
    if identity.member is None:
        lines.append("")
        lines.append(
            t(
                "To take part, open the personal invite link your cell secretary sends you. "
                "It links this Telegram account to your name in the cell's roster."
            )
        )
    return "\n".join(lines)


@turn_handler()
async def start(turn: Turn) -> None:
    args = turn.context.args or []
    if args:
        await _redeem(turn, args[0])
    await turn.reply(await greeting(turn))


async def _redeem(turn: Turn, token: str) -> None:
    t = turn.t
    result = await redeem(turn.session, turn.account, token, now=turn.services.now())
    match result.outcome:
        case Redeem.LINKED | Redeem.ALREADY_YOURS:
            await turn.session.flush()
            turn.identity = await identify(turn.session, turn.account)
        case Redeem.SLOWED_DOWN:
            assert result.wait is not None
            raise Refusal(
                "Too many wrong invite links. Please wait {seconds} seconds and try again.",
                seconds=t.number(math.ceil(result.wait.total_seconds())),
            )
        case Redeem.ACCOUNT_LINKED_ELSEWHERE:
            raise Refusal(
                "This Telegram account is already linked to {name}. One account can belong to "
                "one member only; if this is a mistake, tell your cell secretary.",
                name=esc(result.member.full_name if result.member else ""),
            )
        case Redeem.MEMBER_LINKED_ELSEWHERE:
            raise Refusal(
                "This invite is for {name}, who is already linked to another Telegram account. "
                "If that is a mistake, tell your cell secretary.",
                name=esc(result.member.full_name if result.member else ""),
            )
        case _:
            raise Refusal(REDEEM_REFUSALS[result.outcome])


@turn_handler()
async def help_command(turn: Turn) -> None:
    t = turn.t
    lines = [t("What you can do:")] + [f"• {line}" for line in help_lines(t, turn.identity)]
    if not turn.identity.is_member:
        lines += [
            "",
            t("Your account is not linked yet: open the invite link from your cell secretary."),
        ]
    await turn.reply("\n".join(lines))


HANDLERS = [
    CommandHandler("start", start),
    CommandHandler("help", help_command),
]
