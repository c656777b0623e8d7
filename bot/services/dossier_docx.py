"""The Word documents of a file (hồ sơ, R-A4) that the bot writes from what it holds: a
collective's report typed in the bot, its score sheet, the participants' opinions, the level
and its history, the upper level's prompts, appeals and their answers, a member's points, and
the file's index (what it holds, and what R-A4 lists that the bot does not hold).

Pure functions of plain data (bot/services/dossier.py reads it), drawn with the layout helpers
of bot/services/review_docx.py; the score sheet reuses the minutes' score table.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from docx.enum.text import WD_ALIGN_PARAGRAPH

from bot.i18n import N_
from bot.i18n import Translator
from bot.services.minutes import CollectiveReview
from bot.services.minutes_docx import bullet
from bot.services.minutes_docx import comments_part
from bot.services.minutes_docx import day
from bot.services.minutes_docx import level_text
from bot.services.minutes_docx import points_text
from bot.services.minutes_docx import rating_part
from bot.services.minutes_docx import scores_part
from bot.services.minutes_docx import subject_text
from bot.services.minutes_docx import table
from bot.services.review_docx import BLANK
from bot.services.review_docx import body
from bot.services.review_docx import document_bytes
from bot.services.review_docx import heading
from bot.services.review_docx import line
from bot.services.review_docx import new_document
from bot.services.review_docx import paragraphs_of
from bot.services.review_docx import party_header
from bot.services.review_docx import signature_block
from rules.levels import Level
from storage.models import ParticipantBody

HELD, MISSING, NONE = "held", "missing", "none"

BODY_NAMES = {
    ParticipantBody.COUNCIL.value: N_("Standing body of the People's Council and Committee"),
    ParticipantBody.FRONT.value: N_("Committee of the Vietnam Fatherland Front"),
    ParticipantBody.MASS_ORGS.value: N_("Standing committees of the mass organisations"),
    ParticipantBody.LEADERSHIP.value: N_("Leadership of the agency or unit"),
    ParticipantBody.ADVISORY.value: N_("Advisory bodies of the upper committee"),
}
UPSTAIRS = ("lowered", "decided", "cancelled")  # changes the deciding level makes
CHANGE_NAMES = {
    "proposed": N_("proposed"),
    "lowered": N_("lowered"),
    "decided": N_("decided"),
    "cancelled": N_("cancelled to be redone"),
}


@dataclass(frozen=True)
class Letterhead:
    """The header every document of a file carries."""

    upper_name: str | None
    unit_name: str
    year: int
    today: dt.date


@dataclass(frozen=True)
class Entry:
    """A document R-A4 lists: held (a file in the zip), missing (the bot does not hold it:
    it comes on paper), or none (an "if any" document that does not exist)."""

    title: str
    state: str
    filename: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class ReportSection:
    heading: str  # msgid: the part's heading on the form
    text: str


@dataclass(frozen=True)
class Opinion:
    body: str  # ParticipantBody
    level: str | None
    text: str
    by: str | None
    at: dt.datetime


@dataclass(frozen=True)
class Change:
    at: dt.datetime
    kind: str
    level: str | None
    reason: str | None
    by: str | None


@dataclass(frozen=True)
class RatingRecord:
    """One rating row of the plan (cancelled ones stay as history, R-A2)."""

    state: str
    proposed_level: str | None
    decided_level: str | None
    decided_at: dt.datetime | None
    not_rated: bool
    score_tenths: int | None
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class AppealRecord:
    by: str | None
    filed_at: dt.datetime
    text: str
    answer: str | None
    answered_at: dt.datetime | None
    answered_by: str | None


@dataclass(frozen=True)
class PromptRecord:
    sender: str
    text: str
    at: dt.datetime | None


def _start(t: Translator, head: Letterhead, title: str, subtitle: str | None = None):
    document = new_document(title)
    party_header(document, t, upper_name=head.upper_name, unit_name=head.unit_name, place=None,
                 signed_on=head.today)
    document.add_paragraph()
    line(document.add_paragraph(), title.upper(), bold=True, align=WD_ALIGN_PARAGRAPH.CENTER)
    if subtitle:
        line(document.add_paragraph(), subtitle, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER)
    line(document.add_paragraph(), t("Made by the bot on {date} from what it recorded.",
                                     date=t.date(head.today)),
         italic=True, size=12, align=WD_ALIGN_PARAGRAPH.CENTER)
    document.add_paragraph()
    return document


def _paragraphs(document, text: str) -> None:
    for paragraph in paragraphs_of(text) or [BLANK]:
        body(document, paragraph)


# --- a collective's documents ------------------------------------------------------------------


def report_docx(t: Translator, head: Letterhead, review: CollectiveReview,
                sections: list[ReportSection]) -> bytes:
    """The collective's review report as typed in the bot, section by section."""
    what = subject_text(t, review.subject, review.unit_name)
    document = _start(t, head, t("Review report of the collective, {year}", year=head.year), what)
    for section in sections:
        heading(document, t(section.heading))
        _paragraphs(document, section.text)
    signature_block(document, t, [(t("On behalf of {unit}", unit=head.unit_name),
                                   review.prepared_by)])
    return document_bytes(document)


