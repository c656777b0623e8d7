"""/bao_cao's member rows into files (bot/services/report.py ``_MemberFiles``): every row once,
in order, no file over the limits (rows a sheet, bytes a file), text never a formula."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from types import SimpleNamespace

import openpyxl
import pytest

from bot.i18n import Translator
from bot.services.report import ReportLimits
from bot.services.report import _MemberFiles

DECIDED = dt.datetime(2026, 12, 1, 18, 30, tzinfo=dt.UTC)  # 2 December in Vietnam


def _status(units: int):
    org = SimpleNamespace(path="/1/", code="TINH")
    children = [
        (SimpleNamespace(path=f"/1/{u + 2}/", code=f"U{u}"), SimpleNamespace(members=0))
        for u in range(units)
    ]
    return SimpleNamespace(org=org, children=children)


def _org(org_id: int) -> tuple[str, str]:
    """(path, name) of the test's organisation `org_id` (1000 + unit * 100 + cell)."""
    unit, cell = divmod(org_id - 1000, 100)
    return f"/1/{unit + 2}/{org_id}/", f"Chi bộ {unit}-{cell}"


def _groups(units: int, cells: int, members: int, seed: int = 1) -> list[list[tuple]]:
    """Organisation by organisation, as the query gives them: (code, name, status, level,
    decided at, organisation id)."""
    rng = random.Random(seed)
    groups, number = [], 0
    for u in range(units):
        for c in range(cells):
            rows = []
            for _ in range(rng.randint(1, members)):
                number += 1
                level = rng.choice([None, "HTXS", "HTT", "HT"])
                name = f"Đảng viên {rng.getrandbits(48):x} {number}"
                rows.append((f"M{number:06d}", name, "official", level,
                             DECIDED if level else None, 1000 + u * 100 + c))
            groups.append(rows)
    return groups


def _write(tmp_path: Path, groups, limits: ReportLimits, units: int):
    status = _status(units)
    for (_child, figures), unit in zip(status.children, range(units), strict=True):
        figures.members = sum(len(g) for g in groups if (g[0][5] - 1000) // 100 == unit)
    orgs = {g[0][5]: _org(g[0][5]) for g in groups}
    files = _MemberFiles(tmp_path, Translator("vi", dt.timezone(dt.timedelta(hours=7))),
                         limits, status, orgs)
    for group in groups:
        files.write(group)
    return files.close()


def _rows(path: str, max_rows: int) -> list[tuple]:
    sheet = openpyxl.load_workbook(path)["Đảng viên"]
    assert sheet.max_row <= max_rows
    assert [c.value for c in sheet[1]][:2] == ["Mã đảng viên", "Họ và tên"]
    return list(sheet.iter_rows(min_row=2, values_only=True))


@pytest.mark.parametrize(
    ("limits", "least_files"),
    [(ReportLimits(max_rows=1_048_576, max_bytes=200_000), 3),
     (ReportLimits(max_rows=3000, max_bytes=50_000_000), 3)],
)
def test_member_rows_are_cut_into_files_within_the_limits(tmp_path, limits, least_files):
    groups = _groups(units=6, cells=30, members=100)
    written = _write(tmp_path, groups, limits, units=6)
    assert len(written) >= least_files
    got = []
    for file in written:
        assert Path(file.path).stat().st_size <= limits.max_bytes
        rows = _rows(file.path, limits.max_rows)
        assert len(rows) == file.members
        got += rows
    expected = [(code, name, _org(org_id)[1], "chính thức", level, DECIDED.replace(
        tzinfo=None).replace(day=2, hour=0, minute=0) if level else None) for g in groups
        for code, name, _s, level, _d, org_id in g]
    assert got == expected
    # A file starts at a unit's first organisation unless the unit alone is larger than a file.
    assert all(file.units for file in written)


def test_a_file_takes_whole_units_while_they_fit(tmp_path):
    groups = _groups(units=5, cells=3, members=10, seed=2)
    sizes = [sum(len(g) for g in groups[u * 3:(u + 1) * 3]) for u in range(5)]
    limit = max(sizes) + 1  # every unit fits a file alone
    written = _write(tmp_path, groups, ReportLimits(max_rows=limit + 1), units=5)
    assert [u for f in written for u in f.units] == [f"U{u}" for u in range(5)]  # never split
    for file in written:
        assert file.members <= limit


def test_text_stays_text_in_streamed_rows(tmp_path):
    hostile = '=HYPERLINK("https://evil.example","x")'
    rows = [("-M1", hostile, "probationary", None, None, 1000),
            ("M2", " Lê  Văn\tAn\x01 ", "official", "HT", DECIDED, 1000)]
    status = _status(1)
    files = _MemberFiles(tmp_path, Translator("vi", dt.timezone(dt.timedelta(hours=7))),
                         ReportLimits(), status, {1000: ("/1/2/1000/", "@cell")})
    files.write(rows)
    [file] = files.close()
    sheet = openpyxl.load_workbook(file.path)["Đảng viên"]
    cells = [c for row in sheet.iter_rows(min_row=2) for c in row if c.value is not None]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    assert [c.value for c in cells[:4]] == ["-M1", hostile, "@cell", "dự bị"]
    assert all(c.quotePrefix for c in cells[:3])
    assert sheet["B3"].value == " Lê  Văn\tAn "  # spaces kept, a control character dropped
    assert sheet["F3"].number_format == "dd/mm/yyyy"


def test_a_streamed_cell_after_its_reference():
    """``_cell_rest``: what follows ``<c r="A2"``, made once per distinct value."""
    from bot.services.report import _cell_rest

    assert _cell_rest("DV001", ' s="3"') == ' t="inlineStr"><is><t>DV001</t></is></c>'
    assert _cell_rest("=A1 & B", ' s="3"') == (
        ' s="3" t="inlineStr"><is><t>=A1 &amp; B</t></is></c>')
    assert _cell_rest(" Lê Văn An", "") == (
        ' t="inlineStr"><is><t xml:space="preserve"> Lê Văn An</t></is></c>')


def test_the_report_is_built_with_the_cyclic_collector_off(monkeypatch):
    """``build_report`` turns the garbage collector off while it works, and on again after,
    even when the build fails."""
    import gc

    from bot.services import report

    seen = []

    async def failing(request):
        seen.append(gc.isenabled())
        raise RuntimeError("the database went away")

    monkeypatch.setattr(report, "_build_report", failing)
    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        report.build_report(None)
    assert seen == [False]
    assert gc.isenabled()
