"""Members score their organisation at the meeting (seed 004 B.1.4 step 1, B.6).

After the collectives' step (R-D3) the secretary opens scoring: every participant present
(a cell's members; at a đảng bộ cơ sở, its committee) gets a score sheet (``ScoreSheet`` with
their ``member_id``) pre-filled from the head's draft (the sheet with ``member_id`` None; a
criterion the draft has no mark for starts empty). Each member accepts the draft as it stands
or changes a criterion's points, then submits; changing a mark after submitting takes the sheet
back until it is submitted again. Meanwhile the meeting agrees the deductions and additions
(``ScoreAdjustment.agreed``): the draft's proposals are agreed, changed or dropped, new ones
added, each with its criterion, reason and who is responsible, checked by
``rules.org_scoring``. Closing combines: each submitted sheet's total is ``score_org`` with the
agreed adjustments, the unit's score their ``combine_scores`` (stored in tenths in
``UnitReview.combined_tenths``) and its band the level suggested to the unit's vote.

A unit founded less than six months before (R-E4) is reviewed, not scored.

Concurrency: every write takes the review row first (an UPDATE of ``updated_at``): a row lock
on PostgreSQL, the write lock on SQLite, so two secretaries opening scoring at once, or a
member submitting while the scoring closes, are serialized and each sees the other's rows.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.services import units
from bot.services.ballot import meeting_state
from bot.services.unit_ballot import UnitRefusal
from bot.services.unit_meeting import order_of
from rules.breaches import Breach
from rules.levels import Level
from rules.org_scoring import Addition
from rules.org_scoring import Criterion
from rules.org_scoring import Deduction
from rules.org_scoring import OrgScore
from rules.org_scoring import combine_scores
from rules.org_scoring import org_band
from rules.org_scoring import points
from rules.org_scoring import score_org
from rules.org_scoring import tenths
from rules.people import Presence
from rules.people import name_sort_key
from rules.rulebooks import Rulebook
from storage.models import AdjustmentKind
from storage.models import AuditEntry
from storage.models import Cycle
from storage.models import Meeting
from storage.models import Member
from storage.models import Organisation
from storage.models import ScoreAdjustment
from storage.models import ScoreMark
from storage.models import ScoreSheet
from storage.models import UnitReview
from storage.models import UnitSubject

REASON_MAX = 1000
RESPONSIBLE_MAX = 255
SHORTFALL_MAX_TENTHS = 1000  # a target missed by 100%
_POINTS = re.compile(r"[0-9]{1,4}(?:[.,][0-9])?")


class ScoringError(UnitRefusal):
    pass


E_INVALID = N_("This button is no longer valid.")
E_CLOSED = N_("Scoring of {org} is closed; the marks can no longer change.")


def parse_tenths(text: str) -> int | None:
    """Points as typed ("8", "8,5", "8.5"): tenths, or None when it is not such a number."""
    value = text.strip()
    if not _POINTS.fullmatch(value):
        return None
    return tenths(Decimal(value.replace(",", ".")))


# --- the state of a unit's scoring ------------------------------------------------------------


@dataclass
class MemberSheet:
    member: Member
    sheet: ScoreSheet
    marks: dict[str, int]  # criterion -> tenths

    @property
    def submitted(self) -> bool:
        return self.sheet.submitted_at is not None


@dataclass
class Scoring(units.UnitContext):
    """A unit's scoring at its meeting: the organisation's review, the framework for its
    kind, the head's draft, the members' sheets and the adjustments."""

    meeting: Meeting
    collectives_done: bool
    draft: dict[str, int]  # criterion -> tenths, of the head's draft sheet
    sheets: list[MemberSheet] = field(default_factory=list)
    adjustments: list[ScoreAdjustment] = field(default_factory=list)

    @property
    def opened(self) -> bool:
        return bool(self.sheets)

    @property
    def closed(self) -> bool:
        return self.review is not None and self.review.combined_tenths is not None

    @property
    def submitted(self) -> list[MemberSheet]:
        return [s for s in self.sheets if s.submitted]

    @property
    def waiting(self) -> list[Member]:
        return [s.member for s in self.sheets if not s.submitted]

    def score(self, marks: dict[str, int]) -> OrgScore:
        """A sheet's total with the adjustments agreed so far."""
        return self.score_with({c: points(v) for c, v in marks.items()},
                               [a for a in self.adjustments if a.agreed])

    @property
    def combined(self) -> tuple[Decimal, Level] | None:
        if not self.closed:
            return None
        total = points(self.review.combined_tenths)
        return total, org_band(total, self.rulebook)


