"""The chair's conclusions in the minutes (Meeting.conclusions): "✍️ Ghi kết luận" under
/bien_ban's summary asks for them in one message ("text"), shows them and waits for
"✅ Ghi vào biên bản" ("confirm": they replace what the minutes said; another message typed
there becomes the draft instead). /huy leaves at any step and nothing is written."""

from __future__ import annotations

from telegram.ext import CallbackQueryHandler

from bot.callbacks import InvalidButton
from bot.i18n import N_
from bot.permissions import Action
from bot.services import minutes
from conversations import engine as flows
from conversations.decision import CONFIRM
from conversations.decision import ask_to_confirm
from conversations.decision import confirmed
from handlers.base import Refusal
from handlers.base import Turn
from handlers.base import turn_handler
from handlers.scope import meeting_cell
from handlers.scope import meeting_flow_org
from handlers.views import minutes as views
from handlers.views.minutes import ConclusionsButton
from storage.models import FlowState
from storage.models import Meeting
from storage.models import Organisation


async def _meeting(turn: Turn, meeting_id: object) -> tuple[Meeting, Organisation]:
    meeting = (await minutes.meeting_by_id(turn.session, meeting_id)
               if isinstance(meeting_id, int) else None)
    org = await minutes.meeting_org(turn.session, meeting) if meeting is not None else None
    if org is None:
        raise InvalidButton()
    return meeting, org


@turn_handler(button=ConclusionsButton, action=Action.WRITE_MINUTES, target=meeting_cell)
async def conclusions_pressed(turn: Turn) -> None:
    if turn.button.action == "confirm":
        await _confirmed(turn)
        return
    meeting, org = await _meeting(turn, turn.button.meeting_id)
    await flows.begin(turn, CONCLUSIONS_FLOW, "text", meeting=meeting.id)
    await turn.answer()
    await flows.ask(turn, CONCLUSIONS_FLOW,
                    views.conclusions_prompt(turn.t, org.name, meeting.conclusions))


async def typed_conclusions(turn: Turn, state: FlowState, text: str) -> None:
    meeting, org = await _meeting(turn, flows.payload(state).get("meeting"))
    text = text.strip()
    if len(text) > minutes.CONCLUSIONS_MAX:
        raise Refusal("The conclusions are {length} characters long; at most {max} in one "
                      "message.", length=turn.t.number(len(text)),
                      max=turn.t.number(minutes.CONCLUSIONS_MAX))
    await ask_to_confirm(turn, state, views.confirm_text(turn.t, org.name, text),
                         reply_markup=views.confirm_keyboard(turn.t, meeting.id), text=text)


async def _confirmed(turn: Turn) -> None:
    state = await confirmed(turn, CONCLUSIONS_FLOW, meeting=turn.button.meeting_id)
    meeting, org = await _meeting(turn, turn.button.meeting_id)
    text = flows.payload(state)["text"]  # the confirmation step holds it (ask_to_confirm)
    await flows.finish(turn)
    await minutes.save_conclusions(turn.session, meeting, text, actor=turn.actor)
    await turn.reply(views.saved_text(turn.t, org.name, org.code))


CONCLUSIONS_FLOW = flows.declare(
    flows.Flow(
        "minutes_conclusions",
        N_("writing the chair's conclusions"),
        # Text typed at the confirmation replaces the draft and is shown again.
        (flows.Step("text", typed_conclusions, Action.WRITE_MINUTES, meeting_flow_org),
         flows.Step(CONFIRM, typed_conclusions, Action.WRITE_MINUTES, meeting_flow_org)),
        entry=("bien_ban",),
    )
)

HANDLERS = [
    CallbackQueryHandler(conclusions_pressed, pattern=ConclusionsButton.pattern()),
]
