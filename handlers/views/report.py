"""The captions of /bao_cao's files: pure functions of the translator and the report."""

from __future__ import annotations

from bot.i18n import Translator
from bot.services.report import Report
from bot.services.report import ReportFile


def report_caption(t: Translator, report: Report, file: ReportFile, name: str) -> str:
    """What a file of the report holds; `name` is the organisation's name, escaped."""
    if len(report.files) == 1:
        return t("Status of {org}: summary, members and breaches", org=name)
    parts = [f for f in report.files if not f.summary]
    if file.summary:
        return t(
            "Status of {org}: summary and breaches. Its members follow in {count} files, "
            "unit by unit.",
            org=name,
            count=len(parts),
        )
    units = file.units or (report.org_code,)
    shown = units[0] if len(units) == 1 else f"{units[0]} … {units[-1]}"
    return t(
        "Members of {org}, file {number} of {count}: {units}",
        org=name,
        number=parts.index(file) + 1,
        count=len(parts),
        units=shown,
    )
