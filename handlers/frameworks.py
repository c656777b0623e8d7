"""Criteria frameworks in the bot: the template (/mau_khung), the file sent to the bot
(preview, then load on confirm) and the framework a unit is scored on (/khung_tieu_chi).

A document reaches `take_workbook` from the roster's document handler (handlers/roster.py):
an .xlsx with the sheet «Khung tiêu chí» is a framework and is handled here; one with the
roster's sheets goes back to the roster importer; any other workbook is refused with a pointer
to both templates.
"""

from __future__ import annotations

from telegram import Document, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.callbacks import parse_choice, parse_int, split_fields
from bot.frameworks import (
    FRAMEWORK,
    ROSTER,
    kind_label,
    sniff,
    template_bytes,
    template_row,
)
from bot.i18n import N_
from bot.permissions import Action, grants_for
from bot.roster import BOT_LIMITS, RosterInvalid
from bot.services import orgs
from bot.services.frameworks import (
    E_CELL,
    FrameworkRefused,
    InEffect,
    apply_framework,
    compare,
    describe_diff,
    framework_for,
    held_upload,
    hold_upload,
    nearest_framework,
    points_text,
    read_file,
    target_for,
)
from bot.text import esc
from handlers.base import Refusal, Turn, turn_handler
from handlers.scope import unit_by_code
from storage.models import Organisation, OrgKind

CALLBACK_PREFIX = "khung:"
TEMPLATE_NAME = "mau-khung-tieu-chi.xlsx"


def _committees(turn: Turn) -> list:
    return [g for g in grants_for(turn.identity.grants, Action.LOAD_FRAMEWORK) if not g.org_is_cell]


def _refused(refused: FrameworkRefused) -> Refusal:
    return Refusal(refused.msgid, **{k: esc(v) for k, v in refused.params.items()})


ONLY_COMMITTEES = N_(
    "Only the secretary, deputies, committee members or organising office of a committee above "
    "the cells load a criteria framework."
)


@turn_handler()
async def template_command(turn: Turn) -> None:
    turn.require_member()
    args = turn.context.args or []
    if args:
        org = await unit_by_code(turn, args[0])
        turn.require(Action.LOAD_FRAMEWORK, org)
    else:
        committees = _committees(turn)
        if not committees:
            raise Refusal(ONLY_COMMITTEES)
        org = await orgs.organisation(turn.session, committees[0].org_id)
    if OrgKind(org.kind).is_cell:
        raise Refusal(E_CELL, org=esc(org.name))
    t = turn.t
    nearest = await nearest_framework(turn.session, org)
    rows = None
    if nearest is None:
        text = t("The criteria framework template for {org}, with example rows.",
                 org=f"<b>{esc(org.name)}</b>")
    else:
        framework, owner, criteria = nearest
        rows = [template_row(c.code, c.text, c.max_tenths, frozenset(c.kinds.split(",")),
                             c.guidance) for c in criteria]
        text = t("The criteria framework template for {org}, filled in with the framework of "
                 "{year} loaded by {owner}.", org=f"<b>{esc(org.name)}</b>", year=framework.year,
                 owner=esc(owner.name))
    await turn.reply(text + "\n" + t(
        "Fill in the sheet «Khung tiêu chí» (the sheet «Hướng dẫn» explains each column) and "
        "send the file back to me, with the code {code} as the file's caption.",
        code=esc(org.code)))
    content, chat_id, bot = template_bytes(rows), turn.chat_id, turn.context.bot
    caption = t("Criteria framework template")
    turn.after_commit(
        lambda: bot.send_document(chat_id, content, filename=TEMPLATE_NAME, caption=caption)
    )


async def take_workbook(turn: Turn, document: Document, filename: str) -> bytes | None:
    """Download an .xlsx sent to the bot. A framework is handled here (None is returned); a
    roster's bytes are returned for the roster importer; another workbook is refused."""
    turn.require_member()
    if document.file_size and document.file_size > BOT_LIMITS.file_bytes:
        raise Refusal(
            "The file is too large (at most {size} MB).",
            size=BOT_LIMITS.file_bytes // 1024 // 1024,
        )
    await turn.release()  # no transaction open while the file comes from Telegram
    telegram_file = await document.get_file()
    content = bytes(await telegram_file.download_as_bytearray())
    kind = sniff(content)
    if kind == ROSTER:
        return content
    if kind != FRAMEWORK:
        raise Refusal(
            "I do not know this spreadsheet: a roster has the sheets «Tổ chức», «Đảng viên» "
            "and «Vai trò», a criteria framework the sheet «Khung tiêu chí». Start from a "
            "template: the roster's from your upper committee, the framework's with /mau_khung."
        )
    await _framework_file(turn, filename, content)
    return None


async def _target_org(turn: Turn) -> Organisation:
    caption = (turn.update.effective_message.caption or "").strip()
    if caption:
        org = await unit_by_code(turn, caption.split()[0])
        turn.require(Action.LOAD_FRAMEWORK, org)
        return org
    committees = _committees(turn)
    if not committees:
        raise Refusal(ONLY_COMMITTEES)
    return await orgs.organisation(turn.session, committees[0].org_id)


def _errors(turn: Turn, invalid: RosterInvalid) -> str:
    t = turn.t
    lines = [t(
        "The framework has {count} errors; nothing was changed. Please fix them and send it "
        "again:", count=t.number(len(invalid.errors)))]
    lines += [f"• {esc(error.render(t.gettext))}" for error in invalid.errors]
    return "\n".join(lines)


