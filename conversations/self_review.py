"""/kiem_diem: the self-review form as a guided conversation, one section at a time.

Where the member stands is kept in the database (SelfReview.stage, and the
flow's state in conversations/engine.py), not in a
ConversationHandler's memory: PTB persists conversation states only every so often, while
this form must survive a crash between any two messages. Every message is saved as it comes.
"""

from __future__ import annotations

import asyncio

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.callbacks import typed_int
from bot.context import BotContext
from bot.i18n import N_
from bot.services import reviews
from bot.services.prompts import prompts_for
from bot.services.review_docx import PROMPTS_KEY, ReviewDocument, render_review_docx
from bot.services.reviews import LEVEL, PREVIEW, SCORE_GENERAL, SCORE_TASKS, ReviewSetting
from bot.text import esc
from conversations import engine as flows
from handlers.base import Refusal, Turn, turn_handler
from rules.forms import FORM_TITLES
from rules.levels import Level
from rules.review_form import MAX_SECTION_CHARS, PROMPTS_FROM
from storage.models import FlowState, Organisation, ReviewState, SelfReview

PREFIX = "kd:"


def button(label: str, action: str, arg: str = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=f"{PREFIX}{action}:{arg}")


async def _setting(turn: Turn) -> ReviewSetting:
    turn.require_member()
    services = turn.services
    today = services.now().astimezone(services.settings.tz).date()
    setting = await reviews.review_setting(
        turn.session, turn.identity.member, services.settings.tz, today
    )
    if setting is None:
        raise Refusal("There is no review plan for your cell yet. Your upper committee opens it.")
    return setting


def _not_reviewed_text(turn: Turn, setting: ReviewSetting) -> str:
    t = turn.t
    lines = [t("You do not write a self-review this year:")]
    lines += [f"• {esc(reason.render(t.gettext))}" for reason in setting.eligibility.reasons]
    return "\n".join(lines)


def _due_line(turn: Turn, setting: ReviewSetting) -> str:
    t = turn.t
    if setting.due is None:
        return t(
            "Your cell has not set its meeting date yet; the review will be due {days} days before it.",
            days=setting.rulebook.self_review_days_before,
        )
    return t(
        "Due: {date} ({days} days before the cell meeting).",
        date=t.date(setting.due),
        days=setting.rulebook.self_review_days_before,
    )


@turn_handler()
async def start_review(turn: Turn) -> None:
    setting = await _setting(turn)
    if not setting.eligibility.reviewed:
        await turn.reply(_not_reviewed_text(turn, setting))
        return
    review = await reviews.find_review(turn.session, setting.cycle, setting.member)
    t = turn.t
    if review is None:
        review = await reviews.open_review(turn.session, setting)
        intro = [
            t(
                "<b>{form}</b> — year {year}",
                form=t(FORM_TITLES[setting.form_code]),
                year=setting.cycle.year,
            ),
            _due_line(turn, setting),
            t(
                "Write each part in as many messages as you like; everything is saved as it arrives. "
                "Press «Done» to go on. You can stop at any time and come back with /kiem_diem."
            ),
        ]
        if not setting.eligibility.rated:
            intro.append(
                t("This year you are reviewed but not rated, so the form has no self-rating.")
            )
        await turn.reply("\n\n".join(intro))
    elif review.state == ReviewState.SUBMITTED:
        await _show_submitted(turn, setting, review)
        return
    elif review.state == ReviewState.RETURNED:
        await turn.reply(
            t(
                "Your secretary returned your self-review for revision: {reason}",
                reason=f"<i>{esc(review.return_reason or '')}</i>",
            )
        )
    else:
        await turn.reply(
            t("Welcome back. You continue where you left off.") + "\n" + _due_line(turn, setting)
        )
    await show_stage(turn, setting, review)


