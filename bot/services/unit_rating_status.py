"""Organisations and collectives in /tinh_trang, /bieu_do, /bao_cao and /ket_qua (issue 14,
item 7).

Set-based, whatever the subtree's size: one query counts the units to be rated (the rated
organisations of the subtree, and the committees of its grassroots organisations with two
leaders or more), one grouped query counts their reviews and live ratings by state and level
(filtered by the plans' ids and the subtree's path range: the reviews' cycle index and the
organisations' path index), and only when some proposal or decision holds a level, one query of
those ratings (plain rows) feeds R-Q7, counted per deciding level's peer group by the units'
decision service (``unit_decision.quota_breaches``), the same check ``/quyet_dinh`` makes.

``unit_figures`` counts them from the base tables. /tinh_trang reads them kept per
organisation with the members' figures (``bot.services.aggregates``: each row holds its
subtree's ``count_key`` counts and the breaches of the groups decided inside it,
``decided_breaches``; ``kept_figures`` makes the same figures of them): counted at each read, a
province's 16,500 units took 130-190 ms, most of a /tinh_trang.
"""

from __future__ import annotations

from collections import Counter
from collections import defaultdict
from dataclasses import dataclass
from dataclasses import field
from typing import NamedTuple

from sqlalchemy import and_
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import plans as plan_settings
from bot.services.checks import restrict
from bot.services.cycles import cycle_rulebook
from bot.services.unit_review import SUBJECT_NAMES
from rules.levels import LEVELS_DESC
from rules.levels import Level
from rules.org_scoring import RATED_KINDS
from rules.quotas import check_org_quota
from storage.models import Cycle
from storage.models import Organisation
from storage.models import OrgKind
from storage.models import RatingState
from storage.models import Role
from storage.models import UnitRating
from storage.models import UnitReview
from storage.models import UnitReviewState
from storage.models import UnitSubject
from storage.queries import path_ids
from storage.queries import subtree_range

LEVEL_CODES = tuple(level.value for level in LEVELS_DESC)
SUBJECTS = SUBJECT_NAMES  # what of a unit a review rates, as the lists name it
NOT_RATED = "not_rated"  # decided as reviewed, not rated (R-E4)
TO_RATE, PROPOSED = "to_rate", "proposed"  # keys of ``UnitFigures.by_subject``
GRASSROOTS_KINDS = (OrgKind.GRASSROOTS.value, OrgKind.GRASSROOTS_CELL.value)


@dataclass
class UnitFigures:
    """The organisations and collectives of a subtree in a plan."""

    to_rate: int = 0  # organisations and committees to be reviewed and rated this year
    reviews: int = 0  # reviews opened (report or draft sheet begun)
    reviewed: int = 0  # reviewed at their meeting
    proposed: int = 0  # proposals awaiting the decision (a level, or not to be rated)
    decided: Counter = field(default_factory=Counter)  # level code or NOT_RATED -> decided
    # per subject (UnitSubject value): TO_RATE, PROPOSED and the decided level codes, NOT_RATED
    by_subject: dict = field(default_factory=lambda: defaultdict(Counter))
    breaches: list = field(default_factory=list)  # R-Q7: ``status.UnitBreach`` (told on the decider)

    @property
    def decided_total(self) -> int:
        return sum(self.decided.values())

    @property
    def undecided(self) -> int:
        return max(self.to_rate - self.decided_total, 0)


def leaders_at_least(count: int, *where):
    """The ids of the grassroots organisations `where` says (conditions on Organisation) with
    at least `count` leaders (a subquery)."""
    from bot.services.units import LEADER_ROLES  # it imports the decision services

    return (
        select(Role.org_id)
        .join(Organisation, Organisation.id == Role.org_id)
        .where(*where, Organisation.kind.in_(GRASSROOTS_KINDS),
               Role.role.in_([r.value for r in LEADER_ROLES]))
        .group_by(Role.org_id)
        .having(func.count(func.distinct(Role.member_id)) >= count)
    )


