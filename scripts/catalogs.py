"""Gettext catalogs: extract msgids per domain, update the .po files, compile .mo files.

    python scripts/catalogs.py compile   # .po -> .mo (the set-up commands run this)
    python scripts/catalogs.py update [DOMAIN...]  # source -> .po: add new msgids, drop gone ones
    python scripts/catalogs.py check     # exit 1 if a msgid is missing or untranslated

Each package owns a domain; see DOMAINS. Translators then fill the empty msgstr entries.
"""

from __future__ import annotations

import string
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract as babel_extract
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.messages.pofile import write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALES_DIR = ROOT / "locales"
LOCALES = ("vi", "en")
# Words whose first string argument is a msgid: Translator calls, Refusal, and the N_ marker.
KEYWORDS = {"t": None, "N_": None, "Refusal": None, "_": None}
UNIT_DOMAINS: dict[str, tuple[str, ...]] = {
    "unit_prep": ("unit_review", "unit_report", "unit_deadline"),
    "unit_meeting": ("unit_meeting", "unit_scoring", "unit_ballot"),
    "unit_decision": ("unit_decision", "unit_opinion", "unit_appeal", "unit_rating"),
    "unit_files": ("minutes", "dossier"),
}


def _unit_globs(*stems: str) -> list[str]:
    folders = ("bot", "bot/services", "handlers", "handlers/views", "conversations")
    return [f"{folder}/{stem}*.py" for folder in folders for stem in stems]


DOMAINS: dict[str, tuple[list[str], list[str]]] = {
    # domain: (source globs, globs excluded)
    "kiemdiem": (
        ["bot/**/*.py", "handlers/**/*.py", "conversations/**/*.py"],
        [
            "bot/roster.py", "handlers/ballot*.py", "bot/services/ballot*.py",
            "handlers/views/ballot*.py", "conversations/ballot*.py",
            "bot/jobs*.py", "handlers/plan*.py", "bot/services/plans*.py", "bot/services/notify*.py",
            "handlers/views/plan*.py", "conversations/plan*.py",
            "handlers/status*.py", "handlers/decision*.py", "handlers/appeal*.py",
            "bot/services/status*.py", "bot/services/decision*.py", "bot/services/report*.py",
            "bot/services/appeal*.py", "handlers/views/decision*.py", "handlers/views/appeal*.py",
            "handlers/views/status*.py",
            "handlers/views/report*.py",
            "bot/framework*.py", "bot/services/framework*.py", "handlers/framework*.py",
            "bot/services/prompts*.py", "handlers/prompts*.py", "handlers/views/framework*.py",
            *(glob for stems in UNIT_DOMAINS.values() for glob in _unit_globs(*stems)),
        ],
    ),
    "ballot": (
        [
            "handlers/ballot*.py", "handlers/views/ballot*.py", "bot/services/ballot*.py",
            "conversations/ballot*.py",
        ],
        [],
    ),
    # Issue 5: plans, checks after the ballot, the deadline monitor and its messages.
    "plans": (
        [
            "bot/jobs*.py", "handlers/plan*.py", "bot/services/plans*.py", "bot/services/notify*.py",
            "handlers/views/plan*.py", "conversations/plan*.py",
        ],
        [],
    ),
    # Issue 6: status across the subtree, charts, reports, decisions, re-rating, appeals.
    "status": (
        [
            "handlers/status*.py", "handlers/decision*.py", "handlers/appeal*.py",
            "bot/services/status*.py", "bot/services/decision*.py", "bot/services/report*.py",
            "bot/services/appeal*.py", "handlers/views/decision*.py", "handlers/views/appeal*.py",
            "handlers/views/status*.py",
            "handlers/views/report*.py",
        ],
        [],
    ),
    "roster": (["bot/roster.py"], []),
    # Issue 14: criteria frameworks (khung tiêu chí), their template, import and display, and
    # review prompts (gợi ý kiểm điểm).
    "frameworks": (
        [
            "bot/framework*.py", "bot/services/framework*.py", "handlers/framework*.py",
            "bot/services/prompts*.py", "handlers/prompts*.py", "handlers/views/framework*.py",
        ],
        [],
    ),
    "rules": (["rules/**/*.py"], []),
    # Issue 14: organisations and collectives, one domain per part (so their catalogs are
    # written side by side): the collective's report and draft score sheet, comments and R-D1;
    # the meeting's order, the members' scores and the unit's vote; participants' opinions,
    # decisions, appeals and re-rating of units; the minutes and the files (hồ sơ).
    **{domain: (_unit_globs(*stems), []) for domain, stems in UNIT_DOMAINS.items()},
}


