"""What the secret ballot shows of a round of kind "units" (issue 14): each collective by its
name (the organisation, or its committee), with the combined score and the level it suggests;
the rest of the ballot's screens are the members' (handlers/views/ballot.py calls these)."""

from __future__ import annotations

from telegram import InlineKeyboardButton
from telegram import InlineKeyboardMarkup

from bot.i18n import Translator
from bot.services.ballot import RoundResult
from bot.services.ballot import RoundView
from bot.services.unit_ballot import UnitCandidate
from bot.text import esc
from handlers.views.ballot import OpenButton
from handlers.views.unit_meeting import subject_label
from handlers.views.unit_scoring import pts


def candidate_name(t: Translator, candidate: UnitCandidate) -> str:
    """The collective's name, plain text."""
    return subject_label(t, candidate.org_name, candidate.subject)


def suggestion(t: Translator, candidate: UnitCandidate) -> str:
    if candidate.score_tenths is None:
        return t("Not scored: no level is suggested.")
    return t(
        "Combined score {total} points: the level it suggests is {level}.",
        total=pts(t, candidate.score_tenths),
        level=f"<b>{candidate.band.value}</b>",
    )


def heading(t: Translator, view: RoundView, index: int, candidate: UnitCandidate) -> list[str]:
    """The top of a collective's page of the ballot."""
    return [
        t(
            "Collective {index} of {count}: {name}",
            index=index + 1,
            count=len(view.candidates),
            name=f"<b>{esc(candidate_name(t, candidate))}</b>",
        ),
        suggestion(t, candidate),
    ]


def open_line(t: Translator, view: RoundView) -> str:
    if view.round.denominator is None:
        return t(
            "Open. Collectives to rate: {count}. Denominator: the ballots cast.",
            count=len(view.candidates),
        )
    return t(
        "Open. Collectives to rate: {count}. Denominator: {denominator}.",
        count=len(view.candidates),
        denominator=view.round.denominator,
    )


def results_note(t: Translator, result: RoundResult) -> list[str]:
    adopted = [r for r in result.results if r.decision is not None and not r.decision.undecided]
    if not adopted:
        return []
    return [
        "",
        t(
            "The levels adopted are the proposals of the collectives, with their combined "
            "score; the deciding level decides them."
        ),
    ]


def results_keyboard(t: Translator, result: RoundResult) -> InlineKeyboardMarkup | None:
    if not result.undecided:
        return None
    label = t("🗳 Vote again on {count} collectives", count=len(result.undecided))
    data = OpenButton("units", result.view.meeting.id).encode()
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data)]])
