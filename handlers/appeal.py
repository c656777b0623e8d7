"""/khieu_nai: a written appeal against a decided level (R-A1); /ket_qua: levels by year.

- ``/khieu_nai`` opens the flow ``appeal``: the member writes the appeal (free text,
  restart-safe), then confirms sending it; it is stored and sent to every secretary, deputy
  and committee member of the deciding level who has started the bot, with "✍️ Answer".
- "✍️ Answer" opens the flow ``appeal_answer``: the written answer, then a confirmation; the
  first answer is recorded and sent back to the member in their language.
- ``/ket_qua``: the member's levels by year; someone with a role also gets the members of
  their subtree rated HTXS five years running (R-A5).

A unit's head appeals for the unit with ``/khieu_nai CODE`` (issue 14, part C): the same two
flows, their payload naming a unit's rating (``unit_rating``) or a unit's appeal
(``unit_appeal``); the units' side is handlers/unit_decision.py.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import InlineKeyboardMarkup
from telegram.ext import CallbackQueryHandler
from telegram.ext import CommandHandler

from bot.i18n import N_
from bot.permissions import Action
from bot.permissions import grants_for
from bot.services import appeal as service
from bot.services import unit_appeal
from bot.services.decision import COMMITTEE_ROLES
from bot.services.decision import reachable_account
from bot.services.decision import role_accounts
from bot.services.unit_rating_status import led_unit_levels
from conversations import decision as confirming
from conversations import engine as flows
from handlers import unit_decision as units
from handlers.base import Refusal
from handlers.base import Turn
from handlers.base import translator_for
from handlers.base import turn_handler
from handlers.scope import INVALID
from handlers.scope import named
from handlers.views import appeal as views
from handlers.views.appeal import AnswerButton
from handlers.views.appeal import AppealConfirm
from handlers.views.unit_rating_status import unit_results_lines
from storage.models import FlowState
from storage.models import Member
from storage.models import Organisation

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


def _member_appealing(filing: service.Filing) -> confirming.Appealing:
    """A member's decided level they appeal against (the members' side of the shared flow)."""
    rating, year = filing.rating, filing.cycle.year

    async def file(turn: Turn, text: str) -> int:
        appeal = await service.file_appeal(turn.session, rating, filing.deciding_org, text,
                                           actor=turn.actor, now=turn.services.now())
        return appeal.id

    return confirming.Appealing(
        "a",
        filing.deciding_org,
        lambda t: views.appeal_prompt(t, year, rating.decided_level),
        lambda t, name: views.appeal_head(t, name, filing.cell.name, rating.decided_level, year),
        file,
    )


@turn_handler()
async def appeal_command(turn: Turn) -> None:
    """``/khieu_nai``: the member's own decided level; ``/khieu_nai CODE``: a unit they head."""
    turn.require_member()
    args = turn.context.args or []
    if args:
        decided = await units.appealable_units(turn, args[0])
        await units.open_on(turn, decided, "appeal", APPEAL_FLOW, "text", appealing_of)
        return
    found = await service.latest_decided(turn.session, turn.identity.member.id)
    if found is None:
        raise Refusal("You have no decided level to appeal against yet.")
    values = {"rating": found[0].id}
    await confirming.open_flow(turn, APPEAL_FLOW, "text", appealing_of, values)


async def appealing_of(turn: Turn, values: dict) -> confirming.Appealing:
    """What the payload's appeal is against, still decided and the caller's to appeal."""
    if "unit_rating" in values:
        return await units.appealing(turn, values["unit_rating"])
    turn.require_member()
    filing = await service.filing(turn.session, turn.identity.member, values["rating"])
    if filing is None:
        raise Refusal("This level is no longer decided; your appeal was not sent.")
    return _member_appealing(filing)


async def appeal_text(turn: Turn, state: FlowState, text: str) -> None:
    body = _check_length(text)
    subject = await confirming.reload(turn, appealing_of, state)
    question = views.appeal_confirm_text(turn.t, subject.deciding_org.name, len(body))
    await confirming.ask_to_confirm(turn, state, question, text=body)


async def appeal_confirmed(turn: Turn, state: FlowState) -> None:
    body = flows.payload(state)["text"]
    subject = await confirming.reload(turn, appealing_of, state)
    await flows.finish(turn)
    member, root = turn.identity.member, subject.deciding_org
    appeal_id = await subject.file(turn, body)
    committee = await role_accounts(turn.session, root.id, COMMITTEE_ROLES)
    for _holder, account in committee:
        ct = translator_for(account, turn.services)
        head = subject.head(ct, member.full_name)
        markup = views.answer_keyboard(ct, appeal_id, subject.kind)
        _send_long(turn, account.telegram_id, head, body, markup)
    await turn.reply(views.appeal_sent(turn.t, len(committee), root.name))


