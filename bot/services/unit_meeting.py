"""The meeting's order (R-D3; seed 004 A.4.2): the collectives first, then the individuals.

At a cell's meeting the collectives are the reviews of the cell (and, for a chi bộ cơ sở with
a committee, of its committee); at a đảng bộ cơ sở's the meeting is its committee's (the
đảng ủy: attendees its leaders) and the collectives are the đảng bộ and its đảng ủy. Each
collective's report is presented and commented on, then the secretary marks it reviewed at
this meeting (``UnitReview.state`` "reviewed", ``reviewed_at``, ``meeting_id``). The
members' secret ballot waits until every collective is reviewed, unless the secretary
records why it goes first (``Meeting.order_reason``, shown later in the minutes).

An organisation founded less than six months before (R-E4) is reviewed, not rated: marking
it reviewed records its rating as "not rated", and it is neither scored nor voted on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.services import units
from bot.services.ballot import meeting_state
from bot.services.cycles import member_facts
from bot.services.ratings import record_change
from bot.services.unit_ballot import UnitRefusal
from rules.eligibility import org_review_status
from rules.eligibility import review_status
from rules.meeting_order import Seat
from rules.meeting_order import ballot_may_open
from rules.meeting_order import individuals_order
from rules.people import Presence
from storage.models import AuditEntry
from storage.models import BallotRound
from storage.models import Cycle
from storage.models import Meeting
from storage.models import Member
from storage.models import Organisation
from storage.models import OrgKind
from storage.models import Role
from storage.models import RoleKind
from storage.models import UnitComment
from storage.models import UnitRating
from storage.models import UnitRatingChange
from storage.models import UnitReportPiece
from storage.models import UnitReview
from storage.models import UnitReviewState
from storage.models import UnitSubject

MEMBERS_ROUND = "members"
REASON_MAX = 1000  # characters of the reason for voting before the collectives' step
REASON_MIN = 10


class OrderError(UnitRefusal):
    pass


@dataclass
class Collective:
    """One collective of the meeting's organisation, as the order shows it."""

    org: Organisation
    subject: UnitSubject
    review: UnitReview | None  # None: not opened before the meeting (no report in the bot)
    rated: bool  # False: founded less than six months before (R-E4)
    has_report: bool
    comments: int

    @property
    def reviewed(self) -> bool:
        return self.review is not None and self.review.state == UnitReviewState.REVIEWED


@dataclass
class Individual:
    member: Member
    seat: Seat
    public_servant: bool  # in the political system, per the roster (form 2A or 2B)


@dataclass
class MeetingOrder:
    """What the meeting reviews, in order (R-D3)."""

    meeting: Meeting
    org: Organisation
    cycle: Cycle
    collectives: list[Collective]
    individuals: list[Individual]  # present and reviewed here, head first
    deferred: list[Member]  # absent: reviewed and rated at the next meeting (R-E5)
    lower_pending: list[Organisation]  # a đảng bộ's cells not yet reviewed (lower levels first)
    members_rounds: int  # members' ballot rounds already opened at this meeting
    ratings: dict[int, UnitRating]  # review id -> its live rating (proposed by the vote)

    @property
    def collectives_done(self) -> bool:
        return all(c.reviewed for c in self.collectives)

    @property
    def rated(self) -> bool:
        """False for an organisation founded less than six months before (R-E4)."""
        return all(c.rated for c in self.collectives)

    @property
    def reason(self) -> str | None:
        return self.meeting.order_reason

    @property
    def ballot_may_open(self) -> bool:
        return ballot_may_open(self.collectives_done, self.reason, self.members_rounds)

    @property
    def to_vote(self) -> bool:
        """Some collective reviewed here and rated has no proposed level yet."""
        return self.rated and any(
            c.reviewed and not (self.rating(c) and self.rating(c).proposed_level)
            for c in self.collectives
        )

    def rating(self, collective: Collective) -> UnitRating | None:
        return self.ratings.get(collective.review.id) if collective.review is not None else None

    def collective(self, subject: UnitSubject) -> Collective | None:
        return next((c for c in self.collectives if c.subject == subject), None)


async def meeting_org(session: AsyncSession, meeting: Meeting) -> Organisation:
    return await session.get(Organisation, meeting.org_id)


async def organisation(session: AsyncSession, org_id: int) -> Organisation | None:
    return await session.get(Organisation, org_id)


async def meeting_by_id(session: AsyncSession, meeting_id: int) -> Meeting | None:
    return await session.get(Meeting, meeting_id)


async def _seats(session: AsyncSession, org_id: int) -> dict[int, Seat]:
    rows = await session.execute(
        select(Role.member_id, Role.role).where(
            Role.org_id == org_id, Role.role.in_([RoleKind.SECRETARY, RoleKind.DEPUTY])
        )
    )
    seats: dict[int, Seat] = {}
    for member_id, role in rows:
        seat = Seat.HEAD if role == RoleKind.SECRETARY else Seat.DEPUTY
        seats[member_id] = min(seat, seats.get(member_id, Seat.MEMBER))
    return seats


async def _collective(
    session: AsyncSession, cycle: Cycle, org: Organisation, subject: UnitSubject, rated: bool
) -> Collective:
    review = await units.find_review(session, cycle.id, org.id, subject)
    has_report, comments = False, 0
    if review is not None:
        pieces = await session.scalar(
            select(func.count())
            .select_from(UnitReportPiece)
            .where(UnitReportPiece.review_id == review.id)
        )
        has_report = review.report_docx is not None or bool(pieces)
        comments = await session.scalar(
            select(func.count()).select_from(UnitComment).where(UnitComment.review_id == review.id)
        )
    return Collective(org, subject, review, rated, has_report, comments or 0)


