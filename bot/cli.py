"""The `kiemdiem` command: run the bot, migrate, and the organising office's roster tools."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import functools
import gc
import logging
import os
import secrets
import sys
import time
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot
from telegram.error import InvalidToken
from telegram.error import TelegramError

from bot.config import TOKEN_HELP
from bot.config import Settings
from bot.config import SettingsError
from bot.config import default_locale
from bot.config import load_settings
from bot.i18n import N_
from bot.i18n import Translator
from bot.roster import RosterInvalid
from storage.db import Database
from storage.models import Organisation

EXIT_USAGE = 2
TOKEN_REFUSED = N_("Telegram refused BOT_TOKEN.")
NO_ORG = N_("There is no organisation with the code {code}.")
NO_TELEGRAM = N_("Could not reach Telegram: {error}")

# argparse's own words (Python's argparse module), said in the CLI's language: see
# argparse_speaks(). A Python whose argparse words them differently shows those in English.
ARGPARSE_TEXTS = (
    N_("usage: "),
    N_("positional arguments"),
    N_("options"),
    N_("show this help message and exit"),
    N_("%(prog)s: error: %(message)s\n"),
    N_("argument %(argument_name)s: %(message)s"),
    N_("the following arguments are required: %s"),
    N_("one of the arguments %s is required"),
    N_("unrecognized arguments: %s"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("invalid %(type)s value: %(value)r"),
    N_("expected one argument"),
    N_("expected at most one argument"),
    N_("expected at least one argument"),
    N_("expected %s argument"),
    N_("expected %s arguments"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
    N_("not allowed with argument %s"),
    N_("ignored explicit argument %r"),
    N_("unknown parser %(parser_name)r (choices: %(choices)s)"),
    N_("can't open '%(filename)s': %(error)s"),
)


def cli_translator() -> Translator:
    """The CLI's language: the settings' default locale (BOT_DEFAULT_LOCALE, Vietnamese unless
    set), for its help and its errors as for its output, a wrong setting's included."""
    try:
        settings = load_settings(require_token=False)
    except SettingsError:
        return Translator(default_locale())
    return Translator(settings.default_locale, settings.tz)


@contextlib.contextmanager
def argparse_speaks(t: Translator):
    """argparse's own words (usage, options, its errors) through the catalogs meanwhile."""
    saved = argparse._, argparse.ngettext  # type: ignore[attr-defined]
    argparse._ = t.gettext  # type: ignore[attr-defined]
    argparse.ngettext = lambda one, many, n: t.gettext(one if n == 1 else many)
    try:
        yield
    finally:
        argparse._, argparse.ngettext = saved  # type: ignore[attr-defined]


