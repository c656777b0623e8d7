"""/kiem_diem: the self-review form as a declared flow, one part at a time.

The steps (what the member is asked for now): "section" (typed text for one part of the form;
the part's key is in the payload), "scores_general" and "scores_tasks" (typed points),
"level" (a button), "preview" (the whole review, buttons to edit or submit) and "submit"
(the confirmation: submitting is final for the member).

What must survive /huy, a crash or a restart stays in the review itself, not in the flow:
every piece of text (saved as each message arrives), the points, the level, and the part the
member stands at (SelfReview.stage). Leaving the flow deletes only its state (which input is
awaited now); /kiem_diem reads SelfReview.stage and takes the flow up again at that step.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from telegram import Update
from telegram.ext import ApplicationHandlerStop
from telegram.ext import CallbackQueryHandler
from telegram.ext import CommandHandler
from telegram.ext import MessageHandler
from telegram.ext import filters

from bot.callbacks import typed_int
from bot.context import BotContext
from bot.i18n import N_
from bot.i18n import Translator
from bot.services import reviews
from bot.services.review_docx import render_review_docx
from bot.services.reviews import LEVEL
from bot.services.reviews import PREVIEW
from bot.services.reviews import SCORE_GENERAL
from bot.services.reviews import SCORE_TASKS
from bot.services.reviews import ReviewSetting
from bot.text import esc
from conversations import engine as flows
from conversations import unit_review
from handlers.base import Refusal
from handlers.base import Turn
from handlers.base import turn_handler
from handlers.views import self_review as views
from handlers.views.self_review import ReviewButton
from rules.review_form import MAX_SECTION_CHARS
from storage.models import FlowState
from storage.models import ReviewState
from storage.models import SelfReview

SECTION, SUBMIT = "section", "submit"
NOT_OPEN = N_("That part is no longer the one open. Send /kiem_diem to continue.")
PIECE_TOO_LONG = N_(
    "This part can hold at most {max} characters; that message was not saved. "
    "{room} characters are left: shorten it, or put the rest in another part."
)
EDIT_TOO_LONG = N_(
    "This part can hold at most {max} characters; the edit was not taken. "
    "{room} characters are left for that message."
)


@contextlib.contextmanager
def _fitting(t: Translator, msgid: str) -> Iterator[None]:
    """A piece that would make its part longer than the form allows is refused with `msgid`
    (nothing is saved), saying how much room is left."""
    try:
        yield
    except reviews.SectionFull as full:
        raise Refusal(msgid, max=t.number(MAX_SECTION_CHARS), room=t.number(full.room)) from None


def step_of(stage: str) -> str:
    """The flow's step for the review's stage: a part of the form is the "section" step."""
    return stage if stage in (SCORE_GENERAL, SCORE_TASKS, LEVEL, PREVIEW) else SECTION


async def _setting(turn: Turn) -> ReviewSetting:
    turn.require_member()
    services = turn.services
    today = reviews.local_today(services.now(), services.settings.tz)
    setting = await reviews.review_setting(
        turn.session, turn.identity.member, services.settings.tz, today
    )
    if setting is None:
        raise Refusal("There is no review plan for your cell yet. Your upper committee opens it.")
    return setting


@turn_handler()
async def start_review(turn: Turn) -> None:
    t = turn.t
    setting = await _setting(turn)
    if not setting.eligibility.reviewed:
        await turn.reply(views.not_reviewed_text(t, setting))
        return
    review = await reviews.find_review(turn.session, setting.cycle, setting.member)
    if review is None:
        review = await reviews.open_review(turn.session, setting)
        await turn.reply(views.intro_text(t, setting))
    elif review.state == ReviewState.SUBMITTED:
        text, keyboard = views.submitted_screen(t, review)
        await turn.reply(text, reply_markup=keyboard)
        return
    elif review.state == ReviewState.RETURNED:
        await turn.reply(views.returned_text(t, review))
    else:
        await turn.reply(views.welcome_back_text(t, setting))
    await show_stage(turn, setting, review)


async def _enter(turn: Turn, review: SelfReview, step: str) -> None:
    """Put the member's flow at `step` for this review (begun again after /huy)."""
    section = review.stage if step == SECTION else None
    state = await flows.active(turn, REVIEW_FLOW)
    if state is None or flows.payload(state).get("review") != review.id:
        await flows.begin(turn, REVIEW_FLOW, step, review=review.id, section=section)
    else:
        await flows.move(turn, state, step, review=review.id, section=section)


