"""`kiemdiem framework-template` and `kiemdiem import-framework`: criteria frameworks from the
command line (the organising office's reach: any committee, whole provinces' file sizes)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bot.i18n import N_, Translator
from storage.db import Database


def cmd_framework_template(args: argparse.Namespace) -> int:
    from bot.cli import write_template_file
    from bot.frameworks import write_template

    return write_template_file(args.file, write_template)


def cmd_import_framework(args: argparse.Namespace) -> int:
    from bot.cli import _settings

    settings = _settings(require_token=False)
    t = Translator(settings.default_locale, settings.tz)
    path = Path(args.file)
    if not path.is_file():
        print(t("File not found: {path}", path=args.file), file=sys.stderr)
        return 1
    return asyncio.run(_import(settings, t, args, path.name, path.read_bytes()))


NO_ORG = N_("There is no organisation with the code {code}.")


async def _import(
    settings, t: Translator, args: argparse.Namespace, filename: str, content: bytes
) -> int:
    from bot.roster import CLI_LIMITS, RosterInvalid
    from bot.services.frameworks import (
        FrameworkRefused,
        apply_framework,
        compare,
        describe_diff,
        read_file,
        target_for,
    )
    from storage.queries import org_by_code

    db = Database(settings.database_url)
    try:
        await db.migrate()
        async with db.session() as session:
            org = await org_by_code(session, args.org)
            if org is None:
                print(t(NO_ORG, code=args.org), file=sys.stderr)
                return 1
            try:
                target = await target_for(session, org, args.year)
                parsed = await read_file(target, filename, content, limits=CLI_LIMITS)
            except FrameworkRefused as refused:
                print(t(refused.msgid, **refused.params), file=sys.stderr)
                return 1
            except RosterInvalid as invalid:
                print(t("The framework has {count} errors; nothing was changed:",
                        count=t.number(len(invalid.errors))), file=sys.stderr)
                for error in invalid.errors:
                    print(f"  {error.render(t.gettext)}", file=sys.stderr)
                return 1
            if args.dry_run:
                diff = await compare(session, target, parsed)
                print(t("Preview of the criteria framework for {org} (nothing written):",
                        org=org.name))
            else:
                diff = await apply_framework(session, target, parsed, filename=filename,
                                             actor="cli")
                print(t("The criteria framework for {org} is loaded.", org=org.name))
        for line in describe_diff(t, target, diff):
            print(line)
        return 0
    finally:
        await db.dispose()


def add_commands(sub: argparse._SubParsersAction, t: Translator) -> None:
    """The framework subcommands, added to `kiemdiem`'s parser (bot/cli.py), in `t`'s language."""
    template = sub.add_parser(
        "framework-template", help=t("write an empty criteria framework spreadsheet")
    )
    template.add_argument("file", help=t("the spreadsheet (.xlsx) to write"))
    template.set_defaults(fn=cmd_framework_template)
    importer = sub.add_parser(
        "import-framework",
        help=t(
            "load a committee's criteria framework (.xlsx) for its plan's year, replacing "
            "the one loaded before"
        ),
    )
    importer.add_argument("--org", required=True, help=t("code of the committee (not a cell)"))
    importer.add_argument(
        "--year", type=int, help=t("the plan's year (default: the plan that applies to --org)")
    )
    importer.add_argument(
        "--dry-run", action="store_true", help=t("show the change, write nothing")
    )
    importer.add_argument("file", help=t("the criteria framework spreadsheet (.xlsx)"))
    importer.set_defaults(fn=cmd_import_framework)
