"""The self-review as a Word file laid out like the official form (Mẫu 02, 2A, 2B, 2C).

Header table without borders (the party organisations left, the party's name and the place
and date right), the title and year, the member's particulars, part A with each section's
heading and the member's own paragraphs, part B with the scores (2025) and the proposed
level, and the signature block. Times New Roman on A4 with the margins of an administrative
document. Every label goes through the translator; the member's text is kept character for
character, less the control characters XML cannot hold.

The layout helpers (``new_document``, ``party_header``, ``line``, ``body``, ``heading``,
``signature_block``…) are shared by every Word file the bot writes: the meeting's minutes and
the documents of a file (bot/services/minutes_docx.py, dossier_docx.py) use them too.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm
from docx.shared import Pt
from docx.table import Table
from docx.text.paragraph import Paragraph

from bot.i18n import Translator
from rules.levels import Level
from rules.review_form import CONTENT_HEADING
from rules.review_form import PART_TITLES
from rules.review_form import PROMPTS_FROM
from rules.review_form import RATING_HEADING
from rules.review_form import Section

PROMPTS_KEY = "prompts"  # the section of part IV (rules/review_form.py)

FONT = "Times New Roman"
BODY_PT = 14
HEADER_PT = 13
GENERAL_MAX = 30
TASKS_MAX = 70
TOTAL_MAX = 100
BLANK = "……"

# Characters XML 1.0 cannot hold (tab, line feed and carriage return can).
_XML_INVALID = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class ReviewDocument:
    form_code: str
    year: int
    full_name: str
    birth_date: date | None
    position: str | None
    cell_name: str
    upper_org_name: str | None  # party headers: upper organisation and chi bộ
    sections: list[tuple[Section, str]]  # the member's text, as written
    general_score: int | None  # qd366-2025 only
    task_score: int | None
    proposed_level: Level | None  # None when the member is not rated
    place: str | None
    signed_on: date
    # Part IV: the points an upper level sent (gợi ý kiểm điểm), as (organisation, text).
    prompts: tuple[tuple[str, str], ...] = ()


def clean_text(text: str) -> str:
    """The text without XML-invalid characters, with line breaks as ``\\n``."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _XML_INVALID.sub("", text)


def paragraphs_of(text: str) -> list[str]:
    """The member's paragraphs: one per line, blank lines dropped, nothing else changed."""
    return [line for line in clean_text(text).split("\n") if line.strip()]


def official_date_parts(day: date) -> tuple[str, str, str]:
    """Day and month as administrative documents write them: "05", "02", but "12"."""
    return (f"{day.day:02d}", f"{day.month:02d}" if day.month < 3 else str(day.month),
            str(day.year))


# --- layout shared by every Word file the bot writes (the self-review, the minutes, the files) ---


def new_document(title: str):
    """An empty A4 document in the administrative layout: Times New Roman, the margins of an
    official document, no author recorded."""
    document = Document()
    style_document(document)
    properties = document.core_properties
    properties.title = clean_text(title)
    properties.author = ""
    properties.comments = ""
    return document


def document_bytes(document) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def style_document(document) -> None:
    section = document.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    section.top_margin = section.bottom_margin = Cm(2)
    section.left_margin = Cm(3)
    section.right_margin = Cm(2)
    normal = document.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(BODY_PT)
    fonts = normal.element.get_or_add_rPr().get_or_add_rFonts()
    for attribute in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):
        fonts.set(qn(attribute), FONT)
    normal.paragraph_format.space_after = Pt(3)
    normal.paragraph_format.line_spacing = 1.15


def no_borders(table: Table) -> None:
    properties = table._tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        element = OxmlElement(f"w:{edge}")
        element.set(qn("w:val"), "nil")
        borders.append(element)
    properties.append(borders)


def two_columns(document, left_cm: float, right_cm: float) -> Table:
    table = document.add_table(rows=1, cols=2)
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    no_borders(table)
    for cell, width in zip(table.rows[0].cells, (left_cm, right_cm), strict=True):
        cell.width = Cm(width)
    return table


def line(
    paragraph: Paragraph, text: str, *, bold: bool = False, italic: bool = False,
    underline: bool = False, size: int | None = None,
    align: WD_ALIGN_PARAGRAPH | None = None,
) -> Paragraph:
    run = paragraph.add_run(clean_text(text))
    run.bold, run.italic, run.underline = bold or None, italic or None, underline or None
    if size:
        run.font.size = Pt(size)
    if align is not None:
        paragraph.alignment = align
    paragraph.paragraph_format.space_after = Pt(0)
    return paragraph


def cell_line(cell, text: str, first: bool, **style) -> Paragraph:
    paragraph = cell.paragraphs[0] if first else cell.add_paragraph()
    return line(paragraph, text, align=WD_ALIGN_PARAGRAPH.CENTER, size=HEADER_PT, **style)


def party_header(
    document, t: Translator, *, upper_name: str | None, unit_name: str, place: str | None,
    signed_on: date,
) -> None:
    """The header of a party document: the upper organisation and the unit left, the party's
    name and the place and date right (a blank to complete where the place is not known)."""
    table = two_columns(document, 6.5, 9.5)
    left, right = table.rows[0].cells
    first = True
    if upper_name:
        cell_line(left, upper_name.upper(), first)
        first = False
    cell_line(left, unit_name.upper(), first, bold=True)
    cell_line(left, "*", False)
    cell_line(right, t("Communist Party of Vietnam").upper(), True, bold=True, underline=True)
    day, month, year = official_date_parts(signed_on)
    cell_line(right, "", False)
    cell_line(right, t("{place}, {day}/{month}/{year}", place=place or BLANK,
                       day=day, month=month, year=year), False, italic=True)


