"""/ho_so's screens as pure functions: the progress note, what the file holds and what it does
not, and the zip's caption."""

from __future__ import annotations

from bot.i18n import N_
from bot.i18n import Translator
from bot.services.dossier import Dossier
from bot.services.dossier_docx import MISSING
from bot.services.dossier_docx import NONE
from bot.text import esc

HO_SO = (
    N_("Your file, or a unit's or member's file"),
    N_("/ho_so [code]: the file (hồ sơ) as a zip of the documents the bot holds: yours, or with "
       "a role, that of a unit or member under you by their code; and the list of what it does "
       "not hold"),
)


def progress_text(t: Translator, name: str) -> str:
    return esc(t("⏳ Putting together the file of {name}…", name=name))


def dossier_text(t: Translator, dossier: Dossier) -> str:
    files = [e for e in dossier.entries if e.filename]
    lines = [
        "📁 <b>" + esc(t("The file of {name}, {year}", name=dossier.name, year=dossier.year))
        + "</b>",
        esc(t("The zip holds {count} documents and their index:",
              count=t.number(len(files)))),
    ]
    lines += [f"• <code>{esc(e.filename)}</code>: {esc(e.title)}" for e in files]
    missing = [e for e in dossier.entries if e.state == MISSING]
    if missing:
        lines += ["", "⚠️ " + esc(t("Not held by the bot (add them on paper):"))]
        lines += ["• " + esc(e.title) + (f" ({esc(e.note)})" if e.note else "") for e in missing]
    none = [e for e in dossier.entries if e.state == NONE]
    if none:
        lines += ["", esc(t("None this year: {documents}",
                            documents="; ".join(e.title for e in none)))]
    return "\n".join(lines)


def dossier_caption(t: Translator, dossier: Dossier) -> str:
    return esc(t("The file of {name}, {year} (zip)", name=dossier.name, year=dossier.year))