async def _show_submitted(turn: Turn, setting: ReviewSetting, review: SelfReview) -> None:
    t = turn.t
    text = t("You submitted your self-review on {when}.", when=t.datetime(review.submitted_at))
    if review.late:
        text += " " + t("It was submitted after the due date.")
    keyboard = InlineKeyboardMarkup(
        [[button(t("👁 View"), "view"), button(t("📥 Word file"), "docx")]]
    )
    await turn.reply(
        text + "\n" + t("Only your secretary can return it to you for changes."),
        reply_markup=keyboard,
    )


def _section_keyboard(
    turn: Turn, setting: ReviewSetting, review: SelfReview, key: str
) -> InlineKeyboardMarkup:
    t = turn.t
    section = setting.section(key)
    first = [button(t("✅ Done"), "done", key)]
    if section.optional:
        first.append(button(t("⏭ Skip (not applicable)"), "done", key))
    second = [
        button(t("📄 Show this part"), "show", key),
        button(t("↩️ Delete last message"), "undo", key),
    ]
    third = []
    if setting.stages().index(key) > 0:
        third.append(button(t("◀ Back"), "back", key))
    if review.reached_preview:
        third.append(button(t("👁 Whole review"), "goto", PREVIEW))
    return InlineKeyboardMarkup([first, second] + ([third] if third else []))


async def show_stage(turn: Turn, setting: ReviewSetting, review: SelfReview) -> None:
    t = turn.t
    stage = review.stage
    state = await flows.active(turn, REVIEW_FLOW)
    if state is None or flows.payload(state).get("review") != review.id:
        await flows.begin(turn, REVIEW_FLOW, "write", review=review.id)
    if stage == PREVIEW:
        await show_preview(turn, setting, review)
        return
    if stage in (SCORE_GENERAL, SCORE_TASKS):
        maximum = (
            setting.rulebook.score_general_max
            if stage == SCORE_GENERAL
            else setting.rulebook.score_tasks_max
        )
        prompt = (
            t(
                "B. Self-rating. Type your points for the general criteria (political quality, ethics, "
                "discipline, self-criticism), from 0 to {max}:",
                max=maximum,
            )
            if stage == SCORE_GENERAL
            else t("Type your points for the results of your tasks, from 0 to {max}:", max=maximum)
        )
        back = InlineKeyboardMarkup([[button(t("◀ Back"), "back", stage)]])
        await flows.ask(turn, REVIEW_FLOW, prompt, reply_markup=back)
        return
    if stage == LEVEL:
        await _show_levels(turn, setting, review)
        return
    section = setting.section(stage)
    stages = setting.stages()
    length, _ = await reviews.section_length(turn.session, review, stage)
    lines = [
        t("Part {n} of {total}", n=stages.index(stage) + 1, total=len(setting.sections)),
        f"<b>{esc(t(section.heading))}</b>",
        f"<i>{esc(t(section.hint))}</i>",
        *await _prompt_lines(turn, setting, stage),
        "",
        t(
            "Written so far: {count} characters. Send more to continue, or press «Done».",
            count=t.number(length),
        )
        if length
        else (
            t("Optional: write it if it applies to you, or press «Skip».")
            if section.optional
            else t("Send your text; several messages are fine. Then press «Done».")
        ),
    ]
    keyboard = _section_keyboard(turn, setting, review, stage)
    await flows.ask(turn, REVIEW_FLOW, "\n".join(lines), reply_markup=keyboard)


async def _prompt_lines(turn: Turn, setting: ReviewSetting, stage: str) -> list[str]:
    """Part IV: the points an upper level sent the member (issue 14), to answer here."""
    if stage != PROMPTS_KEY:
        return []
    lines = []
    for prompt in await prompts_for(turn.session, setting.cycle.id, setting.member.id):
        lines += ["", esc(turn.t(PROMPTS_FROM, org=prompt.org_name)), esc(prompt.text)]
    return lines


