"""The sections of the self-review form (bản tự kiểm điểm), DOMAIN §6, with hints.

Part A of every form (Mẫu 02 of 2019; Mẫu 2A, 2B, 2C of 2025) has the same skeleton:
I. strengths and results (1. politics and ethics, 2. results of the duties, 3. the yearly
commitment; leaders add 4. leading and managing), II. shortcomings and causes, III. fixing
earlier shortcomings, IV. the points suggested for review (if any), V. the member's part in
the collective's shortcomings (if any), VI. direction and measures. Part B is the self-rating.

Headings and hints are msgids of the ``rules`` domain: English here, the official Vietnamese
wording in ``locales/vi/LC_MESSAGES/rules.po``. Section keys are stored in the database and
never change.
"""

from __future__ import annotations

from dataclasses import dataclass

from rules.text import N_

MAX_SECTION_CHARS = 20_000

FORM_CODES = ("02", "2A", "2B", "2C")

# Headings of the two parts and of part I, which holds several sections.
CONTENT_HEADING = N_("A. Content of the review")
RATING_HEADING = N_("B. Self-proposed quality level")
PART_TITLES: dict[str, str] = {
    "I": N_("I. Strengths and results achieved"),
}


@dataclass(frozen=True)
class Section:
    """One section of part A: what the member writes under one heading of the form."""

    key: str  # stable id stored in the database
    heading: str  # msgid: the form's own heading
    hint: str  # msgid: what the form asks for, a few lines
    optional: bool  # "(nếu có)": may be left empty
    part: str  # "I" … "VI", the roman numeral under "A."


_POLITICS = Section(
    key="politics",
    heading=N_(
        "I.1. Political ideology; ethics and lifestyle; sense of organisation and discipline; "
        "working style and manner"
    ),
    hint=N_(
        "Political ideology: loyalty to the Party's ideals; carrying out the Party's guidelines "
        "and the State's policies and laws.\n"
        "Ethics and lifestyle: integrity, a simple and healthy life; solidarity and unity; "
        "setting an example; keeping to the things party members may not do.\n"
        "Sense of organisation and discipline; working style and manner.\n"
        "Relate to the signs of degradation in political ideology, ethics and lifestyle, "
        "“self-evolution” and “self-transformation”."
    ),
    optional=False,
    part="I",
)

_RESULTS = Section(
    key="results",
    heading=N_("I.2. Results of the duties and targets assigned"),
    hint=N_(
        "The targets and duties assigned for the year and what was done: concrete work, "
        "measured in numbers or percentages against the plan where possible.\n"
        "Quality, progress and effectiveness of the work; concrete, measurable products.\n"
        "Name plainly what was not done or was late."
    ),
    optional=False,
    part="I",
)

# Mẫu 2C: members outside the political system are judged on what their chi bộ assigned.
_RESULTS_CELL = Section(
    key="results",
    heading=N_("I.2. Results of the duties assigned by the party cell"),
    hint=N_(
        "The duties the party cell assigned you during the year and how you carried them out.\n"
        "Your part in the work of the residential area, the mass organisations and the "
        "movements where you live.\n"
        "Keeping in touch with the party cell and the party committee where you reside."
    ),
    optional=False,
    part="I",
)

_COMMITMENT = Section(
    key="commitment",
    heading=N_("I.3. Keeping the yearly commitment to self-cultivation, training and striving"),
    hint=N_(
        "What you committed to at the start of the year and how far you kept it.\n"
        "Your study, self-cultivation and training; what is still not done."
    ),
    optional=False,
    part="I",
)

_LEADERSHIP_HINT = N_(
    "Results of leading and managing, and how the agency, unit or field in your charge "
    "performed.\n"
    "Ability to unite and rally people; daring to think, to act and to take responsibility "
    "for the common good.\n"
    "Building the staff; controlling power; innovation and digital transformation.\n"
    "Setting an example, yourself and your family; fighting corruption, waste and "
    "negative practices.\n"
    "The confidence of cadres, party members and the people."
)
_LEADERSHIP_HEADING = N_("I.4. Results of leading and managing (leaders and managers)")
_LEADERSHIP = Section(
    key="leadership", heading=_LEADERSHIP_HEADING, hint=_LEADERSHIP_HINT,
    optional=False, part="I",
)
# Mẫu 02 (2019) has the same item for leaders only: optional for everyone else.
_LEADERSHIP_02 = Section(
    key="leadership", heading=_LEADERSHIP_HEADING, hint=_LEADERSHIP_HINT,
    optional=True, part="I",
)

_SHORTCOMINGS = Section(
    key="shortcomings",
    heading=N_("II. Shortcomings and their causes"),
    hint=N_(
        "The shortcomings against each item of part I, named concretely, not in general terms.\n"
        "Their causes, objective and subjective, above all the subjective ones."
    ),
    optional=False,
    part="II",
)

_EARLIER_FIXES = Section(
    key="earlier_fixes",
    heading=N_(
        "III. Results of fixing the shortcomings concluded by the competent level or named "
        "at earlier reviews"
    ),
    hint=N_(
        "Each shortcoming named before and what you did to fix it.\n"
        "Which are fixed, which are still being fixed, which are not, and why."
    ),
    optional=False,
    part="III",
)

_PROMPTS = Section(
    key="prompts",
    heading=N_("IV. Explanation of the points suggested for review (if any)"),
    hint=N_(
        "Only when the competent level sent you written points to address in your review.\n"
        "Explain each point in turn, clearly and truthfully."
    ),
    optional=True,
    part="IV",
)

# Shown in part IV, above the member's answers: the points an upper level sent (one line each).
PROMPTS_FROM = N_("Points for review suggested by {org}:")

_COLLECTIVE = Section(
    key="collective",
    heading=N_(
        "V. Your own responsibility for the shortcomings of the collective (if any)"
    ),
    hint=N_(
        "The shortcomings of the collective you are a member of.\n"
        "Your own responsibility for each of them, tied to the duties you were assigned."
    ),
    optional=True,
    part="V",
)

_MEASURES = Section(
    key="measures",
    heading=N_("VI. Direction and measures to fix the shortcomings"),
    hint=N_(
        "For each shortcoming in part II: the measures to fix it and the time to finish.\n"
        "Concrete measures that can be checked at the next review."
    ),
    optional=False,
    part="VI",
)

_TAIL = (_SHORTCOMINGS, _EARLIER_FIXES, _PROMPTS, _COLLECTIVE, _MEASURES)

_SECTIONS: dict[str, tuple[Section, ...]] = {
    "02": (_POLITICS, _RESULTS, _COMMITMENT, _LEADERSHIP_02, *_TAIL),
    "2A": (_POLITICS, _RESULTS, _COMMITMENT, _LEADERSHIP, *_TAIL),
    "2B": (_POLITICS, _RESULTS, _COMMITMENT, *_TAIL),
    "2C": (_POLITICS, _RESULTS_CELL, _COMMITMENT, *_TAIL),
}


def sections_for(form_code: str) -> tuple[Section, ...]:
    """The sections of part A of a form, in form order; ValueError for an unknown code."""
    try:
        return _SECTIONS[form_code.strip().upper()]
    except KeyError:
        raise ValueError(f"unknown form {form_code!r}") from None


def section_keys(form_code: str) -> tuple[str, ...]:
    """The keys of :func:`sections_for`, in order."""
    return tuple(section.key for section in sections_for(form_code))
