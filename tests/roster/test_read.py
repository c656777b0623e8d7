import unicodedata
from datetime import date

import pytest

from bot import roster as r

from .helpers import MEMBER_HEADER
from .helpers import ORG_HEADER
from .helpers import ROLE_HEADER
from .helpers import TODAY
from .helpers import errors
from .helpers import full_xlsx
from .helpers import make_csv
from .helpers import make_xlsx
from .helpers import members
from .helpers import orgs
from .helpers import roles
from .helpers import xlsx_errors

ORG, MEM, ROLE = r.ORG_SHEET, r.MEMBER_SHEET, r.ROLE_SHEET
KNOWN_ORGS = [
    r.KnownOrg("DB-BV", "grassroots", None),
    r.KnownOrg("CB-NOI", "cell", "DB-BV"),
    r.KnownOrg("CB-NGOAI", "cell", "DB-BV"),
]


def test_valid_workbook_parses():
    roster = r.load_roster([("ds.xlsx", full_xlsx())], today=TODAY)
    assert [(o.code, o.kind, o.parent_code, o.founded_on, o.row) for o in roster.orgs] == [
        ("DB-BV", "grassroots", None, None, 2),
        ("CB-NOI", "cell", "DB-BV", date(2010, 3, 15), 3),
        ("CB-NGOAI", "cell", "DB-BV", date(2011, 1, 1), 4),
    ]
    m1, m2 = roster.members
    assert (m1.birth_date, m1.admitted_on, m1.status, m1.sick_leave_months) == (
        date(1982, 5, 12), date(2008, 2, 3), "official", 0)
    assert (m2.birth_date, m2.admitted_on, m2.status, m2.sick_leave_months) == (
        date(1990, 2, 1), date(2024, 6, 1), "probationary", 2)
    assert m2.discipline_form is None and m2.temporary_org_code is None
    assert not m1.exempt and not m1.maternity and m1.position is None
    assert [(x.member_code, x.org_code, x.role, x.row) for x in roster.roles] == [
        ("DV01", "CB-NOI", "secretary", 2), ("DV01", "DB-BV", "committee_member", 3)]
    assert roster.sheets == {ORG, MEM, ROLE}


def test_headers_any_order_case_and_spaces_codes_upper_and_labels():
    rows = [
        ["  loại ", "MÃ TỔ CHỨC", "Tên tổ chức", "Mã tổ chức cấp trên"],
        ["đảng bộ cơ sở", "db-bv", "  Đảng bộ   Bệnh viện ", None],
        ["cell", "cb-1", "Chi bộ 1", "db-bv"],
        ["CHI BỘ CƠ SỞ", "cb.2_x", "Chi bộ 2", "db-bv"],
    ]
    roster = r.read_roster([("a.xlsx", make_xlsx({"tổ chức": rows}))])
    assert [(o.code, o.name, o.kind, o.parent_code) for o in roster.orgs] == [
        ("DB-BV", "Đảng bộ Bệnh viện", "grassroots", None),
        ("CB-1", "Chi bộ 1", "cell", "DB-BV"),
        ("CB.2_X", "Chi bộ 2", "grassroots_cell", "DB-BV"),
    ]


@pytest.mark.parametrize("value,expected", [
    ("Có", True), ("có", True), ("x", True), ("X", True), ("1", True), (1, True),
    ("yes", True), (True, True), ("Không", False), ("", False), (None, False), ("0", False),
    (0, False), ("no", False), (False, False),
])
def test_yes_no_values(value, expected):
    assert r.parse_bool(value) is expected


@pytest.mark.parametrize("value,expected", [
    ("05/01/2024", date(2024, 1, 5)), ("5/1/2024", date(2024, 1, 5)),
    ("2024-01-05", date(2024, 1, 5)), (date(2024, 1, 5), date(2024, 1, 5)), (None, None),
])
def test_date_values(value, expected):
    assert r.parse_date(value) == expected


@pytest.mark.parametrize("bad", ["2024/01/05", "05-01-2024", "31/02/2024", "5/1/24", "hôm qua"])
def test_unparseable_date(bad):
    m = members()
    m[1][5] = bad
    assert xlsx_errors(members=m) == [(MEM, 2, "Ngày kết nạp", r.E_BAD_DATE)]


