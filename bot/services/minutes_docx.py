"""The minutes as a Word file in the usual layout of a party meeting's minutes: the party's
header, the title, time, place and who took part, the order followed, each collective's review
and scores, the ballot's results, the upper level's prompts, the chair's conclusions and the
signatures of the chair and the secretary of the meeting.

Drawn from ``bot.services.minutes.MinutesData`` alone (no database), so it runs in a worker
thread. What the bot does not know (the place, who chaired, the discussion) is left as blank
lines for the secretary to complete; a part whose data does not exist yet says so ("chưa có")
instead of disappearing. The score table and the lines about a collective are shared with the
documents of a file (bot/services/dossier_docx.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Pt

from bot.i18n import N_
from bot.i18n import Translator
from bot.services.minutes import AdjustmentLine
from bot.services.minutes import CollectiveReview
from bot.services.minutes import MinutesData
from bot.services.minutes import RoundLine
from bot.services.minutes import ScoreSummary
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
from storage.models import AdjustmentKind
from storage.models import CommentStage
from storage.models import UnitSubject

TABLE_PT = 12
FILL = "………………………………………………"

SUBJECT_NAMES = {
    UnitSubject.ORGANISATION.value: N_("The party organisation"),
    UnitSubject.COMMITTEE.value: N_("The leadership collective (party committee)"),
    UnitSubject.STANDING.value: N_("The standing committee"),
}
STAGE_NAMES = {
    CommentStage.COMMITTEE.value: N_("committee member, on the draft"),
    CommentStage.PARTICIPANT.value: N_("participant, before the meeting"),
}
ROUND_KINDS = {
    "members": N_("rating the members"),
    "units": N_("rating the organisation and collectives"),
}
ROUND_STATES = {
    "pending": N_("being opened: no result yet"),
    "voting": N_("voting under way: no result yet"),
    "sealed": N_("voting ended, waiting for the counting committee to open the box: no result yet"),
}
NOT_YET = N_("Not yet.")


def points_text(t: Translator, tenths_value: int | None) -> str:
    """92.5 points in the reader's locale ("92,5"); a dash where none were given."""
    return "—" if tenths_value is None else t.number(Decimal(tenths_value) / 10)


def day(t: Translator, value: dt.datetime | None) -> str:
    """The date of a stored (UTC) moment where the reader is (Vietnam), or a blank."""
    if value is None:
        return BLANK
    return t.date(value.astimezone(t.timezone).date() if t.timezone else value.date())


def level_text(t: Translator, code: str | None) -> str:
    return t(Level(code).name_msgid) if code else ""


def subject_text(t: Translator, subject: str, unit_name: str) -> str:
    name = SUBJECT_NAMES.get(subject)
    return t("{subject}: {unit}", subject=t(name) if name else subject, unit=unit_name)


def bullet(document, text: str) -> None:
    paragraph = document.add_paragraph()
    paragraph.add_run("– " + text.replace("\r", ""))
    paragraph.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY


def blank_lines(document, count: int = 2) -> None:
    for _ in range(count):
        line(document.add_paragraph(), FILL + FILL)


def table(document, headers: list[str], rows: Iterable[list[str]], *, bold_rows=()) -> None:
    """A bordered table, headers bold, in a size that fits the page."""
    rows = list(rows)
    grid = document.add_table(rows=1 + len(rows), cols=len(headers))
    grid.style = "Table Grid"
    for index, values in enumerate([headers, *rows]):
        for cell, value in zip(grid.rows[index].cells, values, strict=True):
            run = cell.paragraphs[0].add_run(value)
            run.font.size = Pt(TABLE_PT)
            run.bold = index == 0 or (index - 1) in bold_rows or None
    document.add_paragraph()


# --- a collective's review (shared with the file's documents) -----------------------------------


def score_table(document, t: Translator, scores: ScoreSummary) -> None:
    headers = [t("No."), t("Criterion"), t("Maximum"), t("Draft"),
               t("Meeting ({sheets} sheets)", sheets=t.number(scores.sheets))]
    rows, top = [], []
    for index, criterion in enumerate(scores.criteria):
        if criterion.depth == 0:
            top.append(index)
        rows.append([criterion.code, criterion.text, points_text(t, criterion.max_tenths),
                     points_text(t, criterion.draft_tenths),
                     points_text(t, criterion.combined_tenths)])
    table(document, headers, rows, bold_rows=top)