def source_files(domain: str) -> list[Path]:
    includes, excludes = DOMAINS[domain]
    excluded = {p for pattern in excludes for p in ROOT.glob(pattern)}
    return sorted({p for pattern in includes for p in ROOT.glob(pattern)} - excluded)


def extract(domain: str) -> dict[str, list[str]]:
    """msgid -> source locations."""
    found: dict[str, list[str]] = {}
    for path in source_files(domain):
        with path.open("rb") as fp:
            for lineno, message, _comments, _context in _extract(fp):
                found.setdefault(message, []).append(f"{path.relative_to(ROOT)}:{lineno}")
    return found


def _extract(fp):
    for lineno, message, comments, context in babel_extract(
        "python", fp, keywords=KEYWORDS, options={"encoding": "utf-8"}
    ):
        if isinstance(message, str) and message:
            yield lineno, message, comments, context


def po_path(locale: str, domain: str) -> Path:
    return LOCALES_DIR / locale / "LC_MESSAGES" / f"{domain}.po"


def read(locale: str, domain: str) -> Catalog:
    path = po_path(locale, domain)
    if not path.is_file():
        return Catalog(locale=locale, domain=domain)
    with path.open("rb") as fp:
        return read_po(fp, locale=locale, domain=domain)


def problems() -> list[str]:
    issues = []
    for domain in DOMAINS:
        wanted = extract(domain)
        for locale in LOCALES:
            catalog = read(locale, domain)
            for msgid in wanted:
                entry = catalog.get(msgid)
                if entry is None:
                    issues.append(f"{locale}/{domain}: missing {msgid!r} ({wanted[msgid][0]})")
                elif not entry.string or entry.fuzzy:
                    issues.append(f"{locale}/{domain}: untranslated {msgid!r}")
                elif "{" in msgid and _fields(msgid) - HIDDEN_FIELDS != _fields(entry.string):
                    issues.append(f"{locale}/{domain}: placeholders differ in {msgid!r}")
    return issues


# Placeholders a msgid carries for developers and tests that a translation leaves out: the
# rule ids of the ``rules`` domain ("({rules})") are not shown to users.
HIDDEN_FIELDS = frozenset({"rules"})


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def update(domains: list[str]) -> None:
    for domain in domains or list(DOMAINS):
        wanted = extract(domain)
        for locale in LOCALES:
            old = read(locale, domain)
            new = Catalog(locale=locale, domain=domain, project="kiemdiem", charset="utf-8")
            new.fuzzy = False
            for msgid, locations in wanted.items():
                entry = old.get(msgid)
                flags = {"python-brace-format"} if "{" in msgid else set()
                new.add(
                    msgid,
                    entry.string if entry else "",
                    locations=[(loc.split(":")[0], int(loc.split(":")[1])) for loc in locations],
                    flags=flags,
                )
            path = po_path(locale, domain)
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as fp:
                write_po(fp, new, width=100, omit_header=False)


def compile_all() -> None:
    for path in LOCALES_DIR.glob("*/LC_MESSAGES/*.po"):
        with path.open("rb") as fp:
            catalog = read_po(fp)
        with path.with_suffix(".mo").open("wb") as fp:
            write_mo(fp, catalog)


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "check"
    if command == "compile":
        compile_all()
        return 0
    if command == "update":
        update(argv[2:])
        return 0
    found = problems()
    print("\n".join(found) or "catalogs complete")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
