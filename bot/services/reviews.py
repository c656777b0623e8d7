"""Self-reviews (bản tự kiểm điểm): where a member stands, their text, scores and submission.

The text of a section is the concatenation of its pieces: each message the member sends is
stored the moment it arrives, so nothing is lost to a closed app, a crash or a restart.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator
from bot.services.copycheck import CopyFlag
from bot.services.copycheck import OtherReview
from bot.services.copycheck import find_copies
from bot.services.cycles import cycle_for_org
from bot.services.cycles import cycle_rulebook
from bot.services.cycles import member_facts
from bot.services.prompts import prompts_for
from bot.services.review_docx import PROMPTS_KEY
from bot.services.review_docx import ReviewDocument
from rules.caps import AllowedLevels
from rules.caps import allowed_levels
from rules.deadlines import self_review_due
from rules.eligibility import Eligibility
from rules.eligibility import review_status
from rules.forms import form_code
from rules.levels import Level
from rules.people import name_sort_key
from rules.review_form import MAX_SECTION_CHARS
from rules.review_form import Section
from rules.review_form import sections_for
from rules.rulebooks import Rulebook
from rules.scoring import Score
from storage.models import AuditEntry
from storage.models import Cycle
from storage.models import Meeting
from storage.models import Member
from storage.models import Organisation
from storage.models import OrgKind
from storage.models import ReviewPiece
from storage.models import ReviewState
from storage.models import SelfReview
from storage.queries import path_ids
from storage.queries import subtree_range

SCORE_GENERAL = "scores_general"
SCORE_TASKS = "scores_tasks"
LEVEL = "level"
PREVIEW = "preview"


@dataclass
class ReviewSetting:
    """Everything the rules say about one member's self-review this cycle."""

    member: Member
    cycle: Cycle
    rulebook: Rulebook
    form_code: str
    sections: tuple[Section, ...]
    eligibility: Eligibility
    meeting: Meeting | None
    due: dt.date | None  # R-D2: days before the meeting; None until a meeting is set

    @property
    def scored(self) -> bool:
        return self.rulebook.score_bands

    def stages(self) -> list[str]:
        """The steps of the form, in order."""
        steps = [s.key for s in self.sections]
        if self.eligibility.rated:
            if self.scored:
                steps += [SCORE_GENERAL, SCORE_TASKS]
            steps.append(LEVEL)
        return steps + [PREVIEW]

    def section(self, key: str) -> Section | None:
        return next((s for s in self.sections if s.key == key), None)


async def meeting_for(session: AsyncSession, cycle: Cycle, org_id: int) -> Meeting | None:
    return await session.scalar(
        select(Meeting).where(Meeting.cycle_id == cycle.id, Meeting.org_id == org_id)
    )


async def review_setting(
    session: AsyncSession, member: Member, tz: dt.tzinfo, today: dt.date
) -> ReviewSetting | None:
    """None when no plan covers the member's cell yet."""
    org = await session.get(Organisation, member.org_id)
    cycle = await cycle_for_org(session, org)
    if cycle is None:
        return None
    rulebook = cycle_rulebook(cycle)
    facts = member_facts(member)
    meeting = await meeting_for(session, cycle, member.org_id)
    meeting_day = meeting.scheduled_at.astimezone(tz).date() if meeting else None
    code = form_code(facts, rulebook)
    return ReviewSetting(
        member=member,
        cycle=cycle,
        rulebook=rulebook,
        form_code=code,
        sections=sections_for(code),
        eligibility=review_status(facts, rulebook, meeting_day or today),
        meeting=meeting,
        due=self_review_due(meeting_day, rulebook) if meeting_day else None,
    )


async def find_review(session: AsyncSession, cycle: Cycle, member: Member) -> SelfReview | None:
    return await session.scalar(
        select(SelfReview).where(SelfReview.cycle_id == cycle.id, SelfReview.member_id == member.id)
    )


async def open_review(session: AsyncSession, setting: ReviewSetting) -> SelfReview:
    review = await find_review(session, setting.cycle, setting.member)
    if review is None:
        review = SelfReview(
            cycle_id=setting.cycle.id,
            member_id=setting.member.id,
            form_code=setting.form_code,
            state=ReviewState.DRAFTING,
            stage=setting.stages()[0],
            reached_preview=False,
            late=False,
        )
        session.add(review)
        await session.flush()
    return review