async def show_stage(turn: Turn, setting: ReviewSetting, review: SelfReview) -> None:
    """Ask for what the review's stage needs, at the matching step of the flow."""
    t = turn.t
    stage = review.stage
    step = step_of(stage)
    await _enter(turn, review, step)
    if step == PREVIEW:
        review.reached_preview = True
        texts = await reviews.section_texts(turn.session, review)
        text, keyboard = views.preview_screen(t, setting, review, texts)
    elif step in (SCORE_GENERAL, SCORE_TASKS):
        text, keyboard = views.score_prompt(t, setting, review, stage)
    elif step == LEVEL:
        allowed = reviews.level_choices(setting, review)
        text, keyboard = views.levels_prompt(t, review, allowed, reviews.score_of(review))
    else:
        length, _ = await reviews.section_length(turn.session, review, stage)
        prompts = await reviews.prompts_for_part(turn.session, setting, stage)
        text, keyboard = views.section_prompt(t, setting, review, stage, length, prompts)
    await flows.ask(turn, REVIEW_FLOW, text, reply_markup=keyboard)


async def _open_review(turn: Turn, state: FlowState) -> tuple[ReviewSetting, SelfReview]:
    """The review the flow is about, still open for writing at the flow's step; else the flow
    ends and the member is sent to /kiem_diem."""
    setting = await _setting(turn)
    values = flows.payload(state)
    review = await reviews.review_by_id(turn.session, values["review"])
    if (
        review is None
        or review.member_id != setting.member.id
        or review.state == ReviewState.SUBMITTED
    ):
        await flows.finish(turn)
        raise Refusal(
            "Your self-review is not open for writing. Send /kiem_diem to see where it stands."
        )
    if step_of(review.stage) != state.step or (
        state.step == SECTION and values.get("section") != review.stage
    ):
        await flows.finish(turn)
        raise Refusal(NOT_OPEN)
    return setting, review


async def section_text(turn: Turn, state: FlowState, text: str) -> None:
    """A message for the open part: saved at once, as one more piece of it."""
    t = turn.t
    setting, review = await _open_review(turn, state)
    key = review.stage
    with _fitting(t, PIECE_TOO_LONG):
        length = await reviews.append_piece(
            turn.session, review, key, text, turn.update.effective_message.message_id,
            now=turn.services.now(),
        )
    keyboard = views.section_keyboard(t, setting, review, key)
    # The part's buttons move under this acknowledgement: one live keyboard, the latest.
    await flows.ask(
        turn, REVIEW_FLOW, views.saved_text(t, length, MAX_SECTION_CHARS), reply_markup=keyboard
    )


async def score_text(turn: Turn, state: FlowState, text: str) -> None:
    setting, review = await _open_review(turn, state)
    maximum = views.score_maximum(setting, review.stage)
    value = text.strip()
    score = typed_int(value, 0, maximum)  # ASCII digits only: "²" and "٣" are refused too
    if score is None:
        raise Refusal(
            "Please type a whole number from 0 to {max}; «{text}» is not one.",
            max=maximum,
            text=esc(value[:20]),
        )
    reviews.take_score(setting, review, score)
    await show_stage(turn, setting, review)


