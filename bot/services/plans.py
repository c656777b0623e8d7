"""Plans (kế hoạch): a cycle's rulebook settings and its dated deadlines, per unit.

- The cycle (``cycles``) is set on an upper committee's organisation: year, rulebook, and the
  settings it overrides (``cycles.overrides``, JSON, checked by ``Rulebook.with_overrides``).
  R-D1 and R-D2 are settings (``draft_report_working_days_before``,
  ``self_review_days_before``).
- Dated deadlines (R-D5, and the plan's ``finish_by`` and ``report_by``) are rows of
  ``plan_deadlines`` keyed (cycle, organisation, key). The rulebook's dates are the defaults;
  the cycle's organisation may move them; a unit below may set a deadline for itself that is
  earlier than the one it inherits, never later (``rules.deadlines.check_child_deadline``).
  A unit's deadline is the one set on its nearest ancestor-or-self.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from dataclasses import fields
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.services.cycles import CycleError
from bot.services.cycles import check_rulebook_code
from bot.services.cycles import create_cycle
from bot.services.cycles import cycle_for_org
from bot.services.cycles import cycle_rulebook
from bot.services.cycles import date_problem
from rules.breaches import Breach
from rules.deadlines import check_child_deadline
from rules.deadlines import check_child_deadlines
from rules.deadlines import plan_deadlines
from rules.org_scoring import RATED_KINDS
from rules.rulebooks import RULEBOOKS
from rules.rulebooks import Rulebook
from rules.rulebooks import rulebook
from storage.models import AuditEntry
from storage.models import Cycle
from storage.models import Organisation
from storage.models import OrgKind
from storage.models import UnitDeadline
from storage.models import UnitPlanSetting
from storage.queries import path_ids
from storage.queries import subtree_range

FINISH_BY = "finish_by"
REPORT_BY = "report_by"


@dataclass(frozen=True)
class Setting:
    """A rulebook setting a plan may change in the bot: key, label msgid, rule, value kind."""

    key: str
    msgid: str
    rule: str
    kind: str  # "int" | "optional" (an int or none) | "bool"


SETTINGS: tuple[Setting, ...] = (
    Setting("htxs_quota_percent", N_("HTXS at most, % of those reaching HTT"), "R-Q1", "int"),
    Setting(
        "htxs_quota_outstanding_percent",
        N_("HTXS at most for outstanding units, % (by decision of the upper level)"),
        "R-Q1",
        "optional",
    ),
    Setting(
        "small_group_htt_below",
        N_("Small group: fewer than this many at HTT may have 1 HTXS"),
        "R-Q4",
        "optional",
    ),
    Setting(
        "small_cell_size_below",
        N_("Small cell: a cell with fewer members than this"),
        "R-Q4",
        "optional",
    ),
    Setting("small_cell_htxs_max", N_("… may have at most this many HTXS"), "R-Q4", "int"),
    Setting(
        "sick_leave_cap_months",
        N_("Sick leave from this many months: at most HT"),
        "R-C1",
        "optional",
    ),
    Setting("head_cap", N_("The head is not rated above the collective"), "R-C4", "bool"),
    Setting(
        "self_review_days_before",
        N_("Self-review handed in, days before the meeting"),
        "R-D2",
        "int",
    ),
    Setting(
        "draft_report_working_days_before",
        N_("Draft report sent, working days before the meeting"),
        "R-D1",
        "int",
    ),
)
SETTING_KEYS = {s.key: s for s in SETTINGS}

DEADLINE_NAMES = {
    FINISH_BY: N_("Reviews and ratings finished (finish-by)"),
    REPORT_BY: N_("Results reported upward (report-by)"),
}


class PlanError(CycleError):
    """A plan that cannot be saved; `breaches` lists deadlines later than the parent's."""

    def __init__(self, msgid: str, breaches: list[Breach] | None = None, **params: object) -> None:
        super().__init__(msgid, **params)
        self.breaches = breaches or []


def deadline_keys(rb: Rulebook) -> list[str]:
    return [FINISH_BY, REPORT_BY, *(d.key for d in rb.plan_deadlines)]


