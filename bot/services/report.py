"""The status of a subtree as a chart (PNG, /bieu_do) and a spreadsheet (.xlsx, /bao_cao).

Neither ever holds a vote: the spreadsheet lists decided levels only, the chart counts.

A report that would not fit one file (Excel's 1,048,576 rows a sheet, Telegram's 50 MB a file:
``ReportLimits``, settings ``REPORT_MAX_ROWS`` and ``REPORT_MAX_BYTES``) comes as several: the
summary per unit and the breaches in one, then the members unit by unit, as many units a file
as fit.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import io
import logging
import multiprocessing
import os
import shutil
import signal
import tempfile
import threading
import weakref
from collections.abc import AsyncIterator
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager
from dataclasses import dataclass
from dataclasses import field
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import TypeVar

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment
from openpyxl.styles import Font
from openpyxl.styles import PatternFill
from openpyxl.utils import get_column_letter
from sqlalchemy import and_
from sqlalchemy import select
from sqlalchemy import type_coerce
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.sqltypes import NullType

from bot.i18n import N_
from bot.i18n import Translator
from bot.services import breaches
from bot.services.sheets import SPREADSHEET_EPOCH
from bot.services.sheets import StreamedSheet
from bot.services.sheets import looks_like_formula
from bot.services.sheets import text_content
from bot.services.status import LEVEL_CODES
from bot.services.status import Figures
from bot.services.status import Status
from bot.services.status import UnitBreach
from bot.services.status import by_member
from bot.services.unit_rating_status import quota_breaches as unit_quota_breaches
from rules.people import name_sort_key
from rules.titles import rule_titles
from storage.models import Member
from storage.models import MemberStatus
from storage.models import Organisation
from storage.models import Rating
from storage.models import RatingState
from storage.queries import subtree_range

T = TypeVar("T")
log = logging.getLogger(__name__)

# --- heavy work, in worker processes --------------------------------------------------------
#
# Reports and charts are built in worker processes, each with a database engine of its own:
# a province's report is seconds of pure Python (rows, names, XML), which in a thread of the
# bot's process would hold the GIL and slow every other user's answer (a thread that computes
# hands the GIL back only every 5 ms, and the event loop needs it for each step of an answer).
# The workers run at a lower priority (``WORKER_NICE``), so the bot's own process comes first
# on a busy machine. At most HEAVY_AT_ONCE jobs run at a time (the machine's cores); the others
# wait their turn behind the progress note the user was already sent. The workers are forked
# from a small server process started once with the application imported ("forkserver"), so a
# job starts in milliseconds and inherits nothing of the bot's threads or connections.
HEAVY_AT_ONCE = 2
WORKER_NICE = 5  # a lower priority than the bot's, not starved on a busy machine
_slots: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


@asynccontextmanager
async def heavy_slot() -> AsyncIterator[None]:
    """One of the HEAVY_AT_ONCE places for a report or chart (per event loop)."""
    loop = asyncio.get_running_loop()
    slot = _slots.get(loop)
    if slot is None:
        slot = _slots[loop] = asyncio.Semaphore(HEAVY_AT_ONCE)
    async with slot:
        yield


def heavy_slot_free() -> bool:
    """Whether a report or chart asked for now starts at once (else it waits its turn)."""
    slot = _slots.get(asyncio.get_running_loop())
    return slot is None or not slot.locked()


def _worker_started() -> None:
    os.nice(WORKER_NICE)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the bot's Ctrl-C stops the bot, then these


def _heavy_pool() -> ProcessPoolExecutor:
    global _pool
    with _pool_lock:  # made from the threads that submit
        if _pool is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["bot.services.report"])
            _pool = ProcessPoolExecutor(
                HEAVY_AT_ONCE, mp_context=context, initializer=_worker_started
            )
        return _pool


async def off_loop(function: Callable[..., T], *args: object) -> T:
    """``function(*args)`` in a worker process (it and its arguments are pickled). Even the
    submission is made in a thread: it may start a worker, which waits for the server process
    to fork it (seconds, the first time, while the server imports the application)."""
    global _pool
    try:
        future = await asyncio.to_thread(lambda: _heavy_pool().submit(function, *args))
        return await asyncio.wrap_future(future)
    except BrokenProcessPool:
        _pool = None  # a worker died (killed, out of memory): the next job gets new ones
        raise


def shutdown_heavy_pool() -> None:
    """Stop the worker processes (the bot's shutdown)."""
    global _pool
    pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)


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