def test_number_in_date_cell_is_an_error():
    m = members()
    m[1][2] = 45000
    assert xlsx_errors(members=m) == [(MEM, 2, "Ngày sinh", r.E_BAD_DATE)]


def test_bad_yes_no():
    m = members()
    m[2][6] = "có lẽ"
    assert xlsx_errors(members=m) == [(MEM, 3, "Miễn công tác", r.E_BAD_BOOL)]


def test_sick_leave_not_a_number():
    m = members()
    m[1][7] = "2.5"
    assert xlsx_errors(members=m) == [(MEM, 2, "Số tháng nghỉ ốm", r.E_BAD_SICK_LEAVE)]


def test_unknown_column():
    o = orgs()
    o[0].append("Ghi chú")
    o[1].append("abc")
    assert xlsx_errors(orgs=o) == [(ORG, None, "Ghi chú", r.E_UNKNOWN_COLUMN)]


def test_missing_required_column_reported_once():
    m = [[v for i, v in enumerate(row) if i != 5] for row in members()]  # no "Ngày kết nạp"
    assert xlsx_errors(members=m) == [(MEM, None, "Ngày kết nạp", r.E_MISSING_COLUMN)]


def test_optional_columns_may_be_left_out():
    m = [row[:6] for row in members()]
    assert xlsx_errors(members=m) == []


def test_duplicate_column():
    rl = [row + [row[2]] for row in roles()]
    assert xlsx_errors(roles=rl) == [(ROLE, None, "Vai trò", r.E_DUPLICATE_COLUMN)]


def test_blank_rows_skipped_and_row_numbers_kept():
    o = orgs()
    o.insert(2, [None, "  ", None, None, None])
    o[4][2] = "Chi bộ lạ"
    assert xlsx_errors(orgs=o) == [(ORG, 5, "Loại", r.E_UNKNOWN_KIND)]


def test_neither_xlsx_nor_csv():
    xls = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100
    assert errors([("cu.xls", xls)]) == [("cu.xls", None, None, r.E_NOT_XLSX_OR_CSV)]
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
    assert errors([("anh.png", png)]) == [("anh.png", None, None, r.E_NOT_XLSX_OR_CSV)]


def test_damaged_xlsx():
    zipped = full_xlsx()[:200]
    assert errors([("hong.xlsx", zipped)]) == [("hong.xlsx", None, None, r.E_XLSX_UNREADABLE)]


def test_csv_not_utf8():
    data = "Mã tổ chức;Tên tổ chức;Loại\r\n".encode("cp1252", errors="replace")  # ANSI CSV
    assert errors([("vt.csv", data)]) == [("vt.csv", None, None, r.E_CSV_NOT_UTF8)]


def test_utf16_csv_is_not_utf8():
    data = "Mã đảng viên\tMã tổ chức\tVai trò\r\n".encode("utf-16")
    assert errors([("vt.csv", data)]) == [("vt.csv", None, None, r.E_CSV_NOT_UTF8)]


def test_no_sources_at_all():
    assert errors([]) == [("", None, None, r.E_NOTHING)]
    with pytest.raises(r.RosterInvalid) as info:
        r.read_roster([])
    assert info.value.render(lambda s: s) == [r.E_NOTHING]


def test_csv_header_matches_no_sheet():
    data = make_csv([["Họ", "Tên", "Tuổi"], ["A", "B", "3"]])
    assert errors([("x.csv", data)]) == [("x.csv", None, None, r.E_CSV_NO_SHEET)]


def test_workbook_without_roster_sheets():
    data = make_xlsx({"Sheet1": [["a", "b"], [1, 2]]})
    assert errors([("x.xlsx", data)]) == [
        ("x.xlsx", None, None, r.E_UNKNOWN_SHEET), ("x.xlsx", None, None, r.E_NO_SHEETS)]


def test_unknown_sheet_with_data_is_an_error_empty_one_ignored():
    data = make_xlsx({ORG: orgs(), "Nháp": [["ghi chú"]], "Sheet2": []})
    assert errors([("x.xlsx", data)]) == [("x.xlsx", None, None, r.E_UNKNOWN_SHEET)]


def test_sheet_names_match_without_diacritics():
    data = make_xlsx({"to chuc": orgs(), " DANG VIEN ": members(), "Vai tro": roles()})
    assert errors([("x.xlsx", data)]) == []