async def to_rate(session: AsyncSession, path: str) -> tuple[int, int]:
    """Organisations and committees of the subtree at `path` to be rated (``units.subjects_for``
    counted in SQL: every rated organisation; a grassroots one's committee where it has two
    leaders or more): (organisations, committees)."""
    from bot.services.units import COLLECTIVE_MIN_LEADERS

    organisations = (
        select(func.count()).select_from(Organisation)
        .where(subtree_range(path), Organisation.kind.in_(RATED_KINDS))
        .scalar_subquery()
    )
    rated = leaders_at_least(COLLECTIVE_MIN_LEADERS, subtree_range(path)).subquery()
    committees = select(func.count()).select_from(rated).scalar_subquery()
    row = (await session.execute(select(organisations, committees))).one()
    return int(row[0] or 0), int(row[1] or 0)


def _live_join():
    return and_(UnitRating.review_id == UnitReview.id, UnitRating.state != RatingState.CANCELLED)


async def unit_figures(
    session: AsyncSession,
    org: Organisation,
    cycle: Cycle | None,
    cycle_ids: list[int],
    *,
    with_breaches: bool = True,
) -> UnitFigures | None:
    """The units of `org`'s subtree in the plans `cycle_ids` (``cycle`` the one covering it;
    None: no plan, no figures). With `with_breaches`, R-Q7 of each deciding level whose peer
    group holds a unit of the subtree, naming only the subtree's units."""
    if cycle is None:
        return None
    organisations, committees = await to_rate(session, org.path)
    rows = await review_counts(session, org.path, cycle_ids or [cycle.id])
    figures, levelled = figures_of(organisations, committees, rows)
    if with_breaches and levelled:
        figures.breaches = await quota_breaches(session, org, cycle_ids or [cycle.id])
    return figures


def figures_of(organisations: int, committees: int, rows) -> tuple[UnitFigures, bool]:
    """The figures from the units to rate and the reviews' counts (``review_counts``' rows),
    and whether some live rating holds a level (R-Q7 has something to count)."""
    figures = UnitFigures(to_rate=organisations + committees)
    figures.by_subject[UnitSubject.ORGANISATION.value][TO_RATE] = organisations
    if committees:
        figures.by_subject[UnitSubject.COMMITTEE.value][TO_RATE] = committees
    levelled = False
    for subject, review_state, state, proposed, decided, not_rated, count in rows:
        mine = figures.by_subject[subject]
        figures.reviews += count
        if review_state == UnitReviewState.REVIEWED:
            figures.reviewed += count
        if state == RatingState.DECIDED:
            code = NOT_RATED if not_rated or not decided else decided
            figures.decided[code] += count
            mine[code] += count
            levelled = levelled or (decided is not None and not not_rated)
        elif state == RatingState.PROPOSED and (proposed or not_rated):
            figures.proposed += count
            mine[PROPOSED] += count
            levelled = levelled or (proposed is not None and not not_rated)
    return figures, levelled


# The reviews' counts as the figures kept per organisation hold them (``aggregates.Counts``:
# JSON, string keys): a grouped row's values joined by "|", None as "".
ORGANISATIONS_KEY, COMMITTEES_KEY = "#organisations", "#committees"


def count_key(subject, review_state, state, proposed, decided, not_rated) -> str:
    values = (subject, review_state, state, proposed, decided,
              None if not_rated is None else int(bool(not_rated)))
    return "|".join("" if v is None else str(v) for v in values)


def kept_figures(counted: Counter) -> tuple[UnitFigures, bool]:
    """``figures_of`` from the counts kept per organisation (``count_key``)."""
    rows = []
    for key, count in counted.items():
        if key.startswith("#"):
            continue
        subject, review_state, state, proposed, decided, not_rated = (
            v or None for v in key.split("|"))
        rows.append((subject, review_state, state, proposed, decided,
                     None if not_rated is None else not_rated == "1", count))
    return figures_of(counted[ORGANISATIONS_KEY], counted[COMMITTEES_KEY], rows)


