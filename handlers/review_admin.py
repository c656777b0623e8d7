"""/kiem_diem_chi_bo: the secretary's view of the cell's self-reviews: who is where, open one,
return it for revision with a reason, and get them all as Word files."""

from __future__ import annotations

from sqlalchemy import select
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.callbacks import parse_int
from bot.i18n import N_
from bot.permissions import Action, allowed
from bot.services import reviews
from bot.text import esc
from conversations import engine as flows
from conversations.self_review import review_text, send_docx
from handlers.base import Refusal, Turn, translator_for, turn_handler
from handlers.scope import managed_cell
from rules.people import name_sort_key
from storage.models import (
    AuditEntry,
    FlowState,
    Member,
    Organisation,
    ReviewState,
    SelfReview,
    TelegramAccount,
)

PREFIX = "kdcb:"
RETURNED_NOTICE = N_(
    "Your secretary returned your self-review for revision: {reason}\n"
    "Send /kiem_diem to edit and submit it again."
)
# The reason goes to the member inside a notice and is shown again above their review: it
# must leave room for both under Telegram's 4,096 characters.
MAX_REASON = 1000


def _button(label: str, action: str, ref: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=f"{PREFIX}{action}:{ref}")


async def _setting(turn: Turn, member: Member) -> reviews.ReviewSetting | None:
    today = turn.services.now().astimezone(turn.services.settings.tz).date()
    return await reviews.review_setting(turn.session, member, turn.services.settings.tz, today)


@turn_handler()
async def cell_reviews(turn: Turn) -> None:
    t = turn.t
    args = turn.context.args or []
    cell = await managed_cell(turn, Action.READ_REVIEWS, args[0] if args else None)
    members = sorted(
        await turn.session.scalars(
            select(Member).where(Member.org_id == cell.id).order_by(Member.code)
        ),
        key=lambda m: name_sort_key(m.full_name),
    )
    lines, buttons = [], []
    counts = {"due": 0, "submitted": 0, "late": 0, "flagged": 0}
    setting = None
    for index, member in enumerate(members, 1):
        setting = await _setting(turn, member)
        if setting is None:
            raise Refusal(
                "There is no review plan for your cell yet. Your upper committee opens it."
            )
        lines.append(
            f"{index}. {esc(member.full_name)}: "
            + await _state_line(turn, setting, member, counts, buttons)
        )
    head = [
        t(
            "Self-reviews of {cell}, {year}",
            cell=f"<b>{esc(cell.name)}</b>",
            year=setting.cycle.year if setting else "",
        )
    ]
    if setting and setting.due:
        head.append(t("Due: {date}", date=t.date(setting.due)))
    head.append(
        t(
            "Submitted {submitted} of {due}; late {late}; flagged as copied {flagged}.",
            **{k: t.number(v) for k, v in counts.items()},
        )
    )
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    if counts["submitted"]:
        rows.append([_button(t("📥 All submitted as Word files"), "all", cell.id)])
    await turn.reply(
        "\n".join(head + [""] + lines), reply_markup=InlineKeyboardMarkup(rows) if rows else None
    )


async def _state_line(turn: Turn, setting, member: Member, counts: dict, buttons: list) -> str:
    t = turn.t
    if not setting.eligibility.reviewed:
        reasons = "; ".join(r.render(t.gettext) for r in setting.eligibility.reasons)
        return t("not reviewed ({reasons})", reasons=esc(reasons))
    counts["due"] += 1
    review = await reviews.find_review(turn.session, setting.cycle, member)
    if review is None:
        return t("not started")
    if review.state == ReviewState.RETURNED:
        buttons.append(_button("↩️ " + member.full_name, "open", review.id))
        return t("returned for revision")
    if review.state == ReviewState.DRAFTING:
        return t("drafting")
    counts["submitted"] += 1
    text = t(
        "submitted {date}", date=t.date(review.submitted_at.astimezone(turn.services.settings.tz))
    )
    if review.late:
        counts["late"] += 1
        text += ", " + t("late")
    if reviews.flags_of(review):
        counts["flagged"] += 1
        text += " ⚠️ " + t("looks copied")
    buttons.append(_button("📄 " + member.full_name, "open", review.id))
    return text


async def _review_for(turn: Turn, review_id: str, action: Action) -> tuple[SelfReview, Member]:
    review = await turn.session.get(SelfReview, parse_int(review_id))
    if review is None:
        raise Refusal("This button is no longer valid.")
    member = await turn.session.get(Member, review.member_id)
    turn.require(action, await turn.session.get(Organisation, member.org_id))
    return review, member


async def _flag_lines(turn: Turn, setting, review: SelfReview) -> list[str]:
    t = turn.t
    lines = []
    for flag in reviews.flags_of(review):
        section = setting.section(flag["section"])
        part = esc(t(section.heading)) if section else flag["section"]
        if flag["source"] == "hint":
            lines.append(
                t(
                    "⚠️ «{part}» repeats the form's guidance ({score}% alike).",
                    part=part,
                    score=flag["score"],
                )
            )
            continue
        other = await turn.session.get(SelfReview, flag["other"]) if flag["other"] else None
        owner = await turn.session.get(Member, other.member_id) if other else None
        lines.append(
            t(
                "⚠️ «{part}» is {score}% alike to the review of {name}.",
                part=part,
                score=flag["score"],
                name=esc(owner.full_name if owner else "?"),
            )
        )
    return lines