@turn_handler(button=ReviewButton)
async def review_button(turn: Turn) -> None:
    t = turn.t
    pressed: ReviewButton = turn.button
    action, arg = pressed.action, pressed.arg
    setting = await _setting(turn)
    review = await reviews.find_review(turn.session, setting.cycle, setting.member)
    if review is None:
        raise Refusal("This button is no longer valid.")
    if action == "view":
        await turn.answer()
        texts = await reviews.section_texts(turn.session, review)
        await turn.reply(views.review_text(t, setting, review, texts))
        return
    if action == "docx":
        await turn.answer()
        await send_docx(turn, setting, review)
        return
    if review.state == ReviewState.SUBMITTED:
        raise Refusal(
            "Your self-review is submitted; only your secretary can return it for changes."
        )
    stages = setting.stages()
    if action in ("done", "show", "undo", "back") and arg != review.stage:
        raise Refusal(NOT_OPEN)
    match action:
        case "show":
            text = (await reviews.section_texts(turn.session, review)).get(arg, "")
            await turn.answer()
            await turn.reply(esc(text) if text.strip() else t("(nothing written)"))
            return
        case "undo":
            removed = await reviews.drop_last_piece(turn.session, review, arg)
            length, _ = await reviews.section_length(turn.session, review, arg)
            await turn.answer(
                t("Last message deleted ({count} characters left).", count=t.number(length))
                if removed
                else t("There is nothing to delete in this part.")
            )
            return
        case "done":
            section = setting.section(arg)
            texts = await reviews.section_texts(turn.session, review)
            if section is None:
                raise Refusal("This button is no longer valid.")
            if not section.optional and not texts.get(arg, "").strip():
                raise Refusal("This part is required: write it before pressing «Done».")
            missing = reviews.missing_parts(setting, review, texts)
            review.stage = reviews.next_stage(setting, review, arg, missing)
        case "back":
            review.stage = reviews.previous_stage(setting, arg)
        case "goto":
            if arg not in stages or (arg == PREVIEW and not review.reached_preview):
                raise Refusal("This button is no longer valid.")
            review.stage = arg
        case "lvl":
            if review.stage != LEVEL:
                raise Refusal(NOT_OPEN)
            allowed = reviews.level_choices(setting, review)
            if arg not in {level.value for level in allowed.levels}:
                raise Refusal("The rules do not allow this level for you.")
            review.proposed_level = arg
            review.stage = PREVIEW
        case "submit":
            await _ask_to_submit(turn, setting, review)
            return
        case "confirm":
            await _submit(turn, setting, review)
            return
        case "cancel":
            await _at_submit(turn)
            await turn.answer()
            await turn.edit(t("Not submitted. You can keep editing."))
            review.stage = PREVIEW
            await show_stage(turn, setting, review)
            return
    await turn.edit_keyboard(None)  # the pressed screen is over: its buttons go
    await turn.answer()
    await show_stage(turn, setting, review)


async def _at_submit(turn: Turn) -> FlowState:
    """The flow's state at the confirmation step; a press on an older question is refused."""
    state = await flows.active(turn, REVIEW_FLOW)
    if state is None or state.step != SUBMIT:
        raise Refusal("This button is no longer valid.")
    return state


def _require_complete(turn: Turn, setting: ReviewSetting, review: SelfReview, texts) -> None:
    missing = reviews.missing_parts(setting, review, texts)
    if missing:
        raise Refusal(
            "Still to fill in before submitting: {parts}",
            parts=views.missing_names(turn.t, setting, missing),
        )


async def _ask_to_submit(turn: Turn, setting: ReviewSetting, review: SelfReview) -> None:
    if review.stage != PREVIEW:
        raise Refusal(NOT_OPEN)
    texts = await reviews.section_texts(turn.session, review)
    _require_complete(turn, setting, review, texts)
    await turn.answer()
    await turn.edit_keyboard(None)  # the preview's buttons go while the question is open
    flags = await reviews.copy_flags(turn.session, setting, review)
    await _enter(turn, review, SUBMIT)
    text, keyboard = views.submit_question(turn.t, setting, flags)
    await flows.ask(turn, REVIEW_FLOW, text, reply_markup=keyboard)


