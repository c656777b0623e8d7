"""The collective's review report (báo cáo kiểm điểm của tập thể), issue 14 part A.

The unit's head prepares it (seed 004 A.4.1.a: "Người đứng đầu … trực tiếp chỉ đạo chuẩn bị báo
cáo kiểm điểm của tập thể theo Mẫu 01"), either as a Word file sent to the bot or typed here
part by part, like the self-review. A Word file, when there is one, is the report; the typed
parts stay saved beside it.

The parts are those of the collective's report form, Mẫu 01 of Hướng dẫn 21-HD/BTCTW (2019),
which seed 004 (A.3, A.4) follows through Quy định 19-QĐ/TU: I. strengths and results;
II. shortcomings and their causes; III. fixing the shortcomings named before; IV. answers to
the points the upper level suggested (if any); V. direction and measures. (A member's form,
rules/review_form.py, has the same skeleton with the member's own parts.)

A Word file is read in a worker thread within the roster's limits (bot/roster.py
``BOT_LIMITS``), checked to be a real .docx (a zip holding a Word document that python-docx
opens: not an old .doc, not a password-protected file, not a macro-enabled .docm) with some
text in it, and stored on the review. Its text is never logged.
"""

from __future__ import annotations

import asyncio
import io
import zipfile
from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.i18n import N_
from bot.i18n import Explained
from bot.roster import BOT_LIMITS
from bot.roster import Limits
from rules.review_form import MAX_SECTION_CHARS
from storage.models import AuditEntry
from storage.models import UnitReportPiece
from storage.models import UnitReview


@dataclass(frozen=True)
class ReportSection:
    """One part of the collective's report (Mẫu 01)."""

    key: str  # stored in the database, never changes
    heading: str  # msgid: the form's heading
    hint: str  # msgid: what the form asks for
    optional: bool  # "(nếu có)"


@dataclass(frozen=True)
class ReportFile:
    """What the check of a Word file found, for the head's confirmation."""

    words: int
    paragraphs: int


PROMPTS_KEY = "prompts"

SECTIONS: tuple[ReportSection, ...] = (
    ReportSection(
        "results",
        N_("I. Strengths and results achieved"),
        N_(
            "The results of carrying out the organisation's functions and duties in the year: "
            "the targets of the resolution and the plan, in numbers and percentages against "
            "them.\n"
            "Leading and directing; building the Party in politics, ideology, ethics, "
            "organisation and cadres; inspection and supervision; mass mobilisation.\n"
            "Solidarity and unity; democratic centralism."
        ),
        False,
    ),
    ReportSection(
        "shortcomings",
        N_("II. Shortcomings and their causes"),
        N_(
            "The shortcomings against each item of part I, named concretely.\n"
            "Their causes, objective and subjective, above all the subjective ones."
        ),
        False,
    ),
    ReportSection(
        "earlier_fixes",
        N_(
            "III. Results of fixing the shortcomings concluded by the competent level or named "
            "at earlier reviews"
        ),
        N_(
            "Each shortcoming named before and what the collective did about it: fixed, being "
            "fixed or not fixed, and why."
        ),
        False,
    ),
    ReportSection(
        PROMPTS_KEY,
        N_("IV. Explanation of the points suggested for review (if any)"),
        N_(
            "Only when the upper level sent the collective written points to address.\n"
            "Explain each point in turn, clearly and truthfully."
        ),
        True,  # required once the upper level sent points (see `required_keys`)
    ),
    ReportSection(
        "direction",
        N_("V. Direction and measures to fix the shortcomings"),
        N_(
            "For each shortcoming in part II: the measures to fix it, who is responsible and "
            "the time to finish."
        ),
        False,
    ),
)
BY_KEY = {section.key: section for section in SECTIONS}


def section(key: str) -> ReportSection | None:
    return BY_KEY.get(key)