def heading(
    document, text: str, *, align: WD_ALIGN_PARAGRAPH | None = WD_ALIGN_PARAGRAPH.JUSTIFY
) -> Paragraph:
    paragraph = line(document.add_paragraph(), text, bold=True, align=align)
    paragraph.paragraph_format.space_before = Pt(6)
    return paragraph


def body(document, text: str) -> Paragraph:
    paragraph = document.add_paragraph()
    paragraph.add_run(clean_text(text))
    paragraph.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    paragraph.paragraph_format.first_line_indent = Cm(1)
    return paragraph


def signature_block(
    document, t: Translator, signers: list[tuple[str, str | None]]
) -> None:
    """Signatures side by side: (title, name) each; a name not known is left to write by hand.
    One signer signs on the right, as the official forms have it."""
    document.add_paragraph()
    table = two_columns(document, 8, 8)
    cells = table.rows[0].cells
    places = cells[-len(signers):] if len(signers) <= 2 else cells
    for cell, (title, name) in zip(places, signers, strict=False):
        cell_line(cell, title.upper(), True, bold=True)
        cell_line(cell, t("(Signature and full name)"), False, italic=True)
        for _ in range(3):
            cell_line(cell, "", False)
        cell_line(cell, name or BLANK, False, bold=True)


def _header(document, doc: ReviewDocument, t: Translator) -> None:
    party_header(document, t, upper_name=doc.upper_org_name, unit_name=doc.cell_name,
                 place=doc.place, signed_on=doc.signed_on)


def _title(document, doc: ReviewDocument, t: Translator) -> None:
    document.add_paragraph()
    line(document.add_paragraph(), t("Personal self-review").upper(), bold=True,
         align=WD_ALIGN_PARAGRAPH.CENTER)
    line(document.add_paragraph(), t("Year {year}", year=doc.year), bold=True,
         align=WD_ALIGN_PARAGRAPH.CENTER)
    document.add_paragraph()


def _particular(document, label: str, value: str) -> None:
    paragraph = document.add_paragraph()
    paragraph.add_run(clean_text(label) + " ")
    paragraph.add_run(clean_text(value))


def _particulars(document, doc: ReviewDocument, t: Translator) -> None:
    _particular(document, t("Full name:"), doc.full_name)
    birth = t.date(doc.birth_date) if doc.birth_date else BLANK
    _particular(document, t("Date of birth:"), birth)
    _particular(document, t("Post:"), doc.position or BLANK)
    _particular(document, t("Party cell:"), doc.cell_name)


def _content(document, doc: ReviewDocument, t: Translator) -> None:
    line(document.add_paragraph(), t(CONTENT_HEADING).upper(), bold=True)
    part = None
    for section, text in doc.sections:
        if section.part != part:
            part = section.part
            if part in PART_TITLES:
                line(document.add_paragraph(), t(PART_TITLES[part]), bold=True)
        heading(document, t(section.heading))
        if section.key == PROMPTS_KEY:
            for org_name, prompt in doc.prompts:
                line(document.add_paragraph(), t(PROMPTS_FROM, org=org_name), italic=True)
                for paragraph in paragraphs_of(prompt):
                    line(document.add_paragraph(), paragraph, italic=True)
        paragraphs = paragraphs_of(text or "")
        if not paragraphs:
            paragraphs = [t("None.") if section.optional else BLANK]
        for paragraph in paragraphs:
            body(document, paragraph)


def _rating(document, doc: ReviewDocument, t: Translator) -> None:
    heading(document, t(RATING_HEADING).upper(), align=None)
    if doc.general_score is not None:
        body(document, t("General criteria: {score}/{max} points",
                         score=t.number(doc.general_score), max=GENERAL_MAX))
    if doc.task_score is not None:
        body(document, t("Task results: {score}/{max} points",
                         score=t.number(doc.task_score), max=TASKS_MAX))
    if doc.general_score is not None and doc.task_score is not None:
        total = doc.general_score + doc.task_score
        body(document, t("Total: {score}/{max} points", score=t.number(total), max=TOTAL_MAX))
    if doc.proposed_level is None:
        body(document, t("Not rated this year."))
    else:
        body(document, t("Proposed quality level: {level}",
                         level=t(doc.proposed_level.name_msgid)))


def render_review_docx(doc: ReviewDocument, t: Translator) -> bytes:
    """The review as a .docx file's bytes."""
    document = new_document(f"{t('Personal self-review')} {doc.year}: {doc.full_name}")
    header = document.sections[0].header.paragraphs[0]
    line(header, t("Form {code}", code=doc.form_code), italic=True, size=12,
         align=WD_ALIGN_PARAGRAPH.RIGHT)
    _header(document, doc, t)
    _title(document, doc, t)
    _particulars(document, doc, t)
    _content(document, doc, t)
    _rating(document, doc, t)
    signature_block(document, t, [(t("The member under review"), doc.full_name)])
    return document_bytes(document)