async def _show_levels(turn: Turn, setting: ReviewSetting, review: SelfReview) -> None:
    t = turn.t
    allowed = reviews.level_choices(setting, review)
    lines = [t("Choose the quality level you propose for yourself:")]
    score = reviews.score_of(review)
    if score is not None:
        lines.append(t("Your total: {total}/100.", total=t.number(score.total)))
    lines += [f"• {esc(note.render(t.gettext))}" for note in allowed.explanations]
    rows = [
        [button(f"{level.value} — {t(level.name_msgid)}", "lvl", level.value)]
        for level in allowed.levels
    ]
    rows.append([button(t("◀ Back"), "back", LEVEL)])
    await flows.ask(turn, REVIEW_FLOW, "\n".join(lines), reply_markup=InlineKeyboardMarkup(rows))


async def review_text(turn: Turn, setting: ReviewSetting, review: SelfReview) -> str:
    """The whole review as HTML lines (headings bold, the member's text escaped)."""
    t = turn.t
    texts = await reviews.section_texts(turn.session, review)
    member = setting.member
    lines = [
        f"<b>{esc(t(FORM_TITLES[setting.form_code]))}</b> — "
        + t("year {year}", year=setting.cycle.year),
        t("Full name: {name}", name=esc(member.full_name)),
        "",
    ]
    for section in setting.sections:
        lines.append(f"<b>{esc(t(section.heading))}</b>")
        lines.append(esc(texts.get(section.key, "").strip()) or t("(nothing written)"))
        lines.append("")
    if setting.eligibility.rated:
        score = reviews.score_of(review)
        if setting.scored:
            lines.append(
                t(
                    "Points: general {general}/30, tasks {tasks}/70, total {total}/100.",
                    general=review.general_score,
                    tasks=review.task_score,
                    total=score.total,
                )
                if score
                else t("Points: not entered yet.")
            )
        level = reviews.proposed_level(review)
        lines.append(
            t("Proposed level: {level}", level=f"<b>{level.value} — {esc(t(level.name_msgid))}</b>")
            if level
            else t("Proposed level: not chosen yet.")
        )
    return "\n".join(lines)


async def show_preview(turn: Turn, setting: ReviewSetting, review: SelfReview) -> None:
    t = turn.t
    review.reached_preview = True
    rows = []
    for section in setting.sections:
        label = t(section.heading)
        rows.append(
            [button("✏️ " + (label if len(label) <= 40 else label[:39] + "…"), "goto", section.key)]
        )
    if setting.eligibility.rated:
        extra = [button(t("✏️ Points"), "goto", SCORE_GENERAL)] if setting.scored else []
        rows.append(extra + [button(t("✏️ Level"), "goto", LEVEL)])
    rows.append([button(t("📥 Word file"), "docx"), button(t("📨 Submit"), "submit")])
    text = await review_text(turn, setting, review)
    text += "\n\n" + t("Check your review. Edit any part, or submit it.")
    text += "\n" + _due_line(turn, setting)
    await flows.ask(turn, REVIEW_FLOW, text, reply_markup=InlineKeyboardMarkup(rows))


def _next_stage(
    setting: ReviewSetting, review: SelfReview, current: str, missing: list[str]
) -> str:
    stages = setting.stages()
    if review.reached_preview and not missing:
        return PREVIEW
    index = stages.index(current) if current in stages else -1
    return stages[min(index + 1, len(stages) - 1)]


async def review_message(turn: Turn, state: FlowState, text: str) -> None:
    t = turn.t
    setting = await _setting(turn)
    review = await turn.session.get(SelfReview, flows.payload(state)["review"])
    if (
        review is None
        or review.member_id != setting.member.id
        or review.state == ReviewState.SUBMITTED
    ):
        await flows.finish(turn)
        raise Refusal(
            "Your self-review is not open for writing. Send /kiem_diem to see where it stands."
        )
    stage = review.stage
    if stage in (SCORE_GENERAL, SCORE_TASKS):
        await _take_score(turn, setting, review, text)
        return
    if setting.section(stage) is None:
        await turn.reply(t("Please use the buttons under the last message, or send /kiem_diem."))
        return
    try:
        length = await reviews.append_piece(
            turn.session, review, stage, text, turn.update.effective_message.message_id
        )
    except reviews.SectionFull as full:
        raise Refusal(
            "This part can hold at most {max} characters; that message was not saved. "
            "{room} characters are left: shorten it, or put the rest in another part.",
            max=t.number(MAX_SECTION_CHARS),
            room=t.number(full.room),
        ) from None
    saved = t(
        "Saved ({count}/{max} characters). Send more, or press «Done».",
        count=t.number(length),
        max=t.number(MAX_SECTION_CHARS),
    )
    keyboard = _section_keyboard(turn, setting, review, stage)
    await flows.ask(turn, REVIEW_FLOW, saved, reply_markup=keyboard, keep_previous=True)


