"""The secret ballot (DOMAIN §7): the meeting's attendance, rounds, exactly-once casting,
the tally and receipts. The arithmetic is in ``rules.ballot``; this module stores and counts.

Secrecy (R-B6): what is stored, and why nothing links a voter to a choice
---------------------------------------------------------------------------
- ``ballot_voters (round_id, member_id, has_voted)``: one row per voter, created when the
  round opens; casting only flips ``has_voted``. No timestamp, no autoincrement.
- ``ballot_counts (round_id, position, level, votes)``: one row per candidate and level
  (HTXS, HTT, HT, KHT, BLANK), created at 0 when the round opens; casting only runs
  ``votes = votes + 1`` on existing rows, so neither row order nor rowids say anything about
  who cast when. Nothing groups one voter's choices: a ballot is spread over counts the moment
  it is cast.
- ``ballot_receipts (code_hash, round_id)``: the SHA-256 of a random receipt code, no voter
  column, no time; on SQLite the table is WITHOUT ROWID, so rows sit in the order of the hash
  (random), not of insertion. The plain code is shown to the voter once and never stored or
  logged.
- Choices in progress (before "confirm") live only in the process memory
  (``context.user_data``), never in the database; the cast removes them. Trade-off: a restart
  loses unconfirmed choices (the voter is told to choose again), never a confirmed ballot,
  which is committed before the bot replies.
- The cast is one transaction: ``UPDATE ballot_voters SET has_voted = true WHERE ... AND
  has_voted = false AND <round open>`` (rowcount must be 1: exactly once even with concurrent
  presses, R-B7), then the count increments, then the receipt hash. After the commit, on SQLite,
  ``PRAGMA wal_checkpoint(TRUNCATE)`` moves the pages into the database file and empties the
  WAL, so the files hold the current state only (no earlier page images to diff); the
  connection runs ``secure_delete`` (storage/db.py), so freed cell space is zeroed.
- No audit entry, log line or message is written per cast; the logs are redacted of Telegram
  payloads and SQL parameters (``bot.services.ballot_logs``). The secretary sees who has
  voted (from ``ballot_voters``), never how; counts are read only once the round is closed.
- Limitation: two copies of the database taken between two casts (backups, snapshots) differ by
  exactly one voter's ``has_voted`` and that voter's increments, so they can be diffed. Do not
  back up while a round is open. On PostgreSQL, rows written by one transaction share an
  ``xmin`` and dead row versions stay until VACUUM, so the at-rest guarantee holds on SQLite
  only.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.services.cycles import cycle_for_org, cycle_rulebook, member_facts
from bot.services.ratings import record_proposals
from rules import ballot as rules
from rules.ballot import Decision
from rules.levels import LEVELS_DESC, Level
from rules.people import MemberFacts, Presence
from rules.rulebooks import CountingRule, DenominatorRule, Rulebook
from storage.db import Database
from storage.models import (
    AuditEntry,
    BallotCandidate,
    BallotCount,
    BallotReceipt,
    BallotRound,
    BallotVoter,
    Cycle,
    Meeting,
    MeetingAttendance,
    Member,
    Organisation,
    TelegramAccount,
)

log = logging.getLogger(__name__)

BLANK = "BLANK"
CHOICES: tuple[str, ...] = (*(level.value for level in LEVELS_DESC), BLANK)
OPEN, CLOSED = "open", "closed"
RECEIPT_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
RECEIPT_LENGTH = 10  # 50 random bits


class BallotError(Exception):
    """A refusal with a msgid for the user's language."""

    def __init__(self, msgid: str, **params: object) -> None:
        super().__init__(msgid)
        self.msgid = msgid
        self.params = params


# --- meeting and attendance -------------------------------------------------------------