@turn_handler()
async def admin_button(turn: Turn) -> None:
    t = turn.t
    action, _, ref = turn.query.data.removeprefix(PREFIX).partition(":")
    if action == "all":
        await _send_all(turn, ref)
        return
    review, member = await _review_for(turn, ref, Action.READ_REVIEWS)
    setting = await _setting(turn, member)
    if action == "open":
        await turn.answer()
        text = await review_text(turn, setting, review)
        extra = await _flag_lines(turn, setting, review)
        if review.state == ReviewState.RETURNED:
            extra.append(
                t("Returned for revision: {reason}", reason=esc(review.return_reason or ""))
            )
        row = [_button(t("📥 Word file"), "doc", review.id)]
        cell = await turn.session.get(Organisation, member.org_id)
        if review.state == ReviewState.SUBMITTED and allowed(
            turn.identity.grants, Action.RETURN_REVIEW, cell.path
        ):
            row.insert(0, _button(t("↩️ Return for revision"), "ret", review.id))
        await turn.reply("\n".join([text, ""] + extra), reply_markup=InlineKeyboardMarkup([row]))
        return
    if action == "doc":
        await turn.answer()
        await send_docx(turn, setting, review)
        return
    if action == "ret":
        await _review_for(turn, ref, Action.RETURN_REVIEW)
        if review.state != ReviewState.SUBMITTED:
            raise Refusal("This self-review is not submitted, so there is nothing to return.")
        await flows.begin(turn, RETURN_FLOW, "reason", review=review.id)
        await turn.answer()
        await flows.ask(
            turn,
            RETURN_FLOW,
            t(
                "Type the reason for returning the self-review of {name}; they will receive it.",
                name=esc(member.full_name),
            )
        )
        return
    raise Refusal("This button is no longer valid.")


async def return_reason(turn: Turn, state: FlowState, text: str) -> None:
    t = turn.t
    review_id = str(flows.payload(state)["review"])
    review, member = await _review_for(turn, review_id, Action.RETURN_REVIEW)
    reason = text.strip()
    if len(reason) > MAX_REASON:  # still awaited: the secretary shortens it and sends again
        raise Refusal(
            "The reason has {count} characters; at most {max} fit. "
            "Shorten it and send it again.",
            count=t.number(len(reason)),
            max=t.number(MAX_REASON),
        )
    await flows.finish(turn)
    if review.state != ReviewState.SUBMITTED:
        raise Refusal("This self-review is not submitted, so there is nothing to return.")
    review.state = ReviewState.RETURNED
    review.return_reason = reason
    review.returned_at = turn.services.now()
    review.stage = reviews.PREVIEW
    review.reached_preview = True
    turn.session.add(AuditEntry.record(turn.actor, "self_review.return", "self_review", review.id))
    account = await turn.session.scalar(
        select(TelegramAccount).where(TelegramAccount.member_id == member.id)
    )
    delivered = False
    if account is not None and account.started_at is not None and account.blocked_at is None:
        mt = translator_for(account, turn.services)
        turn.notify(
            account.telegram_id,
            mt(RETURNED_NOTICE, reason=f"<i>{esc(reason)}</i>"),
            unreachable=t(
                "I could not write to {name} (they have blocked the bot): please tell them.",
                name=esc(member.full_name),
            ),
        )
        delivered = True
    await turn.reply(
        t("Returned to {name}.", name=esc(member.full_name))
        + " "
        + (
            t("They have been told.")
            if delivered
            else t(
                "I could not write to them (they have not started the bot, or blocked it): please tell them."
            )
        )
    )


async def _send_all(turn: Turn, cell_id: str) -> None:
    t = turn.t
    cell = await turn.session.get(Organisation, parse_int(cell_id))
    if cell is None:
        raise Refusal("This button is no longer valid.")
    turn.require(Action.READ_REVIEWS, cell)
    rows = (
        await turn.session.execute(
            select(SelfReview, Member)
            .join(Member, SelfReview.member_id == Member.id)
            .where(Member.org_id == cell.id, SelfReview.state == ReviewState.SUBMITTED)
            .order_by(Member.code)
        )
    ).all()
    rows.sort(key=lambda row: name_sort_key(row[1].full_name))
    await turn.answer()
    progress = await turn.reply_now(t("Sending {count} Word files…", count=t.number(len(rows))))
    for review, member in rows:
        await send_docx(turn, await _setting(turn, member), review)
    done = t("Sent {count} Word files.", count=t.number(len(rows)))
    turn.after_commit(lambda: progress.edit_text(done))


RETURN_FLOW = flows.declare(
    flows.Flow(
        "return_review",
        N_("returning a self-review"),
        (flows.Step("reason", on_text=return_reason),),
    )
)

HANDLERS = [
    CommandHandler("kiem_diem_chi_bo", cell_reviews),
    CallbackQueryHandler(admin_button, pattern=f"^{PREFIX}"),
]
