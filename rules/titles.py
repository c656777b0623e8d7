"""What each rule is about, in words, where a user reads which rules a breach concerns (the
Breaches sheet of /bao_cao): rule ids (R-Q1) are for code and tests and never reach users.
Each title is a msgid of the ``rules`` domain; ``rule_titles`` gives them for a breach's ids."""

from __future__ import annotations

from collections.abc import Iterable

from rules.text import N_

RULE_TITLES: dict[str, str] = {
    # Who is reviewed and rated.
    "R-E1": N_("exempt and suspended members"),
    "R-E2": N_("members suspended from the committee only"),
    "R-E3": N_("newly admitted members"),
    "R-E4": N_("newly founded organisations"),
    "R-E5": N_("absence from the meeting"),
    "R-E6": N_("temporary members"),
    "R-E7": N_("members transferred during the year"),
    # Caps on one person's level.
    "R-C1": N_("sick leave"),
    "R-C2": N_("maternity leave"),
    "R-C3": N_("discipline during the year"),
    "R-C4": N_("the head of the unit"),
    "R-C5": N_("the score bands"),
    # Quotas on a group.
    "R-Q1": N_("the share of HTXS"),
    "R-Q2": N_("the base of the share"),
    "R-Q3": N_("rounding the share down"),
    "R-Q4": N_("small groups"),
    "R-Q5": N_("where the share is counted"),
    "R-Q6": N_("re-rating when the share is broken"),
    "R-Q7": N_("the share of organisations"),
    # The secret ballot.
    "R-B1": N_("who votes"),
    "R-B2": N_("who is voted on"),
    "R-B3": N_("the number votes are counted against"),
    "R-B4": N_("counting the votes"),
    "R-B5": N_("the two-thirds rule of 2011"),
    "R-B6": N_("the secrecy of the ballot"),
    "R-B7": N_("one ballot per voter"),
    "R-B8": N_("the ballot's receipt"),
    "R-B9": N_("the quorum"),
    "R-B10": N_("the counting committee"),
    # Deadlines.
    "R-D1": N_("the collective's draft report"),
    "R-D2": N_("handing in the self-review"),
    "R-D3": N_("the order of the reviews"),
    "R-D4": N_("the length of the meeting"),
    "R-D5": N_("the plan's deadlines"),
    # After the decision.
    "R-A1": N_("appeals"),
    "R-A2": N_("cancelling a wrong rating"),
    "R-A3": N_("announcing the results"),
    "R-A4": N_("the files kept"),
    "R-A5": N_("HTXS several years running"),
    # The self-review form.
    "R-F1": N_("copied self-reviews"),
}


def rule_titles(rule_ids: Iterable[str]) -> list[str]:
    """The msgids of what these rules are about, in their order, once each."""
    return list(dict.fromkeys(RULE_TITLES[r] for r in rule_ids if r in RULE_TITLES))
