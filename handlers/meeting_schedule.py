"""/lich_hop: the secretary sets the cell meeting's date and time (a calendar, or typed)."""

from __future__ import annotations

import calendar
import datetime as dt

from babel.dates import get_day_names
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.callbacks import InvalidButton, parse_date, parse_datetime, parse_int
from bot.i18n import N_
from bot.permissions import Action
from bot.services.cycles import cycle_for_org, cycle_rulebook
from bot.services.reviews import meeting_for
from bot.text import esc
from conversations import engine as flows
from handlers.base import Refusal, Turn, turn_handler
from handlers.scope import managed_cell
from rules.deadlines import self_review_due
from storage.models import AuditEntry, Cycle, FlowState, Meeting, Organisation

PREFIX = "lh:"
TIMES = ("07:30", "08:00", "08:30", "09:00", "13:30", "14:00", "14:30", "19:30")
TYPED_FORMAT = "%d/%m/%Y %H:%M"


def _noop(label: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=f"{PREFIX}x")


def calendar_keyboard(
    turn: Turn, cell: Organisation, month: dt.date, first: dt.date, last: dt.date
) -> InlineKeyboardMarkup:
    """A month of day buttons; days outside [first, last] are shown but not pressable."""
    t = turn.t
    rows = []
    previous_month = (month - dt.timedelta(days=1)).replace(day=1)
    next_month = (month + dt.timedelta(days=32)).replace(day=1)
    nav = [
        InlineKeyboardButton("«", callback_data=f"{PREFIX}m:{cell.id}:{previous_month:%Y-%m}")
        if previous_month >= first.replace(day=1)
        else _noop("·"),
        _noop(t("{month}/{year}", month=month.month, year=month.year)),
        InlineKeyboardButton("»", callback_data=f"{PREFIX}m:{cell.id}:{next_month:%Y-%m}")
        if next_month <= last
        else _noop("·"),
    ]
    rows.append(nav)
    names = get_day_names("short", locale=t.locale)
    rows.append([_noop(names[i]) for i in range(7)])
    for week in calendar.Calendar(firstweekday=0).monthdatescalendar(month.year, month.month):
        row = []
        for day in week:
            if day.month != month.month:
                row.append(_noop("·"))
            elif first <= day <= last:
                row.append(
                    InlineKeyboardButton(
                        str(day.day), callback_data=f"{PREFIX}d:{cell.id}:{day:%Y%m%d}"
                    )
                )
            else:
                row.append(_noop("·"))
        rows.append(row)
    return InlineKeyboardMarkup(rows)


async def _context(turn: Turn, cell: Organisation) -> tuple[Cycle, dt.date, dt.date]:
    cycle = await cycle_for_org(turn.session, cell)
    if cycle is None:
        raise Refusal("There is no review plan for your cell yet. Your upper committee opens it.")
    today = turn.services.now().astimezone(turn.services.settings.tz).date()
    if today > cycle.finish_by:
        raise Refusal(
            "The plan's finish-by date {date} has passed.", date=turn.t.date(cycle.finish_by)
        )
    return cycle, today, cycle.finish_by


@turn_handler()
async def schedule_command(turn: Turn) -> None:
    t = turn.t
    args = turn.context.args or []
    cell = await managed_cell(turn, Action.SCHEDULE_MEETING, args[0] if args else None)
    cycle, first, last = await _context(turn, cell)
    meeting = await meeting_for(turn.session, cycle, cell.id)
    lines = [
        t(
            "Meeting of {cell} for the {year} review.",
            cell=f"<b>{esc(cell.name)}</b>",
            year=cycle.year,
        )
    ]
    if meeting:
        lines.append(t("Now set for {when}.", when=t.datetime(meeting.scheduled_at)))
    lines.append(
        t(
            "Choose the day, or type the date and time like {example}. It must be by {last}.",
            example="05/12/2026 08:00",
            last=t.date(last),
        )
    )
    await flows.begin(turn, MEETING_FLOW, "date", cell=cell.id)
    await flows.ask(
        turn,
        MEETING_FLOW,
        "\n".join(lines),
        reply_markup=calendar_keyboard(turn, cell, first.replace(day=1), first, last),
    )


