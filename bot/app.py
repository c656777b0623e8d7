"""Build the Application: services in post_init, handlers in commented groups, an error handler."""

from __future__ import annotations

import datetime as dt
import html
import logging

from telegram import LinkPreviewOptions
from telegram import Update
from telegram.constants import ParseMode
from telegram.error import NetworkError
from telegram.error import TimedOut
from telegram.ext import AIORateLimiter
from telegram.ext import Application
from telegram.ext import ApplicationBuilder
from telegram.ext import ContextTypes
from telegram.ext import Defaults
from telegram.ext import Updater

from bot.config import Settings
from bot.context import BotContext
from bot.context import install_services
from bot.i18n import Translator
from bot.i18n import locale_for
from bot.intake import KEEP_HANDLED
from bot.intake import ChatOrderedProcessor
from bot.intake import DurableQueue
from bot.intake import forget_old
from bot.intake import mark_handled
from bot.intake import replay_pending
from bot.jobs import schedule_monitor
from bot.services import Services
from bot.services.menus import MenuSync
from bot.services.report import shutdown_heavy_pool
from conversations import engine
from conversations import minutes as minutes_flow  # issue 14 part D
from conversations import self_review
from conversations import unit_review
from conversations import unit_review_comment
from handlers import appeal
from handlers import ballot
from handlers import decision
from handlers import dossier
from handlers import fallback
from handlers import frameworks
from handlers import invites
from handlers import language
from handlers import meeting_schedule
from handlers import minutes
from handlers import plan
from handlers import plan_checks
from handlers import prompts
from handlers import review_admin
from handlers import roster
from handlers import start
from handlers import status
from handlers import unit_meeting
from handlers import unit_opinion
from handlers import unit_scoring
from handlers.commands import declaration_digest
from handlers.commands import menu
from storage.db import Database
from storage.models import TelegramAccount

log = logging.getLogger(__name__)

# Retries of a request Telegram answered with 429 (RetryAfter) before giving up.
RATE_LIMIT_RETRIES = 5
# What the bot takes from Telegram: messages (and their edits: a corrected piece of a
# self-review replaces the piece) and button presses.
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
MENUS_KEY = "menus"
MENU_PASS_SECONDS = 300  # how often menus owed by the CLI are looked for


