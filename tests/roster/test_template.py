import io
from datetime import date

import openpyxl

from bot import roster as r

from .helpers import TODAY


def _template() -> bytes:
    buf = io.BytesIO()
    r.write_template(buf)
    return buf.getvalue()


def test_template_sheets_headers_and_examples(tmp_path):
    path = tmp_path / "mau.xlsx"
    r.write_template(path)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Hướng dẫn", "Tổ chức", "Đảng viên", "Vai trò"]
    for sheet, cols in r.COLUMNS.items():
        ws = wb[sheet]
        headers = [c.value for c in ws[1]]
        assert headers == [c.header for c in cols]
        assert all(c.font.bold for c in ws[1])
        assert ws.freeze_panes == "A2"
        assert ws.max_row == 2  # one example row
        assert ws.column_dimensions["A"].width >= 10
    orgs = wb["Tổ chức"]
    assert [c.value for c in orgs[2]][:4] == [
        "CB-KHOANOI", "Chi bộ Khoa Nội", "Chi bộ trực thuộc", "DB-BVDKT"]
    assert orgs["E2"].is_date and orgs["E2"].number_format == "DD/MM/YYYY"
    assert orgs.column_dimensions["A"].number_format == "@"  # codes keep leading zeros
    assert wb["Vai trò"]["C2"].value == "Bí thư"
    assert wb["Đảng viên"]["F2"].value == "Chính thức"


def test_template_drop_downs():
    wb = openpyxl.load_workbook(io.BytesIO(_template()))
    ws = wb["Đảng viên"]
    lists = {str(dv.sqref): dv.formula1 for dv in ws.data_validations.dataValidation}
    assert lists["F2:F1000"] == '"Chính thức,Dự bị"'
    assert lists["H2:H1000"] == '"Có,Không"'
    assert "Khiển trách" in lists["R2:R1000"]
    kinds = wb["Tổ chức"].data_validations.dataValidation[0]
    assert str(kinds.sqref) == "C2:C1000" and "Chi bộ cơ sở" in kinds.formula1
    roles = wb["Vai trò"].data_validations.dataValidation[0]
    assert roles.formula1 == (
        '"Bí thư,Phó bí thư,Cấp ủy viên,Ban tổ chức,Đại diện Thường trực HĐND và UBND,'
        'Đại diện Ủy ban MTTQ,Đại diện các đoàn thể chính trị - xã hội,'
        'Đại diện lãnh đạo cơ quan/đơn vị"')  # no comma inside a label: the list is comma-separated
    assert len(roles.formula1) <= 255  # Excel's limit on a list validation


def test_template_guide_is_vietnamese():
    wb = openpyxl.load_workbook(io.BytesIO(_template()))
    guide = wb["Hướng dẫn"]
    text = "\n".join(str(c.value) for row in guide.iter_rows() for c in row if c.value)
    assert "Hướng dẫn nhập danh sách" in text
    assert "Giá trị cho phép" in text
    assert "Bắt buộc. “Chính thức” hoặc “Dự bị”." in text
    # every column is explained
    described = {(row[0].value, row[1].value) for row in guide.iter_rows()}
    assert {(s, h) for s, h, _m, _a in r.column_reference()} <= described


def test_template_reads_back_and_validates():
    roster = r.read_roster([("mau.xlsx", _template())])
    assert [o.code for o in roster.orgs] == ["CB-KHOANOI"]
    (m,) = roster.members
    assert (m.code, m.org_code, m.status, m.admitted_on) == (
        "DV-000123", "CB-KHOANOI", "official", date(2008, 2, 3))
    assert m.leader and m.head and not m.exempt
    assert [(x.member_code, x.org_code, x.role) for x in roster.roles] == [
        ("DV-000123", "CB-KHOANOI", "secretary")]
    known = [r.KnownOrg("DB-BVDKT", "grassroots", "TINH")]
    assert r.validate(roster, known_orgs=known, today=TODAY) == []
    r.load_roster([("mau.xlsx", _template())], known_orgs=known, today=TODAY)


def test_column_reference_markdown():
    md = r.column_reference_markdown(r.catalog_gettext("vi"))
    lines = md.strip().splitlines()
    assert lines[0] == "| Trang tính | Cột | Ý nghĩa | Giá trị cho phép |"
    assert len(lines) == 2 + len(r.column_reference())
    assert "| Đảng viên | Loại đảng viên | Đảng viên chính thức hay dự bị. |" in md
    en = r.column_reference_markdown(lambda s: s)
    assert en.startswith("| Sheet | Column | Meaning | Allowed values |")
    assert all(len(t) == 4 for t in r.column_reference())
