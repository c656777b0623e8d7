"""The file (hồ sơ) of a collective or a member as a zip of the documents R-A4 (seed 004 B.7)
lists that the bot holds, with an index of them and of those it does not hold.

A collective's file: its review report (the Word file its head sent, or one written from the
pieces typed in the bot) and score sheet, the meeting's minutes, the participants' opinions,
the decision and level, the upper level's prompts, appeals and their answers. A member's: the
self-review (the official form's Word file), the points where the rulebook scores members, the
prompts, the decision and level history, appeals. What R-A4 lists and the bot never holds
(the appraisal's summary, the residence committee's comments, the asset declaration, …) is
named in the index, never silently left out.

Built off the event loop: ``dossier_off_loop`` runs in a worker thread with an event loop and a
database engine of its own (like the /bao_cao spreadsheet), behind ``report.heavy_slot``. Names
in the zip are ASCII and read as Vietnamese ("01-bao-cao-kiem-diem.docx"); the zip stays within
what Telegram lets a bot send, an uploaded report that would not fit being named instead.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import zipfile
from dataclasses import dataclass
from dataclasses import field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.i18n import Explained
from bot.i18n import Translator
from bot.services import minutes
from bot.services import reviews
from bot.services import unit_report
from bot.services import units
from bot.services.appeal import levels_by_year
from bot.services.cycles import cycle_rulebook
from bot.services.decision import deciding_level
from bot.services.dossier_docx import HELD
from bot.services.dossier_docx import MISSING
from bot.services.dossier_docx import NONE
from bot.services.dossier_docx import AppealRecord
from bot.services.dossier_docx import Change
from bot.services.dossier_docx import Entry
from bot.services.dossier_docx import Letterhead
from bot.services.dossier_docx import Opinion
from bot.services.dossier_docx import PromptRecord
from bot.services.dossier_docx import RatingRecord
from bot.services.dossier_docx import ReportSection
from bot.services.dossier_docx import appeals_docx
from bot.services.dossier_docx import index_docx
from bot.services.dossier_docx import member_scores_docx
from bot.services.dossier_docx import opinions_docx
from bot.services.dossier_docx import prompts_docx
from bot.services.dossier_docx import rating_docx
from bot.services.dossier_docx import report_docx
from bot.services.dossier_docx import score_sheet_docx
from bot.services.minutes import ActorNames
from bot.services.minutes import CollectiveReview
from bot.services.minutes_docx import SUBJECT_NAMES
from bot.services.minutes_docx import day
from bot.services.minutes_docx import render_minutes_docx
from bot.services.prompts import prompts_for
from bot.services.review_docx import render_review_docx
from rules.scoring import score_band
from storage.models import Appeal
from storage.models import Cycle
from storage.models import Meeting
from storage.models import Member
from storage.models import Organisation
from storage.models import ParticipantOpinion
from storage.models import Rating
from storage.models import RatingChange
from storage.models import ReviewPrompt
from storage.models import ReviewState
from storage.models import SelfReview
from storage.models import UnitAppeal
from storage.models import UnitRating
from storage.models import UnitRatingChange
from storage.models import UnitReview
from storage.models import UnitSubject

# Telegram lets a bot send files up to 50 MB; a little is kept for the request around it.
MAX_ZIP_BYTES = 49 * 1024 * 1024
REPORT_EXTENSIONS = (".docx", ".doc", ".odt", ".pdf")
SUFFIXES = {
    UnitSubject.ORGANISATION.value: "",
    UnitSubject.COMMITTEE.value: "-tap-the-cap-uy",
    UnitSubject.STANDING.value: "-ban-thuong-vu",
}
INDEX_NAME = "00-danh-muc-ho-so.docx"

NOT_KEPT = N_("not kept in the bot")


class DossierError(Explained):
    """A file that cannot be made; `msgid` and `params` say why, in the user's language."""


@dataclass
class Dossier:
    name: str  # the collective or member
    code: str
    year: int
    entries: list[Entry]
    filename: str  # of the zip
    content: bytes = b""

    @property
    def held(self) -> list[Entry]:
        return [e for e in self.entries if e.state == HELD]

    @property
    def missing(self) -> list[Entry]:
        return [e for e in self.entries if e.state == MISSING]