async def _marks(session: AsyncSession, sheet_id: int) -> dict[str, int]:
    rows = await session.scalars(select(ScoreMark).where(ScoreMark.sheet_id == sheet_id))
    return {row.criterion: row.tenths for row in rows}


async def _draft(session: AsyncSession, review: UnitReview | None) -> dict[str, int]:
    if review is None:
        return {}
    sheet = await session.scalar(
        select(ScoreSheet)
        .where(ScoreSheet.review_id == review.id, ScoreSheet.member_id.is_(None))
        .order_by(ScoreSheet.id)
        .limit(1)
    )
    return await _marks(session, sheet.id) if sheet is not None else {}


async def scoring_of(session: AsyncSession, meeting: Meeting, today: dt.date) -> Scoring:
    org = await session.get(Organisation, meeting.org_id)
    cycle = await session.get(Cycle, meeting.cycle_id)
    review = await units.find_review(session, cycle.id, org.id, UnitSubject.ORGANISATION)
    order = await order_of(session, meeting, today)
    scoring = await Scoring.load(
        session, org, cycle, review, today,
        meeting=meeting,
        collectives_done=order.collectives_done,
        draft=await _draft(session, review),
    )
    if review is not None:
        rows = (
            await session.execute(
                select(ScoreSheet, Member)
                .join(Member, Member.id == ScoreSheet.member_id)
                .where(ScoreSheet.review_id == review.id)
                .order_by(ScoreSheet.id)
            )
        ).all()
        scoring.sheets = sorted(
            [MemberSheet(member, sheet, await _marks(session, sheet.id)) for sheet, member in rows],
            key=lambda s: name_sort_key(s.member.full_name),
        )
        scoring.adjustments = await units.adjustments(session, review.id)
    return scoring


async def heads(session: AsyncSession, org_id: int) -> list[Member]:
    """Who runs the unit's meeting: its secretary and deputies."""
    return await units.heads(session, org_id)


def _may_score(scoring: Scoring) -> None:
    if not scoring.collectives_done or scoring.review is None:
        raise ScoringError(
            N_("First review the collectives: the members score {org} after its report."),
            org=scoring.org.name,
        )
    if not scoring.rated:
        raise ScoringError(
            N_(
                "{org} was founded less than {months} months ago: it is reviewed, not scored "
                "or rated this year."
            ),
            org=scoring.org.name,
            months=scoring.rulebook.new_org_months,
        )
    if scoring.framework is None or not scoring.framework.leaves():
        raise ScoringError(
            N_(
                "No criteria framework applies to {org}, so it cannot be scored. Its upper "
                "committee loads one (/mau_khung)."
            ),
            org=scoring.org.name,
        )
    if scoring.closed:
        raise ScoringError(E_CLOSED, org=scoring.org.name)


async def _claim(session: AsyncSession, review_id: int, now: dt.datetime) -> None:
    """Take the review row before writing (see the module's note on concurrency)."""
    await session.execute(
        update(UnitReview)
        .where(UnitReview.id == review_id)
        .values(updated_at=now)
        .execution_options(synchronize_session=False)
    )