def test_member_sheet_alone_is_fine_when_orgs_are_known():
    data = make_xlsx({MEM: members()})
    assert errors([("dv.xlsx", data)], known_orgs=KNOWN_ORGS) == []


def test_xlsx_missing_sheet():
    data = make_xlsx({MEM: members(), ROLE: roles()})
    errs = errors([("dv.xlsx", data)], known_orgs=KNOWN_ORGS[:2])
    assert errs == [(ORG, None, None, r.E_MISSING_SHEET)]
    try:
        r.load_roster([("dv.xlsx", data)], known_orgs=KNOWN_ORGS[:2], today=TODAY)
    except r.RosterInvalid as exc:
        assert exc.errors[0].params == {"codes": "CB-NGOAI"}
    data = make_xlsx({ROLE: roles()})
    assert errors([("vt.xlsx", data)], known_orgs=KNOWN_ORGS) == [
        (MEM, None, None, r.E_MISSING_SHEET)]


def test_nothing_to_import():
    data = make_xlsx({ORG: [ORG_HEADER], MEM: [MEMBER_HEADER]})
    assert errors([("x.xlsx", data)]) == [("x.xlsx", None, None, r.E_NOTHING)]


def _by_row(roster: r.Roster) -> tuple:
    strip = lambda rows: [{k: v for k, v in vars(x).items() if k != "sheet"} for x in rows]  # noqa: E731
    return strip(roster.orgs), strip(roster.members), strip(roster.roles)


@pytest.mark.parametrize("delimiter,bom", [(";", True), (",", True), (";", False), ("\t", True)])
def test_csv_parses_like_xlsx(delimiter, bom):
    from_xlsx = r.load_roster([("ds.xlsx", full_xlsx())], today=TODAY)
    sources = [
        ("dang_vien.csv", make_csv(members(), delimiter, bom)),  # order does not matter
        ("to_chuc.csv", make_csv(orgs(), delimiter, bom)),
        ("vai_tro.csv", make_csv(roles(), delimiter, bom)),
    ]
    from_csv = r.load_roster(sources, today=TODAY)
    assert _by_row(from_csv) == _by_row(from_xlsx)
    assert from_csv.sheets == {ORG, MEM, ROLE}
    assert from_csv.members[0].sheet == "dang_vien.csv"


def test_csv_header_with_comma_in_quoted_field():
    header = ["Mã đảng viên", "Họ và tên", "Mã chi bộ", "Loại đảng viên", "Ngày kết nạp",
              "Lãnh đạo, quản lý"]
    rows = [header, ["DV9", "Lê Văn A", "CB-NOI", "Chính thức", "01/01/2000", "x"]]
    for delim in (";", ","):
        roster = r.load_roster([("dv.csv", make_csv(rows, delim))], known_orgs=KNOWN_ORGS,
                               today=TODAY)
        assert roster.members[0].leader is True


def test_csv_errors_use_file_name():
    o = orgs()
    o[2][0] = "CB NỘI"
    assert errors([("to_chuc.csv", make_csv(o))]) == [
        ("to_chuc.csv", 3, "Mã tổ chức", r.E_BAD_CODE)]


def test_csv_role_file_recognised():
    data = make_csv([ROLE_HEADER, ["DV01", "CB-NOI", "Phó bí thư"]])
    roster = r.read_roster([("vt.csv", data)])
    assert roster.sheets == {ROLE} and roster.roles[0].role == "deputy"


def test_nfd_input_is_normalised():
    def nfd(rows):
        return [[unicodedata.normalize("NFD", v) if isinstance(v, str) else v for v in row]
                for row in rows]

    for source in (("ds.xlsx", make_xlsx({unicodedata.normalize("NFD", ORG): nfd(orgs()),
                                          MEM: nfd(members()), ROLE: nfd(roles())})),):
        roster = r.load_roster([source], today=TODAY)
        assert roster.orgs[0].name == "Đảng bộ Bệnh viện tỉnh"
        assert unicodedata.is_normalized("NFC", roster.members[0].full_name)
        assert roster.members[0].full_name == "Nguyễn Thị Lan"
        assert roster.roles[0].role == "secretary"
    data = make_csv(nfd(members()))
    roster = r.load_roster([("dv.csv", data)], known_orgs=KNOWN_ORGS, today=TODAY)
    assert roster.members[1].full_name == "Trần Văn Hùng"
    assert roster.members[1].status == "probationary"
