"""/start: deep-link invites, greeting by name, and /help."""

from __future__ import annotations

import math

from telegram import InlineKeyboardButton
from telegram import InlineKeyboardMarkup
from telegram.ext import CallbackQueryHandler
from telegram.ext import CommandHandler

from bot.i18n import N_
from bot.i18n import Translator
from bot.services import orgs
from bot.services.accounts import Identity
from bot.services.accounts import identify
from bot.services.invites import Redeem
from bot.services.invites import redeem
from bot.text import esc
from handlers.base import Refusal
from handlers.base import Turn
from handlers.base import turn_handler
from handlers.commands import COMMANDS
from handlers.commands import Audience
from handlers.commands import help_lines
from handlers.commands import reaches
from storage.models import RoleKind

ROLE_NAMES = {
    RoleKind.SECRETARY: N_("secretary"),
    RoleKind.DEPUTY: N_("deputy secretary"),
    RoleKind.COMMITTEE_MEMBER: N_("committee member"),
    RoleKind.ORGANISING_OFFICE: N_("organising office"),
    # The representatives of the participating bodies (issue 14, part C).
    RoleKind.REP_COUNCIL: N_("representative of the People's Council and Committee"),
    RoleKind.REP_FRONT: N_("representative of the Fatherland Front"),
    RoleKind.REP_MASS_ORGS: N_("representative of the mass organisations"),
    RoleKind.REP_LEADERSHIP: N_("representative of the leadership"),
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


# The greeting fits a phone screen: who you are, the few commands to start with, and a button
# for the full help (issue 10 item 5). First steps per audience, most specific first; at most
# MAX_FIRST_STEPS lines in all.
FIRST_STEPS: tuple[tuple[Audience, tuple[str, ...]], ...] = (
    (Audience.DECIDER, ("quyet_dinh", "tinh_trang")),
    (Audience.CELL_SECRETARY, ("moi", "kiem_diem_chi_bo", "hop", "lich_hop")),
    (Audience.INVITER, ("moi", "ke_hoach", "tinh_trang")),
    (Audience.MEMBER, ("kiem_diem", "tinh_trang")),
)
MAX_FIRST_STEPS = 6
HELP_CALLBACK = "help:all"


def first_steps(t: Translator, identity: Identity) -> list[str]:
    """One short line per command to start with, for the roles the user holds."""
    specs = {spec.name: spec for spec in COMMANDS}
    names: list[str] = []
    for audience, commands in FIRST_STEPS:
        if reaches(audience, identity):
            names += [name for name in commands if name not in names]
    return [f"/{name}: {t(specs[name].description)}" for name in names[:MAX_FIRST_STEPS]]


def help_keyboard(t: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(t("📖 Everything you can do"), callback_data=HELP_CALLBACK)]]
    )


async def greeting(turn: Turn) -> str:
    identity, t = turn.identity, turn.t
    lines = []
    if identity.member is None:
        lines.append(t("Hello! I help party cells run the annual review and quality rating."))
    else:
        org = await orgs.organisation(turn.session, identity.member.org_id)
        lines.append(t("Hello, comrade {name}!", name=f"<b>{esc(identity.member.full_name)}</b>"))
        lines.append(t("You are a member of {org}.", org=esc(org.name if org else "")))
        for grant in identity.grants:
            org_of_role = await orgs.organisation(turn.session, grant.org_id)
            lines.append(
                t(
                    "You are {role} of {org}.",
                    role=t(ROLE_NAMES[grant.role]),
                    org=esc(org_of_role.name if org_of_role else grant.org_code),
                )
            )
    if identity.member is None:
        lines.append("")
        lines.append(
            t(
                "To take part, open the personal invite link your cell secretary sends you. "
                "It links this Telegram account to your name in the cell's roster."
            )
        )
        return "\n".join(lines)
    lines.append("")
    lines.append(t("To start with:"))
    lines += [f"• {line}" for line in first_steps(t, identity)]
    lines.append("")
    lines.append(t("Everything else: /help or the button below."))
    return "\n".join(lines)


@turn_handler()
async def start(turn: Turn) -> None:
    args = turn.context.args or []
    if args:
        await _redeem(turn, args[0])
    await turn.reply(await greeting(turn), reply_markup=help_keyboard(turn.t))


async def _redeem(turn: Turn, token: str) -> None:
    t = turn.t
    result = await redeem(turn.session, turn.account, token, now=turn.services.now())
    match result.outcome:
        case Redeem.LINKED | Redeem.ALREADY_YOURS:
            turn.identity = await identify(turn.session, turn.account)  # autoflush: the link
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


def help_text(turn: Turn) -> str:
    t = turn.t
    lines = [t("What you can do:")] + [f"• {line}" for line in help_lines(t, turn.identity)]
    if not turn.identity.is_member:
        lines += [
            "",
            t("Your account is not linked yet: open the invite link from your cell secretary."),
        ]
    return "\n".join(lines)


@turn_handler()
async def help_command(turn: Turn) -> None:
    await turn.reply(help_text(turn))


@turn_handler()
async def help_pressed(turn: Turn) -> None:
    """The greeting's help button: the full help, once (the button goes)."""
    await turn.answer()
    await turn.edit_keyboard(None)
    await turn.reply(help_text(turn))


HANDLERS = [
    CommandHandler("start", start),
    CommandHandler("help", help_command),
    CallbackQueryHandler(help_pressed, pattern=f"^{HELP_CALLBACK}$"),
]
