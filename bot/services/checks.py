"""Quota and cap checks over a unit's proposals (DOMAIN §5), for warnings and decisions.

The rules themselves are in rules/; this module only gathers the facts from the database:
each live rating's level (decided, else proposed), the member, their self-scores, and the
group it is counted in (R-Q5: the cell alone as a warning, the grassroots committee as the
rule).

Who may read which names (R-Q5 counted over the đảng bộ, reported to a cell): a breach keeps
its figures for every reader, but names only the members the reader may see, see
``restrict``; the callers decide the reader (``reader_sees``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.permissions import Action, Grant, allowed
from bot.services.cycles import cycle_rulebook, member_facts
from bot.services.reviews import grassroots_root, score_of
from rules.breaches import Breach
from rules.caps import check_member
from rules.levels import Level
from rules.people import name_sort_key
from rules.quotas import QuotaScope, check_quota
from storage.models import Cycle, Member, Organisation, OrgKind, Rating, RatingState, SelfReview
from storage.queries import subtree_range


@dataclass(frozen=True)
class RatedMember:
    member: Member
    rating: Rating
    level: Level
    review: SelfReview | None


async def rated_members(
    session: AsyncSession, cycle: Cycle, org: Organisation
) -> list[RatedMember]:
    """Every live rating with a level in the subtree of `org`."""
    rows = await session.execute(
        select(Member, Rating, SelfReview)
        .join(Organisation, Member.org_id == Organisation.id)
        .join(Rating, Rating.member_id == Member.id)
        .outerjoin(
            SelfReview, (SelfReview.member_id == Member.id) & (SelfReview.cycle_id == cycle.id)
        )
        .where(
            subtree_range(org.path),
            Rating.cycle_id == cycle.id,
            Rating.state != RatingState.CANCELLED,
        )
        .order_by(Member.id)
    )
    found = []
    for member, rating, review in sorted(rows, key=lambda row: name_sort_key(row[0].full_name)):
        code = rating.decided_level or rating.proposed_level
        if code:
            found.append(RatedMember(member, rating, Level(code), review))
    return found


def _quota(
    rated: list[RatedMember], cycle: Cycle, scope: QuotaScope, group_size: int | None
) -> list[Breach]:
    return check_quota(
        {str(r.member.id): r.level for r in rated},
        cycle_rulebook(cycle),
        group_size,
        scope=scope,
        names={str(r.member.id): r.member.full_name for r in rated},
    )


def cap_breaches(rated: list[RatedMember], cycle: Cycle) -> list[Breach]:
    rulebook = cycle_rulebook(cycle)
    found = []
    for r in rated:
        score = score_of(r.review) if r.review is not None and rulebook.score_bands else None
        for breach in check_member(member_facts(r.member), r.level, rulebook, score=score):
            found.append(
                Breach(
                    breach.code,
                    breach.rule_ids,
                    breach.msgid,
                    breach.params,
                    (str(r.member.id),),
                    (r.member.full_name,),
                    breach.severity,
                )
            )
    return found


async def cell_breaches(session: AsyncSession, cycle: Cycle, cell: Organisation) -> list[Breach]:
    """Caps on each member, the quota in the cell alone (a warning), and in its peer group."""
    rated = await rated_members(session, cycle, cell)
    size = len((await session.scalars(select(Member.id).where(Member.org_id == cell.id))).all())
    found = cap_breaches(rated, cycle) + _quota(rated, cycle, QuotaScope.CELL, size)
    root = await grassroots_root(session, cell)
    if root.id != cell.id:
        found += _quota(
            await rated_members(session, cycle, root), cycle, QuotaScope.PEER_GROUP, None
        )
    return found


async def unit_breaches(
    session: AsyncSession, cycle: Cycle, org: Organisation
) -> dict[int, list[Breach]]:
    """Breaches per organisation id under `org`: caps and the peer quota of every grassroots
    committee (or grassroots cell) in the subtree, each reported on that unit."""
    units = (
        await session.scalars(
            select(Organisation).where(
                subtree_range(org.path),
                Organisation.kind.in_([OrgKind.GRASSROOTS, OrgKind.GRASSROOTS_CELL]),
            )
        )
    ).all()
    if not units and OrgKind(org.kind).is_cell:
        return {org.id: await cell_breaches(session, cycle, org)}
    found: dict[int, list[Breach]] = {}
    for unit in units:
        rated = await rated_members(session, cycle, unit)
        breaches = cap_breaches(rated, cycle) + _quota(rated, cycle, QuotaScope.PEER_GROUP, None)
        if breaches:
            found[unit.id] = breaches
    return found


# --- what a reader may see -------------------------------------------------------------------


async def member_paths(session: AsyncSession, member_ids: Iterable[str]) -> dict[str, str]:
    """The path of each member's organisation, by member id as a string (as in a Breach)."""
    ids = sorted({int(i) for i in member_ids if str(i).isdecimal()})
    if not ids:
        return {}
    rows = await session.execute(
        select(Member.id, Organisation.path)
        .join(Organisation, Member.org_id == Organisation.id)
        .where(Member.id.in_(ids))
    )
    return {str(member_id): path for member_id, path in rows}


def restrict(breach: Breach, visible: Callable[[str], bool]) -> Breach:
    """The breach with its figures, naming only the members for whom ``visible(id)``."""
    kept = [
        (mid, name)
        for mid, name in zip(breach.member_ids, breach.member_names, strict=False)
        if visible(mid)
    ]
    if len(kept) == len(breach.member_ids) and len(breach.member_names) == len(kept):
        return breach
    return dataclasses.replace(
        breach,
        member_ids=tuple(mid for mid, _ in kept),
        member_names=tuple(name for _, name in kept),
    )


def reader_sees(
    paths: dict[str, str], own_path: str, grants: Iterable[Grant] = ()
) -> Callable[[str], bool]:
    """Members of the reader's own unit (``own_path``'s subtree), and of any unit where the
    reader's roles let them see the status (a role on the đảng bộ sees all its cells)."""
    grants = tuple(grants)

    def visible(member_id: str) -> bool:
        path = paths.get(member_id)
        if path is None:
            return False
        return path.startswith(own_path) or allowed(grants, Action.VIEW_STATUS, path)

    return visible


async def breaches_for_reader(
    session: AsyncSession,
    breaches: list[Breach],
    own_path: str,
    grants: Iterable[Grant] = (),
) -> list[Breach]:
    """``breaches`` as told to a reader whose view is ``own_path`` plus their ``grants``."""
    paths = await member_paths(session, (i for b in breaches for i in b.member_ids))
    visible = reader_sees(paths, own_path, grants)
    return [restrict(b, visible) for b in breaches]
