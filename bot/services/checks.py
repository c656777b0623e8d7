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
import datetime as dt
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.permissions import Action
from bot.permissions import Grant
from bot.permissions import allowed
from bot.services import notify
from bot.services.accounts import identify
from bot.services.cycles import cycle_rulebook
from bot.services.cycles import member_facts
from bot.services.ratings import live_rating
from bot.services.ratings import record_proposals
from bot.services.reviews import grassroots_root
from bot.services.reviews import meeting_for
from bot.services.reviews import score_of
from bot.services.unit_rating import HeadCap
from bot.services.unit_rating import head_caps
from bot.services.unit_rating import member_quota
from rules.breaches import Breach
from rules.caps import check_member
from rules.levels import Level
from rules.people import name_sort_key
from rules.quotas import QuotaScope
from rules.quotas import check_quota
from storage.models import AuditEntry
from storage.models import BallotRound
from storage.models import Cycle
from storage.models import Meeting
from storage.models import Member
from storage.models import Organisation
from storage.models import OrgKind
from storage.models import Rating
from storage.models import RatingState
from storage.models import SelfReview
from storage.models import TelegramAccount
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
    rated: list[RatedMember],
    cycle: Cycle,
    scope: QuotaScope,
    group_size: int | None,
    outstanding: bool = False,
) -> list[Breach]:
    return check_quota(
        {str(r.member.id): r.level for r in rated},
        cycle_rulebook(cycle),
        group_size,
        outstanding_unit=outstanding,  # R-Q1: granted in the plan (unit_rating.member_quota)
        scope=scope,
        names={str(r.member.id): r.member.full_name for r in rated},
    )


def cap_breaches(
    rated: list[RatedMember], cycle: Cycle, heads: Mapping[int, HeadCap] | None = None
) -> list[Breach]:
    """Caps on each member; `heads` (``unit_rating.head_caps``) gives R-C4 the decided level
    of the units a head leads."""
    rulebook = cycle_rulebook(cycle)
    heads = heads or {}
    found = []
    for r in rated:
        score = score_of(r.review) if r.review is not None and rulebook.score_bands else None
        facts, collective = member_facts(r.member), None
        if (cap := heads.get(r.member.id)) is not None and cap.level is not None:
            facts, collective = dataclasses.replace(facts, head=True), cap.level
        for breach in check_member(
            facts, r.level, rulebook, score=score, collective_level=collective
        ):
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
    root = await grassroots_root(session, cell)
    quota = await member_quota(session, cycle, root)  # R-Q5 groups, R-Q1 shares
    heads = await head_caps(session, cycle, [r.member for r in rated])  # R-C4
    found = cap_breaches(rated, cycle, heads) + _quota(
        rated, cycle, QuotaScope.CELL, size, cell.id in quota.outstanding_cells
    )
    if root.id != cell.id:
        group = quota.group_of(cell.id)
        peers = [r for r in await rated_members(session, cycle, root) if group.holds(r.member.org_id)]
        found += _quota(peers, cycle, QuotaScope.PEER_GROUP, None, group.outstanding)
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
        breaches = cap_breaches(rated, cycle, await head_caps(session, cycle, [r.member for r in rated]))
        for group in (await member_quota(session, cycle, unit)).groups:  # R-Q5, R-Q1
            peers = [r for r in rated if group.holds(r.member.org_id)]
            breaches += _quota(peers, cycle, QuotaScope.PEER_GROUP, None, group.outstanding)
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


# --- after the ballot: who is told, whose proposal may be lowered ------------------------------

MAX_BUTTONS = 30


@dataclass(frozen=True)
class Lowerable:
    """A member whose proposal the reader may lower (a "⬇" button)."""

    cycle_id: int
    member_id: int
    name: str
    level: str


def breach_member_ids(breaches: list[Breach]) -> list[int]:
    return list(
        dict.fromkeys(int(i) for b in breaches for i in b.member_ids if i.isascii() and i.isdigit())
    )


async def members_to_revote(session: AsyncSession, meeting: Meeting) -> list[int]:
    """The cell's own members named by its standing breaches whose level is not yet decided
    (a quota counted over the đảng bộ names members of other cells too: they vote there)."""
    cycle = await session.get(Cycle, meeting.cycle_id)
    cell = await session.get(Organisation, meeting.org_id)
    breaches = await cell_breaches(session, cycle, cell)
    paths = await member_paths(session, (i for b in breaches for i in b.member_ids))
    ids = []
    for member_id in breach_member_ids(breaches):
        if not paths.get(str(member_id), "").startswith(cell.path):
            continue
        rating = await live_rating(session, cycle.id, member_id)
        if rating is not None and rating.state != RatingState.DECIDED:
            ids.append(member_id)
    return ids


def _lowerable_rating(rating: Rating | None) -> bool:
    return (
        rating is not None
        and rating.state != RatingState.DECIDED
        and rating.proposed_level not in (None, Level.KHT.value)
    )


