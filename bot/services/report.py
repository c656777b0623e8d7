"""The status of a subtree as a chart (PNG, /bieu_do) and a spreadsheet (.xlsx, /bao_cao).

Neither ever holds a vote: the spreadsheet lists decided levels only, the chart counts.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator
from bot.services.status import LEVEL_CODES, Figures, Status
from storage.models import Member, MemberStatus, Organisation, Rating, RatingState
from storage.queries import subtree_range

MAX_CHART_ROWS = 30  # more children than this: the ones furthest behind
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
DATE_FORMAT = "dd/mm/yyyy"


# --- chart -----------------------------------------------------------------------------------


def chart_rows(status: Status) -> list[tuple[str, Figures]]:
    """(label, figures) per child, or the organisation itself when it has none."""
    rows = [(o.code, f) for o, f in status.children if f.members]
    if not rows:
        rows = [(status.org.code, status.total)]
    if len(rows) > MAX_CHART_ROWS:
        rows.sort(key=lambda row: row[1].submitted / max(row[1].to_review, 1))
        rows = rows[:MAX_CHART_ROWS]
    return rows


def status_chart(status: Status, t: Translator) -> bytes:
    """Horizontal bars, large type, one row per child: self-reviews above, levels below."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = chart_rows(status)
    labels = [label for label, _ in rows][::-1]
    data = [f for _, f in rows][::-1]
    height = 5.5 + 2 * 0.6 * len(rows)
    figure = Figure(figsize=(9, height), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots(2, 1)
    positions = list(range(len(rows)))

    review_parts = (
        (t("submitted on time"), [f.submitted - f.late for f in data], "#2e7d32"),
        (t("submitted late"), [f.late for f in data], "#f9a825"),
        (t("not submitted"), [f.missing for f in data], "#c62828"),
    )
    level_parts = [
        (t("decided {level}", level=code), [f.decided[code] for f in data], colour)
        for code, colour in zip(
            LEVEL_CODES, ("#1b5e20", "#43a047", "#fbc02d", "#c62828"), strict=True
        )
    ] + [
        (t("proposed, not decided"), [f.proposed_total for f in data], "#90a4ae"),
        (
            t("not rated yet"),
            [max(f.to_rate - f.decided_total - f.proposed_total, 0) for f in data],
            "#eceff1",
        ),
    ]
    titles = (t("Self-reviews"), t("Levels"))
    for ax, parts, title in zip(axes, (review_parts, level_parts), titles, strict=True):
        left = [0] * len(rows)
        for label, values, colour in parts:
            ax.barh(positions, values, left=left, color=colour, label=label, edgecolor="white")
            left = [a + b for a, b in zip(left, values, strict=True)]
        ax.set_yticks(positions, labels, fontsize=16)
        ax.tick_params(axis="x", labelsize=14)
        ax.set_title(title, fontsize=18, loc="left", fontweight="bold")
        ax.legend(
            fontsize=14, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, frameon=False
        )
        ax.xaxis.get_major_locator().set_params(integer=True)
    year = status.cycle.year if status.cycle else ""
    figure.suptitle(f"{status.org.name} {year}", fontsize=19)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


# --- spreadsheet -------------------------------------------------------------------------------


def _figure_headers(t: Translator) -> list[str]:
    return [
        t("Members"),
        t("To be reviewed"),
        t("Submitted"),
        t("Late"),
        t("Not submitted"),
        t("Meetings held"),
        t("Meetings scheduled"),
        t("Ballots open"),
        t("Ballots closed"),
        *[t("Proposed {level}", level=code) for code in LEVEL_CODES],
        *[t("Decided {level}", level=code) for code in LEVEL_CODES],
        t("Quota breaches"),
        t("Cap breaches"),
        t("Deadline breaches"),
    ]


def _figure_values(f: Figures) -> list[int]:
    return [
        f.members,
        f.to_review,
        f.submitted,
        f.late,
        f.missing,
        f.meetings_held,
        f.meetings_scheduled,
        f.ballots_open,
        f.ballots_closed,
        *[f.proposed[code] for code in LEVEL_CODES],
        *[f.decided[code] for code in LEVEL_CODES],
        f.quota_breaches,
        f.cap_breaches,
        f.deadline_breaches,
    ]


def _header(sheet, row: int, headers: list[str], widths: list[int]) -> None:
    for column, (title, width) in enumerate(zip(headers, widths, strict=True), 1):
        cell = sheet.cell(row=row, column=column, value=title)
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        sheet.column_dimensions[get_column_letter(column)].width = width
    sheet.freeze_panes = f"C{row + 1}"  # a string: cell() would create a row


async def member_levels(session: AsyncSession, status: Status) -> list:
    """Every member of the subtree with their live decided level, if any, as plain rows
    (code, full_name, cell, status, level, decided_at)."""
    rating_join = and_(
        Rating.member_id == Member.id,
        (Rating.cycle_id + 0).in_(status.cycle_ids),  # by member, not a scan of the cycle
        Rating.state == RatingState.DECIDED,
    )
    rows = await session.execute(
        select(
            Member.code,
            Member.full_name,
            Organisation.name,
            Member.status,
            Rating.decided_level,
            Rating.decided_at,
        )
        .join(Organisation, Member.org_id == Organisation.id)
        .outerjoin(Rating, rating_join)
        .where(subtree_range(status.org.path))
        .order_by(Organisation.path, Member.full_name, Member.code)
    )
    return rows.all()


async def status_workbook(
    session: AsyncSession, status: Status, t: Translator, today: dt.date
) -> bytes:
    """Summary per child, every member with their decided level, and the breaches.

    The queries run here; building the workbook (seconds for a province) runs in a worker
    thread so the bot keeps answering everyone else meanwhile.
    """
    member_rows = await member_levels(session, status)
    org_ids = {b.org_id for b in status.breaches}
    labels = (
        {
            org_id: (code, name)
            for org_id, code, name in (
                await session.execute(
                    select(Organisation.id, Organisation.code, Organisation.name).where(
                        Organisation.id.in_(org_ids)
                    )
                )
            ).all()
        }
        if org_ids
        else {}
    )
    return await asyncio.to_thread(_build_workbook, status, member_rows, labels, t, today)


def _build_workbook(
    status: Status,
    member_rows: list,
    labels: dict[int, tuple[str, str]],
    t: Translator,
    today: dt.date,
) -> bytes:
    book = Workbook()
    summary = book.active
    summary.title = t("Summary")
    year = status.cycle.year if status.cycle else ""
    summary["A1"] = t("Status of {org}, {year}", org=status.org.name, year=year)
    summary["A1"].font = Font(bold=True, size=14)
    summary["A2"] = t("Made on")
    summary["B2"] = today
    summary["B2"].number_format = DATE_FORMAT
    if status.cycle is not None:
        summary["C2"] = t("Finish by")
        summary["D2"] = status.cycle.finish_by
        summary["D2"].number_format = DATE_FORMAT
    headers = [t("Code"), t("Organisation"), *_figure_headers(t)]
    _header(summary, 4, headers, [12, 36] + [11] * (len(headers) - 2))
    row = 5
    for child, figures in status.children:
        summary.append([child.code, child.name, *_figure_values(figures)])
        row += 1
    summary.append([status.org.code, t("Total"), *_figure_values(status.total)])
    for cell in summary[row]:
        cell.font = Font(bold=True)

    members = book.create_sheet(t("Members"))
    _header(
        members,
        1,
        [
            t("Member code"),
            t("Full name"),
            t("Cell"),
            t("Status"),
            t("Decided level"),
            t("Decided on"),
        ],
        [14, 30, 32, 14, 16, 14],
    )
    status_names = {
        MemberStatus.OFFICIAL: t("official"),
        MemberStatus.PROBATIONARY: t("probationary"),
    }
    tz = t.timezone or dt.UTC
    for code, name, cell, member_status, level, decided_at in member_rows:
        decided_on = decided_at.astimezone(tz).date() if decided_at else None
        members.append(
            [code, name, cell, status_names.get(member_status, member_status), level, decided_on]
        )
        if decided_on is not None:
            members.cell(row=members.max_row, column=6).number_format = DATE_FORMAT

    breaches = book.create_sheet(t("Breaches"))
    _header(
        breaches,
        1,
        [t("Code"), t("Organisation"), t("Rules"), t("Breach"), t("Members")],
        [12, 32, 16, 70, 40],
    )
    for item in status.breaches:
        breaches.append(
            [
                *labels.get(item.org_id, (None, None)),
                ", ".join(item.breach.rule_ids),
                item.breach.render(t.gettext),
                ", ".join(item.breach.member_names),
            ]
        )
    if status.finish_by_passed:
        for child, figures in [*status.children, (status.org, status.total)]:
            if figures.deadline_breaches and (child is not status.org or not status.children):
                breaches.append(
                    [
                        child.code,
                        child.name,
                        "R-D5",
                        t(
                            "{count} members still without a decided level after the "
                            "finish-by date {date}",
                            count=figures.deadline_breaches,
                            date=t.date(status.cycle.finish_by),
                        ),
                        None,
                    ]
                )
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
