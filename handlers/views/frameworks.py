"""The screens of the criteria frameworks (gettext domain ``frameworks``): the template's
message, a file's errors and preview, the framework loaded, and the framework a unit is scored
on. Pure functions: no Telegram call, no database.

The command descriptions of issue 14 (frameworks, review prompts) are here too, listed by
handlers/commands.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from telegram import InlineKeyboardButton
from telegram import InlineKeyboardMarkup

from bot.callbacks import ButtonData
from bot.frameworks import kind_label
from bot.i18n import N_
from bot.i18n import Translator
from bot.roster import RosterInvalid
from bot.services.frameworks import InEffect
from bot.services.frameworks import points_text
from bot.text import esc
from storage.models import Organisation

MAU_KHUNG = (
    N_("Criteria framework template"),
    N_(
        "/mau_khung [code]: the criteria framework template, filled in with the framework the "
        "committee already has; send it back filled in to load it (the unit's code as caption)"
    ),
)
KHUNG_TIEU_CHI = (
    N_("The criteria framework in use"),
    N_(
        "/khung_tieu_chi [code]: the criteria framework your organisation, or a unit under it, "
        "is scored on, and which committee loaded it"
    ),
)
GOI_Y = (
    N_("Send points for a review"),
    N_(
        "/goi_y CODE text: send a member or an organisation of your subtree written points to "
        "address in its review (gợi ý kiểm điểm): part IV of a member's self-review, of a "
        "collective's report; in one message"
    ),
)

ONLY_COMMITTEES = N_(
    "Only the secretary, deputies, committee members or organising office of a committee above "
    "the cells load a criteria framework."
)
ONLY_VIEWERS = N_(
    "Only the secretary, deputies, committee members or organising office see the criteria "
    "framework here."
)
PROMPT_USAGE = N_(
    "Write the code of the member (or of the organisation) and the points in one message:\n"
    "/goi_y CODE the points to address"
)
NO_SUCH_CODE = N_("There is no member or organisation with the code {code} within your reach.")
NOT_ABOVE = N_(
    "Points for review come from the upper level: you hold no role above {org} to send them."
)


class FrameworkButton(ButtonData, prefix="khung"):
    """Load the framework file held for the preview (apply), or drop it (cancel)."""

    action: Literal["apply", "cancel"]
    upload_id: int


def template_text(
    t: Translator, org: Organisation, loaded: tuple[int, str] | None
) -> str:
    """The message sent with the template: empty, or filled with the framework of `loaded`
    (its year and the name of the committee that loaded it)."""
    name = f"<b>{esc(org.name)}</b>"
    if loaded is None:
        text = t("The criteria framework template for {org}, with example rows.", org=name)
    else:
        year, owner = loaded
        text = t(
            "The criteria framework template for {org}, filled in with the framework of "
            "{year} loaded by {owner}.",
            org=name,
            year=year,
            owner=esc(owner),
        )
    return text + "\n" + t(
        "Fill in the sheet «Khung tiêu chí» (the sheet «Hướng dẫn» explains each column) and "
        "send the file back to me, with the code {code} as the file's caption.",
        code=esc(org.code),
    )


def errors_text(t: Translator, invalid: RosterInvalid) -> str:
    lines = [
        t(
            "The framework has {count} errors; nothing was changed. Please fix them and send it "
            "again:",
            count=t.number(len(invalid.errors)),
        )
    ]
    lines += [f"• {esc(error.render(t.gettext))}" for error in invalid.errors]
    return "\n".join(lines)


def unchanged_text(t: Translator, org: Organisation, year: int) -> str:
    return t(
        "The file matches the framework {org} already has for {year}: nothing to change.",
        org=esc(org.name),
        year=year,
    )


def preview_screen(
    t: Translator, org: Organisation, changes: list[str], upload_id: int
) -> tuple[str, InlineKeyboardMarkup]:
    """What loading the file would change (`changes`: plain lines), with "✅ Nạp khung" and
    "✖ Hủy"."""
    lines = [t("Preview of the criteria framework for {org}:", org=f"<b>{esc(org.name)}</b>"), ""]
    lines += [esc(line) for line in changes]
    lines += [
        "",
        t(
            "Units below {org} without a framework of their own will be scored on it. "
            "Nothing is written until you confirm.",
            org=esc(org.name),
        ),
    ]
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t("✅ Load"), callback_data=FrameworkButton("apply", upload_id).encode()
                ),
                InlineKeyboardButton(
                    t("✖ Cancel"), callback_data=FrameworkButton("cancel", upload_id).encode()
                ),
            ]
        ]
    )
    return "\n".join(lines), keyboard


def loaded_text(t: Translator, org: Organisation, changes: list[str]) -> str:
    lines = [t("The criteria framework for {org} is loaded.", org=f"<b>{esc(org.name)}</b>"), ""]
    lines += [esc(line) for line in changes]
    return "\n".join(lines)


def cancelled_text(t: Translator) -> str:
    return t("Loading the framework was cancelled; nothing was changed.")


def none_in_effect_text(t: Translator, org: Organisation) -> str:
    return t(
        "{org} has no criteria framework for its plan's year yet: none of the committees "
        "above it, nor itself, has loaded one for its kind of organisation.",
        org=esc(org.name),
    )


def in_effect_text(t: Translator, org: Organisation, found: InEffect, loaded_on: dt.date) -> str:
    """The framework `org` is scored on, criterion by criterion, indented by depth."""
    own = found.owner.id == org.id
    head = t(
        "The criteria framework {org} is scored on ({kind}, {year}), loaded by {owner} on "
        "{date}:",
        org=f"<b>{esc(org.name)}</b>",
        kind=esc(kind_label(org.kind)),
        year=found.framework.year,
        owner=esc(found.owner.name) if not own else t("itself"),
        date=t.date(loaded_on),
    )
    lines = [head, ""]
    for criterion in found.criteria:
        depth = criterion.code.count(".")
        code = f"<b>{esc(criterion.code)}</b>" if depth == 0 else esc(criterion.code)
        lines.append(
            t(
                "{indent}{code}. {text} ({points} points)",
                indent="    " * depth,
                code=code,
                text=esc(criterion.text),
                points=points_text(t, criterion.max_tenths),
            )
        )
    total = found.as_rules().total_tenths()
    lines += ["", t("Total: {points} points.", points=points_text(t, total))]
    return "\n".join(lines)