def adjustment_text(t: Translator, item: AdjustmentLine) -> str:
    applied = points_text(t, abs(item.applied_tenths))
    if item.kind == AdjustmentKind.DEDUCTION:
        return t("Criterion {criterion}: minus {points} points (target missed by {shortfall}%); "
                 "reason: {reason}; responsible: {responsible}", criterion=item.criterion,
                 points=applied, shortfall=points_text(t, item.shortfall_tenths),
                 reason=item.reason, responsible=item.responsible)
    return t("Criterion {criterion}: plus {points} points; outstanding result: {reason}; "
             "credited to: {responsible}", criterion=item.criterion, points=applied,
             reason=item.reason, responsible=item.responsible)


def scores_part(document, t: Translator, scores: ScoreSummary) -> None:
    """The score sheet's figures: the criteria, the deductions and additions, the total."""
    if not scores.framework:
        body(document, t("Scores by criterion: no criteria framework applies to this unit yet."))
    elif not scores.held:
        body(document, t("Scores by criterion: not yet."))
    else:
        body(document, t("Scores by criterion (the draft, and the mean of the sheets the members "
                         "present handed in):"))
        score_table(document, t, scores)
    agreed = [a for a in scores.adjustments if a.agreed]
    proposed = [a for a in scores.adjustments if not a.agreed]
    if not scores.adjustments:
        body(document, t("Deductions and additions: none recorded."))
    if agreed:
        body(document, t("Deductions and additions agreed by the meeting:"))
        for item in agreed:
            bullet(document, adjustment_text(t, item))
    if proposed:
        body(document, t("Deductions and additions proposed in the draft, not agreed by the "
                         "meeting:"))
        for item in proposed:
            bullet(document, adjustment_text(t, item))
    if scores.combined_tenths is None:
        body(document, t("Combined total: not yet."))
    else:
        body(document, t("Combined total (the mean of the members' sheets, deductions and "
                         "additions included): {points} points, in the band «{level}».",
                         points=points_text(t, scores.combined_tenths),
                         level=level_text(t, scores.band.value if scores.band else None)))


def rating_part(document, t: Translator, review: CollectiveReview) -> None:
    if review.not_rated:
        body(document, t("Reviewed, not rated: the organisation was founded less than six "
                         "months before the review."))
        return
    proposed = level_text(t, review.proposed_level) or t(NOT_YET)
    body(document, t("Level the collective proposes for itself: {level}", level=proposed))
    decided = level_text(t, review.decided_level) or t("not decided yet")
    body(document, t("Decided by {org}: {level}", org=review.deciding_name or BLANK,
                     level=decided))


def report_part(document, t: Translator, review: CollectiveReview) -> None:
    presenter = review.prepared_by or BLANK
    if review.report == "file":
        body(document, t("Comrade {name} presented the collective's review report (the Word file "
                         "«{file}»).", name=presenter, file=review.report_filename or ""))
    elif review.report == "typed":
        body(document, t("Comrade {name} presented the collective's review report (written in the "
                         "bot).", name=presenter))
    else:
        body(document, t("The collective's review report: not yet."))
    if review.circulated_at is not None:
        body(document, t("The draft report and score sheet were sent to the participants on "
                         "{date}.", date=day(t, review.circulated_at)))
    elif review.state is not None:
        body(document, t("The draft report has not been sent to the participants yet."))


def comments_part(document, t: Translator, review: CollectiveReview) -> None:
    if not review.comments:
        body(document, t("Comments on the draft: none recorded."))
    else:
        body(document, t("Comments on the draft:"))
        for comment in review.comments:
            stage = STAGE_NAMES.get(comment.stage)
            bullet(document, t("Comrade {name} ({stage}): {text}", name=comment.name,
                               stage=t(stage) if stage else comment.stage, text=comment.text))