async def open_scoring(
    session: AsyncSession, meeting: Meeting, today: dt.date, *, actor: str, now: dt.datetime
) -> tuple[Scoring, list[MemberSheet]]:
    """Give a sheet to every participant present who has none yet, pre-filled from the
    draft; returns the scoring and the sheets made now (their holders are told)."""
    scoring = await scoring_of(session, meeting, today)
    _may_score(scoring)
    await _claim(session, scoring.review.id, now)
    scoring = await scoring_of(session, meeting, today)  # after the claim: others' sheets too
    state = await meeting_state(session, meeting, today)
    present = {m for m, p in state.presence.items() if p is Presence.PRESENT}
    have = {s.member.id for s in scoring.sheets}
    leaves = {c.code for c in scoring.leaves()}
    made: list[MemberSheet] = []
    for member in await units.participants(session, scoring.review):
        if member.id not in present or member.id in have:
            continue
        sheet = ScoreSheet(review_id=scoring.review.id, member_id=member.id)
        session.add(sheet)
        await session.flush()
        marks = {code: value for code, value in scoring.draft.items() if code in leaves}
        session.add_all(
            ScoreMark(sheet_id=sheet.id, criterion=code, tenths=value)
            for code, value in marks.items()
        )
        made.append(MemberSheet(member, sheet, marks))
    if not scoring.sheets and not made:
        raise ScoringError(
            N_("Nobody who scores {org} is marked present. Take the attendance first."),
            org=scoring.org.name,
        )
    if made:
        session.add(
            AuditEntry.record(
                actor, "unit.scoring_open", "unit_review", scoring.review.id,
                meeting=meeting.id, sheets=len(made),
            )
        )
    await session.flush()
    scoring.sheets = sorted(
        scoring.sheets + made, key=lambda s: name_sort_key(s.member.full_name)
    )
    return scoring, made


# --- one member's sheet ---------------------------------------------------------------------------


@dataclass
class SheetView:
    scoring: Scoring
    mine: MemberSheet

    @property
    def missing(self) -> list[Criterion]:
        return [c for c in self.scoring.leaves() if c.code not in self.mine.marks]

    @property
    def changed(self) -> list[str]:
        """Criteria whose mark differs from the draft's."""
        return [c for c, v in self.mine.marks.items() if self.scoring.draft.get(c) != v]

    @property
    def marks_total(self) -> Decimal:
        return sum((points(v) for v in self.mine.marks.values()), Decimal(0))


async def sheet_by_id(session: AsyncSession, sheet_id: int) -> ScoreSheet | None:
    return await session.get(ScoreSheet, sheet_id)


async def sheet_view(
    session: AsyncSession, sheet_id: int, member: Member, today: dt.date
) -> SheetView:
    """The member's own sheet (anyone else's is refused like a stale button)."""
    sheet = await session.get(ScoreSheet, sheet_id)
    if sheet is None or sheet.member_id != member.id:
        raise ScoringError(E_INVALID)
    review = await session.get(UnitReview, sheet.review_id)
    if review is None or review.meeting_id is None:
        raise ScoringError(E_INVALID)
    meeting = await session.get(Meeting, review.meeting_id)
    scoring = await scoring_of(session, meeting, today)
    mine = next((s for s in scoring.sheets if s.sheet.id == sheet_id), None)
    if mine is None or scoring.framework is None:
        raise ScoringError(E_INVALID)
    return SheetView(scoring, mine)


async def open_sheets(session: AsyncSession, member: Member) -> list[int]:
    """The member's sheets whose scoring is still open (for /cham_diem)."""
    return list(
        await session.scalars(
            select(ScoreSheet.id)
            .join(UnitReview, UnitReview.id == ScoreSheet.review_id)
            .where(ScoreSheet.member_id == member.id, UnitReview.combined_tenths.is_(None))
            .order_by(ScoreSheet.id)
        )
    )


def _writable(view: SheetView) -> None:
    if view.scoring.closed:
        raise ScoringError(E_CLOSED, org=view.scoring.org.name)


async def set_mark(
    session: AsyncSession,
    view: SheetView,
    code: str,
    value: int,
    *,
    now: dt.datetime,
) -> None:
    """The member's mark for one criterion; a submitted sheet goes back to being scored."""
    _writable(view)
    criterion = next((c for c in view.scoring.leaves() if c.code == code), None)
    if criterion is None:
        raise ScoringError(E_INVALID)
    if not 0 <= value <= criterion.max_tenths:
        raise ScoringError(
            N_("Criterion {criterion} takes 0 to {max} points."),
            criterion=code,
            max=points(criterion.max_tenths),
        )
    await _claim(session, view.scoring.review.id, now)
    await session.refresh(view.scoring.review)
    _writable(view)
    row = await session.get(ScoreMark, (view.mine.sheet.id, code))
    if row is None:
        session.add(ScoreMark(sheet_id=view.mine.sheet.id, criterion=code, tenths=value))
    else:
        row.tenths = value
    view.mine.marks[code] = value
    view.mine.sheet.submitted_at = None
    await session.flush()


