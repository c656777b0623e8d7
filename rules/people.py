"""Facts about a member and an organisation that the rules read (DOMAIN §2, §3)."""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass
from datetime import date
from enum import Enum

from rules.text import N_


class Status(Enum):
    OFFICIAL = "official"  # đảng viên chính thức
    PROBATIONARY = "probationary"  # đảng viên dự bị


class DisciplineForm(Enum):
    """Forms of party discipline for a member, lightest first."""

    REPRIMAND = "reprimand"  # khiển trách
    WARNING = "warning"  # cảnh cáo
    DISMISSAL = "dismissal"  # cách chức
    EXPULSION = "expulsion"  # khai trừ

    @property
    def severity(self) -> int:
        return _SEVERITY[self]


_SEVERITY = {
    DisciplineForm.REPRIMAND: 1,
    DisciplineForm.WARNING: 2,
    DisciplineForm.DISMISSAL: 3,
    DisciplineForm.EXPULSION: 4,
}

DISCIPLINE_NAMES: dict[DisciplineForm, str] = {
    DisciplineForm.REPRIMAND: N_("reprimand"),
    DisciplineForm.WARNING: N_("warning"),
    DisciplineForm.DISMISSAL: N_("dismissal from post"),
    DisciplineForm.EXPULSION: N_("expulsion"),
}


class HeadException(Enum):
    """Why the head-not-above-the-collective rule (R-C4) does not apply."""

    # Bí thư chi bộ thôn, tổ dân phố không là cán bộ, công chức (seed 004, B.4).
    VILLAGE_SECRETARY = "village_secretary"
    # Người đứng đầu mới chuyển đến, không liên quan đến mức xếp loại của đơn vị
    # (seed 004, B.6).
    NEWLY_TRANSFERRED = "newly_transferred"


class OrgKind(Enum):
    GRASSROOTS_COMMITTEE = "grassroots_committee"  # đảng bộ cơ sở
    GRASSROOTS_CELL = "grassroots_cell"  # chi bộ cơ sở
    CELL = "cell"  # chi bộ trực thuộc đảng ủy cơ sở
    UPPER_COMMITTEE = "upper_committee"  # cấp ủy cấp trên cơ sở


@dataclass(frozen=True)
class MemberFacts:
    """One member as seen by the chi bộ that holds this record."""

    member_id: str
    name: str = ""
    status: Status = Status.OFFICIAL
    admitted_on: date | None = None  # ngày kết nạp
    exempt: bool = False  # miễn công tác và sinh hoạt đảng
    suspended: bool = False  # đình chỉ sinh hoạt đảng
    prosecuted: bool = False  # bị khởi tố, truy tố, tạm giam (R-B3)
    committee_suspended: bool = False  # đình chỉ sinh hoạt cấp ủy only (R-E2)
    # Sinh hoạt tạm thời elsewhere: official here, attending another chi bộ for a while.
    temporary: bool = False
    # This record is a temporary attendance: the member's official chi bộ is another one.
    temporary_here: bool = False
    leader: bool = False  # cán bộ lãnh đạo, quản lý
    head: bool = False  # người đứng đầu
    head_exception: HeadException | None = None
    sick_leave_months: int = 0  # nghỉ ốm, months in the year
    maternity: bool = False  # nghỉ thai sản
    disciplined: bool = False  # bị thi hành kỷ luật trong năm
    discipline_form: DisciplineForm | None = None
    discipline_in_official_duties: bool = False  # vi phạm trong thi hành công vụ
    # The violation already lowered an earlier rating: one violation counts once (R-C3).
    discipline_counted_before: bool = False
    outside_political_system: bool = False  # retired, student, private business (2C)
    public_servant: bool = False  # cán bộ, công chức (R-C4's village-secretary exception)
    transferred_in_on: date | None = None  # chuyển sinh hoạt đến
    months_at_former_cell: int = 0  # time spent at the former chi bộ this year (R-E7)

    @property
    def official(self) -> bool:
        return self.status is Status.OFFICIAL


@dataclass(frozen=True)
class OrgFacts:
    """The organisation (tổ chức đảng) being reviewed."""

    org_id: str = ""
    kind: OrgKind = OrgKind.CELL
    founded_on: date | None = None
    residential: bool = False  # chi bộ thôn, tổ dân phố (R-C4's exception, seed 004 B.1.4)


class Presence(Enum):
    """Attendance at the review meeting (R-E5, R-B1, R-B3)."""

    PRESENT = "present"
    ABSENT_EXCUSED = "absent_excused"  # vắng cả buổi, có lý do được cấp ủy chấp nhận
    ABSENT = "absent"  # absent without an accepted excuse


def months_between(start: date, end: date) -> int:
    """Whole calendar months from ``start`` to ``end`` ("chưa đủ 6 tháng")."""
    months = (end.year - start.year) * 12 + end.month - start.month
    if end.day < start.day:
        months -= 1
    return months