def deadline_msgid(rb: Rulebook, key: str) -> str:
    if key in DEADLINE_NAMES:
        return DEADLINE_NAMES[key]
    return next((d.msgid for d in rb.plan_deadlines if d.key == key), key)


def default_deadlines(rb: Rulebook, year: int) -> dict[str, dt.date]:
    """The rulebook's dates (R-D5); finish-by 31/12, report-by the last plan deadline."""
    dated = {d.key: d.due for d in plan_deadlines(rb, year)}
    finish = dt.date(year, 12, 31)
    report = max(dated.values(), default=dt.date(year + 1, 1, 15))
    return {FINISH_BY: finish, REPORT_BY: max(report, finish), **dated}


def parse_setting(key: str, text: str) -> Any:
    """A typed value for a setting: an integer, "không"/"none" for no value, "có"/"không"."""
    setting = SETTING_KEYS[key]
    word = text.strip().lower()
    if setting.kind == "bool":
        if word in ("có", "co", "yes", "y", "1", "bật", "on"):
            return True
        if word in ("không", "khong", "no", "n", "0", "tắt", "off"):
            return False
        raise ValueError(text)
    if setting.kind == "optional" and word in ("không", "khong", "none", "-", "no"):
        return None
    if not word.isdigit():
        raise ValueError(text)
    return int(word)


def check_overrides(code: str, overrides: Mapping[str, Any]) -> Rulebook:
    """The rulebook with the plan's overrides, or PlanError naming the bad setting."""
    try:
        return rulebook(code, **overrides)
    except ValueError:
        raise PlanError(N_("A setting has a value the rulebook does not accept.")) from None


def parse_date(text: str) -> dt.date | None:
    try:
        return dt.datetime.strptime(text.strip(), "%d/%m/%Y").date()
    except ValueError:
        return None


# --- reading ---------------------------------------------------------------------------------


async def deadline_rows(session: AsyncSession, cycle: Cycle) -> list[UnitDeadline]:
    return list(
        await session.scalars(select(UnitDeadline).where(UnitDeadline.cycle_id == cycle.id))
    )


def ancestor_ids(org: Organisation) -> list[int]:
    return path_ids(org.path)


def effective_from_rows(
    cycle: Cycle, org: Organisation, rows: list[UnitDeadline], *, include_self: bool = True
) -> dict[str, dt.date]:
    """The deadlines that hold for `org`: the cycle's, then those of its ancestors down to it
    (or down to its parent when `include_self` is False); the deepest wins."""
    rb = cycle_rulebook(cycle)
    found = default_deadlines(rb, cycle.year)
    found[FINISH_BY], found[REPORT_BY] = cycle.finish_by, cycle.report_by
    chain = ancestor_ids(org)
    if not include_self:
        chain = chain[:-1]
    depth = {org_id: index for index, org_id in enumerate(chain)}
    for row in sorted((r for r in rows if r.org_id in depth), key=lambda r: depth[r.org_id]):
        found[row.key] = row.due
    return found


async def effective_deadlines(
    session: AsyncSession, cycle: Cycle, org: Organisation, *, include_self: bool = True
) -> dict[str, dt.date]:
    return effective_from_rows(
        cycle, org, await deadline_rows(session, cycle), include_self=include_self
    )


def overrides_of(cycle: Cycle) -> dict[str, Any]:
    return json.loads(cycle.overrides) if cycle.overrides else {}


# --- writing ---------------------------------------------------------------------------------


async def _keyed(
    session: AsyncSession, model: type[UnitDeadline] | type[UnitPlanSetting], cycle: Cycle,
    org: Organisation,
) -> dict:
    """A plan's rows of one unit (deadlines or settings), by key."""
    rows = await session.scalars(
        select(model).where(model.cycle_id == cycle.id, model.org_id == org.id)
    )
    return {row.key: row for row in rows}