@dataclass
class _Files:
    """The zip's documents, numbered in the order they are added."""

    items: list[tuple[str, bytes, bool]] = field(default_factory=list)  # name, bytes, droppable

    def add(self, slug: str, content: bytes, extension: str = ".docx", *,
            droppable: bool = False) -> str:
        name = f"{len(self.items) + 1:02d}-{slug}{extension}"
        self.items.append((name, content, droppable))
        return name


def _titled(t: Translator, msgid: str, review: CollectiveReview | None) -> str:
    """A document's title, naming the collective where the unit has more than one."""
    if review is None:
        return t(msgid)
    subject = SUBJECT_NAMES.get(review.subject)
    return t("{document} ({subject})", document=t(msgid),
             subject=t(subject) if subject else review.subject)


def _extension(filename: str | None) -> str:
    lowered = (filename or "").lower()
    return next((ext for ext in REPORT_EXTENSIONS if lowered.endswith(ext)), ".docx")


# --- a collective's file -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Collective:
    """One collective of the unit in its file: its review as read for the minutes, its row
    (None before it was started), how titles name it (only where the unit has several) and
    the suffix of its files' names."""

    review: CollectiveReview
    row: UnitReview | None
    label: CollectiveReview | None
    suffix: str


async def unit_dossier(
    session: AsyncSession, org: Organisation, t: Translator, *, now: dt.datetime,
    tz: dt.tzinfo,
) -> Dossier:
    cycle, meeting = await minutes.unit_meeting(session, org)
    if cycle is None:
        raise DossierError(N_("No review plan covers {org} yet."), org=org.name)
    today = now.astimezone(tz).date()
    upper = await session.get(Organisation, org.parent_id) if org.parent_id else None
    head = Letterhead(upper.name if upper else None, org.name, cycle.year, today)
    names = ActorNames(session, org)
    reviews = await minutes.collective_reviews(session, cycle, org, cycle_rulebook(cycle), names)
    rows = {r.subject: r for r in await units.reviews_of(session, cycle.id, org.id)}
    collectives = [
        _Collective(r, rows.get(r.subject), r if len(reviews) > 1 else None,
                    SUFFIXES.get(r.subject, "-" + r.subject))
        for r in reviews
    ]
    deciding = await units.deciding_org(session, org)
    decider = deciding.name if deciding else None
    files, entries = _Files(), []
    for c in collectives:  # the report with its scores (R-A4: "báo cáo …, kết quả chấm điểm")
        entries.append(await _report(session, t, head, files, c))
        entries.append(_scores(t, head, files, c))
    entries.append(await _minutes(session, t, files, meeting, today))
    entries.append(Entry(t("Summary of the appraisal by the agencies, units and organisations"),
                         MISSING, note=t(NOT_KEPT)))
    for c in collectives:
        records = await _unit_ratings(session, c.row, names) if c.row is not None else []
        title = _titled(t, N_("Decision, conclusion and level from the competent level"), c.label)
        entries.append(_rating_entry(t, head, files, title, records, c.suffix, org.name, decider))
    entries.append(await _unit_prompts(session, t, head, files, cycle, org))
    for c in collectives:
        entries.append(await _opinions(session, t, head, files, c, names))
        entries.append(await _unit_appeals(session, t, head, files, c, names, org.name, decider))
    return _finish(t, head, org.name, org.code, entries, files, now, tz)


def _scores(t: Translator, head: Letterhead, files: _Files, c: _Collective) -> Entry:
    title = _titled(t, N_("Scores of the collective (score sheet)"), c.label)
    if not c.review.scores.held:
        return Entry(title, MISSING, note=t("not scored in the bot yet"))
    name = files.add("ket-qua-cham-diem" + c.suffix, score_sheet_docx(t, head, c.review))
    return Entry(title, HELD, name)


async def _minutes(session: AsyncSession, t: Translator, files: _Files, meeting: Meeting | None,
                   today: dt.date) -> Entry:
    title = t("Minutes of the review meeting")
    if meeting is None:
        return Entry(title, MISSING, note=t("no meeting recorded in the bot"))
    data = await minutes.gather(session, meeting, today=today)
    name = files.add("bien-ban-hoi-nghi", render_minutes_docx(data, t))
    return Entry(title, HELD, name, t("a draft to complete and sign"))


