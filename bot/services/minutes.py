"""The meeting's minutes (biên bản hội nghị kiểm điểm, đánh giá, xếp loại chất lượng), read from
what the bot recorded: the attendance and the R-B3 denominator, the order followed (R-D3), each
collective's review (its report, the comments, the scores with their deductions and additions),
the ballot's results, the chair's conclusions and the upper level's prompts.

Everything is read into plain frozen data (``MinutesData``), so the Word file is drawn from it
in a worker thread without the database (bot/services/minutes_docx.py), and the parts of issue
14 that write these rows can land in any order: a part with no rows yet reads as "not yet".

The ballot is read as the README's sealed box leaves it: per round, how many may vote and how
many have; per candidate and level, the counts of a round whose box was opened. Nothing here
reads or returns anything that ties a vote to a voter (R-B6).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP
from decimal import Decimal

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import unit_report
from bot.services import unit_review
from bot.services import units
from bot.services.ballot import CHOICES
from bot.services.ballot import MeetingState
from bot.services.ballot import cell_members
from bot.services.cycles import cycle_for_org
from bot.services.cycles import cycle_rulebook
from rules.levels import Level
from rules.org_scoring import org_band
from rules.org_scoring import points
from rules.org_scoring import tenths
from rules.people import Presence
from rules.people import name_sort_key
from rules.rulebooks import Rulebook
from rules.scoring import outstanding_bonus
from rules.scoring import target_penalty
from storage.models import AdjustmentKind
from storage.models import AuditEntry
from storage.models import BallotCandidate
from storage.models import BallotCount
from storage.models import BallotRound
from storage.models import BallotTeller
from storage.models import BallotVoter
from storage.models import CountingCommittee
from storage.models import CountingCommitteeMember
from storage.models import Cycle
from storage.models import Meeting
from storage.models import MeetingAttendance
from storage.models import Member
from storage.models import Organisation
from storage.models import OrgKind
from storage.models import ReviewPrompt
from storage.models import ReviewState
from storage.models import ScoreAdjustment
from storage.models import ScoreMark
from storage.models import ScoreSheet
from storage.models import SelfReview
from storage.models import TelegramAccount
from storage.models import UnitRating
from storage.models import UnitRatingChange
from storage.models import UnitReview

CONCLUSIONS_MAX = 4096  # characters: what one Telegram message holds


# --- the data of the minutes -------------------------------------------------------------------


@dataclass(frozen=True)
class Attendance:
    """Who was convened and who came (R-E5, R-B1), with the R-B3 denominator and R-B9 quorum."""

    recorded: bool  # any presence was marked at /hop
    members: int  # convened: a cell's members, or a committee's members
    official: int
    probationary: int
    present: tuple[str, ...]
    excused: tuple[str, ...]
    absent: tuple[str, ...]
    denominator: int
    present_counted: int
    quorum: bool


@dataclass(frozen=True)
class CriterionLine:
    """One criterion of the framework with the points given: the draft's, and the meeting's
    combined (the mean of the members' sheets, to a tenth); None where not given."""

    code: str
    text: str
    depth: int  # 0: a criterion, 1: a sub-criterion, ...
    max_tenths: int
    draft_tenths: int | None
    combined_tenths: int | None
    grade: str | None  # ScoreGrade of the draft
    result: str | None  # the draft's result in words and figures


@dataclass(frozen=True)
class AdjustmentLine:
    """A deduction or an addition, with the points it applies (negative for a deduction)."""

    kind: str  # AdjustmentKind
    criterion: str
    applied_tenths: int
    shortfall_tenths: int | None
    reason: str
    responsible: str
    agreed: bool


@dataclass(frozen=True)
class ScoreSummary:
    framework: bool  # a criteria framework applies to the unit
    criteria: tuple[CriterionLine, ...]
    draft: bool  # the head's draft sheet exists
    sheets: int  # members' sheets submitted at the meeting
    adjustments: tuple[AdjustmentLine, ...]
    combined_tenths: int | None  # the unit's combined total (seed 004 B.1.4)
    band: Level | None

    @property
    def held(self) -> bool:
        return self.draft or self.sheets > 0 or self.combined_tenths is not None


@dataclass(frozen=True)
class Comment:
    name: str
    stage: str  # CommentStage
    text: str


@dataclass(frozen=True)
class CollectiveReview:
    """A collective's review: the organisation itself, or its leadership collective. `state`
    None: no review row exists yet for this subject."""

    subject: str  # UnitSubject
    unit_name: str
    state: str | None
    report: str | None  # "file" | "typed" | None
    report_filename: str | None
    prepared_by: str | None
    circulated_at: dt.datetime | None
    reviewed_at: dt.datetime | None
    comments: tuple[Comment, ...]
    scores: ScoreSummary
    proposed_level: str | None
    decided_level: str | None
    not_rated: bool
    deciding_name: str | None


@dataclass(frozen=True)
class CandidateResult:
    name: str  # the member, or the organisation of a unit candidate
    subject: str | None  # a unit candidate's UnitSubject; None for a member
    counts: tuple[tuple[str, int], ...]  # (choice, votes) in CHOICES order
    adopted: str | None
    undecided: bool


@dataclass(frozen=True)
class RoundLine:
    number: int
    kind: str  # "members" | "units"
    state: str  # "pending" | "voting" | "sealed" | "closed"
    opened_at: dt.datetime
    closed_at: dt.datetime | None
    voters: int
    cast: int
    denominator: int | None
    counting_rule: str
    results: tuple[CandidateResult, ...]  # a closed round's counts; empty otherwise


@dataclass(frozen=True)
class PromptLine:
    to: str  # the collective or member the points were sent to
    sender: str  # the organisation that sent them
    text: str


@dataclass(frozen=True)
class MinutesData:
    year: int
    rulebook: str
    unit_name: str
    unit_code: str
    unit_kind: str  # OrgKind
    upper_name: str | None
    meeting_at: dt.datetime
    attendance: Attendance
    order_reason: str | None
    reviews: tuple[CollectiveReview, ...]
    presented: tuple[str, ...]  # members who handed in their self-review (a cell's meeting)
    rounds: tuple[RoundLine, ...]
    tellers: tuple[str, ...]
    threshold: int | None
    conclusions: str | None
    prompts: tuple[PromptLine, ...]
    drafted_on: dt.date

    @property
    def is_cell(self) -> bool:
        return OrgKind(self.unit_kind).is_cell

    @property
    def ballot_before_collectives(self) -> bool:
        """R-D3 not followed: the members' ballot opened before every collective was reviewed
        (the secretary recorded why, or the times say so)."""
        if self.order_reason:
            return True
        opened = [r.opened_at for r in self.rounds if r.kind == "members"]
        if not opened or not self.reviews:
            return False
        reviewed = [r.reviewed_at for r in self.reviews]
        return any(at is None for at in reviewed) or min(opened) < max(reviewed)


# --- which meeting -----------------------------------------------------------------------------


async def unit_meeting(
    session: AsyncSession, org: Organisation
) -> tuple[Cycle | None, Meeting | None]:
    """The plan that covers `org` and the unit's meeting in it (either may be None)."""
    cycle = await cycle_for_org(session, org)
    if cycle is None:
        return None, None
    meeting = await session.scalar(
        select(Meeting).where(Meeting.cycle_id == cycle.id, Meeting.org_id == org.id)
    )
    return cycle, meeting


async def meeting_by_id(session: AsyncSession, meeting_id: int) -> Meeting | None:
    return await session.get(Meeting, meeting_id)


async def meeting_org(session: AsyncSession, meeting: Meeting) -> Organisation | None:
    return await session.get(Organisation, meeting.org_id)


async def save_conclusions(
    session: AsyncSession, meeting: Meeting, text: str, *, actor: str
) -> None:
    """The chair's conclusions, written into the minutes; the audit log records that they were
    written and their length, never their text."""
    meeting.conclusions = text
    session.add(AuditEntry.record(actor, "minutes.conclusions", "meeting", meeting.id,
                                  characters=len(text)))
    await session.flush()


# --- reading it all ------------------------------------------------------------------------------


async def gather(session: AsyncSession, meeting: Meeting, *, today: dt.date) -> MinutesData:
    """Everything the minutes of `meeting` say, as plain data."""
    org = await session.get(Organisation, meeting.org_id)
    cycle = await session.get(Cycle, meeting.cycle_id)
    rulebook = cycle_rulebook(cycle)
    upper = await session.get(Organisation, org.parent_id) if org.parent_id else None
    names = ActorNames(session, org)
    tellers, threshold = await _committee(session, meeting.id)
    return MinutesData(
        year=cycle.year,
        rulebook=cycle.rulebook,
        unit_name=org.name,
        unit_code=org.code,
        unit_kind=org.kind,
        upper_name=upper.name if upper else None,
        meeting_at=meeting.scheduled_at,
        attendance=await attendance(session, meeting, org, cycle, rulebook, today),
        order_reason=meeting.order_reason,
        reviews=tuple(await collective_reviews(session, cycle, org, rulebook, names)),
        presented=tuple(await _presented(session, cycle, org)),
        rounds=tuple(await ballot_rounds(session, meeting.id)),
        tellers=tellers,
        threshold=threshold,
        conclusions=(meeting.conclusions or "").strip() or None,
        prompts=tuple(await prompts(session, cycle, org)),
        drafted_on=today,
    )


async def convened(session: AsyncSession, org: Organisation) -> list[Member]:
    """Who is convened to the unit's meeting: a cell's members; for a đảng bộ, its committee."""
    if OrgKind(org.kind).is_cell:
        return await cell_members(session, org)
    return await units.leaders(session, org.id)


async def attendance(
    session: AsyncSession, meeting: Meeting, org: Organisation, cycle: Cycle,
    rulebook: Rulebook, today: dt.date,
) -> Attendance:
    members = await convened(session, org)
    rows = await session.scalars(
        select(MeetingAttendance).where(MeetingAttendance.meeting_id == meeting.id)
    )
    marked = {row.member_id: Presence(row.presence) for row in rows}
    presence = {m.id: marked.get(m.id, Presence.ABSENT) for m in members}
    state = MeetingState(org, cycle, rulebook, meeting, members, presence, today)

    def named(wanted: Presence) -> tuple[str, ...]:
        return tuple(m.full_name for m in members if presence[m.id] is wanted)

    official = sum(1 for m in members if m.status == "official")
    return Attendance(
        recorded=bool(marked),
        members=len(members),
        official=official,
        probationary=len(members) - official,
        present=named(Presence.PRESENT),
        excused=named(Presence.ABSENT_EXCUSED),
        absent=named(Presence.ABSENT),
        denominator=state.denominator(),
        present_counted=state.present_counted(),
        quorum=state.quorum(),
    )


class ActorNames:
    """Names of the people behind audit actors ("tg:<telegram id>"), looked up once each, for
    the people of the unit `within` only: whoever reads a unit's papers may see their own
    unit's people, not a member of another cell who sits on the committee that decided (the
    papers name that committee instead)."""

    def __init__(self, session: AsyncSession, within: Organisation) -> None:
        self.session = session
        self.within = within.path
        self.known: dict[str, str | None] = {}

    async def of(self, actor: str | None) -> str | None:
        if not actor or not actor.startswith("tg:") or not actor[3:].isdigit():
            return None
        if actor not in self.known:
            row = (await self.session.execute(
                select(Member.full_name, Organisation.path)
                .join(TelegramAccount, TelegramAccount.member_id == Member.id)
                .join(Organisation, Organisation.id == Member.org_id)
                .where(TelegramAccount.telegram_id == int(actor[3:]))
            )).first()
            inside = row is not None and row.path.startswith(self.within)
            self.known[actor] = row.full_name if inside else None
        return self.known[actor]


async def collective_reviews(
    session: AsyncSession, cycle: Cycle, org: Organisation, rulebook: Rulebook,
    names: ActorNames | None = None,
) -> list[CollectiveReview]:
    """The unit's collectives, each with its review as far as it went: every subject the unit
    is reviewed as (and any review row beyond them), the organisation first."""
    names = names or ActorNames(session, org)
    rows = {r.subject: r for r in await units.reviews_of(session, cycle.id, org.id)}
    subjects = [s.value for s in await units.subjects_of(session, org)]
    subjects += [s for s in rows if s not in subjects]
    deciding = await units.deciding_org(session, org)
    found = []
    for subject in subjects:
        review = rows.get(subject)
        if review is None:
            found.append(_not_started(subject, org, deciding))
        else:
            found.append(await _review(session, review, org, rulebook, names, deciding))
    return found


def _not_started(
    subject: str, org: Organisation, deciding: Organisation | None
) -> CollectiveReview:
    empty = ScoreSummary(False, (), False, 0, (), None, None)
    return CollectiveReview(subject, org.name, None, None, None, None, None, None, (), empty,
                            None, None, False, deciding.name if deciding else None)


async def _review(
    session: AsyncSession, review: UnitReview, org: Organisation, rulebook: Rulebook,
    names: ActorNames, deciding: Organisation | None,
) -> CollectiveReview:
    # The report and comments as /tap_the and /gop_y store them (issue 14 part A).
    typed = any(await unit_report.section_texts(session, review.id))
    report = "file" if review.report_docx else ("typed" if typed else None)
    comments = [Comment(c.author, c.stage.value, c.text)
                for c in await unit_review.comments_of(session, review.id)]
    rating = await units.live_rating(session, review.id)
    return CollectiveReview(
        subject=review.subject,
        unit_name=org.name,
        state=review.state,
        report=report,
        report_filename=review.report_filename if review.report_docx else None,
        prepared_by=await names.of(review.prepared_by),
        circulated_at=review.circulated_at,
        reviewed_at=review.reviewed_at,
        comments=tuple(comments),
        scores=await scores(session, review, org, rulebook),
        proposed_level=await _own_proposal(session, rating),
        decided_level=rating.decided_level if rating else None,
        not_rated=bool(rating and rating.not_rated),
        deciding_name=deciding.name if deciding else None,
    )


async def _own_proposal(session: AsyncSession, rating: UnitRating | None) -> str | None:
    """The level the collective proposed for itself (its vote): the last "proposed" row of the
    rating's history, since the deciding level may have lowered the proposal afterwards."""
    if rating is None:
        return None
    voted = await session.scalar(
        select(UnitRatingChange.level)
        .where(UnitRatingChange.rating_id == rating.id, UnitRatingChange.kind == "proposed")
        .order_by(UnitRatingChange.id.desc())
        .limit(1)
    )
    return voted or rating.proposed_level


def _mean_tenths(values: list[int]) -> int:
    mean = Decimal(sum(values)) / len(values) / 10
    return tenths(mean.quantize(Decimal("0.1"), ROUND_HALF_UP))


async def scores(
    session: AsyncSession, review: UnitReview, org: Organisation, rulebook: Rulebook
) -> ScoreSummary:
    """The review's scores: the framework's criteria with the draft's marks and the meeting's
    combined marks, the deductions and additions, the combined total and its band."""
    framework = await units.criteria_of(session, org)
    sheets = list(await session.scalars(
        select(ScoreSheet).where(ScoreSheet.review_id == review.id).order_by(ScoreSheet.id)
    ))
    draft = next((s for s in sheets if s.member_id is None), None)
    submitted = {s.id for s in sheets if s.member_id is not None and s.submitted_at is not None}
    marks = list(await session.scalars(
        select(ScoreMark).where(ScoreMark.sheet_id.in_([s.id for s in sheets]))
    )) if sheets else []
    drafted = {m.criterion: m for m in marks if draft is not None and m.sheet_id == draft.id}
    given: dict[str, list[int]] = defaultdict(list)
    for mark in marks:
        if mark.sheet_id in submitted:
            given[mark.criterion].append(mark.tenths)
    lines = []
    if framework is not None:
        combined = {code: _mean_tenths(values) for code, values in given.items()}
        draft_marks = {code: m.tenths for code, m in drafted.items()}
        for criterion in framework.criteria:
            depth = 0
            parent = criterion.parent
            while parent is not None:
                depth += 1
                parent = framework.get(parent).parent if framework.get(parent) else None
            mark = drafted.get(criterion.code)
            lines.append(CriterionLine(
                criterion.code, criterion.text, depth, criterion.max_tenths,
                _sum_below(framework, criterion.code, draft_marks),
                _sum_below(framework, criterion.code, combined),
                mark.grade if mark else None, mark.result if mark else None,
            ))
    adjustments = [
        _adjustment(row, rulebook)
        for row in await session.scalars(
            select(ScoreAdjustment).where(ScoreAdjustment.review_id == review.id)
            .order_by(ScoreAdjustment.at, ScoreAdjustment.id)
        )
    ]
    total = review.combined_tenths
    return ScoreSummary(
        framework=framework is not None,
        criteria=tuple(lines),
        draft=draft is not None,
        sheets=len(submitted),
        adjustments=tuple(adjustments),
        combined_tenths=total,
        band=org_band(points(total), rulebook) if total is not None else None,
    )


def _sum_below(framework, code: str, values: dict[str, int]) -> int | None:
    """A leaf's value, or the sum of its sub-criteria's when every one of them has one."""
    below = framework.children(code)
    if not below:
        return values.get(code)
    parts = [_sum_below(framework, c.code, values) for c in below]
    return None if any(p is None for p in parts) else sum(parts)


def _adjustment(row: ScoreAdjustment, rulebook: Rulebook) -> AdjustmentLine:
    if row.kind == AdjustmentKind.DEDUCTION:
        shortfall = points(row.shortfall_tenths or 0)
        applied = -tenths(target_penalty(shortfall, rulebook))
    else:
        granted, _problems = outstanding_bonus(points(row.points_tenths or 0), row.reason,
                                               rulebook)
        applied = tenths(granted)
    return AdjustmentLine(row.kind, row.criterion, applied, row.shortfall_tenths, row.reason,
                          row.responsible, row.agreed)


async def _presented(session: AsyncSession, cycle: Cycle, org: Organisation) -> list[str]:
    """The cell's members who handed in their self-review (a đảng bộ's meeting reviews its
    collectives; its members are reviewed in their cells)."""
    if not OrgKind(org.kind).is_cell:
        return []
    found = await session.scalars(
        select(Member.full_name)
        .join(SelfReview, SelfReview.member_id == Member.id)
        .where(SelfReview.cycle_id == cycle.id, Member.org_id == org.id,
               SelfReview.state == ReviewState.SUBMITTED)
    )
    return sorted(found.all(), key=name_sort_key)


async def _committee(session: AsyncSession, meeting_id: int) -> tuple[tuple[str, ...], int | None]:
    """The counting committee and how many of it open a box: the one the secretary named,
    else the default the rounds gave their key shares to (a small cell's secretary alone)."""
    named = await session.get(CountingCommittee, meeting_id)
    if named is not None:
        found = await session.scalars(
            select(Member.full_name)
            .join(CountingCommitteeMember, CountingCommitteeMember.member_id == Member.id)
            .where(CountingCommitteeMember.meeting_id == meeting_id)
        )
        return tuple(sorted(found.all(), key=name_sort_key)), named.threshold
    rounds = BallotRound.meeting_id == meeting_id
    found = await session.scalars(
        select(Member.full_name).distinct()
        .join(BallotTeller, BallotTeller.member_id == Member.id)
        .join(BallotRound, BallotRound.id == BallotTeller.round_id)
        .where(rounds)
    )
    threshold = await session.scalar(select(func.max(BallotRound.threshold)).where(rounds))
    return tuple(sorted(found.all(), key=name_sort_key)), threshold


# --- the ballot, as the sealed box leaves it -----------------------------------------------------


async def ballot_rounds(session: AsyncSession, meeting_id: int) -> list[RoundLine]:
    """Every round of the meeting, members' and units', in the order they were held; the counts
    of a round only once its box was opened (R-B6)."""
    rounds = list(await session.scalars(
        select(BallotRound).where(BallotRound.meeting_id == meeting_id)
        .order_by(BallotRound.number, BallotRound.id)
    ))
    if not rounds:
        return []
    ids = [r.id for r in rounds]
    voters: dict[int, tuple[int, int]] = {}
    rows = await session.execute(
        select(BallotVoter.round_id, func.count(), func.count().filter(BallotVoter.has_voted))
        .where(BallotVoter.round_id.in_(ids))
        .group_by(BallotVoter.round_id)
    )
    for round_id, total, cast in rows:
        voters[round_id] = (total, cast)
    found = []
    for ballot_round in rounds:
        closed = ballot_round.state == "closed"
        total, cast = voters.get(ballot_round.id, (0, 0))
        found.append(RoundLine(
            number=ballot_round.number,
            kind=ballot_round.kind or "members",
            state=_round_state(ballot_round),
            opened_at=ballot_round.opened_at,
            closed_at=ballot_round.closed_at,
            voters=total,
            cast=cast,
            denominator=ballot_round.denominator,
            counting_rule=ballot_round.counting_rule,
            results=tuple(await _results(session, ballot_round.id)) if closed else (),
        ))
    return found


def _round_state(ballot_round: BallotRound) -> str:
    if ballot_round.state == "open":
        return "sealed" if ballot_round.ended_at is not None else "voting"
    return ballot_round.state


async def _results(session: AsyncSession, round_id: int) -> list[CandidateResult]:
    candidates = list(await session.scalars(
        select(BallotCandidate).where(BallotCandidate.round_id == round_id)
        .order_by(BallotCandidate.position)
    ))
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for row in await session.scalars(select(BallotCount).where(BallotCount.round_id == round_id)):
        counts[row.position][row.level] = row.votes
    found = []
    for candidate in candidates:
        name, subject = await _candidate(session, candidate)
        mine = counts.get(candidate.position, {})
        found.append(CandidateResult(
            name, subject, tuple((choice, mine.get(choice, 0)) for choice in CHOICES),
            candidate.adopted_level, bool(candidate.undecided),
        ))
    return found


async def _candidate(session: AsyncSession, candidate: BallotCandidate) -> tuple[str, str | None]:
    """(name, subject) of a round's candidate: a member, or a unit review's organisation."""
    if candidate.candidate_id is not None:
        member = await session.get(Member, candidate.candidate_id)
        return (member.full_name if member else ""), None
    review = await session.get(UnitReview, candidate.review_id)
    org = await session.get(Organisation, review.org_id) if review else None
    return (org.name, review.subject) if org is not None else ("", None)


# --- the upper level's prompts -------------------------------------------------------------------


async def prompts(session: AsyncSession, cycle: Cycle, org: Organisation) -> list[PromptLine]:
    """Points the upper levels sent to the unit's collectives and, at a cell's meeting, to its
    members, oldest first."""
    rows = await session.execute(
        select(ReviewPrompt, Organisation.name)
        .join(Organisation, Organisation.id == ReviewPrompt.org_id)
        .where(ReviewPrompt.cycle_id == cycle.id, ReviewPrompt.subject_org_id == org.id)
        .order_by(ReviewPrompt.id)
    )
    found = [PromptLine(org.name, name, prompt.text) for prompt, name in rows]
    if OrgKind(org.kind).is_cell:
        rows = await session.execute(
            select(ReviewPrompt, Organisation.name, Member.full_name)
            .join(Organisation, Organisation.id == ReviewPrompt.org_id)
            .join(Member, Member.id == ReviewPrompt.member_id)
            .where(ReviewPrompt.cycle_id == cycle.id, Member.org_id == org.id)
            .order_by(ReviewPrompt.id)
        )
        found += [PromptLine(member, name, prompt.text) for prompt, name, member in rows]
    return found