@dataclass
class MeetingState:
    """The cell at its meeting: who is there and what the rules make of it."""

    cell: Organisation
    cycle: Cycle
    rulebook: Rulebook
    meeting: Meeting
    members: list[Member]
    presence: dict[int, Presence]  # member id -> presence
    review_date: dt.date

    @property
    def facts(self) -> list[MemberFacts]:
        return [member_facts(m) for m in self.members]

    @property
    def _presence_by_fact_id(self) -> dict[str, Presence]:
        return {str(member_id): p for member_id, p in self.presence.items()}

    def voters(self) -> list[Member]:
        ids = {f.member_id for f in rules.voters(self.facts, self._presence_by_fact_id)}
        return [m for m in self.members if str(m.id) in ids]

    def candidates(self) -> list[Member]:
        chosen = rules.candidates(
            self.facts, self.rulebook, self.review_date, self._presence_by_fact_id
        )
        ids = {f.member_id for f in chosen}
        return [m for m in self.members if str(m.id) in ids]

    def _convened(self) -> Rulebook:
        return dataclasses.replace(self.rulebook, denominator_rule=DenominatorRule.CONVENED)

    def denominator(self) -> int:
        """R-B3 with the convened rule (the ballots-cast rule is applied at the close)."""
        return rules.denominator(self.facts, self._presence_by_fact_id, self._convened())

    def present_counted(self) -> int:
        """Members of the denominator who are present (R-B9)."""
        present = [
            f for f in self.facts if self._presence_by_fact_id.get(f.member_id) is Presence.PRESENT
        ]
        return rules.denominator(present, self._presence_by_fact_id, self._convened())

    def quorum(self) -> bool:
        return rules.quorum_met(self.present_counted(), self.denominator(), self.rulebook)

    def present_total(self) -> int:
        return sum(1 for p in self.presence.values() if p is Presence.PRESENT)


async def cell_members(session: AsyncSession, cell: Organisation) -> list[Member]:
    return list(
        await session.scalars(
            select(Member).where(Member.org_id == cell.id).order_by(Member.full_name, Member.id)
        )
    )


async def meeting_for_cell(
    session: AsyncSession, cell: Organisation, now: dt.datetime, *, create: bool
) -> Meeting | None:
    """The cell's meeting in its current cycle; created (scheduled now) when asked to."""
    cycle = await cycle_for_org(session, cell)
    if cycle is None:
        raise BallotError(
            N_("There is no review plan for {org} yet. Your upper committee opens it."),
            org=cell.name,
        )
    meeting = await session.scalar(
        select(Meeting).where(Meeting.cycle_id == cycle.id, Meeting.org_id == cell.id)
    )
    if meeting is None and create:
        meeting = Meeting(cycle_id=cycle.id, org_id=cell.id, scheduled_at=now)
        session.add(meeting)
        await session.flush()
    return meeting


async def meeting_state(session: AsyncSession, meeting: Meeting, today: dt.date) -> MeetingState:
    cell = await session.get(Organisation, meeting.org_id)
    cycle = await session.get(Cycle, meeting.cycle_id)
    members = await cell_members(session, cell)
    rows = await session.scalars(
        select(MeetingAttendance).where(MeetingAttendance.meeting_id == meeting.id)
    )
    marked = {row.member_id: Presence(row.presence) for row in rows}
    presence = {m.id: marked.get(m.id, Presence.ABSENT) for m in members}
    return MeetingState(cell, cycle, cycle_rulebook(cycle), meeting, members, presence, today)


NEXT_PRESENCE = {
    Presence.PRESENT: Presence.ABSENT_EXCUSED,
    Presence.ABSENT_EXCUSED: Presence.ABSENT,
    Presence.ABSENT: Presence.PRESENT,
}


async def set_presence(
    session: AsyncSession, meeting: Meeting, member_ids: Sequence[int], presence: Presence
) -> None:
    if await open_round_of(session, meeting.id) is not None:
        raise BallotError(N_("A ballot round is open: attendance is locked until it closes."))
    for member_id in member_ids:
        row = await session.get(MeetingAttendance, (meeting.id, member_id))
        if row is None:
            session.add(
                MeetingAttendance(
                    meeting_id=meeting.id, member_id=member_id, presence=presence.value
                )
            )
        else:
            row.presence = presence.value
    await session.flush()


# --- rounds ------------------------------------------------------------------------------


async def open_round_of(session: AsyncSession, meeting_id: int) -> BallotRound | None:
    return await session.scalar(
        select(BallotRound).where(BallotRound.meeting_id == meeting_id, BallotRound.state == OPEN)
    )


async def rounds_of(session: AsyncSession, meeting_id: int) -> list[BallotRound]:
    return list(
        await session.scalars(
            select(BallotRound)
            .where(BallotRound.meeting_id == meeting_id)
            .order_by(BallotRound.number)
        )
    )


@dataclass
class OpenedRound:
    round: BallotRound
    candidates: list[Member]
    voters: list[Member]


