"""Message ids for user-facing text.

The rules never translate: they return a msgid and its params, and the bot layer
looks the msgid up in the ``rules`` gettext domain and formats it with str.format.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from typing import Any

DOMAIN = "rules"  # gettext domain of locales/*/LC_MESSAGES/rules.po


def N_(s: str) -> str:
    """Mark a msgid for extraction (Babel keyword ``N_``) without translating it."""
    return s


def rule_list(rule_ids: Iterable[str]) -> str:
    """The ``{rules}`` param: rule ids joined the same way in every language."""
    return ", ".join(rule_ids)


@dataclass(frozen=True)
class Explanation:
    """A translatable sentence: ``msgid`` formatted with ``params`` after translation."""

    msgid: str
    params: dict[str, Any] = field(default_factory=dict)
    rule_ids: tuple[str, ...] = ()

    def render(self, gettext: Any = None) -> str:
        """Format in English, or through ``gettext`` when given (tests, logs)."""
        text = gettext(self.msgid) if gettext else self.msgid
        return text.format(**self.params)


def explain(msgid: str, *rule_ids: str, **params: Any) -> Explanation:
    """Build an Explanation; ``{rules}`` is filled from the rule ids."""
    return Explanation(msgid, {"rules": rule_list(rule_ids), **params}, tuple(rule_ids))
