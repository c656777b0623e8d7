"""/kiem_diem_chi_bo: the secretary's view of the cell's self-reviews: who is where, open one,
return it for revision with a reason (confirmed before it is done), and get them all as Word
files."""

from __future__ import annotations

from telegram.ext import CallbackQueryHandler
from telegram.ext import CommandHandler

from bot.i18n import N_
from bot.permissions import Action
from bot.services import reviews
from bot.services.decision import reachable_account
from bot.text import esc
from conversations import engine as flows
from conversations.self_review import send_docx
from handlers import scope
from handlers.base import Refusal
from handlers.base import Turn
from handlers.base import translator_for
from handlers.base import turn_handler
from handlers.scope import command_cell
from handlers.scope import review_button_cell
from handlers.scope import review_for
from handlers.views import review_admin as views
from handlers.views.review_admin import CellReviewButton
from handlers.views.review_admin import ReturnButton
from handlers.views.self_review import review_text
from storage.models import FlowState
from storage.models import Member
from storage.models import ReviewState
from storage.models import SelfReview

# The reason goes to the member inside a notice and is shown again above their review: it
# must leave room for both under Telegram's 4,096 characters.
MAX_REASON = 1000
NOT_SUBMITTED = N_("This self-review is not submitted, so there is nothing to return.")


async def _setting(turn: Turn, member: Member) -> reviews.ReviewSetting | None:
    tz = turn.services.settings.tz
    today = reviews.local_today(turn.services.now(), tz)
    return await reviews.review_setting(turn.session, member, tz, today)


@turn_handler(action=Action.READ_REVIEWS, target=command_cell)
async def cell_reviews(turn: Turn) -> None:
    cell = turn.target
    rows = []
    for member in await reviews.cell_members(turn.session, cell.id):
        setting = await _setting(turn, member)
        if setting is None:
            raise Refusal(
                "There is no review plan for your cell yet. Your upper committee opens it."
            )
        review = await reviews.find_review(turn.session, setting.cycle, member)
        flagged = bool(review and reviews.flags_of(review))
        rows.append(views.MemberRow(member, setting, review, flagged))
    parts, keyboard = views.listing_screen(
        turn.t, cell.name, cell.id, rows, turn.services.settings.tz
    )
    for part in parts[:-1]:
        await turn.reply(part)
    await turn.reply(parts[-1], reply_markup=keyboard)


@turn_handler(button=CellReviewButton, action=Action.READ_REVIEWS, target=review_button_cell)
async def admin_button(turn: Turn) -> None:
    pressed: CellReviewButton = turn.button
    if pressed.action == "all":
        await _send_all(turn)
        return
    review, member = await review_for(turn, pressed.ref)
    setting = await _setting(turn, member)
    await turn.answer()
    if pressed.action == "doc":
        await send_docx(turn, setting, review)
        return
    t = turn.t
    texts = await reviews.section_texts(turn.session, review)
    flags = views.flag_lines(t, setting, await reviews.flag_views(turn.session, review))
    text, keyboard = views.opened_screen(
        t,
        review_text(t, setting, review, texts),
        review,
        flags,
        turn.may(Action.RETURN_REVIEW, turn.target),
    )
    await turn.reply(text, reply_markup=keyboard)


@turn_handler(button=ReturnButton, action=Action.RETURN_REVIEW, target=review_button_cell)
async def return_button(turn: Turn) -> None:
    pressed: ReturnButton = turn.button
    review, member = await review_for(turn, pressed.review_id)
    if review.state != ReviewState.SUBMITTED:
        raise Refusal(NOT_SUBMITTED)
    if pressed.action == "ask":
        await flows.begin(turn, RETURN_FLOW, "reason", review=review.id)
        await turn.answer()
        await flows.ask(turn, RETURN_FLOW, views.reason_prompt(turn.t, member.full_name))
        return
    await _confirmed(turn, review, member)


async def return_reason(turn: Turn, state: FlowState, text: str) -> None:
    t = turn.t
    review, member = await review_for(turn, flows.payload(state)["review"])
    reason = text.strip()
    if len(reason) > MAX_REASON:  # still awaited: the secretary shortens it and sends again
        raise Refusal(
            "The reason has {count} characters; at most {max} fit. "
            "Shorten it and send it again.",
            count=t.number(len(reason)),
            max=t.number(MAX_REASON),
        )
    if review.state != ReviewState.SUBMITTED:
        await flows.finish(turn)
        raise Refusal(NOT_SUBMITTED)
    await flows.move(turn, state, "confirm", reason=reason)
    question, keyboard = views.confirm_return(t, member.full_name, reason, review.id)
    await flows.ask(turn, RETURN_FLOW, question, reply_markup=keyboard)


async def _confirmed(turn: Turn, review: SelfReview, member: Member) -> None:
    """✅ pressed: the flow must still be at this review's confirmation (the permission and
    the review's state were checked again by the press)."""
    t = turn.t
    state = await flows.pressed_at(turn, RETURN_FLOW, "confirm", review=review.id)
    reason = flows.payload(state)["reason"]
    reviews.return_review(turn.session, review, reason, turn.services.now(), turn.actor)
    await flows.finish(turn)
    account = await reachable_account(turn.session, member.id)
    if account is not None:
        mt = translator_for(account, turn.services)
        turn.notify(
            account.telegram_id,
            mt(views.RETURNED_NOTICE, reason=f"<i>{esc(reason)}</i>"),
            unreachable=views.unreachable_text(t, member.full_name),
        )
    await turn.answer()
    await turn.edit(views.returned_text(t, member.full_name, account is not None))


async def _send_all(turn: Turn) -> None:
    t = turn.t
    found = await reviews.submitted_in_cell(turn.session, turn.target.id)
    await turn.answer()
    progress = await turn.reply_now(t("Sending {count} Word files…", count=t.number(len(found))))
    for review, member in found:
        await send_docx(turn, await _setting(turn, member), review)
    done = t("Sent {count} Word files.", count=t.number(len(found)))
    turn.after_commit(lambda: progress.edit_text(done))


RETURN_FLOW = flows.declare(
    flows.Flow(
        "return_review",
        N_("returning a self-review"),
        (
            flows.Step("reason", return_reason, Action.RETURN_REVIEW, scope.review_cell),
            flows.Step("confirm"),  # pressed: ReturnButton declares its own target
        ),
    )
)

HANDLERS = [
    CommandHandler("kiem_diem_chi_bo", cell_reviews),
    CallbackQueryHandler(admin_button, pattern=CellReviewButton.pattern()),
    CallbackQueryHandler(return_button, pattern=ReturnButton.pattern()),
]