async def _set_rows(
    session: AsyncSession,
    cycle: Cycle,
    org: Organisation,
    deadlines: Mapping[str, dt.date],
    actor: str,
    now: dt.datetime,
) -> None:
    existing = await _keyed(session, UnitDeadline, cycle, org)
    for key, due in deadlines.items():
        row = existing.get(key)
        if row is None:
            session.add(
                UnitDeadline(
                    cycle_id=cycle.id, org_id=org.id, key=key, due=due, set_by=actor, set_at=now
                )
            )
        elif row.due != due:
            row.due, row.set_by, row.set_at = due, actor, now
    await session.flush()


async def _later_below(
    session: AsyncSession, cycle: Cycle, org: Organisation, deadlines: Mapping[str, dt.date]
) -> list[Breach]:
    """Deadlines units below `org` set that would become later than the new ones."""
    rows = await session.execute(
        select(UnitDeadline, Organisation)
        .join(Organisation, Organisation.id == UnitDeadline.org_id)
        .where(
            UnitDeadline.cycle_id == cycle.id, subtree_range(org.path), Organisation.id != org.id
        )
    )
    found = []
    for row, _unit in rows:
        if row.key in deadlines:
            found += check_child_deadlines({row.key: row.due}, {row.key: deadlines[row.key]})
    return found


async def save_own_plan(
    session: AsyncSession,
    org: Organisation,
    *,
    year: int,
    rulebook_code: str,
    overrides: Mapping[str, Any],
    deadlines: Mapping[str, dt.date],
    actor: str,
    now: dt.datetime,
) -> Cycle:
    """Open (or change) the plan `org` sets for its subtree: rulebook, settings, deadlines."""
    check_rulebook_code(rulebook_code)
    rb = check_overrides(rulebook_code, overrides)
    full = default_deadlines(rb, year) | dict(deadlines)
    if problem := date_problem(year, full[FINISH_BY], full[REPORT_BY]):
        raise problem
    above = await session.scalar(
        select(Cycle).where(Cycle.org_id.in_(ancestor_ids(org)[:-1]), Cycle.year == year)
    )
    if above is not None:
        raise PlanError(
            N_(
                "{org} inherits the {year} plan of the upper level; it may only set earlier "
                "deadlines."
            ),
            org=org.name,
            year=year,
        )
    cycle = await session.scalar(select(Cycle).where(Cycle.org_id == org.id, Cycle.year == year))
    if cycle is None:
        cycle = await create_cycle(
            session,
            org,
            year=year,
            rulebook_code=rulebook_code,
            finish_by=full[FINISH_BY],
            report_by=full[REPORT_BY],
            actor=actor,
        )
    else:
        later = await _later_below(session, cycle, org, full)
        if later:
            raise PlanError(
                N_("A unit below has set a deadline later than the new one; it must move first."),
                later,
            )
        cycle.rulebook = rulebook_code
        cycle.finish_by, cycle.report_by = full[FINISH_BY], full[REPORT_BY]
    cycle.overrides = json.dumps(dict(overrides), sort_keys=True) if overrides else None
    dated = {k: v for k, v in full.items() if k not in (FINISH_BY, REPORT_BY)}
    await _set_rows(session, cycle, org, dated, actor, now)
    session.add(
        AuditEntry.record(
            actor,
            "plan.save",
            "organisation",
            org.code,
            year=year,
            rulebook=rulebook_code,
            overrides=dict(overrides),
            deadlines={k: v.isoformat() for k, v in full.items()},
        )
    )
    await session.flush()
    return cycle


async def save_unit_deadlines(
    session: AsyncSession,
    org: Organisation,
    cycle: Cycle,
    deadlines: Mapping[str, dt.date],
    *,
    actor: str,
    now: dt.datetime,
) -> None:
    """A unit below the cycle's organisation sets earlier deadlines for itself (R-D5)."""
    if cycle.org_id == org.id:
        raise PlanError(N_("This is the plan's own organisation: change the plan itself."))
    parent = await effective_deadlines(session, cycle, org, include_self=False)
    unknown = [key for key in deadlines if key not in parent]
    if unknown:
        raise PlanError(N_("Unknown deadline {key}."), key=unknown[0])
    breaches = check_child_deadlines(dict(deadlines), parent)
    if breaches:
        raise PlanError(N_("A unit may set earlier deadlines, never later ones."), breaches)
    later = await _later_below(session, cycle, org, deadlines)
    if later:
        raise PlanError(
            N_("A unit below has set a deadline later than the new one; it must move first."),
            later,
        )
    await _set_rows(session, cycle, org, deadlines, actor, now)
    session.add(
        AuditEntry.record(
            actor,
            "plan.deadlines",
            "organisation",
            org.code,
            cycle=cycle.id,
            deadlines={k: v.isoformat() for k, v in deadlines.items()},
        )
    )
    await session.flush()