async def submit(session: AsyncSession, view: SheetView, *, now: dt.datetime) -> OrgScore:
    """Submit the sheet: every criterion needs its mark."""
    _writable(view)
    if view.missing:
        raise ScoringError(
            N_("Give a mark to every criterion first; still empty: {criteria}."),
            criteria=", ".join(c.code for c in view.missing),
        )
    await _claim(session, view.scoring.review.id, now)
    await session.refresh(view.scoring.review)
    _writable(view)
    view.mine.sheet.submitted_at = now
    await session.flush()
    return view.scoring.score(view.mine.marks)


# --- deductions and additions agreed by the meeting ----------------------------------------------


@dataclass(frozen=True)
class AdjustmentInput:
    kind: AdjustmentKind
    criterion: str
    amount_tenths: int  # a deduction: % short of the target; an addition: points
    reason: str
    responsible: str


def adjustment_breaches(scoring: Scoring, item: AdjustmentInput) -> list[Breach]:
    """What ``rules.org_scoring`` says of one deduction or addition (its criterion, grounds,
    and an addition's limit), the marks aside."""
    if item.kind == AdjustmentKind.DEDUCTION:
        deductions = [Deduction(item.criterion, points(item.amount_tenths), item.reason,
                                item.responsible)]
        additions: list[Addition] = []
    else:
        deductions = []
        additions = [Addition(item.criterion, points(item.amount_tenths), item.reason,
                              item.responsible)]
    found = score_org(scoring.framework, scoring.org.kind, {}, scoring.rulebook,
                      deductions=deductions, additions=additions).breaches
    return [b for b in found if b.code != "org_score.mark_missing"]


def check_amount(kind: AdjustmentKind, value: int, rulebook: Rulebook) -> None:
    """A deduction's shortfall is 0 to 100%; an addition is above 0, at most the limit."""
    if kind == AdjustmentKind.DEDUCTION and not 0 < value <= SHORTFALL_MAX_TENTHS:
        raise ScoringError(N_("Type how far short of the target, in percent: above 0, up to 100."))
    if kind == AdjustmentKind.ADDITION and not 0 < value <= rulebook.org_bonus_max_tenths:
        raise ScoringError(
            N_("An addition is above 0 and at most {max} points per item."),
            max=points(rulebook.org_bonus_max_tenths),
        )


def check_criterion(scoring: Scoring, code: str) -> str:
    code = code.strip()
    if scoring.framework is None or scoring.framework.get(code) is None:
        raise ScoringError(
            N_("There is no criterion {criterion} in the framework of {org}."),
            criterion=code[:16],
            org=scoring.org.name,
        )
    return code


def check_text(text: str, limit: int) -> str:
    value = " ".join(text.split())
    if not value:
        raise ScoringError(N_("Write it in words."))
    if len(value) > limit:
        raise ScoringError(N_("At most {max} characters, please."), max=limit)
    return value


def _adjustable(scoring: Scoring) -> None:
    _may_score(scoring)


def _adjustment_of(scoring: Scoring, adjustment_id: int) -> ScoreAdjustment:
    """One of the unit's adjustments, while the scoring is open."""
    _adjustable(scoring)
    row = next((a for a in scoring.adjustments if a.id == adjustment_id), None)
    if row is None:
        raise ScoringError(E_INVALID)
    return row


async def save_adjustment(
    session: AsyncSession,
    scoring: Scoring,
    item: AdjustmentInput,
    *,
    adjustment_id: int | None,
    actor: str,
    now: dt.datetime,
) -> ScoreAdjustment:
    """Add an agreed deduction or addition, or change one (it is then agreed as changed)."""
    _adjustable(scoring)
    problems = adjustment_breaches(scoring, item)
    if problems:
        raise AdjustmentRefused(problems)
    await _claim(session, scoring.review.id, now)
    row = None
    if adjustment_id is not None:
        row = await session.get(ScoreAdjustment, adjustment_id)
        if row is None or row.review_id != scoring.review.id:
            raise ScoringError(E_INVALID)
    if row is None:
        row = ScoreAdjustment(review_id=scoring.review.id, entered_by=actor)
        session.add(row)
    row.kind = item.kind.value
    row.criterion = item.criterion
    row.shortfall_tenths = item.amount_tenths if item.kind == AdjustmentKind.DEDUCTION else None
    row.points_tenths = item.amount_tenths if item.kind == AdjustmentKind.ADDITION else None
    row.reason = item.reason
    row.responsible = item.responsible
    row.agreed = True
    row.at = now
    await session.flush()
    session.add(
        AuditEntry.record(
            actor, "unit.adjustment", "unit_review", scoring.review.id,
            adjustment=row.id, kind=row.kind, criterion=row.criterion,
            amount_tenths=item.amount_tenths, changed=adjustment_id is not None,
        )
    )
    await session.flush()
    return row


