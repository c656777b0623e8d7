"""The bot's commands, declared once: each says who it reaches, and that one declaration feeds
/help, the greeting, the default menu and every person's own menu (bot/services/menus.py).

Who a role-bound command reaches comes from the policy table (bot/permissions.py): a command
names the action it performs, and reaches whoever holds a role that allows that action (on a
cell, or on a deciding level, where the command is about one)."""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass

from bot.i18n import LOCALES
from bot.i18n import N_
from bot.i18n import Translator
from bot.permissions import POLICY
from bot.permissions import Action
from bot.permissions import grants_for
from bot.services.accounts import Identity
from handlers.views import ballot as ballot_texts
from handlers.views import dossier as dossier_texts
from handlers.views import frameworks as framework_texts
from handlers.views import minutes as minutes_texts
from handlers.views import plan as plan_texts
from handlers.views import status as status_texts
from handlers.views import unit_opinion as opinion_texts
from handlers.views import unit_review as unit_review_texts
from handlers.views import unit_scoring as unit_scoring_texts


class Audience(enum.Enum):
    EVERYONE = "everyone"  # whoever writes to the bot, linked or not
    MEMBER = "member"  # a linked party member
    ROLE = "role"  # a role that allows the command's action, on any organisation
    CELL_ROLE = "cell_role"  # such a role held on a cell (chi bộ)
    DECIDING_ROLE = "deciding_role"  # such a role held on a deciding level (DOMAIN §1 step 6)
    COMMITTEE_ROLE = "committee_role"  # such a role held above the cells (a đảng ủy, a đảng bộ)
    UNIT_ROLE = "unit_role"  # such a role held on a rated unit (its collective's report)
    # The same audiences by whom they are without an action of their own (see TYPICAL).
    INVITER = "role"  # secretary, deputy, committee member or organising office
    CELL_SECRETARY = "cell_role"  # secretary or deputy of a chi bộ
    DECIDER = "deciding_role"  # a deciding role on a grassroots committee or grassroots cell


# The action that stands for a role-bound audience when no command names one.
TYPICAL = {
    Audience.ROLE: Action.INVITE,
    Audience.CELL_ROLE: Action.RUN_MEETING,
    Audience.DECIDING_ROLE: Action.DECIDE,
}


@dataclass(frozen=True)
class CommandSpec:
    name: str
    description: str  # msgid, short: shown in Telegram's command menu
    help: str  # msgid, one line in /help
    audience: Audience
    # The permission a role-bound audience needs (its TYPICAL action if none is named).
    action: Action | None = None

    def __post_init__(self) -> None:
        if self.action is not None and self.audience in (Audience.EVERYONE, Audience.MEMBER):
            raise ValueError(f"/{self.name}: only a role-bound command names an action")


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
        "huy",
        N_("Stop what you are doing"),
        N_("/huy: stop what you are doing (a form, a reason, a choice); what you saved is kept"),
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
        Audience.CELL_ROLE,
        Action.SCHEDULE_MEETING,
    ),
    CommandSpec(
        "kiem_diem_chi_bo",
        N_("The cell's self-reviews"),
        N_(
            "/kiem_diem_chi_bo [code]: who has submitted, who is late or looks copied; "
            "read, return for revision, or download them as Word files"
        ),
        Audience.CELL_ROLE,
        Action.READ_REVIEWS,
    ),
    CommandSpec(
        "moi",
        N_("Invite links for members"),
        N_(
            "/moi [code]: personal invite links for the members of your organisation "
            "(or of a unit under it, by its code) who have not linked their account yet"
        ),
        Audience.ROLE,
        Action.INVITE,
    ),
    # The secret ballot: msgids in the "ballot" gettext domain (handlers/views/ballot.py).
    CommandSpec("hop", *ballot_texts.HOP, Audience.CELL_ROLE, Action.RUN_MEETING),
    CommandSpec("bo_phieu", *ballot_texts.BO_PHIEU, Audience.CELL_ROLE, Action.RUN_BALLOT),
    CommandSpec("phieu", *ballot_texts.PHIEU, Audience.MEMBER),
    CommandSpec("kiem_tra_phieu", *ballot_texts.KIEM_TRA_PHIEU, Audience.MEMBER),
    # Status, decisions, appeals: msgids in the "status" domain (handlers/views/status.py).
    CommandSpec("tinh_trang", *status_texts.TINH_TRANG, Audience.MEMBER),
    CommandSpec("bieu_do", *status_texts.BIEU_DO, Audience.ROLE, Action.VIEW_STATUS),
    CommandSpec("bao_cao", *status_texts.BAO_CAO, Audience.ROLE, Action.VIEW_STATUS),
    CommandSpec(
        "quyet_dinh", *status_texts.QUYET_DINH, Audience.DECIDING_ROLE, Action.DECIDE
    ),
    CommandSpec(
        "xep_loai_lai", *status_texts.XEP_LOAI_LAI, Audience.DECIDING_ROLE, Action.DECIDE
    ),
    CommandSpec("khieu_nai", *status_texts.KHIEU_NAI, Audience.MEMBER),
    CommandSpec("ket_qua", *status_texts.KET_QUA, Audience.MEMBER),
    # Plans (issue 5): msgids in the "plans" domain (handlers/plan_texts.py).
    CommandSpec("ke_hoach", *plan_texts.KE_HOACH, Audience.ROLE, Action.SET_PLAN),
    # Criteria frameworks (issue 14): msgids in the "frameworks" domain.
    # Loading a framework and sending review prompts are the upper level's (never a cell's).
    CommandSpec(
        "mau_khung", *framework_texts.MAU_KHUNG, Audience.COMMITTEE_ROLE, Action.LOAD_FRAMEWORK
    ),
    CommandSpec(
        "khung_tieu_chi",
        *framework_texts.KHUNG_TIEU_CHI,
        Audience.COMMITTEE_ROLE,
        Action.LOAD_FRAMEWORK,
    ),
    CommandSpec("goi_y", *framework_texts.GOI_Y, Audience.COMMITTEE_ROLE, Action.SEND_PROMPT),
    # Issue 14, part A: the collective's report and draft score sheet, comments on the draft;
    # msgids in the "unit_prep" domain (handlers/views/unit_review.py).
    CommandSpec(
        "tap_the", *unit_review_texts.TAP_THE, Audience.UNIT_ROLE, Action.PREPARE_UNIT_REPORT
    ),
    CommandSpec("gop_y", *unit_review_texts.GOP_Y, Audience.MEMBER),
    # Issue 14 part B (the meeting's order, members' scores, the unit's vote): msgids in the
    # "unit_meeting" domain (handlers/views/unit_scoring.py).
    CommandSpec("cham_diem", *unit_scoring_texts.CHAM_DIEM, Audience.MEMBER),
    # Issue 14, part C: participants' opinions (msgids in the "unit_decision" domain); the
    # representatives of the participating bodies reach this command and no other of a role.
    CommandSpec("y_kien", *opinion_texts.Y_KIEN, Audience.ROLE, Action.GIVE_OPINION),
    # Issue 14 part D, the minutes and the files: msgids in the "unit_files" domain.
    CommandSpec("bien_ban", *minutes_texts.BIEN_BAN, Audience.ROLE, Action.VIEW_FILES),
    CommandSpec("ho_so", *dossier_texts.HO_SO, Audience.MEMBER),
)