def score_sheet_docx(t: Translator, head: Letterhead, review: CollectiveReview) -> bytes:
    """The collective's scores (Mẫu 01's figures): criteria, deductions and additions, the
    combined total and the level it proposed."""
    what = subject_text(t, review.subject, review.unit_name)
    document = _start(t, head, t("Scores and self-rating of the collective, {year}",
                                 year=head.year), what)
    scores_part(document, t, review.scores)
    rating_part(document, t, review)
    return document_bytes(document)


def opinions_docx(t: Translator, head: Letterhead, review: CollectiveReview,
                  opinions: list[Opinion]) -> bytes:
    """The opinions of the bodies that take part (seed 004 B.1.4 step 2) and the comments
    made on the draft."""
    what = subject_text(t, review.subject, review.unit_name)
    document = _start(t, head, t("Opinions on the rating of the collective, {year}",
                                 year=head.year), what)
    heading(document, t("Opinions of the participating bodies"))
    if not opinions:
        body(document, t("None recorded."))
    for opinion in opinions:
        name = BODY_NAMES.get(opinion.body)
        level = level_text(t, opinion.level) or t("no level proposed")
        who = t(name) if name else opinion.body
        if opinion.by:
            body(document, t("{body} ({date}; entered by {by}); level proposed: {level}",
                             body=who, date=day(t, opinion.at), by=opinion.by, level=level))
        else:
            body(document, t("{body} ({date}); level proposed: {level}", body=who,
                             date=day(t, opinion.at), level=level))
        for paragraph in paragraphs_of(opinion.text):
            bullet(document, paragraph)
    heading(document, t("Comments on the draft report"))
    comments_part(document, t, review)
    return document_bytes(document)


def rating_docx(t: Translator, head: Letterhead, whom: str, deciding: str | None,
                records: list[RatingRecord], earlier: list[tuple[int, str]] = ()) -> bytes:
    """The level decided (or proposed) and its history: every change with its reason."""
    document = _start(t, head, t("Quality rating, {year}", year=head.year), whom)
    if not records:
        body(document, t("Not rated yet."))
    for number, record in enumerate(records, 1):
        if len(records) > 1:
            heading(document, t("Rating {number}", number=number))
        _record(document, t, record, deciding)
    if earlier:
        heading(document, t("Levels of earlier years"))
        for year, level in earlier:
            bullet(document, t("{year}: {level}", year=year, level=level_text(t, level)))
    return document_bytes(document)