async def section_texts(session: AsyncSession, review: SelfReview) -> dict[str, str]:
    rows = await session.execute(
        select(ReviewPiece.section_key, ReviewPiece.text)
        .where(ReviewPiece.review_id == review.id)
        .order_by(ReviewPiece.section_key, ReviewPiece.seq)
    )
    texts: dict[str, list[str]] = {}
    for key, text in rows:
        texts.setdefault(key, []).append(text)
    return {key: "\n".join(parts) for key, parts in texts.items()}


async def section_length(session: AsyncSession, review: SelfReview, key: str) -> tuple[int, int]:
    """(characters, pieces) written in a section."""
    row = (
        await session.execute(
            select(
                func.coalesce(func.sum(func.length(ReviewPiece.text)), 0),
                func.count(ReviewPiece.id),
            ).where(ReviewPiece.review_id == review.id, ReviewPiece.section_key == key)
        )
    ).one()
    pieces = row[1]
    return int(row[0]) + max(pieces - 1, 0), pieces  # pieces are joined by line breaks


class SectionFull(ValueError):
    def __init__(self, room: int) -> None:
        super().__init__(room)
        self.room = room


async def append_piece(
    session: AsyncSession,
    review: SelfReview,
    key: str,
    text: str,
    message_id: int | None = None,
    *,
    now: dt.datetime,
) -> int:
    """Store one message in a section; returns the section's new length."""
    length, pieces = await section_length(session, review, key)
    new_length = length + len(text) + (1 if pieces else 0)
    if new_length > MAX_SECTION_CHARS:
        raise SectionFull(max(MAX_SECTION_CHARS - length - (1 if pieces else 0), 0))
    last = await session.scalar(
        select(func.max(ReviewPiece.seq)).where(
            ReviewPiece.review_id == review.id, ReviewPiece.section_key == key
        )
    )
    session.add(
        ReviewPiece(
            review_id=review.id,
            section_key=key,
            seq=(last or 0) + 1,
            text=text,
            message_id=message_id,
        )
    )
    review.updated_at = now
    await session.flush()
    return new_length


