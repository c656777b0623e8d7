"""Roster spreadsheets: the template, parsing and validation (no database).

A secretary or the organising office loads organisations, members and roles
from an XLSX workbook (three sheets) or from UTF-8 CSV files (one per sheet,
recognised by its header row). This module is pure: it turns files into
typed rows and checks them; the caller applies them to the database.

Every error is a :class:`RosterError` carrying a gettext msgid (domain
``roster``) and its parameters; :meth:`RosterError.render` translates it.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import unicodedata
import warnings
import zipfile
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import datetime
from pathlib import Path
from typing import Any
from typing import BinaryIO

from bot.i18n import Explained
from bot.i18n import domain_gettext


def N_(s: str) -> str:
    """Mark a msgid for extraction (Babel keyword ``N_``) without translating it."""
    return s


ORG_SHEET = "Tổ chức"
MEMBER_SHEET = "Đảng viên"
ROLE_SHEET = "Vai trò"
GUIDE_SHEET = "Hướng dẫn"
SHEETS = (ORG_SHEET, MEMBER_SHEET, ROLE_SHEET)

DOMAIN = "roster"

# --------------------------------------------------------------------------
# Vocabularies: Vietnamese label -> code. The first label of a code is the
# one written in templates and drop-downs.
# --------------------------------------------------------------------------

ORG_KINDS: dict[str, str] = {
    "Trung ương": "central",
    "Đảng bộ tỉnh": "province",
    "Đảng bộ thành phố": "province",
    "Đảng bộ huyện": "district",
    "Đảng bộ cấp trên trực tiếp": "upper",
    "Đảng bộ cơ sở": "grassroots",
    "Chi bộ trực thuộc": "cell",
    "Chi bộ cơ sở": "grassroots_cell",
}
CELL_KINDS = frozenset({"cell", "grassroots_cell"})
STATUSES: dict[str, str] = {"Chính thức": "official", "Dự bị": "probationary"}
ROLES: dict[str, str] = {
    "Bí thư": "secretary",
    "Phó bí thư": "deputy",
    "Cấp ủy viên": "committee_member",
    "Ban tổ chức": "organising_office",
    # The representatives of the bodies that give their opinion on an organisation's rating
    # (seed 004 B.1.4 step 2). The first label of each has no comma (the template's drop-down
    # list is comma-separated); the usual written forms with a comma are read too.
    "Đại diện Thường trực HĐND và UBND": "rep_council",
    "Đại diện Thường trực HĐND, UBND": "rep_council",
    "Đại diện Ủy ban MTTQ": "rep_front",
    "Đại diện các đoàn thể chính trị - xã hội": "rep_mass_orgs",
    "Đại diện lãnh đạo cơ quan/đơn vị": "rep_leadership",
    "Đại diện lãnh đạo cơ quan, đơn vị": "rep_leadership",
}
DISCIPLINE_FORMS: dict[str, str] = {
    "Khiển trách": "reprimand",
    "Cảnh cáo": "warning",
    "Cách chức": "dismissal",
    "Khai trừ": "expulsion",
}
_VOCABS: dict[str, dict[str, str]] = {
    "kind": ORG_KINDS,
    "status": STATUSES,
    "role": ROLES,
    "discipline": DISCIPLINE_FORMS,
}
YES_LABEL, NO_LABEL = "Có", "Không"
_YES = frozenset({"có", "co", "x", "1", "yes", "true"})
_NO = frozenset({"không", "khong", "0", "no", "false", ""})

CODE_MAX = 32
_CODE_RE = re.compile(r"[A-Za-z0-9._-]+")
SICK_LEAVE_MAX = 12


def label_of(vocab: dict[str, str], code: str | None) -> str:
    """The first (preferred) Vietnamese label of ``code`` in ``vocab``."""
    for label, c in vocab.items():
        if c == code:
            return label
    return code or ""


# --------------------------------------------------------------------------
# Rows and errors
# --------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SheetRow:
    """Where a data row came from: its row number and sheet (the sheet name as written, or
    the CSV file name); named, so that each sheet's own fields read in order."""

    row: int
    sheet: str


@dataclass(frozen=True)
class OrgRow(SheetRow):
    code: str | None
    name: str | None
    kind: str | None
    parent_code: str | None
    founded_on: date | None
    residential: bool = False


@dataclass(frozen=True)
class MemberRow(SheetRow):
    code: str | None
    full_name: str | None
    birth_date: date | None
    org_code: str | None
    position: str | None
    status: str | None
    admitted_on: date | None
    exempt: bool
    suspended: bool
    committee_suspended: bool
    temporary_org_code: str | None
    transferred_in_on: date | None
    leader: bool
    head: bool
    outside_political_system: bool
    sick_leave_months: int
    maternity: bool
    discipline_form: str | None
    discipline_in_official_duties: bool
    public_servant: bool = False


@dataclass(frozen=True)
class RoleRow(SheetRow):
    member_code: str | None
    org_code: str | None
    role: str | None


LOC_CELL = N_("{sheet}, row {row}, column «{column}»: {message}")
LOC_ROW = N_("{sheet}, row {row}: {message}")
LOC_COLUMN = N_("{sheet}, column «{column}»: {message}")
LOC_SHEET = N_("{sheet}: {message}")


@dataclass(frozen=True)
class RosterError:
    sheet: str  # the Vietnamese sheet name, or the CSV/other file name
    row: int | None
    column: str | None  # the canonical Vietnamese header
    msgid: str
    params: dict = field(default_factory=dict)

    def message(self, gettext: Callable[[str], str]) -> str:
        return gettext(self.msgid).format(**self.params)

    def render(self, gettext: Callable[[str], str]) -> str:
        msg = self.message(gettext)
        if not self.sheet:
            return msg
        if self.row is not None and self.column:
            loc = LOC_CELL
        elif self.row is not None:
            loc = LOC_ROW
        elif self.column:
            loc = LOC_COLUMN
        else:
            loc = LOC_SHEET
        return gettext(loc).format(
            sheet=self.sheet, row=self.row, column=self.column, message=msg
        )

    def __str__(self) -> str:
        return self.render(lambda s: s)


@dataclass
class Roster:
    orgs: list[OrgRow] = field(default_factory=list)
    members: list[MemberRow] = field(default_factory=list)
    roles: list[RoleRow] = field(default_factory=list)
    # canonical names of the sheets present in the sources (empty when built by hand)
    sheets: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class KnownOrg:
    code: str
    kind: str
    parent_code: str | None


@dataclass(frozen=True)
class KnownMember:
    code: str
    org_code: str


class RosterInvalid(Exception):
    def __init__(self, errors: Sequence[RosterError]):
        self.errors = list(errors)
        shown = "; ".join(str(e) for e in self.errors[:5])
        more = f" (+{len(self.errors) - 5} more)" if len(self.errors) > 5 else ""
        super().__init__(f"{len(self.errors)} roster error(s): {shown}{more}")

    def render(self, gettext: Callable[[str], str]) -> list[str]:
        return [e.render(gettext) for e in self.errors]


