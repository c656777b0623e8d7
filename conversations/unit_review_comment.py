"""/gop_y [code]: comment on a unit's draft review report and score sheet (issue 14, part A).

While the head drafts, the unit's leaders (its cấp ủy) comment; once the draft went out, every
participant does, until the meeting (seed 004 A.4.1.a, B.1.4 step 1). The draft is shown, then
one declared step ("text") waits for the comment; it is saved, and the unit's heads are told of
it (after the commit, through the outbox). The "💬 Comment" button under a draft sent to
someone leads to the same step, and "📄 Word file" sends them the report's Word file.
"""

from __future__ import annotations

from typing import Any

from telegram.ext import CallbackQueryHandler
from telegram.ext import CommandHandler

from bot.i18n import N_
from bot.permissions import Action
from bot.permissions import grants_for
from bot.services import unit_review as service
from bot.services.unit_review import COMMENT_MAX
from bot.services.unit_review import UnitReviewRefused
from bot.text import esc
from conversations import engine as flows
from conversations.unit_review import refusal
from conversations.unit_review import today
from handlers.base import Refusal
from handlers.base import Turn
from handlers.base import translator_for
from handlers.base import turn_handler
from handlers.scope import INVALID
from handlers.scope import can_see
from handlers.scope import unit_by_code
from handlers.views import unit_review as views
from handlers.views.unit_review import DraftButton
from storage.models import CommentStage
from storage.models import FlowState
from storage.models import Organisation
from storage.models import UnitReview

TEXT = "text"
NOTHING_TO_COMMENT = N_("There is no draft for you to comment on now.")
NO_DRAFT = N_("{org} has no draft review report yet.")


async def _stage(turn: Turn, review: UnitReview, org: Organisation):
    return await service.comment_stage(
        turn.session, review, org, turn.identity.member,
        is_leader=turn.may(Action.COMMENT_UNIT_DRAFT, org), now=turn.services.now())


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


async def commented_unit(turn: Turn, _action: Action | None) -> Organisation | None:
    """/gop_y [code]: the unit named (None: the drafts near the caller). Who may comment, and
    when, is the service's rule (its leaders while drafting, then its participants)."""
    turn.require_member()
    args = turn.context.args or []
    return await unit_by_code(turn, args[0]) if args else None


@turn_handler(target=commented_unit)
async def comment_command(turn: Turn) -> None:
    named = turn.target
    if named is not None:
        try:
            found = [(r, named) for r in await service.existing_reviews(turn.session, named)]
        except UnitReviewRefused as refused:
            raise refusal(turn, refused) from None
        if not found:
            raise Refusal(NO_DRAFT, org=esc(named.name))
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
        if named is not None and first_refusal is not None:
            raise refusal(turn, first_refusal)
        raise Refusal(NOTHING_TO_COMMENT)
    if len(open_now) > 1:
        text, keyboard = views.comment_choice(
            turn.t, [(r.id, org.name, r.subject) for r, org in open_now])
        await turn.reply(text, reply_markup=keyboard)
        return
    await _open(turn, *open_now[0])


async def _seen(turn: Turn, review_id: object) -> tuple[UnitReview, Organisation]:
    """The draft a button or the flow's payload names, with its unit; a unit the caller may not
    see reads as stale (the permission itself is the service's: leaders, then participants)."""
    turn.require_member()
    found = await service.review_and_org(turn.session, review_id) if isinstance(
        review_id, int) else None
    if found is None or not can_see(turn, found[1]):
        raise Refusal(INVALID)
    return found


async def draft_target(turn: Turn, _action: Action | None) -> Organisation:
    """Target: the unit of the draft a pressed button names."""
    return (await _seen(turn, turn.button.review_id))[1]


async def commented_draft(
    turn: Turn, _action: Action | None, values: dict[str, Any]
) -> Organisation:
    """The comment step's target: the unit of the draft its payload names."""
    return (await _seen(turn, values.get("review")))[1]


@turn_handler(button=DraftButton, target=draft_target)
async def draft_pressed(turn: Turn) -> None:
    pressed: DraftButton = turn.button
    review, org = await _seen(turn, pressed.review_id)
    if pressed.action == "comment":
        await turn.answer()
        await _open(turn, review, org)
        return
    if not await service.may_read(turn.session, review, turn.identity.member,
                                  is_leader=turn.may(Action.COMMENT_UNIT_DRAFT, org)):
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
    review, org = await _seen(turn, flows.payload(state).get("review"))
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
        (flows.Step(TEXT, on_text=comment_text, target=commented_draft),),
        entry=("gop_y",),
    )
)

HANDLERS = [
    CommandHandler("gop_y", comment_command),
    CallbackQueryHandler(draft_pressed, pattern=DraftButton.pattern()),
]