async def _submit(turn: Turn, setting: ReviewSetting, review: SelfReview) -> None:
    """The confirmation pressed: everything is checked again (the question may be old)."""
    await _at_submit(turn)
    texts = await reviews.section_texts(turn.session, review)
    _require_complete(turn, setting, review, texts)
    now = turn.services.now()
    flags = await reviews.copy_flags(turn.session, setting, review)
    reviews.record_submit(
        turn.session, review, setting, flags, now, turn.services.settings.tz, turn.actor
    )
    await flows.finish(turn)
    await turn.answer(turn.t("Submitted"))
    await turn.edit(views.submitted_now_text(turn.t, setting, review, now))


async def send_docx(turn: Turn, setting: ReviewSetting, review: SelfReview) -> None:
    services = turn.services
    document = await reviews.build_document(
        turn.session, setting, review, services.now(), services.settings.tz
    )
    content = await asyncio.to_thread(render_review_docx, document, turn.t)
    caption, filename = views.docx_caption(turn.t, setting)
    chat_id, bot = turn.chat_id, turn.context.bot
    turn.after_commit(
        lambda: bot.send_document(chat_id, content, filename=filename, caption=caption)
    )


@turn_handler()
async def download_review(turn: Turn) -> None:
    setting = await _setting(turn)
    review = await reviews.find_review(turn.session, setting.cycle, setting.member)
    if review is None:
        raise Refusal("You have not started your self-review yet: send /kiem_diem.")
    await send_docx(turn, setting, review)


@turn_handler()
async def _edited(turn: Turn) -> None:
    t = turn.t
    message = turn.update.edited_message
    member = turn.identity.member
    found = (
        await reviews.piece_of_message(turn.session, member.id, message.message_id)
        if member is not None and message.text
        else None
    )
    if found is None and await unit_review.take_edit(turn):
        return  # a piece of a collective's report (issue 14, part A)
    if found is None:
        await turn.reply(
            t(
                "I take edits only of the messages that make up your self-review. "
                "If you meant to send something, send it again as a new message."
            )
        )
        return
    review, piece = found
    if review.state == ReviewState.SUBMITTED:
        raise Refusal(
            "Your self-review is submitted, so that edit was not taken. Your secretary can "
            "return it to you for changes."
        )
    setting = await _setting(turn)
    section = setting.section(piece.section_key)
    with _fitting(t, EDIT_TOO_LONG):
        length = await reviews.replace_piece(
            turn.session, review, piece, message.text, now=turn.services.now()
        )
    heading = section.heading if section else None
    await turn.reply(views.edit_taken_text(t, heading, length, MAX_SECTION_CHARS))


async def edited_message(update: Update, context: BotContext) -> None:
    """An edited message: a piece of the self-review takes the new text; nothing else runs
    again (an edited command is not a new command)."""
    await _edited(update, context)
    raise ApplicationHandlerStop


# Group -1 (bot/app.py): edits are handled here and stop there.
EDIT_HANDLERS = [MessageHandler(filters.UpdateType.EDITED_MESSAGE, edited_message)]

REVIEW_FLOW = flows.declare(
    flows.Flow(
        "self_review",
        N_("writing your self-review"),
        (
            flows.Step(SECTION, on_text=section_text),
            flows.Step(SCORE_GENERAL, on_text=score_text),
            flows.Step(SCORE_TASKS, on_text=score_text),
            flows.Step(LEVEL),
            flows.Step(PREVIEW),
            flows.Step(SUBMIT),
        ),
        kept=N_("Everything you wrote is saved; send /kiem_diem to go on."),
        entry=("kiem_diem",),
        keeps=("tai_ban_kiem_diem",),
    )
)

HANDLERS = [
    CommandHandler("kiem_diem", start_review),
    CommandHandler("tai_ban_kiem_diem", download_review),
    CallbackQueryHandler(review_button, pattern=ReviewButton.pattern()),
]
