"""/khieu_nai: a written appeal against a decided level (R-A1); /ket_qua: levels by year.

- ``/khieu_nai``: the member writes the appeal (free text, restart-safe); it is stored and
  sent to every secretary, deputy and committee member of the deciding level who has started
  the bot, with "✍️ Answer" (``kn:a:<appeal id>``). The first written answer is recorded
  and sent back to the member in their language.
- ``/ket_qua``: the member's levels by year; someone with a role also gets the members of
  their subtree rated HTXS five years running (R-A5).
"""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.callbacks import parse_int
from bot.i18n import N_
from bot.permissions import Action, grants_for
from bot.services import appeal as service
from bot.services.decision import COMMITTEE_ROLES, deciding_level, reachable_account, role_accounts
from bot.text import esc, split_message
from conversations import engine as flows
from handlers.base import Refusal, Turn, translator_for, turn_handler
from storage.models import Appeal, Cycle, FlowState, Member, Organisation, Rating, RatingState

log = logging.getLogger(__name__)

PREFIX = "kn:"
MIN_TEXT = 10
MAX_TEXT = 4000
# Characters of the member's text per message, leaving room for the head (names, a level).
BODY_PART = 3000
INVALID = N_("This button is no longer valid.")


async def _send(turn: Turn, chat_id: int, text: str, markup=None) -> bool:
    """Owed after the appeal commits (the outbox); a 403 then marks the account blocked."""
    turn.notify(chat_id, text, reply_markup=markup)
    return True


async def _send_long(turn: Turn, chat_id: int, head: str, body: str, markup=None) -> bool:
    """The head (HTML) and the member's text, in as many messages as Telegram needs; the
    button goes on the last. The text is split before it is escaped, as Telegram counts the
    characters after parsing and an escape must not be cut in two."""
    pieces = split_message(body, BODY_PART)
    texts = [f"{head}\n\n{esc(pieces[0])}"] + [esc(piece) for piece in pieces[1:]]
    for index, text in enumerate(texts):
        if not await _send(turn, chat_id, text, markup if index == len(texts) - 1 else None):
            return False
    return True


def _check_length(text: str) -> str:
    text = text.strip()
    if len(text) < MIN_TEXT or len(text) > MAX_TEXT:
        raise Refusal("Write {min} to {max} characters.", min=MIN_TEXT, max=MAX_TEXT)
    return text


# --- filing -----------------------------------------------------------------------------------------


@turn_handler()
async def appeal_command(turn: Turn) -> None:
    turn.require_member()
    found = await service.latest_decided(turn.session, turn.identity.member.id)
    if found is None:
        raise Refusal("You have no decided level to appeal against yet.")
    rating, cycle = found
    await flows.begin(turn, APPEAL_FLOW, "text", rating=rating.id)
    await flows.ask(
        turn,
        APPEAL_FLOW,
        turn.t(
            "Your decided level for {year} is {level}. Write your appeal in one message: it "
            "goes to the deciding committee, which answers in writing. "
            "/help to leave it.",
            year=cycle.year,
            level=f"<b>{rating.decided_level}</b>",
        )
    )


async def appeal_text(turn: Turn, state: FlowState, text: str) -> None:
    turn.require_member()
    body = _check_length(text)
    member = turn.identity.member
    rating = await turn.session.get(Rating, flows.payload(state)["rating"])
    await flows.finish(turn)
    if rating is None or rating.member_id != member.id or rating.state != RatingState.DECIDED:
        raise Refusal("This level is no longer decided; your appeal was not sent.")
    cell = await turn.session.get(Organisation, member.org_id)
    root = await deciding_level(turn.session, cell) or cell
    cycle = await turn.session.get(Cycle, rating.cycle_id)
    appeal = await service.file_appeal(
        turn.session, rating, root, body, actor=turn.actor, now=turn.services.now()
    )
    committee = await role_accounts(turn.session, root.id, COMMITTEE_ROLES)
    appeal_id, level, year = appeal.id, rating.decided_level, cycle.year
    reached = 0
    for _holder, account in committee:
        ct = translator_for(account, turn.services)
        head = ct(
            N_("Appeal from {name} ({cell}) against the decided level {level} for {year}:"),
            name=f"<b>{esc(member.full_name)}</b>",
            cell=esc(cell.name),
            level=level,
            year=year,
        )
        markup = InlineKeyboardMarkup(
            [[InlineKeyboardButton(ct(N_("✍️ Answer")), callback_data=f"{PREFIX}a:{appeal_id}")]]
        )
        if await _send_long(turn, account.telegram_id, head, body, markup):
            reached += 1
    if reached:
        await turn.reply(
            turn.t(
                "Your appeal was sent to {count} members of the committee of {org}. "
                "Their written answer will come here.",
                count=turn.t.number(reached),
                org=esc(root.name),
            )
        )
    else:
        await turn.reply(
            turn.t(
                "Your appeal is recorded, but no member of the committee of {org} can be "
                "reached here yet; tell your secretary.",
                org=esc(root.name),
            )
        )


