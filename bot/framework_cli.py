"""`kiemdiem framework-template` and `kiemdiem import-framework`: criteria frameworks from the
command line (the organising office's reach: any committee, whole provinces' file sizes)."""

from __future__ import annotations

import argparse

from bot.cli import async_command
from bot.cli import database
from bot.cli import find_org
from bot.cli import read_files
from bot.cli import say_invalid
from bot.cli import write_template_file
from bot.config import Settings
from bot.i18n import N_
from bot.i18n import Translator


def cmd_framework_template(args: argparse.Namespace) -> int:
    from bot.frameworks import write_template

    return write_template_file(args.file, write_template)


@async_command()
async def cmd_import_framework(settings: Settings, t: Translator, args: argparse.Namespace) -> int:
    from bot.roster import CLI_LIMITS
    from bot.roster import RosterInvalid
    from bot.services.frameworks import apply_framework
    from bot.services.frameworks import compare
    from bot.services.frameworks import describe_diff
    from bot.services.frameworks import read_file
    from bot.services.frameworks import target_for

    files = read_files(t, [args.file])
    if files is None:
        return 1
    [(filename, content)] = files
    async with database(settings) as db, db.session() as session:
        org = await find_org(session, args.org, t)
        if org is None:
            return 1
        target = await target_for(session, org, args.year)
        try:
            parsed = await read_file(target, filename, content, limits=CLI_LIMITS)
        except RosterInvalid as invalid:
            return say_invalid(
                t, N_("The framework has {count} errors; nothing was changed:"), invalid
            )
        if args.dry_run:
            diff = await compare(session, target, parsed)
            print(t("Preview of the criteria framework for {org} (nothing written):",
                    org=org.name))
        else:
            diff = await apply_framework(session, target, parsed, filename=filename, actor="cli")
            print(t("The criteria framework for {org} is loaded.", org=org.name))
    for line in describe_diff(t, target, diff):
        print(line)
    return 0


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
