from datetime import date

from bot import roster as r

from .helpers import ROLE_HEADER
from .helpers import TODAY
from .helpers import errors
from .helpers import full_xlsx
from .helpers import members
from .helpers import orgs
from .helpers import roles
from .helpers import xlsx_errors

ORG, MEM, ROLE = r.ORG_SHEET, r.MEMBER_SHEET, r.ROLE_SHEET


def test_unknown_parent():
    o = orgs()
    o[2][3] = "DB-KHAC"
    assert xlsx_errors(orgs=o) == [(ORG, 3, "Mã tổ chức cấp trên", r.E_UNKNOWN_ORG)]


def test_parent_known_from_database():
    o = orgs()
    o[1][3] = "TINH"
    known = [r.KnownOrg("TINH", "province", "TW")]
    assert xlsx_errors(orgs=o, known_orgs=known) == []


def test_duplicate_org_code():
    o = orgs()
    o.append(["cb-noi", "Chi bộ trùng", "Chi bộ trực thuộc", "DB-BV", None])
    assert xlsx_errors(orgs=o) == [(ORG, 5, "Mã tổ chức", r.E_DUPLICATE_CODE)]


def test_duplicate_member_code():
    m = members()
    m[2][0] = "DV01"
    rl = [roles()[0], roles()[1]]  # DV01 only
    assert xlsx_errors(members=m, roles=rl) == [(MEM, 3, "Mã đảng viên", r.E_DUPLICATE_CODE)]


def test_bad_code_charset_and_length():
    o = orgs()
    o[3][0] = "X" * 33
    m = members()
    m[1][0] = "DV 01"
    rl = [roles()[0]]
    rl[0] = list(ROLE_HEADER)
    errs = xlsx_errors(orgs=o, members=m, roles=rl)
    assert (ORG, 4, "Mã tổ chức", r.E_BAD_CODE) in errs
    assert (MEM, 2, "Mã đảng viên", r.E_BAD_CODE) in errs


def test_unknown_status():
    m = members()
    m[2][4] = "Tạm thời"
    assert xlsx_errors(members=m) == [(MEM, 3, "Loại đảng viên", r.E_UNKNOWN_STATUS)]


def test_unknown_kind():
    o = orgs()
    o[1][2] = "Đảng bộ xã"
    assert xlsx_errors(orgs=o) == [(ORG, 2, "Loại", r.E_UNKNOWN_KIND)]


def test_kind_labels_and_codes_accepted():
    o = orgs()
    o[1][2] = "grassroots"
    o.append(["TP", "Đảng bộ thành phố Huế", "đảng bộ thành phố", "", None])
    roster = r.load_roster([("a.xlsx", full_xlsx(orgs=o))], today=TODAY)
    assert [x.kind for x in roster.orgs] == ["grassroots", "cell", "cell", "province"]


def test_unknown_role():
    rl = roles()
    rl[2][2] = "Chủ tịch"
    assert xlsx_errors(roles=rl) == [(ROLE, 3, "Vai trò", r.E_UNKNOWN_ROLE)]


def test_unknown_discipline_form_and_duties_without_form():
    m = members()
    m[1][8] = "Nhắc nhở"
    m[2][9] = "Có"
    assert xlsx_errors(members=m) == [
        (MEM, 2, "Hình thức kỷ luật", r.E_UNKNOWN_DISCIPLINE),
        (MEM, 3, "Kỷ luật do vi phạm trong thực thi công vụ", r.E_DUTIES_WITHOUT_FORM),
    ]


def test_secretary_not_a_member():
    rl = roles()
    rl.append(["DV02", "CB-NOI", "Bí thư"])  # DV02 is in CB-NGOAI
    rl[1] = ["DV01", "CB-NGOAI", "Phó bí thư"]
    assert xlsx_errors(roles=rl) == [
        (ROLE, 2, "Mã đảng viên", r.E_NOT_A_MEMBER),
        (ROLE, 4, "Mã đảng viên", r.E_NOT_A_MEMBER),
    ]


def test_upper_committee_member_from_subtree_and_known_member():
    rl = roles()
    rl.append(["DV99", "DB-BV", "Ban tổ chức"])
    known = [r.KnownMember("DV99", "CB-NGOAI")]
    assert xlsx_errors(roles=rl, known_members=known) == []
    assert xlsx_errors(roles=rl) == [(ROLE, 4, "Mã đảng viên", r.E_UNKNOWN_MEMBER)]


def test_two_secretaries():
    m = members()
    m[2][3] = "CB-NOI"
    rl = roles()
    rl.append(["DV02", "CB-NOI", "bí thư"])
    assert xlsx_errors(members=m, roles=rl) == [(ROLE, 4, "Vai trò", r.E_TWO_SECRETARIES)]