# --- Vietnamese name order ------------------------------------------------------------------
#
# Lists of people are shown the Vietnamese way: by given name (the last word of the full
# name), then by the rest (family name, middle names), with the Vietnamese alphabet
#   a ă â b c d đ e ê (f) g h i (j) k l m n o ô ơ p q r s t u ư v (w) x y (z)
# as the primary order and the tones as a secondary difference (no tone < huyền < hỏi < ngã
# < sắc < nặng, the order of CLDR's "vi" tailoring), letter case last.
#
# Why a sort key of our own rather than a library: PyICU (the one complete implementation)
# has to be compiled against libicu-dev, and its binary re-packagings are stale
# (pyicu-binary, last release 2021) or unofficial (pyicu-wheels); pyuca implements the
# Unicode Collation Algorithm with the default table only, which puts "Đ" after "Z" and has
# no Vietnamese tailoring; vn-collate (PyPI, 0.1.0, alpha, one author, first released in
# 2026-10) is young and sorts spaces after every letter, which misorders multi-word names.
# The order itself is small and fixed, so a pure key tested against real names is the
# smaller risk. Punctuation and letters outside the Vietnamese alphabet sort after "z" by
# code point, which keeps the order total and deterministic.

_VI_LETTERS = "aăâbcdđeêfghijklmnoôơpqrstuưvwxyz"
_VI_PRIMARY = {letter: 100 + i for i, letter in enumerate(_VI_LETTERS)}
# Combining marks that make a letter of its own (breve, circumflex, horn) ...
_LETTER_MARKS = frozenset("\u0306\u0302\u031b")
# ... and the five tones, in collation order.
# Icelandic eth "Ð"/"ð" is typed for "Đ" by some keyboards; it looks the same and is read as đ.
_LOOKALIKES = {"\u00f0": "đ"}
_TONE_MARKS = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}


def _spelled_weights(word: str) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """Primary, secondary (tone) and tertiary (case) weights of one word, letter by letter
    (a letter: a base character and the combining marks after it, in NFD)."""
    clusters: list[str] = []
    for ch in unicodedata.normalize("NFD", word):
        if clusters and unicodedata.combining(ch):
            clusters[-1] += ch
        else:
            clusters.append(ch)
    primary: list[int] = []
    tones: list[int] = []
    cases: list[int] = []
    for cluster in clusters:
        base = cluster[0] + "".join(m for m in cluster[1:] if m in _LETTER_MARKS)
        letter = unicodedata.normalize("NFC", base)
        folded = _LOOKALIKES.get(letter.casefold(), letter.casefold())
        if folded.isdecimal() and len(folded) == 1:
            weight = int(folded)  # digits before letters
        else:
            weight = _VI_PRIMARY.get(folded, 1000 + ord(folded[0]))
        primary.append(weight)
        tones.append(max((_TONE_MARKS.get(m, 0) for m in cluster[1:]), default=0))
        cases.append(0 if letter == folded else 1)
    return tuple(primary), tuple(tones), tuple(cases)


# A name is sorted by its words' weights; a list of a province's members (150,000 names) is
# sorted in the reports, so the weights are looked up, not worked out each time: per word
# (names repeat their words: family names, "Văn", "Thị") and, for a word not seen yet, per
# character of its NFC spelling. A precomposed character is one letter of its own (its NFD
# form is a base and marks), so its weights are those ``_spelled_weights`` gives it alone;
# a character that is a mark, or whose NFD form holds more than one letter, sends the word
# the long way. The keys are the same either way (tests/rules/test_name_order.py).
_CHAR_WEIGHTS: dict[str, tuple[int, int, int] | None] = {}  # None: not one letter alone
_WORD_CACHE_SIZE = 1 << 16


def _char_weights(ch: str) -> tuple[int, int, int] | None:
    if ch in _CHAR_WEIGHTS:
        return _CHAR_WEIGHTS[ch]
    found = None
    if not unicodedata.combining(ch):
        primary, tones, cases = _spelled_weights(ch)
        if len(primary) == 1:
            found = (primary[0], tones[0], cases[0])
    _CHAR_WEIGHTS[ch] = found
    return found


@functools.lru_cache(maxsize=_WORD_CACHE_SIZE)
def _word_weights(word: str) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """``_spelled_weights(word)``, from the characters' weights where each is one letter."""
    letters = [_char_weights(ch) for ch in unicodedata.normalize("NFC", word)]
    if not letters or None in letters:
        return _spelled_weights(word)
    primary, tones, cases = zip(*letters, strict=False)  # triples
    return primary, tones, cases


# A roster's full names repeat (a few family and middle names, some hundred given names): a
# report or a list sorts the same names over and over, so their keys are kept too.
_NAME_CACHE_SIZE = 1 << 16


@functools.lru_cache(maxsize=_NAME_CACHE_SIZE)
def name_sort_key(full_name: str) -> tuple:
    """Sort key that orders full names the Vietnamese way (given name first).

    >>> sorted(["Vũ Văn An", "Đặng Thị An", "Dương Văn An"], key=name_sort_key)
    ['Dương Văn An', 'Đặng Thị An', 'Vũ Văn An']
    """
    words = full_name.split()
    ordered = words[-1:] + words[:-1]  # given name, then family and middle names
    if not ordered:
        return (), (), (), full_name
    primary, tones, cases = zip(*map(_word_weights, ordered), strict=False)  # triples
    return primary, tones, cases, full_name