async def open_round(
    session: AsyncSession,
    state: MeetingState,
    *,
    actor: str,
    now: dt.datetime,
    candidate_ids: Sequence[int] | None = None,
) -> OpenedRound:
    """Open the next round: everyone to be rated, only those the last round left undecided,
    or (candidate_ids) the members whose proposals broke a rule and are voted on again (R-Q6).

    Voter rows and count rows are all created here, before any ballot is cast (R-B6).
    """
    if await open_round_of(session, state.meeting.id) is not None:
        raise BallotError(N_("A ballot round is already open for this meeting."))
    if not state.quorum():
        raise BallotError(
            N_(
                "The meeting has no quorum: {present} of {denominator} members present, at least "
                "two thirds are needed (R-B9). Check the attendance with /hop."
            ),
            present=state.present_counted(),
            denominator=state.denominator(),
        )
    previous = await rounds_of(session, state.meeting.id)
    by_id = {m.id: m for m in state.members}
    if candidate_ids is not None:
        wanted = set(candidate_ids)
        candidates = [m for m in state.candidates() if m.id in wanted]
        if not candidates:
            raise BallotError(N_("None of these members is to be rated at this meeting."))
    elif previous:
        undecided = await session.scalars(
            select(BallotCandidate)
            .where(BallotCandidate.round_id == previous[-1].id, BallotCandidate.undecided)
            .order_by(BallotCandidate.position)
        )
        candidates = [by_id[c.candidate_id] for c in undecided if c.candidate_id in by_id]
        if not candidates:
            raise BallotError(
                N_("Every member already has a level from the ballot; there is nothing to vote on.")
            )
    else:
        candidates = state.candidates()
        if not candidates:
            raise BallotError(N_("Nobody is to be rated at this meeting: mark who is present."))
    voters = state.voters()
    if not voters:
        raise BallotError(N_("No official member is marked present, so nobody can vote."))
    rulebook = state.rulebook
    ballot_round = BallotRound(
        meeting_id=state.meeting.id,
        number=(previous[-1].number + 1) if previous else 1,
        state=OPEN,
        counting_rule=rulebook.counting_rule.value,
        denominator_rule=rulebook.denominator_rule.value,
        denominator=(
            state.denominator() if rulebook.denominator_rule is DenominatorRule.CONVENED else None
        ),
        opened_by=actor,
        opened_at=now,
    )
    session.add(ballot_round)
    await session.flush()
    for position, member in enumerate(candidates):
        session.add(
            BallotCandidate(round_id=ballot_round.id, position=position, candidate_id=member.id)
        )
    await session.flush()
    for position in range(len(candidates)):
        for choice in CHOICES:
            session.add(
                BallotCount(round_id=ballot_round.id, position=position, level=choice, votes=0)
            )
    for member in voters:
        session.add(BallotVoter(round_id=ballot_round.id, member_id=member.id, has_voted=False))
    session.add(
        AuditEntry.record(
            actor,
            "ballot.open",
            "ballot_round",
            ballot_round.id,
            meeting=state.meeting.id,
            number=ballot_round.number,
            candidates=len(candidates),
            voters=len(voters),
        )
    )
    await session.flush()
    log.info(
        "ballot round %s opened: %d candidates, %d voters",
        ballot_round.id,
        len(candidates),
        len(voters),
    )
    return OpenedRound(ballot_round, candidates, voters)


@dataclass
class RoundView:
    round: BallotRound
    meeting: Meeting
    cell: Organisation
    candidates: list[tuple[BallotCandidate, Member]]
    voters: list[tuple[Member, bool]]  # (member, has voted), by name

    @property
    def voted(self) -> int:
        return sum(1 for _, has_voted in self.voters if has_voted)

    @property
    def waiting(self) -> list[Member]:
        return [m for m, has_voted in self.voters if not has_voted]


async def round_view(session: AsyncSession, round_id: int) -> RoundView | None:
    ballot_round = await session.get(BallotRound, round_id)
    if ballot_round is None:
        return None
    meeting = await session.get(Meeting, ballot_round.meeting_id)
    cell = await session.get(Organisation, meeting.org_id)
    candidates = list(
        tuple(row)
        for row in (
            await session.execute(
                select(BallotCandidate, Member)
                .join(Member, Member.id == BallotCandidate.candidate_id)
                .where(BallotCandidate.round_id == round_id)
                .order_by(BallotCandidate.position)
            )
        )
    )
    voters = list(
        tuple(row)
        for row in (
            await session.execute(
                select(Member, BallotVoter.has_voted)
                .join(BallotVoter, BallotVoter.member_id == Member.id)
                .where(BallotVoter.round_id == round_id)
                .order_by(Member.full_name, Member.id)
            )
        )
    )
    return RoundView(ballot_round, meeting, cell, candidates, voters)


async def voter_row(session: AsyncSession, round_id: int, member_id: int) -> BallotVoter | None:
    return await session.get(BallotVoter, (round_id, member_id))


