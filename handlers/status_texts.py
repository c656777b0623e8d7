"""Command descriptions of issue 6 (gettext domain ``status``), listed by handlers/commands.py."""

from __future__ import annotations

from bot.i18n import N_

TINH_TRANG = (
    N_("Where every unit stands"),
    N_(
        "/tinh_trang [code]: the figures of your organisation or a unit under it: self-reviews, "
        "meetings, ballots, levels and breaches, unit by unit (a member: their cell's progress)"
    ),
)
BIEU_DO = (
    N_("Progress chart"),
    N_("/bieu_do [code]: a chart of progress and levels per unit under your organisation"),
)
BAO_CAO = (
    N_("Status spreadsheet"),
    N_(
        "/bao_cao [code]: a spreadsheet with the figures per unit, every member's decided "
        "level and the breaches"
    ),
)
QUYET_DINH = (
    N_("Decide the levels of a unit"),
    N_(
        "/quyet_dinh [code]: for the deciding committee, confirm the proposed levels of a cell "
        "or of the whole grassroots unit; a breach needs a written reason"
    ),
)
XEP_LOAI_LAI = (
    N_("Cancel a decided level"),
    N_(
        "/xep_loai_lai MEMBER_CODE: for the deciding committee, cancel a member's decided "
        "level with a reason so that it is redone"
    ),
)
KHIEU_NAI = (
    N_("Appeal against your level"),
    N_("/khieu_nai: send a written appeal against your decided level to the deciding committee"),
)
KET_QUA = (
    N_("Your levels by year"),
    N_(
        "/ket_qua: your decided levels year by year; committee members also see who was "
        "rated HTXS five years running"
    ),
)