def _chart_title(status: Status) -> str:
    year = status.cycle.year if status.cycle else ""
    return f"{status.org.name} {year}"


UNIT_CHART_LABELS = {  # the third panel's bars (issue 14)
    "organisation": N_("Organisations"),
    "committee": N_("Committees"),
    "standing": N_("Standing committees"),
}


def unit_chart_rows(status: Status) -> list[tuple[str, dict[str, int]]]:
    """(subject, its counts: to rate, proposed, decided by level) of the subtree's units, for
    the chart's third panel; none where the subtree has no unit to rate."""
    units = status.units
    if units is None or not (units.to_rate or units.reviews):
        return []
    return [(subject, dict(units.by_subject[subject])) for subject in UNIT_CHART_LABELS
            if sum(units.by_subject.get(subject, {}).values())]


def status_chart(status: Status, t: Translator) -> bytes:
    """Horizontal bars, large type, one row per child: self-reviews above, levels below, then
    the units' decided levels."""
    return draw_chart(chart_rows(status), _chart_title(status), t, unit_chart_rows(status))


async def chart_off_loop(status: Status, t: Translator) -> bytes:
    """``status_chart`` drawn in a worker process (``off_loop``)."""
    return await off_loop(
        _draw_chart_in_worker, chart_rows(status), _chart_title(status), t.locale, t.timezone,
        unit_chart_rows(status),
    )


def _draw_chart_in_worker(
    rows: list[tuple[str, Figures]],
    title: str,
    locale: str,
    timezone: dt.tzinfo | None,
    units: list[tuple[str, dict[str, int]]] = (),
) -> bytes:
    return draw_chart(rows, title, Translator(locale, timezone), units)


LEVEL_COLOURS = ("#1b5e20", "#43a047", "#fbc02d", "#c62828")


def _unit_parts(t: Translator, units: list[tuple[str, dict[str, int]]]) -> list:
    """The stacked parts of the units' panel: decided levels, not rated, proposed, not yet."""
    from bot.services.unit_rating_status import NOT_RATED
    from bot.services.unit_rating_status import PROPOSED
    from bot.services.unit_rating_status import TO_RATE

    def rest(c: dict[str, int]) -> int:
        done = sum(c.get(code, 0) for code in (*LEVEL_CODES, NOT_RATED, PROPOSED))
        return max(c.get(TO_RATE, 0) - done, 0)

    counts = [c for _, c in units]
    return [
        (t("decided {level}", level=code), [c.get(code, 0) for c in counts], colour)
        for code, colour in zip(LEVEL_CODES, LEVEL_COLOURS, strict=True)
    ] + [
        (t("reviewed, not rated"), [c.get(NOT_RATED, 0) for c in counts], "#8d6e63"),
        (t("proposed, not decided"), [c.get(PROPOSED, 0) for c in counts], "#90a4ae"),
        (t("not rated yet"), [rest(c) for c in counts], "#eceff1"),
    ]