async def _lower_pending(session: AsyncSession, cycle: Cycle, org: Organisation) -> list[Organisation]:
    """A đảng bộ cơ sở's cells whose organisation is not reviewed yet (lower levels first)."""
    if org.kind != OrgKind.GRASSROOTS:
        return []
    cells = list(
        await session.scalars(
            select(Organisation)
            .where(Organisation.parent_id == org.id, Organisation.kind == OrgKind.CELL)
            .order_by(Organisation.code)
        )
    )
    done = set(
        await session.scalars(
            select(UnitReview.org_id).where(
                UnitReview.cycle_id == cycle.id,
                UnitReview.org_id.in_([c.id for c in cells]),
                UnitReview.subject == UnitSubject.ORGANISATION,
                UnitReview.state == UnitReviewState.REVIEWED,
            )
        )
    )
    return [c for c in cells if c.id not in done]


async def members_rounds(session: AsyncSession, meeting_id: int) -> int:
    return await session.scalar(
        select(func.count())
        .select_from(BallotRound)
        .where(BallotRound.meeting_id == meeting_id, BallotRound.kind == MEMBERS_ROUND)
    )


async def order_of(session: AsyncSession, meeting: Meeting, today: dt.date) -> MeetingOrder:
    """The meeting's order: its collectives with their state, then the individuals present
    and reviewed here, head first (R-D3)."""
    state = await meeting_state(session, meeting, today)
    org, cycle = state.cell, state.cycle
    rated = org_review_status(units.org_facts(org), state.rulebook, today).rated
    collectives = [
        await _collective(session, cycle, org, subject, rated)
        for subject in await units.subjects_of(session, org)
    ]
    ratings = {}
    for collective in collectives:
        if collective.review is not None:
            rating = await units.live_rating(session, collective.review.id)
            if rating is not None:
                ratings[collective.review.id] = rating
    seats = await _seats(session, org.id)
    individuals: list[Individual] = []
    deferred: list[Member] = []
    for member in state.members:
        presence = state.presence.get(member.id, Presence.ABSENT)
        status = review_status(member_facts(member), state.rulebook, today, presence=presence)
        if status.deferred:
            deferred.append(member)
        elif status.reviewed:
            seat = seats.get(member.id, Seat.MEMBER)
            individuals.append(Individual(member, seat, not member.outside_political_system))
    individuals = individuals_order(individuals, lambda i: i.seat, lambda i: i.member.full_name)
    return MeetingOrder(
        meeting,
        org,
        cycle,
        collectives,
        individuals,
        deferred,
        await _lower_pending(session, cycle, org),
        await members_rounds(session, meeting.id),
        ratings,
    )


async def mark_reviewed(
    session: AsyncSession,
    meeting: Meeting,
    subject: UnitSubject,
    *,
    actor: str,
    now: dt.datetime,
    today: dt.date,
) -> UnitReview:
    """The collective `subject` of the meeting's organisation was reviewed at this meeting
    (its report presented, the members' comments heard). An organisation founded less than
    six months before (R-E4) gets its rating recorded as not rated."""
    order = await order_of(session, meeting, today)
    collective = order.collective(subject)
    if collective is None:
        raise OrderError(N_("This button is no longer valid."))
    if collective.reviewed:
        raise OrderError(N_("{org} is already marked reviewed."), org=order.org.name)
    review = await units.ensure_review(session, order.cycle, order.org, subject)
    review.state = UnitReviewState.REVIEWED
    review.reviewed_at = now
    review.meeting_id = meeting.id
    if not collective.rated and await units.live_rating(session, review.id) is None:
        rating = UnitRating(review_id=review.id, not_rated=True, proposed_at=now)
        session.add(rating)
        await session.flush()
        record_change(session, rating.id, "not_rated", actor=actor, now=now,
                      history=UnitRatingChange)
    session.add(
        AuditEntry.record(
            actor, "unit.reviewed", "unit_review", review.id,
            meeting=meeting.id, org=order.org.code, subject=subject.value,
            rated=collective.rated,
        )
    )
    await session.flush()
    return review


async def record_reason(
    session: AsyncSession, meeting: Meeting, reason: str, *, actor: str
) -> None:
    """Why the members' ballot opens before the collectives were reviewed (R-D3)."""
    meeting.order_reason = reason
    session.add(
        AuditEntry.record(actor, "meeting.order_reason", "meeting", meeting.id, length=len(reason))
    )
    await session.flush()


def check_reason(text: str) -> str:
    """The reason as typed, trimmed; OrderError when too short or too long."""
    reason = " ".join(text.split())
    if not REASON_MIN <= len(reason) <= REASON_MAX:
        raise OrderError(
            N_("Write the reason in {min} to {max} characters."), min=REASON_MIN, max=REASON_MAX
        )
    return reason


async def ballot_waits(
    session: AsyncSession, meeting: Meeting, today: dt.date
) -> MeetingOrder | None:
    """The order, when the members' ballot must wait for the collectives (R-D3); None when it
    may open. OrderError at a đảng bộ's committee meeting, where no member is rated."""
    order = await order_of(session, meeting, today)
    if not OrgKind(order.org.kind).is_cell:
        raise OrderError(
            N_(
                "At the meeting of the committee of {org} no member is rated (each is rated in "
                "their cell): vote on the levels of the collectives instead."
            ),
            org=order.org.name,
        )
    return None if order.ballot_may_open else order
