import re
import string
from datetime import date
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from bot import roster as r

from .helpers import make_xlsx

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "bot" / "roster.py"


def _msgids() -> list[str]:
    return [msg for _ln, msg, _c, _ctx in
            extract_from_file("python", str(SOURCE), keywords={"N_": None})]


def _catalog(lang: str):
    with (ROOT / "locales" / lang / "LC_MESSAGES" / "roster.po").open("rb") as fh:
        return read_po(fh, locale=lang, domain="roster")


def _fields(s: str) -> set[str]:
    return {name for _t, name, _f, _c in string.Formatter().parse(s) if name is not None}


def test_msgids_extracted():
    ids = _msgids()
    assert len(ids) > 60
    assert r.LOC_CELL in ids and r.E_CYCLE in ids and r.A_YES_NO in ids


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_catalog_complete(lang):
    cat = _catalog(lang)
    assert cat.locale.language == lang
    raw = (ROOT / "locales" / lang / "LC_MESSAGES" / "roster.po").read_text("utf-8")
    assert '"Content-Type: text/plain; charset=UTF-8\\n"' in raw
    assert f'"Language: {lang}\\n"' in raw
    if lang == "vi":
        assert '"Plural-Forms: nplurals=1; plural=0;\\n"' in raw
    for msgid in _msgids():
        msg = cat.get(msgid)
        assert msg is not None, f"{lang}: missing {msgid!r}"
        assert msg.string, f"{lang}: empty translation for {msgid!r}"
        assert not msg.fuzzy
        assert _fields(msg.string) == _fields(msgid), msgid
        if "{" in msgid:
            assert "python-brace-format" in msg.flags, msgid


def test_vietnamese_has_diacritics():
    cat = _catalog("vi")
    assert cat.get(r.E_REQUIRED).string == "Ô này không được để trống."
    translated = [cat.get(m).string for m in _msgids()]
    assert sum(1 for t in translated if re.search(r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệ]", t)) > 60


def test_render_location_prefixes():
    vi = r.catalog_gettext("vi")
    e = r.RosterError(r.MEMBER_SHEET, 7, "Ngày kết nạp", r.E_FUTURE_DATE, {"value": "01/01/2030"})
    assert e.render(vi) == "Đảng viên, dòng 7, cột «Ngày kết nạp»: Ngày 01/01/2030 ở trong tương lai."
    assert e.render(lambda s: s) == (
        "Đảng viên, row 7, column «Ngày kết nạp»: The date 01/01/2030 is in the future.")
    row = r.RosterError(r.ROLE_SHEET, 4, None, r.E_DUPLICATE_ROW, {"first_row": 2})
    assert row.render(vi) == "Vai trò, dòng 4: Dòng này trùng với dòng 2."
    col = r.RosterError(r.ORG_SHEET, None, "Loại", r.E_MISSING_COLUMN, {})
    assert col.render(vi) == "Tổ chức, cột «Loại»: Thiếu cột bắt buộc này."
    sheet = r.RosterError("x.csv", None, None, r.E_CSV_NOT_UTF8, {})
    assert sheet.render(vi).startswith("x.csv: Tệp không phải văn bản UTF-8.")


def test_every_raised_error_renders():
    vi = r.catalog_gettext("vi")
    sheet = [["Mã tổ chức", "Loại", "Lạ"], ["A B", "x", "?"]]
    with pytest.raises(r.RosterInvalid) as info:
        r.load_roster([("a.xlsx", make_xlsx({r.ORG_SHEET: sheet}))], today=date(2025, 1, 1))
    texts = info.value.render(vi)
    assert texts == [
        "Tổ chức, cột «Tên tổ chức»: Thiếu cột bắt buộc này.",
        "Tổ chức, cột «Mã tổ chức cấp trên»: Thiếu cột bắt buộc này.",
        "Tổ chức, cột «Lạ»: Cột không hợp lệ. Các cột của trang tính này là: «Mã tổ chức», "
        "«Tên tổ chức», «Loại», «Mã tổ chức cấp trên», «Ngày thành lập», "
        "«Chi bộ thôn, tổ dân phố».",
        "Tổ chức, dòng 2, cột «Mã tổ chức»: Mã «A B» không hợp lệ: chỉ dùng chữ cái, chữ số, "
        "“-”, “_” và “.”, tối đa 32 ký tự.",
        "Tổ chức, dòng 2, cột «Loại»: Loại tổ chức «x» không hợp lệ. Các giá trị cho phép: "
        "«Trung ương», «Đảng bộ tỉnh», «Đảng bộ thành phố», «Đảng bộ huyện», "
        "«Đảng bộ cấp trên trực tiếp», «Đảng bộ cơ sở», «Chi bộ trực thuộc», «Chi bộ cơ sở».",
    ]
