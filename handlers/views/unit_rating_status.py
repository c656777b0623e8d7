"""The organisations and collectives in /tinh_trang and /ket_qua (issue 14, item 7): pure
functions of the figures (``bot.services.unit_rating_status``) returning text."""

from __future__ import annotations

from itertools import groupby

from bot.i18n import Translator
from bot.services.status import Status
from bot.services.unit_rating_status import LEVEL_CODES
from bot.services.unit_rating_status import NOT_RATED
from bot.services.unit_rating_status import SUBJECTS
from bot.services.unit_rating_status import UnitYear
from bot.text import esc

MAX_BREACH_LINES = 3


def decided_levels(t: Translator, decided) -> str:
    """"HTXS 1, HTT 2, HT 0, KHT 0, not rated 0"."""
    parts = [f"{code} {t.number(decided[code])}" for code in LEVEL_CODES]
    parts.append(t("not rated {count}", count=t.number(decided[NOT_RATED])))
    return ", ".join(parts)


def unit_status_lines(t: Translator, status: Status) -> list[str]:
    """The section of /tinh_trang on the subtree's organisations and collectives: how many
    are to be rated, reviewed, proposed and decided, the decided levels, the R-Q7 breaches of
    the deciding levels and, after the finish-by date, how many are still undecided."""
    units = status.units
    if units is None or not (units.to_rate or units.reviews):
        return []
    n = t.number
    lines = [
        "",
        "<b>" + esc(t("Party organisations and collectives")) + "</b>",
        t(
            "🏛 To be rated: {to_rate}; reviews begun {reviews}; reviewed at the meeting "
            "{reviewed}; proposed {proposed}; decided {decided}",
            to_rate=n(units.to_rate),
            reviews=n(units.reviews),
            reviewed=n(units.reviewed),
            proposed=n(units.proposed),
            decided=n(units.decided_total),
        ),
        t("✅ Decided: {levels}", levels=decided_levels(t, units.decided)),
    ]
    for item in units.breaches[:MAX_BREACH_LINES]:
        text = item.breach.render(t.gettext)
        if item.breach.member_names:  # the subtree's units it names (R-Q7 counts the group)
            text += ": " + ", ".join(item.breach.member_names)
        lines.append("   – ⚠️ " + esc(text if len(text) <= 200 else text[:199] + "…"))
    if len(units.breaches) > MAX_BREACH_LINES:
        lines.append("   – " + t("and {count} more organisations' quota breaches",
                                 count=n(len(units.breaches) - MAX_BREACH_LINES)))
    if status.finish_by_passed and units.undecided:
        lines.append("   – " + t(
            "{count} organisations and collectives still without a decided level after the "
            "finish-by date {date}",
            count=n(units.undecided),
            date=t.date(status.cycle.finish_by),
        ))
    return lines


def unit_results_lines(t: Translator, rows: list[UnitYear]) -> list[str]:
    """/ket_qua: the decided levels by year of the units the reader heads or has a role in."""
    if not rows:
        return []
    lines = ["", "<b>" + esc(t("Levels of your organisations by year")) + "</b>"]
    for (_org, subject), years in groupby(rows, key=lambda r: (r.org_id, r.subject)):
        years = list(years)
        label = t("{org} ({subject})", org=esc(years[0].name), subject=t(SUBJECTS[subject]))
        levels = "; ".join(
            t("{year}: {level}", year=y.year,
              level=f"<b>{y.level}</b>" if y.level else t("reviewed, not rated"))
            for y in years
        )
        lines.append(f"• {label}: {levels}")
    return lines
