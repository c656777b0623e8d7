"""Breaches: a rule broken by a proposal, as data the bot layer translates."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from enum import Enum
from typing import Any

from rules.text import Explanation
from rules.text import rule_list


class Severity(Enum):
    ERROR = "error"  # must be fixed before the decision (re-rate, R-Q6)
    WARNING = "warning"  # told to the secretary, e.g. a chi bộ's own share (R-Q5)


@dataclass(frozen=True)
class Breach:
    """``code`` is stable (e.g. "quota.htxs_share"); ``msgid``/``params`` explain it."""

    code: str
    rule_ids: tuple[str, ...]
    msgid: str
    params: dict[str, Any] = field(default_factory=dict)
    member_ids: tuple[str, ...] = ()
    member_names: tuple[str, ...] = ()
    severity: Severity = Severity.ERROR

    @property
    def explanation(self) -> Explanation:
        return Explanation(self.msgid, self.params, self.rule_ids)

    def render(self, gettext: Any = None) -> str:
        return self.explanation.render(gettext)


def breach(
    code: str,
    rule_ids: tuple[str, ...],
    msgid: str,
    *,
    member_ids: tuple[str, ...] = (),
    member_names: tuple[str, ...] = (),
    severity: Severity = Severity.ERROR,
    **params: Any,
) -> Breach:
    """Build a Breach whose ``{rules}`` param lists its rule ids."""
    params = {"rules": rule_list(rule_ids), **params}
    return Breach(code, rule_ids, msgid, params, member_ids, member_names, severity)