async def review_counts(session: AsyncSession, path: str, cycle_ids: list[int]) -> list:
    """The reviews of the subtree at `path` in the plans with their live ratings, counted by
    (subject, review state, rating state, proposed level, decided level, not rated)."""
    rows = await session.execute(
        select(UnitReview.subject, UnitReview.state, UnitRating.state, UnitRating.proposed_level,
               UnitRating.decided_level, UnitRating.not_rated, func.count())
        .join(Organisation, Organisation.id == UnitReview.org_id)
        .outerjoin(UnitRating, _live_join())
        .where(UnitReview.cycle_id.in_(cycle_ids), subtree_range(path))
        .group_by(UnitReview.subject, UnitReview.state, UnitRating.state,
                  UnitRating.proposed_level, UnitRating.decided_level, UnitRating.not_rated)
    )
    return rows.all()


# --- R-Q7 over the peer groups -----------------------------------------------------------------


class _Org(NamedTuple):
    id: int
    name: str


@dataclass(frozen=True)
class _Rated:
    """A unit's live rating as ``unit_decision.quota_breaches`` reads it (plain values)."""

    review_id: int
    subject: UnitSubject
    org: _Org
    level: Level | None

    @property
    def key(self) -> str:
        return str(self.review_id)


async def quota_breaches(session: AsyncSession, org: Organisation, cycle_ids: list[int]) -> list:
    """R-Q7 of the peer groups of the deciding levels of `org`'s subtree's units (those inside
    it, and the one above `org` when `org` is a rated unit), each group counted whole; the
    breaches name only the units of the subtree. Told on the deciding level."""
    from bot.services.status import UnitBreach  # it imports this module

    wider = [subtree_range(org.path)]
    above = await _decider_above(session, org)
    if above is not None:
        wider.append(subtree_range(above.path))
    statement, level = _unit_rows()
    where = [UnitReview.cycle_id.in_(cycle_ids), or_(*wider), Organisation.kind.in_(RATED_KINDS),
             level.is_not(None)]
    suspects = await _suspects(session, where, level)
    if suspects is not None and not suspects:
        return []
    statement = statement.where(*where)
    if suspects is None:
        rows = (await session.execute(statement)).all()
    else:  # only the groups whose counts may break the quota are read unit by unit
        ordered, rows = sorted(suspects), []
        for start in range(0, len(ordered), 500):
            rows += (await session.execute(statement.where(
                Organisation.parent_id.in_(ordered[start:start + 500])))).all()
    inside = {r[0] for r in rows if r[5].startswith(org.path)}
    found = await _checked(session, rows, lambda units: any(u.review_id in inside for u in units))
    return [UnitBreach(decider, restrict(breach, lambda key: int(key) in inside))
            for _cycle_id, decider, breach in found]


def _unit_rows():
    """A unit's live rating with a level (or not to be rated), as R-Q7 reads it."""
    level = func.coalesce(UnitRating.decided_level, UnitRating.proposed_level)
    statement = (
        select(UnitReview.id, UnitReview.cycle_id, UnitReview.subject, Organisation.id,
               Organisation.name, Organisation.path, Organisation.kind, Organisation.parent_id,
               UnitRating.not_rated, level)
        .join(Organisation, Organisation.id == UnitReview.org_id)
        .join(UnitRating, _live_join())
    )
    return statement, level


async def _checked(session: AsyncSession, rows: list, wanted) -> list[tuple[int, int, object]]:
    """R-Q7 of the peer groups of these units' live ratings (``_unit_rows``), grouped by plan
    and deciding level, of the groups `wanted` (its units) says: (plan id, decider id, breach)
    in the order of the plans and deciders."""
    from bot.services.unit_decision import quota_breaches as group_breaches

    if not rows:
        return []
    grassroots = await grassroots_among(session, {a for r in rows for a in path_ids(r[5])[:-1]})
    groups: dict[tuple[int, int], list[_Rated]] = defaultdict(list)
    # In the reviews' order, whatever order the database returned them in: a breach names its
    # units in it, and the figures kept and those counted at a read must say the same.
    for review_id, cycle_id, subject, org_id, name, path, kind, parent_id, not_rated, code in sorted(
            rows, key=lambda row: row[0]):
        decider = decider_of(kind, path, parent_id, grassroots)
        if decider is None:
            continue
        unit_level = None if not_rated else Level(code)
        groups[(cycle_id, decider)].append(
            _Rated(review_id, UnitSubject(subject), _Org(org_id, name), unit_level))
    wanted_deciders = {d for (_c, d), units in groups.items() if wanted(units)}
    found = []
    # Each plan with its rulebook and per-unit settings, read once for all its groups.
    cycles: dict[int, tuple[Cycle, dict, object]] = {}
    for (cycle_id, decider), units in sorted(groups.items()):
        if decider not in wanted_deciders:
            continue
        if cycle_id not in cycles:
            cycle = await session.get(Cycle, cycle_id)
            cycles[cycle_id] = (cycle, await plan_settings.unit_settings(session, cycle_id),
                                cycle_rulebook(cycle))
        cycle, settings, rulebook = cycles[cycle_id]
        found += [(cycle_id, decider, breach) for breach in group_breaches(
            units, cycle, settings, _Org(decider, ""), rulebook=rulebook)]
    return found