@dataclass(frozen=True)
class Limits:
    """The most a roster file may hold; checked before and while it is read, so a file
    built to exhaust memory or time (a zip bomb, a cell a million rows down) is refused fast."""

    file_bytes: int = 5 * 1024 * 1024
    unzipped_bytes: int = 50 * 1024 * 1024  # the sum of an .xlsx's members, as declared
    zip_members: int = 1_000
    rows: int = 5_000  # per sheet, the header included
    columns: int = 60


# What a cell secretary may send to the bot; the operator's CLI reads whole provinces.
BOT_LIMITS = Limits()
CLI_LIMITS = Limits(
    file_bytes=500 * 1024 * 1024,
    unzipped_bytes=4 * 1024 * 1024 * 1024,
    zip_members=10_000,
    rows=2_000_000,
    columns=200,
)


# --------------------------------------------------------------------------
# Error msgids
# --------------------------------------------------------------------------

E_NOT_XLSX_OR_CSV = N_("The file is neither an Excel workbook (.xlsx) nor a CSV file.")
E_XLSX_UNREADABLE = N_(
    "The Excel file cannot be opened; it may be damaged, password-protected "
    "or in the old .xls format."
)
E_CSV_NOT_UTF8 = N_(
    "The file is not UTF-8 text. In Excel, save it as “CSV UTF-8 (Comma delimited)”."
)
E_CSV_NO_SHEET = N_(
    "The header row of this CSV file matches none of the sheets {sheets}."
)
E_NO_SHEETS = N_("The workbook contains none of the sheets {sheets}.")
E_UNKNOWN_SHEET = N_("Unknown sheet «{name}»; the sheets are {sheets}.")
E_NOTHING = N_("There is nothing to import: no data rows were found.")
E_MISSING_SHEET = N_(
    "This sheet is missing, and these codes are not in the database either: {codes}."
)
E_UNKNOWN_COLUMN = N_("Unknown column. The columns of this sheet are: {columns}.")
E_MISSING_COLUMN = N_("This required column is missing.")
E_DUPLICATE_COLUMN = N_("This column appears more than once.")
E_REQUIRED = N_("A value is required.")
E_BAD_CODE = N_(
    "Invalid code «{value}»: use only letters, digits, “-”, “_” and “.”, "
    "at most {max} characters."
)
E_DUPLICATE_CODE = N_("Code «{code}» is already used in row {first_row}.")
E_BAD_DATE = N_("Invalid date «{value}»; write it as dd/mm/yyyy.")
E_FUTURE_DATE = N_("The date {value} is in the future.")
E_UNKNOWN_KIND = N_("Unknown organisation type «{value}». Allowed: {allowed}.")
E_UNKNOWN_STATUS = N_("Unknown member type «{value}». Allowed: {allowed}.")
E_UNKNOWN_ROLE = N_("Unknown role «{value}». Allowed: {allowed}.")
E_UNKNOWN_DISCIPLINE = N_("Unknown discipline form «{value}». Allowed: {allowed}.")
E_BAD_BOOL = N_("Expected “Có” or “Không”, got «{value}».")
E_BAD_SICK_LEAVE = N_("Expected a whole number of months from 0 to {max}, got «{value}».")
E_ADMITTED_BEFORE_BIRTH = N_(
    "The admission date {admitted} is not after the date of birth {born}."
)
E_UNKNOWN_ORG = N_("Organisation «{code}» is neither in this file nor in the database.")
E_UNKNOWN_MEMBER = N_("Member «{code}» is neither in this file nor in the database.")
E_PARENT_IS_CELL = N_(
    "Organisation «{code}» is a chi bộ and cannot have organisations under it."
)
E_CYCLE = N_("The parent organisations form a cycle: {path}.")
E_MEMBER_NOT_IN_CELL = N_(
    "Members belong to a chi bộ (“Chi bộ trực thuộc” or “Chi bộ cơ sở”), "
    "but «{code}» is «{kind}»."
)
E_TEMPORARY_NOT_CELL = N_(
    "The temporary organisation must be a chi bộ, but «{code}» is «{kind}»."
)
E_TEMPORARY_IS_OWN = N_("The temporary chi bộ is the member's own chi bộ.")
E_NOT_A_MEMBER = N_(
    "Member «{member}» does not belong to organisation «{org}» or to any organisation under it."
)
E_TWO_SECRETARIES = N_(
    "Organisation «{org}» already has a secretary: «{member}» in row {first_row}."
)
E_DUPLICATE_ROW = N_("This row repeats row {first_row}.")
E_OFFICE_ON_CELL = N_(
    "A chi bộ has no organising office; this role belongs to a party committee."
)
E_LIMIT_FILE = N_("The file is too large ({size} MB); a roster file may have at most {max} MB.")
E_LIMIT_UNZIPPED = N_(
    "The workbook unpacks to more than {max} MB, far more than a roster needs; "
    "save only the roster sheets in a new workbook and send that."
)
E_LIMIT_ROWS = N_(
    "This sheet reaches row {rows}; a roster sheet may have at most {max} rows. "
    "Delete the rows below the roster (or split the file)."
)
E_LIMIT_COLUMNS = N_(
    "This sheet reaches column {columns}; a roster sheet may have at most {max} columns. "
    "Delete the columns to the right of the roster."
)
E_RESIDENTIAL_NOT_CELL = N_(
    "Only a chi bộ can be a village or residential chi bộ, but «{code}» is «{kind}»."
)
E_DUTIES_WITHOUT_FORM = N_(
    "A violation in official duties is marked, but no discipline form is given."
)
LIMIT_ERRORS = frozenset({E_LIMIT_FILE, E_LIMIT_UNZIPPED, E_LIMIT_ROWS, E_LIMIT_COLUMNS})

# --------------------------------------------------------------------------
# Columns
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    sheet: str
    header: str
    field: str
    type: str  # code | text | kind | status | role | discipline | date | bool | int
    required_column: bool
    required_value: bool
    meaning: str  # msgid
    allowed: str  # msgid
    example: Any = None
    width: int = 16


A_CODE = N_("Required. Letters, digits, “-”, “_” and “.”; at most 32 characters; unique.")
A_TEXT_REQUIRED = N_("Required. Free text.")
A_TEXT_OPTIONAL = N_("Optional. Free text.")
A_DATE_OPTIONAL = N_("Optional. A date, dd/mm/yyyy.")
A_DATE_OPTIONAL_PAST = N_("Optional. A date, dd/mm/yyyy, not in the future.")
A_YES_NO = N_("“Có” or “Không”; also “x”/empty, 1/0. Empty means no.")