class RedactingFilter(logging.Filter):
    """Drop the bot token from every log line (httpx and PTB print request URLs)."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secret and self.secret in record.getMessage():
            record.msg = record.getMessage().replace(self.secret, "<token>")
            record.args = ()
        return True


def setup_logging(token: str = "") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(token))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    # httpx logs every request URL at INFO, and the URL carries the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


def _settings(require_token: bool) -> Settings:
    try:
        return load_settings(require_token=require_token)
    except SettingsError as error:
        text = cli_translator()(error.msgid, **error.params)
        sys.stderr.write(text if text.endswith("\n") else f"{text}\n")
        raise SystemExit(EXIT_USAGE) from None


Work = Callable[[Settings, Translator, argparse.Namespace], Awaitable[int]]


def async_command(*, require_token: bool = False) -> Callable[[Work], Callable[..., int]]:
    """A command whose work is a coroutine, given the settings and the CLI's language. A
    refusal from a service (a plan or a framework that cannot be saved) leaves the work's
    transaction, which rolls it back, and is told here: exit status 1."""

    def decorate(work: Work) -> Callable[..., int]:
        @functools.wraps(work)
        def command(args: argparse.Namespace) -> int:
            from bot.services.cycles import CycleError
            from bot.services.frameworks import FrameworkRefused

            settings = _settings(require_token=require_token)
            t = Translator(settings.default_locale, settings.tz)
            try:
                return asyncio.run(work(settings, t, args))
            except (CycleError, FrameworkRefused) as refusal:
                print(t(refusal.msgid, **refusal.params), file=sys.stderr)
                for breach in getattr(refusal, "breaches", []):
                    print(breach.render(t.gettext), file=sys.stderr)
                return 1

        return command

    return decorate


def cmd_run(args: argparse.Namespace) -> int:
    from bot.app import ALLOWED_UPDATES
    from bot.app import build_application

    settings = _settings(require_token=True)
    setup_logging(settings.bot_token)
    t = Translator(settings.default_locale)
    try:
        if not asyncio.run(_token_accepted(settings)):
            sys.stderr.write(t(TOKEN_REFUSED) + " " + t(TOKEN_HELP))
            return EXIT_USAGE
    except TelegramError as error:
        print(t(NO_TELEGRAM, error=type(error).__name__), file=sys.stderr)
        return 1
    asyncio.run(_migrate(settings))
    application = build_application(settings)
    # What start-up made (modules, classes, the application) lives as long as the process:
    # kept out of the collector's way, a full collection scans only what updates made.
    gc.collect()
    gc.freeze()
    if not args.webhook:
        application.run_polling(allowed_updates=ALLOWED_UPDATES)
        return 0
    host, _, port = args.listen.rpartition(":")
    if not host or not port.isascii() or not port.isdigit():
        print(t("--listen takes HOST:PORT, for example 127.0.0.1:8443"), file=sys.stderr)
        return EXIT_USAGE
    # Telegram sends the secret with every update; a new one each start is enough.
    application.run_webhook(
        listen=host,
        port=int(port),
        url_path=urlsplit(args.webhook).path.lstrip("/"),
        webhook_url=args.webhook,
        secret_token=os.environ.get("WEBHOOK_SECRET") or secrets.token_urlsafe(32),
        allowed_updates=ALLOWED_UPDATES,
    )
    return 0


async def _token_accepted(settings: Settings) -> bool:
    """Ask Telegram once before starting, so a revoked token is a message, not a traceback."""
    try:
        async with Bot(settings.bot_token, base_url=settings.api_base_url):
            return True
    except InvalidToken:
        return False


@contextlib.asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[Database]:
    """The database, its schema brought up to date, closed at the end."""
    db = Database(settings.database_url)
    try:
        await db.migrate()
        yield db
    finally:
        await db.dispose()


async def _migrate(settings: Settings) -> None:
    async with database(settings):
        pass


async def find_org(session: AsyncSession, code: str, t: Translator) -> Organisation | None:
    """The organisation with this code, or None once the user is told there is none."""
    from storage.queries import org_by_code

    org = await org_by_code(session, code)
    if org is None:
        print(t(NO_ORG, code=code), file=sys.stderr)
    return org


def read_files(t: Translator, names: list[str]) -> list[tuple[str, bytes]] | None:
    """(file name, content) of each file, or None once the user is told one is missing."""
    found = []
    for name in names:
        path = Path(name)
        if not path.is_file():
            print(t("File not found: {path}", path=name), file=sys.stderr)
            return None
        found.append((path.name, path.read_bytes()))
    return found


def say_invalid(t: Translator, headline: str, invalid: RosterInvalid) -> int:
    """Print a file's errors under `headline` (a msgid with {count}); exit status 1."""
    print(t(headline, count=t.number(len(invalid.errors))), file=sys.stderr)
    for error in invalid.errors:
        print(f"  {error.render(t.gettext)}", file=sys.stderr)
    return 1


@async_command()
async def cmd_migrate(settings: Settings, t: Translator, _args: argparse.Namespace) -> int:
    await _migrate(settings)
    print(t("The database is up to date."))
    return 0


def write_template_file(path: str, write: Callable[[str], object]) -> int:
    """A template command: write the spreadsheet, say where, in the CLI's language."""
    settings = _settings(require_token=False)
    write(path)
    t = Translator(settings.default_locale)
    print(t("Template written to {path}", path=path))
    return 0


def cmd_roster_template(args: argparse.Namespace) -> int:
    from bot.roster import write_template

    return write_template_file(args.file, write_template)


@async_command()
async def cmd_import_roster(settings: Settings, t: Translator, args: argparse.Namespace) -> int:
    from bot.services.roster_import import apply_roster
    from bot.services.roster_import import describe_diff
    from bot.services.roster_import import parse

    sources = read_files(t, args.files)
    if sources is None:
        return 1
    async with database(settings) as db, db.session() as session:
        try:
            roster = await parse(session, sources, dt.datetime.now(settings.tz).date())
        except RosterInvalid as invalid:
            return say_invalid(t, N_("The file has {count} errors; nothing was changed:"), invalid)
        diff = await apply_roster(session, roster, actor="cli")
    print(t("Roster imported."))
    for line in describe_diff(t, diff):
        print(line)
    return 0