async def governing_cycle(session: AsyncSession, org: Organisation) -> Cycle | None:
    return await cycle_for_org(session, org)


# --- settings an upper level gives one unit in its plan (issue 14; UnitPlanSetting) -----------
#
# OUTSTANDING: a unit with outstanding results, whose quota counts at the rulebook's raised
# share (R-Q1, qd366-2025: 25%). PEER_GROUP: the peer group its quotas are counted in (R-Q5,
# qd366-2025: set by the deciding level), a short label shared by the units of one group. Only
# someone whose role sits above the unit may set them (the unit never grants itself a share).

OUTSTANDING, PEER_GROUP = "outstanding_unit", "peer_group"
UNIT_SETTING_KEYS = (OUTSTANDING, PEER_GROUP)
PEER_GROUP_MAX = 16
UNIT_SETTING_NAMES = {
    OUTSTANDING: N_("Outstanding unit: HTXS up to the raised share"),
    PEER_GROUP: N_("Peer group its quotas are counted in"),
}


def unit_settings_apply(rb: Rulebook) -> tuple[str, ...]:
    """The per-unit settings this rulebook reads: the raised share where it has one (R-Q1),
    the peer group where the deciding level sets it (R-Q5)."""
    keys = []
    if rb.htxs_quota_outstanding_percent is not None:
        keys.append(OUTSTANDING)
    if rb.peer_groups_by_decider:
        keys.append(PEER_GROUP)
    return tuple(keys)


def parse_unit_setting(key: str, value: Any) -> Any:
    """A unit setting's value: yes/no for OUTSTANDING; a label (letters, digits, "-", "_",
    ".", at most PEER_GROUP_MAX) or none for PEER_GROUP. ValueError otherwise."""
    if key == OUTSTANDING:
        if value is None or isinstance(value, bool):
            return bool(value)
        word = str(value).strip().lower()
        if word in ("có", "co", "yes", "true", "1", "x"):
            return True
        if word in ("không", "khong", "no", "false", "0", ""):
            return False
        raise ValueError(value)
    if key == PEER_GROUP:
        if value is None:
            return None
        label = str(value).strip().upper()
        if label in ("", "KHÔNG", "KHONG", "NONE", "-"):
            return None
        if len(label) > PEER_GROUP_MAX or not all(c.isascii() and (c.isalnum() or c in "-_.")
                                                   for c in label):
            raise ValueError(value)
        return label
    raise ValueError(key)


async def unit_settings(
    session: AsyncSession, cycle_id: int, org_ids: list[int] | None = None
) -> dict[int, dict[str, Any]]:
    """The per-unit settings of a plan (of `org_ids`, or all), by organisation id."""
    statement = select(UnitPlanSetting).where(UnitPlanSetting.cycle_id == cycle_id)
    if org_ids is not None:
        if not org_ids:
            return {}
        statement = statement.where(UnitPlanSetting.org_id.in_(sorted(set(org_ids))))
    found: dict[int, dict[str, Any]] = {}
    for row in await session.scalars(statement):
        found.setdefault(row.org_id, {})[row.key] = json.loads(row.value)
    return found