async def piece_of_message(
    session: AsyncSession, member_id: int, message_id: int
) -> tuple[SelfReview, ReviewPiece] | None:
    """The piece of the member's self-review that came from their message `message_id`."""
    row = (
        await session.execute(
            select(SelfReview, ReviewPiece)
            .join(ReviewPiece, ReviewPiece.review_id == SelfReview.id)
            .where(SelfReview.member_id == member_id, ReviewPiece.message_id == message_id)
            .order_by(SelfReview.id.desc())
            .limit(1)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def replace_piece(
    session: AsyncSession, review: SelfReview, piece: ReviewPiece, text: str, *, now: dt.datetime
) -> int:
    """The member edited the message a piece came from: the piece takes the new text."""
    length, _ = await section_length(session, review, piece.section_key)
    new_length = length - len(piece.text) + len(text)
    if new_length > MAX_SECTION_CHARS:
        raise SectionFull(max(MAX_SECTION_CHARS - (length - len(piece.text)), 0))
    piece.text = text
    review.updated_at = now
    await session.flush()
    return new_length


async def drop_last_piece(session: AsyncSession, review: SelfReview, key: str) -> bool:
    last = await session.scalar(
        select(ReviewPiece)
        .where(ReviewPiece.review_id == review.id, ReviewPiece.section_key == key)
        .order_by(ReviewPiece.seq.desc())
        .limit(1)
    )
    if last is None:
        return False
    await session.delete(last)
    await session.flush()
    return True


async def clear_section(session: AsyncSession, review: SelfReview, key: str) -> None:
    await session.execute(
        delete(ReviewPiece).where(
            ReviewPiece.review_id == review.id, ReviewPiece.section_key == key
        )
    )


def score_of(review: SelfReview) -> Score | None:
    if review.general_score is None or review.task_score is None:
        return None
    return Score(review.general_score, review.task_score)


def level_choices(setting: ReviewSetting, review: SelfReview) -> AllowedLevels:
    score = score_of(review) if setting.scored else None
    return allowed_levels(member_facts(setting.member), setting.rulebook, score=score)


def missing_parts(setting: ReviewSetting, review: SelfReview, texts: dict[str, str]) -> list[str]:
    """Stages still to fill before the review can be submitted."""
    missing = [
        s.key for s in setting.sections if not s.optional and not texts.get(s.key, "").strip()
    ]
    if setting.eligibility.rated:
        if setting.scored and score_of(review) is None:
            missing.append(SCORE_GENERAL)
        if review.proposed_level is None:
            missing.append(LEVEL)
    return missing


def proposed_level(review: SelfReview) -> Level | None:
    return Level(review.proposed_level) if review.proposed_level else None


async def grassroots_root(session: AsyncSession, cell: Organisation) -> Organisation:
    """The đảng bộ cơ sở above a cell, or the cell itself when it is a grassroots cell."""
    ids = path_ids(cell.path)
    orgs = (await session.scalars(select(Organisation).where(Organisation.id.in_(ids)))).all()
    grassroots = [o for o in orgs if o.kind == OrgKind.GRASSROOTS]
    return max(grassroots, key=lambda o: o.depth) if grassroots else cell


async def copy_flags(
    session: AsyncSession, setting: ReviewSetting, review: SelfReview
) -> list[CopyFlag]:
    """R-F1: sections too close to another submitted review in the đảng bộ, or to the hints."""
    cell = await session.get(Organisation, setting.member.org_id)
    root = await grassroots_root(session, cell)
    others = (
        await session.execute(
            select(SelfReview, Member)
            .join(Member, SelfReview.member_id == Member.id)
            .join(Organisation, Member.org_id == Organisation.id)
            .where(
                SelfReview.cycle_id == review.cycle_id,
                SelfReview.id != review.id,
                SelfReview.state == ReviewState.SUBMITTED,
                subtree_range(root.path),
            )
        )
    ).all()
    other_reviews = [
        OtherReview(
            review_id=other.id,
            names=(member.full_name,),
            sections=await section_texts(session, other),
        )
        for other, member in others
    ]
    vi = Translator("vi")
    hints = {s.key: f"{vi(s.hint)}\n{s.hint}" for s in setting.sections}
    return find_copies(
        await section_texts(session, review),
        other_reviews,
        hints,
        own_names=(setting.member.full_name,),
    )


def submit(
    review: SelfReview,
    setting: ReviewSetting,
    flags: list[CopyFlag],
    now: dt.datetime,
    tz: dt.tzinfo,
) -> None:
    review.state = ReviewState.SUBMITTED
    review.submitted_at = now
    review.late = setting.due is not None and now.astimezone(tz).date() > setting.due
    review.copy_flags = (
        json.dumps(
            [
                {
                    "section": f.section_key,
                    "source": f.source,
                    "other": f.other_review_id,
                    "score": round(f.score),
                }
                for f in flags
            ]
        )
        if flags
        else None
    )
    review.return_reason = None


def flags_of(review: SelfReview) -> list[dict]:
    return json.loads(review.copy_flags) if review.copy_flags else []


def audit_submit(review: SelfReview, actor: str) -> AuditEntry:
    return AuditEntry.record(
        actor,
        "self_review.submit",
        "self_review",
        review.id,
        late=review.late,
        copy_flags=len(flags_of(review)),
    )


# --- what the handlers ask for (no SQL in handlers/ or conversations/) ----------------------


def local_today(now: dt.datetime, tz: dt.tzinfo) -> dt.date:
    return now.astimezone(tz).date()


async def review_by_id(session: AsyncSession, review_id: int) -> SelfReview | None:
    return await session.get(SelfReview, review_id)


def next_stage(setting: ReviewSetting, review: SelfReview, current: str, missing: list[str]) -> str:
    """Where «Done» on `current` leads: back to the preview once it was reached and nothing
    is missing, else the next part of the form."""
    stages = setting.stages()
    if review.reached_preview and not missing:
        return PREVIEW
    index = stages.index(current) if current in stages else -1
    return stages[min(index + 1, len(stages) - 1)]


def previous_stage(setting: ReviewSetting, current: str) -> str:
    stages = setting.stages()
    return stages[max(stages.index(current) - 1, 0)]


def take_score(setting: ReviewSetting, review: SelfReview, score: int) -> None:
    """The points typed at the review's current score stage; the form moves on, and a level
    the new points no longer allow is dropped."""
    if review.stage == SCORE_GENERAL:
        review.general_score = score
        review.stage = SCORE_TASKS
        return
    review.task_score = score
    review.stage = LEVEL
    level = proposed_level(review)
    if level is not None and level not in level_choices(setting, review).levels:
        review.proposed_level = None


def record_submit(
    session: AsyncSession,
    review: SelfReview,
    setting: ReviewSetting,
    flags: list[CopyFlag],
    now: dt.datetime,
    tz: dt.tzinfo,
    actor: str,
) -> None:
    submit(review, setting, flags, now, tz)
    session.add(audit_submit(review, actor))


async def build_document(
    session: AsyncSession, setting: ReviewSetting, review: SelfReview, now: dt.datetime, tz: dt.tzinfo
) -> ReviewDocument:
    """The member's review as the official form's content, for the Word file."""
    cell = await session.get(Organisation, setting.member.org_id)
    upper = await session.get(Organisation, cell.parent_id) if cell.parent_id else None
    texts = await section_texts(session, review)
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
        signed_on=(review.submitted_at or now).astimezone(tz).date(),
        prompts=tuple(
            (p.org_name, p.text) for p in await prompts_for(session, setting.cycle.id, setting.member.id)
        ),
    )


async def prompts_for_part(
    session: AsyncSession, setting: ReviewSetting, key: str
) -> tuple[tuple[str, str], ...]:
    """The points upper levels sent the member (issue 14), for the part that answers them."""
    if key != PROMPTS_KEY:
        return ()
    found = await prompts_for(session, setting.cycle.id, setting.member.id)
    return tuple((p.org_name, p.text) for p in found)


# --- the secretary's side --------------------------------------------------------------------


async def cell_members(session: AsyncSession, cell_id: int) -> list[Member]:
    """The cell's members in Vietnamese name order (SQL cannot collate so)."""
    found = await session.scalars(
        select(Member).where(Member.org_id == cell_id).order_by(Member.code)
    )
    return sorted(found.all(), key=lambda m: name_sort_key(m.full_name))


async def submitted_in_cell(session: AsyncSession, cell_id: int) -> list[tuple[SelfReview, Member]]:
    rows = await session.execute(
        select(SelfReview, Member)
        .join(Member, SelfReview.member_id == Member.id)
        .where(Member.org_id == cell_id, SelfReview.state == ReviewState.SUBMITTED)
        .order_by(Member.code)
    )
    found = [(review, member) for review, member in rows.all()]
    return sorted(found, key=lambda row: name_sort_key(row[1].full_name))


async def owner_of(session: AsyncSession, review: SelfReview) -> tuple[Member, Organisation]:
    """The member who wrote `review`, and their cell."""
    member = await session.get(Member, review.member_id)
    return member, await session.get(Organisation, member.org_id)


async def cell_of_review(session: AsyncSession, review_id: int) -> Organisation | None:
    review = await review_by_id(session, review_id)
    return (await owner_of(session, review))[1] if review is not None else None


async def org_by_id(session: AsyncSession, org_id: int) -> Organisation | None:
    return await session.get(Organisation, org_id)


@dataclass(frozen=True)
class FlagView:
    """A copy flag as the secretary reads it: the part, the source, how alike, and whose."""

    section: str
    source: str
    score: int
    other_name: str | None


async def flag_views(session: AsyncSession, review: SelfReview) -> list[FlagView]:
    found = []
    for flag in flags_of(review):
        name = None
        if flag["source"] != "hint":
            other = await session.get(SelfReview, flag["other"]) if flag["other"] else None
            owner = await session.get(Member, other.member_id) if other else None
            name = owner.full_name if owner else "?"
        found.append(FlagView(flag["section"], flag["source"], flag["score"], name))
    return found


def return_review(
    session: AsyncSession, review: SelfReview, reason: str, now: dt.datetime, actor: str
) -> None:
    """Send a submitted review back to its member for revision: they take it up at the
    preview."""
    review.state = ReviewState.RETURNED
    review.return_reason = reason
    review.returned_at = now
    review.stage = PREVIEW
    review.reached_preview = True
    session.add(AuditEntry.record(actor, "self_review.return", "self_review", review.id))


async def save_meeting(
    session: AsyncSession, cycle: Cycle, cell: Organisation, local: dt.datetime, actor: str
) -> Meeting:
    """Set (or move) the cell meeting of `cycle` to `local`, with an audit entry."""
    meeting = await meeting_for(session, cycle, cell.id)
    if meeting is None:
        meeting = Meeting(cycle_id=cycle.id, org_id=cell.id, scheduled_at=local)
        session.add(meeting)
    meeting.scheduled_at = local.astimezone(dt.UTC)
    session.add(
        AuditEntry.record(actor, "meeting.schedule", "organisation", cell.code, at=local.isoformat())
    )
    return meeting