class AdjustmentRefused(ScoringError):
    """What ``rules.org_scoring`` found wrong with a deduction or addition."""

    def __init__(self, breaches: list[Breach]) -> None:
        super().__init__(breaches[0].msgid, **breaches[0].params)
        self.breaches = breaches


async def set_agreed(
    session: AsyncSession,
    scoring: Scoring,
    adjustment_id: int,
    agreed: bool,
    *,
    actor: str,
    now: dt.datetime,
) -> ScoreAdjustment:
    """The meeting agrees a proposal as it stands, or takes its agreement back."""
    row = _adjustment_of(scoring, adjustment_id)
    if agreed:
        item = AdjustmentInput(AdjustmentKind(row.kind), row.criterion,
                               row.shortfall_tenths or row.points_tenths or 0,
                               row.reason, row.responsible)
        problems = adjustment_breaches(scoring, item)
        if problems:
            raise AdjustmentRefused(problems)
    await _claim(session, scoring.review.id, now)
    row.agreed = agreed
    session.add(
        AuditEntry.record(
            actor, "unit.adjustment_agreed" if agreed else "unit.adjustment_not_agreed",
            "unit_review", scoring.review.id, adjustment=row.id,
        )
    )
    await session.flush()
    return row


async def remove_adjustment(
    session: AsyncSession,
    scoring: Scoring,
    adjustment_id: int,
    *,
    actor: str,
    now: dt.datetime,
) -> None:
    """The meeting drops a deduction or addition; the audit log keeps what it was."""
    row = _adjustment_of(scoring, adjustment_id)
    await _claim(session, scoring.review.id, now)
    session.add(
        AuditEntry.record(
            actor, "unit.adjustment_removed", "unit_review", scoring.review.id,
            adjustment=row.id, kind=row.kind, criterion=row.criterion,
            shortfall_tenths=row.shortfall_tenths, points_tenths=row.points_tenths,
            agreed=row.agreed,
        )
    )
    await session.execute(delete(ScoreAdjustment).where(ScoreAdjustment.id == row.id))
    await session.flush()


# --- closing: the combined score ----------------------------------------------------------------


@dataclass
class Closed:
    scoring: Scoring
    totals: list[tuple[Member, OrgScore]]
    combined: Decimal
    band: Level


async def close_scoring(
    session: AsyncSession, meeting: Meeting, today: dt.date, *, actor: str, now: dt.datetime
) -> Closed:
    """Combine the submitted sheets with the agreed adjustments (seed 004 B.1.4): each
    sheet's total by ``score_org``, the unit's score by ``combine_scores``."""
    scoring = await scoring_of(session, meeting, today)
    _may_score(scoring)
    await _claim(session, scoring.review.id, now)
    scoring = await scoring_of(session, meeting, today)
    _may_score(scoring)
    if not scoring.submitted:
        raise ScoringError(N_("No member has submitted a score sheet yet."))
    totals = [(s.member, scoring.score(s.marks)) for s in scoring.submitted]
    broken = [(m, b) for m, score in totals for b in score.breaches]
    if broken:
        raise AdjustmentRefused([b for _m, b in broken])
    combined, band = combine_scores([score.total for _m, score in totals], scoring.rulebook)
    scoring.review.combined_tenths = tenths(combined)
    session.add(
        AuditEntry.record(
            actor, "unit.scoring_close", "unit_review", scoring.review.id,
            meeting=meeting.id, sheets=len(totals), waiting=len(scoring.waiting),
            combined_tenths=scoring.review.combined_tenths, band=band.value,
        )
    )
    await session.flush()
    return Closed(scoring, totals, combined, band)
