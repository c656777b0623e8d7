"""The rulebook of the annual review and rating, as plain data and functions.

No I/O and no bot, storage or Telegram imports: handlers call these functions and
translate the msgids they return (gettext domain ``rules``).
"""

from rules.ballot import Decision
from rules.ballot import candidates
from rules.ballot import denominator
from rules.ballot import quorum_met
from rules.ballot import tally
from rules.ballot import tally_for
from rules.ballot import voters
from rules.breaches import Breach
from rules.breaches import Severity
from rules.caps import AllowedLevels
from rules.caps import allowed_levels
from rules.caps import check_member
from rules.deadlines import check_child_deadline
from rules.deadlines import draft_report_due
from rules.deadlines import plan_deadlines
from rules.deadlines import self_review_due
from rules.eligibility import Eligibility
from rules.eligibility import org_review_status
from rules.eligibility import review_status
from rules.forms import form_code
from rules.levels import LEVELS_DESC
from rules.levels import Level
from rules.levels import parse_level
from rules.people import DisciplineForm
from rules.people import MemberFacts
from rules.people import OrgFacts
from rules.people import Presence
from rules.people import Status
from rules.quotas import QuotaScope
from rules.quotas import check_org_quota
from rules.quotas import check_quota
from rules.quotas import htxs_limit
from rules.rulebooks import PLAN_2017
from rules.rulebooks import RULEBOOKS
from rules.rulebooks import CountingRule
from rules.rulebooks import DenominatorRule
from rules.rulebooks import QuotaBase
from rules.rulebooks import Rulebook
from rules.rulebooks import rulebook
from rules.scoring import Score
from rules.scoring import score_band
from rules.scoring import validate_score
from rules.text import DOMAIN
from rules.text import N_
from rules.text import Explanation

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
