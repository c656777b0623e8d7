"""The status of a subtree as a chart (PNG, /bieu_do) and a spreadsheet (.xlsx, /bao_cao).

Neither ever holds a vote: the spreadsheet lists decided levels only, the chart counts.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import shutil
import tempfile
import weakref
import zipfile
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from itertools import groupby
from xml.sax.saxutils import escape

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator
from bot.services.sheets import looks_like_formula
from bot.services.status import LEVEL_CODES, Figures, Status, by_member
from rules.people import name_sort_key
from storage.models import Member, MemberStatus, Organisation, Rating, RatingState
from storage.queries import subtree_range

# --- heavy work, bounded ----------------------------------------------------------------------
#
# Reports and charts are built off the event loop (their CPU-bound parts in worker threads, their
# queries on the driver's own thread), so the bot keeps answering everyone while one is built;
# at most HEAVY_AT_ONCE of them at a time (the machine's cores), the others wait their turn
# behind the progress note the user was already sent.
HEAVY_AT_ONCE = 2
_slots: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@asynccontextmanager
async def heavy_slot() -> AsyncIterator[None]:
    """One of the HEAVY_AT_ONCE places for a report or chart (per event loop)."""
    loop = asyncio.get_running_loop()
    slot = _slots.get(loop)
    if slot is None:
        slot = _slots[loop] = asyncio.Semaphore(HEAVY_AT_ONCE)
    async with slot:
        yield


async def report_off_loop(
    url: str, org_id: int, t: Translator, *, now: dt.datetime, today: dt.date
) -> tuple[Status, bytes]:
    """The status and the spreadsheet of an organisation, built in a worker thread with an
    event loop and a database engine of its own: neither its queries nor its Python work (the
    breach checks over a province, the rows) hold the bot's event loop for a moment. It only
    reads (the figures it counts again are kept in a short transaction of its own)."""
    from bot.services.status import subtree_status
    from storage.db import Database

    async def build() -> tuple[Status, bytes]:
        db = Database(url)
        try:
            async with db.session() as session:
                org = await session.get(Organisation, org_id)
                status = await subtree_status(session, org, now=now, today=today)
                return status, await status_workbook(session, status, t, today)
        finally:
            await db.dispose()

    return await asyncio.to_thread(asyncio.run, build())


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


# Every string that could be read as a formula goes through ``_text``: a string cell, never a
# formula (bot/services/sheets.py: OWASP CSV injection). Write-only cells need their own helper.
MEMBER_BATCH = 5000  # member rows read and written per step: memory stays bounded


def _text(sheet, value: object, **style) -> WriteOnlyCell:
    """A cell holding `value` as text (a string cell, even for "=..."), with `style`."""
    cell = WriteOnlyCell(sheet, value=None if value is None else str(value))
    if value is not None:
        cell.data_type = "s"
        if looks_like_formula(cell.value):
            cell.quotePrefix = True  # Excel keeps it text when the cell is edited
    for name, setting in style.items():
        setattr(cell, name, setting)
    return cell


def _row(sheet, values: list) -> list:
    """A row with every string as text; numbers, dates and empty cells as they are. A string
    that cannot be read as a formula is appended as it is (openpyxl writes it as a string
    cell); the others become explicit text cells."""
    return [
        _text(sheet, v) if looks_like_formula(v) else v
        for v in values
    ]


def _date(sheet, value: dt.date | None):
    if value is None:
        return None
    cell = WriteOnlyCell(sheet, value=value)
    cell.number_format = DATE_FORMAT
    return cell


def _start_sheet(sheet, widths: list[int], header_row: int) -> None:
    """Widths and frozen panes go before the first row in write-only mode."""
    for column, width in enumerate(widths, 1):
        sheet.column_dimensions[get_column_letter(column)].width = width
    sheet.freeze_panes = f"C{header_row + 1}"


def _header(sheet, headers: list[str]) -> list:
    return [
        _text(
            sheet,
            title,
            font=Font(bold=True),
            fill=HEADER_FILL,
            alignment=Alignment(wrap_text=True, vertical="center"),
        )
        for title in headers
    ]


def _member_query(session: AsyncSession, status: Status):
    rating_join = and_(
        Rating.member_id == Member.id,
        by_member(session, Rating.cycle_id).in_(status.cycle_ids),  # not a scan of the cycle
        Rating.state == RatingState.DECIDED,
    )
    return (
        select(
            Member.code,
            Member.full_name,
            Organisation.name,
            Member.status,
            Rating.decided_level,
            Rating.decided_at,
            Organisation.path,
        )
        .join(Organisation, Member.org_id == Organisation.id)
        .outerjoin(Rating, rating_join)
        .where(subtree_range(status.org.path))
        .order_by(Organisation.path, Member.code)
    )


def _by_name_per_org(rows: Iterable) -> Iterator[list]:
    """The rows of ``_member_query`` (ordered by organisation) one organisation at a time,
    each in Vietnamese name order (``rules.people.name_sort_key``; SQL cannot collate so),
    without the path column. Only one organisation's rows are held at once."""
    for _path, group in groupby(rows, key=lambda row: row[6]):
        yield [tuple(row[:6]) for row in sorted(group, key=lambda row: name_sort_key(row[1]))]