@async_command(require_token=True)
async def cmd_invite(settings: Settings, t: Translator, args: argparse.Namespace) -> int:
    from bot.services.invite_sheet import invites_workbook
    from bot.services.invites import create_invites
    from bot.services.invites import deep_link

    try:
        async with Bot(settings.bot_token, base_url=settings.api_base_url) as bot:
            username = bot.username
    except InvalidToken:
        sys.stderr.write(t(TOKEN_REFUSED) + " " + t(TOKEN_HELP))
        return EXIT_USAGE
    except TelegramError as error:
        print(t(NO_TELEGRAM, error=type(error).__name__), file=sys.stderr)
        return 1
    async with database(settings) as db, db.session() as session:
        org = await find_org(session, args.org, t)
        if org is None:
            return 1
        invites = await create_invites(
            session,
            org,
            now=dt.datetime.now(dt.UTC),
            ttl=dt.timedelta(days=settings.invite_ttl_days),
            actor="cli",
        )
    if args.out:
        await asyncio.to_thread(Path(args.out).write_bytes, invites_workbook(invites, t, username))
        print(
            t("{count} invite links written to {path}", count=t.number(len(invites)), path=args.out)
        )
    else:
        for invite in invites:
            print(
                f"{invite.member.code}\t{invite.member.full_name}\t{deep_link(username, invite.token)}"
            )
        print(t("{count} invite links.", count=t.number(len(invites))), file=sys.stderr)
    return 0


def _date(text: str) -> dt.date:
    try:
        return dt.datetime.strptime(text, "%d/%m/%Y").date()
    except ValueError:
        t = cli_translator()
        raise argparse.ArgumentTypeError(t("{text}: expected dd/mm/yyyy", text=repr(text))) from None


@async_command()
async def cmd_cycle_create(settings: Settings, t: Translator, args: argparse.Namespace) -> int:
    from bot.services.plans import FINISH_BY
    from bot.services.plans import OWN
    from bot.services.plans import REPORT_BY
    from bot.services.plans import Draft
    from bot.services.plans import open_plan

    async with database(settings) as db, db.session() as session:
        org = await find_org(session, args.org, t)
        if org is None:
            return 1
        draft = Draft(org.id, OWN, args.year, args.rulebook, dict(args.set or []))
        given = [*(args.deadline or []), (FINISH_BY, args.finish_by), (REPORT_BY, args.report_by)]
        for key, due in given:
            draft.choose(key, due)
        await open_plan(session, org, draft, actor="cli", now=dt.datetime.now(dt.UTC))
    print(
        t(
            "Plan {year} opened for {org} under {rulebook}: finish by {finish_by}, report by {report_by}.",
            year=args.year,
            org=org.name,
            rulebook=args.rulebook,
            finish_by=t.date(args.finish_by),
            report_by=t.date(args.report_by),
        )
    )
    return 0


def _setting(text: str) -> tuple[str, object]:
    """KEY=VALUE for a rulebook setting (issue 5): an integer, none, true/false or a word."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        t = cli_translator()
        raise argparse.ArgumentTypeError(t("{text}: expected KEY=VALUE", text=repr(text)))
    word = value.strip().lower()
    parsed: object = value.strip()
    if word in ("none", "null", "không"):
        parsed = None
    elif word in ("true", "yes", "có"):
        parsed = True
    elif word in ("false", "no"):
        parsed = False
    elif word.lstrip("-").isdigit():
        parsed = int(word)
    return key.strip(), parsed


def _deadline(text: str) -> tuple[str, dt.date]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        t = cli_translator()
        raise argparse.ArgumentTypeError(t("{text}: expected KEY=dd/mm/yyyy", text=repr(text)))
    return key.strip(), _date(value.strip())


@async_command()
async def cmd_cycle_deadline(settings: Settings, t: Translator, args: argparse.Namespace) -> int:
    """A unit under a plan sets earlier deadlines for itself, never later than the plan's."""
    from bot.services.plans import save_unit_deadlines
    from handlers.views import plan as plan_texts

    async def apply(session: AsyncSession, org: Organisation, cycle) -> None:
        await save_unit_deadlines(
            session, org, cycle, dict(args.deadlines), actor="cli", now=dt.datetime.now(dt.UTC)
        )

    return await _on_unit_plan(settings, t, args, apply, plan_texts.DEADLINES_SAVED)


