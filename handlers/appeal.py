"""/khieu_nai: a written appeal against a decided level (R-A1); /ket_qua: levels by year.

- ``/khieu_nai`` opens the flow ``appeal``: the member writes the appeal (free text,
  restart-safe), then confirms sending it; it is stored and sent to every secretary, deputy
  and committee member of the deciding level who has started the bot, with "✍️ Answer".
- "✍️ Answer" opens the flow ``appeal_answer``: the written answer, then a confirmation; the
  first answer is recorded and sent back to the member in their language.
- ``/ket_qua``: the member's levels by year; someone with a role also gets the members of
  their subtree rated HTXS five years running (R-A5).
"""

from __future__ import annotations

import logging

from telegram import InlineKeyboardMarkup
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.i18n import N_
from bot.permissions import Action, grants_for
from bot.services import appeal as service
from bot.services.decision import COMMITTEE_ROLES, reachable_account, role_accounts
from conversations import engine as flows
from conversations.decision import ask_to_confirm, confirm_handler, confirmed_flow
from handlers import scope
from handlers.base import Refusal, Turn, translator_for, turn_handler
from handlers.scope import INVALID
from handlers.views import appeal as views
from handlers.views.appeal import AnswerButton, AppealConfirm
from storage.models import Appeal, FlowState, Member, Organisation

log = logging.getLogger(__name__)

MIN_TEXT = 10
MAX_TEXT = 4000


def _send_long(
    turn: Turn, chat_id: int, head: str, body: str, markup: InlineKeyboardMarkup | None = None
) -> None:
    """Owed after the turn commits (the outbox); the button goes on the last part."""
    parts = views.long_parts(head, body)
    for index, text in enumerate(parts):
        turn.notify(chat_id, text, reply_markup=markup if index == len(parts) - 1 else None)


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
        turn, APPEAL_FLOW, views.appeal_prompt(turn.t, cycle.year, rating.decided_level)
    )


async def _filing(turn: Turn, state: FlowState) -> service.Filing:
    turn.require_member()
    filing = await service.filing(
        turn.session, turn.identity.member, flows.payload(state)["rating"]
    )
    if filing is None:
        await flows.finish(turn)
        raise Refusal("This level is no longer decided; your appeal was not sent.")
    return filing


async def appeal_text(turn: Turn, state: FlowState, text: str) -> None:
    body = _check_length(text)
    filing = await _filing(turn, state)
    question = views.appeal_confirm_text(turn.t, filing.deciding_org.name, len(body))
    await ask_to_confirm(turn, state, question, text=body)


async def appeal_confirmed(turn: Turn, state: FlowState) -> None:
    body = flows.payload(state)["text"]
    filing = await _filing(turn, state)
    await flows.finish(turn)
    member, root = turn.identity.member, filing.deciding_org
    appeal = await service.file_appeal(
        turn.session, filing.rating, root, body, actor=turn.actor, now=turn.services.now()
    )
    committee = await role_accounts(turn.session, root.id, COMMITTEE_ROLES)
    level, year = filing.rating.decided_level, filing.cycle.year
    for _holder, account in committee:
        ct = translator_for(account, turn.services)
        head = views.appeal_head(ct, member.full_name, filing.cell.name, level, year)
        _send_long(turn, account.telegram_id, head, body, views.answer_keyboard(ct, appeal.id))
    await turn.reply(views.appeal_sent(turn.t, len(committee), root.name))


# --- answering -----------------------------------------------------------------------------------


async def _open_appeal(
    turn: Turn, appeal_id: int
) -> tuple[Appeal, Member, Organisation]:
    found = await service.appeal_parties(turn.session, appeal_id)
    if found is None:
        raise Refusal(INVALID)
    appeal, _member, _root = found  # DECIDE on the deciding level: required by the target
    if appeal.answer is not None:
        raise Refusal("This appeal has already been answered.")
    return found


@turn_handler(button=AnswerButton, action=Action.DECIDE, target=scope.appeal_deciding_org)
async def answer_button(turn: Turn) -> None:
    pressed: AnswerButton = turn.button
    _appeal, member, _root = await _open_appeal(turn, pressed.appeal_id)
    await flows.begin(turn, ANSWER_FLOW, "text", appeal=pressed.appeal_id)
    await turn.answer()
    await flows.ask(turn, ANSWER_FLOW, views.answer_prompt(turn.t, member.full_name))


async def _answering(turn: Turn, state: FlowState):
    """The appeal still unanswered, authorised again; the flow ends otherwise."""
    try:
        return await _open_appeal(turn, flows.payload(state)["appeal"])
    except Refusal:
        await flows.finish(turn)
        raise


async def answer_text(turn: Turn, state: FlowState, text: str) -> None:
    body = _check_length(text)
    _appeal, member, _root = await _answering(turn, state)
    question = views.answer_confirm_text(turn.t, member.full_name, len(body))
    await ask_to_confirm(turn, state, question, text=body)


async def answer_confirmed(turn: Turn, state: FlowState) -> None:
    body = flows.payload(state)["text"]
    appeal, member, root = await _answering(turn, state)
    await flows.finish(turn)
    service.answer_appeal(turn.session, appeal, body, actor=turn.actor, now=turn.services.now())
    account = await reachable_account(turn.session, member.id)
    if account is not None:
        mt = translator_for(account, turn.services)
        _send_long(turn, account.telegram_id, views.answer_head(mt, root.name), body)
    await turn.reply(views.answer_sent(turn.t, member.full_name, account is not None))


# --- results by year --------------------------------------------------------------------------------


@turn_handler()
async def results_command(turn: Turn) -> None:
    turn.require_member()
    rows = await service.levels_by_year(turn.session, turn.identity.member.id)
    roots = []
    for g in sorted(
        grants_for(turn.identity.grants, Action.VIEW_STATUS), key=lambda g: len(g.org_path)
    ):
        if not any(g.org_path.startswith(r.org_path) for r in roots):
            roots.append(g)
    runs = [
        (root.name, await service.htxs_runs(turn.session, root))
        for root in await service.organisations(turn.session, [g.org_id for g in roots])
    ]
    await turn.reply(views.results_text(turn.t, rows, runs))


APPEAL_FLOW = confirmed_flow(
    "appeal", N_("writing an appeal"), "text", appeal_text, appeal_confirmed,
    views.confirm_keyboard, entry=("khieu_nai",),
)
ANSWER_FLOW = confirmed_flow(  # the deciding level answers: DECIDE on it, at each step
    "appeal_answer", N_("answering an appeal"), "text", answer_text, answer_confirmed,
    views.confirm_keyboard, action=Action.DECIDE, target=scope.answered_appeal_org,
)


HANDLERS = [
    CommandHandler("khieu_nai", appeal_command),
    CommandHandler("ket_qua", results_command),
    CallbackQueryHandler(answer_button, pattern=AnswerButton.pattern()),
    confirm_handler(AppealConfirm),
]