def _record(document, t: Translator, record: RatingRecord, deciding: str | None) -> None:
    if record.not_rated:
        body(document, t("Reviewed, not rated: the organisation was founded less than six "
                         "months before the review."))
    if record.score_tenths is not None:
        body(document, t("Combined score: {points} points.",
                         points=points_text(t, record.score_tenths)))
    if record.proposed_level:
        body(document, t("Level proposed: {level}", level=level_text(t, record.proposed_level)))
    if record.state == "decided" and record.decided_level:
        body(document, t("Decided by {org} on {date}: {level}", org=deciding or BLANK,
                         date=day(t, record.decided_at),
                         level=level_text(t, record.decided_level)))
    elif record.state == "cancelled":
        body(document, t("This rating was cancelled to be redone."))
    else:
        body(document, t("Not decided yet by {org}.", org=deciding or BLANK))
    if record.changes:
        rows = [[t.datetime(c.at), t(CHANGE_NAMES.get(c.kind, c.kind)), c.level or "",
                 c.reason or "", c.by or (deciding or "" if c.kind in UPSTAIRS else "")]
                for c in record.changes]
        table(document, [t("When"), t("What"), t("Level"), t("Reason"), t("By")], rows)


def appeals_docx(t: Translator, head: Letterhead, whom: str, appeals: list[AppealRecord],
                 deciding: str | None) -> bytes:
    """Written appeals against the level (R-A1) and the deciding level's written answers."""
    document = _start(t, head, t("Appeals about the rating, {year}", year=head.year), whom)
    for number, appeal in enumerate(appeals, 1):
        heading(document, t("Appeal {number}, filed on {date} by {by}", number=number,
                            date=day(t, appeal.filed_at), by=appeal.by or BLANK))
        _paragraphs(document, appeal.text)
        if appeal.answer is None:
            body(document, t("Answer: not yet."))
            continue
        body(document, t("Answer of {by} on {date}:", by=appeal.answered_by or deciding or BLANK,
                         date=day(t, appeal.answered_at)))
        _paragraphs(document, appeal.answer)
    return document_bytes(document)


def prompts_docx(t: Translator, head: Letterhead, whom: str,
                 prompts: list[PromptRecord]) -> bytes:
    """The points an upper level asked the collective or member to address (gợi ý kiểm điểm)."""
    document = _start(t, head, t("Points to address in the review, {year}", year=head.year),
                      whom)
    for prompt in prompts:
        heading(document, t("From {sender}, {date}:", sender=prompt.sender, date=day(t, prompt.at))
                if prompt.at else t("From {sender}:", sender=prompt.sender))
        _paragraphs(document, prompt.text)
    return document_bytes(document)


# --- a member's documents ----------------------------------------------------------------------


def member_scores_docx(t: Translator, head: Letterhead, whom: str, general: int, tasks: int,
                       band: Level, proposed: str | None) -> bytes:
    """A member's self-scores on 100 points (qd366-2025) and the band they fall in."""
    document = _start(t, head, t("Self-scores of the member, {year}", year=head.year), whom)
    rows = [[t("General criteria"), t.number(general), "30"],
            [t("Task results"), t.number(tasks), "70"],
            [t("Total"), t.number(general + tasks), "100"]]
    table(document, [t("Group"), t("Points"), t("Maximum")], rows, bold_rows=(2,))
    body(document, t("The total falls in the band «{level}».", level=t(band.name_msgid)))
    if proposed:
        body(document, t("Level the member proposes: {level}", level=level_text(t, proposed)))
    return document_bytes(document)


# --- the index ---------------------------------------------------------------------------------

STATE_NAMES = {
    HELD: N_("in this file"),
    MISSING: N_("not held by the bot: add it on paper"),
    NONE: N_("none this year"),
}


def index_docx(t: Translator, head: Letterhead, whom: str, entries: list[Entry]) -> bytes:
    """What the file holds, and every document R-A4 lists that the bot does not hold."""
    document = _start(t, head, t("Index of the file, {year}", year=head.year), whom)
    rows = []
    for number, entry in enumerate(entries, 1):
        state = t(STATE_NAMES[entry.state])
        if entry.note:
            state = f"{state} ({entry.note})"
        rows.append([t.number(number), entry.title, state, entry.filename or ""])
    table(document, [t("No."), t("Document"), t("State"), t("File")], rows)
    missing = [e for e in entries if e.state == MISSING]
    if missing:
        heading(document, t("Documents the bot does not hold"))
        for entry in missing:
            bullet(document, entry.title + (f" ({entry.note})" if entry.note else ""))
    return document_bytes(document)
