"""Criteria framework spreadsheets (khung tiêu chí): the template, reading and checking (no
database).

An upper committee writes its framework in one sheet, "Khung tiêu chí": a row per criterion
or sub-criterion (its code says where it sits: "1", "1.2", "1.2.a"), the text, the maximum
points and the kinds of organisation it applies to. The sheet's name is the file's marker:
a workbook with it is a framework, one with the roster's sheets a roster (`sniff`).

Errors are :class:`bot.roster.RosterError` (sheet, row, column, msgid of the ``frameworks``
gettext domain), raised all at once in :class:`bot.roster.RosterInvalid`: a file with any
error changes nothing.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from decimal import InvalidOperation
from pathlib import Path
from typing import Any
from typing import BinaryIO

from bot.i18n import domain_gettext
from bot.roster import CLI_LIMITS
from bot.roster import E_REQUIRED
from bot.roster import SHEETS as ROSTER_SHEETS
from bot.roster import Limits
from bot.roster import RosterError
from bot.roster import RosterInvalid
from bot.roster import _CellError
from bot.roster import _fold
from bot.roster import _is_blank
from bot.roster import _key
from bot.roster import _nfc
from bot.roster import _open_workbook
from bot.roster import _read_sheet
from bot.roster import _ReadState
from bot.roster import _too_large
from bot.roster import header_index
from rules.org_scoring import RATED_KINDS
from rules.org_scoring import Criterion
from rules.org_scoring import Framework
from rules.org_scoring import check_framework
from rules.rulebooks import Rulebook


def N_(s: str) -> str:
    """Mark a msgid for extraction (Babel keyword ``N_``) without translating it."""
    return s


DOMAIN = "frameworks"
FRAMEWORK_SHEET = "Khung tiêu chí"
GUIDE_SHEET = "Hướng dẫn"

# The kinds of organisation a criterion may apply to: Vietnamese label -> OrgKind value (the
# labels of the roster's "Loại" column).
KIND_LABELS: dict[str, str] = {
    "Đảng bộ cơ sở": "grassroots",
    "Chi bộ trực thuộc": "cell",
    "Chi bộ cơ sở": "grassroots_cell",
}
assert tuple(KIND_LABELS.values()) == RATED_KINDS
_KIND_KEYS = {**{_key(label): kind for label, kind in KIND_LABELS.items()},
              **{_key(kind): kind for kind in RATED_KINDS}}

CODE_MAX = 16
_CODE_RE = re.compile(r"\d{1,3}(\.[0-9A-Za-z]{1,3})*")
TEXT_MAX = 2000


def kind_label(kind: str) -> str:
    return next((label for label, k in KIND_LABELS.items() if k == kind), kind)


def kinds_text(kinds: Sequence[str] | frozenset[str]) -> str:
    return "; ".join(kind_label(k) for k in RATED_KINDS if k in kinds)


@dataclass(frozen=True)
class Column:
    header: str
    field: str
    required_column: bool  # and a value in every row
    meaning: str  # msgid
    allowed: str  # msgid
    width: int


COLUMNS: tuple[Column, ...] = (
    Column("Mã tiêu chí", "code", True,
           N_("The criterion's number. A sub-criterion's number is its criterion's number, a "
              "dot and its own: 1, 1.1, 1.2, 1.2.a."),
           N_("Required. Numbers (and letters after the first dot) separated by dots; at most "
              "16 characters; unique. A sub-criterion comes after its criterion."), 12),
    Column("Nội dung tiêu chí", "text", True,
           N_("What is assessed, as the framework words it."),
           N_("Required. Free text, at most 2,000 characters."), 70),
    Column("Điểm tối đa", "max_points", True,
           N_("The most points the criterion gives."),
           N_("Required. A number above 0 with at most one decimal (2.5 or 2,5). The criteria "
              "add up to 100 for each kind of organisation, and the sub-criteria of a "
              "criterion add up to its points."), 12),
    Column("Áp dụng cho", "kinds", False,
           N_("The kinds of organisation scored on this criterion."),
           N_("Optional. One or more of “Đảng bộ cơ sở”, “Chi bộ trực thuộc”, “Chi bộ cơ sở”, "
              "separated by “;”. Empty: as its criterion, or every kind for a criterion. A "
              "sub-criterion applies only to kinds its criterion applies to."), 30),
    Column("Cách chấm", "guidance", False,
           N_("How to score it: evidence, what earns full points."),
           N_("Optional. Free text."), 50),
)
_HEADER = {c.field: c.header for c in COLUMNS}


@dataclass(frozen=True)
class CriterionRow:
    code: str
    parent: str | None
    text: str
    max_tenths: int
    kinds: frozenset[str]
    guidance: str
    row: int


@dataclass(frozen=True)
class FrameworkFile:
    rows: tuple[CriterionRow, ...]

    def as_rules(self) -> Framework:
        return Framework(tuple(
            Criterion(r.code, r.text, r.max_tenths, r.kinds, r.parent, r.guidance)
            for r in self.rows))


E_NOT_XLSX = N_("A criteria framework is read from an Excel workbook (.xlsx) only.")
E_NO_SHEET = N_("The workbook has no sheet «{name}».")
E_BAD_CODE = N_(
    "«{value}» is not a criterion number: write numbers separated by dots, such as 1, 1.2 or "
    "1.2.a (at most 16 characters)."
)
E_DUPLICATE_CODE = N_("Criterion {code} is already in row {first_row}.")
E_NO_PARENT = N_(
    "Criterion {code} belongs to criterion {parent}, which is not in an earlier row."
)
E_TEXT_LONG = N_("The text is {length} characters long; at most {max}.")
E_BAD_POINTS = N_(
    "«{value}» is not a number of points: write a number above 0 with at most one decimal."
)
E_UNKNOWN_KIND = N_("Unknown kind of organisation «{value}». Allowed: {allowed}.")
E_KIND_NOT_IN_PARENT = N_(
    "Criterion {code} cannot apply to «{kind}»: its criterion {parent} does not."
)
E_SUB_TOTAL = N_(
    "For «{kind}», the sub-criteria of {code} add up to {total} points, not the {max} of "
    "the criterion."
)
E_TOTAL = N_("For «{kind}», the criteria add up to {total} points, not {max}.")
E_NOTHING = N_("There is nothing to import: the sheet has no criteria.")


def _code(value: Any) -> str:
    if isinstance(value, float):
        value = repr(int(value)) if value.is_integer() else repr(value)
    text = _nfc(str(value))
    if len(text) > CODE_MAX or not _CODE_RE.fullmatch(text):
        raise _CellError(E_BAD_CODE, value=text)
    return text


def _tenths(value: Any) -> int:
    text = _nfc(str(value)).replace(",", ".")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise _CellError(E_BAD_POINTS, value=_nfc(str(value))) from None
    scaled = number * 10
    if not number.is_finite() or number <= 0 or scaled != scaled.to_integral_value() or (
        number > 1000
    ):
        raise _CellError(E_BAD_POINTS, value=_nfc(str(value)))
    return int(scaled)


def _text(value: Any) -> str:
    text = _nfc(str(value))
    if len(text) > TEXT_MAX:
        raise _CellError(E_TEXT_LONG, length=len(text), max=TEXT_MAX)
    return text


def _kinds(value: Any) -> frozenset[str]:
    found = set()
    for part in re.split(r"[;,\n]", str(value)):
        if not part.strip():
            continue
        kind = _KIND_KEYS.get(_key(part))
        if kind is None:
            raise _CellError(E_UNKNOWN_KIND, value=_nfc(part),
                             allowed=", ".join(f"«{label}»" for label in KIND_LABELS))
        found.add(kind)
    return frozenset(found)


def _points_text(tenths: int) -> str:
    return f"{Decimal(tenths) / 10:f}".rstrip("0").rstrip(".") if tenths % 10 else str(tenths // 10)


def read_framework(
    filename: str, content: bytes, rulebook: Rulebook, limits: Limits | None = None
) -> FrameworkFile:
    """Read and check a framework workbook; raise RosterInvalid with every error found."""
    limits = limits or CLI_LIMITS
    st = _ReadState()
    rows = _read_rows(filename, content, st, limits)
    if st.errors:
        raise RosterInvalid(st.errors)
    parsed = _parse(rows, st)
    if not st.errors and not parsed:
        st.error(FRAMEWORK_SHEET, None, None, E_NOTHING)
    if not st.errors:
        framework = FrameworkFile(tuple(parsed))
        by_code = {r.code: r for r in parsed}
        for problem in check_framework(framework.as_rules(), rulebook):
            label = kind_label(problem.kind)
            if problem.criterion is None:
                st.error(FRAMEWORK_SHEET, None, _HEADER["max_points"], E_TOTAL, kind=label,
                         total=_points_text(problem.total_tenths),
                         max=_points_text(problem.expected_tenths))
            else:
                st.error(FRAMEWORK_SHEET, by_code[problem.criterion].row, _HEADER["max_points"],
                         E_SUB_TOTAL, kind=label, code=problem.criterion,
                         total=_points_text(problem.total_tenths),
                         max=_points_text(problem.expected_tenths))
    if st.errors:
        raise RosterInvalid(sorted(st.errors, key=lambda e: (e.row or 0, _order(e.column))))
    return FrameworkFile(tuple(parsed))


def _order(column: str | None) -> int:
    return next((i for i, c in enumerate(COLUMNS) if c.header == column), -1)


def _read_rows(filename: str, content: bytes, st: _ReadState,
               limits: Limits) -> list[tuple[int, list[Any]]]:
    if _too_large(filename, content, st, limits):
        return []
    if content[:4] != b"PK\x03\x04":
        st.error(filename, None, None, E_NOT_XLSX)
        return []
    with _open_workbook(filename, content, st, limits, E_NOT_XLSX) as workbook:
        if workbook is None:
            return []
        sheet = next((ws for ws in workbook.worksheets
                      if _fold(ws.title) == _fold(FRAMEWORK_SHEET)), None)
        if sheet is None:
            st.error(filename, None, None, E_NO_SHEET, name=FRAMEWORK_SHEET)
            return []
        return _read_sheet(sheet, FRAMEWORK_SHEET, filename, st, limits, E_NOT_XLSX) or []


def _parse(rows: list[tuple[int, list[Any]]], st: _ReadState) -> list[CriterionRow]:
    if not rows:
        return []
    index = header_index(FRAMEWORK_SHEET, rows[0][1], COLUMNS, st)
    if st.errors:
        return []
    parsed: list[CriterionRow] = []
    seen: dict[str, CriterionRow] = {}
    for rownum, values in rows[1:]:
        cell = {f: (values[p] if p < len(values) else None) for f, p in index.items()}
        errors_before = len(st.errors)

        def fail(fld: str, msgid: str, row: int = rownum, **params: Any) -> None:
            st.error(FRAMEWORK_SHEET, row, _HEADER[fld], msgid, **params)

        values_of: dict[str, Any] = {}
        for fld, convert in (("code", _code), ("text", _text), ("max_points", _tenths)):
            raw = cell.get(fld)
            if _is_blank(raw):
                fail(fld, E_REQUIRED)
                continue
            try:
                values_of[fld] = convert(raw)
            except _CellError as error:
                fail(fld, error.msgid, **error.params)
        kinds: frozenset[str] = frozenset()
        if not _is_blank(cell.get("kinds")):
            try:
                kinds = _kinds(cell["kinds"])
            except _CellError as error:
                fail("kinds", error.msgid, **error.params)
        guidance = "" if _is_blank(cell.get("guidance")) else _nfc(str(cell["guidance"]))
        code = values_of.get("code")
        parent_row = None
        parent = code.rpartition(".")[0] or None if code else None
        if code is not None:
            if code in seen:
                fail("code", E_DUPLICATE_CODE, code=code, first_row=seen[code].row)
            elif parent is not None:
                parent_row = seen.get(parent)
                if parent_row is None:
                    fail("code", E_NO_PARENT, code=code, parent=parent)
        if parent_row is not None:
            outside = sorted(kinds - parent_row.kinds, key=RATED_KINDS.index)
            if outside:
                fail("kinds", E_KIND_NOT_IN_PARENT, code=code, kind=kind_label(outside[0]),
                     parent=parent)
            kinds = kinds or parent_row.kinds
        elif not kinds:
            kinds = frozenset(RATED_KINDS)
        if len(st.errors) > errors_before or code is None:
            continue
        row = CriterionRow(code, parent, values_of["text"], values_of["max_points"], kinds,
                           guidance, rownum)
        seen[code] = row
        parsed.append(row)
    return parsed


# --------------------------------------------------------------------------
# Which importer a workbook is for
# --------------------------------------------------------------------------

FRAMEWORK, ROSTER, UNKNOWN = "framework", "roster", "unknown"
_WORKBOOK_XML_MAX = 1024 * 1024
_MAIN_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def sniff(content: bytes) -> str:
    """FRAMEWORK when the workbook has the sheet «Khung tiêu chí», ROSTER when it has a roster
    sheet or cannot be read here (the roster's reader then says what is wrong with it), and
    UNKNOWN otherwise. Reads only the workbook's list of sheets, within a small bound."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            info = archive.getinfo("xl/workbook.xml")
            if info.file_size > _WORKBOOK_XML_MAX:
                return ROSTER
            root = ET.fromstring(archive.read(info))
    except (KeyError, zipfile.BadZipFile, ET.ParseError, OSError, ValueError):
        return ROSTER
    names = {_fold(s.get("name", "")) for s in root.iter(f"{_MAIN_NS}sheet")}
    if _fold(FRAMEWORK_SHEET) in names:
        return FRAMEWORK
    if names & {_fold(s) for s in ROSTER_SHEETS}:
        return ROSTER
    return UNKNOWN


# --------------------------------------------------------------------------
# Template
# --------------------------------------------------------------------------

G_TITLE = N_("How to fill in the criteria framework")
G_INTRO = (
    N_("Write one row per criterion in the sheet “Khung tiêu chí”, keeping its header row, and "
       "replace the example rows. Keep the sheet's name: it is how the bot knows the file."),
    N_("A sub-criterion comes after its criterion; its number is the criterion's number, a dot "
       "and its own (1.1 under 1). A unit is scored on the sub-criteria where a criterion has "
       "them."),
    N_("For each kind of organisation the criteria add up to 100 points; the sub-criteria of a "
       "criterion add up to its points. Criteria for one kind only say so in “Áp dụng cho”."),
    N_("Deductions and additions are not part of the framework: the meeting decides them "
       "(a basic target missed by each 5% costs 0.5 points, at most 2 points per target; an "
       "outstanding result adds at most 2 points per item)."),
    N_("Loading a framework again for the same year replaces the previous one, after a preview. "
       "Units below use the framework of their nearest committee that has one."),
)
G_HEADERS = (N_("Column"), N_("Meaning"), N_("Allowed values"), N_("Required column"))
G_YES = "Có"

EXAMPLE_ROWS: tuple[tuple[str, str, int, str, str], ...] = (
    ("1", "Công tác giáo dục chính trị, tư tưởng", 20, "", ""),
    ("1.1", "Tổ chức học tập, quán triệt nghị quyết, chỉ thị của Đảng", 10, "",
     "Đủ 100% đảng viên tham gia: 10 điểm."),
    ("1.2", "Nắm bắt, định hướng tư tưởng đảng viên và quần chúng", 10, "", ""),
    ("2", "Lãnh đạo thực hiện nhiệm vụ chính trị được giao", 40, "",
     "Căn cứ các chỉ tiêu cơ bản theo nghị quyết của cấp ủy."),
    ("3", "Công tác tổ chức, cán bộ và xây dựng đội ngũ đảng viên", 20, "", ""),
    ("4", "Công tác kiểm tra, giám sát và thi hành kỷ luật đảng", 10, "", ""),
    ("5", "Lãnh đạo chính quyền, Mặt trận và các đoàn thể", 10, "", ""),
)


def template_row(code: str, text: str, max_tenths: int, kinds: frozenset[str],
                 guidance: str | None) -> tuple[str, str, int | float, str, str]:
    """A stored criterion as a row of the template (every kind: an empty «Áp dụng cho»)."""
    every = kinds >= frozenset(RATED_KINDS)
    max_points = max_tenths // 10 if max_tenths % 10 == 0 else max_tenths / 10
    return (code, text, max_points, "" if every else kinds_text(kinds), guidance or "")


def write_template(path_or_stream: str | Path | BinaryIO,
                   gettext: Callable[[str], str] | None = None,
                   rows: Sequence[tuple[Any, ...]] | None = None) -> None:
    """The framework workbook: the guide (first, in Vietnamese) and the sheet, with `rows` (a
    framework already loaded, to edit) or the example rows. Every value is written as text or
    a number, never as a formula (bot/services/sheets.py)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment
    from openpyxl.styles import Font

    from bot.services.sheets import set_text

    _ = gettext or domain_gettext(DOMAIN, "vi")
    workbook = Workbook()
    guide = workbook.active
    guide.title = GUIDE_SHEET
    bold, wrap = Font(bold=True), Alignment(wrap_text=True, vertical="top")
    set_text(guide, 1, 1, _(G_TITLE)).font = Font(bold=True, size=14)
    row = 2
    for line in G_INTRO:
        set_text(guide, row, 1, _(line))
        row += 1
    row += 1
    for i, head in enumerate(G_HEADERS, start=1):
        set_text(guide, row, i, _(head)).font = bold
    for col in COLUMNS:
        row += 1
        for i, value in enumerate((col.header, _(col.meaning), _(col.allowed),
                                   G_YES if col.required_column else ""), start=1):
            set_text(guide, row, i, value).alignment = wrap
    for letter, width in zip("ABCD", (20, 50, 80, 12), strict=True):
        guide.column_dimensions[letter].width = width
    sheet = workbook.create_sheet(FRAMEWORK_SHEET)
    for i, col in enumerate(COLUMNS, start=1):
        head = set_text(sheet, 1, i, col.header)
        head.font = bold
        sheet.column_dimensions[chr(64 + i)].width = col.width
    sheet.column_dimensions["A"].number_format = "@"  # "1.10" stays text, not the number 1.1
    for r, values in enumerate(EXAMPLE_ROWS if rows is None else rows, start=2):
        for i, value in enumerate(values, start=1):
            cell = set_text(sheet, r, i, value if value != "" else None)
            if i == 1:
                cell.number_format = "@"
            if i in (2, 5):
                cell.alignment = wrap
    sheet.freeze_panes = "A2"
    workbook.active = 0
    workbook.save(path_or_stream)


def template_bytes(rows: Sequence[tuple[Any, ...]] | None = None) -> bytes:
    buffer = io.BytesIO()
    write_template(buffer, rows=rows)
    return buffer.getvalue()


__all__ = [
    "COLUMNS", "FRAMEWORK", "FRAMEWORK_SHEET", "KIND_LABELS", "ROSTER", "UNKNOWN",
    "CriterionRow", "FrameworkFile", "RosterError", "RosterInvalid", "kind_label", "kinds_text",
    "read_framework", "sniff", "template_bytes", "write_template",
]