async def _report(session: AsyncSession, t: Translator, head: Letterhead, files: _Files,
                  c: _Collective) -> Entry:
    title = _titled(t, N_("Review report of the collective"), c.label)
    row = c.row
    if row is not None and row.report_docx:
        name = files.add("bao-cao-kiem-diem" + c.suffix, row.report_docx,
                         _extension(row.report_filename), droppable=True)
        return Entry(title, HELD, name, t("the file sent to the bot: {name}",
                                          name=row.report_filename or name))
    sections = await report_sections(session, row.id) if row is not None else []
    if sections:
        name = files.add("bao-cao-kiem-diem" + c.suffix,
                         report_docx(t, head, c.review, sections))
        return Entry(title, HELD, name, t("written in the bot"))
    return Entry(title, MISSING, note=t("not prepared in the bot yet"))


async def report_sections(session: AsyncSession, review_id: int) -> list[ReportSection]:
    """The report as typed through /tap_the (bot/services/unit_report.py): the parts of Mẫu 01
    that hold text, in the form's order, each under the form's heading (a msgid)."""
    texts = await unit_report.section_texts(session, review_id)
    return [ReportSection(part.heading, texts[part.key])
            for part in unit_report.SECTIONS if texts.get(part.key)]


def _rating_entry(t: Translator, head: Letterhead, files: _Files, title: str,
                  records: list[RatingRecord], suffix: str, whom: str, deciding: str | None,
                  earlier: list[tuple[int, str]] = ()) -> Entry:
    if not records:
        return Entry(title, MISSING, note=t("not rated yet"))
    name = files.add("xep-loai" + suffix, rating_docx(t, head, whom, deciding, records, earlier))
    if any(r.state == "decided" for r in records):
        return Entry(title, HELD, name)
    return Entry(title, MISSING, name, t("not decided yet; the level proposed and its history "
                                         "are in {file}", file=name))


async def _unit_ratings(session: AsyncSession, review: UnitReview,
                        names: ActorNames) -> list[RatingRecord]:
    ratings = await session.scalars(
        select(UnitRating).where(UnitRating.review_id == review.id).order_by(UnitRating.id)
    )
    return await _records(session, list(ratings), UnitRatingChange, names)


async def _records(session: AsyncSession, ratings: list, changes_of: type,
                   names: ActorNames) -> list[RatingRecord]:
    """Ratings (a member's or a unit's) with their history, changes in the order made."""
    found = []
    for rating in ratings:
        changes = list(await session.scalars(
            select(changes_of).where(changes_of.rating_id == rating.id)
            .order_by(changes_of.at, changes_of.id)
        ))
        # The level proposed is the vote's: a unit's deciding level may have lowered it since
        # (a "lowered" row of the history).
        voted = next((c.level for c in reversed(changes) if c.kind == "proposed" and c.level),
                     rating.proposed_level)
        found.append(RatingRecord(
            rating.state, voted, rating.decided_level, rating.decided_at,
            getattr(rating, "not_rated", False), getattr(rating, "score_tenths", None),
            tuple([Change(c.at, c.kind, c.level, c.reason, await names.of(c.actor))
                   for c in changes]),
        ))
    return found


async def _unit_prompts(session: AsyncSession, t: Translator, head: Letterhead, files: _Files,
                        cycle: Cycle, org: Organisation) -> Entry:
    rows = await session.execute(
        select(ReviewPrompt, Organisation.name)
        .join(Organisation, Organisation.id == ReviewPrompt.org_id)
        .where(ReviewPrompt.cycle_id == cycle.id, ReviewPrompt.subject_org_id == org.id)
        .order_by(ReviewPrompt.id)
    )
    found = [PromptRecord(sender, prompt.text, prompt.created_at) for prompt, sender in rows]
    return _prompts_entry(t, head, files, org.name, found)


def _prompts_entry(t: Translator, head: Letterhead, files: _Files, whom: str,
                   found: list[PromptRecord]) -> Entry:
    title = t("Points the upper level asked to address (if any)")
    if not found:
        return Entry(title, NONE)
    return Entry(title, HELD, files.add("goi-y-kiem-diem", prompts_docx(t, head, whom, found)))


async def _opinions(session: AsyncSession, t: Translator, head: Letterhead, files: _Files,
                    c: _Collective, names: ActorNames) -> Entry:
    title = _titled(t, N_("Opinions of the bodies and people taking part (if any)"), c.label)
    opinions = []
    if c.row is not None:
        found = await session.scalars(
            select(ParticipantOpinion).where(ParticipantOpinion.review_id == c.row.id)
            .order_by(ParticipantOpinion.id)
        )
        opinions = [Opinion(o.body, o.level, o.text, await names.of(o.entered_by), o.at)
                    for o in found]
    if not opinions and not c.review.comments:
        return Entry(title, NONE)
    name = files.add("y-kien-tham-gia" + c.suffix, opinions_docx(t, head, c.review, opinions))
    return Entry(title, HELD, name)


