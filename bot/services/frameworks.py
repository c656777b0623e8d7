"""Criteria frameworks in the database: load one for a committee and year, and find the one a
unit is scored on.

A framework belongs to the organisation that loaded it (an upper committee, never a cell) and
to a year: the year of the plan (cycle) that applies to that organisation. A unit is scored on
the framework of its nearest ancestor-or-self for its own plan's year that has criteria for
the unit's kind, so a grassroots committee may load its own framework for its cells while the
district's still applies to the grassroots committee itself.

Loading is all-or-nothing: the file is read and checked first (bot/frameworks.py), then the
previous framework of that organisation and year, if any, is replaced in one transaction.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from dataclasses import field

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.frameworks import FrameworkFile
from bot.frameworks import kind_label
from bot.frameworks import read_framework
from bot.i18n import N_
from bot.i18n import Explained
from bot.i18n import Translator
from bot.roster import BOT_LIMITS
from bot.roster import Limits
from bot.services.cycles import cycle_for_org
from bot.services.cycles import cycle_rulebook
from rules.org_scoring import Criterion
from rules.org_scoring import Framework
from rules.rulebooks import Rulebook
from storage.models import AuditEntry
from storage.models import CriteriaFramework
from storage.models import Cycle
from storage.models import FrameworkCriterion
from storage.models import FrameworkUpload
from storage.models import Organisation
from storage.models import OrgKind
from storage.queries import path_ids


class FrameworkRefused(Explained):
    """The organisation cannot load a framework now; `msgid` and `params` say why."""


E_CELL = N_(
    "{org} is a cell: criteria frameworks are loaded by the committees above the cells."
)
E_NO_PLAN = N_(
    "There is no plan for {org} yet, so I do not know the year of the framework. Open the "
    "year's plan first (/ke_hoach)."
)


@dataclass(frozen=True)
class Target:
    """Where a framework goes: the organisation, its plan's year, and the plan's rules."""

    org: Organisation
    year: int
    rulebook: Rulebook


@dataclass
class FrameworkDiff:
    """What loading a file changes, for the preview and the report."""

    replaces: bool = False  # a framework for that organisation and year exists
    added: list[str] = field(default_factory=list)  # criterion codes
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    criteria: int = 0
    kinds: list[tuple[str, int, int]] = field(default_factory=list)  # (kind, criteria, leaves)

    @property
    def is_empty(self) -> bool:
        return self.replaces and not (self.added or self.changed or self.removed)


@dataclass(frozen=True)
class InEffect:
    """The framework a unit is scored on, and the committee that loaded it."""

    framework: CriteriaFramework
    owner: Organisation
    criteria: tuple[FrameworkCriterion, ...]  # those for the unit's kind, in order

    def as_rules(self) -> Framework:
        return Framework(tuple(
            Criterion(c.code, c.text, c.max_tenths, frozenset(c.kinds.split(",")),
                      c.parent_code, c.guidance or "")
            for c in self.criteria))


async def target_for(session: AsyncSession, org: Organisation, year: int | None = None) -> Target:
    """The year (given, or that of the plan applying to `org`) and rules a framework loaded
    on `org` is checked against; FrameworkRefused for a cell or without a plan."""
    if OrgKind(org.kind).is_cell:
        raise FrameworkRefused(E_CELL, org=org.name)
    cycle = await _plan(session, org, year)
    if cycle is None:
        raise FrameworkRefused(E_NO_PLAN, org=org.name)
    return Target(org, year or cycle.year, cycle_rulebook(cycle))


async def _plan(session: AsyncSession, org: Organisation, year: int | None) -> Cycle | None:
    if year is None:
        return await cycle_for_org(session, org)
    ancestor_ids = _ancestor_ids(org)
    return await session.scalar(
        select(Cycle)
        .join(Organisation, Cycle.org_id == Organisation.id)
        .where(Cycle.org_id.in_(ancestor_ids), Cycle.year == year)
        .order_by(Organisation.depth.desc())
        .limit(1)
    )


def _ancestor_ids(org: Organisation) -> list[int]:
    return path_ids(org.path)


async def read_file(
    target: Target, filename: str, content: bytes, *, limits: Limits = BOT_LIMITS
) -> FrameworkFile:
    """Read and check the file in a worker thread; raises RosterInvalid with every error."""
    return await asyncio.to_thread(read_framework, filename, content, target.rulebook, limits)


async def existing(session: AsyncSession, org_id: int, year: int) -> CriteriaFramework | None:
    return await session.scalar(
        select(CriteriaFramework).where(
            CriteriaFramework.org_id == org_id, CriteriaFramework.year == year
        )
    )


def _row_key(code: str, parent: str | None, text: str, max_tenths: int, kinds: str,
             guidance: str | None) -> tuple:
    return (code, parent, text, max_tenths, kinds, guidance or "")


def _kinds_value(kinds: frozenset[str]) -> str:
    return ",".join(sorted(kinds))


async def compare(session: AsyncSession, target: Target, parsed: FrameworkFile) -> FrameworkDiff:
    diff = FrameworkDiff(criteria=len(parsed.rows))
    rules_view = parsed.as_rules()
    for kind in sorted(rules_view.kinds, key=lambda k: list(OrgKind).index(OrgKind(k))):
        own = rules_view.for_kind(kind)
        diff.kinds.append((kind, len(own.criteria), len(own.leaves())))
    old = await existing(session, target.org.id, target.year)
    if old is None:
        diff.added = [r.code for r in parsed.rows]
        return diff
    diff.replaces = True
    before = {
        c.code: _row_key(c.code, c.parent_code, c.text, c.max_tenths, c.kinds, c.guidance)
        for c in (await session.scalars(
            select(FrameworkCriterion).where(FrameworkCriterion.framework_id == old.id)
        )).all()
    }
    after = {
        r.code: _row_key(r.code, r.parent, r.text, r.max_tenths, _kinds_value(r.kinds),
                         r.guidance)
        for r in parsed.rows
    }
    diff.added = [code for code in after if code not in before]
    diff.changed = [code for code in after if code in before and before[code] != after[code]]
    diff.removed = [code for code in before if code not in after]
    return diff


async def apply_framework(
    session: AsyncSession, target: Target, parsed: FrameworkFile, *, filename: str, actor: str
) -> FrameworkDiff:
    """Replace the organisation's framework for the year with the file's, in this transaction."""
    diff = await compare(session, target, parsed)
    old = await existing(session, target.org.id, target.year)
    if old is not None:
        await session.execute(
            delete(FrameworkCriterion).where(FrameworkCriterion.framework_id == old.id)
        )
        await session.execute(delete(CriteriaFramework).where(CriteriaFramework.id == old.id))
        await session.flush()
    framework = CriteriaFramework(
        org_id=target.org.id, year=target.year, filename=filename[:255], loaded_by=actor
    )
    session.add(framework)
    await session.flush()
    session.add_all(
        FrameworkCriterion(
            framework_id=framework.id,
            position=position,
            code=row.code,
            parent_code=row.parent,
            text=row.text,
            max_tenths=row.max_tenths,
            kinds=_kinds_value(row.kinds),
            guidance=row.guidance or None,
        )
        for position, row in enumerate(parsed.rows)
    )
    session.add(
        AuditEntry.record(
            actor, "framework.load", "organisation", target.org.code,
            year=target.year, filename=filename, criteria=len(parsed.rows),
            added=diff.added, changed=diff.changed, removed=diff.removed,
        )
    )
    await session.flush()
    return diff


async def framework_for(session: AsyncSession, org: Organisation) -> InEffect | None:
    """The framework `org` is scored on: its plan's year, the nearest ancestor-or-self with
    criteria for its kind. None without a plan or such a framework."""
    for framework, owner in await _loaded_above(session, org):
        criteria = tuple(
            c for c in await _criteria(session, framework) if org.kind in c.kinds.split(",")
        )
        if criteria:
            return InEffect(framework, owner, criteria)
    return None


async def nearest_framework(
    session: AsyncSession, org: Organisation
) -> tuple[CriteriaFramework, Organisation, list[FrameworkCriterion]] | None:
    """The framework loaded on `org` or its nearest ancestor for its plan's year, every kind's
    criteria (to start the next one from); None without a plan or a framework."""
    loaded = await _loaded_above(session, org)
    if not loaded:
        return None
    framework, owner = loaded[0]
    return framework, owner, await _criteria(session, framework)


async def _loaded_above(
    session: AsyncSession, org: Organisation
) -> list[tuple[CriteriaFramework, Organisation]]:
    """The frameworks loaded on `org` and its ancestors for its plan's year, with who loaded
    each, nearest first; none without a plan."""
    cycle = await cycle_for_org(session, org)
    if cycle is None:
        return []
    rows = await session.execute(
        select(CriteriaFramework, Organisation)
        .join(Organisation, CriteriaFramework.org_id == Organisation.id)
        .where(CriteriaFramework.org_id.in_(_ancestor_ids(org)),
               CriteriaFramework.year == cycle.year)
        .order_by(Organisation.depth.desc())
    )
    return [(framework, owner) for framework, owner in rows]


async def _criteria(session: AsyncSession, framework: CriteriaFramework) -> list[FrameworkCriterion]:
    return list(await session.scalars(
        select(FrameworkCriterion)
        .where(FrameworkCriterion.framework_id == framework.id)
        .order_by(FrameworkCriterion.position)
    ))


def points_text(t: Translator, max_tenths: int) -> str:
    return t.number(max_tenths / 10) if max_tenths % 10 else t.number(max_tenths // 10)


MAX_LISTED = 30


def _codes(t: Translator, codes: list[str]) -> str:
    shown = ", ".join(codes[:MAX_LISTED])
    if len(codes) > MAX_LISTED:
        shown += " " + t("… and {count} more", count=t.number(len(codes) - MAX_LISTED))
    return shown


def describe_diff(t: Translator, target: Target, diff: FrameworkDiff) -> list[str]:
    """The change in plain lines (no HTML), for the bot's preview and the CLI's report."""
    lines = [t("Year: {year}", year=target.year),
             t("Criteria and sub-criteria: {count}", count=t.number(diff.criteria))]
    for kind, criteria, leaves in diff.kinds:
        lines.append(t("• {kind}: {criteria} criteria, {leaves} of them scored, {points} points",
                       kind=kind_label(kind), criteria=t.number(criteria),
                       leaves=t.number(leaves), points=t.number(target.rulebook.org_score_max)))
    if diff.replaces:
        lines.append(t("It replaces the framework loaded before for {year}:", year=target.year))
        for msgid, codes in ((N_("Added: {codes}"), diff.added),
                             (N_("Changed: {codes}"), diff.changed),
                             (N_("Removed: {codes}"), diff.removed)):
            if codes:
                lines.append("  " + t(msgid, codes=_codes(t, codes)))
    return lines


async def hold_upload(
    session: AsyncSession,
    telegram_id: int,
    org: Organisation,
    year: int,
    filename: str,
    content: bytes,
) -> FrameworkUpload:
    """Keep an uploaded framework until its sender confirms or cancels the preview."""
    upload = FrameworkUpload(
        telegram_id=telegram_id, org_id=org.id, year=year, filename=filename, content=content
    )
    session.add(upload)
    await session.flush()
    return upload


async def held_upload(session: AsyncSession, upload_id: int) -> FrameworkUpload | None:
    return await session.get(FrameworkUpload, upload_id)