def required_keys(prompted: bool) -> tuple[str, ...]:
    """The parts that must be written before the draft goes out: part IV only when the upper
    level sent the collective points to answer."""
    return tuple(s.key for s in SECTIONS if not s.optional or (s.key == PROMPTS_KEY and prompted))


def next_key(key: str) -> str | None:
    keys = [s.key for s in SECTIONS]
    index = keys.index(key) if key in keys else -1
    return keys[index + 1] if 0 <= index < len(keys) - 1 else None


# --- the typed parts -----------------------------------------------------------------------


async def section_texts(session: AsyncSession, review_id: int) -> dict[str, str]:
    rows = await session.execute(
        select(UnitReportPiece.section_key, UnitReportPiece.text)
        .where(UnitReportPiece.review_id == review_id)
        .order_by(UnitReportPiece.section_key, UnitReportPiece.seq)
    )
    texts: dict[str, list[str]] = {}
    for key, text in rows:
        texts.setdefault(key, []).append(text)
    return {key: "\n".join(parts) for key, parts in texts.items()}


def joined_length(texts: dict[str, str], key: str) -> int:
    return len(texts.get(key, ""))


class PartFull(ValueError):
    """The part would hold more than MAX_SECTION_CHARS; `room` characters are left."""

    def __init__(self, room: int) -> None:
        super().__init__(room)
        self.room = room


async def add_piece(
    session: AsyncSession, review: UnitReview, key: str, text: str, message_id: int | None,
    actor: str,
) -> int:
    """One message of a part, saved as it arrives; returns the part's new length."""
    length = joined_length(await section_texts(session, review.id), key)
    joiner = 1 if length else 0
    if length + joiner + len(text) > MAX_SECTION_CHARS:
        raise PartFull(max(MAX_SECTION_CHARS - length - joiner, 0))
    last = await session.scalar(
        select(func.max(UnitReportPiece.seq)).where(
            UnitReportPiece.review_id == review.id, UnitReportPiece.section_key == key
        )
    )
    session.add(UnitReportPiece(review_id=review.id, section_key=key, seq=(last or 0) + 1,
                                text=text, message_id=message_id, author=actor))
    review.prepared_by = review.prepared_by or actor
    await session.flush()
    return length + joiner + len(text)


async def piece_of_message(
    session: AsyncSession, actor: str, message_id: int
) -> tuple[UnitReview, UnitReportPiece] | None:
    """The piece of a report that came from `actor`'s message `message_id`."""
    row = (await session.execute(
        select(UnitReview, UnitReportPiece)
        .join(UnitReportPiece, UnitReportPiece.review_id == UnitReview.id)
        .where(UnitReportPiece.author == actor, UnitReportPiece.message_id == message_id)
        .order_by(UnitReportPiece.id.desc())
        .limit(1)
    )).first()
    return (row[0], row[1]) if row else None


async def replace_piece(
    session: AsyncSession, review: UnitReview, piece: UnitReportPiece, text: str
) -> int:
    """The head edited the message a piece came from: the piece takes the new text; returns
    the part's new length."""
    length = joined_length(await section_texts(session, review.id), piece.section_key)
    new_length = length - len(piece.text) + len(text)
    if new_length > MAX_SECTION_CHARS:
        raise PartFull(max(MAX_SECTION_CHARS - (length - len(piece.text)), 0))
    piece.text = text
    await session.flush()
    return new_length


async def drop_last_piece(session: AsyncSession, review: UnitReview, key: str) -> bool:
    """The part's last message withdrawn (one statement); False when the part is empty."""
    inner = aliased(UnitReportPiece)  # not correlated with the row being deleted
    last = select(func.max(inner.seq)).where(
        inner.review_id == review.id, inner.section_key == key).scalar_subquery()
    deleted = await session.execute(
        delete(UnitReportPiece)
        .where(UnitReportPiece.review_id == review.id, UnitReportPiece.section_key == key,
               UnitReportPiece.seq == last)
        .execution_options(synchronize_session=False))
    return deleted.rowcount > 0


