"""The figures of /tinh_trang kept per organisation, so a province's status reads a few hundred
rows instead of counting 150,000 members (issue 13 item 3).

Each organisation has a row per plan (``UnitFigures``) with the counts of its whole subtree:
members, to be reviewed and rated, self-reviews submitted and late, cells, meetings held and
scheduled, ballot rounds open and closed, proposed and decided levels, quota and cap breaches.
A province's status reads its own row and its children's.

Upkeep: a write of anything these figures count bumps the version (``UnitVersion``) of its
organisation and of each ancestor, in the write's own transaction. Writes through the ORM
(members, self-reviews, ratings, meetings, ballot rounds, organisations: the services, the
roster import, the handlers alike) are noticed by a ``before_flush`` hook (``_noticed``);
the few Core UPDATE and DELETE statements call ``changed(session, org_id)`` (or
``round_changed``) where they are made, in ``bot/services/``. A row holds while the
organisation's version equals the one it was counted at (``fresh``), so a reader never trusts a
row a write has touched since, even one not yet committed when the row was counted. A row no
longer valid is counted again when read: from the base tables for the organisation's own
members, meetings and ratings, plus its children's rows (valid ones as they are, the others
counted again the same way). A write in one cell costs the next reader that cell and its
ancestors, not the tree.

A row also records the conditions it was counted under, and is counted again when one changes:
the plan's rules (``rule_key``), the admission cut-off of new members (a row holds while today's
cut-off stays between the admissions around it) and the time (a meeting is "held" once its time
passed). Rows are kept in a short transaction of their own, never in the reader's, in one
executemany. A write made around the ORM and without ``changed`` (raw SQL by hand) is caught
by ``MAX_AGE`` at the latest; ``forget`` drops every row (they are counted again as they are
read; ``kiemdiem rebuild-figures`` counts them again at once).

The same counting, with a ``Scope`` that keeps nothing, counts a subtree from the base tables
(``status.count_status``: what the kept rows must equal, and the figures of a subtree no plan
covers). A subtree with nothing kept (the first read) is read in one pass over its range.

Breaches: the quota of a grassroots unit (R-Q5, counted over the unit) depends on its level
counts alone, so it is decided from the unit's row; caps are checked, per organisation, on the
members a cap can concern.

The organisations' section (issue 14, ``unit_rating_status``) is kept the same way: each row's
own units to rate and unit reviews by state and level, summed up the tree, and the R-Q7
breaches of the peer groups the organisation decides (its groups lie in its subtree, so a write
to one of their units counts its row again), carried up as a list.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from itertools import chain
from typing import TYPE_CHECKING

from sqlalchemy import and_
from sqlalchemy import case
from sqlalchemy import delete
from sqlalchemy import event
from sqlalchemy import func
from sqlalchemy import inspect
from sqlalchemy import literal
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from bot.services.cycles import cycle_rulebook
from rules.levels import Level
from rules.org_scoring import RATED_KINDS
from rules.quotas import check_quota
from rules.rulebooks import Rulebook
from storage.models import CELL_KINDS
from storage.models import UNIT_KINDS
from storage.models import BallotRound
from storage.models import Meeting
from storage.models import Member
from storage.models import Organisation
from storage.models import Rating
from storage.models import RatingState
from storage.models import ReviewState
from storage.models import Role
from storage.models import SelfReview
from storage.models import UnitFigures
from storage.models import UnitPlanSetting
from storage.models import UnitRating
from storage.models import UnitReview
from storage.models import UnitVersion
from storage.queries import path_ids
from storage.queries import subtree_range

if TYPE_CHECKING:  # annotations only
    from storage.models import Cycle

MAX_AGE = dt.timedelta(days=1)  # the last resort for writes made around the ORM
CHUNK = 500  # organisations per query
FRONTIER = 5000  # parents per query when the tree is walked down
KEEP_BATCH = 5000  # kept rows written per executemany
KEY = ("org_id", "cycle_id")
BULK = 2000  # more organisations to count than this: one pass over their subtrees
COUNTS = (
    "members",
    "to_review",
    "to_rate",
    "submitted",
    "late",
    "cells",
    "meetings_held",
    "meetings_scheduled",
    "ballots_open",
    "ballots_closed",
    "quota_breaches",
    "cap_breaches",
)


def _insert(session: AsyncSession):
    return pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert


# --- upkeep: the writers' hook ----------------------------------------------------------------

_BUMPED = "aggregates_bumped"  # session.info: organisations bumped in this transaction


def _ancestors(paths: Iterable[str]) -> list[int]:
    return sorted({i for path in paths if path.strip("/") for i in path_ids(path)})


def _bump_statement(dialect: str, org_ids: list[int]):
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(UnitVersion).values([{"org_id": i, "version": 1} for i in org_ids])
    return statement.on_conflict_do_update(
        index_elements=["org_id"], set_={"version": UnitVersion.version + 1}
    )


def _bump(session: Session, org_ids: set[int]) -> None:
    """Bump the organisations and their ancestors, once a transaction each (a reader sees the
    new version only once the transaction commits, and keeps nothing counted meanwhile)."""
    bumped = session.info.setdefault(_BUMPED, set())
    org_ids = {i for i in org_ids if i is not None} - bumped
    if not org_ids:
        return
    with session.no_autoflush:
        paths = [path for chunk in _chunks(sorted(org_ids), KEEP_BATCH) for path in
                 session.scalars(select(Organisation.path).where(Organisation.id.in_(chunk)))]
        affected = [i for i in _ancestors(paths) if i not in bumped]
        dialect = session.get_bind().dialect.name
        for chunk in _chunks(affected, KEEP_BATCH):  # PostgreSQL: at most 32,767 parameters
            session.execute(_bump_statement(dialect, chunk))
    bumped.update(org_ids)
    bumped.update(affected)


async def changed(session: AsyncSession, org_ids: int | Iterable[int | None] | None) -> None:
    """In the writing transaction: the figures of these organisations (and of every one above
    them) changed. For writes the ORM does not see (Core UPDATE and DELETE statements); what
    goes through the ORM is noticed by itself (``_noticed``). One statement; the counting waits
    for the next reader."""
    if org_ids is None:
        return
    ids = {org_ids} if isinstance(org_ids, int) else {i for i in org_ids if i is not None}
    if ids:
        await session.run_sync(_bump, ids)


async def round_changed(session: AsyncSession, round_id: int) -> None:
    """A ballot round's state changed (opened, voided, closed) by a Core statement."""
    org_id = await session.scalar(
        select(Meeting.org_id)
        .join(BallotRound, BallotRound.meeting_id == Meeting.id)
        .where(BallotRound.id == round_id)
    )
    await changed(session, org_id)


