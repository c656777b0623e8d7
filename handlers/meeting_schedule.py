"""/lich_hop: the secretary sets the cell meeting's date and time. One declared flow: the
calendar ("date": a day pressed, or the date and time typed), then the times of that day
("time": a time pressed, or the date and time typed)."""

from __future__ import annotations

import datetime as dt

from telegram.ext import CallbackQueryHandler
from telegram.ext import CommandHandler

from bot.callbacks import InvalidButton
from bot.callbacks import parse_datetime
from bot.i18n import N_
from bot.permissions import Action
from bot.services import reviews
from bot.services import unit_review
from bot.services.cycles import cycle_for_org
from bot.services.cycles import cycle_rulebook
from bot.text import esc
from conversations import engine as flows
from handlers import scope
from handlers.base import Refusal
from handlers.base import Turn
from handlers.base import turn_handler
from handlers.scope import command_cell
from handlers.scope import meeting_button_cell
from handlers.views import meeting as views
from handlers.views import unit_review as unit_views
from handlers.views.meeting import CalendarLabel
from handlers.views.meeting import MeetingButton
from rules.deadlines import self_review_due
from storage.models import Cycle
from storage.models import FlowState
from storage.models import Organisation

TYPED_FORMAT = "%d/%m/%Y %H:%M"


async def _context(turn: Turn, cell: Organisation) -> tuple[Cycle, dt.date, dt.date]:
    cycle = await cycle_for_org(turn.session, cell)
    if cycle is None:
        raise Refusal("There is no review plan for your cell yet. Your upper committee opens it.")
    today = reviews.local_today(turn.services.now(), turn.services.settings.tz)
    if today > cycle.finish_by:
        raise Refusal(
            "The plan's finish-by date {date} has passed.", date=turn.t.date(cycle.finish_by)
        )
    return cycle, today, cycle.finish_by


async def _calendar_text(turn: Turn, cell: Organisation, cycle: Cycle, last: dt.date) -> str:
    meeting = await reviews.meeting_for(turn.session, cycle, cell.id)
    scheduled = meeting.scheduled_at if meeting else None
    text = views.calendar_text(turn.t, cell.name, cycle.year, scheduled, last)
    return text + "\n" + await _needs(turn, cycle, cell, None)


async def _needs(turn: Turn, cycle: Cycle, cell: Organisation, day: dt.date | None) -> str:
    """R-D4's length and R-D1's draft date (issue 14, part A)."""
    needs = await unit_review.meeting_needs(turn.session, cycle, cell, day)
    return unit_views.meeting_needs_text(turn.t, needs)


@turn_handler(action=Action.SCHEDULE_MEETING, target=command_cell)
async def schedule_command(turn: Turn) -> None:
    cell = turn.target
    cycle, first, last = await _context(turn, cell)
    text = await _calendar_text(turn, cell, cycle, last)
    await flows.begin(turn, MEETING_FLOW, "date", cell=cell.id)
    keyboard = views.calendar_keyboard(turn.t, cell.id, first.replace(day=1), first, last)
    await flows.ask(turn, MEETING_FLOW, text, reply_markup=keyboard)


async def _at_step(turn: Turn, cell: Organisation, step: str, **values: object) -> None:
    """The flow at `step` for this cell (begun again if the calendar was pressed after the
    flow was left); the pressed message stays its prompt, so leaving strips its buttons."""
    state = await flows.active(turn, MEETING_FLOW)
    if state is None or flows.payload(state).get("cell") != cell.id:
        state = await flows.begin(turn, MEETING_FLOW, step, cell=cell.id, **values)
    else:
        await flows.move(turn, state, step, **values)
    message = turn.query.message
    if message is not None:
        state.prompt_chat_id, state.prompt_message_id = message.chat.id, message.message_id


@turn_handler(button=CalendarLabel)
async def label_pressed(turn: Turn) -> None:
    await turn.answer()