async def _cell_from(turn: Turn, cell_id: str) -> Organisation:
    cell = await turn.session.get(Organisation, parse_int(cell_id))
    if cell is None:
        raise Refusal("This button is no longer valid.")
    turn.require(Action.SCHEDULE_MEETING, cell)
    return cell


@turn_handler()
async def schedule_button(turn: Turn) -> None:
    t = turn.t
    parts = turn.query.data.removeprefix(PREFIX).split(":")
    if parts[0] == "x" or len(parts) != 3:
        await turn.answer()
        return
    action, cell_id, value = parts
    cell = await _cell_from(turn, cell_id)
    cycle, first, last = await _context(turn, cell)
    if action == "m":
        month = parse_date(value, "%Y-%m")
        if not first.replace(day=1) <= month <= last:
            raise InvalidButton()
        await turn.answer()
        await _replace_keyboard(turn, calendar_keyboard(turn, cell, month, first, last))
        return
    if action == "d":
        day = parse_date(value, "%Y%m%d")
        if not first <= day <= last:
            raise InvalidButton()
        rows = [
            [
                InlineKeyboardButton(
                    hm, callback_data=f"{PREFIX}t:{cell.id}:{day:%Y%m%d}{hm.replace(':', '')}"
                )
                for hm in TIMES[i : i + 4]
            ]
            for i in range(0, len(TIMES), 4)
        ]
        rows.append(
            [
                InlineKeyboardButton(
                    t("◀ Another day"), callback_data=f"{PREFIX}m:{cell.id}:{day:%Y-%m}"
                )
            ]
        )
        await turn.answer()
        await turn.edit(
            t(
                "Meeting on {date}: choose the time, or type it like {example}.",
                date=t.date(day),
                example=f"{day:%d/%m/%Y} 08:00",
            ),
            reply_markup=InlineKeyboardMarkup(rows),
        )
        return
    if action == "t":
        naive = parse_datetime(value, "%Y%m%d%H%M")
        if not first <= naive.date() <= last:
            raise InvalidButton()
        local = naive.replace(tzinfo=turn.services.settings.tz)
        text = await _save(turn, cell, cycle, local)
        await turn.answer(t("Saved"))
        await turn.edit(text)
        return
    raise Refusal("This button is no longer valid.")


async def _replace_keyboard(turn: Turn, markup: InlineKeyboardMarkup) -> None:
    """Show another month under the same text; nothing to do if that month is shown."""
    await turn.edit_keyboard(markup)


async def _save(turn: Turn, cell: Organisation, cycle: Cycle, local: dt.datetime) -> str:
    t = turn.t
    now = turn.services.now()
    if local <= now:
        raise Refusal("{when} is already past; choose a later time.", when=t.datetime(local))
    if local.date() > cycle.finish_by:
        raise Refusal(
            "The meeting must be by {date}, the plan's finish-by date.",
            date=t.date(cycle.finish_by),
        )
    meeting = await meeting_for(turn.session, cycle, cell.id)
    if meeting is None:
        meeting = Meeting(cycle_id=cycle.id, org_id=cell.id, scheduled_at=local)
        turn.session.add(meeting)
    meeting.scheduled_at = local.astimezone(dt.UTC)
    turn.session.add(
        AuditEntry.record(
            turn.actor, "meeting.schedule", "organisation", cell.code, at=local.isoformat()
        )
    )
    await flows.finish(turn)
    due = self_review_due(local.date(), cycle_rulebook(cycle))
    return t(
        "The meeting of {cell} is set for {when}. Self-reviews are due by {due}.",
        cell=f"<b>{esc(cell.name)}</b>",
        when=t.datetime(local),
        due=t.date(due),
    )


async def typed_date(turn: Turn, state: FlowState, text: str) -> None:
    cell = await _cell_from(turn, str(flows.payload(state)["cell"]))
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
            example="05/12/2026 08:00",
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
        (flows.Step("date", on_text=typed_date),),
        entry=('lich_hop',),
    )
)

HANDLERS = [
    CommandHandler("lich_hop", schedule_command),
    CallbackQueryHandler(schedule_button, pattern=f"^{PREFIX}"),
]