def test_duplicate_role_row():
    rl = roles()
    rl.append(["dv01", "cb-noi", "secretary"])
    assert xlsx_errors(roles=rl) == [(ROLE, 4, None, r.E_DUPLICATE_ROW)]


def test_organising_office_not_on_a_cell():
    rl = roles()
    rl[2] = ["DV01", "CB-NOI", "Ban tổ chức"]
    assert xlsx_errors(roles=rl) == [(ROLE, 3, "Vai trò", r.E_OFFICE_ON_CELL)]


def test_role_in_unknown_org():
    rl = roles()
    rl[2][1] = "DB-XYZ"
    assert xlsx_errors(roles=rl) == [(ROLE, 3, "Mã tổ chức", r.E_UNKNOWN_ORG)]


def test_member_in_non_cell_org():
    m = members()
    m[1][3] = "DB-BV"
    rl = [list(ROLE_HEADER)]
    assert xlsx_errors(members=m, roles=rl) == [(MEM, 2, "Mã chi bộ", r.E_MEMBER_NOT_IN_CELL)]
    known = [r.KnownOrg("TINH", "province", None)]
    m[1][3] = "TINH"
    assert xlsx_errors(members=m, roles=rl, known_orgs=known) == [
        (MEM, 2, "Mã chi bộ", r.E_MEMBER_NOT_IN_CELL)]


def test_member_in_unknown_org():
    m = members()
    m[2][3] = "CB-MOI"
    assert xlsx_errors(members=m) == [(MEM, 3, "Mã chi bộ", r.E_UNKNOWN_ORG)]


def test_temporary_org_rules():
    m = members()
    m[1][10] = "CB-NGOAI"
    assert xlsx_errors(members=m) == []
    m[1][10] = "DB-BV"
    assert xlsx_errors(members=m) == [
        (MEM, 2, "Sinh hoạt tạm thời tại", r.E_TEMPORARY_NOT_CELL)]
    m[1][10] = "CB-NOI"
    assert xlsx_errors(members=m) == [(MEM, 2, "Sinh hoạt tạm thời tại", r.E_TEMPORARY_IS_OWN)]


def test_parent_is_a_cell():
    o = orgs()
    o.append(["TO-1", "Tổ đảng 1", "Chi bộ cơ sở", "CB-NOI", None])
    assert xlsx_errors(orgs=o) == [(ORG, 5, "Mã tổ chức cấp trên", r.E_PARENT_IS_CELL)]
    known = [r.KnownOrg("CB-CU", "grassroots_cell", None)]
    o[4][3] = "CB-CU"
    assert xlsx_errors(orgs=o, known_orgs=known) == [
        (ORG, 5, "Mã tổ chức cấp trên", r.E_PARENT_IS_CELL)]


def test_missing_required_values():
    o = orgs()
    o[2][1] = "  "
    m = members()
    m[1][4] = None
    m[2][5] = ""
    m[2][1] = None
    rl = roles()
    rl[2][2] = None
    assert xlsx_errors(orgs=o, members=m, roles=rl) == [
        (ORG, 3, "Tên tổ chức", r.E_REQUIRED),
        (MEM, 2, "Loại đảng viên", r.E_REQUIRED),
        (MEM, 3, "Họ và tên", r.E_REQUIRED),
        (MEM, 3, "Ngày kết nạp", r.E_REQUIRED),
        (ROLE, 3, "Vai trò", r.E_REQUIRED),
    ]


def test_sick_leave_out_of_range():
    m = members()
    m[1][7] = 13
    m[2][7] = "-1"
    assert xlsx_errors(members=m) == [
        (MEM, 2, "Số tháng nghỉ ốm", r.E_BAD_SICK_LEAVE),
        (MEM, 3, "Số tháng nghỉ ốm", r.E_BAD_SICK_LEAVE),
    ]
    m[1][7], m[2][7] = 12, "0"
    assert xlsx_errors(members=m) == []


def test_admitted_before_birth():
    m = members()
    m[1][5] = date(1982, 5, 12)  # same day as birth
    m[2][5] = "01/01/1980"
    assert xlsx_errors(members=m) == [
        (MEM, 2, "Ngày kết nạp", r.E_ADMITTED_BEFORE_BIRTH),
        (MEM, 3, "Ngày kết nạp", r.E_ADMITTED_BEFORE_BIRTH),
    ]


def test_dates_in_the_future():
    o = orgs()
    o[2][4] = "22/11/2025"
    m = members()
    m[1][2] = date(2030, 1, 1)
    m[2][5] = "2026-01-01"
    assert xlsx_errors(orgs=o, members=m) == [
        (ORG, 3, "Ngày thành lập", r.E_FUTURE_DATE),
        (MEM, 2, "Ngày sinh", r.E_FUTURE_DATE),
        (MEM, 3, "Ngày kết nạp", r.E_FUTURE_DATE),
    ]
    m = members()
    m[2][5] = TODAY
    assert xlsx_errors(members=m) == []  # today itself is fine


