"""The meeting's order (R-D3) as pure screens: the collectives, then the individuals; the
refusal of a members' ballot opened before the collectives, and the reason flow's prompts."""

from __future__ import annotations

from typing import Literal

from telegram import InlineKeyboardButton
from telegram import InlineKeyboardMarkup

from bot.callbacks import ButtonData
from bot.i18n import N_
from bot.i18n import Translator
from bot.services.unit_meeting import Collective
from bot.services.unit_meeting import MeetingOrder
from bot.text import bold
from bot.text import esc
from handlers.views.ballot import MeetingButton
from handlers.views.ballot import OpenButton
from handlers.views.ballot import names
from rules.meeting_order import Seat
from storage.models import OrgKind
from storage.models import UnitReviewState
from storage.models import UnitSubject


class OrderButton(ButtonData, prefix="uo"):
    """The order screen (show), a collective marked reviewed (done, its subject)."""

    action: Literal["show", "done"]
    meeting_id: int
    subject: UnitSubject | None = None


class ReasonButton(ButtonData, prefix="uoq"):
    """Record why the members' ballot goes before the collectives (start: the order_reason
    flow), and its confirmation (confirm)."""

    action: Literal["start", "confirm"]
    meeting_id: int


SUBJECT_LABELS = {
    UnitSubject.COMMITTEE: N_("The committee of {org}"),
    UnitSubject.STANDING: N_("The standing committee of {org}"),
}


def subject_label(t: Translator, org_name: str, subject: UnitSubject | str) -> str:
    """What a collective is called: the organisation, or its committee (plain text)."""
    subject = UnitSubject(subject)
    if subject is UnitSubject.ORGANISATION:
        return org_name
    return t(SUBJECT_LABELS[subject], org=org_name)


def order_button(t: Translator, meeting_id: int) -> InlineKeyboardButton:
    """The meeting screen's way to the order (handlers/views/ballot.py)."""
    return InlineKeyboardButton(
        t("📋 Order of the meeting"), callback_data=OrderButton("show", meeting_id).encode()
    )


def _collective_line(t: Translator, order: MeetingOrder, collective: Collective) -> str:
    label = esc(subject_label(t, collective.org.name, collective.subject))
    if collective.reviewed:
        line = "✅ " + t("{name}: reviewed at this meeting.", name=f"<b>{label}</b>")
        rating = order.rating(collective)
        if rating is not None and rating.not_rated:
            line += " " + t("Not rated this year.")
        elif rating is not None and rating.proposed_level:
            line += " " + t("Level proposed by the vote: {level}.",
                            level=f"<b>{rating.proposed_level}</b>")
        return line
    parts = []
    review = collective.review
    if review is not None and review.state == UnitReviewState.CIRCULATED:
        parts.append(t("report sent to the participants beforehand"))
    elif collective.has_report:
        parts.append(t("report drafted, not sent beforehand"))
    else:
        parts.append(t("no report in the bot: presented at the meeting"))
    if collective.comments:
        parts.append(t("{count} comments", count=collective.comments))
    if not collective.rated:
        parts.append(t("founded less than six months ago: reviewed, not rated"))
    return "⏳ " + f"<b>{label}</b>: " + "; ".join(parts) + "."


SEATS = {Seat.HEAD: N_("secretary"), Seat.DEPUTY: N_("deputy secretary")}
MAX_LISTED = 60  # individuals listed on the order screen (edited in place: one message)


