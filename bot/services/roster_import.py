"""Apply a parsed roster to the database: what would change, and the change itself.

The import is all-or-nothing: the caller runs it in one transaction, after `bot.roster`
found no error. Members are matched by code; their Telegram link lives in another table and
is never touched. Members of the covered cells that the file no longer lists are reported,
never deleted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from dataclasses import fields

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.i18n import Translator
from bot.roster import BOT_LIMITS
from bot.roster import MEMBER_SHEET
from bot.roster import ORG_KINDS
from bot.roster import ORG_SHEET
from bot.roster import ROLE_SHEET
from bot.roster import ROLES
from bot.roster import KnownMember
from bot.roster import KnownOrg
from bot.roster import Limits
from bot.roster import MemberRow
from bot.roster import OrgRow
from bot.roster import RoleRow
from bot.roster import Roster
from bot.roster import RosterError
from bot.roster import RosterInvalid
from bot.roster import header
from bot.roster import label_of
from bot.roster import load_roster
from bot.roster import read_roster
from bot.roster import validate
from bot.services import aggregates
from bot.services.menus import owe as owe_menu
from rules.people import name_sort_key
from storage.models import AuditEntry
from storage.models import Member
from storage.models import Organisation
from storage.models import PendingImport
from storage.models import Role
from storage.models import RoleKind
from storage.queries import place_org

# MemberRow fields stored as-is on Member (codes of organisations are resolved separately).
MEMBER_FIELDS = tuple(
    f.name
    for f in fields(MemberRow)
    if f.name in Member.__table__.columns and f.name not in {"code", "id", "org_id"}
)


@dataclass
class MemberChange:
    code: str
    full_name: str
    fields: list[str]  # names of changed attributes


@dataclass
class RosterDiff:
    orgs_added: list[str] = field(default_factory=list)
    orgs_changed: list[str] = field(default_factory=list)
    members_added: list[tuple[str, str]] = field(default_factory=list)  # (code, name)
    members_changed: list[MemberChange] = field(default_factory=list)
    members_missing: list[tuple[str, str]] = field(default_factory=list)
    roles_added: int = 0
    roles_removed: int = 0

    @property
    def is_empty(self) -> bool:
        return not (
            self.orgs_added
            or self.orgs_changed
            or self.members_added
            or self.members_changed
            or self.roles_added
            or self.roles_removed
        )


async def known_orgs(session: AsyncSession) -> list[KnownOrg]:
    parent = Organisation.__table__.alias("parent")
    rows = await session.execute(
        select(Organisation.code, Organisation.kind, parent.c.code).outerjoin(
            parent, Organisation.parent_id == parent.c.id
        )
    )
    return [
        KnownOrg(code=code, kind=kind, parent_code=parent_code) for code, kind, parent_code in rows
    ]


async def known_members(session: AsyncSession) -> list[KnownMember]:
    rows = await session.execute(
        select(Member.code, Organisation.code).join(Organisation, Member.org_id == Organisation.id)
    )
    return [KnownMember(code=code, org_code=org_code) for code, org_code in rows]


async def parse(
    session: AsyncSession,
    sources: Sequence[tuple[str, bytes]],
    today,
    *,
    limits: Limits | None = None,
) -> Roster:
    """Read and validate against what the database already holds; raises RosterInvalid.
    The file is read in a worker thread so that the event loop keeps answering others."""
    orgs, members = await known_orgs(session), await known_members(session)
    return await asyncio.to_thread(
        load_roster,
        list(sources),
        known_orgs=orgs,
        known_members=members,
        today=today,
        limits=limits,
    )


class OutsideCell(Exception):
    """A cell secretary's file reaches outside their cell; `errors` says where, row by row."""

    def __init__(self, errors: Sequence[RosterError]) -> None:
        super().__init__(f"{len(errors)} row(s) outside the cell")
        self.errors = list(errors)