ORG_COLUMNS: tuple[Column, ...] = (
    Column(ORG_SHEET, "Mã tổ chức", "code", "code", True, True,
           N_("Code of the organisation, used to refer to it in the other sheets. "
              "Stored in upper case."),
           A_CODE, "CB-KHOANOI", 16),
    Column(ORG_SHEET, "Tên tổ chức", "name", "text", True, True,
           N_("Full name of the organisation."),
           A_TEXT_REQUIRED, "Chi bộ Khoa Nội", 36),
    Column(ORG_SHEET, "Loại", "kind", "kind", True, True,
           N_("Type of the organisation."),
           N_("Required. “Trung ương”, “Đảng bộ tỉnh” (or “Đảng bộ thành phố”), "
              "“Đảng bộ huyện” (old structure), “Đảng bộ cấp trên trực tiếp” "
              "(đảng bộ xã, phường, đặc khu or another upper committee), "
              "“Đảng bộ cơ sở”, “Chi bộ trực thuộc”, “Chi bộ cơ sở”."),
           "Chi bộ trực thuộc", 26),
    Column(ORG_SHEET, "Mã tổ chức cấp trên", "parent_code", "code", True, False,
           N_("Code of the organisation directly above it."),
           N_("Empty only for the top organisation. Otherwise a code from this sheet or "
              "one already in the system; a chi bộ cannot be a parent."),
           "DB-BVDKT", 20),
    Column(ORG_SHEET, "Ngày thành lập", "founded_on", "date", False, False,
           N_("Date the organisation was founded."),
           A_DATE_OPTIONAL_PAST, date(2010, 3, 15), 16),
    Column(ORG_SHEET, "Chi bộ thôn, tổ dân phố", "residential", "bool", False, False,
           N_("A chi bộ of a village, hamlet or residential group: the People's Council and "
              "Committee, the Fatherland Front and the mass organisations give their opinion "
              "on its rating, and its secretary who is not a public servant may be rated above "
              "it."),
           N_("“Có” or “Không” (only for a chi bộ); also “x”/empty, 1/0. Empty means no."),
           NO_LABEL, 16),
)

MEMBER_COLUMNS: tuple[Column, ...] = (
    Column(MEMBER_SHEET, "Mã đảng viên", "code", "code", True, True,
           N_("Code of the member (for example the party card number)."),
           A_CODE, "DV-000123", 16),
    Column(MEMBER_SHEET, "Họ và tên", "full_name", "text", True, True,
           N_("Full name."), A_TEXT_REQUIRED, "Nguyễn Thị Lan", 26),
    Column(MEMBER_SHEET, "Ngày sinh", "birth_date", "date", False, False,
           N_("Date of birth."), A_DATE_OPTIONAL_PAST, date(1982, 5, 12), 14),
    Column(MEMBER_SHEET, "Mã chi bộ", "org_code", "code", True, True,
           N_("Code of the chi bộ where the member is officially registered."),
           N_("Required. The code of a “Chi bộ trực thuộc” or “Chi bộ cơ sở”."),
           "CB-KHOANOI", 16),
    Column(MEMBER_SHEET, "Chức vụ", "position", "text", False, False,
           N_("Post or job title."), A_TEXT_OPTIONAL, "Trưởng khoa Nội", 24),
    Column(MEMBER_SHEET, "Loại đảng viên", "status", "status", True, True,
           N_("Official or probationary member."),
           N_("Required. “Chính thức” or “Dự bị”."), "Chính thức", 16),
    Column(MEMBER_SHEET, "Ngày kết nạp", "admitted_on", "date", True, True,
           N_("Date of admission to the party."),
           N_("Required. A date, dd/mm/yyyy, not in the future, after the date of birth."),
           date(2008, 2, 3), 14),
    Column(MEMBER_SHEET, "Miễn công tác", "exempt", "bool", False, False,
           N_("Excused from party work and activities."), A_YES_NO, NO_LABEL, 14),
    Column(MEMBER_SHEET, "Đình chỉ sinh hoạt", "suspended", "bool", False, False,
           N_("Suspended from party activities."), A_YES_NO, NO_LABEL, 14),
    Column(MEMBER_SHEET, "Đình chỉ cấp ủy", "committee_suspended", "bool", False, False,
           N_("Suspended from the party committee only (still reviewed and rated)."),
           A_YES_NO, NO_LABEL, 14),
    Column(MEMBER_SHEET, "Sinh hoạt tạm thời tại", "temporary_org_code", "code", False, False,
           N_("The chi bộ where the member attends temporarily; reviewed and rated at the "
              "official one."),
           N_("Optional. The code of a chi bộ other than the member's own."), None, 18),
    Column(MEMBER_SHEET, "Ngày chuyển đến", "transferred_in_on", "date", False, False,
           N_("Date the member transferred into this chi bộ, if during the year."),
           A_DATE_OPTIONAL_PAST, None, 14),
    Column(MEMBER_SHEET, "Lãnh đạo, quản lý", "leader", "bool", False, False,
           N_("Holds a leadership or management post."), A_YES_NO, YES_LABEL, 14),
    Column(MEMBER_SHEET, "Người đứng đầu", "head", "bool", False, False,
           N_("Head of the unit (the secretary of a chi bộ, the head of an agency)."),
           A_YES_NO, YES_LABEL, 14),
    Column(MEMBER_SHEET, "Ngoài hệ thống chính trị", "outside_political_system", "bool",
           False, False,
           N_("Works outside the political system (retired, student, private business)."),
           A_YES_NO, NO_LABEL, 16),
    Column(MEMBER_SHEET, "Số tháng nghỉ ốm", "sick_leave_months", "int", False, False,
           N_("Months of sick leave during the year."),
           N_("A whole number from 0 to 12. Empty means 0."), 0, 12),
    Column(MEMBER_SHEET, "Nghỉ thai sản", "maternity", "bool", False, False,
           N_("On maternity leave during the year."), A_YES_NO, NO_LABEL, 12),
    Column(MEMBER_SHEET, "Hình thức kỷ luật", "discipline_form", "discipline", False, False,
           N_("Discipline imposed during the year, if any."),
           N_("Empty, or “Khiển trách”, “Cảnh cáo”, “Cách chức”, “Khai trừ”."), None, 16),
    Column(MEMBER_SHEET, "Kỷ luật do vi phạm trong thực thi công vụ",
           "discipline_in_official_duties", "bool", False, False,
           N_("The discipline was for a violation in carrying out official duties."),
           A_YES_NO, NO_LABEL, 20),
    Column(MEMBER_SHEET, "Cán bộ, công chức", "public_servant", "bool", False, False,
           N_("Is a public servant (cán bộ, công chức)."),
           A_YES_NO, NO_LABEL, 14),
)

ROLE_COLUMNS: tuple[Column, ...] = (
    Column(ROLE_SHEET, "Mã đảng viên", "member_code", "code", True, True,
           N_("Code of the member who holds the role."),
           N_("Required. A member code from the sheet “Đảng viên” or already in the system."),
           "DV-000123", 16),
    Column(ROLE_SHEET, "Mã tổ chức", "org_code", "code", True, True,
           N_("Code of the organisation where the role is held."),
           N_("Required. An organisation code from the sheet “Tổ chức” or already in the "
              "system; the member must belong to it or to an organisation under it."),
           "CB-KHOANOI", 16),
    Column(ROLE_SHEET, "Vai trò", "role", "role", True, True,
           N_("The role."),
           N_("Required. “Bí thư” (at most one per organisation), “Phó bí thư”, "
              "“Cấp ủy viên”, “Ban tổ chức” (not for a chi bộ); or a representative who gives "
              "the opinion of a body on the ratings of the organisations in this one's subtree: "
              "“Đại diện Thường trực HĐND và UBND”, “Đại diện Ủy ban MTTQ”, “Đại diện các đoàn "
              "thể chính trị - xã hội”, “Đại diện lãnh đạo cơ quan/đơn vị”."),
           "Bí thư", 16),
)