# The units' section (issue 14, ``status.subtree_status`` keeps it with the row) counts unit
# reviews and ratings, the leaders (roles) that make a committee rated, and the per-unit
# settings R-Q7's peer groups follow.
_WATCHED = (Member, SelfReview, Rating, Meeting, BallotRound, Organisation, UnitReview,
            UnitRating, Role, UnitPlanSetting)
# What of a changed row the figures read (a self-review being written changes its text and
# stage at every message, a unit review its report: that bumps nothing); for the others, any
# change counts.
_COUNTED = {
    SelfReview: ("state", "late", "general_score", "task_score", "cycle_id", "member_id"),
    Organisation: ("parent_id", "path", "kind"),
    Meeting: ("scheduled_at", "org_id", "cycle_id"),
    BallotRound: ("state", "meeting_id"),
    UnitReview: ("state", "subject", "org_id", "cycle_id"),
    UnitRating: ("state", "proposed_level", "decided_level", "not_rated", "review_id"),
}


def _counts_changed(o: object) -> bool:
    state = inspect(o)
    names = _COUNTED.get(type(o))
    if names is None:
        return any(a.history.has_changes() for a in state.attrs)
    return any(state.attrs[name].history.has_changes() for name in names)


@event.listens_for(Session, "before_flush")
def _noticed(session: Session, _context, _instances) -> None:
    """Every ORM write of something /tinh_trang counts (members, self-reviews, ratings,
    meetings, ballot rounds; unit reviews and ratings, roles, per-unit settings), wherever it is made, bumps the organisations concerned in the
    same transaction."""
    objects = [
        o
        for o in chain(session.new, session.dirty, session.deleted)
        if isinstance(o, _WATCHED) and (o not in session.dirty or _counts_changed(o))
    ]
    if not objects:
        return
    org_ids: set[int] = set()
    member_ids: set[int] = set()
    meeting_ids: set[int] = set()
    review_ids: set[int] = set()
    for o in objects:
        if isinstance(o, Member | UnitReview | Role | UnitPlanSetting):
            org_ids.add(o.org_id)
            org_ids.update(inspect(o).attrs.org_id.history.deleted or ())  # moved from
        elif isinstance(o, UnitRating):
            review_ids.add(o.review_id)
            review_ids.update(inspect(o).attrs.review_id.history.deleted or ())
        elif isinstance(o, SelfReview | Rating):
            member_ids.add(o.member_id)
        elif isinstance(o, Meeting):
            org_ids.add(o.org_id)
        elif isinstance(o, Organisation):  # a unit added, renamed or moved: old and new places
            org_ids.update((o.id, o.parent_id))
            org_ids.update(inspect(o).attrs.parent_id.history.deleted or ())
        else:
            meeting_ids.add(o.meeting_id)
    with session.no_autoflush:
        if member_ids - {None}:
            org_ids.update(
                session.scalars(
                    select(Member.org_id).where(Member.id.in_(member_ids - {None}))
                ).all()
            )
        if meeting_ids - {None}:
            org_ids.update(
                session.scalars(
                    select(Meeting.org_id).where(Meeting.id.in_(meeting_ids - {None}))
                ).all()
            )
        for chunk in _chunks(sorted(review_ids - {None}), KEEP_BATCH):
            org_ids.update(
                session.scalars(select(UnitReview.org_id).where(UnitReview.id.in_(chunk))).all()
            )
    _bump(session, org_ids)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _transaction_over(session: Session) -> None:
    session.info.pop(_BUMPED, None)


