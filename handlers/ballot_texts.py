"""The ballot's command descriptions (gettext domain ``ballot``), listed by handlers/commands.py."""

from __future__ import annotations

from bot.i18n import N_

HOP = (
    N_("Open the cell meeting, attendance"),
    N_(
        "/hop [code]: open your cell's review meeting and take the attendance; "
        "I show the denominator and whether there is a quorum"
    ),
)
BO_PHIEU = (
    N_("Open a secret ballot round"),
    N_(
        "/bo_phieu [code]: open a secret ballot round; every official member present gets "
        "their ballot in a private message, and you follow who has voted"
    ),
)
PHIEU = (
    N_("Your ballot in an open round"),
    N_("/phieu: get your ballot again if a secret ballot round is open for you"),
)
KIEM_TRA_PHIEU = (
    N_("Check a ballot receipt"),
    N_("/kiem_tra_phieu CODE: check that the ballot with this receipt code was counted"),
)
