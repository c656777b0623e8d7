"""Step 1 of a unit's review (issue 14, part A; seed 004 A.4.1, B.1.4 step 1): the head's draft.

The unit's own secretary or deputy (its head, ``units.heads``) prepares, for each review of the
unit (the organisation; its committee where rated, ``units.subjects_of``):

- the collective's report (bot/services/unit_report.py), as a Word file or typed in parts;
- the draft score sheet (Mẫu 01): for every leaf criterion of the unit's framework
  (``units.criteria_of``) the points, the grade (Xuất sắc / Tốt / Trung bình / Kém) and the
  result in words and figures; a ``ScoreSheet`` with no member;
- the deductions and additions it proposes (``ScoreAdjustment`` not yet agreed), each with its
  criterion, reason and who is responsible, checked by rules/org_scoring.py and
  rules/scoring.py (0.5 points per full 5% a target was missed by, at most 2 per target; at
  most 2 points per outstanding item);

then takes the committee's comments and circulates the draft to every participant
(``units.participants``) at least R-D1's working days before the meeting; participants comment
until the meeting. Prompts from the upper level (gợi ý kiểm điểm) are shown above part IV of
the report, and make the meeting a full day (R-D4).

Everything here is a plain async function over a session, so a test (or the integrator's
whole-cycle test) can prepare a review without the bot.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.i18n import Explained
from bot.services import notify
from bot.services import units
from bot.services.cycles import cycle_rulebook
from bot.services.prompts import Prompt
from bot.services.prompts import unit_is_prompted
from bot.services.prompts import unit_prompts
from bot.services.reviews import meeting_for
from bot.services.unit_report import required_keys
from bot.services.unit_report import section_texts
from rules.deadlines import draft_report_due
from rules.deadlines import meeting_days_min
from rules.org_scoring import Criterion
from rules.org_scoring import Framework
from rules.org_scoring import OrgScore
from rules.org_scoring import points
from rules.rulebooks import Rulebook
from rules.scoring import outstanding_bonus
from rules.scoring import target_penalty
from storage.models import AdjustmentKind
from storage.models import AuditEntry
from storage.models import CommentStage
from storage.models import Cycle
from storage.models import Meeting
from storage.models import Member
from storage.models import Organisation
from storage.models import OrgKind
from storage.models import Role
from storage.models import RoleKind
from storage.models import ScoreAdjustment
from storage.models import ScoreGrade
from storage.models import ScoreMark
from storage.models import ScoreSheet
from storage.models import TelegramAccount
from storage.models import UnitComment
from storage.models import UnitReview
from storage.models import UnitReviewState
from storage.models import UnitSubject


class UnitReviewRefused(Explained):
    """What a person asked cannot be done now; `msgid` and `params` say why (a Decimal param
    is a number of points, written in the reader's locale)."""


@dataclass(frozen=True)
class MeetingNeeds:
    """What a unit's review meeting asks of it (for the meeting screens): its least length
    (R-D4) and, once its day is known, the day the collective's draft is due (R-D1)."""

    days: Decimal
    draft_due: dt.date | None
    working_days: int


@dataclass(frozen=True)
class TypedMark:
    tenths: int
    grade: ScoreGrade | None
    result: str | None  # None: keep the one the criterion has


@dataclass(frozen=True)
class TypedAdjustment:
    kind: AdjustmentKind
    criterion: str
    tenths: int  # deduction: percent short, in tenths; addition: points, in tenths
    reason: str
    responsible: str


@dataclass(frozen=True)
class CommentView:
    author: str
    stage: CommentStage
    text: str
    at: dt.datetime


@dataclass(frozen=True)
class Recipient:
    member: Member
    account: TelegramAccount | None  # None, or not reachable: told to the head

    @property
    def reachable(self) -> bool:
        return notify.reachable(self.account)


# What of a unit a review is about, as the screens and notices name it.
SUBJECT_NAMES = {
    UnitSubject.ORGANISATION: N_("the party organisation"),
    UnitSubject.COMMITTEE: N_("its leadership committee"),
    UnitSubject.STANDING: N_("its standing committee"),
}

NO_PLAN = N_("There is no review plan for {org} yet. Your upper committee opens it.")
NOT_RATED = N_(
    "{org} is not reviewed as an organisation here: cells and grassroots organisations are."
)
REVIEWED = N_(
    "{org} was reviewed at its meeting already: the draft can no longer be changed."
)
COMMENT_MAX = 3000  # characters in one comment
REASON_MAX = 1000
RESPONSIBLE_MAX = 255
RESULT_MAX = 2000


# --- which units and reviews ---------------------------------------------------------------


async def headed_units(session: AsyncSession, member_id: int) -> list[Organisation]:
    """The rated units whose secretary or deputy `member_id` is (a role on the unit itself)."""
    found = await session.scalars(
        select(Organisation)
        .join(Role, Role.org_id == Organisation.id)
        .where(Role.member_id == member_id,
               Role.role.in_([RoleKind.SECRETARY.value, RoleKind.DEPUTY.value]))
        .distinct()
        .order_by(Organisation.path)
    )
    return [org for org in found.all() if units.is_rated_kind(org)]


async def plan_and_subjects(
    session: AsyncSession, org: Organisation
) -> tuple[Cycle, tuple[UnitSubject, ...]]:
    if not units.is_rated_kind(org):
        raise UnitReviewRefused(NOT_RATED, org=org.name)
    cycle = await units.plan_of(session, org)
    if cycle is None:
        raise UnitReviewRefused(NO_PLAN, org=org.name)
    return cycle, await units.subjects_of(session, org)


async def open_reviews(session: AsyncSession, org: Organisation) -> list[UnitReview]:
    """The unit's reviews in its plan, each created on first use (the head's /tap_the)."""
    cycle, subjects = await plan_and_subjects(session, org)
    return [await units.ensure_review(session, cycle, org, subject) for subject in subjects]


async def existing_reviews(session: AsyncSession, org: Organisation) -> list[UnitReview]:
    """The unit's reviews in its plan that its head has opened (nothing is created)."""
    cycle, _subjects = await plan_and_subjects(session, org)
    return await units.reviews_of(session, cycle.id, org.id)


async def review_and_org(
    session: AsyncSession, review_id: int
) -> tuple[UnitReview, Organisation] | None:
    review = await units.review_by_id(session, review_id)
    if review is None:
        return None
    return review, await session.get(Organisation, review.org_id)


# --- the draft as the screens show it -----------------------------------------------------


@dataclass
class Draft(units.UnitContext):
    """A unit review's draft and its setting, read once per screen."""

    review: UnitReview
    meeting_at: dt.datetime | None
    draft_due: dt.date | None  # R-D1: the last day the draft may reach the participants
    prompted: bool  # R-D4: the upper level sent points to the unit or its members
    texts: dict[str, str]
    prompts: list[Prompt]
    marks: dict[str, ScoreMark] = field(default_factory=dict)
    adjustments: list[ScoreAdjustment] = field(default_factory=list)
    comments: dict[str, int] = field(default_factory=dict)  # CommentStage -> count
    participants: int = 0
    circulated_on: dt.date | None = None  # the local day it first went out

    @property
    def subject(self) -> UnitSubject:
        return UnitSubject(self.review.subject)

    @property
    def state(self) -> UnitReviewState:
        return UnitReviewState(self.review.state)

    @property
    def has_file(self) -> bool:
        return self.review.report_docx is not None

    @property
    def meeting_days(self) -> Decimal:
        return meeting_days_min(self.prompted)

    @property
    def scored(self) -> bool:
        """Whether the draft carries a score sheet: a rated unit with a framework."""
        return self.rated and self.framework is not None and bool(self.framework.leaves())

    def unmarked(self) -> list[Criterion]:
        return [c for c in self.leaves() if c.code not in self.marks]

    def next_unmarked(self, after: str | None = None) -> Criterion | None:
        """The first criterion without a mark after `after` (wrapping round), or None."""
        leaves = list(self.leaves())
        codes = [c.code for c in leaves]
        start = codes.index(after) + 1 if after in codes else 0
        for criterion in leaves[start:] + leaves[:start]:
            if criterion.code not in self.marks and criterion.code != after:
                return criterion
        return None

    def missing_parts(self) -> list[str]:
        """The report's parts still to write (none when a Word file is the report)."""
        if self.has_file:
            return []
        return [key for key in required_keys(bool(self.prompts))
                if not self.texts.get(key, "").strip()]

    def score(self) -> OrgScore | None:
        """The sheet's running total with the proposed adjustments (None without a sheet)."""
        if not self.scored:
            return None
        marks = {code: points(mark.tenths) for code, mark in self.marks.items()}
        return self.score_with(marks, self.adjustments)

    def ready(self) -> bool:
        return not self.missing_parts() and not (self.scored and self.unmarked())


async def prompted(session: AsyncSession, cycle_id: int, org: Organisation) -> bool:
    """R-D4: points sent to the unit's collective, or to a member its meeting reviews (a cell's
    members; a đảng bộ's committee members)."""
    if OrgKind(org.kind).is_cell:
        reviewed = select(Member.id).where(Member.org_id == org.id)
    else:
        reviewed = select(Role.member_id).where(
            Role.org_id == org.id, Role.role.in_([r.value for r in units.LEADER_ROLES]))
    return await unit_is_prompted(session, cycle_id, org.id, reviewed)


async def meeting_needs(
    session: AsyncSession, cycle: Cycle, org: Organisation, day: dt.date | None
) -> MeetingNeeds:
    rulebook = cycle_rulebook(cycle)
    return MeetingNeeds(
        days=meeting_days_min(await prompted(session, cycle.id, org)),
        draft_due=draft_report_due(day, rulebook) if day is not None else None,
        working_days=rulebook.draft_report_working_days_before,
    )


async def meeting_needs_of(session: AsyncSession, meeting: Meeting, tz: dt.tzinfo) -> MeetingNeeds:
    cycle = await session.get(Cycle, meeting.cycle_id)
    org = await session.get(Organisation, meeting.org_id)
    return await meeting_needs(session, cycle, org, meeting.scheduled_at.astimezone(tz).date())


async def load_draft(
    session: AsyncSession, review: UnitReview, tz: dt.tzinfo, today: dt.date
) -> Draft:
    org = await session.get(Organisation, review.org_id)
    cycle = await session.get(Cycle, review.cycle_id)
    meeting = await meeting_for(session, cycle, org.id)
    meeting_at = meeting.scheduled_at if meeting is not None else None
    meeting_day = meeting_at.astimezone(tz).date() if meeting_at is not None else None
    draft = await Draft.load(
        session, org, cycle, review, meeting_day or today,
        meeting_at=meeting_at,
        draft_due=draft_report_due(meeting_day, cycle_rulebook(cycle)) if meeting_day else None,
        prompted=await prompted(session, cycle.id, org),
        texts=await section_texts(session, review.id),
        prompts=await unit_prompts(session, cycle.id, org.id, review.subject),
    )
    sheet = await draft_sheet(session, review.id)
    if sheet is not None:
        found = await session.scalars(select(ScoreMark).where(ScoreMark.sheet_id == sheet.id))
        draft.marks = {mark.criterion: mark for mark in found.all()}
    draft.adjustments = await units.adjustments(session, review.id, proposed_only=True)
    rows = await session.execute(
        select(UnitComment.stage, func.count())
        .where(UnitComment.review_id == review.id)
        .group_by(UnitComment.stage)
    )
    draft.comments = {stage: count for stage, count in rows}
    draft.participants = len(await units.participants(session, review))
    if review.circulated_at is not None:
        draft.circulated_on = review.circulated_at.astimezone(tz).date()
    return draft


def require_open(draft: Draft) -> None:
    """The draft may change until the review was held at the meeting."""
    if draft.state == UnitReviewState.REVIEWED:
        raise UnitReviewRefused(REVIEWED, org=draft.org.name)


# --- the draft score sheet ---------------------------------------------------------------


async def draft_sheet(
    session: AsyncSession, review_id: int, *, create: bool = False
) -> ScoreSheet | None:
    """The head's draft sheet of the review (no member), the oldest if two were made at once."""
    sheet = await session.scalar(
        select(ScoreSheet)
        .where(ScoreSheet.review_id == review_id, ScoreSheet.member_id.is_(None))
        .order_by(ScoreSheet.id)
        .limit(1)
    )
    if sheet is None and create:
        sheet = ScoreSheet(review_id=review_id, member_id=None)
        session.add(sheet)
        await session.flush()
    return sheet


# Grades as people type them: Vietnamese with or without diacritics, the usual
# abbreviations, English.
_GRADE_WORDS: dict[str, ScoreGrade] = {
    "xuat sac": ScoreGrade.EXCELLENT, "xs": ScoreGrade.EXCELLENT, "excellent": ScoreGrade.EXCELLENT,
    "tot": ScoreGrade.GOOD, "good": ScoreGrade.GOOD,
    "trung binh": ScoreGrade.AVERAGE, "tb": ScoreGrade.AVERAGE, "average": ScoreGrade.AVERAGE,
    "kem": ScoreGrade.POOR, "poor": ScoreGrade.POOR,
}
GRADES: tuple[ScoreGrade, ...] = tuple(ScoreGrade)
# A number as typed on a phone: ASCII digits, a decimal comma (Vietnamese) or point, at most
# one decimal that counts ("8,50" is 8.5).
_NUMBER = re.compile(r"([0-9]{1,4})(?:[.,]([0-9])0*)?")


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.strip().lower().replace("đ", "d"))
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def parse_grade(text: str) -> ScoreGrade | None:
    return _GRADE_WORDS.get(_plain(text))