async def parse_for_cell(
    session: AsyncSession,
    sources: Sequence[tuple[str, bytes]],
    today,
    cell: Organisation,
    *,
    limits: Limits = BOT_LIMITS,
) -> Roster:
    """A cell secretary's file: read it (in a worker thread, within `limits`), keep it to the
    cell (raises OutsideCell), then validate it against the database (raises RosterInvalid).

    The scope is checked before the database is consulted, so that a code outside the cell
    gets the same answer whether it exists or not."""
    roster = await asyncio.to_thread(read_roster, list(sources), limits)
    problems = await scope_errors(session, roster, cell)
    if problems:
        raise OutsideCell(problems)
    orgs, members = await known_orgs(session), await known_members(session)
    errors = await asyncio.to_thread(
        validate, roster, known_orgs=orgs, known_members=members, today=today
    )
    if errors:
        order = {sheet: i for i, sheet in enumerate((ORG_SHEET, MEMBER_SHEET, ROLE_SHEET))}
        raise RosterInvalid(
            sorted(errors, key=lambda e: (order.get(e.sheet, -1), e.row or -1))
        )
    return roster


def _member_values(row: MemberRow) -> dict[str, object]:
    return {name: getattr(row, name) for name in MEMBER_FIELDS}


async def apply_roster(
    session: AsyncSession, roster: Roster, *, actor: str, dry_run: bool = False
) -> RosterDiff:
    """Write the roster (or, with dry_run, only compute what would change)."""
    diff = RosterDiff()
    orgs = {o.code: o for o in (await session.scalars(select(Organisation))).all()}
    await _apply_orgs(session, roster, orgs, diff, dry_run)
    members = {
        m.code: m
        for m in (
            await session.scalars(
                select(Member).where(Member.code.in_([r.code for r in roster.members]))
            )
        ).all()
    }
    for row in roster.members:
        await _apply_member(session, row, members, orgs, diff, dry_run)
    covered_cells = {row.org_code for row in roster.members} | {
        o.code for o in roster.orgs if o.kind in ("cell", "grassroots_cell")
    }
    listed = {row.code for row in roster.members}
    for cell_code in sorted(covered_cells):
        cell = orgs.get(cell_code)
        if cell is None or cell.id is None:
            continue
        for member in (await session.scalars(select(Member).where(Member.org_id == cell.id))).all():
            if member.code not in listed:
                diff.members_missing.append((member.code, member.full_name))
    if not dry_run:
        await session.flush()
    role_changes = await _apply_roles(session, roster, orgs, members, diff, dry_run)
    if not dry_run:
        # Menus follow roles: those whose roles changed, who moved, or who hold a role on a
        # changed organisation. Set by the bot after the commit (bot/services/menus.py).
        moved = {c.code for c in diff.members_changed if {"org_code", "temporary_org_code"} & set(c.fields)}
        await owe_menu(session, member_codes=role_changes | moved, org_codes=diff.orgs_changed)
        session.add(
            AuditEntry.record(
                actor,
                "roster.import",
                "roster",
                None,
                orgs_added=diff.orgs_added,
                orgs_changed=diff.orgs_changed,
                members_added=[code for code, _ in diff.members_added],
                members_changed={c.code: c.fields for c in diff.members_changed},
                members_missing=[code for code, _ in diff.members_missing],
                roles_added=diff.roles_added,
                roles_removed=diff.roles_removed,
            )
        )
    return diff


def _parents_first(roster: Roster) -> list:
    by_code = {o.code: o for o in roster.orgs}

    def depth(code: str | None) -> int:
        seen = 0
        while code in by_code and seen <= len(by_code):
            code, seen = by_code[code].parent_code, seen + 1
        return seen

    return sorted(roster.orgs, key=lambda o: depth(o.code))


