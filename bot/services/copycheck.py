"""Copy detection for self-reviews (R-F1): "không sao chép, photo mẫu kiểm điểm để điền theo
kiểu đối phó" (seed 004).

A section is flagged when it is, for the most part, somebody else's text: another member's
submitted review (``source="review"``) or the form's own guidance pasted back (``"hint"``).

How a pair of sections is scored
--------------------------------
1. **Normalise** (:func:`normalise`): NFC, lower case, the members' own names removed (a copy
   with the names swapped must still match), punctuation and extra spaces dropped. Vietnamese
   diacritics are kept: "bàn" and "bán" are different words.
2. **Clauses**: the raw text is cut at sentence and clause punctuation (``. ; : , ! ?``, line
   breaks, brackets, quotes) and each piece normalised. Clauses, not whole texts, are compared,
   so reordering sentences, merging paragraphs, changing bullets or adding a paragraph do not
   hide a copy.
3. **Form wording is not evidence**: clauses that match a clause of the section's hint
   (``fuzz.ratio`` ≥ :data:`HINT_CLAUSE_MATCH`) are set aside before comparing two members,
   since honest members echo the form's sub-headings ("Tư tưởng chính trị: …").
4. **Score** (0–100): each clause of one text is matched to its best clause in the other with
   ``rapidfuzz.fuzz.ratio``; the match scores are averaged, weighted by clause length; this
   is done both ways and the higher kept (a copy with a paragraph added is fully contained in
   the longer text, only the other way round). For the hint the score is one-way: how much of
   the member's text is the hint.
5. **Gate, for speed**: before the rapidfuzz step, the sets of syllable bigrams (pairs of
   consecutive words, bigrams of the hint removed) are compared; a pair goes on only when at
   least :data:`GATE` % of the smaller set is shared. Sets are cheap, so one review of 9
   sections against 200 others takes about a quarter of a second even when every other
   review is built from the same sentences (the test's worst case), mostly spent preparing
   the texts. numpy is not needed.

Why these measures (experiments in tests/unit/test_copycheck.py)
----------------------------------------------------------------
Whole-text ``fuzz.ratio`` drops to ~62 for a copy with its paragraphs reordered while honest
pairs of the same chi bộ reach ~56; ``token_set_ratio`` and ``partial_ratio`` score a short text
inside a longer one at 100 and put honest short pairs at ~78; sentence-level alignment fails
when a copier turns full stops into commas (45). Clause alignment with ``fuzz.ratio`` kept every
copy variant at 88 or more and every honest pair at 53 or less (see the threshold below).

Threshold
---------
:data:`THRESHOLD` = 75 sits between the lowest copy (a dozen words changed, 88.3) and the
highest honest pair (two teachers of the same school describing the same contest, storm
relief and school year in their own words, 52.9): a margin of 13.3 points below the copies
and 22.1 above the honest pairs, leaning away from false accusations. The gate
(:data:`GATE` = 40) is far below the copies' bigram overlap (≥ 77) and above the honest pairs'
(≤ 23), so it never hides a copy the threshold would catch. Sections shorter than
:data:`MIN_CHARS` normalised characters (about twenty words) are not judged: "Không có" or a
one-line stock answer is the same for everybody.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from functools import lru_cache

from rapidfuzz import fuzz
from rapidfuzz import process

THRESHOLD: float = 75.0
MIN_CHARS: int = 100
GATE: float = 40.0
HINT_CLAUSE_MATCH: float = 90.0

# Clause boundaries become line breaks and other punctuation spaces. ASCII goes through a
# bytes table on the UTF-8 text (bytes.translate is fast; Vietnamese letters are multi-byte
# and untouched), a few typographic marks through str.replace; anything else that is not a
# letter, digit, combining mark or space (emoji, symbols) through the slower _PUNCT.
_ASCII_CLAUSE = ".!?;:,\n\r\t\v\f()[]{}\""
_ASCII_TABLE = bytes(
    10 if chr(code) in _ASCII_CLAUSE else 32 if chr(code) in string.punctuation else code
    for code in range(256)
)
_CLAUSE_MARKS = "…“”«»"
_SPACE_MARKS = "‘’–—•·"
_PUNCT = re.compile(r"[^\w\s\u0300-\u036f]+|_")


@dataclass(frozen=True)
class CopyFlag:
    section_key: str
    source: str  # "hint": the form's guidance; "review": another member's review
    other_review_id: int | None
    score: float  # 0..100


@dataclass(frozen=True)
class OtherReview:
    review_id: int
    names: tuple[str, ...]
    sections: Mapping[str, str] = field(default_factory=dict)


def _name_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    return _compiled_names(tuple(names))


@lru_cache(maxsize=1024)
def _compiled_names(names: tuple[str, ...]) -> re.Pattern[str] | None:
    parts = []
    for name in names:
        words = unicodedata.normalize("NFC", name).lower().split()
        if words:
            parts.append(r"\s+".join(re.escape(word) for word in words))
    if not parts:
        return None
    parts.sort(key=len, reverse=True)  # the full name before any part of it
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)")


def _prepare(text: str, pattern: re.Pattern[str] | None) -> str:
    text = unicodedata.normalize("NFC", text).lower()
    return pattern.sub(" ", text) if pattern else text


def normalise(text: str, *, names: Iterable[str] = ()) -> str:
    """NFC, lower case, without the given names, punctuation and extra spaces."""
    return " ".join(_clauses(text, _name_pattern(names)))


def _clauses(text: str, pattern: re.Pattern[str] | None = None) -> list[str]:
    marked = _prepare(text, pattern).encode("utf-8", "surrogatepass")
    marked = marked.translate(_ASCII_TABLE).decode("utf-8", "replace")
    for mark in _CLAUSE_MARKS:
        marked = marked.replace(mark, "\n")
    for mark in _SPACE_MARKS:
        marked = marked.replace(mark, " ")
    if not marked.replace(" ", "").replace("\n", "").isalnum():  # symbols, emoji, marks
        marked = _PUNCT.sub(" ", marked)
    return [" ".join(words) for words in map(str.split, marked.split("\n")) if words]


def _bigrams(clauses: Iterable[str]) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for clause in clauses:
        words = clause.split()
        found.update(zip(words, words[1:], strict=False))
    return found


def _coverage(clauses: list[str], other: list[str]) -> float:
    """How much of ``clauses`` (by length) is found in ``other``, 0..100."""
    if not clauses or not other:
        return 0.0
    total = weighted = 0.0
    for clause in clauses:
        best = process.extractOne(clause, other, scorer=fuzz.ratio)
        weighted += len(clause) * (best[1] if best else 0.0)
        total += len(clause)
    return weighted / total


def _both_ways(a: list[str], b: list[str]) -> float:
    return max(_coverage(a, b), _coverage(b, a))


def _length(clauses: list[str]) -> int:
    return len(" ".join(clauses))


def similarity(a: str, b: str) -> float:
    """Clause-aligned similarity of two texts, 0..100, the higher of both directions."""
    return round(_both_ways(_clauses(a), _clauses(b)), 1)


class _Hint:
    def __init__(self, text: str) -> None:
        self.clauses = _clauses(text)
        self.bigrams = _bigrams(self.clauses)

    def is_form_wording(self, clause: str) -> bool:
        if not self.clauses:
            return False
        best = process.extractOne(
            clause, self.clauses, scorer=fuzz.ratio, score_cutoff=HINT_CLAUSE_MATCH)
        return best is not None

    def score(self, clauses: list[str]) -> float:
        """How much of the member's text is the hint (one way), 0..100."""
        return _coverage(clauses, self.clauses)