def parse_tenths(text: str) -> int | None:
    """'8,5' → 85; None for anything that is not a number with at most one decimal."""
    match = _NUMBER.fullmatch(text.strip())
    if match is None:
        return None
    return int(match[1]) * 10 + int(match[2] or 0)


def number_text(tenths: int) -> str:
    """Tenths as a plain number for messages that are not localised ("8.5", "10")."""
    return str(tenths // 10) if tenths % 10 == 0 else f"{tenths // 10}.{tenths % 10}"


E_MARK_FORMAT = N_(
    "Type the points, then a semicolon and the result in words and figures, e.g. «{example}»; "
    "«{text}» is not that."
)
E_MARK_RANGE = N_(
    "Criterion {criterion} takes from 0 to {max} points, with at most one decimal; «{text}» "
    "is not that."
)
E_MARK_RESULT = N_(
    "Write the result in words and figures after the points, e.g. «{example}»: the score "
    "sheet needs it for every criterion."
)
E_TOO_LONG = N_("That is {length} characters; at most {max} here.")


def mark_example(criterion: Criterion) -> str:
    """A whole number of points in the criterion's range (readable in any locale)."""
    return f"{max(criterion.max_tenths // 10 - 1, 0)}; …"


def parse_mark(text: str, criterion: Criterion, had_result: bool) -> TypedMark:
    """«points; result» or «points; grade; result» for one criterion (a grade pressed before
    typing is kept by the caller). The result may be left out when the criterion has one."""
    first, _sep, rest = text.partition(";")
    tenths = parse_tenths(first)
    example = mark_example(criterion)
    if tenths is None:
        raise UnitReviewRefused(E_MARK_FORMAT, example=example, text=text[:40])
    if tenths > criterion.max_tenths:
        raise UnitReviewRefused(E_MARK_RANGE, criterion=criterion.code,
                                max=points(criterion.max_tenths), text=first.strip()[:20])
    grade = None
    second, _sep2, after = rest.partition(";")
    if parse_grade(second) is not None:
        grade, rest = parse_grade(second), after
    result = rest.strip() or None
    if result is None and not had_result:
        raise UnitReviewRefused(E_MARK_RESULT, example=example)
    if result is not None and len(result) > RESULT_MAX:
        raise UnitReviewRefused(E_TOO_LONG, length=len(result), max=RESULT_MAX)
    return TypedMark(tenths, grade, result)


async def save_mark(
    session: AsyncSession, review: UnitReview, criterion: Criterion, mark: TypedMark,
    grade: ScoreGrade, actor: str, *, now: dt.datetime,
) -> ScoreMark:
    """The draft's mark of one leaf criterion (replacing an earlier one)."""
    sheet = await draft_sheet(session, review.id, create=True)
    row = await session.get(ScoreMark, (sheet.id, criterion.code))
    if row is None:
        row = ScoreMark(sheet_id=sheet.id, criterion=criterion.code, tenths=mark.tenths)
        session.add(row)
    row.tenths, row.grade = mark.tenths, grade.value
    if mark.result is not None:
        row.result = mark.result
    review.prepared_by = review.prepared_by or actor
    review.updated_at = now
    await session.flush()
    return row


async def set_grade(
    session: AsyncSession, review: UnitReview, criterion: Criterion, grade: ScoreGrade
) -> ScoreMark | None:
    """A grade pressed for a criterion that has its mark: the mark takes it."""
    sheet = await draft_sheet(session, review.id)
    row = await session.get(ScoreMark, (sheet.id, criterion.code)) if sheet else None
    if row is not None:
        row.grade = grade.value
        await session.flush()
    return row


def leaf(draft: Draft, code: str) -> Criterion | None:
    return next((c for c in draft.leaves() if c.code == code), None)


# --- proposed deductions and additions ----------------------------------------------------


E_ADJ_FORMAT = N_(
    "Write the four parts separated by semicolons: criterion; {figure}; reason; who is "
    "responsible. For example: «{example}»."
)
E_ADJ_CRITERION = N_("There is no criterion {code} in the framework {org} is scored on.")
E_ADJ_SHORTFALL = N_(
    "«{text}» is not a percentage from 0 to 100 with at most one decimal."
)
E_ADJ_SMALL = N_(
    "A target missed by {percent}% costs nothing: a deduction starts at {step}% short."
)
E_ADJ_POINTS = N_(
    "«{text}» is not a number of points above 0 with at most one decimal."
)
E_ADJ_BONUS = N_("An addition gives at most {max} points for one item; «{text}» is more.")
E_ADJ_GROUNDS = N_("The reason and who is responsible must both be written.")
DEDUCTION_EXAMPLE = "2.1; 12; Thu ngân sách đạt 88% kế hoạch; Chi ủy"
ADDITION_EXAMPLE = "3; 1,5; Mô hình dân vận khéo được tỉnh khen thưởng; Chi bộ"
FIGURE_SHORTFALL = N_("percent short of the target")
FIGURE_POINTS = N_("points added")


def parse_adjustment(
    text: str, kind: AdjustmentKind, framework: Framework, rulebook: Rulebook, org_name: str
) -> TypedAdjustment:
    """«criterion; figure; reason; who is responsible», checked by the seed's rule (seed 004
    B.6: a deduction from 5% short, 0.5 per full 5%, at most 2 per target; an addition at most
    2 per item; each with its reason and who is responsible)."""
    deduction = kind == AdjustmentKind.DEDUCTION
    parts = [p.strip() for p in text.split(";", 3)]
    if len(parts) != 4:
        raise UnitReviewRefused(
            E_ADJ_FORMAT, figure=FIGURE_SHORTFALL if deduction else FIGURE_POINTS,
            example=DEDUCTION_EXAMPLE if deduction else ADDITION_EXAMPLE)
    code, figure, reason, responsible = parts
    criterion = next((c for c in framework.criteria if c.code.lower() == code.lower()), None)
    if criterion is None:
        raise UnitReviewRefused(E_ADJ_CRITERION, code=code[:16], org=org_name)
    tenths = parse_tenths(figure.removesuffix("%").strip())
    if deduction:
        if tenths is None or tenths > 1000:
            raise UnitReviewRefused(E_ADJ_SHORTFALL, text=figure[:20])
        if target_penalty(points(tenths), rulebook) == 0:
            raise UnitReviewRefused(E_ADJ_SMALL, percent=points(tenths),
                                    step=rulebook.org_target_step_percent)
    else:
        if tenths is None or tenths == 0:
            raise UnitReviewRefused(E_ADJ_POINTS, text=figure[:20])
        _granted, problems = outstanding_bonus(points(tenths), reason or "-", rulebook)
        if problems:
            raise UnitReviewRefused(E_ADJ_BONUS, max=points(rulebook.org_bonus_max_tenths),
                                    text=figure[:20])
    if not reason or not responsible:
        raise UnitReviewRefused(E_ADJ_GROUNDS)
    if len(reason) > REASON_MAX:
        raise UnitReviewRefused(E_TOO_LONG, length=len(reason), max=REASON_MAX)
    if len(responsible) > RESPONSIBLE_MAX:
        raise UnitReviewRefused(E_TOO_LONG, length=len(responsible), max=RESPONSIBLE_MAX)
    return TypedAdjustment(kind, criterion.code, tenths, reason, responsible)


def adjustment_points(adjustment: ScoreAdjustment, rulebook: Rulebook) -> Decimal:
    """The points an adjustment moves the total by: negative for a deduction."""
    if adjustment.kind == AdjustmentKind.DEDUCTION:
        return -target_penalty(points(adjustment.shortfall_tenths or 0), rulebook)
    granted, _ = outstanding_bonus(points(adjustment.points_tenths or 0), adjustment.reason,
                                   rulebook)
    return granted


async def add_adjustment(
    session: AsyncSession, review: UnitReview, typed: TypedAdjustment, actor: str
) -> ScoreAdjustment:
    deduction = typed.kind == AdjustmentKind.DEDUCTION
    row = ScoreAdjustment(
        review_id=review.id, agreed=False, kind=typed.kind.value, criterion=typed.criterion,
        shortfall_tenths=typed.tenths if deduction else None,
        points_tenths=None if deduction else typed.tenths,
        reason=typed.reason, responsible=typed.responsible, entered_by=actor,
    )
    session.add(row)
    review.prepared_by = review.prepared_by or actor
    await session.flush()
    return row


async def remove_adjustment(session: AsyncSession, review: UnitReview, adjustment_id: int) -> bool:
    """A proposed (not yet agreed) adjustment of this review withdrawn; False if none."""
    row = await session.get(ScoreAdjustment, adjustment_id)
    if row is None or row.review_id != review.id or row.agreed:
        return False
    await session.delete(row)
    await session.flush()
    return True


# --- comments --------------------------------------------------------------------------------

E_NOT_LEADER = N_(
    "The draft of {org} is still being prepared: only its committee comments on it now."
)
E_NOT_PARTICIPANT = N_(
    "You do not take part in the review of {org}, so you do not comment on its draft."
)
E_COMMENTS_CLOSED = N_(
    "The meeting of {org} has begun: comments on the draft are closed. Say it at the meeting."
)


async def comment_stage(
    session: AsyncSession, review: UnitReview, org: Organisation, member: Member, *,
    is_leader: bool, now: dt.datetime,
) -> CommentStage:
    """Who may comment when: the unit's leaders while the head drafts; every participant once
    the draft went out, until the meeting."""
    state = UnitReviewState(review.state)
    if state == UnitReviewState.DRAFTING:
        if not is_leader:
            raise UnitReviewRefused(E_NOT_LEADER, org=org.name)
        return CommentStage.COMMITTEE
    cycle = await session.get(Cycle, review.cycle_id)
    meeting = await meeting_for(session, cycle, org.id)
    if state == UnitReviewState.REVIEWED or (meeting is not None and meeting.scheduled_at <= now):
        raise UnitReviewRefused(E_COMMENTS_CLOSED, org=org.name)
    if member.id not in {m.id for m in await units.participants(session, review)}:
        raise UnitReviewRefused(E_NOT_PARTICIPANT, org=org.name)
    return CommentStage.PARTICIPANT


async def may_read(
    session: AsyncSession, review: UnitReview, member: Member, *, is_leader: bool
) -> bool:
    """The draft is read by the unit's leaders, and by every participant once it went out."""
    if is_leader:
        return True
    if review.state == UnitReviewState.DRAFTING:
        return False
    return member.id in {m.id for m in await units.participants(session, review)}


async def add_comment(
    session: AsyncSession, review: UnitReview, member: Member, stage: CommentStage, text: str,
    now: dt.datetime,
) -> UnitComment:
    if len(text) > COMMENT_MAX:
        raise UnitReviewRefused(E_TOO_LONG, length=len(text), max=COMMENT_MAX)
    row = UnitComment(review_id=review.id, member_id=member.id, stage=stage.value, text=text,
                      at=now)
    session.add(row)
    await session.flush()
    return row


async def comments_of(session: AsyncSession, review_id: int) -> list[CommentView]:
    rows = await session.execute(
        select(Member.full_name, UnitComment.stage, UnitComment.text, UnitComment.at)
        .join(Member, Member.id == UnitComment.member_id)
        .where(UnitComment.review_id == review_id)
        .order_by(UnitComment.at, UnitComment.id)
    )
    return [CommentView(name, CommentStage(stage), text, at) for name, stage, text, at in rows]


# --- who hears of it -------------------------------------------------------------------------


async def _recipients(session: AsyncSession, members: list[Member], but: int | None) -> list[Recipient]:
    members = [m for m in members if m.id != but]
    accounts = await notify.accounts_by_member(session, [m.id for m in members])
    return [Recipient(m, accounts.get(m.id)) for m in members]


async def committee_recipients(
    session: AsyncSession, review: UnitReview, but: int | None
) -> list[Recipient]:
    """The unit's leaders (its cấp ủy) other than `but`: they comment while the head drafts."""
    return await _recipients(session, await units.leaders(session, review.org_id), but)


async def participant_recipients(
    session: AsyncSession, review: UnitReview, but: int | None
) -> list[Recipient]:
    return await _recipients(session, await units.participants(session, review), but)


async def head_recipients(session: AsyncSession, review: UnitReview, but: int | None) -> list[Recipient]:
    """The unit's heads (secretary, deputy), who hear of each comment."""
    return await unit_heads(session, review.org_id, but)


async def unit_heads(session: AsyncSession, org_id: int, but: int | None = None) -> list[Recipient]:
    """The unit's heads (secretary, deputy), who hear of each comment and prompt."""
    return await _recipients(session, await units.heads(session, org_id), but)


# --- circulation (R-D1) ------------------------------------------------------------------------

E_NOT_READY = N_("The draft is not complete yet. Still to do: {missing}.")


def circulate(
    session: AsyncSession, draft: Draft, actor: str, now: dt.datetime, tz: dt.tzinfo
) -> None:
    """The draft goes to every participant: circulated, the first time recorded (R-D1 is met
    by the first circulation; sending an amended draft again keeps it)."""
    require_open(draft)
    review = draft.review
    first = review.circulated_at is None
    if first:
        review.circulated_at = now
        review.circulated_by = actor
    review.state = UnitReviewState.CIRCULATED.value
    session.add(AuditEntry.record(
        actor, "unit_review.circulate", "unit_review", review.id, org=draft.org.code,
        subject=review.subject, again=not first, participants=draft.participants,
        on_time=None if draft.draft_due is None else now.astimezone(tz).date() <= draft.draft_due,
    ))


async def reviews_near(session: AsyncSession, member: Member, led_org_ids: set[int]) -> list[
        tuple[UnitReview, Organisation]]:
    """The opened reviews of the member's own cell and of the units they lead (/gop_y without a
    code looks for a draft among them)."""
    org_ids = {member.org_id, *led_org_ids}
    found = []
    for org_id in sorted(org_ids):
        org = await session.get(Organisation, org_id)
        if org is None or not units.is_rated_kind(org):
            continue
        cycle = await units.plan_of(session, org)
        if cycle is not None:
            found += [(review, org) for review in await units.reviews_of(session, cycle.id, org.id)]
    return found