def test_cycle_in_parents():
    o = orgs()
    o[1][3] = "CB-NOI"  # DB-BV -> CB-NOI -> DB-BV, and CB-NOI is a cell
    o[1][2] = "Đảng bộ cấp trên trực tiếp"
    o[2][2] = "Đảng bộ cơ sở"
    errs = xlsx_errors(orgs=o, members=[members()[0]], roles=[roles()[0]])
    assert errs == [(ORG, 2, "Mã tổ chức cấp trên", r.E_CYCLE)]
    o = orgs()
    o.append(["A", "A", "Đảng bộ tỉnh", "B", None])
    o.append(["B", "B", "Đảng bộ tỉnh", "C", None])
    o.append(["C", "C", "Đảng bộ tỉnh", "A", None])
    o.append(["D", "D", "Đảng bộ tỉnh", "D", None])
    with_cycle = xlsx_errors(orgs=o)
    assert with_cycle == [
        (ORG, 5, "Mã tổ chức cấp trên", r.E_CYCLE),
        (ORG, 8, "Mã tổ chức cấp trên", r.E_CYCLE),
    ]
    try:
        r.load_roster([("a.xlsx", full_xlsx(orgs=o))], today=TODAY)
    except r.RosterInvalid as exc:
        assert exc.errors[0].params == {"path": "A → B → C → A"}
        assert exc.errors[1].params == {"path": "D → D"}


def test_cycle_through_known_org():
    o = orgs()
    o[1][3] = "TINH"
    known = [r.KnownOrg("TINH", "province", "DB-BV")]  # the file re-parents TINH's child
    assert xlsx_errors(orgs=o, known_orgs=known) == [(ORG, 2, "Mã tổ chức cấp trên", r.E_CYCLE)]


def test_several_errors_all_listed_in_order():
    o = orgs()
    o[2][2] = "Chi bộ lạ"  # unknown kind
    o[3][3] = "DB-KHAC"  # unknown parent
    m = members()
    m[1][2] = "32/13/1982"  # bad date
    m[1][6] = "hmm"  # bad yes/no
    m[2][0] = "DV01"  # duplicate member
    rl = roles()
    rl.append(["DV01", "CB-NGOAI", "Vai chính"])  # unknown role
    rl.append(["DV99", "CB-NOI", "Phó bí thư"])  # unknown member
    errs = errors([("ds.xlsx", full_xlsx(orgs=o, members=m, roles=rl))], today=TODAY)
    assert errs == [
        (ORG, 3, "Loại", r.E_UNKNOWN_KIND),
        (ORG, 4, "Mã tổ chức cấp trên", r.E_UNKNOWN_ORG),
        (MEM, 2, "Ngày sinh", r.E_BAD_DATE),
        (MEM, 2, "Miễn công tác", r.E_BAD_BOOL),
        (MEM, 3, "Mã đảng viên", r.E_DUPLICATE_CODE),
        (ROLE, 4, "Vai trò", r.E_UNKNOWN_ROLE),
        (ROLE, 5, "Mã đảng viên", r.E_UNKNOWN_MEMBER),
    ]


def test_read_roster_reports_all_parse_errors_but_not_validation():
    m = members()
    m[1][2] = "hôm qua"
    m[2][6] = "có lẽ"
    m[2][3] = "CB-MOI"  # a validation error: not reported by read_roster
    try:
        r.read_roster([("ds.xlsx", full_xlsx(members=m))])
    except r.RosterInvalid as exc:
        assert [(e.row, e.column) for e in exc.errors] == [
            (2, "Ngày sinh"), (3, "Miễn công tác")]
    else:
        raise AssertionError("RosterInvalid expected")


def test_validate_hand_built_roster():
    roster = r.Roster(
        orgs=[r.OrgRow("CB", "Chi bộ", "cell", "X", None, row=2, sheet=ORG),
              r.OrgRow("", None, "bogus", None, None, row=3, sheet=ORG)],
        members=[r.MemberRow("M1", "A", None, "CB", None, "official", date(2000, 1, 1),
                             False, False, False, None, None, False, False, False, 20, False,
                             None, False, row=2, sheet=MEM)],
        roles=[],
    )
    errs = r.validate(roster, known_orgs=[r.KnownOrg("X", "grassroots", None)], today=TODAY)
    assert [(e.sheet, e.row, e.column, e.msgid) for e in errs] == [
        (ORG, 3, "Mã tổ chức", r.E_REQUIRED),
        (ORG, 3, "Tên tổ chức", r.E_REQUIRED),
        (ORG, 3, "Loại", r.E_UNKNOWN_KIND),
        (MEM, 2, "Số tháng nghỉ ốm", r.E_BAD_SICK_LEAVE),
    ]