async def _unit_appeals(session: AsyncSession, t: Translator, head: Letterhead, files: _Files,
                        c: _Collective, names: ActorNames, whom: str,
                        decider: str | None) -> Entry:
    title = _titled(t, N_("Appeals about the rating and their answers"), c.label)
    if c.row is None:
        return Entry(title, NONE)
    rows = await session.execute(
        select(UnitAppeal, Member.full_name)
        .join(UnitRating, UnitRating.id == UnitAppeal.rating_id)
        .join(Member, Member.id == UnitAppeal.filed_by)
        .where(UnitRating.review_id == c.row.id)
        .order_by(UnitAppeal.filed_at, UnitAppeal.id)
    )
    appeals = [AppealRecord(by, a.filed_at, a.text, a.answer, a.answered_at,
                            await names.of(a.answered_by)) for a, by in rows]
    if not appeals:
        return Entry(title, NONE)
    name = files.add("khieu-nai" + c.suffix, appeals_docx(t, head, whom, appeals, decider))
    return Entry(title, HELD, name)


# --- a member's file ---------------------------------------------------------------------------


async def member_dossier(
    session: AsyncSession, member: Member, t: Translator, *, now: dt.datetime, tz: dt.tzinfo,
) -> Dossier:
    today = now.astimezone(tz).date()
    setting = await reviews.review_setting(session, member, tz, today)
    if setting is None:
        raise DossierError(N_("No review plan covers the cell of {name} yet."),
                           name=member.full_name)
    cycle = setting.cycle
    cell = await session.get(Organisation, member.org_id)
    upper = await session.get(Organisation, cell.parent_id) if cell.parent_id else None
    head = Letterhead(upper.name if upper else None, cell.name, cycle.year, today)
    whom = t("Comrade {name}", name=member.full_name)
    names = ActorNames(session, cell)
    deciding = await deciding_level(session, cell)
    decider = deciding.name if deciding else None
    files = _Files()
    review = await reviews.find_review(session, cycle, member)
    entries = [await _self_review(session, t, files, setting, review, now, tz),
               _member_scores(t, head, files, whom, setting, review),
               *_not_kept(t, member, cycle)]
    prompts = [PromptRecord(p.org_name, p.text, None)
               for p in await prompts_for(session, cycle.id, member.id)]
    entries.append(_prompts_entry(t, head, files, whom, prompts))
    records = await _member_ratings(session, cycle, member, names)
    earlier = [(year, level) for year, level, _state in await levels_by_year(session, member.id)
               if year < cycle.year]
    entries.append(_rating_entry(t, head, files, t("Decision and level, with their history"),
                                 records, "", whom, decider, earlier))
    appeals = await _member_appeals(session, cycle, member, names)
    title = t("Appeals about the rating and their answers")
    if appeals:
        content = appeals_docx(t, head, whom, appeals, decider)
        entries.append(Entry(title, HELD, files.add("khieu-nai", content)))
    else:
        entries.append(Entry(title, NONE))
    return _finish(t, head, whom, member.code, entries, files, now, tz)


async def _self_review(session: AsyncSession, t: Translator, files: _Files, setting,
                       review: SelfReview | None, now: dt.datetime, tz: dt.tzinfo) -> Entry:
    title = t("Personal self-review")
    if review is None:
        return Entry(title, MISSING, note=t("not written in the bot"))
    document = await reviews.build_document(session, setting, review, now, tz)
    name = files.add("ban-tu-kiem-diem", render_review_docx(document, t))
    submitted = review.submitted_at is not None and review.state == ReviewState.SUBMITTED
    note = (t("submitted on {date}", date=day(t, review.submitted_at)) if submitted
            else t("a draft, not submitted"))
    return Entry(title, HELD, name, note)


def _not_kept(t: Translator, member: Member, cycle: Cycle) -> list[Entry]:
    """What seed 004 B.7.b lists for a member that the bot never holds (some only where they
    apply: a leader's assets, a temporary or a former cell's comments, R-E6, R-E7)."""
    msgids = [N_("Supplementary sheet of the party member's records"),
              N_("Comments of the party committee where the member resides")]
    if member.leader or member.head:
        msgids.append(N_("Declaration of assets (leaders and managers)"))
    if member.temporary_org_id is not None:
        msgids.append(N_("Comments of the cell where the member is temporarily active"))
    if member.transferred_in_on is not None and member.transferred_in_on.year == cycle.year:
        msgids.append(N_("Comments of the former cell (if the member was there six months or "
                         "more)"))
    return [Entry(t(msgid), MISSING, note=t(NOT_KEPT)) for msgid in msgids]