def collective_part(document, t: Translator, number: int, review: CollectiveReview) -> None:
    heading(document, f"{number}. " + subject_text(t, review.subject, review.unit_name))
    if review.state is None:
        body(document, t("The review of this collective: not yet."))
        return
    if review.reviewed_at is not None:
        body(document, t("Reviewed at the meeting at {time}.", time=t.datetime(review.reviewed_at)))
    report_part(document, t, review)
    comments_part(document, t, review)
    body(document, t("Opinions given in the discussion at the meeting:"))
    blank_lines(document)
    scores_part(document, t, review.scores)
    rating_part(document, t, review)


# --- the minutes -------------------------------------------------------------------------------


def _title(document, t: Translator, data: MinutesData) -> None:
    document.add_paragraph()
    title = (t("Meeting to review, evaluate and rate the quality of the party organisation and "
               "its members, {year}", year=data.year) if data.is_cell else
             t("Meeting to review, evaluate and rate the quality of the party organisation and "
               "its leadership collective, {year}", year=data.year))
    paragraph = line(document.add_paragraph(), t("Minutes").upper(), bold=True, size=15,
                     align=WD_ALIGN_PARAGRAPH.CENTER)
    paragraph.runs[0].add_break()
    line(paragraph, title.upper(), bold=True)
    line(document.add_paragraph(), t("Draft made by the bot on {date} from what it recorded; the "
                                     "secretary of the meeting completes the blanks and presents "
                                     "it for signature.", date=t.date(data.drafted_on)),
         italic=True, size=TABLE_PT, align=WD_ALIGN_PARAGRAPH.CENTER)


def _who(document, t: Translator, data: MinutesData) -> None:
    heading(document, t("I. Time, place and participants"))
    body(document, t("Time: {time}.", time=t.datetime(data.meeting_at)))
    body(document, t("Place: {blank}", blank=FILL))
    body(document, t("Chair: comrade {blank}, post: {post}", blank=FILL, post=FILL))
    body(document, t("Secretary of the meeting: comrade {blank}", blank=FILL))
    body(document, t("Representatives of the upper level attending (if any): {blank}", blank=FILL))
    _attendance(document, t, data)


def _attendance(document, t: Translator, data: MinutesData) -> None:
    a = data.attendance
    n = t.number
    if data.is_cell:
        body(document, t("Members of the cell: {total} ({official} official, {probationary} "
                         "probationary).", total=n(a.members), official=n(a.official),
                         probationary=n(a.probationary)))
    else:
        body(document, t("Committee members convened: {total}.", total=n(a.members)))
    if not a.recorded:
        body(document, t("Attendance: not yet (nobody was marked present or absent)."))
        return
    for named, counted, names in (
        (N_("Present: {count}: {names}."), N_("Present: {count}."), a.present),
        (N_("Absent with an accepted excuse: {count}: {names}."),
         N_("Absent with an accepted excuse: {count}."), a.excused),
        (N_("Absent without an excuse: {count}: {names}."), N_("Absent without an excuse: {count}."),
         a.absent),
    ):
        body(document, t(named, count=n(len(names)), names=", ".join(names)) if names
             else t(counted, count=n(0)))
    verdict = (t("the meeting is valid (at least two thirds present)") if a.quorum else
               t("the meeting is not valid (fewer than two thirds present)"))
    body(document, t("Members counted for the vote (the denominator): {denominator}; present among "
                     "them: {present}/{denominator}: {verdict}.", denominator=n(a.denominator),
                     present=n(a.present_counted), verdict=verdict))


def _order(document, t: Translator, data: MinutesData) -> None:
    heading(document, t("II. Order of the meeting"))
    if data.ballot_before_collectives:
        body(document, t("The ballot on the members' levels was opened before the collectives' "
                         "review was done. Reason recorded: {reason}",
                         reason=data.order_reason or t("not recorded")))
    else:
        body(document, t("The meeting reviewed the collectives first, then the individuals."))
    for review in data.reviews:
        what = subject_text(t, review.subject, review.unit_name)
        if review.reviewed_at is not None:
            bullet(document, t("{what}: reviewed at {time}.", what=what,
                               time=t.datetime(review.reviewed_at)))
        else:
            bullet(document, t("{what}: review not recorded yet.", what=what))
    if data.is_cell:
        if data.presented:
            bullet(document, t("{count} members presented their self-review: {names}.",
                               count=t.number(len(data.presented)), names=", ".join(data.presented)))
        else:
            bullet(document, t("Members' self-reviews: not yet."))