async def _apply_orgs(session, roster: Roster, orgs: dict, diff: RosterDiff, dry_run: bool) -> None:
    for row in _parents_first(roster):
        org = orgs.get(row.code)
        parent = orgs.get(row.parent_code) if row.parent_code else None
        if org is None:
            diff.orgs_added.append(row.code)
            org = Organisation(
                code=row.code, name=row.name, kind=row.kind, founded_on=row.founded_on, path="",
                residential=row.residential,
            )
            orgs[row.code] = org
            if not dry_run:
                await place_org(session, org, parent)
            continue
        old_parent_id = org.parent_id
        facts = (row.name, row.kind, row.founded_on, row.residential)
        changed = (org.name, org.kind, org.founded_on, org.residential) != facts or (
            old_parent_id != (parent.id if parent else None)
        )
        if changed:
            diff.orgs_changed.append(row.code)
            if not dry_run:
                org.name, org.kind, org.founded_on, org.residential = facts
                await place_org(session, org, parent)


async def _apply_member(
    session, row: MemberRow, members, orgs, diff: RosterDiff, dry_run: bool
) -> None:
    values = _member_values(row)
    cell = orgs[row.org_code]
    temporary = orgs.get(row.temporary_org_code) if row.temporary_org_code else None
    member = members.get(row.code)
    if member is None:
        diff.members_added.append((row.code, row.full_name))
        if not dry_run:
            member = Member(
                code=row.code,
                org_id=cell.id,
                temporary_org_id=temporary.id if temporary else None,
                **values,
            )
            session.add(member)
            members[row.code] = member
        return
    changed = [name for name, value in values.items() if getattr(member, name) != value]
    if member.org_id != cell.id:
        changed.append("org_code")
    if member.temporary_org_id != (temporary.id if temporary else None):
        changed.append("temporary_org_code")
    if not changed:
        return
    diff.members_changed.append(MemberChange(row.code, row.full_name, changed))
    if not dry_run:
        for name, value in values.items():
            setattr(member, name, value)
        member.org_id = cell.id
        member.temporary_org_id = temporary.id if temporary else None


async def _apply_roles(
    session, roster: Roster, orgs, members, diff: RosterDiff, dry_run: bool
) -> set[str]:
    """Roles of the organisations the file covers become exactly the file's roles; returns
    the codes of the members whose roles changed."""
    covered = {r.org_code for r in roster.roles} | {o.code for o in roster.orgs}
    wanted = {(r.member_code, r.org_code, r.role) for r in roster.roles}
    existing = set()
    changed: set[str] = set()
    covered_ids = [orgs[c].id for c in covered if c in orgs and orgs[c].id is not None]
    if covered_ids:
        rows = await session.execute(
            select(Role.id, Member.code, Organisation.code, Role.role, Role.org_id)
            .join(Member, Role.member_id == Member.id)
            .join(Organisation, Role.org_id == Organisation.id)
            .where(Role.org_id.in_(covered_ids))
        )
        for role_id, member_code, org_code, role, org_id in rows:
            existing.add((member_code, org_code, role))
            if (member_code, org_code, role) not in wanted:
                diff.roles_removed += 1
                changed.add(member_code)
                if not dry_run:
                    await session.execute(delete(Role).where(Role.id == role_id))
                    await aggregates.changed(session, org_id)  # the units' leaders counted
    for member_code, org_code, role in sorted(wanted - existing):
        diff.roles_added += 1
        changed.add(member_code)
        if not dry_run:
            member = members.get(member_code) or await session.scalar(
                select(Member).where(Member.code == member_code)
            )
            session.add(Role(member_id=member.id, org_id=orgs[org_code].id, role=role))
    return changed


