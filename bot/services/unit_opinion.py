"""Participants' opinions on an organisation's rating (issue 14, part C; seed 004 B.1.4 step 2,
B.3.4 step 2): after a unit rated itself, the bodies that take part give their opinion — a
level they propose, or none, and a written assessment — before the deciding level decides.

Which bodies take part is data (``BODIES``); who may speak for which body is the policy table's
(``bot.permissions.speaks_for``): a representative their own body on the units of their
subtree, the organising office of the deciding level any body. A body's later opinion
replaces its earlier one; the audit log records who entered which body's opinion, never its
text.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.permissions import Action
from bot.permissions import Grant
from bot.permissions import grants_for
from bot.permissions import speaks_for
from bot.services.units import GRASSROOTS_KINDS
from bot.services.units import deciding_org
from rules.levels import Level
from storage.models import AuditEntry
from storage.models import Organisation
from storage.models import OrgKind
from storage.models import ParticipantBody
from storage.models import ParticipantOpinion
from storage.models import RatingState
from storage.models import UnitRating
from storage.models import UnitReview
from storage.queries import subtree_range

# Who gives an opinion on a unit's rating (seed 004 B.1.4 step 2): on a chi bộ of a village or
# residential group, the standing body of the People's Council and Committee, the Fatherland
# Front and the mass organisations; on another chi bộ, the leadership of its agency or unit and
# the mass organisations under the đảng ủy; on a grassroots organisation (and its committee,
# B.3.4), the upper committee's advisory bodies with the council, the front and the mass
# organisations of its level.
RESIDENTIAL_CELL, CELL, GRASSROOTS = "residential_cell", "cell", "grassroots"
BODIES: dict[str, tuple[ParticipantBody, ...]] = {
    RESIDENTIAL_CELL: (ParticipantBody.COUNCIL, ParticipantBody.FRONT, ParticipantBody.MASS_ORGS),
    CELL: (ParticipantBody.LEADERSHIP, ParticipantBody.MASS_ORGS),
    GRASSROOTS: (
        ParticipantBody.ADVISORY,
        ParticipantBody.COUNCIL,
        ParticipantBody.FRONT,
        ParticipantBody.MASS_ORGS,
    ),
}
BODY_NAMES: dict[ParticipantBody, str] = {
    ParticipantBody.COUNCIL: N_("Standing body of the People's Council and Committee"),
    ParticipantBody.FRONT: N_("Fatherland Front Committee"),
    ParticipantBody.MASS_ORGS: N_("Mass organisations"),
    ParticipantBody.LEADERSHIP: N_("Leadership of the agency or unit"),
    ParticipantBody.ADVISORY: N_("Advisory bodies of the upper committee"),
}
TEXT_MIN, TEXT_MAX = 10, 4000
LISTED_MAX = 40  # units offered as buttons; beyond, the user names one by its code


def bodies_for(org: Organisation) -> tuple[ParticipantBody, ...]:
    """The bodies that give their opinion on `org`'s rating (both its subjects)."""
    kind = OrgKind(org.kind)
    if kind is OrgKind.CELL:
        return BODIES[RESIDENTIAL_CELL if org.residential else CELL]
    if kind in GRASSROOTS_KINDS:
        return BODIES[GRASSROOTS]
    return ()


@dataclass(frozen=True)
class OpenReview:
    """A unit review waiting for opinions, and the bodies the reader may speak for on it."""

    review: UnitReview
    org: Organisation
    bodies: tuple[ParticipantBody, ...]


async def open_review(
    session: AsyncSession, grants: tuple[Grant, ...], review_id: int
) -> OpenReview | None:
    """The review if it still waits for opinions (its live rating is a proposal) and the
    reader speaks for one of its bodies; None otherwise."""
    review = await session.get(UnitReview, review_id)
    if review is None or not await _proposed(session, review.id):
        return None
    org = await session.get(Organisation, review.org_id)
    return await _with_bodies(session, grants, review, org)


