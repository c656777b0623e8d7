"""The criteria framework's command descriptions (gettext domain ``frameworks``), listed by
handlers/commands.py."""

from __future__ import annotations

from bot.i18n import N_

MAU_KHUNG = (
    N_("Criteria framework template"),
    N_(
        "/mau_khung [code]: the criteria framework template, filled in with the framework the "
        "committee already has; send it back filled in to load it (the unit's code as caption)"
    ),
)
KHUNG_TIEU_CHI = (
    N_("The criteria framework in use"),
    N_(
        "/khung_tieu_chi [code]: the criteria framework your organisation, or a unit under it, "
        "is scored on, and which committee loaded it"
    ),
)
GOI_Y = (
    N_("Send points for a review"),
    N_(
        "/goi_y CODE text: send a member or an organisation of your subtree written points to "
        "address in its review (gợi ý kiểm điểm): part IV of a member's self-review, of a "
        "collective's report; in one message"
    ),
)