# Why a cell secretary's file reaches outside their cell: one error per row, located like the
# file's own errors (sheet, row, column), so the secretary can fix it where it is.
E_OTHER_ORG = N_(
    "The organisation {code} is not your cell; from here you can only update your own cell. "
    "Ask your upper committee to change other organisations."
)
E_OWN_PARENT = N_(
    "Your cell's upper organisation cannot be changed from here (it is {current}, the file says "
    "{given}); ask your upper committee."
)
E_OWN_KIND = N_(
    "Your cell's type cannot be changed from here (it is «{current}», the file says «{given}»); "
    "ask your upper committee."
)
E_OWN_FOUNDED = N_(
    "Your cell's founding date cannot be changed from here; only its name can. "
    "Ask your upper committee."
)
E_OWN_RESIDENTIAL = N_(
    "Whether your cell is a village or residential chi bộ cannot be changed from here; "
    "ask your upper committee."
)
E_MEMBER_ELSEWHERE = N_(
    "The code {code} belongs to a member outside your cell; only the upper committee can move "
    "a member between cells."
)
E_MEMBER_OTHER_CELL = N_(
    "Member {code} is listed under {org}; from here you can only list members of your own cell."
)
E_TEMPORARY_ELSEWHERE = N_(
    "Member {code} cannot be sent to attend {org} temporarily from here; ask your upper committee."
)
E_ROLE_OTHER_ORG = N_("A role on {org} is outside your cell.")
E_ROLE_NOT_MEMBER = N_(
    "Member {code} is not a member of your cell, so they cannot hold a role in it."
)
E_ROLE_KIND = N_("The role «{role}» cannot be given from here; ask your upper committee.")

# Roles a cell's secretary or deputy may give in their own cell by file.
CELL_ROLES = frozenset({RoleKind.SECRETARY, RoleKind.DEPUTY, RoleKind.COMMITTEE_MEMBER})


async def scope_errors(
    session: AsyncSession, roster: Roster, cell: Organisation
) -> list[RosterError]:
    """Why a cell secretary's file reaches outside their own cell, row by row (empty: it does
    not). The file may change the cell's members and the cell's name, and nothing else."""
    problems: list[RosterError] = []
    parent = await session.get(Organisation, cell.parent_id) if cell.parent_id else None
    codes = {m.code for m in roster.members if m.code} | {r.member_code for r in roster.roles}
    codes.discard(None)
    where = {
        code: (org_code, temporary)
        for code, org_code, temporary in await session.execute(
            select(Member.code, Organisation.code, Member.temporary_org_id)
            .join(Organisation, Member.org_id == Organisation.id)
            .where(Member.code.in_(sorted(codes)))
        )
    }
    for org in roster.orgs:
        if org.code is None:
            continue  # a missing code: validation reports it
        if org.code != cell.code:
            problems.append(_at(org, "code", E_OTHER_ORG, code=org.code))
            continue
        parent_code = parent.code if parent else None
        if (org.parent_code or None) != parent_code:
            problems.append(
                _at(org, "parent_code", E_OWN_PARENT, current=parent_code or "—",
                    given=org.parent_code or "—")
            )
        if org.kind != cell.kind:
            problems.append(
                _at(org, "kind", E_OWN_KIND, current=label_of(ORG_KINDS, cell.kind),
                    given=label_of(ORG_KINDS, org.kind))
            )
        if org.founded_on != cell.founded_on:
            problems.append(_at(org, "founded_on", E_OWN_FOUNDED))
        if org.residential != cell.residential:  # the upper committee says so (R-C4, opinions)
            problems.append(_at(org, "residential", E_OWN_RESIDENTIAL))
    own = {cell.code}
    listed_here = set()
    for member in roster.members:
        if member.code is None or member.org_code is None:
            continue  # a missing code: validation reports it
        if member.org_code != cell.code:
            problems.append(
                _at(member, "org_code", E_MEMBER_OTHER_CELL, code=member.code, org=member.org_code)
            )
            continue
        known = where.get(member.code)
        if known is not None and known[0] != cell.code:
            problems.append(
                _at(member, "code", E_MEMBER_ELSEWHERE, code=member.code)
            )
            continue
        listed_here.add(member.code)
        temporary = member.temporary_org_code
        if temporary and temporary not in own:
            current = known[1] if known else None
            current_code = (
                (await session.get(Organisation, current)).code if current is not None else None
            )
            if temporary != current_code:
                problems.append(
                    _at(member, "temporary_org_code", E_TEMPORARY_ELSEWHERE,
                        code=member.code, org=temporary)
                )
    for role in roster.roles:
        if role.org_code is None or role.member_code is None:
            continue  # a missing code: validation reports it
        if role.org_code != cell.code:
            problems.append(_at(role, "org_code", E_ROLE_OTHER_ORG, org=role.org_code))
            continue
        known = where.get(role.member_code)
        in_cell = role.member_code in listed_here or (
            role.member_code not in {m.code for m in roster.members}
            and known is not None
            and known[0] == cell.code
        )
        if not in_cell:
            problems.append(_at(role, "member_code", E_ROLE_NOT_MEMBER, code=role.member_code))
        if role.role not in CELL_ROLES:
            problems.append(
                _at(role, "role", E_ROLE_KIND, role=label_of(ROLES, role.role))
            )
    return problems


