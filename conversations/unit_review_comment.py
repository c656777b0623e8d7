"""/gop_y [code]: comment on a unit's draft review report and score sheet (issue 14, part A).

While the head drafts, the unit's leaders (its cấp ủy) comment; once the draft went out, every
participant does, until the meeting (seed 004 A.4.1.a, B.1.4 step 1). The draft is shown, then
one declared step ("text") waits for the comment; it is saved, and the unit's heads are told of
it (after the commit, through the outbox). The "💬 Comment" button under a draft sent to
someone leads to the same step, and "📄 Word file" sends them the report's Word file.
"""

from __future__ import annotations

from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.i18n import N_
from bot.permissions import Action, grants_for
from bot.services import unit_review as service
from bot.services.unit_review import COMMENT_MAX, UnitReviewRefused
from bot.text import esc
from conversations import engine as flows
from conversations.unit_review import refusal, today
from handlers.base import Refusal, Turn, translator_for, turn_handler
from handlers.scope import INVALID, can_see, may, unit_by_code
from handlers.views import unit_review as views
from handlers.views.unit_review import DraftButton
from storage.models import CommentStage, FlowState, Organisation, UnitReview

TEXT = "text"
NOTHING_TO_COMMENT = N_("There is no draft for you to comment on now.")
NO_DRAFT = N_("{org} has no draft review report yet.")


async def _stage(turn: Turn, review: UnitReview, org: Organisation):
    return await service.comment_stage(
        turn.session, review, org, turn.identity.member,
        is_leader=may(turn, Action.COMMENT_UNIT_DRAFT, org), now=turn.services.now())


async def _open(turn: Turn, review: UnitReview, org: Organisation) -> None:
    """Show the draft, then wait for the comment."""
    try:
        stage = await _stage(turn, review, org)
    except UnitReviewRefused as refused:
        raise refusal(turn, refused) from None
    draft = await service.load_draft(turn.session, review, turn.services.settings.tz,
                                     today(turn))
    heads = await service.head_recipients(turn.session, review, None)
    head = heads[0].member.full_name if heads else ""
    text, keyboard = views.draft_notice(turn.t, draft, head,
                                        committee=stage == CommentStage.COMMITTEE)
    await turn.reply(text, reply_markup=keyboard)
    state = await flows.active(turn, COMMENT_FLOW)
    if state is None:
        await flows.begin(turn, COMMENT_FLOW, TEXT, review=review.id)
    else:
        await flows.move(turn, state, TEXT, review=review.id)
    await flows.ask(turn, COMMENT_FLOW,
                    views.comment_prompt(turn.t, org.name, review.subject, COMMENT_MAX))


@turn_handler()
async def comment_command(turn: Turn) -> None:
    turn.require_member()
    args = turn.context.args or []
    if args:
        org = await unit_by_code(turn, args[0])
        try:
            found = [(r, org) for r in await service.existing_reviews(turn.session, org)]
        except UnitReviewRefused as refused:
            raise refusal(turn, refused) from None
        if not found:
            raise Refusal(NO_DRAFT, org=esc(org.name))
    else:
        led = {g.org_id for g in grants_for(turn.identity.grants, Action.COMMENT_UNIT_DRAFT)}
        found = await service.reviews_near(turn.session, turn.identity.member, led)
    open_now, first_refusal = [], None
    for review, org in found:
        try:
            await _stage(turn, review, org)
            open_now.append((review, org))
        except UnitReviewRefused as refused:
            first_refusal = first_refusal or refused
    if not open_now:
        if args and first_refusal is not None:
            raise refusal(turn, first_refusal)
        raise Refusal(NOTHING_TO_COMMENT)
    if len(open_now) > 1:
        text, keyboard = views.comment_choice(
            turn.t, [(r.id, org.name, r.subject) for r, org in open_now])
        await turn.reply(text, reply_markup=keyboard)
        return
    await _open(turn, *open_now[0])


async def draft_target(turn: Turn, _action: Action | None) -> Organisation:
    """Target: the unit of the draft a button names; a unit the caller may not see reads as a
    stale button (the permission itself is the service's: leaders, then participants)."""
    turn.require_member()
    found = await service.review_and_org(turn.session, turn.button.review_id)
    if found is None or not can_see(turn, found[1]):
        raise Refusal(INVALID)
    return found[1]


@turn_handler(button=DraftButton, target=draft_target)
async def draft_pressed(turn: Turn) -> None:
    pressed: DraftButton = turn.button
    review, org = await service.review_and_org(turn.session, pressed.review_id)
    if pressed.action == "comment":
        await turn.answer()
        await _open(turn, review, org)
        return
    if not await service.may_read(turn.session, review, turn.identity.member,
                                  is_leader=may(turn, Action.COMMENT_UNIT_DRAFT, org)):
        raise Refusal(INVALID)
    if review.report_docx is None:
        raise Refusal("The report of {org} is no longer a Word file: it is typed in the draft.",
                      org=esc(org.name))
    await turn.answer()
    content, filename, chat_id, bot = (review.report_docx, review.report_filename,
                                       turn.chat_id, turn.context.bot)
    caption = turn.t("The draft review report of {org}", org=org.name)
    turn.after_commit(
        lambda: bot.send_document(chat_id, content, filename=filename, caption=caption,
                                  parse_mode=None)
    )


async def comment_text(turn: Turn, state: FlowState, text: str) -> None:
    review_id = flows.payload(state).get("review")
    found = await service.review_and_org(turn.session, review_id) if isinstance(
        review_id, int) else None
    if found is None or not can_see(turn, found[1]):
        await flows.finish(turn)
        raise Refusal(INVALID)
    review, org = found
    member = turn.identity.member
    try:
        stage = await _stage(turn, review, org)
        await service.add_comment(turn.session, review, member, stage, text,
                                  turn.services.now())
    except UnitReviewRefused as refused:
        raise refusal(turn, refused) from None
    await flows.finish(turn)
    heads = await service.head_recipients(turn.session, review, member.id)
    told = []
    for head in heads:
        if not head.reachable:
            continue
        ht = translator_for(head.account, turn.services)
        turn.notify(head.account.telegram_id,
                    views.comment_notice(ht, member.full_name, org.name, stage, text))
        told.append(head.member.full_name)
    reply, keyboard = views.comment_sent_screen(turn.t, review.id, told)
    await turn.reply(reply, reply_markup=keyboard)


COMMENT_FLOW = flows.declare(
    flows.Flow(
        "unit_comment",
        N_("commenting on a draft review report"),
        (flows.Step(TEXT, on_text=comment_text),),
        entry=("gop_y",),
    )
)

HANDLERS = [
    CommandHandler("gop_y", comment_command),
    CallbackQueryHandler(draft_pressed, pattern=DraftButton.pattern()),
]