@async_command()
async def cmd_cycle_unit(settings: Settings, t: Translator, args: argparse.Namespace) -> int:
    """The settings an upper level gives a unit in its plan (issue 14): an outstanding unit's
    raised HTXS share, the peer group its quotas are counted in."""
    from bot.services.plans import save_unit_settings
    from handlers.views import plan as plan_texts

    async def apply(session: AsyncSession, org: Organisation, cycle) -> None:
        await save_unit_settings(
            session, cycle, org, dict(args.set), actor="cli", now=dt.datetime.now(dt.UTC)
        )

    return await _on_unit_plan(settings, t, args, apply, plan_texts.UNIT_SETTINGS_SAVED)


async def _on_unit_plan(
    settings: Settings, t: Translator, args: argparse.Namespace, apply, done: str
) -> int:
    """`apply(session, org, cycle)` for the unit `--org` under the `--year` plan above it, then
    `done` (a msgid naming {org}); a refusal rolls it back (async_command tells it)."""
    from bot.services.cycles import cycle_for_org
    from handlers.views import plan as plan_texts
    from storage.queries import org_by_code

    async with database(settings) as db, db.session() as session:
        org = await org_by_code(session, args.org)
        cycle = await cycle_for_org(session, org) if org is not None else None
        if org is None or cycle is None or cycle.year != args.year:
            print(t(plan_texts.NO_PLAN_OVER, year=args.year, code=args.org), file=sys.stderr)
            return 1
        await apply(session, org, cycle)
    print(t(done, org=org.name))
    return 0


@async_command()
async def cmd_cycle_list(settings: Settings, t: Translator, _args: argparse.Namespace) -> int:
    from bot.services.cycles import list_cycles

    async with database(settings) as db, db.session() as session:
        cycles = await list_cycles(session)
    if not cycles:
        print(t("No plan has been opened yet."))
    for cycle, org in cycles:
        print(
            f"{cycle.year}\t{org.code}\t{org.name}\t{cycle.rulebook}\t"
            f"{t.date(cycle.finish_by)}\t{t.date(cycle.report_by)}"
        )
    return 0


@async_command()
async def cmd_rebuild_figures(settings: Settings, t: Translator, args: argparse.Namespace) -> int:
    from bot.services.status import rebuild_figures

    now = dt.datetime.now(dt.UTC)
    start = time.perf_counter()
    async with database(settings) as db:
        kept, _plans, year = await rebuild_figures(
            db, now=now, today=now.astimezone(settings.tz).date(), year=args.year
        )
    if year is None:
        print(t("No plan has been opened yet."))
        return 0
    print(
        t(
            "Status figures of {year} counted again: {units} organisations, in {seconds} s.",
            units=t.number(kept),
            year=year,
            seconds=t.number(round(time.perf_counter() - start, 1)),
        )
    )
    return 0



def _plan_command(cycle, name: str, help: str, t: Translator) -> argparse.ArgumentParser:
    """A `cycle` command on one unit's plan of a year: --org and --year."""
    command = cycle.add_parser(name, help=help)
    command.add_argument("--org", required=True, help=t("organisation code"))
    command.add_argument("--year", required=True, type=int, help=t("the year of the plan"))
    return command