async def _take_score(turn: Turn, setting: ReviewSetting, review: SelfReview, text: str) -> None:
    general = review.stage == SCORE_GENERAL
    maximum = setting.rulebook.score_general_max if general else setting.rulebook.score_tasks_max
    value = text.strip()
    score = typed_int(value, 0, maximum)  # ASCII digits only: "²" and "٣" are refused too
    if score is None:
        raise Refusal(
            "Please type a whole number from 0 to {max}; «{text}» is not one.",
            max=maximum,
            text=esc(value[:20]),
        )
    if general:
        review.general_score = score
        review.stage = SCORE_TASKS
    else:
        review.task_score = score
        review.stage = LEVEL
        level = reviews.proposed_level(review)
        if level is not None and level not in reviews.level_choices(setting, review).levels:
            review.proposed_level = None  # the new points no longer allow it
    await show_stage(turn, setting, review)


@turn_handler()
async def review_button(turn: Turn) -> None:
    t = turn.t
    _, action, arg = (turn.query.data.split(":", 2) + [""])[:3]
    setting = await _setting(turn)
    review = await reviews.find_review(turn.session, setting.cycle, setting.member)
    if review is None:
        raise Refusal("This button is no longer valid.")
    if action == "view":
        await turn.answer()
        await turn.reply(await review_text(turn, setting, review))
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
        raise Refusal("That part is no longer the one open. Send /kiem_diem to continue.")
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
            if not section.optional and not texts.get(arg, "").strip():
                raise Refusal("This part is required: write it before pressing «Done».")
            review.stage = _next_stage(
                setting, review, arg, reviews.missing_parts(setting, review, texts)
            )
        case "back":
            review.stage = stages[max(stages.index(arg) - 1, 0)]
        case "goto":
            if arg not in stages:
                raise Refusal("This button is no longer valid.")
            review.stage = arg
        case "lvl":
            if review.stage != LEVEL:
                raise Refusal("That part is no longer the one open. Send /kiem_diem to continue.")
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
            await turn.answer()
            await turn.edit(t("Not submitted. You can keep editing."))
            review.stage = PREVIEW
        case _:
            raise Refusal("This button is no longer valid.")
    await turn.answer()
    await show_stage(turn, setting, review)


async def _ask_to_submit(turn: Turn, setting: ReviewSetting, review: SelfReview) -> None:
    t = turn.t
    texts = await reviews.section_texts(turn.session, review)
    missing = reviews.missing_parts(setting, review, texts)
    if missing:
        names = [
            t(setting.section(key).heading)
            if setting.section(key)
            else (t("points") if key == SCORE_GENERAL else t("proposed level"))
            for key in missing
        ]
        raise Refusal("Still to fill in before submitting: {parts}", parts="; ".join(names))
    await turn.answer()
    flags = await reviews.copy_flags(turn.session, setting, review)
    lines = []
    for flag in flags:
        heading = t(setting.section(flag.section_key).heading)
        if flag.source == "hint":
            lines.append(
                t(
                    "⚠️ «{part}» repeats the form's own guidance ({score}% alike). Write it in your own words.",
                    part=esc(heading),
                    score=round(flag.score),
                )
            )
        else:
            lines.append(
                t(
                    "⚠️ «{part}» is very close to another member's submitted review ({score}% alike). "
                    "Reviews copied «for form's sake» are flagged to your secretary.",
                    part=esc(heading),
                    score=round(flag.score),
                )
            )
    if flags:
        keyboard = InlineKeyboardMarkup(
            [[button(t("✏️ Edit first"), "cancel"), button(t("📨 Submit anyway"), "confirm")]]
        )
        await turn.reply("\n".join(lines), reply_markup=keyboard)
        return
    keyboard = InlineKeyboardMarkup(
        [[button(t("✅ Yes, submit"), "confirm"), button(t("Not yet"), "cancel")]]
    )
    await turn.reply(
        t(
            "Submit your self-review to the cell? After that only your secretary can return it "
            "to you for changes."
        )
        + "\n"
        + _due_line(turn, setting),
        reply_markup=keyboard,
    )


