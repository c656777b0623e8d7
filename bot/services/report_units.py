"""The "Party organisations" sheet of /bao_cao (issue 14, item 7): each organisation and
collective of the subtree reviewed in the plan, with its review's state, combined score, and
proposed and decided level. Every cell is text (``report._text``): names come from the roster
and could read as formulas; the score is written as the reader's locale writes it."""

from __future__ import annotations

from decimal import Decimal

from openpyxl import Workbook
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.i18n import Translator
from bot.services.report import _header
from bot.services.report import _Sheets
from bot.services.report import _text
from bot.services.status import Status
from bot.services.unit_rating_status import SUBJECTS
from bot.services.unit_rating_status import UnitRow
from bot.services.unit_rating_status import unit_rows
from storage.models import RatingState
from storage.models import UnitReviewState

REVIEW_STATES = {
    UnitReviewState.DRAFTING.value: N_("drafting the report"),
    UnitReviewState.CIRCULATED.value: N_("draft sent to the participants"),
    UnitReviewState.REVIEWED.value: N_("reviewed at the meeting"),
}
RATING_STATES = {
    RatingState.PROPOSED.value: N_("proposed, not decided"),
    RatingState.DECIDED.value: N_("decided"),
}
HEADERS = (N_("Code"), N_("Organisation"), N_("Reviewed as"), N_("Review"),
           N_("Combined score"), N_("Proposed level"), N_("Decided level"), N_("Rating"))
WIDTHS = [12, 36, 22, 26, 14, 14, 14, 22]


def unit_values(t: Translator, row: UnitRow) -> list[str | None]:
    """One unit review's cells, as text in the reader's language."""
    score = None
    if row.combined_tenths is not None:
        score = t.number(Decimal(row.combined_tenths) / 10)
    proposed = t("not rated") if row.not_rated and row.rating_state != RatingState.DECIDED \
        else row.proposed
    decided = None
    if row.rating_state == RatingState.DECIDED:
        decided = t("not rated") if row.not_rated or not row.decided else row.decided
    state = RATING_STATES.get(row.rating_state or "")
    return [
        row.code,
        row.name,
        t(SUBJECTS[row.subject]) if row.subject in SUBJECTS else row.subject,
        t(REVIEW_STATES[row.review_state]) if row.review_state in REVIEW_STATES else None,
        score,
        proposed,
        decided,
        t(state) if state else t("not proposed yet"),
    ]


async def write_units(
    session: AsyncSession, book: Workbook, status: Status, t: Translator, max_rows: int
) -> int:
    """The sheet, in a write-only workbook; returns the rows written (none without a plan)."""
    if status.cycle is None:
        return 0
    rows = await unit_rows(session, status.org, status.cycle_ids or [status.cycle.id])
    headers = [t.gettext(title) for title in HEADERS]
    sheets = _Sheets(book, t("Party organisations"), WIDTHS,
                     lambda sheet: [_header(sheet, headers)], max_rows)
    for row in rows:
        values = unit_values(t, row)
        sheets.append(lambda sheet, values=values: [_text(sheet, v) for v in values])
    return len(rows)