async def save_unit_settings(
    session: AsyncSession,
    cycle: Cycle,
    org: Organisation,
    values: Mapping[str, Any],
    *,
    actor: str,
    now: dt.datetime,
) -> None:
    """Give `org` these settings in `cycle` (a value of None or False removes the setting)."""
    if cycle.org_id == org.id:
        raise PlanError(N_("These settings are given to a unit by a level above it."))
    unknown = [key for key in values if key not in UNIT_SETTING_KEYS]
    if unknown:
        raise PlanError(N_("Unknown setting {key}."), key=unknown[0])
    try:
        parsed = {key: parse_unit_setting(key, value) for key, value in values.items()}
    except ValueError:
        raise PlanError(N_("A setting has a value the rulebook does not accept.")) from None
    rows = await _keyed(session, UnitPlanSetting, cycle, org)
    for key, value in parsed.items():
        row = rows.get(key)
        if value in (None, False):
            if row is not None:
                await session.delete(row)
        elif row is None:
            session.add(UnitPlanSetting(cycle_id=cycle.id, org_id=org.id, key=key,
                                        value=json.dumps(value), set_by=actor, set_at=now))
        elif json.loads(row.value) != value:
            row.value, row.set_by, row.set_at = json.dumps(value), actor, now
    session.add(
        AuditEntry.record(actor, "plan.unit_settings", "organisation", org.code, cycle=cycle.id,
                          settings=parsed)
    )
    await session.flush()


# --- the /ke_hoach draft (kept in the flow's payload, conversations/plan.py) -----------------

OWN, INHERIT = "own", "inherit"


@dataclass
class Draft:
    """The answers of a /ke_hoach flow so far: what the flow's payload holds (JSON)."""

    org_id: int
    mode: str  # OWN: the unit opens or edits its own cycle; INHERIT: earlier deadlines only
    year: int | None = None
    rulebook: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    deadlines: dict[str, str] = field(default_factory=dict)  # key -> ISO date
    key: str | None = None  # the setting or the deadline asked now
    # INHERIT only: the settings a level above gives this unit (UNIT_SETTING_KEYS -> value),
    # or None when none is offered (the unit itself, or a rulebook that reads none).
    unit: dict[str, Any] | None = None

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> Draft:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})

    def payload(self) -> dict[str, Any]:
        return asdict(self)

    def rules(self) -> Rulebook:
        return check_overrides(self.rulebook, self.overrides)

    def keys(self) -> list[str]:
        return deadline_keys(self.rules())

    def chosen(self) -> dict[str, dt.date]:
        return {k: dt.date.fromisoformat(v) for k, v in self.deadlines.items()}

    def choose(self, key: str, due: dt.date) -> None:
        self.deadlines = {**self.deadlines, key: due.isoformat()}

    def next_deadline(self) -> str | None:
        """The deadline after the one asked now, or None when they are all answered."""
        keys = self.keys()
        index = keys.index(self.key) + 1 if self.key in keys else 0
        return keys[index] if index < len(keys) else None

    def set_value(self, key: str, value: Any) -> None:
        """Record a setting's value (PlanError if the rulebook refuses it); a value equal to
        the rulebook's own is no override."""
        overrides = self.overrides | {key: value}
        check_overrides(self.rulebook, overrides)
        if value == getattr(RULEBOOKS[self.rulebook], key):
            overrides.pop(key)
        self.overrides = dict(sorted(overrides.items()))

    def choose_rulebook(self, code: str) -> None:
        if self.rulebook != code:
            self.overrides = {}
        self.rulebook = code


async def org_by_id(session: AsyncSession, org_id: int) -> Organisation | None:
    return await session.get(Organisation, org_id)


async def start_draft(session: AsyncSession, org: Organisation, today: dt.date) -> Draft | None:
    """A new draft for `org`: its own plan (from the year), or — for a cell, or a unit under a
    plan that still runs — earlier deadlines under the inherited one. None: a unit that must
    inherit has no plan above it yet."""
    cycle = await cycle_for_org(session, org)
    if OrgKind(org.kind).is_cell or (
        cycle is not None and cycle.org_id != org.id and cycle.report_by >= today
    ):
        if cycle is None:
            return None
        if cycle.org_id != org.id:
            return Draft(
                org.id, INHERIT, cycle.year, cycle.rulebook, overrides_of(cycle), key=FINISH_BY
            )
        return Draft(org.id, OWN, cycle.year, cycle.rulebook, overrides_of(cycle))
    return Draft(org.id, OWN)