def order_text(t: Translator, order: MeetingOrder) -> str:
    lines = [
        "📋 " + bold(t("Order of the meeting of {org}, {year}", org=order.org.name,
                       year=order.cycle.year)),
        t("Collectives first, then individuals; the head first, then the deputies and the "
          "members."),
        "",
        bold(t("1. The collectives")),
        t("Each report is presented, the members comment, then mark it reviewed."),
    ]
    lines += [_collective_line(t, order, c) for c in order.collectives]
    if order.lower_pending:
        lines.append(
            t(
                "Lower levels are reviewed first; these cells are not yet: {names}.",
                names=esc(", ".join(o.name for o in order.lower_pending)),
            )
        )
    lines += ["", bold(t("2. The individuals"))]
    for index, person in enumerate(order.individuals[:MAX_LISTED], start=1):
        line = f"{index}. {esc(person.member.full_name)}"
        if person.seat in SEATS:
            line += f" — {esc(t(SEATS[person.seat]))}"
        if person.seat is Seat.HEAD:
            line += " " + t("(a deputy chairs while the head is reviewed)")
        lines.append(line)
    if len(order.individuals) > MAX_LISTED:
        lines.append(t("… and {count} more, by name.", count=len(order.individuals) - MAX_LISTED))
    if not order.individuals:
        lines.append(t("Nobody present is to be reviewed here."))
    if order.deferred:
        lines.append(
            t(
                "Absent, reviewed and rated at a later meeting: {names}.",
                names=names(order.deferred, t),
            )
        )
    if any(p.public_servant for p in order.individuals) and OrgKind(order.org.kind).is_cell:
        lines.append(
            t(
                "Members who are public servants are rated once their civil-service rating "
                "is known."
            )
        )
    lines += ["", _ballot_line(t, order)]
    return "\n".join(lines)


def _ballot_line(t: Translator, order: MeetingOrder) -> str:
    if not OrgKind(order.org.kind).is_cell:
        return t("The committee votes on the levels of the đảng bộ and of its committee.")
    if order.collectives_done:
        return t("The collectives are reviewed: the members' secret ballot may open.")
    if order.reason:
        return t(
            "The members' ballot may open before the collectives; the reason recorded: {reason}",
            reason=f"<i>{esc(order.reason)}</i>",
        )
    return t("The members' secret ballot opens once the collectives are reviewed.")


def order_keyboard(
    t: Translator, order: MeetingOrder, extra: list[list[InlineKeyboardButton]] = ()
) -> InlineKeyboardMarkup:
    meeting_id = order.meeting.id
    rows = [
        [
            InlineKeyboardButton(
                "✅ " + t("Reviewed: {name}", name=subject_label(t, c.org.name, c.subject)),
                callback_data=OrderButton("done", meeting_id, c.subject).encode(),
            )
        ]
        for c in order.collectives
        if not c.reviewed
    ]
    rows += [list(row) for row in extra]
    rows.append(
        [InlineKeyboardButton(t("⬅ Attendance"), callback_data=MeetingButton("back", meeting_id).encode())]
    )
    return InlineKeyboardMarkup(rows)


def ballot_waits_text(t: Translator, order: MeetingOrder) -> str:
    waiting = [
        subject_label(t, c.org.name, c.subject) for c in order.collectives if not c.reviewed
    ]
    return "\n".join(
        [
            "📋 " + t("Collectives are reviewed before individuals."),
            t(
                "Not reviewed yet: {names}. The members' secret ballot opens once they are; "
                "mark them reviewed in the order of the meeting.",
                names=esc(", ".join(waiting)),
            ),
            t(
                "If the meeting decides to vote on the members first, record why: the reason "
                "goes into the minutes."
            ),
        ]
    )


def ballot_waits_keyboard(t: Translator, meeting_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [order_button(t, meeting_id)],
            [
                ReasonButton("start", meeting_id).button(t("✍ Record why the ballot goes first"))
            ],
        ]
    )


def reason_prompt(t: Translator, org_name: str) -> str:
    return t(
        "Why does the meeting of {org} vote on its members before reviewing its collectives? "
        "Type the reason; it goes into the minutes.",
        org=f"<b>{esc(org_name)}</b>",
    )


def reason_confirm_text(t: Translator, reason: str) -> str:
    return "\n".join(
        [
            t("Record this reason and let the members' ballot open before the collectives?"),
            "",
            f"<i>{esc(reason)}</i>",
        ]
    )


def reason_confirm_keyboard(t: Translator, meeting_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[ReasonButton("confirm", meeting_id).button(t("✅ Confirm"))]])


def reason_saved(t: Translator, meeting_id: int) -> tuple[str, InlineKeyboardMarkup]:
    text = t("The reason is recorded. The members' secret ballot may open now.")
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t("🗳 Open the secret ballot"),
                    callback_data=OpenButton("open", meeting_id).encode(),
                )
            ]
        ]
    )
    return text, markup
