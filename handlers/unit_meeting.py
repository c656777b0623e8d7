"""The meeting's order (R-D3) at ``/hop``: "📋 Trình tự hội nghị" shows the collectives (the
organisation, its committee where rated) then the individuals, head first; the secretary
marks each collective reviewed once its report was presented and commented on. The members'
ballot (``/bo_phieu``) waits for them, unless the secretary records why it goes first (the
``order_reason`` flow, conversations/unit_meeting.py). After the collectives, "🧮 Chấm điểm"
opens the members' scoring (handlers/unit_scoring.py).
"""

from __future__ import annotations

from telegram.ext import CallbackQueryHandler

from bot.permissions import Action
from bot.permissions import grants_for
from bot.services import unit_meeting as service
from bot.text import esc
from conversations import unit_meeting as conversation
from conversations.decision import confirmed
from handlers import scope
from handlers.base import Refusal
from handlers.base import Turn
from handlers.base import turn_handler
from handlers.views import unit_meeting as views
from handlers.views import unit_scoring as scoring_views
from storage.models import Meeting
from storage.models import Organisation
from storage.models import OrgKind


async def meeting_unit(turn: Turn, action: Action) -> Organisation:
    """Target of /hop and /bo_phieu: the unit whose meeting they run (the command's code, or
    the caller's own): a cell, or a đảng bộ cơ sở (its committee's meeting rates the đảng bộ
    and its committee). Without a code, the caller's own cell, else the đảng bộ cơ sở they
    hold `action` on; the action is required on it by the turn's declared edge."""
    turn.require_member()
    args = turn.context.args or []
    if args:
        org = await scope.unit_by_code(turn, args[0])
        if not OrgKind(org.kind).is_cell and org.kind != OrgKind.GRASSROOTS:
            raise Refusal(
                "{org} holds no review meeting here; give the code of a cell or of a "
                "grassroots party committee.",
                org=esc(org.name),
            )
        return org
    grants = grants_for(turn.identity.grants, action)
    cells = [g for g in grants if g.org_is_cell]
    if cells:
        return await service.organisation(turn.session, cells[0].org_id)
    for grant in grants:
        org = await service.organisation(turn.session, grant.org_id)
        if org is not None and org.kind == OrgKind.GRASSROOTS:
            return org
    raise Refusal("This is for the secretary or deputy secretary of a cell.")


refusal = conversation.refusal  # a unit service's refusal, its values escaped


_today = conversation.today
_meeting = conversation.pressed_meeting


async def show_order(turn: Turn, meeting: Meeting) -> None:
    """The order screen in the pressed message (the ``meeting`` flow at ``order``)."""
    order = await service.order_of(turn.session, meeting, _today(turn))
    extra = []
    if order.collectives_done and order.rated:
        extra.append([scoring_views.open_button(turn.t, meeting.id)])
        if order.to_vote:
            extra.append([scoring_views.vote_button(turn.t, meeting.id)])
    await conversation.show_meeting_step(
        turn,
        meeting.id,
        "order",
        views.order_text(turn.t, order),
        views.order_keyboard(turn.t, order, extra),
    )


@turn_handler(button=views.OrderButton, action=Action.RUN_MEETING, target=scope.meeting_cell)
async def order_pressed(turn: Turn) -> None:
    pressed: views.OrderButton = turn.button
    meeting = await _meeting(turn, pressed.meeting_id)
    if pressed.action == "done":
        if pressed.subject is None:
            raise Refusal("This button is no longer valid.")
        try:
            await service.mark_reviewed(
                turn.session, meeting, pressed.subject, actor=turn.actor,
                now=turn.services.now(), today=_today(turn),
            )
        except service.OrderError as error:
            raise conversation.refusal(error) from None
        await turn.answer(turn.t("Marked reviewed."))
    await show_order(turn, meeting)


@turn_handler(button=views.ReasonButton, action=Action.RUN_BALLOT, target=scope.meeting_cell)
async def reason_pressed(turn: Turn) -> None:
    """"✍ Ghi lý do bỏ phiếu trước" starts the reason flow (RUN_BALLOT: it opens the ballot);
    "✅ Xác nhận" records it."""
    pressed: views.ReasonButton = turn.button
    if pressed.action == "start":
        meeting = await _meeting(turn, pressed.meeting_id)
        await turn.answer()
        await conversation.begin_reason(turn, meeting)
        return
    state = await confirmed(turn, conversation.ORDER_REASON, meeting=pressed.meeting_id)
    await conversation.reason_confirmed(turn, state)


HANDLERS = [
    CallbackQueryHandler(order_pressed, pattern=views.OrderButton.pattern()),
    CallbackQueryHandler(reason_pressed, pattern=views.ReasonButton.pattern()),
]