def parser(t: Translator | None = None) -> argparse.ArgumentParser:
    """The command line; its help in `t`'s language (the CLI's, see cli_translator())."""
    t = t or cli_translator()
    root = argparse.ArgumentParser(
        prog="kiemdiem", description=t("Review and quality rating of party members")
    )
    sub = root.add_subparsers(dest="command", required=True, metavar=t("COMMAND"))
    run = sub.add_parser(
        "run", help=t("migrate the database, then run the bot (long polling, or a webhook)")
    )
    run.add_argument(
        "--webhook",
        metavar="URL",
        help=t(
            "receive updates at this public HTTPS URL (behind a reverse proxy) instead of "
            "long polling"
        ),
    )
    run.add_argument(
        "--listen",
        metavar="HOST:PORT",
        default="127.0.0.1:8443",
        help=t("where the webhook server listens (default 127.0.0.1:8443)"),
    )
    run.set_defaults(fn=cmd_run)
    sub.add_parser("migrate", help=t("bring the database schema up to date")).set_defaults(
        fn=cmd_migrate
    )
    template = sub.add_parser("roster-template", help=t("write an empty roster spreadsheet"))
    template.add_argument("file", metavar=t("FILE"), help=t("the .xlsx file to write"))
    template.set_defaults(fn=cmd_roster_template)
    importer = sub.add_parser(
        "import-roster", help=t("import organisations and members (.xlsx or .csv)")
    )
    importer.add_argument(
        "files", nargs="+", metavar=t("FILE"), help=t("an .xlsx file, or .csv files, one per sheet")
    )
    importer.set_defaults(fn=cmd_import_roster)
    invite = sub.add_parser("invite", help=t("personal invite links for members without an account"))
    invite.add_argument(
        "--org", required=True, help=t("organisation code; its whole subtree is covered")
    )
    invite.add_argument("--out", help=t("write an .xlsx instead of printing"))
    invite.set_defaults(fn=cmd_invite)
    cycle = sub.add_parser("cycle", help=t("the year's review plans")).add_subparsers(
        dest="cycle", required=True, metavar=t("COMMAND")
    )
    create = cycle.add_parser("create", help=t("open the year's plan for an organisation's subtree"))
    create.add_argument("--org", required=True, help=t("organisation code"))
    create.add_argument("--year", required=True, type=int, help=t("the year under review"))
    from rules.rulebooks import RULEBOOKS

    rulebooks = sorted(RULEBOOKS.values(), key=lambda rb: rb.code, reverse=True)  # newest first
    create.add_argument(
        "--rulebook", required=True, choices=[rb.code for rb in rulebooks],
        help=t(
            "the rules the review follows: {rulebooks}",
            rulebooks="; ".join(f"{rb.code} — {t(rb.title_msgid)}" for rb in rulebooks),
        ),
    )
    create.add_argument(
        "--finish-by", required=True, type=_date, help=t("dd/mm/yyyy: reviews and ratings done")
    )
    create.add_argument(
        "--report-by", required=True, type=_date, help=t("dd/mm/yyyy: results reported upward")
    )
    create.add_argument(
        "--set", action="append", type=_setting, metavar="KEY=VALUE",
        help=t("change a rulebook setting, e.g. htxs_quota_percent=15 (repeatable)"),
    )
    create.add_argument(
        "--deadline", action="append", type=_deadline, metavar="KEY=dd/mm/yyyy",
        help=t("a deadline of the plan, e.g. grassroots_done=20/12/2026 (repeatable)"),
    )
    create.set_defaults(fn=cmd_cycle_create)
    deadline = _plan_command(
        cycle, "deadline", t("a unit under a plan sets earlier deadlines for itself"), t
    )
    deadline.add_argument(
        "deadlines", nargs="+", type=_deadline, metavar="KEY=dd/mm/yyyy",
        help=t("a deadline and its new, earlier date"),
    )
    deadline.set_defaults(fn=cmd_cycle_deadline)
    # Issue 14: what an upper level gives one unit in its plan.
    unit = _plan_command(
        cycle, "unit", t("give a unit settings in the plan above it (outstanding unit, peer group)"),
        t,
    )
    unit.add_argument(
        "--set", action="append", required=True, type=_setting, metavar="KEY=VALUE",
        help=t("outstanding_unit=yes|no or peer_group=LABEL|none (repeatable)"),
    )
    unit.set_defaults(fn=cmd_cycle_unit)
    cycle.add_parser("list", help=t("list the plans")).set_defaults(fn=cmd_cycle_list)
    rebuild = sub.add_parser(
        "rebuild-figures",
        help=t("count again the figures kept for /tinh_trang (every plan of the newest year)"),
    )
    rebuild.add_argument("--year", type=int, help=t("the year of the plans (default: the newest)"))
    rebuild.set_defaults(fn=cmd_rebuild_figures)
    # Criteria frameworks (issue 14): framework-template, import-framework.
    from bot.framework_cli import add_commands as add_framework_commands

    add_framework_commands(sub, t)
    return root


def main(argv: list[str] | None = None) -> int:
    # Opt in to PTB 22's timedelta retry_after now rather than at its next major version.
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    t = cli_translator()
    with argparse_speaks(t):
        args = parser(t).parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    raise SystemExit(main())