async def decided_breaches(
    session: AsyncSession,
    deciders: list[tuple[int, str, str]],
    cycle_ids: list[int],
    within: list[str] | None = None,
) -> dict[int, list[tuple[int, object]]]:
    """R-Q7 of the peer groups each of `deciders` ((id, kind, path)) decides, whole, every unit
    named: the grassroots organisations right under it, and the cells whose nearest grassroots
    organisation it is. (plan id, breach) by decider. `within`: the subtrees holding them all
    (many deciders: one pass over these ranges instead of lists of ids). For the figures kept
    per organisation (``aggregates``): a deciding level's row holds its groups' breaches."""
    ids = sorted({d for d, _kind, _path in deciders})
    statement, level = _unit_rows()
    statement = statement.where(UnitReview.cycle_id.in_(cycle_ids),
                                Organisation.kind.in_(RATED_KINDS), level.is_not(None))
    if within is not None:
        wheres = [or_(*(subtree_range(path) for path in within))]
    else:
        cells_of = sorted(p for _d, kind, p in deciders if kind == OrgKind.GRASSROOTS.value)
        wheres = [and_(Organisation.parent_id.in_(ids[start:start + 500]),
                       Organisation.kind.in_(GRASSROOTS_KINDS))
                  for start in range(0, len(ids), 500)]
        wheres += [and_(Organisation.kind == OrgKind.CELL.value,
                        or_(*(subtree_range(p) for p in cells_of[start:start + 100])))
                   for start in range(0, len(cells_of), 100)]
    rows = {}
    for where in wheres:
        rows.update((row[0], row) for row in await session.execute(statement.where(where)))
    wanted = set(ids)
    found: dict[int, list[tuple[int, object]]] = defaultdict(list)
    for cycle_id, decider, breach in await _checked(session, list(rows.values()), lambda _u: True):
        if decider in wanted:
            found[decider].append((cycle_id, breach))
    return found


async def _suspects(session: AsyncSession, where: list, level) -> set[int] | None:
    """The deciding levels whose units' levels, counted per plan, parent and subject in one
    grouped query, may break R-Q7 (a cell's deciding level is its parent, the đảng bộ cơ sở; a
    grassroots organisation's, its upper committee), checked without the outstanding share
    (a lower limit: every group that breaks it with the share is among them). None where a
    plan sets per-unit settings (peer groups split a deciding level's units): read them all."""
    counts = (await session.execute(
        select(UnitReview.cycle_id, Organisation.parent_id, UnitReview.subject,
               UnitRating.not_rated, level, func.count())
        .join(Organisation, Organisation.id == UnitReview.org_id)
        .join(UnitRating, _live_join())
        .where(*where)
        .group_by(UnitReview.cycle_id, Organisation.parent_id, UnitReview.subject,
                  UnitRating.not_rated, level)
    )).all()
    groups: dict[tuple[int, int, str], list[Level]] = defaultdict(list)
    for cycle_id, parent_id, subject, not_rated, code, count in counts:
        if parent_id is not None and not not_rated:
            groups[(cycle_id, parent_id, subject)] += [Level(code)] * count
    rulebooks = {}
    for cycle_id in {key[0] for key in groups}:
        if await plan_settings.unit_settings(session, cycle_id):
            return None
        rulebooks[cycle_id] = cycle_rulebook(await session.get(Cycle, cycle_id))
    return {parent for (cycle_id, parent, _), levels in groups.items()
            if check_org_quota(dict(enumerate(levels)), rulebooks[cycle_id])}


