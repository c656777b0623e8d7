"""The unit's secret ballot (issue 14; seed 004 B.1.4: "biểu quyết kết quả tự đánh giá, xếp
loại"): the meeting votes on the proposed level of the collectives it reviewed, by the same
sealed ballot box as the members' levels (bot/services/ballot.py explains it).

A round of kind "units" (``BallotRound.kind``) has one candidate per unit review reviewed at
this meeting and rated (not founded less than six months before, R-E4), not yet proposed
(``BallotCandidate.review_id``; ``candidate_id`` is None). Its voters are the official members
present (R-B1); the band of the combined score (``UnitReview.combined_tenths``) is shown on the
ballot as the suggestion; it is counted by the plan's rule (R-B4) over the R-B3 denominator and
opened by the counting committee exactly as a members' round. An adopted level becomes the
unit's ``UnitRating`` proposal, with the combined score and a history row; an undecided one is
voted on again in the next round (the reviews still without a proposal).

This module reads and writes the units' side only; the round itself is the ballot's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.i18n import Explained
from bot.services import units
from bot.services.cycles import cycle_rulebook
from bot.services.ratings import record_change
from rules.eligibility import org_review_status
from rules.levels import Level
from rules.org_scoring import org_band
from rules.org_scoring import points
from rules.rulebooks import Rulebook
from storage.models import AuditEntry
from storage.models import BallotCandidate
from storage.models import Cycle
from storage.models import Meeting
from storage.models import Organisation
from storage.models import RatingState
from storage.models import UnitRating
from storage.models import UnitRatingChange
from storage.models import UnitReview
from storage.models import UnitReviewState
from storage.models import UnitSubject

MEMBERS, UNITS = "members", "units"


class UnitRefusal(Explained):
    """A refusal of the meeting's unit services (order, scoring, the units' round), with a
    msgid for the user's language."""


class UnitBallotError(UnitRefusal):
    pass


@dataclass(frozen=True)
class UnitCandidate:
    """A collective on the ballot: what the ballot's screens show of it. ``id`` and
    ``full_name`` let it stand where a member candidate does (names, results)."""

    review_id: int
    org_name: str
    subject: str  # UnitSubject
    score_tenths: int | None  # the combined score, if the members scored it
    band: Level | None  # the level that score suggests

    @property
    def id(self) -> int:
        return self.review_id

    @property
    def full_name(self) -> str:
        return self.org_name


def _candidate(review: UnitReview, org: Organisation, rulebook: Rulebook) -> UnitCandidate:
    total = review.combined_tenths
    band = org_band(points(total), rulebook) if total is not None else None
    return UnitCandidate(review.id, org.name, review.subject, total, band)


async def candidates_of(
    session: AsyncSession, round_id: int, rulebook: Rulebook
) -> list[tuple[BallotCandidate, UnitCandidate]]:
    """A units round's candidates in ballot order."""
    rows = await session.execute(
        select(BallotCandidate, UnitReview, Organisation)
        .join(UnitReview, UnitReview.id == BallotCandidate.review_id)
        .join(Organisation, Organisation.id == UnitReview.org_id)
        .where(BallotCandidate.round_id == round_id)
        .order_by(BallotCandidate.position)
    )
    return [(c, _candidate(review, org, rulebook)) for c, review, org in rows]


async def to_rate(
    session: AsyncSession, meeting: Meeting, rulebook: Rulebook, today: dt.date
) -> list[UnitReview]:
    """The collectives the meeting votes on now: reviewed here, rated, without a proposal
    yet (so a second round takes only the undecided). The organisation waits for its
    scoring to close where a framework scores it."""
    org = await session.get(Organisation, meeting.org_id)
    if not org_review_status(units.org_facts(org), rulebook, today).rated:
        raise UnitBallotError(
            N_(
                "{org} was founded less than {months} months ago: it is reviewed, not rated, "
                "so there is no vote on its level."
            ),
            org=org.name,
            months=rulebook.new_org_months,
        )
    reviews = [
        r for r in await units.reviews_of(session, meeting.cycle_id, org.id)
        if r.meeting_id == meeting.id and r.state == UnitReviewState.REVIEWED
    ]
    if not reviews:
        raise UnitBallotError(
            N_("Mark the collectives reviewed in the order of the meeting first.")
        )
    waiting = []
    for review in reviews:
        rating = await units.live_rating(session, review.id)
        if rating is not None and (rating.proposed_level or rating.state != RatingState.PROPOSED):
            continue
        waiting.append(review)
    if not waiting:
        raise UnitBallotError(N_("Every collective of {org} has its proposed level."), org=org.name)
    organisation = next((r for r in waiting if r.subject == UnitSubject.ORGANISATION), None)
    if (
        organisation is not None
        and organisation.combined_tenths is None
        and await units.criteria_of(session, org) is not None
    ):
        raise UnitBallotError(
            N_("Close the scoring of {org} first: its combined score is the level suggested."),
            org=org.name,
        )
    return waiting


async def review_ids_to_rate(session: AsyncSession, meeting: Meeting, today: dt.date) -> list[int]:
    """The reviews of the next units round (see ``to_rate``), in the order of the meeting."""
    cycle = await session.get(Cycle, meeting.cycle_id)
    return [r.id for r in await to_rate(session, meeting, cycle_rulebook(cycle), today)]


async def record_unit_proposals(
    session: AsyncSession, adopted: dict[int, str], *, actor: str, now: dt.datetime
) -> None:
    """The levels the units' round adopted (review id -> level) become each unit's proposal,
    with its combined score, and a history row; a decided level changes only by re-rating."""
    for review_id, level in adopted.items():
        review = await session.get(UnitReview, review_id)
        rating = await units.live_rating(session, review_id)
        if rating is None:
            rating = UnitRating(review_id=review_id, state=RatingState.PROPOSED)
            session.add(rating)
        elif rating.state == RatingState.DECIDED:
            continue
        rating.proposed_level = level
        rating.proposed_at = now
        rating.score_tenths = review.combined_tenths
        await session.flush()
        record_change(session, rating.id, "proposed", actor=actor, now=now, level=level,
                      history=UnitRatingChange)
        session.add(
            AuditEntry.record(
                actor, "unit.proposed", "unit_review", review_id, level=level,
                score_tenths=review.combined_tenths,
            )
        )
    await session.flush()


async def proposals(
    session: AsyncSession, meeting: Meeting, rulebook: Rulebook
) -> list[tuple[UnitCandidate, UnitRating]]:
    """The collectives reviewed at this meeting with their live rating (for the order)."""
    org = await session.get(Organisation, meeting.org_id)
    found = []
    for review in await units.reviews_of(session, meeting.cycle_id, org.id):
        if review.meeting_id != meeting.id:
            continue
        rating = await units.live_rating(session, review.id)
        if rating is not None:
            found.append((_candidate(review, org, rulebook), rating))
    return found