class _Text:
    """One section of one member, prepared once."""

    def __init__(self, text: str, names: Iterable[str], hint: _Hint) -> None:
        self.clauses = _clauses(text, _name_pattern(names))
        self.length = _length(self.clauses)
        self._hint = hint
        self._own: list[str] | None = None
        self.bigrams = _bigrams(self.clauses) - hint.bigrams

    @property
    def own(self) -> list[str]:
        """The clauses that are not the form's wording (computed when first needed)."""
        if self._own is None:
            self._own = [c for c in self.clauses if not self._hint.is_form_wording(c)]
        return self._own


def _gate(a: _Text, b: _Text) -> float:
    smaller = min(len(a.bigrams), len(b.bigrams))
    if not smaller:
        return 0.0
    return 100.0 * len(a.bigrams & b.bigrams) / smaller


def _review_score(a: _Text, b: _Text, min_chars: int) -> float | None:
    """The score of two members' sections; None when either is too short to judge."""
    if a.length < min_chars or b.length < min_chars:
        return None
    own_a, own_b = a.own, b.own
    if _length(own_a) < min_chars or _length(own_b) < min_chars:
        return None
    return round(_both_ways(own_a, own_b), 1)


def section_score(
    a: str, b: str, *, names_a: Iterable[str] = (), names_b: Iterable[str] = (),
    hint: str = "", min_chars: int = MIN_CHARS,
) -> float | None:
    """The score :func:`find_copies` gives two members' sections, without the gate.

    None when either text, or what is left of it beside the form's wording, is shorter than
    ``min_chars``.
    """
    prepared = _Hint(hint)
    return _review_score(_Text(a, names_a, prepared), _Text(b, names_b, prepared), min_chars)


def hint_score(text: str, hint: str, *, names: Iterable[str] = ()) -> float:
    """How much of ``text`` is the form's hint, 0..100."""
    return round(_Hint(hint).score(_clauses(text, _name_pattern(names))), 1)


def find_copies(
    sections: Mapping[str, str],
    others: Iterable[OtherReview],
    hints: Mapping[str, str],
    *,
    own_names: Iterable[str] = (),
    threshold: float = THRESHOLD,
    min_chars: int = MIN_CHARS,
) -> list[CopyFlag]:
    """Flags for the member's sections that copy the hint or another review, best first.

    ``sections`` maps section keys to the member's texts; ``hints`` maps keys to the hints as
    the member saw them (join several languages with a line break if unsure).
    """
    own_names = tuple(own_names)
    others = list(others)
    prepared_hints = {key: _Hint(hints.get(key, "")) for key in sections}
    flags: list[CopyFlag] = []
    for key, text in sections.items():
        if not text or not text.strip():
            continue
        hint = prepared_hints[key]
        mine = _Text(text, own_names, hint)
        if mine.length < min_chars:
            continue
        if hint.clauses:
            score = round(hint.score(mine.clauses), 1)
            if score >= threshold:
                flags.append(CopyFlag(key, "hint", None, score))
        for other in others:
            other_text = other.sections.get(key)
            if not other_text or len(other_text) < min_chars:
                continue
            theirs = _Text(other_text, other.names, hint)
            if theirs.length < min_chars or _gate(mine, theirs) < GATE:
                continue
            score = _review_score(mine, theirs, min_chars)
            if score is not None and score >= threshold:
                flags.append(CopyFlag(key, "review", other.review_id, score))
    flags.sort(key=lambda flag: (-flag.score, flag.section_key, flag.other_review_id or 0))
    return flags
