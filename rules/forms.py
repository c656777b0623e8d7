"""Which self-review form (bản tự kiểm điểm) a member fills (DOMAIN §6)."""

from __future__ import annotations

from rules.people import MemberFacts
from rules.rulebooks import FormScheme
from rules.rulebooks import Rulebook
from rules.text import N_

FORM_TITLES: dict[str, str] = {
    "02": N_("Form 02: self-review of a party member"),
    "2A": N_("Form 2A: self-review of a leader or manager"),
    "2B": N_("Form 2B: self-review of a member in the political system"),
    "2C": N_("Form 2C: self-review of a member outside the political system"),
}


def form_code(member: MemberFacts, rulebook: Rulebook) -> str:
    """Mẫu 02 under hd21-2019; 2A leaders, 2B others, 2C outside the system (qd366-2025)."""
    if rulebook.form_scheme is FormScheme.SINGLE:
        return "02"
    if member.leader:
        return "2A"
    return "2C" if member.outside_political_system else "2B"