@turn_handler(button=MeetingButton, action=Action.SCHEDULE_MEETING, target=meeting_button_cell)
async def schedule_button(turn: Turn) -> None:
    t = turn.t
    pressed: MeetingButton = turn.button
    cell = turn.target
    cycle, first, last = await _context(turn, cell)
    if pressed.action == "m":
        month = pressed.day
        if month.day != 1 or not first.replace(day=1) <= month <= last or pressed.time:
            raise InvalidButton()
        await _at_step(turn, cell, "date", day=None)
        keyboard = views.calendar_keyboard(t, cell.id, month, first, last)
        await turn.answer()
        text = await _calendar_text(turn, cell, cycle, last)
        await turn.edit(text, reply_markup=flows.with_cancel(t, MEETING_FLOW, keyboard))
        return
    if not first <= pressed.day <= last:
        raise InvalidButton()
    if pressed.action == "d":
        if pressed.time:
            raise InvalidButton()
        await _at_step(turn, cell, "time", day=pressed.day.isoformat())
        text, keyboard = views.times_screen(t, cell.id, pressed.day)
        await turn.answer()
        await turn.edit(text, reply_markup=flows.with_cancel(t, MEETING_FLOW, keyboard))
        return
    clock = parse_datetime(pressed.time, "%H%M")
    local = dt.datetime.combine(pressed.day, clock.time(), tzinfo=turn.services.settings.tz)
    text = await _save(turn, cell, cycle, local)
    await turn.answer(t("Saved"))
    await turn.edit(text)


async def _save(turn: Turn, cell: Organisation, cycle: Cycle, local: dt.datetime) -> str:
    t = turn.t
    if local <= turn.services.now():
        raise Refusal("{when} is already past; choose a later time.", when=t.datetime(local))
    if local.date() > cycle.finish_by:
        raise Refusal(
            "The meeting must be by {date}, the plan's finish-by date.",
            date=t.date(cycle.finish_by),
        )
    await reviews.save_meeting(turn.session, cycle, cell, local, turn.actor)
    await flows.finish(turn)
    due = self_review_due(local.date(), cycle_rulebook(cycle))
    return views.saved_text(t, cell.name, local, due) + "\n" + await _needs(
        turn, cycle, cell, local.date())


async def typed_date(turn: Turn, state: FlowState, text: str) -> None:
    cell = turn.target  # the step's declared target, SCHEDULE_MEETING required on it
    cycle, first, last = await _context(turn, cell)
    typed = " ".join(text.split())
    try:
        if not typed.isascii() or len(typed) > 20:  # "٠٥/١٢/٢٠٢٦" passes strptime's \d
            raise ValueError(typed)
        naive = dt.datetime.strptime(typed, TYPED_FORMAT)
    except ValueError:
        raise Refusal(
            "I could not read «{text}» as a date and time. Type it like {example}.",
            text=esc(text[:40]),
            example=views.EXAMPLE,
        ) from None
    if naive.date() < first:  # also keeps year 1 away from time-zone arithmetic
        raise Refusal("{when} is already past; choose a later time.", when=esc(typed))
    if naive.date() > last:
        raise Refusal(
            "The meeting must be by {date}, the plan's finish-by date.", date=turn.t.date(last)
        )
    await turn.reply(
        await _save(turn, cell, cycle, naive.replace(tzinfo=turn.services.settings.tz))
    )


MEETING_FLOW = flows.declare(
    flows.Flow(
        "meeting_date",
        N_("setting the meeting date"),
        tuple(
            flows.Step(step, typed_date, Action.SCHEDULE_MEETING, scope.meeting_flow_cell)
            for step in ("date", "time")
        ),
        entry=("lich_hop",),
    )
)

HANDLERS = [
    CommandHandler("lich_hop", schedule_command),
    CallbackQueryHandler(label_pressed, pattern=CalendarLabel.pattern()),
    CallbackQueryHandler(schedule_button, pattern=MeetingButton.pattern()),
]