def build_application(
    settings: Settings, *, services: Services | None = None, migrate: bool = False
) -> Application:
    """The bot. `services` may be given by tests (to share a database or control the clock).

    Updates reach the handlers through the durable intake (bot/intake.py): stored before
    Telegram is told they arrived, handled once, one chat's in order."""
    if services is None:
        services = Services(settings=settings, db=Database(settings.database_url))

    async def post_init(application: Application) -> None:
        if migrate:
            await services.db.migrate()
        services.bot_username = application.bot.username
        install_services(application, services)
        # Command menus: the default one, then each person's, owed ones set in the background.
        menus = MenuSync(
            application.bot,
            services.db,
            menu_for=menu,
            declaration=declaration_digest(),
            default_locale=settings.default_locale,
            clock=services.now,
        )
        application.bot_data[MENUS_KEY] = menus
        await menus.start()
        # What a crash left: messages owed are delivered, then stored updates handled,
        # before anything new is fetched.
        await forget_old(services.db, _wall_clock() - KEEP_HANDLED)
        recovered = await services.outbox.recover(application.bot)
        replayed = await replay_pending(
            services.db, application.bot, application.update_queue, services.arrivals
        )
        await ballot.recover(application)  # rounds whose voters all cast: voting ended, announced
        if recovered or replayed:
            log.info("start-up: %s owed messages delivered, %s updates to handle", recovered, replayed)
        schedule_monitor(application, settings.tz)  # the deadline monitor (bot/jobs.py)
        # Menus owed by another process (the CLI's roster import) or left by a failure.
        application.job_queue.run_repeating(
            _kick_menus, interval=MENU_PASS_SECONDS, first=MENU_PASS_SECONDS, name="menus"
        )

    async def post_shutdown(application: Application) -> None:
        menus = application.bot_data.pop(MENUS_KEY, None)
        if menus is not None:
            await menus.close()
        shutdown_heavy_pool()  # the report and chart workers (bot/services/report.py)
        await services.outbox.close()  # delivered messages forgotten before the database closes
        await queue.close()
        await services.db.dispose()

    defaults = Defaults(
        parse_mode=ParseMode.HTML,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
        tzinfo=settings.tz,
    )
    application = (
        ApplicationBuilder()
        .token(settings.bot_token)
        .base_url(settings.api_base_url)
        .base_file_url(settings.api_base_file_url)
        .rate_limiter(AIORateLimiter(max_retries=RATE_LIMIT_RETRIES))
        .context_types(ContextTypes(context=BotContext))
        .defaults(defaults)
        .concurrent_updates(ChatOrderedProcessor(settings.concurrent_updates))
        .updater(None)
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    queue = DurableQueue(services.db, application.update_queue, _wall_clock, services.arrivals)
    application.updater = Updater(application.bot, update_queue=queue)  # type: ignore[arg-type]
    add_handlers(application)
    return application


async def _kick_menus(context: BotContext) -> None:
    context.application.bot_data[MENUS_KEY].kick()


def _wall_clock() -> dt.datetime:
    """When an update arrived, for Telegram's own timing (not the domain's clock)."""
    return dt.datetime.now(dt.UTC)


def add_handlers(application: Application) -> None:
    # Group -1: edited messages (a corrected piece of a self-review); nothing else sees them.
    application.add_handlers(self_review.EDIT_HANDLERS, group=-1)
    # Group 0: commands, buttons and documents. /huy (and /cancel, and the "✖ Hủy" button
    # under a prompt) come first: they leave any flow from any step. Each module owns its
    # handlers, with its own command names and callback-data prefix, so none overlap.
    application.add_handlers(engine.CANCEL_HANDLERS, group=0)
    for module in (
        start,
        language,
        invites,
        # Issue 14, part A: the collective's report (its Word file goes before the roster's
        # document handler), the draft score sheet, comments on the draft.
        unit_review,
        unit_review_comment,
        roster,
        meeting_schedule,
        self_review,
        review_admin,
        ballot,
        plan,
        plan_checks,
        status,
        decision,
        appeal,
        frameworks,
        prompts,
        # Issue 14 part B: the meeting's order, the members' scores of their organisation.
        unit_meeting,
        unit_scoring,
        unit_opinion,  # issue 14, part C: participants' opinions (/y_kien)
        # Issue 14 part D: the minutes, the chair's conclusions and the files.
        minutes,
        minutes_flow,
        dossier,
    ):
        application.add_handlers(module.HANDLERS, group=0)
    # Group 1: free text, routed to the step of the user's flow that waits for it.
    application.add_handlers(engine.TEXT_HANDLERS, group=1)
    # Group 2: whatever no group above takes (stickers, unknown commands and buttons) is answered.
    fallback.install(application, group=2)
    application.add_error_handler(report_error)


async def _translator_for_update(update: Update, context: BotContext) -> Translator:
    """The user's language, from their saved choice when the database still answers."""
    services = context.application.bot_data.get("services")
    user = update.effective_user
    if services is None or user is None:
        return Translator("vi")
    try:
        async with services.db.session() as session:
            account = await session.get(TelegramAccount, user.id)
    except Exception:  # the database may be what failed; fall back to Telegram's language
        account = None
    chosen = account.chosen_locale if account else None
    return Translator(locale_for(user.language_code, chosen, services.settings.default_locale))


async def report_error(update: object, context: BotContext) -> None:
    """Log the failure without tokens or personal text, and tell the user in their language."""
    error = context.error
    # BadRequest subclasses NetworkError, yet it is our bug, not the network's: report it.
    if isinstance(error, TimedOut) or type(error) is NetworkError:
        log.warning("network trouble talking to Telegram: %s", type(error).__name__)
        return
    update_id = update.update_id if isinstance(update, Update) else None
    if update_id is not None:  # handled, if badly: not again at every start
        services = context.application.bot_data.get("services")
        if services is not None:
            try:
                async with services.db.session() as session:
                    await mark_handled(session, update_id, _wall_clock())
            except Exception:  # the database may be what failed
                log.warning("could not mark update %s handled", update_id)
    log.error(
        "error while handling update %s: %s",
        update_id,
        type(error).__name__,
        exc_info=(type(error), error, error.__traceback__) if error else None,
    )
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    t = await _translator_for_update(update, context)
    text = t("Sorry, something went wrong on my side. Please try again in a moment.")
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(text, show_alert=True)
        else:
            await context.bot.send_message(update.effective_chat.id, html.escape(text))
    except Exception:  # the user has been told nothing; the error is already logged
        log.warning("could not tell the user about the error")