async def draft_defaults(
    session: AsyncSession, draft: Draft, org: Organisation
) -> dict[str, dt.date] | None:
    """The deadline each question offers to keep: the inherited one, or the plan's (None: the
    inherited plan is gone)."""
    if draft.mode == INHERIT:
        cycle = await cycle_for_org(session, org)
        return None if cycle is None else await effective_deadlines(session, cycle, org)
    found = default_deadlines(draft.rules(), draft.year)
    own = await session.scalar(
        select(Cycle).where(Cycle.org_id == org.id, Cycle.year == draft.year)
    )
    if own is not None and own.rulebook == draft.rulebook:  # editing: offer what is set now
        found |= await effective_deadlines(session, own, org)
    return found


async def draft_deadlines(
    session: AsyncSession, draft: Draft, org: Organisation
) -> dict[str, dt.date] | None:
    """Every deadline of the draft: the answers, else the defaults."""
    defaults = await draft_defaults(session, draft, org)
    return None if defaults is None else defaults | draft.chosen()


async def deadline_problem(
    session: AsyncSession, draft: Draft, org: Organisation, key: str, due: dt.date
) -> Breach | CycleError | None:
    """Why `due` cannot be the draft's deadline `key` (R-D5, and the plan's own order)."""
    if draft.mode == INHERIT:
        cycle = await cycle_for_org(session, org)
        if cycle is not None:
            limits = await effective_deadlines(session, cycle, org, include_self=False)
            limit = limits.get(key)
            if limit is not None and (breach := check_child_deadline(key, due, limit)):
                return breach
    if key == FINISH_BY:
        return date_problem(draft.year, due, None)
    if key == REPORT_BY:
        return date_problem(draft.year, draft.chosen().get(FINISH_BY), due)
    return None


async def open_plan(
    session: AsyncSession, org: Organisation, draft: Draft, *, actor: str, now: dt.datetime
) -> None:
    """`kiemdiem cycle create`: a new plan for `org`'s subtree (CycleError if it has one for
    the draft's year), then, if the draft changes settings or deadlines other than its two
    dates, those saved as /ke_hoach saves them."""
    chosen = draft.chosen()
    await create_cycle(
        session,
        org,
        year=draft.year,
        rulebook_code=draft.rulebook,
        finish_by=chosen[FINISH_BY],
        report_by=chosen[REPORT_BY],
        actor=actor,
    )
    if draft.overrides or chosen.keys() - {FINISH_BY, REPORT_BY}:
        await save_draft(session, draft, org, actor=actor, now=now)


async def save_draft(
    session: AsyncSession, draft: Draft, org: Organisation, *, actor: str, now: dt.datetime
) -> None:
    """Save the draft: the unit's own plan, or its earlier deadlines (CycleError if refused)."""
    chosen = draft.chosen()
    if draft.mode == OWN:
        await save_own_plan(
            session,
            org,
            year=draft.year,
            rulebook_code=draft.rulebook,
            overrides=draft.overrides,
            deadlines=chosen,
            actor=actor,
            now=now,
        )
        return
    cycle = await cycle_for_org(session, org)
    if cycle is None:
        raise PlanError(N_("There is no review plan for {org} yet. Your upper committee opens it."),
                        org=org.name)
    limits = await effective_deadlines(session, cycle, org, include_self=False)
    changed = {k: v for k, v in chosen.items() if v != limits.get(k)}
    await save_unit_deadlines(session, org, cycle, changed, actor=actor, now=now)
    if draft.unit is not None:
        await save_unit_settings(session, cycle, org, draft.unit, actor=actor, now=now)


async def unit_settings_offered(
    session: AsyncSession, draft: Draft, org: Organisation
) -> dict[str, Any] | None:
    """The unit settings a level above may give `org` in the draft's plan, with their values
    now (None: none is offered)."""
    cycle = await cycle_for_org(session, org)
    if draft.mode != INHERIT or cycle is None or org.kind not in RATED_KINDS:
        return None
    keys = unit_settings_apply(cycle_rulebook(cycle))
    if not keys:
        return None
    now = (await unit_settings(session, cycle.id, [org.id])).get(org.id, {})
    return {key: now.get(key, False if key == OUTSTANDING else None) for key in keys}
