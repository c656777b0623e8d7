"""Facts about a member and an organisation that the rules read (DOMAIN §2, §3)."""

from __future__ import annotations

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