# --- answering -----------------------------------------------------------------------------------


async def _appeal(turn: Turn, appeal_id: int) -> tuple[Appeal, Organisation]:
    appeal = await turn.session.get(Appeal, appeal_id)
    if appeal is None:
        raise Refusal(INVALID)
    root = await turn.session.get(Organisation, appeal.deciding_org_id)
    turn.require_member()
    turn.require(Action.DECIDE, root)
    return appeal, root


@turn_handler()
async def answer_button(turn: Turn) -> None:
    parts = turn.query.data.removeprefix(PREFIX).split(":")
    if len(parts) != 2 or parts[0] != "a":
        raise Refusal(INVALID)
    appeal, _root = await _appeal(turn, parse_int(parts[1]))
    if appeal.answer is not None:
        raise Refusal("This appeal has already been answered.")
    member = await turn.session.get(Member, appeal.member_id)
    await flows.begin(turn, ANSWER_FLOW, "text", appeal=appeal.id)
    await turn.answer()
    await flows.ask(
        turn,
        ANSWER_FLOW,
        turn.t(
            "Write the committee's answer to the appeal of {name} in one message; it is "
            "recorded and sent to them. /help to leave it.",
            name=f"<b>{esc(member.full_name)}</b>",
        )
    )


async def answer_text(turn: Turn, state: FlowState, text: str) -> None:
    body = _check_length(text)
    appeal, root = await _appeal(turn, flows.payload(state)["appeal"])
    await flows.finish(turn)
    if appeal.answer is not None:
        raise Refusal("This appeal has already been answered.")
    service.answer_appeal(turn.session, appeal, body, actor=turn.actor, now=turn.services.now())
    member = await turn.session.get(Member, appeal.member_id)
    account = await reachable_account(turn.session, member.id)
    name, org_name = member.full_name, root.name
    sent = False
    if account is not None:
        mt = translator_for(account, turn.services)
        sent = await _send_long(
            turn,
            account.telegram_id,
            mt(N_("The answer of {org} to your appeal:"), org=f"<b>{esc(org_name)}</b>"),
            body,
        )
    if sent:
        await turn.reply(turn.t("Your answer is recorded and was sent to {name}.", name=esc(name)))
    else:
        await turn.reply(
            turn.t(
                "Your answer is recorded; {name} cannot be reached here, so tell them in person.",
                name=esc(name),
            )
        )


# --- results by year --------------------------------------------------------------------------------


@turn_handler()
async def results_command(turn: Turn) -> None:
    turn.require_member()
    t = turn.t
    member = turn.identity.member
    rows = await service.levels_by_year(turn.session, member.id)
    lines = ["<b>" + esc(t("Your quality ratings by year")) + "</b>"]
    if not rows:
        lines.append(t("No level has been decided for you yet."))
    for year, level, state in rows:
        if state == RatingState.DECIDED:
            lines.append(t("{year}: {level}", year=year, level=f"<b>{level}</b>"))
        else:
            lines.append(t("{year}: {level} proposed, not decided yet", year=year, level=level))
    roots = []
    for g in sorted(
        grants_for(turn.identity.grants, Action.VIEW_STATUS), key=lambda g: len(g.org_path)
    ):
        if not any(g.org_path.startswith(r.org_path) for r in roots):
            roots.append(g)
    for grant in roots:
        root = await turn.session.get(Organisation, grant.org_id)
        runs = await service.htxs_runs(turn.session, root)
        lines += [
            "",
            t("Rated HTXS five years running in {org}:", org=f"<b>{esc(root.name)}</b>"),
        ]
        if not runs:
            lines.append(t("nobody"))
        for run in runs:
            lines.append(
                f"• {esc(run.member.full_name)} ({esc(run.member.code)}), {esc(run.cell.name)}: "
                f"{run.first_year}–{run.last_year}"
            )
    await turn.reply("\n".join(lines))


APPEAL_FLOW = flows.declare(
    flows.Flow(
        "appeal",
        N_("writing an appeal"),
        (flows.Step("text", on_text=appeal_text),),
        entry=("khieu_nai",),
    )
)
ANSWER_FLOW = flows.declare(
    flows.Flow(
        "appeal_answer",
        N_("answering an appeal"),
        (flows.Step("text", on_text=answer_text),),
    )
)

HANDLERS = [
    CommandHandler("khieu_nai", appeal_command),
    CommandHandler("ket_qua", results_command),
    CallbackQueryHandler(answer_button, pattern=f"^{PREFIX}"),
]
