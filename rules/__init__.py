"""The rulebook of the annual review and rating, as plain data and functions.

No I/O and no bot, storage or Telegram imports: handlers call these functions and
translate the msgids they return (gettext domain ``rules``).
"""

from rules.ballot import Decision, candidates, denominator, quorum_met, tally, tally_for, voters
from rules.breaches import Breach, Severity
from rules.caps import AllowedLevels, allowed_levels, check_member
from rules.deadlines import (
    check_child_deadline,
    draft_report_due,
    plan_deadlines,
    self_review_due,
)
from rules.eligibility import Eligibility, org_review_status, review_status
from rules.forms import form_code
from rules.levels import LEVELS_DESC, Level, parse_level
from rules.people import DisciplineForm, MemberFacts, OrgFacts, Presence, Status
from rules.quotas import QuotaScope, check_org_quota, check_quota, htxs_limit
from rules.rulebooks import (
    PLAN_2017,
    RULEBOOKS,
    CountingRule,
    DenominatorRule,
    QuotaBase,
    Rulebook,
    rulebook,
)
from rules.scoring import Score, score_band, validate_score
from rules.text import DOMAIN, N_, Explanation

__all__ = [
    "DOMAIN", "LEVELS_DESC", "PLAN_2017", "RULEBOOKS", "AllowedLevels", "Breach",
    "CountingRule", "Decision", "DenominatorRule", "DisciplineForm", "Eligibility",
    "Explanation", "Level", "MemberFacts", "N_", "OrgFacts", "Presence", "QuotaBase",
    "QuotaScope", "Rulebook", "Score", "Severity", "Status", "allowed_levels", "candidates",
    "check_child_deadline", "check_member", "check_org_quota", "check_quota", "denominator",
    "draft_report_due", "form_code", "htxs_limit", "org_review_status", "parse_level",
    "plan_deadlines", "quorum_met", "review_status", "rulebook", "score_band",
    "self_review_due", "tally", "tally_for", "validate_score", "voters",
]