def draw_chart(
    rows: list[tuple[str, Figures]],
    title: str,
    t: Translator,
    units: list[tuple[str, dict[str, int]]] = (),
) -> bytes:
    """The chart of ``chart_rows`` (and, where given, ``unit_chart_rows`` in a third panel),
    titled `title`."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = [label for label, _ in rows][::-1]
    data = [f for _, f in rows][::-1]
    review_parts = (
        (t("submitted on time"), [f.submitted - f.late for f in data], "#2e7d32"),
        (t("submitted late"), [f.late for f in data], "#f9a825"),
        (t("not submitted"), [f.missing for f in data], "#c62828"),
    )
    level_parts = [
        (t("decided {level}", level=code), [f.decided[code] for f in data], colour)
        for code, colour in zip(LEVEL_CODES, LEVEL_COLOURS, strict=True)
    ] + [
        (t("proposed, not decided"), [f.proposed_total for f in data], "#90a4ae"),
        (
            t("not rated yet"),
            [max(f.to_rate - f.decided_total - f.proposed_total, 0) for f in data],
            "#eceff1",
        ),
    ]
    panels = [(labels, review_parts, t("Self-reviews")), (labels, level_parts, t("Levels"))]
    if units:
        unit_labels = [t(UNIT_CHART_LABELS[subject]) for subject, _ in units][::-1]
        parts = [(label, values[::-1], colour) for label, values, colour in _unit_parts(t, units)]
        panels.append((unit_labels, parts, t("Party organisations and collectives")))
    # Each panel's height follows its bars, plus room for its title and legend.
    ratios = [len(bars) + 4 for bars, _, _ in panels]
    height = 0.6 * sum(ratios) + 1
    figure = Figure(figsize=(9, height), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(panels), 1, height_ratios=ratios)
    for ax, (bar_labels, parts, panel_title) in zip(axes, panels, strict=True):
        positions = list(range(len(bar_labels)))
        left = [0] * len(bar_labels)
        for label, values, colour in parts:
            ax.barh(positions, values, left=left, color=colour, label=label, edgecolor="white")
            left = [a + b for a, b in zip(left, values, strict=True)]
        ax.set_yticks(positions, bar_labels, fontsize=16)
        ax.tick_params(axis="x", labelsize=14)
        ax.set_title(panel_title, fontsize=18, loc="left", fontweight="bold")
        ax.legend(
            fontsize=14, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, frameon=False
        )
        ax.xaxis.get_major_locator().set_params(integer=True)
    figure.suptitle(title, fontsize=19)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


# --- the report: built in a worker -----------------------------------------------------------


@dataclass(frozen=True)
class ReportLimits:
    """What one file may hold: rows a sheet (Excel's limit, the header row included) and bytes
    (Telegram's upload limit for bots)."""

    max_rows: int = 1_048_576
    max_bytes: int = 50_000_000


@dataclass(frozen=True)
class ReportRequest:
    url: str  # the database
    org_id: int
    locale: str
    timezone: dt.tzinfo | None
    now: dt.datetime
    today: dt.date
    limits: ReportLimits = ReportLimits()


@dataclass(frozen=True)
class ReportFile:
    path: str
    summary: bool  # the summary and the breaches (and the members, when all fit one file)
    members: int  # member rows
    units: tuple[str, ...] = ()  # the codes of the units whose members it lists, in order


@dataclass
class Report:
    org_code: str
    org_name: str
    year: int | None
    folder: str  # a temporary folder holding the files: the caller removes it
    files: list[ReportFile] = field(default_factory=list)

    def filename(self, file: ReportFile) -> str:
        year = f"-{self.year}" if self.year else ""
        stem = f"bao-cao-{self.org_code}{year}"
        if len(self.files) == 1:
            return f"{stem}.xlsx"
        if file.summary:
            return f"{stem}-tong-hop.xlsx"
        number = [f for f in self.files if not f.summary].index(file) + 1
        return f"{stem}-dang-vien-{number:02d}.xlsx"

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


async def report_off_loop(
    url: str,
    org_id: int,
    t: Translator,
    *,
    now: dt.datetime,
    today: dt.date,
    limits: ReportLimits = ReportLimits(),
) -> Report:
    """The report of an organisation, built in a worker process (``off_loop``): the bot's
    event loop only waits for it. The caller sends the files, then ``Report.remove()``."""
    request = ReportRequest(url, org_id, t.locale, t.timezone, now, today, limits)
    return await off_loop(build_report, request)


def build_report(request: ReportRequest) -> Report:
    """In a worker: the status (from the figures kept per organisation), the breaches (checked
    per peer group in SQL), then the files, written to a temporary folder. It only reads (the
    figures it counts again are kept in a short transaction of their own).

    The cyclic garbage collector is off meanwhile: a province's report makes millions of
    short-lived objects (rows, their strings), all freed by reference counting, and the
    collector's passes over them and the application's objects took a fifth of the report's
    CPU (0.4 to 0.6 s of 2.8 s at 150,000 members; the RSS peak is the same either way)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        return asyncio.run(_build_report(request))
    finally:
        if collecting:
            gc.enable()


async def _build_report(request: ReportRequest) -> Report:
    from bot.services.status import subtree_status
    from storage.db import Database

    t = Translator(request.locale, request.timezone)
    db = Database(request.url)
    try:
        async with db.session() as session:
            org = await session.get(Organisation, request.org_id)
            status = await subtree_status(
                session, org, now=request.now, today=request.today, with_breaches=False
            )
            await add_breaches(session, status)
            folder = tempfile.mkdtemp(prefix="kiemdiem-report-")
            report = Report(
                org.code, org.name, status.cycle.year if status.cycle else None, folder
            )
            try:
                report.files = await write_report(
                    session, status, t, request.today, Path(folder), request.limits
                )
            except BaseException:
                report.remove()
                raise
            return report
    finally:
        await db.dispose()


async def add_breaches(session: AsyncSession, status: Status) -> None:
    """Every breach of the subtree, named (``bot.services.breaches``), when its figures count
    any."""
    if status.cycle is not None and (status.total.quota_breaches or status.total.cap_breaches):
        found = await breaches.subtree_breaches(session, status.cycle, status.org)
        status.breaches = [UnitBreach(org_id, breach) for org_id, breach in found]
    units = status.units
    if units is not None and (units.proposed or units.decided_total):  # R-Q7 (issue 14)
        units.breaches = await unit_quota_breaches(
            session, status.org, status.cycle_ids or [status.cycle.id])
        status.breaches = [*status.breaches, *units.breaches]


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
DECIDED_AT = Rating.__table__.c.decided_at
ORG_ID = 5  # a member row's organisation (``_member_query``)
MEMBER_BATCH = 5000  # member rows read per step: memory stays bounded
BYTES_PER_ROW = 100  # a first guess of a member row's share of the file, deflated
ZIP_LAG = 128 * 1024  # more than the compressor holds back of what it was given
COMPRESS_LEVEL = 1  # the member rows: fast; the XML deflates to about a seventh either way


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
    return [_text(sheet, v) if looks_like_formula(v) else v for v in values]


def _date(sheet, value: dt.date | None):
    if value is None:
        return None
    cell = WriteOnlyCell(sheet, value=value)
    cell.number_format = DATE_FORMAT
    return cell


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


class _Sheets:
    """Rows appended to a sheet of a write-only workbook that continue on a sheet "Title (2)"
    (with the same heading rows) once it holds ``max_rows``."""

    def __init__(
        self, book: Workbook, title: str, widths: list[int], heading: Callable, max_rows: int
    ) -> None:
        self.book, self.title, self.widths, self.heading = book, title, widths, heading
        self.max_rows = max_rows
        self.sheets = 0
        self.sheet = self._next()

    def _next(self):
        self.sheets += 1
        title = self.title if self.sheets == 1 else f"{self.title} ({self.sheets})"
        sheet = self.book.create_sheet(title)
        rows = self.heading(sheet)
        for column, width in enumerate(self.widths, 1):
            sheet.column_dimensions[get_column_letter(column)].width = width
        sheet.freeze_panes = f"C{len(rows) + 1}"  # before the first row, in write-only mode
        for row in rows:
            sheet.append(row)
        self.count = self.headed = len(rows)
        return sheet

    def append(self, build: Callable) -> None:
        """Append ``build(sheet)``, the row made for the sheet it goes to (a sheet takes one
        row at least, whatever its heading)."""
        if self.count >= self.max_rows and self.count > self.headed:
            self.sheet = self._next()
        self.sheet.append(build(self.sheet))
        self.count += 1


def _write_summary(
    book: Workbook, status: Status, t: Translator, today: dt.date, max_rows: int
) -> None:
    headers = [t("Code"), t("Organisation"), *_figure_headers(t)]
    year = status.cycle.year if status.cycle else ""
    title = t("Status of {org}, {year}", org=status.org.name, year=year)

    def heading(sheet) -> list[list]:
        dates = [_text(sheet, t("Made on")), _date(sheet, today)]
        if status.cycle is not None:
            dates += [_text(sheet, t("Finish by")), _date(sheet, status.cycle.finish_by)]
        return [[_text(sheet, title, font=Font(bold=True, size=14))], dates, [],
                _header(sheet, headers)]

    summary = _Sheets(book, t("Summary"), [12, 36] + [11] * (len(headers) - 2), heading,
                      max_rows)
    for child, figures in status.children:
        summary.append(lambda sheet, c=child, f=figures: _row(sheet, [c.code, c.name,
                                                                      *_figure_values(f)]))
    bold = Font(bold=True)
    total = [status.org.code, t("Total"), *_figure_values(status.total)]
    summary.append(lambda sheet: [_bold(sheet, value, bold) for value in total])


def _bold(sheet, value: object, font: Font) -> WriteOnlyCell:
    if isinstance(value, str):
        return _text(sheet, value, font=font)
    cell = WriteOnlyCell(sheet, value=value)
    cell.font = font
    return cell


def _rules_in_words(t: Translator, rule_ids: Iterable[str]) -> str:
    """What the rules are about, in the reader's language (never their ids)."""
    text = "; ".join(t.gettext(msgid) for msgid in rule_titles(rule_ids))
    return text[:1].upper() + text[1:]


def _write_breaches(
    book: Workbook,
    status: Status,
    labels: dict[int, tuple[str, str]],
    t: Translator,
    max_rows: int,
) -> None:
    headers = [t("Code"), t("Organisation"), t("Rules"), t("Breach"), t("Members")]
    sheets = _Sheets(book, t("Breaches"), [12, 32, 28, 70, 40],
                     lambda sheet: [_header(sheet, headers)], max_rows)
    for item in status.breaches:
        values = [
            *labels.get(item.org_id, (None, None)),
            _rules_in_words(t, item.breach.rule_ids),
            item.breach.render(t.gettext),
            ", ".join(item.breach.member_names),
        ]
        sheets.append(lambda sheet, values=values: _row(sheet, values))
    if not status.finish_by_passed:
        return
    for child, figures in [*status.children, (status.org, status.total)]:
        if figures.deadline_breaches and (child is not status.org or not status.children):
            values = [
                child.code,
                child.name,
                _rules_in_words(t, ("R-D5",)),
                t(
                    "{count} members still without a decided level after the finish-by date "
                    "{date}",
                    count=figures.deadline_breaches,
                    date=t.date(status.cycle.finish_by),
                ),
                None,
            ]
            sheets.append(lambda sheet, values=values: _row(sheet, values))


STATUS_NAMES = {MemberStatus.OFFICIAL: N_("official"), MemberStatus.PROBATIONARY: N_("probationary")}


def _start_members(book: Workbook, t: Translator) -> tuple[int, int, int]:
    """The Members sheet with its header only (the rows are streamed in later, see
    ``_MemberFiles``); its number, and the styles the rows use, registered with the book."""
    members = book.create_sheet(t("Members"))
    for column, width in enumerate([14, 30, 32, 14, 16, 14], 1):
        members.column_dimensions[get_column_letter(column)].width = width
    members.freeze_panes = "C2"
    titles = (N_("Member code"), N_("Full name"), N_("Cell"), N_("Status"), N_("Decided level"),
              N_("Decided on"))
    members.append(_header(members, [t.gettext(title) for title in titles]))
    quoted = WriteOnlyCell(members, value="=")
    quoted.quotePrefix = True
    dated = _date(members, dt.date(2000, 1, 1))
    return book.index(members) + 1, quoted.style_id, dated.style_id


def _saved(book: Workbook) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


async def _labels(session: AsyncSession, status: Status) -> dict[int, tuple[str, str]]:
    """(code, name) of the organisations the breaches are told on."""
    org_ids = sorted({b.org_id for b in status.breaches})
    labels: dict[int, tuple[str, str]] = {}
    for start in range(0, len(org_ids), 500):
        rows = await session.execute(
            select(Organisation.id, Organisation.code, Organisation.name).where(
                Organisation.id.in_(org_ids[start : start + 500])
            )
        )
        labels.update({org_id: (code, name) for org_id, code, name in rows})
    return labels


async def write_report(
    session: AsyncSession,
    status: Status,
    t: Translator,
    today: dt.date,
    folder: Path,
    limits: ReportLimits = ReportLimits(),
) -> list[ReportFile]:
    """The report's files in `folder`: one workbook with the summary per child, every member
    with their decided level and the breaches; or, when the members do not fit one file
    within `limits`, the summary and the breaches first, then the members unit by unit.

    Written in openpyxl's write-only mode, the member rows streamed (``_MemberFiles``), read
    ``MEMBER_BATCH`` at a time: memory stays bounded whatever the subtree's size."""
    labels = await _labels(session, status)
    files = _MemberFiles(folder, t, limits, status, await _organisations(session, status))
    book = Workbook(write_only=True)
    _write_summary(book, status, t, today, limits.max_rows)
    from bot.services.report_units import write_units  # it imports this module

    if files.fits(status.total.members):
        files.template = _start_members(book, t)
        _write_breaches(book, status, labels, t, limits.max_rows)
        await write_units(session, book, status, t, limits.max_rows)  # issue 14
        files.first = _saved(book)
    else:
        _write_breaches(book, status, labels, t, limits.max_rows)
        await write_units(session, book, status, t, limits.max_rows)  # issue 14
        summary = folder / "summary.xlsx"
        book.save(summary)
        files.done.append(ReportFile(str(summary), True, 0))
    connection = await session.connection()  # Core rows: no ORM work per row
    # The decided moments come raw and are read once per distinct value (a cell's levels
    # are mostly decided at one moment), not once per row as the column's type would.
    dialect = connection.dialect
    files.to_datetime = DECIDED_AT.type.dialect_impl(dialect).result_processor(dialect, None)
    result = await connection.stream(
        _member_query(session, status).execution_options(yield_per=MEMBER_BATCH)
    )
    pending: list = []  # the rows of the organisation still being read
    async for batch in result.partitions(MEMBER_BATCH):
        pending += batch
        end = len(pending)  # the last organisation's rows are the last ones
        last = pending[-1][ORG_ID]
        while end and pending[end - 1][ORG_ID] == last:
            end -= 1
        groups = list(_by_name_per_org(pending[:end]))
        del pending[:end]
        for group in groups:
            files.write(group)
    for group in _by_name_per_org(pending):
        files.write(group)
    return files.close()


async def _organisations(session: AsyncSession, status: Status) -> dict[int, tuple[str, str]]:
    """(path, name) of each organisation of the subtree: the member rows carry only its id
    (its name and path, read and decoded once per member, took a third of their reading)."""
    rows = await session.execute(
        select(Organisation.id, Organisation.path, Organisation.name).where(
            subtree_range(status.org.path)
        )
    )
    return {org_id: (path, name) for org_id, path, name in rows}


def _member_query(session: AsyncSession, status: Status):
    rating_join = and_(
        Rating.member_id == Member.id,
        by_member(session, Rating.cycle_id).in_(status.cycle_ids),  # not a scan of the cycle
        Rating.state == RatingState.DECIDED,
    )
    return (
        select(  # a member row: code, full name, status, level, decided at, organisation
            Member.code,
            Member.full_name,
            Member.status,
            Rating.decided_level,
            type_coerce(DECIDED_AT, NullType()),  # raw: see write_report
            Member.org_id,
        )
        .join(Organisation, Member.org_id == Organisation.id)
        .outerjoin(Rating, rating_join)
        .where(subtree_range(status.org.path))
        .order_by(Organisation.path, Member.code)
    )


def _by_name_per_org(rows: Iterable) -> Iterator[list]:
    """The rows of ``_member_query`` (ordered by organisation) one organisation at a time,
    each in Vietnamese name order (``rules.people.name_sort_key``; SQL cannot collate so).
    Only one organisation's rows are held at once."""
    for _org_id, group in groupby(rows, key=itemgetter(ORG_ID)):
        yield sorted(group, key=lambda row: name_sort_key(row[1]))


def _cell_rest(value: str, quoted_style: str) -> str:
    """What follows a streamed text cell's reference (``<c r="A2"``): its attributes, content
    and end tag (``bot.services.sheets.text_content``)."""
    attributes, content = text_content(value, quoted_style)
    return f"{attributes}>{content}</c>"


class _MemberFiles:
    """The member rows, organisation by organisation, into as many files as they need.

    A file takes whole units (the children of the report's organisation) while they fit
    (``ReportLimits``: rows, and bytes by the size on disk so far and the bytes a row took so
    far); a unit larger than a file continues on the next one, cut between its organisations,
    or inside one only when it alone is larger than a file."""

    def __init__(
        self,
        folder: Path,
        t: Translator,
        limits: ReportLimits,
        status: Status,
        orgs: dict[int, tuple[str, str]],
    ) -> None:
        self.folder, self.t, self.limits = folder, t, limits
        self.orgs = orgs  # organisation id -> (path, name)
        self.root = status.org.path
        self.unit_rows = {f"{child.path}": f.members for child, f in status.children}
        self.codes = {child.path: child.code for child, _ in status.children}
        self.codes[self.root] = status.org.code  # the organisation's own members
        self.template: tuple[int, int, int] | None = None  # the first file: the whole report
        self.first: bytes | None = None
        self.done: list[ReportFile] = []
        self.sheet: StreamedSheet | None = None
        self.unit: str | None = None  # the path of the unit being written
        self.rows = self.size = 0
        self.units: dict[str, None] = {}  # the units written in the file, in order
        self.row_bytes = BYTES_PER_ROW
        self.tz = t.timezone or dt.UTC
        self.to_datetime: Callable | None = None  # the raw decided moment read (write_report)
        self.serials: dict[object, int] = {}  # raw decided moment -> spreadsheet date
        self.names: dict[str, str] = {}  # full name -> its cell's rest (names repeat)

    def _room(self) -> int:
        """How many more member rows the file being written takes (a new one: ``rows`` is
        0): rows, and bytes by its size on disk so far and what a row takes."""
        size = self.size if self.sheet is not None else 0
        margin = min(ZIP_LAG, self.limits.max_bytes // 2)
        by_bytes = (self.limits.max_bytes - size - margin) // self.row_bytes
        return min(self.limits.max_rows - 1 - self.rows, by_bytes)

    def fits(self, rows: int) -> bool:
        return rows <= self._room()

    def _unit_of(self, path: str) -> str:
        """The path of the child of the report's organisation `path` is in (or its own)."""
        end = path.find("/", len(self.root))
        return path[: end + 1] if end >= 0 else path

    def write(self, group: list) -> None:
        """One organisation's rows, in order: on the file being written if its unit (or,
        when the unit does not fit a file, the organisation) fits there, else on a new one."""
        unit = self._unit_of(self.orgs[group[0][ORG_ID]][0])
        if self.sheet is not None:
            if unit != self.unit and not self.fits(self.unit_rows.get(unit, len(group))):
                self._finish()
            elif not self.fits(len(group)):
                self._finish()
        self.unit = unit
        while group:
            if self.sheet is None:
                self._open()
            room = self._room()
            if room <= 0 and self.rows:
                self._finish()
                continue
            part, group = group[: max(room, 1)], group[max(room, 1) :]
            self._write_rows(part)
            self.units.setdefault(unit)

    def _open(self) -> None:
        number = len(self.done)
        if self.first is not None:
            template, self.first = self.first, None
            sheet_number, _, _ = self.template
        else:
            book = Workbook(write_only=True)
            self.template = _start_members(book, self.t)
            template, sheet_number = _saved(book), 1
        _, quoted, dated = self.template
        self.quoted, self.dated = f' s="{quoted}"', f' s="{dated}"'
        # The statuses (in the reader's language) and the levels: a few values, made once.
        shown = {**{s: self.t(m) for s, m in STATUS_NAMES.items()}, **{c: c for c in LEVEL_CODES}}
        self.fixed = {value: _cell_rest(text, self.quoted) for value, text in shown.items()}
        path = self.folder / f"part-{number:03d}.xlsx"
        part = f"xl/worksheets/sheet{sheet_number}.xml"
        self.sheet = StreamedSheet(path, template, part, level=COMPRESS_LEVEL)
        self.summary = not self.done
        self.rows, self.size, self.units = 0, 0, {}

    def _write_rows(self, rows: list) -> None:
        """Rows of one organisation (its name, the statuses and the levels are made once);
        every column but the level and its date always has a value. A cell is its reference
        followed by ``_cell_rest``: the rest is made once per distinct value where values
        repeat (names, the organisation, statuses, levels)."""
        rest, fixed, dated = _cell_rest, self.fixed, self.dated
        serials, names, quoted = self.serials, self.names, self.quoted
        cell = rest(self.orgs[rows[0][ORG_ID]][1], quoted)
        out = []
        number = self.rows + 1
        for code, name, member_status, level, decided_at, _org_id in rows:
            number += 1
            n = str(number)  # formatted once, used in every cell's reference
            name = names.get(name) or names.setdefault(name, rest(name, quoted))
            line = (
                f'<row r="{n}"><c r="A{n}"{rest(code, quoted)}<c r="B{n}"{name}'
                f'<c r="C{n}"{cell}<c r="D{n}"{fixed.get(member_status) or rest(member_status, quoted)}'
            )
            if level is None and not decided_at:  # most rows, until the levels are decided
                out.append(line + "</row>")
                continue
            if level is not None:
                line += f'<c r="E{n}"{fixed.get(level) or rest(level, quoted)}'
            if decided_at:
                serial = serials.get(decided_at)
                if serial is None:
                    serial = serials[decided_at] = self._serial(decided_at)
                line += f'<c r="F{n}"{dated} t="n"><v>{serial}</v></c>'
            out.append(line + "</row>")
        self.sheet.write("".join(out))
        self.rows += len(rows)
        self.size = self.sheet.size()
        if self.size >= 4 * ZIP_LAG:  # what a row takes, once the file says enough (at most)
            self.row_bytes = max((self.size + ZIP_LAG) // self.rows, 1)

    def _serial(self, raw: object) -> int:
        """The spreadsheet date of a raw decided moment, in the reader's time zone."""
        moment = self.to_datetime(raw) if self.to_datetime is not None else raw
        return (moment.astimezone(self.tz).date() - SPREADSHEET_EPOCH).days

    def _finish(self) -> None:
        sheet, self.sheet = self.sheet, None
        if sheet is None:
            return
        if sheet.close() > self.limits.max_bytes:  # the compressor held back more than ZIP_LAG
            log.error("a report file is larger than %d bytes", self.limits.max_bytes)
        units = tuple(self.codes[u] for u in self.units if u in self.codes)
        self.done.append(ReportFile(str(sheet.path), self.summary, self.rows, units))

    def close(self) -> list[ReportFile]:
        if self.sheet is None and (self.first is not None or not self.done):
            self._open()  # a report without members still has its (empty) Members sheet
        self._finish()
        return self.done


# --- compatibility: one workbook in memory (benchmarks, small subtrees) ----------------------


async def status_workbook(
    session: AsyncSession, status: Status, t: Translator, today: dt.date
) -> bytes:
    """The whole report as one workbook's bytes (whatever its size: for benchmarks and tests;
    the bot sends ``write_report``'s files)."""
    folder = Path(tempfile.mkdtemp(prefix="kiemdiem-report-"))
    try:
        limits = ReportLimits(max_rows=1 << 62, max_bytes=1 << 62)
        [file] = await write_report(session, status, t, today, folder, limits)
        return await asyncio.to_thread(Path(file.path).read_bytes)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