COLUMNS: dict[str, tuple[Column, ...]] = {
    ORG_SHEET: ORG_COLUMNS,
    MEMBER_SHEET: MEMBER_COLUMNS,
    ROLE_SHEET: ROLE_COLUMNS,
}


def _col(sheet: str, fld: str) -> Column:
    for c in COLUMNS[sheet]:
        if c.field == fld:
            return c
    raise KeyError(fld)


def _h(sheet: str, fld: str) -> str:
    return _col(sheet, fld).header


def column_reference() -> list[tuple[str, str, str, str]]:
    """(sheet, header, meaning msgid, allowed values msgid) for every column."""
    return [(c.sheet, c.header, c.meaning, c.allowed) for cols in COLUMNS.values() for c in cols]


MD_SHEET = N_("Sheet")
MD_COLUMN = N_("Column")
MD_MEANING = N_("Meaning")
MD_ALLOWED = N_("Allowed values")


def column_reference_markdown(gettext: Callable[[str], str]) -> str:
    """The column reference as a Markdown table, translated with ``gettext``."""

    def cell(s: str) -> str:
        return s.replace("|", "\\|").replace("\n", " ")

    lines = [
        "| " + " | ".join(gettext(h) for h in (MD_SHEET, MD_COLUMN, MD_MEANING, MD_ALLOWED))
        + " |",
        "| --- | --- | --- | --- |",
    ]
    for sheet, header, meaning, allowed in column_reference():
        lines.append(
            f"| {cell(sheet)} | {cell(header)} | {cell(gettext(meaning))} "
            f"| {cell(gettext(allowed))} |"
        )
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# Normalisation and cell parsing
# --------------------------------------------------------------------------

_WS_RE = re.compile(r"\s+")


def _nfc(s: str) -> str:
    return _WS_RE.sub(" ", unicodedata.normalize("NFC", s)).strip()


def _key(s: Any) -> str:
    """Matching key for headers and vocabulary labels: NFC, trimmed, case-folded."""
    return _nfc(str(s)).casefold() if s is not None else ""


def _fold(s: str) -> str:
    """Key that also ignores Vietnamese diacritics (for sheet names)."""
    d = unicodedata.normalize("NFD", _key(s).replace("đ", "d"))
    return "".join(ch for ch in d if not unicodedata.combining(ch))


_HEADER_KEYS: dict[str, dict[str, Column]] = {
    sheet: {_key(c.header): c for c in cols} for sheet, cols in COLUMNS.items()
}
_VOCAB_KEYS: dict[str, dict[str, str]] = {
    name: {**{_key(code): code for code in vocab.values()},
           **{_key(label): code for label, code in vocab.items()}}
    for name, vocab in _VOCABS.items()
}
_SHEET_KEYS = {_fold(s): s for s in SHEETS}


def _is_blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _fmt_date(d: date) -> str:
    return d.strftime("%d/%m/%Y")


def _as_text(v: Any) -> str | None:
    if _is_blank(v):
        return None
    if isinstance(v, bool):
        return YES_LABEL if v else NO_LABEL
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, datetime):
        v = v.date()
    if isinstance(v, date):
        return _fmt_date(v)
    return _nfc(str(v)) or None


def _display(v: Any) -> str:
    return _as_text(v) or ""


class _CellError(Explained):
    pass


_DMY_RE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_ISO_RE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")


def parse_date(v: Any) -> date | None:
    if _is_blank(v):
        return None
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    if isinstance(v, str):
        s = _nfc(v)
        try:
            if m := _DMY_RE.fullmatch(s):
                return date(int(m[3]), int(m[2]), int(m[1]))
            if m := _ISO_RE.fullmatch(s):
                return date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            pass
    raise _CellError(E_BAD_DATE, value=_display(v))


def parse_bool(v: Any) -> bool:
    if v is None:
        return False
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float) and v in (0, 1):
        return bool(v)
    if isinstance(v, str):
        k = _key(v)
        if k in _YES:
            return True
        if k in _NO:
            return False
    raise _CellError(E_BAD_BOOL, value=_display(v))


def _parse_int(v: Any) -> int:
    if _is_blank(v):
        return 0
    if isinstance(v, bool):
        pass
    elif isinstance(v, int):
        return v
    elif isinstance(v, float) and v.is_integer():
        return int(v)
    elif isinstance(v, str) and re.fullmatch(r"[+-]?\d+", _nfc(v)):
        return int(_nfc(v))
    raise _CellError(E_BAD_SICK_LEAVE, value=_display(v), max=SICK_LEAVE_MAX)


_VOCAB_ERRORS = {
    "kind": E_UNKNOWN_KIND,
    "status": E_UNKNOWN_STATUS,
    "role": E_UNKNOWN_ROLE,
    "discipline": E_UNKNOWN_DISCIPLINE,
}


def _allowed(vocab_name: str) -> str:
    return ", ".join(f"«{label}»" for label in _VOCABS[vocab_name])


def _parse_vocab(name: str, v: Any) -> str | None:
    text = _as_text(v)
    if text is None:
        return None
    code = _VOCAB_KEYS[name].get(_key(text))
    if code is None:
        raise _CellError(_VOCAB_ERRORS[name], value=text, allowed=_allowed(name))
    return code


def _parse_cell(col: Column, v: Any) -> Any:
    t = col.type
    if t == "code":
        text = _as_text(v)
        return text.upper() if text else None
    if t == "text":
        return _as_text(v)
    if t == "date":
        return parse_date(v)
    if t == "bool":
        return parse_bool(v)
    if t == "int":
        return _parse_int(v)
    return _parse_vocab(t, v)


_DEFAULTS = {"bool": False, "int": 0}

# --------------------------------------------------------------------------
# Reading files
# --------------------------------------------------------------------------


@dataclass
class _Table:
    sheet: str  # canonical sheet
    label: str  # name used in errors
    rows: list[tuple[int, list[Any]]]  # (row number, values), header first


@dataclass
class _ReadState:
    roster: Roster = field(default_factory=Roster)
    errors: list[RosterError] = field(default_factory=list)
    bad: set[tuple[str, int | None, str]] = field(default_factory=set)
    missing_columns: set[tuple[str, str]] = field(default_factory=set)  # (label, header)
    rank: dict[str, int] = field(default_factory=dict)  # label -> order of appearance
    canon: dict[str, str] = field(default_factory=dict)  # label -> canonical sheet

    def error(self, sheet: str, row: int | None, column: str | None, msgid: str,
              **params: Any) -> None:
        self.errors.append(RosterError(sheet, row, column, msgid, params))


def _sheet_list() -> str:
    return ", ".join(f"«{s}»" for s in SHEETS)


def _looks_xlsx(content: bytes) -> bool:
    return content[:4] == b"PK\x03\x04"


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f}".rstrip("0").rstrip(".")