# --- the Word file -------------------------------------------------------------------------

DOCX_SUFFIX = ".docx"
# Other word-processor files a head may send by mistake: answered with how to save a .docx.
OTHER_SUFFIXES = (".doc", ".docm", ".odt", ".rtf", ".pdf", ".pages", ".txt")
DOCUMENT_XML = "word/document.xml"
CONTENT_TYPES = "[Content_Types].xml"


class ReportFileRefused(Explained):
    """A file that is not taken as the report; `msgid` and `params` say why."""


E_TOO_LARGE = N_("The file is too large: at most {size} MB.")
E_NOT_DOCX = N_(
    "This is not a Word file (.docx) I can read: it may be an old .doc file, damaged or "
    "password-protected. Open it in Word and save it as .docx («Save as», «Word Document»), "
    "then send it again."
)
E_UNPACKED = N_("The Word file unpacks to more than {size} MB; I do not read files that large.")
E_EMPTY = N_("The Word file has no text in it.")


def read_report_docx(content: bytes, limits: Limits = BOT_LIMITS) -> ReportFile:
    """Check a Word file within `limits` (run it in a worker thread: python-docx parses the
    whole document); ReportFileRefused says why a file is not taken."""
    if len(content) > limits.file_bytes:
        raise ReportFileRefused(E_TOO_LARGE, size=limits.file_bytes // 1024 // 1024)
    if content[:4] != b"PK\x03\x04":  # a zip; an old .doc or an encrypted file is not
        raise ReportFileRefused(E_NOT_DOCX)
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ReportFileRefused(E_NOT_DOCX) from None
    # zipfile never unpacks more than a member declares: the declarations bound the work.
    if len(members) > limits.zip_members or sum(m.file_size for m in members) > limits.unzipped_bytes:
        raise ReportFileRefused(E_UNPACKED, size=limits.unzipped_bytes // 1024 // 1024)
    names = {m.filename for m in members}
    if DOCUMENT_XML not in names or CONTENT_TYPES not in names:
        raise ReportFileRefused(E_NOT_DOCX)
    import docx  # python-docx: imported in the worker thread, when a file comes

    try:
        document = docx.Document(io.BytesIO(content))  # refuses a .docm and other types
    except Exception:  # a damaged part: python-docx raises many kinds
        raise ReportFileRefused(E_NOT_DOCX) from None
    texts = [p.text for p in document.paragraphs]
    texts += [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    words = sum(len(text.split()) for text in texts)
    if words == 0:
        raise ReportFileRefused(E_EMPTY)
    return ReportFile(words=words, paragraphs=sum(1 for text in texts if text.strip()))


async def check_report_file(content: bytes, limits: Limits = BOT_LIMITS) -> ReportFile:
    return await asyncio.to_thread(read_report_docx, content, limits)


def safe_filename(name: str | None) -> str:
    """The file's name as stored and sent back: no path, at most 255 characters, .docx."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1].strip() or "bao-cao-kiem-diem"
    if not base.lower().endswith(DOCX_SUFFIX):
        base += DOCX_SUFFIX
    return base[-255:]


def store_file(
    session: AsyncSession, review: UnitReview, filename: str, content: bytes, actor: str
) -> None:
    """The Word file becomes the report (replacing one sent before)."""
    review.report_filename = safe_filename(filename)
    review.report_docx = content
    review.prepared_by = review.prepared_by or actor
    session.add(AuditEntry.record(actor, "unit_review.report_file", "unit_review", review.id,
                                  org=review.org_id, subject=review.subject, size=len(content)))


def drop_file(session: AsyncSession, review: UnitReview, actor: str) -> bool:
    """Back to the typed parts; False when there was no file."""
    if review.report_docx is None:
        return False
    review.report_docx = None
    review.report_filename = None
    session.add(AuditEntry.record(actor, "unit_review.report_file_removed", "unit_review",
                                  review.id, org=review.org_id, subject=review.subject))
    return True