async def open_ballots_for(session: AsyncSession, member_id: int) -> list[BallotVoter]:
    """The open rounds in which this member is a voter (voted or not)."""
    return list(
        await session.scalars(
            select(BallotVoter)
            .join(BallotRound, BallotRound.id == BallotVoter.round_id)
            .where(BallotVoter.member_id == member_id, BallotRound.state == OPEN)
            .order_by(BallotRound.id)
        )
    )


# --- casting -------------------------------------------------------------------------------


def new_receipt_code() -> str:
    return "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(RECEIPT_LENGTH))


def show_receipt(code: str) -> str:
    half = RECEIPT_LENGTH // 2
    return f"{code[:half]}-{code[half:]}"


def normalise_receipt(text: str) -> str:
    cleaned = "".join(ch for ch in text.upper() if ch.isalnum())
    return cleaned.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))


def receipt_hash(code: str) -> str:
    return hashlib.sha256(normalise_receipt(code).encode()).hexdigest()


async def cast(db: Database, round_id: int, member_id: int, choices: dict[int, str]) -> str:
    """Cast one ballot in its own transaction, exactly once (R-B7); returns the receipt code.

    Raises BallotError (and changes nothing) if the round is not open, the member is not a
    voter or has already voted, or the choices do not cover exactly the round's candidates.
    """
    if any(choice not in CHOICES for choice in choices.values()):
        raise BallotError(N_("This button is no longer valid."))
    code = new_receipt_code()
    async with db.session() as session:
        positions = set(
            await session.scalars(
                select(BallotCandidate.position).where(BallotCandidate.round_id == round_id)
            )
        )
        if set(choices) != positions:
            raise BallotError(N_("This button is no longer valid."))
        round_is_open = exists().where(BallotRound.id == round_id, BallotRound.state == OPEN)
        flipped = await session.execute(
            update(BallotVoter)
            .where(
                BallotVoter.round_id == round_id,
                BallotVoter.member_id == member_id,
                BallotVoter.has_voted.is_(False),
                round_is_open,
            )
            .values(has_voted=True)
            .execution_options(synchronize_session=False)
        )
        if flipped.rowcount != 1:
            raise await _why_not(session, round_id, member_id)
        for position in sorted(choices):
            await session.execute(
                update(BallotCount)
                .where(
                    BallotCount.round_id == round_id,
                    BallotCount.position == position,
                    BallotCount.level == choices[position],
                )
                .values(votes=BallotCount.votes + 1)
                .execution_options(synchronize_session=False)
            )
        session.add(BallotReceipt(code_hash=receipt_hash(code), round_id=round_id))
    await checkpoint(db)
    return code


async def _why_not(session: AsyncSession, round_id: int, member_id: int) -> BallotError:
    ballot_round = await session.get(BallotRound, round_id)
    if ballot_round is None:
        return BallotError(N_("This button is no longer valid."))
    voter = await session.get(BallotVoter, (round_id, member_id))
    if voter is None:
        return BallotError(N_("You are not a voter in this ballot round."))
    if voter.has_voted:
        return already_voted()
    return round_closed()


def already_voted() -> BallotError:
    return BallotError(
        N_("You have already voted in this round. Your ballot was counted once; nothing changed.")
    )


def round_closed() -> BallotError:
    return BallotError(N_("This ballot round is closed; ballots can no longer be cast."))