async def _submit(turn: Turn, setting: ReviewSetting, review: SelfReview) -> None:
    t = turn.t
    texts = await reviews.section_texts(turn.session, review)
    if reviews.missing_parts(setting, review, texts):
        raise Refusal("Some required parts are still empty; fill them from the preview.")
    now = turn.services.now()
    flags = await reviews.copy_flags(turn.session, setting, review)
    reviews.submit(review, setting, flags, now, turn.services.settings.tz)
    turn.session.add(reviews.audit_submit(review, turn.actor))
    await flows.finish(turn)
    await turn.answer(t("Submitted"))
    text = t("Your self-review was submitted on {when}.", when=t.datetime(now))
    if review.late:
        text += " " + t("It is late: the due date was {date}.", date=t.date(setting.due))
    await turn.edit(text)


async def build_document(turn: Turn, setting: ReviewSetting, review: SelfReview) -> ReviewDocument:
    session = turn.session
    cell = await session.get(Organisation, setting.member.org_id)
    upper = await session.get(Organisation, cell.parent_id) if cell.parent_id else None
    texts = await reviews.section_texts(session, review)
    tz = turn.services.settings.tz
    return ReviewDocument(
        form_code=setting.form_code,
        year=setting.cycle.year,
        full_name=setting.member.full_name,
        birth_date=setting.member.birth_date,
        position=setting.member.position,
        cell_name=cell.name,
        upper_org_name=upper.name if upper else None,
        sections=[(section, texts.get(section.key, "")) for section in setting.sections],
        general_score=review.general_score if setting.scored else None,
        task_score=review.task_score if setting.scored else None,
        proposed_level=Level(review.proposed_level) if review.proposed_level else None,
        place=None,
        signed_on=(review.submitted_at or turn.services.now()).astimezone(tz).date(),
        prompts=tuple(
            (p.org_name, p.text)
            for p in await prompts_for(session, setting.cycle.id, setting.member.id)
        ),
    )


async def send_docx(turn: Turn, setting: ReviewSetting, review: SelfReview) -> None:
    document = await build_document(turn, setting, review)
    content = await asyncio.to_thread(render_review_docx, document, turn.t)
    caption = turn.t(
        "Self-review of {name}, {year}",
        name=esc(setting.member.full_name),
        year=setting.cycle.year,
    )
    filename = f"ban-kiem-diem-{setting.member.code}-{setting.cycle.year}.docx"
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
    try:
        length = await reviews.replace_piece(turn.session, review, piece, message.text)
    except reviews.SectionFull as full:
        raise Refusal(
            "This part can hold at most {max} characters; the edit was not taken. "
            "{room} characters are left for that message.",
            max=t.number(MAX_SECTION_CHARS),
            room=t.number(full.room),
        ) from None
    await turn.reply(
        t(
            "✏️ Updated: the piece of «{part}» now has your edited text ({count}/{max} characters).",
            part=esc(t(section.heading)) if section else "",
            count=t.number(length),
            max=t.number(MAX_SECTION_CHARS),
        )
    )


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
        (flows.Step("write", on_text=review_message),),
        kept=N_("Everything you wrote is saved; send /kiem_diem to go on."),
        keeps=("tai_ban_kiem_diem",),
        entry=('kiem_diem',),
    )
)

HANDLERS = [
    CommandHandler("kiem_diem", start_review),
    CommandHandler("tai_ban_kiem_diem", download_review),
    CallbackQueryHandler(review_button, pattern=f"^{PREFIX}"),
]