def _zip_too_big(name: str, content: bytes, st: _ReadState, limits: Limits) -> bool:
    """Refuse an .xlsx whose declared unpacked size is beyond the limits (Python's zipfile
    never unpacks more than a member declares, so the declaration bounds the work)."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        st.error(name, None, None, E_XLSX_UNREADABLE)
        return True
    if len(members) > limits.zip_members or (
        sum(m.file_size for m in members) > limits.unzipped_bytes
    ):
        st.error(name, None, None, E_LIMIT_UNZIPPED, max=_mb(limits.unzipped_bytes))
        return True
    return False


def _sheet_rows(ws: Any, label: str, st: _ReadState, limits: Limits) -> list[tuple[int, list[Any]]]:
    """The non-blank rows of a read-only worksheet, within the limits (else an error)."""
    from openpyxl.utils import get_column_letter

    declared_rows, declared_columns = ws.max_row or 0, ws.max_column or 0
    if declared_rows > limits.rows:
        st.error(label, None, None, E_LIMIT_ROWS, rows=declared_rows, max=limits.rows)
        return []
    if declared_columns > limits.columns:
        st.error(label, None, None, E_LIMIT_COLUMNS, columns=get_column_letter(declared_columns),
                 max=limits.columns)
        return []
    ws.reset_dimensions()  # the declared size may lie: read what is there, within the limits
    rows = []
    for i, values in enumerate(ws.iter_rows(values_only=True), start=1):
        if i > limits.rows:
            st.error(label, None, None, E_LIMIT_ROWS, rows=i, max=limits.rows)
            return []
        if len(values) > limits.columns:
            last = max((p for p, v in enumerate(values, 1) if not _is_blank(v)), default=0)
            if last > limits.columns:
                st.error(label, None, None, E_LIMIT_COLUMNS,
                         columns=get_column_letter(min(last, 16_384)), max=limits.columns)
                return []
            values = values[: limits.columns]
        if not all(_is_blank(v) for v in values):
            rows.append((i, list(values)))
    return rows


def _too_large(name: str, content: bytes, st: _ReadState, limits: Limits) -> bool:
    if len(content) <= limits.file_bytes:
        return False
    st.error(name, None, None, E_LIMIT_FILE, size=_mb(len(content)), max=_mb(limits.file_bytes))
    return True


@contextlib.contextmanager
def _open_workbook(
    name: str, content: bytes, st: _ReadState, limits: Limits, unreadable: str
) -> Iterator[Any]:
    """The .xlsx opened read-only within the limits and closed at the end; None (and the
    error `unreadable`, or a limit's) when it cannot be."""
    import openpyxl

    if _zip_too_big(name, content, st, limits):
        yield None
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # openpyxl raises assorted errors on damaged or foreign files
        st.error(name, None, None, unreadable)
        yield None
        return
    try:
        yield workbook
    finally:
        workbook.close()


def _read_sheet(ws: Any, label: str, name: str, st: _ReadState, limits: Limits,
                unreadable: str) -> list[tuple[int, list[Any]]] | None:
    """A worksheet's rows (see _sheet_rows); None, with the error `unreadable` on the file
    `name`, when the sheet is damaged inside a workbook that opened."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _sheet_rows(ws, label, st, limits)
    except Exception:  # openpyxl raises assorted errors on a damaged sheet
        st.error(name, None, None, unreadable)
        return None


def _read_xlsx(name: str, content: bytes, st: _ReadState, limits: Limits) -> list[_Table]:
    tables: list[_Table] = []
    found = False
    with _open_workbook(name, content, st, limits, E_XLSX_UNREADABLE) as wb:
        if wb is None:
            return []
        for ws in wb.worksheets:
            sheet = _SHEET_KEYS.get(_fold(ws.title))
            rows = _read_sheet(ws, sheet or name, name, st, limits, E_XLSX_UNREADABLE)
            if rows is None:
                return []
            if sheet is None:
                if _fold(ws.title) != _fold(GUIDE_SHEET) and rows:
                    st.error(name, None, None, E_UNKNOWN_SHEET, name=_nfc(ws.title),
                             sheets=_sheet_list())
                continue
            found = True
            if rows:
                tables.append(_Table(sheet, sheet, rows))
            st.roster.sheets.add(sheet)
    if not found:
        st.error(name, None, None, E_NO_SHEETS, sheets=_sheet_list())
    return tables


def _match_count(sheet: str, header: list[Any]) -> int:
    keys = _HEADER_KEYS[sheet]
    return sum(1 for h in header if _key(h) in keys)


def _read_csv(name: str, content: bytes, st: _ReadState, limits: Limits) -> list[_Table]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        st.error(name, None, None, E_CSV_NOT_UTF8)
        return []
    lines = text.count("\n") + 1
    if lines > limits.rows:
        st.error(name, None, None, E_LIMIT_ROWS, rows=lines, max=limits.rows)
        return []
    best: tuple[int, int, list[tuple[int, list[Any]]]] | None = None
    for delim in (";", ",", "\t"):
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delim))
        rows = [
            (i, list(r)) for i, r in enumerate(records, start=1)
            if not all(_is_blank(v) for v in r)
        ]
        if not rows:
            return []
        header = rows[0][1]
        score = max(_match_count(s, header) for s in SHEETS)
        if best is None or (score, len(header)) > (best[0], best[1]):
            best = (score, len(header), rows)
    assert best is not None
    rows = best[2]
    header = rows[0][1]
    widest = max(len(values) for _i, values in rows)
    if widest > limits.columns:
        from openpyxl.utils import get_column_letter

        st.error(name, None, None, E_LIMIT_COLUMNS, columns=get_column_letter(min(widest, 16_384)),
                 max=limits.columns)
        return []
    scores = sorted(((_match_count(s, header), s) for s in SHEETS), reverse=True)
    if scores[0][0] < 2 or scores[0][0] == scores[1][0]:
        st.error(name, None, None, E_CSV_NO_SHEET, sheets=_sheet_list())
        return []
    sheet = scores[0][1]
    st.roster.sheets.add(sheet)
    return [_Table(sheet, name, rows)]


_ROW_TYPES = {ORG_SHEET: OrgRow, MEMBER_SHEET: MemberRow, ROLE_SHEET: RoleRow}


def header_index(label: str, header: Sequence[Any], columns: Sequence[Any],
                 st: _ReadState) -> dict[str, int]:
    """Where each of `columns` (each with a header, a field and whether it is a
    required_column) stands in a sheet's header row, by field. Unknown and repeated headers
    and missing required columns are errors of the sheet `label`."""
    keys = {_key(c.header): c for c in columns}
    index: dict[str, int] = {}  # field -> position
    for pos, h in enumerate(header):
        if _is_blank(h):
            continue
        col = keys.get(_key(h))
        if col is None:
            st.error(label, None, _nfc(str(h)), E_UNKNOWN_COLUMN,
                     columns=", ".join(f"«{c.header}»" for c in columns))
        elif col.field in index:
            st.error(label, None, col.header, E_DUPLICATE_COLUMN)
        else:
            index[col.field] = pos
    for col in columns:
        if col.field not in index and col.required_column:
            st.error(label, None, col.header, E_MISSING_COLUMN)
            st.missing_columns.add((label, col.header))
    return index


def _parse_table(table: _Table, st: _ReadState) -> None:
    cols = COLUMNS[table.sheet]
    index = header_index(table.label, table.rows[0][1], cols, st)
    row_type = _ROW_TYPES[table.sheet]
    target = {ORG_SHEET: st.roster.orgs, MEMBER_SHEET: st.roster.members,
              ROLE_SHEET: st.roster.roles}[table.sheet]
    for rownum, values in table.rows[1:]:
        kwargs: dict[str, Any] = {"row": rownum, "sheet": table.label}
        for col in cols:
            pos = index.get(col.field)
            raw = values[pos] if pos is not None and pos < len(values) else None
            try:
                kwargs[col.field] = _parse_cell(col, raw)
            except _CellError as exc:
                st.error(table.label, rownum, col.header, exc.msgid, **exc.params)
                st.bad.add((table.label, rownum, col.header))
                kwargs[col.field] = _DEFAULTS.get(col.type)
        target.append(row_type(**kwargs))


def _read(sources: Sequence[tuple[str, bytes]], limits: Limits | None = None) -> _ReadState:
    st = _ReadState()
    limits = limits or CLI_LIMITS
    for name, content in sources:
        lower = name.lower()
        if _too_large(name, content, st, limits):
            continue
        if _looks_xlsx(content):
            tables = _read_xlsx(name, content, st, limits)
        elif lower.endswith((".xlsx", ".xlsm", ".xls", ".ods")):
            st.error(name, None, None, E_NOT_XLSX_OR_CSV)
            continue
        elif b"\x00" in content[:4096]:  # binary, or UTF-16 "Unicode text" from Excel
            is_text = lower.endswith((".csv", ".txt"))
            st.error(name, None, None, E_CSV_NOT_UTF8 if is_text else E_NOT_XLSX_OR_CSV)
            continue
        else:
            try:
                content.decode("utf-8-sig")
            except UnicodeDecodeError:
                if lower.endswith((".csv", ".txt")):
                    st.error(name, None, None, E_CSV_NOT_UTF8)
                else:
                    st.error(name, None, None, E_NOT_XLSX_OR_CSV)
                continue
            tables = _read_csv(name, content, st, limits)
        for table in tables:
            st.rank.setdefault(table.label, len(st.rank))
            st.canon[table.label] = table.sheet
            _parse_table(table, st)
    if not st.errors and not (st.roster.orgs or st.roster.members or st.roster.roles):
        st.error(", ".join(name for name, _ in sources), None, None, E_NOTHING)
    return st


def read_roster(sources: Sequence[tuple[str, bytes]], limits: Limits | None = None) -> Roster:
    """Parse (file name, content) pairs; raise :class:`RosterInvalid` with every error."""
    st = _read(sources, limits)
    if any(e.msgid in LIMIT_ERRORS for e in st.errors):
        raise RosterInvalid([e for e in st.errors if e.msgid in LIMIT_ERRORS])
    if st.errors:
        raise RosterInvalid(_sorted(st.errors, st))
    return st.roster


def load_roster(
    sources: Sequence[tuple[str, bytes]],
    *,
    known_orgs: Iterable[KnownOrg] = (),
    known_members: Iterable[KnownMember] = (),
    today: date,
    limits: Limits | None = None,
) -> Roster:
    """Read and validate; raise :class:`RosterInvalid` with every error found. `limits`
    (default: the operator's generous CLI_LIMITS) bound what the files may hold."""
    st = _read(sources, limits)
    if any(e.msgid in LIMIT_ERRORS for e in st.errors):
        raise RosterInvalid([e for e in st.errors if e.msgid in LIMIT_ERRORS])
    errors = st.errors + _validate(
        st.roster, known_orgs, known_members, today, st.bad, st.missing_columns
    )
    if errors:
        raise RosterInvalid(_sorted(errors, st))
    return st.roster


_COLUMN_ORDER = {
    (sheet, c.header): i for sheet, cols in COLUMNS.items() for i, c in enumerate(cols)
}


def _sorted(errors: list[RosterError], st: _ReadState) -> list[RosterError]:
    """File-level errors first, then by sheet, row and column (stable otherwise)."""

    def key(e: RosterError) -> tuple[int, int, int]:
        col = -1
        if e.column:
            col = _COLUMN_ORDER.get((st.canon.get(e.sheet, e.sheet), e.column), 99)
        return (st.rank.get(e.sheet, -1), e.row if e.row is not None else -1, col)

    return sorted(errors, key=key)


# --------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------


def validate(
    roster: Roster,
    *,
    known_orgs: Iterable[KnownOrg] = (),
    known_members: Iterable[KnownMember] = (),
    today: date,
) -> list[RosterError]:
    """Check a parsed roster against itself and what the database already has."""
    return _validate(roster, known_orgs, known_members, today, set(), set())


def _validate(
    roster: Roster,
    known_orgs: Iterable[KnownOrg],
    known_members: Iterable[KnownMember],
    today: date,
    bad: set[tuple[str, int | None, str]],
    missing_columns: set[tuple[str, str]],
) -> list[RosterError]:
    errors: list[RosterError] = []
    known_org = {k.code.upper(): k for k in known_orgs}
    known_mem = {k.code.upper(): k for k in known_members}

    def err(sheet: str, row: int | None, column: str | None, msgid: str, **params: Any) -> None:
        errors.append(RosterError(sheet, row, column, msgid, params))

    def skip(sheet: str, row: int, column: str) -> bool:
        return (sheet, row, column) in bad or (sheet, column) in missing_columns

    def check_code(r: Any, fld: str, canonical: str, required: bool) -> str | None:
        """Required and charset checks; return the code if usable."""
        header = _h(canonical, fld)
        value = getattr(r, fld)
        if skip(r.sheet, r.row, header):
            return None
        if value is None or value == "":
            if required:
                err(r.sheet, r.row, header, E_REQUIRED)
            return None
        if len(value) > CODE_MAX or not _CODE_RE.fullmatch(value):
            err(r.sheet, r.row, header, E_BAD_CODE, value=value, max=CODE_MAX)
            return None
        return value.upper()

    def check_required(r: Any, fld: str, canonical: str) -> bool:
        header = _h(canonical, fld)
        if skip(r.sheet, r.row, header):
            return False
        if getattr(r, fld) in (None, ""):
            err(r.sheet, r.row, header, E_REQUIRED)
            return False
        return True

    def check_vocab(r: Any, fld: str, canonical: str, vocab: str) -> str | None:
        value = getattr(r, fld)
        if value is None:
            return None
        if value not in _VOCABS[vocab].values():
            err(r.sheet, r.row, _h(canonical, fld), _VOCAB_ERRORS[vocab], value=value,
                allowed=_allowed(vocab))
            return None
        return value

    def check_past(r: Any, fld: str, canonical: str) -> date | None:
        value = getattr(r, fld)
        if value is None:
            return None
        if value > today:
            err(r.sheet, r.row, _h(canonical, fld), E_FUTURE_DATE, value=_fmt_date(value))
            return None
        return value

    def first_use(seen: dict[str, Any], r: Any, code: str | None, canonical: str) -> bool:
        """Record the row under its code; False if it has none or the code is used already."""
        if code is None:
            return False
        if code in seen:
            err(r.sheet, r.row, _h(canonical, "code"), E_DUPLICATE_CODE, code=code,
                first_row=seen[code].row)
            return False
        seen[code] = r
        return True

    # ---- organisations -------------------------------------------------
    file_orgs: dict[str, OrgRow] = {}
    parents: dict[str, str | None] = {k: v.parent_code.upper() if v.parent_code else None
                                      for k, v in known_org.items()}
    kinds: dict[str, str] = {k: v.kind for k, v in known_org.items()}
    org_parent_ok: list[tuple[OrgRow, str]] = []
    for o in roster.orgs:
        code = check_code(o, "code", ORG_SHEET, True)
        check_required(o, "name", ORG_SHEET)
        kind = None
        if check_required(o, "kind", ORG_SHEET):
            kind = check_vocab(o, "kind", ORG_SHEET, "kind")
        parent = check_code(o, "parent_code", ORG_SHEET, False)
        check_past(o, "founded_on", ORG_SHEET)
        if o.residential and kind is not None and kind not in CELL_KINDS:
            err(o.sheet, o.row, _h(ORG_SHEET, "residential"), E_RESIDENTIAL_NOT_CELL,
                code=code or "", kind=label_of(ORG_KINDS, kind))
        if not first_use(file_orgs, o, code, ORG_SHEET):
            continue
        parents[code] = parent
        if kind is not None:
            kinds[code] = kind
        else:
            kinds.pop(code, None)
        if parent is not None:
            org_parent_ok.append((o, parent))

    org_exists = set(file_orgs) | set(known_org)
    aggregate_orgs = bool(roster.sheets) and ORG_SHEET not in roster.sheets
    unknown_org_codes: list[str] = []

    def unknown_org(r: Any, column: str, code: str) -> None:
        if aggregate_orgs:
            if code not in unknown_org_codes:
                unknown_org_codes.append(code)
        else:
            err(r.sheet, r.row, column, E_UNKNOWN_ORG, code=code)

    parent_header = _h(ORG_SHEET, "parent_code")
    for o, parent in org_parent_ok:
        if parent not in org_exists:
            unknown_org(o, parent_header, parent)
        elif kinds.get(parent) in CELL_KINDS:
            err(o.sheet, o.row, parent_header, E_PARENT_IS_CELL, code=parent)

    # cycles: walk up from every file organisation; report each cycle once
    reported: set[str] = set()
    for code, o in sorted(file_orgs.items(), key=lambda kv: kv[1].row):
        path = [code]
        seen = {code}
        cur = parents.get(code)
        while cur is not None and cur not in seen and cur in parents:
            path.append(cur)
            seen.add(cur)
            cur = parents.get(cur)
        if cur == code and code not in reported:
            reported.update(path)
            err(o.sheet, o.row, parent_header, E_CYCLE,
                path=" → ".join([*path, code]))

    def within(org: str, ancestor: str) -> bool | None:
        """Whether ``org`` is ``ancestor`` or under it; None when the chain is broken."""
        seen: set[str] = set()
        cur: str | None = org
        while cur is not None:
            if cur == ancestor:
                return True
            if cur in seen or cur not in org_exists:
                return None  # a cycle or an unknown parent, reported elsewhere
            seen.add(cur)
            cur = parents.get(cur)
        return False

    def check_cell_ref(r: Any, column: str, code: str, msgid: str) -> bool:
        if code not in org_exists:
            unknown_org(r, column, code)
            return False
        kind = kinds.get(code)
        if kind is not None and kind not in CELL_KINDS:
            err(r.sheet, r.row, column, msgid, code=code, kind=label_of(ORG_KINDS, kind))
            return False
        return True

    # ---- members -------------------------------------------------------
    file_members: dict[str, MemberRow] = {}
    for m in roster.members:
        code = check_code(m, "code", MEMBER_SHEET, True)
        check_required(m, "full_name", MEMBER_SHEET)
        born = check_past(m, "birth_date", MEMBER_SHEET)
        org = check_code(m, "org_code", MEMBER_SHEET, True)
        if org is not None:
            check_cell_ref(m, _h(MEMBER_SHEET, "org_code"), org, E_MEMBER_NOT_IN_CELL)
        if check_required(m, "status", MEMBER_SHEET):
            check_vocab(m, "status", MEMBER_SHEET, "status")
        if check_required(m, "admitted_on", MEMBER_SHEET):
            admitted = check_past(m, "admitted_on", MEMBER_SHEET)
            if admitted is not None and born is not None and admitted <= born:
                err(m.sheet, m.row, _h(MEMBER_SHEET, "admitted_on"), E_ADMITTED_BEFORE_BIRTH,
                    admitted=_fmt_date(admitted), born=_fmt_date(born))
        temp = check_code(m, "temporary_org_code", MEMBER_SHEET, False)
        temp_header = _h(MEMBER_SHEET, "temporary_org_code")
        if temp is not None and check_cell_ref(m, temp_header, temp, E_TEMPORARY_NOT_CELL):
            if temp == org:
                err(m.sheet, m.row, temp_header, E_TEMPORARY_IS_OWN)
        check_past(m, "transferred_in_on", MEMBER_SHEET)
        sick_header = _h(MEMBER_SHEET, "sick_leave_months")
        if not skip(m.sheet, m.row, sick_header) and not (
            0 <= m.sick_leave_months <= SICK_LEAVE_MAX
        ):
            err(m.sheet, m.row, sick_header, E_BAD_SICK_LEAVE, value=m.sick_leave_months,
                max=SICK_LEAVE_MAX)
        form = check_vocab(m, "discipline_form", MEMBER_SHEET, "discipline")
        duties_header = _h(MEMBER_SHEET, "discipline_in_official_duties")
        if (m.discipline_in_official_duties and form is None and m.discipline_form is None
                and not skip(m.sheet, m.row, _h(MEMBER_SHEET, "discipline_form"))):
            err(m.sheet, m.row, duties_header, E_DUTIES_WITHOUT_FORM)
        first_use(file_members, m, code, MEMBER_SHEET)

    def member_org(code: str) -> str | None:
        if code in file_members:
            oc = file_members[code].org_code
            return oc.upper() if oc else None
        if code in known_mem:
            return known_mem[code].org_code.upper()
        return None

    # ---- roles ---------------------------------------------------------
    aggregate_members = bool(roster.sheets) and MEMBER_SHEET not in roster.sheets
    unknown_member_codes: list[str] = []
    seen_roles: dict[tuple[str, str, str], int] = {}
    secretaries: dict[str, RoleRow] = {}
    for r in roster.roles:
        mcode = check_code(r, "member_code", ROLE_SHEET, True)
        ocode = check_code(r, "org_code", ROLE_SHEET, True)
        role = None
        if check_required(r, "role", ROLE_SHEET):
            role = check_vocab(r, "role", ROLE_SHEET, "role")
        member_ok = org_ok = False
        if mcode is not None:
            if mcode in file_members or mcode in known_mem:
                member_ok = True
            elif aggregate_members:
                if mcode not in unknown_member_codes:
                    unknown_member_codes.append(mcode)
            else:
                err(r.sheet, r.row, _h(ROLE_SHEET, "member_code"), E_UNKNOWN_MEMBER, code=mcode)
        if ocode is not None:
            if ocode in org_exists:
                org_ok = True
            else:
                unknown_org(r, _h(ROLE_SHEET, "org_code"), ocode)
        if mcode is None or ocode is None or role is None:
            continue
        key = (mcode, ocode, role)
        if key in seen_roles:
            err(r.sheet, r.row, None, E_DUPLICATE_ROW, first_row=seen_roles[key])
            continue
        seen_roles[key] = r.row
        if role == "organising_office" and kinds.get(ocode) in CELL_KINDS:
            err(r.sheet, r.row, _h(ROLE_SHEET, "role"), E_OFFICE_ON_CELL)
        if member_ok and org_ok:
            morg = member_org(mcode)
            if morg is not None and within(morg, ocode) is False:
                err(r.sheet, r.row, _h(ROLE_SHEET, "member_code"), E_NOT_A_MEMBER,
                    member=mcode, org=ocode)
        if role == "secretary":
            if ocode in secretaries:
                first = secretaries[ocode]
                err(r.sheet, r.row, _h(ROLE_SHEET, "role"), E_TWO_SECRETARIES, org=ocode,
                    member=first.member_code, first_row=first.row)
            else:
                secretaries[ocode] = r

    if unknown_org_codes:
        errors.append(RosterError(ORG_SHEET, None, None, E_MISSING_SHEET,
                                  {"codes": ", ".join(unknown_org_codes)}))
    if unknown_member_codes:
        errors.append(RosterError(MEMBER_SHEET, None, None, E_MISSING_SHEET,
                                  {"codes": ", ".join(unknown_member_codes)}))
    return errors


# --------------------------------------------------------------------------
# Template
# --------------------------------------------------------------------------

def catalog_gettext(lang: str = "vi") -> Callable[[str], str]:
    """The ``roster`` domain alone, for the template's guide sheet (always Vietnamese)."""
    return domain_gettext(DOMAIN, lang)


G_TITLE = N_("How to fill in the roster")
G_INTRO = (
    N_("Fill in the sheets “Tổ chức” (organisations), “Đảng viên” (members) and “Vai trò” "
       "(roles), one row per item, keeping the header row. Replace the example rows."),
    N_("Dates are written dd/mm/yyyy. Yes/no columns take “Có” or “Không”; an empty cell "
       "means no."),
    N_("Codes link the sheets: a member's chi bộ, an organisation's parent and the roles "
       "refer to codes in this file or already in the system. Columns may be in any order; "
       "optional columns may be left out."),
    N_("You may also send each sheet as a CSV file (UTF-8) with the same header row."),
)
G_REQUIRED = N_("Required column")

_VOCAB_LIST = {
    "kind": [label for label in ORG_KINDS],
    "status": list(STATUSES),
    "role": list({code: label_of(ROLES, code) for code in ROLES.values()}.values()),
    "discipline": list(DISCIPLINE_FORMS),
    "bool": [YES_LABEL, NO_LABEL],
}
TEMPLATE_ROWS = 1000


def write_template(path_or_stream: str | Path | BinaryIO,
                   gettext: Callable[[str], str] | None = None) -> None:
    """Write the empty roster workbook: three sheets with an example row, and a guide."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    _ = gettext or catalog_gettext("vi")
    wb = Workbook()
    guide = wb.active
    guide.title = GUIDE_SHEET
    bold = Font(bold=True)
    for sheet, cols in COLUMNS.items():
        ws = wb.create_sheet(sheet)
        for i, col in enumerate(cols, start=1):
            letter = get_column_letter(i)
            head = ws.cell(row=1, column=i, value=col.header)
            head.font = bold
            head.alignment = Alignment(wrap_text=True, vertical="center")
            dim = ws.column_dimensions[letter]
            dim.width = max(col.width, 10)
            cell = ws.cell(row=2, column=i, value=col.example)
            fmt = {"date": "DD/MM/YYYY", "code": "@"}.get(col.type)
            if fmt:  # whole column: dates shown dd/mm/yyyy, codes kept as text (leading zeros)
                dim.number_format = fmt
                cell.number_format = fmt
            choices = _VOCAB_LIST.get(col.type)
            if choices:
                dv = DataValidation(
                    type="list",
                    formula1='"' + ",".join(choices) + '"',
                    allow_blank=True,
                    showErrorMessage=True,
                    errorStyle="warning",
                    error=_allowed_text(col, _),
                    showDropDown=False,
                )
                ws.add_data_validation(dv)
                dv.add(f"{letter}2:{letter}{TEMPLATE_ROWS}")
        ws.freeze_panes = "A2"
        ws.row_dimensions[1].height = 32

    guide.column_dimensions["A"].width = 14
    guide.column_dimensions["B"].width = 30
    guide.column_dimensions["C"].width = 60
    guide.column_dimensions["D"].width = 70
    guide.column_dimensions["E"].width = 12
    guide.cell(row=1, column=1, value=_(G_TITLE)).font = Font(bold=True, size=14)
    r = 2
    for line in G_INTRO:
        guide.cell(row=r, column=1, value=_(line))
        r += 1
    r += 1
    for i, h in enumerate((MD_SHEET, MD_COLUMN, MD_MEANING, MD_ALLOWED, G_REQUIRED), start=1):
        guide.cell(row=r, column=i, value=_(h)).font = bold
    guide.freeze_panes = None
    wrap = Alignment(wrap_text=True, vertical="top")
    for cols in COLUMNS.values():
        for col in cols:
            r += 1
            values = (col.sheet, col.header, _(col.meaning), _(col.allowed),
                      YES_LABEL if col.required_column else "")
            for i, v in enumerate(values, start=1):
                guide.cell(row=r, column=i, value=v).alignment = wrap
    wb.active = 0
    wb.save(path_or_stream)


def _allowed_text(col: Column, gettext: Callable[[str], str]) -> str:
    text = gettext(col.allowed)
    return text[:250]  # Excel limits the error message of a validation to 255 characters


__all__ = [
    "CELL_KINDS", "COLUMNS", "DISCIPLINE_FORMS", "GUIDE_SHEET", "KnownMember", "KnownOrg",
    "LOC_CELL", "LOC_COLUMN", "LOC_ROW", "LOC_SHEET", "MEMBER_SHEET", "MemberRow", "N_",
    "ORG_KINDS", "ORG_SHEET", "OrgRow", "ROLES", "ROLE_SHEET", "RoleRow", "Roster",
    "RosterError", "RosterInvalid", "STATUSES", "catalog_gettext", "column_reference",
    "column_reference_markdown", "label_of", "load_roster", "read_roster", "validate",
    "write_template",
]


def header(sheet: str, fld: str) -> str:
    """The canonical (Vietnamese) header of a field's column, for errors located by column."""
    return _h(sheet, fld)