@dataclass(frozen=True)
class Tip:
    """Something done without a command, listed in /help for whom it concerns."""

    text: str  # msgid
    audience: Audience
    action: Action | None = None


TIPS = (
    Tip(
        N_(
            "Send me the roster spreadsheet (.xlsx) of your cell to add or update its members: "
            "I show what would change and apply it only when you confirm"
        ),
        Audience.CELL_ROLE,
        Action.IMPORT_ROSTER,
    ),
)


def reaches(audience: Audience, identity: Identity, action: Action | None = None) -> bool:
    """Whether `identity` is in the audience: for a role-bound one, holds a role that allows
    `action` (the audience's typical action if none is given) where the audience says."""
    match audience:
        case Audience.EVERYONE:
            return True
        case Audience.MEMBER:
            return identity.is_member
    grants = grants_for(identity.grants, action or TYPICAL[audience])
    match audience:
        case Audience.CELL_ROLE:
            return any(g.org_is_cell for g in grants)
        case Audience.DECIDING_ROLE:
            return any(g.org_decides for g in grants)
        case Audience.COMMITTEE_ROLE:
            return any(not g.org_is_cell for g in grants)
        case Audience.UNIT_ROLE:
            return any(g.org_rated for g in grants)
    return bool(grants)


def commands_for(identity: Identity) -> list[CommandSpec]:
    """The commands this person may use, in the declared order."""
    return [spec for spec in COMMANDS if reaches(spec.audience, identity, spec.action)]


def help_lines(t: Translator, identity: Identity) -> list[str]:
    lines = [t(spec.help) for spec in commands_for(identity)]
    lines += [t(tip.text) for tip in TIPS if reaches(tip.audience, identity, tip.action)]
    return lines


def menu(t: Translator, identity: Identity) -> list[tuple[str, str]]:
    """(command, description) pairs of this person's Telegram menu, in their language."""
    return [(spec.name, t(spec.description)) for spec in commands_for(identity)]


def declaration_digest() -> str:
    """A digest of everything a menu is made of: the commands, whom they reach, the policy
    behind them and their descriptions in every language. A release that changes any of it
    has a new digest, and every menu set before is updated at start-up."""
    parts: list[str] = []
    for spec in COMMANDS:
        roles = sorted(POLICY[spec.action]) if spec.action else []
        parts.append(f"{spec.name}|{spec.audience.value}|{spec.action}|{','.join(roles)}")
        parts += [Translator(locale)(spec.description) for locale in LOCALES]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:8]