async def member_levels(session: AsyncSession, status: Status) -> list:
    """Every member of the subtree with their live decided level, if any, as plain rows
    (code, full_name, cell, status, level, decided_at), by organisation then by name."""
    rows = (await session.execute(_member_query(session, status))).all()
    return [row for group in _by_name_per_org(rows) for row in group]


async def status_workbook(
    session: AsyncSession, status: Status, t: Translator, today: dt.date
) -> bytes:
    """Summary per child, every member with their decided level, and the breaches.

    The workbook is written in openpyxl's write-only mode: rows stream to a temporary file,
    the members are read and written ``MEMBER_BATCH`` at a time, so memory stays bounded
    whatever the subtree's size. Writing runs in a worker thread, batch by batch, so the bot
    keeps answering everyone else meanwhile.
    """
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
    book = Workbook(write_only=True)
    await asyncio.to_thread(_write_summary, book, status, t, today)
    members = await asyncio.to_thread(_start_members, book, t)
    result = await session.stream(
        _member_query(session, status).execution_options(yield_per=MEMBER_BATCH)
    )
    pending: list = []  # the rows of the organisation still being read
    async for batch in result.partitions(MEMBER_BATCH):
        pending += batch
        groups = list(_by_name_per_org(pending))
        last_path = pending[-1][6]
        pending = [row for row in pending if row[6] == last_path]
        done = [row for group in groups[:-1] for row in group]
        if done:
            await asyncio.to_thread(members.write, done, t)
    if pending:
        await asyncio.to_thread(members.write, next(_by_name_per_org(pending)), t)
    await asyncio.to_thread(_write_breaches, book, status, labels, t)
    return await asyncio.to_thread(members.save_into, await asyncio.to_thread(_save, book))


def _write_summary(book: Workbook, status: Status, t: Translator, today: dt.date) -> None:
    summary = book.create_sheet(t("Summary"))
    headers = [t("Code"), t("Organisation"), *_figure_headers(t)]
    _start_sheet(summary, [12, 36] + [11] * (len(headers) - 2), 4)
    year = status.cycle.year if status.cycle else ""
    title = t("Status of {org}, {year}", org=status.org.name, year=year)
    summary.append([_text(summary, title, font=Font(bold=True, size=14))])
    dates = [_text(summary, t("Made on")), _date(summary, today)]
    if status.cycle is not None:
        dates += [_text(summary, t("Finish by")), _date(summary, status.cycle.finish_by)]
    summary.append(dates)
    summary.append([])
    summary.append(_header(summary, headers))
    for child, figures in status.children:
        summary.append(_row(summary, [child.code, child.name, *_figure_values(figures)]))
    bold = Font(bold=True)
    total = [status.org.code, t("Total"), *_figure_values(status.total)]
    summary.append([_bold(summary, value, bold) for value in total])


def _bold(sheet, value: object, font: Font) -> WriteOnlyCell:
    if isinstance(value, str):
        return _text(sheet, value, font=font)
    cell = WriteOnlyCell(sheet, value=value)
    cell.font = font
    return cell


def _start_members(book: Workbook, t: Translator) -> _MemberRows:
    members = book.create_sheet(t("Members"))
    _start_sheet(members, [14, 30, 32, 14, 16, 14], 1)
    members.append(
        _header(
            members,
            [
                t("Member code"),
                t("Full name"),
                t("Cell"),
                t("Status"),
                t("Decided level"),
                t("Decided on"),
            ],
        )
    )
    # The styles the rows use, registered with the workbook (see _MemberRows).
    quoted = WriteOnlyCell(members, value="=")
    quoted.quotePrefix = True
    dated = _date(members, dt.date(2000, 1, 1))
    return _MemberRows(book.index(members) + 1, quoted.style_id, dated.style_id)