def _member_scores(t: Translator, head: Letterhead, files: _Files, whom: str, setting,
                   review) -> Entry:
    title = t("Score sheet and points")
    if not setting.scored:
        return Entry(title, NONE, note=t("this plan's rulebook scores no member"))
    if review is None or review.general_score is None or review.task_score is None:
        return Entry(title, MISSING, note=t("not scored in the bot yet"))
    total = review.general_score + review.task_score
    content = member_scores_docx(t, head, whom, review.general_score, review.task_score,
                                 score_band(total, setting.rulebook), review.proposed_level)
    return Entry(title, HELD, files.add("ket-qua-cham-diem", content))


async def _member_ratings(session: AsyncSession, cycle: Cycle, member: Member,
                          names: ActorNames) -> list[RatingRecord]:
    ratings = await session.scalars(
        select(Rating).where(Rating.cycle_id == cycle.id, Rating.member_id == member.id)
        .order_by(Rating.id)
    )
    return await _records(session, list(ratings), RatingChange, names)


async def _member_appeals(session: AsyncSession, cycle: Cycle, member: Member,
                          names: ActorNames) -> list[AppealRecord]:
    rows = await session.scalars(
        select(Appeal).join(Rating, Rating.id == Appeal.rating_id)
        .where(Appeal.member_id == member.id, Rating.cycle_id == cycle.id)
        .order_by(Appeal.filed_at, Appeal.id)
    )
    return [AppealRecord(member.full_name, a.filed_at, a.text, a.answer, a.answered_at,
                         await names.of(a.answered_by)) for a in rows]


# --- the zip -----------------------------------------------------------------------------------


def _finish(t: Translator, head: Letterhead, whom: str, code: str, entries: list[Entry],
            files: _Files, now: dt.datetime, tz: dt.tzinfo) -> Dossier:
    entries = _within_limit(t, entries, files)
    index = index_docx(t, head, whom, entries)
    stamp = now.astimezone(tz).timetuple()[:6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in ((INDEX_NAME, index), *((n, c) for n, c, _ in files.items)):
            archive.writestr(zipfile.ZipInfo(name, date_time=stamp), content,
                             compress_type=zipfile.ZIP_DEFLATED)
    return Dossier(whom, code, head.year, entries, f"ho-so-{code}-{head.year}.zip",
                   buffer.getvalue())


def _within_limit(t: Translator, entries: list[Entry], files: _Files) -> list[Entry]:
    """Uploaded files that would take the zip over what Telegram takes are left out, largest
    first, and named as missing with the reason (the documents the bot writes are small)."""
    total = sum(len(content) for _n, content, _d in files.items)
    dropped: set[str] = set()
    for name, content, _droppable in sorted(
            (item for item in files.items if item[2]), key=lambda item: -len(item[1])):
        if total <= MAX_ZIP_BYTES:
            break
        dropped.add(name)
        total -= len(content)
    if not dropped:
        return entries
    files.items = [item for item in files.items if item[0] not in dropped]
    return [
        Entry(e.title, MISSING, note=t("too large to send through Telegram: ask the unit for "
                                       "the file"))
        if e.filename in dropped else e
        for e in entries
    ]


async def dossier_off_loop(
    url: str, kind: str, subject_id: int, t: Translator, *, now: dt.datetime, tz: dt.tzinfo,
) -> Dossier:
    """The file of an organisation (`kind` "unit") or a member ("member"), built in a worker
    thread with an event loop and a database engine of its own: neither its queries nor the
    Word files hold the bot's event loop. It only reads."""
    from storage.db import Database

    async def build() -> Dossier:
        db = Database(url)
        try:
            async with db.session() as session:
                if kind == "unit":
                    org = await session.get(Organisation, subject_id)
                    return await unit_dossier(session, org, t, now=now, tz=tz)
                member = await session.get(Member, subject_id)
                return await member_dossier(session, member, t, now=now, tz=tz)
        finally:
            await db.dispose()

    return await asyncio.to_thread(asyncio.run, build())
