"""Units undecided after the finish-by date, in the deadline monitor (issue 14, item 7).

As the secretary is warned of members without a decided level once the plan's finish-by date
has passed, every committee member of a deciding level (the đảng ủy cơ sở for its cells, the
upper committee for a grassroots organisation and its committee) is told once which of the
units it decides are still without a decided level: one message per person, deciding level
and plan (kind ``units_undecided``, stage ``<deciding level id>:<finish-by date>``), through
the monitor's ledger (``sent_notices``: claimed before it is sent, marked after, never twice,
also across restarts; ``notify.send_run``).

Set-based: per plan past its finish-by date, one query for its rated units, one for the
grassroots units with a rated committee, one for the decided reviews, then the deciding levels
and their committee members (``unit_deadlines.deciding_ids``, ``committee_members``) and the
ledger for those stages.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator
from bot.i18n import locale_for
from bot.services import Services
from bot.services import notify
from bot.services import units
from bot.services.notify import Key
from bot.services.notify import member_target
from bot.services.unit_deadlines import LOOKBACK_DAYS
from bot.services.unit_deadlines import Unit
from bot.services.unit_deadlines import _ledger as ledger_rows
from bot.services.unit_deadlines import committee_members
from bot.services.unit_deadlines import deciding_ids
from bot.services.unit_rating_status import SUBJECTS
from bot.services.unit_rating_status import leaders_at_least
from bot.text import esc
from rules.org_scoring import RATED_KINDS
from storage.models import Cycle
from storage.models import Organisation
from storage.models import RatingState
from storage.models import UnitRating
from storage.models import UnitReview
from storage.queries import subtree_range

log = logging.getLogger(__name__)

KIND = "units_undecided"
MAX_LISTED = 40  # units named in one message; the rest are counted


@dataclass(frozen=True)
class Undecided:
    """The units one deciding level has not decided after the plan's finish-by date."""

    member_id: int
    cycle: Cycle
    decider: Unit
    units: tuple[tuple[Unit, str], ...]  # (unit, subject)

    @property
    def stage(self) -> str:
        return f"{self.decider.id}:{self.cycle.finish_by.isoformat()}"


async def undecided_units(session: AsyncSession, cycle: Cycle) -> list[tuple[Unit, str]]:
    """The plan's rated units (organisations; committees where rated) without a decided level,
    in the tree's order."""
    root = await session.get(Organisation, cycle.org_id)
    rows = [Unit(*row) for row in await session.execute(
        select(Organisation.id, Organisation.name, Organisation.path, Organisation.kind,
               Organisation.parent_id)
        .where(subtree_range(root.path), Organisation.kind.in_(RATED_KINDS))
        .order_by(Organisation.path)
    )]
    if not rows:
        return []
    committees = set(await session.scalars(
        leaders_at_least(units.COLLECTIVE_MIN_LEADERS, subtree_range(root.path))))
    decided = set((await session.execute(
        select(UnitReview.org_id, UnitReview.subject)
        .join(Organisation, Organisation.id == UnitReview.org_id)
        .join(UnitRating, UnitRating.review_id == UnitReview.id)
        .where(UnitReview.cycle_id == cycle.id, subtree_range(root.path),
               UnitRating.state == RatingState.DECIDED)
    )).all())
    found = []
    for org in rows:
        leaders = units.COLLECTIVE_MIN_LEADERS if org.id in committees else 0
        for subject in units.subjects_for(org, leaders):
            if (org.id, subject.value) not in decided:
                found.append((org, subject.value))
    return found


async def decide(session: AsyncSession, now: dt.datetime, tz: dt.tzinfo) -> list[Undecided]:
    """What the deciding committees are owed now that the ledger does not show as sent."""
    today = now.astimezone(tz).date()
    since = today - dt.timedelta(days=LOOKBACK_DAYS)
    owed: list[Undecided] = []
    for cycle in await session.scalars(
        select(Cycle).where(Cycle.finish_by < today, Cycle.report_by >= since)
    ):
        late = await undecided_units(session, cycle)
        if not late:
            continue
        deciding = await deciding_ids(session, [org for org, _ in late])
        by_decider: dict[int, list[tuple[Unit, str]]] = defaultdict(list)
        for org, subject in late:
            if org.id in deciding:
                by_decider[deciding[org.id]].append((org, subject))
        holders = await committee_members(session, set(by_decider))
        deciders = {row.id: row for row in (Unit(*r) for r in await session.execute(
            select(Organisation.id, Organisation.name, Organisation.path, Organisation.kind,
                   Organisation.parent_id).where(Organisation.id.in_(sorted(by_decider)))))}
        wanted = [Undecided(member_id, cycle, deciders[upper], tuple(items))
                  for upper, items in sorted(by_decider.items())
                  for member_id in holders.get(upper, [])]
        sent = await ledger_rows(session, cycle.id, {u.stage for u in wanted})
        owed += [u for u in wanted if (KIND, member_target(u.member_id), u.stage) not in sent]
    return owed


def render(t: Translator, item: Undecided) -> str:
    lines = ["⏰ <b>" + esc(t(
        "{count} organisations and collectives that {decider} decides have no decided level, "
        "and the finish-by date {date} has passed:",
        count=t.number(len(item.units)), decider=item.decider.name,
        date=t.date(item.cycle.finish_by))) + "</b>"]
    for org, subject in item.units[:MAX_LISTED]:
        lines.append("• " + esc(t("{org} ({subject})", org=org.name,
                                   subject=t(SUBJECTS[subject]))))
    if len(item.units) > MAX_LISTED:
        lines.append(esc(t("and {count} more", count=t.number(len(item.units) - MAX_LISTED))))
    lines.append(esc(t("Decide them with /quyet_dinh.")))
    return "\n".join(lines)


async def run(services: Services, bot, now: dt.datetime) -> int:
    """Send what is owed, each message once; the messages Telegram accepted."""
    tz = services.settings.tz
    async with services.db.session() as session:
        owed = await decide(session, now, tz)
        accounts = await notify.accounts_by_member(session, [u.member_id for u in owed])
    messages = []
    for item in owed:
        account = accounts.get(item.member_id)
        if not notify.reachable(account):
            continue
        t = Translator(locale_for(account.language_code, account.chosen_locale,
                                  services.settings.default_locale), tz)
        key = Key(KIND, member_target(item.member_id), item.cycle.id, item.stage)
        messages.append(notify.Outgoing([key], account.telegram_id,
                                        lambda _keys, t=t, item=item: render(t, item)))
    sent = await notify.send_run(services.db, bot, messages, now)
    if sent:
        log.info("units undecided after the finish-by date: %d messages sent", sent)
    return sent