async def _framework_file(turn: Turn, filename: str, content: bytes) -> None:
    org = await _target_org(turn)
    try:
        target = await target_for(turn.session, org)
    except FrameworkRefused as refused:
        raise _refused(refused) from None
    try:
        parsed = await read_file(target, filename, content)
    except RosterInvalid as invalid:
        await turn.reply(_errors(turn, invalid))
        return
    diff = await compare(turn.session, target, parsed)
    t = turn.t
    if diff.is_empty:
        await turn.reply(t(
            "The file matches the framework {org} already has for {year}: nothing to change.",
            org=esc(org.name), year=target.year))
        return
    await turn.session.commit()  # the reads were one snapshot; the writes start afresh
    upload = await hold_upload(
        turn.session, turn.account.telegram_id, org, target.year, filename, content
    )
    lines = [t("Preview of the criteria framework for {org}:", org=f"<b>{esc(org.name)}</b>"), ""]
    lines += [esc(line) for line in describe_diff(t, target, diff)]
    lines += ["", t("Units below {org} without a framework of their own will be scored on it. "
                    "Nothing is written until you confirm.", org=esc(org.name))]
    keyboard = InlineKeyboardMarkup([[
        InlineKeyboardButton(t("✅ Load"), callback_data=f"{CALLBACK_PREFIX}apply:{upload.id}"),
        InlineKeyboardButton(t("✖ Cancel"), callback_data=f"{CALLBACK_PREFIX}cancel:{upload.id}"),
    ]])
    await turn.reply("\n".join(lines), reply_markup=keyboard)


@turn_handler()
async def framework_decision(turn: Turn) -> None:
    t = turn.t
    action, upload_id = split_fields(turn.query.data, CALLBACK_PREFIX, 2)
    parse_choice(action, ("apply", "cancel"))
    upload = await held_upload(turn.session, parse_int(upload_id))
    if upload is None or upload.telegram_id != turn.account.telegram_id:
        raise Refusal("This button is no longer valid.")
    if upload.finished_at is not None:
        raise Refusal("This framework was already loaded or cancelled.")
    upload.finished_at = turn.services.now()
    if action == "cancel":
        await turn.answer(t("Cancelled"))
        await turn.edit(t("Loading the framework was cancelled; nothing was changed."))
        return
    turn.require_member()
    org = await orgs.organisation(turn.session, upload.org_id)
    turn.require(Action.LOAD_FRAMEWORK, org)
    try:
        target = await target_for(turn.session, org, upload.year)
        parsed = await read_file(target, upload.filename, upload.content)
    except FrameworkRefused as refused:
        raise _refused(refused) from None
    except RosterInvalid as invalid:  # the plan's rules changed since the preview
        await turn.answer()
        await turn.reply(_errors(turn, invalid))
        return
    diff = await apply_framework(
        turn.session, target, parsed, filename=upload.filename, actor=turn.actor
    )
    await turn.answer(t("Loaded"))
    lines = [t("The criteria framework for {org} is loaded.", org=f"<b>{esc(org.name)}</b>"), ""]
    lines += [esc(line) for line in describe_diff(t, target, diff)]
    await turn.edit("\n".join(lines))


@turn_handler()
async def show_command(turn: Turn) -> None:
    turn.require_member()
    args = turn.context.args or []
    if args:
        org = await unit_by_code(turn, args[0])
    else:
        roots = grants_for(turn.identity.grants, Action.VIEW_STATUS)
        if not roots:
            raise Refusal(
                "Only the secretary, deputies, committee members or organising office see the "
                "criteria framework here."
            )
        org = await orgs.organisation(turn.session, roots[0].org_id)
    turn.require(Action.VIEW_STATUS, org)
    found = await framework_for(turn.session, org)
    t = turn.t
    if found is None:
        await turn.reply(t(
            "{org} has no criteria framework for its plan's year yet: none of the committees "
            "above it, nor itself, has loaded one for its kind of organisation.",
            org=esc(org.name)))
        return
    await turn.reply(_render(turn, org, found, target_year=found.framework.year))


def _render(turn: Turn, org: Organisation, found: InEffect, *, target_year: int) -> str:
    t = turn.t
    own = found.owner.id == org.id
    head = t(
        "The criteria framework {org} is scored on ({kind}, {year}), loaded by {owner} on "
        "{date}:",
        org=f"<b>{esc(org.name)}</b>", kind=esc(kind_label(org.kind)), year=target_year,
        owner=esc(found.owner.name) if not own else t("itself"),
        date=t.date(found.framework.loaded_at.astimezone(turn.services.settings.tz).date()),
    )
    lines = [head, ""]
    for criterion in found.criteria:
        depth = criterion.code.count(".")
        indent = "    " * depth
        code = f"<b>{esc(criterion.code)}</b>" if depth == 0 else esc(criterion.code)
        lines.append(t("{indent}{code}. {text} ({points} points)", indent=indent, code=code,
                       text=esc(criterion.text),
                       points=points_text(t, criterion.max_tenths)))
    total = found.as_rules().total_tenths()
    lines += ["", t("Total: {points} points.", points=points_text(t, total))]
    return "\n".join(lines)


HANDLERS = [
    CommandHandler("mau_khung", template_command),
    CommandHandler("khung_tieu_chi", show_command),
    CallbackQueryHandler(framework_decision, pattern=f"^{CALLBACK_PREFIX}", block=False),
]