# --- answering -----------------------------------------------------------------------------------

# Each kind of appeal: its parties (the appeal, who filed it, the deciding level) and how its
# answer is recorded.
_PARTIES = {"a": service.appeal_parties, "u": unit_appeal.appeal_parties}
_ANSWER = {"a": service.answer_appeal, "u": unit_appeal.answer_appeal}
_PAYLOAD = {"a": "appeal", "u": "unit_appeal"}


async def _open_appeal(turn: Turn, kind: str, appeal_id: int) -> tuple[Any, Member, Organisation]:
    turn.require_member()
    found = await _PARTIES[kind](turn.session, appeal_id)
    if found is None:
        raise Refusal(INVALID)
    appeal, _member, _root = found  # DECIDE on the deciding level: required by the target
    if appeal.answer is not None:
        raise Refusal("This appeal has already been answered.")
    return found


async def _deciding_org(turn: Turn, kind: str, appeal_id: object) -> Organisation:
    turn.require_member()
    found = await _PARTIES[kind](turn.session, appeal_id) if isinstance(appeal_id, int) else None
    return named(found)[2]


async def _answer_target(turn: Turn, action: Action | None) -> Organisation:
    """Target: the deciding level of the appeal the pressed button names (either kind)."""
    return await _deciding_org(turn, turn.button.action, turn.button.appeal_id)


async def _answered_target(turn: Turn, action: Action | None, values: dict) -> Organisation:
    """Step target: the deciding level of the appeal being answered (either kind)."""
    kind = "u" if "unit_appeal" in values else "a"
    return await _deciding_org(turn, kind, values.get(_PAYLOAD[kind]))


@turn_handler(button=AnswerButton, action=Action.DECIDE, target=_answer_target)
async def answer_button(turn: Turn) -> None:
    pressed: AnswerButton = turn.button
    _appeal, member, _root = await _open_appeal(turn, pressed.action, pressed.appeal_id)
    await flows.begin(turn, ANSWER_FLOW, "text", **{_PAYLOAD[pressed.action]: pressed.appeal_id})
    await turn.answer()
    await flows.ask(turn, ANSWER_FLOW, views.answer_prompt(turn.t, member.full_name))


async def _answered_of(turn: Turn, values: dict):
    """The payload's appeal still unanswered (either kind), authorised again."""
    kind = "u" if "unit_appeal" in values else "a"
    return kind, await _open_appeal(turn, kind, values[_PAYLOAD[kind]])


async def answer_text(turn: Turn, state: FlowState, text: str) -> None:
    body = _check_length(text)
    _kind, (_appeal, member, _root) = await confirming.reload(turn, _answered_of, state)
    question = views.answer_confirm_text(turn.t, member.full_name, len(body))
    await confirming.ask_to_confirm(turn, state, question, text=body)


async def answer_confirmed(turn: Turn, state: FlowState) -> None:
    body = flows.payload(state)["text"]
    kind, (appeal, member, root) = await confirming.reload(turn, _answered_of, state)
    await flows.finish(turn)
    _ANSWER[kind](turn.session, appeal, body, actor=turn.actor, now=turn.services.now())
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
    units = await led_unit_levels(turn.session, turn.identity.member.id)  # issue 14
    await turn.reply("\n".join([views.results_text(turn.t, rows, runs),
                                *unit_results_lines(turn.t, units)]))


APPEAL_FLOW = confirming.confirmed_flow(
    "appeal", N_("writing an appeal"), "text", appeal_text, appeal_confirmed,
    views.confirm_keyboard, entry=("khieu_nai",),
)
# The deciding level answers: DECIDE on it, at each step.
ANSWER_FLOW = confirming.confirmed_flow(
    "appeal_answer", N_("answering an appeal"), "text", answer_text, answer_confirmed,
    views.confirm_keyboard, action=Action.DECIDE, target=_answered_target,
)

HANDLERS = [
    CommandHandler("khieu_nai", appeal_command),
    CommandHandler("ket_qua", results_command),
    CallbackQueryHandler(answer_button, pattern=AnswerButton.pattern()),
    confirming.confirm_handler(AppealConfirm),
]