async def lowerable(
    session: AsyncSession, cycle: Cycle, breaches: list[Breach], grants: Iterable[Grant]
) -> list[Lowerable]:
    """The members named whose proposal the reader may lower (their ``grants`` allow lowering
    on the member's cell), at most MAX_BUTTONS."""
    grants = tuple(grants)
    ids = breach_member_ids(breaches)
    paths = await member_paths(session, (str(i) for i in ids))
    found: list[Lowerable] = []
    for member_id in ids:
        if len(found) >= MAX_BUTTONS:
            break
        path = paths.get(str(member_id))
        if path is None or not allowed(grants, Action.LOWER_PROPOSAL, path):
            continue
        rating = await live_rating(session, cycle.id, member_id)
        if not _lowerable_rating(rating):
            continue
        member = await session.get(Member, member_id)
        found.append(Lowerable(cycle.id, member_id, member.full_name, rating.proposed_level))
    return found


@dataclass(frozen=True)
class Reader:
    """Someone told of a cell's breaches: what they may see and lower."""

    account: TelegramAccount
    breaches: list[Breach]
    lowerable: list[Lowerable]


@dataclass(frozen=True)
class Announcement:
    cell: Organisation
    meeting: Meeting
    readers: list[Reader]


async def breach_announcement(session: AsyncSession, round_id: int) -> Announcement | None:
    """After a round closed: the cell's breaches as each reader is told them (the secretary
    who ran the ballot, else the cell's secretaries), or None when nothing breaks a rule."""
    ballot_round = await session.get(BallotRound, round_id)
    meeting = await session.get(Meeting, ballot_round.meeting_id)
    cycle = await session.get(Cycle, meeting.cycle_id)
    cell = await session.get(Organisation, meeting.org_id)
    breaches = await cell_breaches(session, cycle, cell)
    if not breaches:
        return None
    account = (
        await session.get(TelegramAccount, ballot_round.chat_id) if ballot_round.chat_id else None
    )
    accounts = [account] if notify.reachable(account) else []
    if not accounts:
        secretaries = await notify.secretaries_of(session, cell.id)
        found = await notify.accounts_by_member(session, [m.id for m in secretaries])
        accounts = [a for a in found.values() if notify.reachable(a)]
    readers = []
    for recipient in accounts:
        grants = (await identify(session, recipient)).grants
        # A quota over the đảng bộ names the cell's own members only, unless the reader
        # holds a role that sees the other cells (issue 12 item 2).
        shown = await breaches_for_reader(session, breaches, cell.path, grants)
        readers.append(Reader(recipient, shown, await lowerable(session, cycle, shown, grants)))
    return Announcement(cell, meeting, readers)


# --- lowering a proposal -----------------------------------------------------------------------


async def member_cell(session: AsyncSession, member_id: int) -> Organisation | None:
    member = await session.get(Member, member_id)
    return await session.get(Organisation, member.org_id) if member is not None else None


class AlreadyDecided(Exception):
    """The member's level is decided: the proposal can no longer be lowered."""

    def __init__(self, member: Member) -> None:
        super().__init__(member.code)
        self.member = member


@dataclass(frozen=True)
class Subject:
    member: Member
    cycle: Cycle
    cell: Organisation
    rating: Rating

    @property
    def level(self) -> Level:
        return Level(self.rating.proposed_level)


async def lower_subject(
    session: AsyncSession, cycle_id: int, member_id: int, level: Level | None = None
) -> Subject | None:
    """The live, undecided proposal of a member in a cycle (None: there is none), checked that
    `level` is below it. AlreadyDecided when the level is decided."""
    member = await session.get(Member, member_id)
    cycle = await session.get(Cycle, cycle_id)
    if member is None or cycle is None:
        return None
    rating = await live_rating(session, cycle.id, member.id)
    if rating is None or rating.proposed_level is None:
        return None
    if rating.state == RatingState.DECIDED:
        raise AlreadyDecided(member)
    if level is not None and not level < Level(rating.proposed_level):
        return None
    cell = await session.get(Organisation, member.org_id)
    return Subject(member, cycle, cell, rating)


async def lower_proposal(
    session: AsyncSession, subject: Subject, level: Level, reason: str, *, actor: str,
    now: dt.datetime
) -> None:
    """Record the lowered proposal with its reason, and the audit entry."""
    old = subject.rating.proposed_level
    await record_proposals(
        session,
        subject.cycle.id,
        {subject.member.id: level.value},
        actor=actor,
        now=now,
        kind="lowered",
        reason=reason,
    )
    session.add(
        AuditEntry.record(
            actor,
            "rating.lower",
            "member",
            subject.member.code,
            cycle=subject.cycle.id,
            old=old,
            new=level.value,
            reason=reason,
        )
    )
    await session.flush()


async def breaches_after_lowering(
    session: AsyncSession, subject: Subject, grants: Iterable[Grant]
) -> tuple[list[Breach], list[Lowerable], int | None]:
    """What still stands in the subject's cell as the reader sees it, whom they may lower,
    and the cell's meeting (for the "vote again" button)."""
    grants = tuple(grants)
    found = await cell_breaches(session, subject.cycle, subject.cell)
    breaches = await breaches_for_reader(session, found, subject.cell.path, grants)
    meeting = await meeting_for(session, subject.cycle, subject.cell.id)
    return (breaches, await lowerable(session, subject.cycle, breaches, grants),
            meeting.id if meeting else None)