_EPOCH = dt.date(1899, 12, 30)  # day 0 of the spreadsheet's 1900 date system


class _MemberRows:
    """The member rows of the Members sheet, written as the worksheet's XML straight to a
    temporary file, then put into the sheet openpyxl wrote (its header only) when the workbook
    is saved. openpyxl builds a cell object per value, about 8 s for a province's 900,000
    cells; these rows are plain strings, the same XML openpyxl writes in write-only mode:
    every string an inline string (``t="inlineStr"``, text, never a formula; one that looks
    like a formula also has the quote-prefix style, so Excel keeps it text when edited), the
    date a serial number with the dd/mm/yyyy style."""

    def __init__(self, sheet_number: int, quoted_style: int, date_style: int) -> None:
        self.part = f"xl/worksheets/sheet{sheet_number}.xml"
        self.quoted = f' s="{quoted_style}"'
        self.dated = f' s="{date_style}"'
        self.file = tempfile.TemporaryFile()
        self.row = 1

    def _text(self, column: str, value: str | None) -> str:
        if value is None:
            return ""
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
        style = self.quoted if looks_like_formula(value) else ""
        space = ' xml:space="preserve"' if value != value.strip() else ""
        value = escape(value).replace("\r", "&#13;")
        return f'<c r="{column}{self.row}"{style} t="inlineStr"><is><t{space}>{value}</t></is></c>'

    def write(self, rows, t: Translator) -> None:
        status_names = {
            MemberStatus.OFFICIAL: t("official"),
            MemberStatus.PROBATIONARY: t("probationary"),
        }
        tz = t.timezone or dt.UTC
        text = self._text
        out = []
        for code, name, cell, member_status, level, decided_at in rows:
            self.row += 1
            decided = ""
            if decided_at:
                serial = (decided_at.astimezone(tz).date() - _EPOCH).days
                decided = f'<c r="F{self.row}"{self.dated} t="n"><v>{serial}</v></c>'
            out.append(
                f'<row r="{self.row}">{text("A", code)}{text("B", name)}{text("C", cell)}'
                f"{text('D', status_names.get(member_status, member_status))}"
                f'{text("E", level)}{decided}</row>'
            )
        self.file.write("".join(out).encode())

    def save_into(self, workbook: bytes) -> bytes:
        """The workbook openpyxl saved, with these rows in the Members sheet."""
        self.file.seek(0)
        out = io.BytesIO()
        with (
            zipfile.ZipFile(io.BytesIO(workbook)) as source,
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
        ):
            for info in source.infolist():
                data = source.read(info.filename)
                if info.filename != self.part:
                    target.writestr(info, data)
                    continue
                head, tail = data.split(b"</sheetData>", 1)
                rebuilt = zipfile.ZipInfo(info.filename, info.date_time)
                rebuilt.compress_type = zipfile.ZIP_DEFLATED
                with target.open(rebuilt, "w") as part:
                    part.write(head)
                    shutil.copyfileobj(self.file, part, 1 << 20)
                    part.write(b"</sheetData>" + tail)
        self.file.close()
        return out.getvalue()


def _write_breaches(
    book: Workbook, status: Status, labels: dict[int, tuple[str, str]], t: Translator
) -> None:
    breaches = book.create_sheet(t("Breaches"))
    _start_sheet(breaches, [12, 32, 16, 70, 40], 1)
    breaches.append(
        _header(breaches, [t("Code"), t("Organisation"), t("Rules"), t("Breach"), t("Members")])
    )
    for item in status.breaches:
        breaches.append(
            _row(
                breaches,
                [
                    *labels.get(item.org_id, (None, None)),
                    ", ".join(item.breach.rule_ids),
                    item.breach.render(t.gettext),
                    ", ".join(item.breach.member_names),
                ],
            )
        )
    if status.finish_by_passed:
        for child, figures in [*status.children, (status.org, status.total)]:
            if figures.deadline_breaches and (child is not status.org or not status.children):
                breaches.append(
                    _row(
                        breaches,
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
                        ],
                    )
                )


def _save(book: Workbook) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