async def _decider_above(session: AsyncSession, org: Organisation) -> Organisation | None:
    """The deciding level of `org` when `org` is a rated unit (its peer group is outside the
    subtree)."""
    if org.kind not in RATED_KINDS:
        return None
    from bot.services.units import deciding_org

    return await deciding_org(session, org)


async def grassroots_among(session: AsyncSession, org_ids: set[int]) -> set[int]:
    found: set[int] = set()
    ordered = sorted(org_ids)
    for start in range(0, len(ordered), 500):
        found.update(await session.scalars(select(Organisation.id).where(
            Organisation.id.in_(ordered[start:start + 500]),
            Organisation.kind == OrgKind.GRASSROOTS.value)))
    return found


def decider_of(kind: str, path: str, parent_id: int | None, grassroots: set[int]) -> int | None:
    """``units.deciding_org`` from plain values: the nearest đảng bộ cơ sở above a cell, the
    parent of a grassroots organisation."""
    if kind == OrgKind.CELL.value:
        above = [a for a in path_ids(path)[:-1] if a in grassroots]
        return above[-1] if above else None
    return parent_id


# --- the report's sheet and /ket_qua -------------------------------------------------------------


class UnitRow(NamedTuple):
    """A unit review of the subtree as the report lists it."""

    code: str
    name: str
    subject: str
    review_state: str
    combined_tenths: int | None  # the proposal's score, else the meeting's combined one
    rating_state: str | None
    proposed: str | None
    decided: str | None
    not_rated: bool


async def unit_rows(session: AsyncSession, org: Organisation, cycle_ids: list[int]) -> list[UnitRow]:
    """Every review of the subtree's units in the plans, in the tree's order (the organisation
    before its committee)."""
    rows = await session.execute(
        select(Organisation.code, Organisation.name, UnitReview.subject, UnitReview.state,
               func.coalesce(UnitRating.score_tenths, UnitReview.combined_tenths),
               UnitRating.state, UnitRating.proposed_level,
               UnitRating.decided_level, UnitRating.not_rated, Organisation.path)
        .join(Organisation, Organisation.id == UnitReview.org_id)
        .outerjoin(UnitRating, _live_join())
        .where(UnitReview.cycle_id.in_(cycle_ids), subtree_range(org.path))
    )
    order = {s.value: i for i, s in enumerate(UnitSubject)}
    found = sorted(rows.all(), key=lambda r: (r[9], order.get(r[2], 9)))
    return [UnitRow(*r[:8], bool(r[8])) for r in found]


class UnitYear(NamedTuple):
    org_id: int
    name: str
    subject: str
    year: int
    level: str | None  # None: reviewed, not rated


async def led_unit_levels(session: AsyncSession, member_id: int) -> list[UnitYear]:
    """The decided levels, by year, of the rated units where the member holds a committee role
    (secretary, deputy, committee member, organising office; not a participating body's
    representative): the organisation and its committee, in the tree's order then by year."""
    from bot.services.notify import COMMITTEE_ROLES  # it imports the services

    units = select(Role.org_id).where(Role.member_id == member_id,
                                      Role.role.in_([r.value for r in COMMITTEE_ROLES]))
    rows = await session.execute(
        select(Organisation.id, Organisation.name, UnitReview.subject, Cycle.year,
               UnitRating.decided_level, UnitRating.not_rated, Organisation.path)
        .join(UnitReview, UnitReview.org_id == Organisation.id)
        .join(Cycle, Cycle.id == UnitReview.cycle_id)
        .join(UnitRating, _live_join())
        .where(Organisation.id.in_(units), Organisation.kind.in_(RATED_KINDS),
               UnitRating.state == RatingState.DECIDED)
    )
    order = {s.value: i for i, s in enumerate(UnitSubject)}
    found = sorted(rows.all(), key=lambda r: (r[6], order.get(r[2], 9), r[3]))
    return [UnitYear(org_id, name, subject, year, None if not_rated else level)
            for org_id, name, subject, year, level, not_rated, _ in found]