async def checkpoint(db: Database) -> None:
    """SQLite: copy the WAL into the database and truncate it, so no older page images of the
    counts or voter rows remain in the -wal file (R-B6)."""
    if db.engine.dialect.name != "sqlite":
        return
    async with db.engine.connect() as conn:
        busy, _frames, _done = (await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")).one()
    if busy:
        log.warning("WAL checkpoint was blocked by a reader; it runs again after the next cast")


# --- closing and the tally -------------------------------------------------------------------


@dataclass
class CandidateResult:
    member: Member
    counts: dict[str, int]  # choice code -> votes
    decision: Decision | None  # None: no ballots at all


@dataclass
class RoundResult:
    view: RoundView
    denominator: int
    cast: int
    rule: CountingRule
    results: list[CandidateResult]

    @property
    def undecided(self) -> list[Member]:
        return [r.member for r in self.results if r.decision is None or r.decision.undecided]


def _counts_for_rules(counts: dict[str, int]) -> dict[Level | None, int]:
    return {(None if code == BLANK else Level(code)): n for code, n in counts.items()}


async def close_round(session: AsyncSession, round_id: int, *, actor: str, now: dt.datetime):
    """Close an open round and tally it (R-B3..R-B5). Returns the RoundResult."""
    closed = await session.execute(
        update(BallotRound)
        .where(BallotRound.id == round_id, BallotRound.state == OPEN)
        .values(state=CLOSED, closed_at=now)
        .execution_options(synchronize_session=False)
    )
    if closed.rowcount != 1:
        raise round_closed()
    ballot_round = await session.get(BallotRound, round_id)
    await session.refresh(ballot_round)
    if ballot_round.denominator is None:  # the ballots-cast rule (R-B3 setting)
        ballot_round.denominator = await session.scalar(
            select(func.count())
            .select_from(BallotVoter)
            .where(BallotVoter.round_id == round_id, BallotVoter.has_voted.is_(True))
        )
    await session.flush()
    result = await round_result(session, round_id)
    adopted: dict[int, str] = {}
    for (candidate, member), outcome in zip(result.view.candidates, result.results, strict=True):
        decision = outcome.decision
        candidate.undecided = decision is None or decision.undecided
        candidate.adopted_level = decision.level.value if decision and decision.level else None
        if candidate.adopted_level:
            adopted[member.id] = candidate.adopted_level
    # The adopted levels become the chi bộ's proposals (checked, then decided upstairs).
    await record_proposals(session, result.view.meeting.cycle_id, adopted, actor=actor, now=now)
    session.add(
        AuditEntry.record(
            actor,
            "ballot.close",
            "ballot_round",
            round_id,
            cast=result.cast,
            voters=len(result.view.voters),
            denominator=result.denominator,
        )
    )
    await session.flush()
    log.info(
        "ballot round %s closed: %d of %d voted", round_id, result.cast, len(result.view.voters)
    )
    return result


async def round_result(session: AsyncSession, round_id: int) -> RoundResult | None:
    """The tally of a closed round, as stored at its close."""
    view = await round_view(session, round_id)
    if view is None or view.round.state != CLOSED:
        return None
    cycle = await session.get(Cycle, view.meeting.cycle_id)
    rulebook = dataclasses.replace(
        cycle_rulebook(cycle), counting_rule=CountingRule(view.round.counting_rule)
    )
    rows = await session.scalars(select(BallotCount).where(BallotCount.round_id == round_id))
    counts: dict[int, dict[str, int]] = {}
    for row in rows:
        counts.setdefault(row.position, {})[row.level] = row.votes
    denominator = view.round.denominator or 0
    results = []
    for candidate, member in view.candidates:
        mine = {code: counts.get(candidate.position, {}).get(code, 0) for code in CHOICES}
        decision = (
            rules.tally_for(_counts_for_rules(mine), denominator, rulebook)
            if denominator > 0
            else None
        )
        results.append(CandidateResult(member, mine, decision))
    return RoundResult(view, denominator, view.voted, rulebook.counting_rule, results)


async def all_voted(session: AsyncSession, round_id: int) -> bool:
    waiting = await session.scalar(
        select(func.count())
        .select_from(BallotVoter)
        .where(BallotVoter.round_id == round_id, BallotVoter.has_voted.is_(False))
    )
    return waiting == 0


# --- receipts ---------------------------------------------------------------------------------


@dataclass
class ReceiptCheck:
    found: bool
    round: BallotRound | None = None
    cell: Organisation | None = None

    @property
    def counted(self) -> bool:
        return self.round is not None and self.round.state == CLOSED


async def check_receipt(session: AsyncSession, code: str) -> ReceiptCheck:
    if len(normalise_receipt(code)) != RECEIPT_LENGTH:
        return ReceiptCheck(False)
    receipt = await session.get(BallotReceipt, receipt_hash(code))
    if receipt is None:
        return ReceiptCheck(False)
    ballot_round = await session.get(BallotRound, receipt.round_id)
    meeting = await session.get(Meeting, ballot_round.meeting_id)
    return ReceiptCheck(True, ballot_round, await session.get(Organisation, meeting.org_id))


# --- reaching voters ---------------------------------------------------------------------------


async def accounts_of(
    session: AsyncSession, member_ids: Sequence[int]
) -> dict[int, TelegramAccount]:
    rows = await session.scalars(
        select(TelegramAccount).where(TelegramAccount.member_id.in_(list(member_ids)))
    )
    return {account.member_id: account for account in rows}


def reachable(account: TelegramAccount | None) -> bool:
    return account is not None and account.started_at is not None and account.blocked_at is None


async def mark_blocked(db: Database, telegram_ids: Sequence[int], now: dt.datetime) -> None:
    if not telegram_ids:
        return
    async with db.session() as session:
        await session.execute(
            update(TelegramAccount)
            .where(
                and_(
                    TelegramAccount.telegram_id.in_(list(telegram_ids)),
                    TelegramAccount.blocked_at.is_(None),
                )
            )
            .values(blocked_at=now)
            .execution_options(synchronize_session=False)
        )