def _at(row: OrgRow | MemberRow | RoleRow, fld: str, msgid: str, **params: object) -> RosterError:
    sheet = {OrgRow: ORG_SHEET, MemberRow: MEMBER_SHEET, RoleRow: ROLE_SHEET}[type(row)]
    return RosterError(row.sheet, row.row, header(sheet, fld), msgid, dict(params))


MAX_LISTED = 30  # names shown per group in a preview; the rest are counted


def _names(t: Translator, pairs: Sequence[tuple[str, str]]) -> list[str]:
    pairs = sorted(pairs, key=lambda pair: name_sort_key(pair[1]))
    lines = [f"  - {name} ({code})" for code, name in pairs[:MAX_LISTED]]
    if len(pairs) > MAX_LISTED:
        lines.append("  " + t("… and {count} more", count=t.number(len(pairs) - MAX_LISTED)))
    return lines


def describe_diff(t: Translator, diff: RosterDiff) -> list[str]:
    """The change in plain lines, for the bot's preview and the CLI's report."""
    lines = []
    if diff.orgs_added:
        lines.append(t("Organisations added: {codes}", codes=", ".join(diff.orgs_added)))
    if diff.orgs_changed:
        lines.append(t("Organisations changed: {codes}", codes=", ".join(diff.orgs_changed)))
    lines.append(t("Members added: {count}", count=t.number(len(diff.members_added))))
    lines += _names(t, diff.members_added)
    lines.append(t("Members changed: {count}", count=t.number(len(diff.members_changed))))
    lines += _names(t, [(c.code, c.full_name) for c in diff.members_changed])
    lines.append(
        t(
            "Members in the database but missing from the file (kept, not deleted): {count}",
            count=t.number(len(diff.members_missing)),
        )
    )
    lines += _names(t, diff.members_missing)
    if diff.roles_added or diff.roles_removed:
        lines.append(
            t(
                "Roles added: {added}; roles removed: {removed}",
                added=t.number(diff.roles_added),
                removed=t.number(diff.roles_removed),
            )
        )
    return lines


# --- the preview a secretary confirms in the bot --------------------------------------------------


async def keep_pending(
    session: AsyncSession, telegram_id: int, cell: Organisation, filename: str, content: bytes
) -> PendingImport:
    """Keep the file until its preview is confirmed (the flow's payload points here)."""
    pending = PendingImport(
        telegram_id=telegram_id, org_id=cell.id, filename=filename, content=content
    )
    session.add(pending)
    await session.flush()
    return pending


async def pending_import(
    session: AsyncSession, pending_id: int, telegram_id: int
) -> PendingImport | None:
    """The user's own kept file, or None."""
    pending = await session.get(PendingImport, pending_id)
    return pending if pending is not None and pending.telegram_id == telegram_id else None


async def organisation(session: AsyncSession, org_id: int) -> Organisation | None:
    return await session.get(Organisation, org_id)