async def _proposed(session: AsyncSession, review_id: int) -> bool:
    state = await session.scalar(
        select(UnitRating.state)
        .where(UnitRating.review_id == review_id, UnitRating.state != RatingState.CANCELLED)
        .order_by(UnitRating.id.desc())
        .limit(1)
    )
    return state == RatingState.PROPOSED


async def _with_bodies(
    session: AsyncSession, grants: tuple[Grant, ...], review: UnitReview, org: Organisation
) -> OpenReview | None:
    decider = await deciding_org(session, org)
    spoken = speaks_for(grants, org.path, decider.path if decider else None)
    bodies = tuple(b for b in bodies_for(org) if b in spoken)
    return OpenReview(review, org, bodies) if bodies else None


async def open_reviews(
    session: AsyncSession, grants: tuple[Grant, ...], org: Organisation | None = None
) -> list[OpenReview]:
    """The reviews waiting for opinions that the reader may speak on: of `org` only, or of
    every unit in the subtrees where they hold a role that gives opinions (at most
    LISTED_MAX + 1, in the order of the tree)."""
    roots = [g.org_path for g in grants_for(grants, Action.GIVE_OPINION)]
    if org is not None:
        roots = [org.path] if any(org.path.startswith(r) for r in roots) else []
    if not roots:
        return []
    live = (
        select(UnitRating.review_id)
        .where(UnitRating.state == RatingState.PROPOSED)
        .scalar_subquery()
    )
    statement = (
        select(UnitReview, Organisation)
        .join(Organisation, UnitReview.org_id == Organisation.id)
        .where(UnitReview.id.in_(live), or_(*(subtree_range(path) for path in roots)))
        .order_by(Organisation.path, UnitReview.id)
    )
    if org is not None:
        statement = statement.where(Organisation.id == org.id)
    found: list[OpenReview] = []
    for review, unit in await session.execute(statement):
        item = await _with_bodies(session, grants, review, unit)
        if item is not None:
            found.append(item)
        if len(found) > LISTED_MAX:
            break
    return found


async def opinion_of(
    session: AsyncSession, review_id: int, body: ParticipantBody
) -> ParticipantOpinion | None:
    return await session.scalar(
        select(ParticipantOpinion).where(
            ParticipantOpinion.review_id == review_id, ParticipantOpinion.body == body.value
        )
    )


async def opinions_of(
    session: AsyncSession, review_ids: list[int]
) -> dict[int, list[ParticipantOpinion]]:
    """The opinions given on each review, by review id, in the order of BODY_NAMES."""
    if not review_ids:
        return {}
    order = {body.value: i for i, body in enumerate(BODY_NAMES)}
    rows = await session.scalars(
        select(ParticipantOpinion).where(ParticipantOpinion.review_id.in_(sorted(set(review_ids))))
    )
    found: dict[int, list[ParticipantOpinion]] = {}
    for row in sorted(rows, key=lambda o: order.get(o.body, len(order))):
        found.setdefault(row.review_id, []).append(row)
    return found


async def save_opinion(
    session: AsyncSession,
    item: OpenReview,
    body: ParticipantBody,
    level: Level | None,
    text: str,
    *,
    actor: str,
    now: dt.datetime,
) -> ParticipantOpinion:
    """Record `body`'s opinion on the review (replacing its earlier one). Two entries for the
    same body at once: the later write wins, both are audited."""
    if body not in item.bodies:
        raise ValueError(f"the reader does not speak for {body.value}")
    values = {"level": level.value if level else None, "text": text, "entered_by": actor, "at": now}
    opinion = await opinion_of(session, item.review.id, body)
    if opinion is None:
        try:
            async with session.begin_nested():
                opinion = ParticipantOpinion(review_id=item.review.id, body=body.value, **values)
                session.add(opinion)
        except IntegrityError:
            opinion = await opinion_of(session, item.review.id, body)
    for key, value in values.items():
        setattr(opinion, key, value)
    session.add(
        AuditEntry.record(
            actor,
            "unit_opinion.enter",
            "unit_review",
            item.review.id,
            org=item.org.code,
            body=body.value,
            level=values["level"],
        )
    )
    await session.flush()
    return opinion