def _collectives(document, t: Translator, data: MinutesData) -> None:
    heading(document, t("III. Review of the collectives"))
    if not data.reviews:
        body(document, t("This unit is not reviewed as a collective here."))
    for number, review in enumerate(data.reviews, 1):
        collective_part(document, t, number, review)


def _round(document, t: Translator, item: RoundLine) -> None:
    kind = ROUND_KINDS.get(item.kind)
    heading(document, t("Round {number}: {kind}", number=item.number,
                        kind=t(kind) if kind else item.kind))
    n = t.number
    body(document, t("Opened at {time}; {cast} of {voters} voters cast their ballot.",
                     time=t.datetime(item.opened_at), cast=n(item.cast), voters=n(item.voters)))
    if item.state != "closed":
        state = ROUND_STATES.get(item.state)
        body(document, t("State: {state}.", state=t(state) if state else item.state))
        return
    if item.denominator:
        body(document, t("The box was opened at {time}; levels are adopted with more than half of "
                         "{denominator} votes.", time=t.datetime(item.closed_at or item.opened_at),
                         denominator=n(item.denominator)))
    headers = [t("Candidate"), *(code for code in ("HTXS", "HTT", "HT", "KHT")), t("Blank"),
               t("Result")]
    rows = []
    for result in item.results:
        name = result.name
        if result.subject and result.subject != UnitSubject.ORGANISATION.value:
            name = subject_text(t, result.subject, result.name)
        outcome = (t("no level: vote again") if result.undecided or not result.adopted
                   else result.adopted)
        rows.append([name, *(n(votes) for _choice, votes in result.counts), outcome])
    table(document, headers, rows)


def _ballot(document, t: Translator, data: MinutesData) -> None:
    heading(document, t("IV. Results of the secret ballot"))
    if data.tellers:
        body(document, t("Counting committee: {names}; {threshold} of them open the box.",
                         names=", ".join(data.tellers),
                         threshold=t.number(data.threshold or len(data.tellers))))
    else:
        body(document, t("Counting committee: not yet."))
    if not data.rounds:
        body(document, t("Ballot rounds: not yet."))
        return
    body(document, t("Each ballot is secret: only the number of votes for each level is "
                     "recorded, never who cast which vote."))
    for item in data.rounds:
        _round(document, t, item)


def _prompts(document, t: Translator, data: MinutesData) -> None:
    heading(document, t("V. Points the upper level asked to address"))
    if not data.prompts:
        body(document, t("None."))
    for prompt in data.prompts:
        body(document, t("To {to}, from {sender}:", to=prompt.to, sender=prompt.sender))
        for paragraph in paragraphs_of(prompt.text):
            bullet(document, paragraph)


def _conclusions(document, t: Translator, data: MinutesData) -> None:
    heading(document, t("VI. Conclusions of the chair"))
    if data.conclusions is None:
        body(document, t(NOT_YET))
        blank_lines(document, 3)
        return
    for paragraph in paragraphs_of(data.conclusions):
        body(document, paragraph)


def render_minutes_docx(data: MinutesData, t: Translator) -> bytes:
    """The minutes as a .docx file's bytes."""
    document = new_document(t("Minutes of the meeting of {unit}, {year}", unit=data.unit_name,
                              year=data.year))
    local = data.meeting_at.astimezone(t.timezone) if t.timezone else data.meeting_at
    party_header(document, t, upper_name=data.upper_name, unit_name=data.unit_name, place=None,
                 signed_on=local.date())
    _title(document, t, data)
    _who(document, t, data)
    _order(document, t, data)
    _collectives(document, t, data)
    _ballot(document, t, data)
    _prompts(document, t, data)
    _conclusions(document, t, data)
    body(document, t("The meeting closed at {blank} the same day. The minutes were read to the "
                     "meeting and approved.", blank="……"))
    signature_block(document, t, [(t("Secretary of the meeting"), None), (t("Chair"), None)])
    return document_bytes(document)
