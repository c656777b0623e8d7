"""The bot's commands: one list feeds setMyCommands, /help and the greeting."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from bot.i18n import N_, Translator
from bot.permissions import Action, grants_for
from bot.services.accounts import Identity
from handlers import ballot_texts, status_texts
from handlers.views import plan as plan_texts
from storage.models import RoleKind


class Audience(enum.Enum):
    EVERYONE = "everyone"
    MEMBER = "member"  # a linked party member
    INVITER = "inviter"  # secretary, deputy, committee member or organising office
    CELL_SECRETARY = "cell_secretary"  # secretary or deputy of a chi bộ
    DECIDER = "decider"  # holds a deciding role on a grassroots committee or grassroots cell


@dataclass(frozen=True)
class CommandSpec:
    name: str
    description: str  # msgid, short: shown in Telegram's command menu
    help: str  # msgid, one line in /help
    audience: Audience


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        "start",
        N_("Start, or link your account with an invite"),
        N_("/start: link your account with your personal invite link, or see this greeting again"),
        Audience.EVERYONE,
    ),
    CommandSpec(
        "help",
        N_("What I can do for you"),
        N_("/help: what you can do here"),
        Audience.EVERYONE,
    ),
    CommandSpec(
        "ngon_ngu",
        N_("Change language"),
        N_("/ngon_ngu: switch between Vietnamese and English"),
        Audience.EVERYONE,
    ),
    CommandSpec(
        "kiem_diem",
        N_("Write your self-review"),
        N_("/kiem_diem: write your self-review part by part, check it and submit it"),
        Audience.MEMBER,
    ),
    CommandSpec(
        "tai_ban_kiem_diem",
        N_("Your self-review as a Word file"),
        N_("/tai_ban_kiem_diem: get your self-review as a Word file laid out like the official form"),
        Audience.MEMBER,
    ),
    CommandSpec(
        "lich_hop",
        N_("Set the cell meeting date"),
        N_("/lich_hop: set the date and time of the cell's review meeting"),
        Audience.CELL_SECRETARY,
    ),
    CommandSpec(
        "kiem_diem_chi_bo",
        N_("The cell's self-reviews"),
        N_(
            "/kiem_diem_chi_bo [code]: who has submitted, who is late or looks copied; "
            "read, return for revision, or download them as Word files"
        ),
        Audience.CELL_SECRETARY,
    ),
    CommandSpec(
        "moi",
        N_("Invite links for members"),
        N_(
            "/moi [code]: personal invite links for the members of your organisation "
            "(or of a unit under it, by its code) who have not linked their account yet"
        ),
        Audience.INVITER,
    ),
    # The secret ballot: msgids in the "ballot" gettext domain (handlers/ballot_texts.py).
    CommandSpec("hop", *ballot_texts.HOP, Audience.CELL_SECRETARY),
    CommandSpec("bo_phieu", *ballot_texts.BO_PHIEU, Audience.CELL_SECRETARY),
    CommandSpec("phieu", *ballot_texts.PHIEU, Audience.MEMBER),
    CommandSpec("kiem_tra_phieu", *ballot_texts.KIEM_TRA_PHIEU, Audience.MEMBER),
    # Status, decisions, appeals: msgids in the "status" domain (handlers/status_texts.py).
    CommandSpec("tinh_trang", *status_texts.TINH_TRANG, Audience.MEMBER),
    CommandSpec("bieu_do", *status_texts.BIEU_DO, Audience.INVITER),
    CommandSpec("bao_cao", *status_texts.BAO_CAO, Audience.INVITER),
    CommandSpec("quyet_dinh", *status_texts.QUYET_DINH, Audience.DECIDER),
    CommandSpec("xep_loai_lai", *status_texts.XEP_LOAI_LAI, Audience.DECIDER),
    CommandSpec("khieu_nai", *status_texts.KHIEU_NAI, Audience.MEMBER),
    CommandSpec("ket_qua", *status_texts.KET_QUA, Audience.MEMBER),
    # Plans (issue 5): msgids in the "plans" domain (handlers/views/plan.py).
    CommandSpec("ke_hoach", *plan_texts.KE_HOACH, Audience.INVITER),
)

# Things done without a command, listed in /help for whom they concern.
CELL_SECRETARY_TIPS = (
    N_(
        "Send me the roster spreadsheet (.xlsx) of your cell to add or update its members: "
        "I show what would change and apply it only when you confirm"
    ),
)


def reaches(audience: Audience, identity: Identity) -> bool:
    match audience:
        case Audience.EVERYONE:
            return True
        case Audience.MEMBER:
            return identity.is_member
        case Audience.INVITER:
            return identity.is_manager
        case Audience.CELL_SECRETARY:
            return identity.holds_on_cell(RoleKind.SECRETARY, RoleKind.DEPUTY)
        case Audience.DECIDER:
            return any(g.org_decides for g in grants_for(identity.grants, Action.DECIDE))


def help_lines(t: Translator, identity: Identity) -> list[str]:
    lines = [t(spec.help) for spec in COMMANDS if reaches(spec.audience, identity)]
    if reaches(Audience.CELL_SECRETARY, identity):
        lines += [t(tip) for tip in CELL_SECRETARY_TIPS]
    return lines