async def forget(session: AsyncSession) -> None:
    """Drop every kept figure (they are counted again as they are read)."""
    await session.execute(delete(UnitFigures))


async def kept_rows(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(UnitFigures)) or 0


# --- the figures --------------------------------------------------------------------------------


@dataclass
class Counts:
    """The counts of one subtree (or of one organisation's own rows), and the conditions they
    hold under."""

    values: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    proposed: Counter = field(default_factory=Counter)
    decided: Counter = field(default_factory=Counter)
    own_quota: int = 0  # quota breaches of this organisation itself, when it is a unit
    # The units' section (issue 14): the units to rate and the unit reviews by state and level
    # (``unit_rating_status.count_key``), and the R-Q7 breaches of the peer groups decided in
    # the subtree, as JSON ([plan id, decider id, *status._breach_json's fields]).
    units: Counter = field(default_factory=Counter)
    unit_breaches: list = field(default_factory=list)
    cutoff_lo: dt.date | None = None
    cutoff_hi: dt.date | None = None
    held_lo: dt.datetime | None = None
    held_hi: dt.datetime | None = None
    kept: _Kept | None = None  # the kept row these counts were read from
    notes: dict = field(default_factory=dict)  # what readers kept with the row (``annotate``)

    def add(self, other: Counts) -> None:
        for name in COUNTS:
            self.values[name] += other.values[name]
        self.proposed.update(other.proposed)
        self.decided.update(other.decided)
        self.units.update(other.units)
        self.unit_breaches += other.unit_breaches
        self.cutoff_lo = _max(self.cutoff_lo, other.cutoff_lo)
        self.cutoff_hi = _min(self.cutoff_hi, other.cutoff_hi)
        self.held_lo = _max(self.held_lo, other.held_lo)
        self.held_hi = _min(self.held_hi, other.held_hi)

    @property
    def live(self) -> Counter:
        """Each level's live ratings (decided, else proposed) in the subtree."""
        return self.proposed + self.decided

    def to_json(self) -> str:
        return json.dumps(
            {
                "v": self.values,
                "p": dict(self.proposed),
                "d": dict(self.decided),
                "q": self.own_quota,
                "u": dict(self.units),
                "b": self.unit_breaches,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_row(cls, row: _Kept) -> Counts:
        data = json.loads(row.figures)
        values = dict.fromkeys(COUNTS, 0)
        values.update(data["v"])
        return cls(
            values=values,
            proposed=Counter(data["p"]),
            decided=Counter(data["d"]),
            own_quota=data["q"],
            units=Counter(data.get("u", {})),
            unit_breaches=data.get("b", []),
            cutoff_lo=row.cutoff_lo,
            cutoff_hi=row.cutoff_hi,
            held_lo=row.held_lo,
            held_hi=row.held_hi,
            kept=row,
            notes=data.get("n", {}),
        )


def _max(a, b):
    return b if a is None else a if b is None else max(a, b)


def _min(a, b):
    return b if a is None else a if b is None else min(a, b)


FORMAT = "u1"  # what a kept row holds: rows kept before the units' section are counted again


def rule_key(cycle: Cycle) -> str:
    """What of the plan the counts depend on: its rulebook and settings (and the rows' format)."""
    digest = hashlib.sha256((cycle.overrides or "").encode()).hexdigest()[:16]
    return f"{cycle.id}:{cycle.rulebook}:{digest}:{FORMAT}"


def quota_proposals(live: Counter, htxs_ids: Iterable[str] | None = None) -> dict[str, Level]:
    """A unit's levels as the quota rule reads them (it counts levels and names the HTXS):
    every rating by a stand-in, or the HTXS by `htxs_ids` (members, in the order named)."""
    proposals = {} if htxs_ids is None else dict.fromkeys(htxs_ids, Level.HTXS)
    for code, count in live.items():
        if htxs_ids is None or code != Level.HTXS.value:
            proposals.update({f"{code}#{i}": Level(code) for i in range(count)})
    return proposals


# The columns of a kept row the counting reads (plain rows: no ORM object per organisation).
_KEPT = (
    UnitFigures.fresh,
    UnitFigures.rule_key,
    UnitFigures.computed_at,
    UnitFigures.cutoff_lo,
    UnitFigures.cutoff_hi,
    UnitFigures.held_lo,
    UnitFigures.held_hi,
    UnitFigures.figures,
)


@dataclass(frozen=True)
class _Kept:
    fresh: int
    rule_key: str
    computed_at: dt.datetime
    cutoff_lo: dt.date | None
    cutoff_hi: dt.date | None
    held_lo: dt.datetime | None
    held_hi: dt.datetime | None
    figures: str


@dataclass
class Node:
    """An organisation as the counting reads it (a status shows its code and name)."""

    id: int
    parent_id: int | None
    kind: str
    depth: int
    path: str
    code: str
    name: str
    version: int
    row: _Kept | None
    children: list[int] = field(default_factory=list)


@dataclass
class Scope:
    """What the figures are counted under: the plan (None: no plan covers the subtree, only
    members and cells are counted), every plan of its year (a kept row counts the same
    whichever organisation's status reads it), the new-member cut-off and the time. `kept`:
    read the kept rows and keep what was counted again; False counts everything from the
    base tables and keeps nothing (``status.count_status``)."""

    cycle: Cycle | None
    cycle_ids: list[int]
    cutoff: dt.date
    now: dt.datetime
    kept: bool = True
    rulebook: Rulebook | None = None
    reviewed_new: bool = False
    rule: str = ""
    wall: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def __post_init__(self) -> None:
        if self.cycle is None:
            self.kept, self.cycle_ids = False, []
            return
        self.rulebook = cycle_rulebook(self.cycle)
        self.reviewed_new = self.rulebook.new_member_reviewed
        self.rule = rule_key(self.cycle)

    def valid(self, node: Node) -> bool:
        row = node.row
        return (
            row is not None
            and row.fresh == node.version
            and row.rule_key == self.rule
            and self.wall - row.computed_at < MAX_AGE
            and row.computed_at <= self.wall
            and (row.cutoff_lo is None or row.cutoff_lo <= self.cutoff)
            and (row.cutoff_hi is None or self.cutoff < row.cutoff_hi)
            and (row.held_lo is None or row.held_lo <= self.now)
            and (row.held_hi is None or self.now < row.held_hi)
        )


async def nodes(session: AsyncSession, scope: Scope, where) -> list[Node]:
    """The organisations `where` says, with their versions and kept rows."""
    columns = [
        Organisation.id,
        Organisation.parent_id,
        Organisation.kind,
        Organisation.depth,
        Organisation.path,
        Organisation.code,
        Organisation.name,
        func.coalesce(UnitVersion.version, 0),
    ]
    query = select(*columns).outerjoin(UnitVersion, UnitVersion.org_id == Organisation.id)
    if scope.kept:
        query = query.add_columns(*_KEPT).outerjoin(
            UnitFigures,
            and_(UnitFigures.org_id == Organisation.id, UnitFigures.cycle_id == scope.cycle.id),
        )
    found = []
    for row in await session.execute(query.where(where)):
        kept = _Kept(*row[8:]) if scope.kept and row[8] is not None else None
        found.append(Node(*row[:8], kept))
    return found


def _chunks(ids: list[int], size: int = CHUNK) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


async def unit_counts(
    session: AsyncSession, scope: Scope, org_ids: list[int], known: Iterable[Node] = ()
) -> dict[int, Counts]:
    """The subtree counts of each organisation in `org_ids`: from the kept rows, counting
    again (and keeping) those no longer valid; or, when the scope keeps nothing, counted from
    the base tables. `known`: nodes already read (``nodes``), not read again."""
    wanted = set(org_ids)
    tree: dict[int, Node] = {n.id: n for n in known if n.id in wanted}
    for chunk in _chunks(sorted(wanted - set(tree))):
        for node in await nodes(session, scope, Organisation.id.in_(chunk)):
            tree[node.id] = node
    stale = [n.id for n in tree.values() if not scope.valid(n)]
    is_stale = set(stale)
    if scope.kept:
        frontier = list(stale)
        while frontier:  # down the tree, only below what is no longer valid (each node once)
            below = []
            for chunk in _chunks(frontier, FRONTIER):
                for node in await nodes(session, scope, Organisation.parent_id.in_(chunk)):
                    node = tree.setdefault(node.id, node)
                    tree[node.parent_id].children.append(node.id)
                    if node.id not in is_stale and not scope.valid(node):
                        is_stale.add(node.id)
                        stale.append(node.id)
                        below.append(node.id)
            frontier = below
    elif tree:  # nothing kept is read: every organisation of the subtrees, at once
        paths = sorted(n.path for n in tree.values())
        tops = [p for i, p in enumerate(paths) if not any(p.startswith(q) for q in paths[:i])]
        for node in await nodes(session, scope, or_(*(subtree_range(p) for p in tops))):
            tree.setdefault(node.id, node)
        for node in tree.values():
            if node.parent_id in tree:
                tree[node.parent_id].children.append(node.id)
        stale, is_stale = list(tree), set(tree)
    counted: dict[int, Counts] = {
        n.id: Counts.from_row(n.row) for n in tree.values() if n.id not in is_stale
    }
    if stale:
        if len(stale) > BULK:  # most of a subtree: one pass over it beats lists of ids
            tops = [tree[i].path for i in stale if tree[i].parent_id not in is_stale]
            chunks = [select(Organisation.id).where(or_(*(subtree_range(p) for p in tops)))]
        else:
            chunks = list(_chunks(stale))
        own = await _own_counts(session, scope, stale, tree, chunks)
        if scope.cycle_ids:
            bulk = tops if len(stale) > BULK else None
            await _own_unit_breaches(session, scope, [tree[i] for i in stale], own, bulk)
        limits: dict[tuple[int, int], bool] = {}
        for node in sorted((tree[i] for i in stale), key=lambda n: -n.depth):
            total = own[node.id]
            for child in node.children:
                total.add(counted[child])
            if node.kind in UNIT_KINDS and scope.rulebook is not None:
                total.own_quota = _quota_breaches(total, scope.rulebook, limits)
                total.values["quota_breaches"] += total.own_quota
            counted[node.id] = total
        if scope.kept:
            await _keep(session, scope, [(tree[i], counted[i]) for i in stale])
            for i in org_ids:  # what a reader keeps with them goes with the rows just kept
                if i in is_stale:
                    counted[i].kept = _kept_row(scope, tree[i], counted[i])
    return {i: counted[i] for i in org_ids if i in counted}


def _kept_row(scope: Scope, node: Node, counts: Counts) -> _Kept:
    return _Kept(node.version, scope.rule, scope.wall, counts.cutoff_lo, counts.cutoff_hi,
                 counts.held_lo, counts.held_hi, counts.to_json())


def _quota_breaches(counts: Counts, rulebook: Rulebook, limits: dict) -> int:
    """R-Q5 over the unit: ``rules.quotas.check_quota`` on its levels (one breach or none);
    decided from the counts alone, once per (HTXS, HTT) pair."""
    live = counts.live
    key = (live.get(Level.HTXS.value, 0), live.get(Level.HTT.value, 0))
    if key not in limits:
        limits[key] = bool(check_quota(quota_proposals(live), rulebook))
    return int(limits[key])


async def _own_counts(
    session: AsyncSession,
    scope: Scope,
    ids: list[int],
    tree: dict[int, Node],
    chunks: list,
) -> dict[int, Counts]:
    """What each organisation counts of its own: its members, meetings, rounds and ratings (not
    its children's), grouped by organisation, CHUNK organisations a query."""
    from bot.services.status import _capped_rows_of  # status imports this module
    from bot.services.status import by_member  # status imports this module

    own = {i: Counts() for i in ids}
    for i in ids:
        own[i].values["cells"] = int(tree[i].kind in CELL_KINDS)
    not_excused = and_(Member.exempt.is_(False), Member.suspended.is_(False))
    rated = and_(not_excused, Member.admitted_on <= scope.cutoff)
    reviewed = not_excused if scope.reviewed_new else rated
    submitted = and_(reviewed, SelfReview.state == ReviewState.SUBMITTED)
    one = literal(1)
    review_join = and_(
        SelfReview.member_id == Member.id,
        by_member(session, SelfReview.cycle_id).in_(scope.cycle_ids),
    )
    held = Meeting.scheduled_at <= scope.now
    is_open = BallotRound.state == "open"
    level = func.coalesce(Rating.decided_level, Rating.proposed_level)
    for chunk in chunks:  # lists of organisation ids, or a subquery of them
        rows = await session.execute(
            select(
                Member.org_id,
                func.count(Member.id),
                func.sum(case((reviewed, one), else_=0)),
                func.sum(case((rated, one), else_=0)),
                func.sum(case((submitted, one), else_=0)),
                func.sum(case((and_(submitted, SelfReview.late.is_(True)), one), else_=0)),
                func.max(case((and_(not_excused, Member.admitted_on <= scope.cutoff),
                               Member.admitted_on))),
                func.min(case((and_(not_excused, Member.admitted_on > scope.cutoff),
                               Member.admitted_on))),
            )
            .outerjoin(SelfReview, review_join)
            .where(Member.org_id.in_(chunk))
            .group_by(Member.org_id)
        )
        for org_id, members, to_review, to_rate, done, late, lo, hi in rows:
            if org_id not in own:
                continue
            c = own[org_id]
            c.values.update(
                members=members,
                to_review=to_review or 0,
                to_rate=to_rate or 0,
                submitted=done or 0,
                late=late or 0,
            )
            # The counts hold while the cut-off stays in [lo, hi): past hi one more is counted.
            c.cutoff_lo, c.cutoff_hi = _as_date(lo), _as_date(hi)
        if not scope.cycle_ids:
            continue
        rows = await session.execute(
            select(
                Meeting.org_id,
                func.sum(case((held, one), else_=0)),
                func.sum(case((held, 0), else_=1)),
                func.max(case((held, Meeting.scheduled_at))),
                func.min(case((Meeting.scheduled_at > scope.now, Meeting.scheduled_at))),
            )
            .where(Meeting.org_id.in_(chunk), Meeting.cycle_id.in_(scope.cycle_ids))
            .group_by(Meeting.org_id)
        )
        for org_id, held_count, scheduled, lo, hi in rows:
            if org_id not in own:
                continue
            c = own[org_id]
            c.values["meetings_held"] = held_count or 0
            c.values["meetings_scheduled"] = scheduled or 0
            c.held_lo, c.held_hi = _as_time(lo), _as_time(hi)
        rows = await session.execute(
            select(
                Meeting.org_id,
                func.sum(case((is_open, one), else_=0)),
                func.sum(case((is_open, 0), else_=1)),
            )
            .join(BallotRound, BallotRound.meeting_id == Meeting.id)
            .where(Meeting.org_id.in_(chunk), Meeting.cycle_id.in_(scope.cycle_ids))
            .group_by(Meeting.org_id)
        )
        for org_id, opened, closed in rows:
            if org_id not in own:
                continue
            own[org_id].values["ballots_open"] = opened or 0
            own[org_id].values["ballots_closed"] = closed or 0
        rows = await session.execute(
            select(Member.org_id, Rating.state, level, func.count())
            .join(Rating, Rating.member_id == Member.id)
            .where(
                Member.org_id.in_(chunk),
                by_member(session, Rating.cycle_id).in_(scope.cycle_ids),
                Rating.state != RatingState.CANCELLED,
                level.is_not(None),
            )
            .group_by(Member.org_id, Rating.state, level)
        )
        for org_id, state, code, count in rows:
            if org_id not in own:
                continue
            target = own[org_id].decided if state == RatingState.DECIDED else own[org_id].proposed
            target[code] += count
        for org_id, count in (await _capped_rows_of(session, scope.cycle, chunk)).items():
            if org_id in own:
                own[org_id].values["cap_breaches"] = count
        await _own_units(session, scope, own, tree, chunk)
    return own


async def _own_units(
    session: AsyncSession, scope: Scope, own: dict[int, Counts], tree: dict[int, Node], chunk
) -> None:
    """The units' section's own counts (``unit_rating_status.to_rate`` and ``review_counts``
    of one organisation): itself when it is rated, its committee when it has two leaders or
    more, its own unit reviews with their live ratings."""
    from bot.services import unit_rating_status as units  # it imports the decision services
    from bot.services.units import COLLECTIVE_MIN_LEADERS

    for org_id in chunk if isinstance(chunk, list) else own:
        if org_id in own and tree[org_id].kind in RATED_KINDS:
            own[org_id].units[units.ORGANISATIONS_KEY] = 1
    led = units.leaders_at_least(COLLECTIVE_MIN_LEADERS, Organisation.id.in_(chunk))
    for org_id in await session.scalars(led):
        if org_id in own:
            own[org_id].units[units.COMMITTEES_KEY] = 1
    columns = (UnitReview.subject, UnitReview.state, UnitRating.state, UnitRating.proposed_level,
               UnitRating.decided_level, UnitRating.not_rated)
    rows = await session.execute(
        select(UnitReview.org_id, *columns, func.count())
        .outerjoin(UnitRating, and_(UnitRating.review_id == UnitReview.id,
                                    UnitRating.state != RatingState.CANCELLED))
        .where(UnitReview.org_id.in_(chunk), UnitReview.cycle_id.in_(scope.cycle_ids))
        .group_by(UnitReview.org_id, *columns)
    )
    for org_id, *values, count in rows:
        if org_id in own:
            own[org_id].units[units.count_key(*values)] += count


async def _own_unit_breaches(
    session: AsyncSession, scope: Scope, stale: list[Node], own: dict[int, Counts],
    within: list[str] | None,
) -> None:
    """R-Q7 of the peer groups each organisation counted again decides (its row carries them to
    the rows above it)."""
    from bot.services.status import UnitBreach
    from bot.services.status import _breach_json  # status imports this module
    from bot.services.unit_rating_status import decided_breaches

    deciders = [(n.id, n.kind, n.path) for n in stale]
    found = await decided_breaches(session, deciders, scope.cycle_ids, within)
    for decider, breaches in found.items():
        own[decider].unit_breaches = [
            [cycle_id, *_breach_json(UnitBreach(decider, breach))] for cycle_id, breach in breaches
        ]


def _as_date(value) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _as_time(value) -> dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        value = dt.datetime.fromisoformat(str(value))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


async def annotate(session: AsyncSession, scope: Scope, org_id: int, counts: Counts,
                   name: str, value) -> None:
    """Keep `value` (JSON) under `name` with the kept row `counts` was read from, for as long
    as the row holds (a reader's own summary of the same subtree: the status's first breaches).
    Nothing is written if the row changed meanwhile, or as ``_keep`` would not write."""
    from storage.db import holds_write_lock
    from storage.db import write_later

    row = counts.kept
    if row is None or session.sync_session.info.get(_BUMPED) or await holds_write_lock(session):
        return
    data = json.loads(row.figures)
    data["n"] = {**data.get("n", {}), name: value}
    table = UnitFigures.__table__
    statement = (
        table.update()
        .where(
            table.c.org_id == org_id,
            table.c.cycle_id == scope.cycle.id,
            table.c.fresh == row.fresh,
            table.c.computed_at == row.computed_at,
        )
        .values(figures=json.dumps(data, separators=(",", ":")))
    )
    engine = session.bind

    async def write() -> None:
        async with engine.begin() as keeper:
            await keeper.execute(statement)

    write_later(engine, write, "a status's breaches")


async def _keep(session: AsyncSession, scope: Scope, counted: list[tuple[Node, Counts]]) -> None:
    """Keep what was counted, in a short transaction of its own in the background (never in
    the caller's, which may go on for long: a report; nobody waits for it). Skipped while the caller's transaction holds SQLite's write
    lock (the new transaction would wait for it); the next reader keeps them."""
    from storage.db import holds_write_lock
    from storage.db import write_later

    if not counted or session.sync_session.info.get(_BUMPED) or await holds_write_lock(session):
        return  # the caller wrote: what it counted may not hold once it commits
    rows = [
        {
            "org_id": node.id,
            "cycle_id": scope.cycle.id,
            "fresh": node.version,
            "rule_key": scope.rule,
            "computed_at": scope.wall,
            "cutoff_lo": counts.cutoff_lo,
            "cutoff_hi": counts.cutoff_hi,
            "held_lo": counts.held_lo,
            "held_hi": counts.held_hi,
            "figures": counts.to_json(),
        }
        for node, counts in sorted(counted, key=lambda item: item[0].id)
    ]
    # The table, not the entity: one executemany (the ORM's bulk insert would split the rows
    # into a statement per run of rows whose empty columns differ: thousands of round trips).
    statement = _insert(session)(UnitFigures.__table__)
    statement = statement.on_conflict_do_update(
        index_elements=["org_id", "cycle_id"],
        set_={name: statement.excluded[name] for name in rows[0] if name not in KEY},
    )
    engine = session.bind

    async def write() -> None:
        async with engine.begin() as keeper:
            for start in range(0, len(rows), KEEP_BATCH):
                await keeper.execute(statement, rows[start : start + KEEP_BATCH])

    write_later(engine, write, "status figures")
