"""The secret ballot (DOMAIN §7): the meeting's attendance, the counting committee, rounds,
exactly-once casting into a sealed box, the opening of the box, the tally and receipts. The
arithmetic is in ``rules.ballot``; the cryptography in ``bot.services.ballot_box``.

Secrecy (R-B6): a sealed ballot box, opened by the counting committee (issue 11)
---------------------------------------------------------------------------------
The database never holds a readable ballot, so that what any copy of it (a backup, a snapshot,
a replica, two copies diffed), its WAL or the logs tell is who has voted, and nothing about any
choice:

- The secretary names the counting committee (ban kiểm phiếu) at ``/hop``: by default three
  members present, two of whom open the box; any k of n; a cell under five members has the
  secretary alone (1 of 1). A lost share (a member who deleted the message, left, or whose
  phone is gone) with fewer than k left means the round is voted again, like a spoilt box.
- Opening a round makes a fresh X25519 key pair. The private key is stored only wrapped
  (SecretBox) under a 16-byte secret that is split with Shamir into one share per committee
  member; each share is sent once, inside the callback data of that member's "🔓 Mở hòm
  phiếu" button in their private chat, straight to Telegram: never in the database, the
  outbox or a log (the stored copy of a press has the share cut out, ``bot.intake``
  redactor). The process then drops the key and the shares. If a share cannot be delivered,
  the round is removed before any ballot goes out and the secretary is told whom to replace.
- ``ballot_voters (round_id, member_id, has_voted, receipt_message_id)``: created at the
  opening. A cast flips ``has_voted`` and inserts one ``ballot_sealed (tracker, round_id,
  sealed)`` row: the ballot (one byte per candidate, so every ballot of a round has the same
  length) in a ``SealedBox`` to the round's public key, keyed by its SHA-256 (the tracker),
  and the hash of the receipt code (``ballot_receipts``), all in the transaction that also
  records the receipt message in the outbox. No count exists before the box is opened, so
  nothing that changes at a cast depends on the choices: a diff of two copies shows one
  ``has_voted`` flip and one ciphertext of the same size as every other.
- The receipt is the tracker's first 50 bits (Helios-style): after the opening the list of
  counted receipts is published to the cell and ``/kiem_tra_phieu`` checks one. The outbox
  row that carries the receipt to the voter is deleted once Telegram took it; only the
  message id is kept on the voter's row (``/phieu`` replies to that message). On PostgreSQL
  the dead row version of that outbox row stays in its page until VACUUM reclaims it, and two
  copies diffed tell whose receipt (and sealed ballot) is whose on either database: neither
  says anything about a choice.
- Opening: k committee members press their button after voting ended; the shares are kept in
  memory until k are there, the key is rebuilt, every sealed ballot is decrypted, the counts
  are written, the sealed ballots deleted and the round closed in one transaction; then
  SQLite's freed cells are zeroed (``secure_delete``) and the WAL truncated, or PostgreSQL
  VACUUMs the table (autocommit). The key is then dropped.
- Choices in progress (before "confirm") live only in the process memory
  (``context.user_data``), never in the database or the outbox; the stored copy of a choice
  press has the choice cut out. A restart loses unconfirmed choices (the voter is told to
  choose again), never a confirmed ballot.
- The cast is one transaction guarded by ``has_voted = false AND <voting>``: exactly once
  even with concurrent presses or replays (R-B7).
- What stays outside: Telegram sees every press (the choice buttons and the shares); someone
  who reads the running process's memory while voters choose or at the opening sees choices
  or the key.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import hashlib
import logging
from collections.abc import AsyncIterator
from collections.abc import Sequence
from dataclasses import dataclass

from nacl.public import PrivateKey
from sqlalchemy import and_
from sqlalchemy import delete
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.i18n import Explained
from bot.services import aggregates
from bot.services import ballot_box as box
from bot.services import unit_ballot
from bot.services import units
from bot.services.ballot_box import RECEIPT_LENGTH
from bot.services.ballot_box import Share
from bot.services.cycles import cycle_for_org
from bot.services.cycles import cycle_rulebook
from bot.services.cycles import member_facts
from bot.services.ratings import record_proposals
from rules import ballot as rules
from rules.ballot import Decision
from rules.levels import LEVELS_DESC
from rules.levels import Level
from rules.people import MemberFacts
from rules.people import Presence
from rules.people import name_sort_key
from rules.rulebooks import CountingRule
from rules.rulebooks import DenominatorRule
from rules.rulebooks import Rulebook
from storage.db import Database
from storage.models import AuditEntry
from storage.models import BallotCandidate
from storage.models import BallotCount
from storage.models import BallotReceipt
from storage.models import BallotRound
from storage.models import BallotTeller
from storage.models import BallotVoter
from storage.models import CountingCommittee
from storage.models import CountingCommitteeMember
from storage.models import Cycle
from storage.models import Meeting
from storage.models import MeetingAttendance
from storage.models import Member
from storage.models import Organisation
from storage.models import OrgKind
from storage.models import Role
from storage.models import RoleKind
from storage.models import SealedBallot
from storage.models import TelegramAccount

log = logging.getLogger(__name__)

BLANK = "BLANK"
CHOICES: tuple[str, ...] = (*(level.value for level in LEVELS_DESC), BLANK)
PENDING, OPEN, CLOSED = "pending", "open", "closed"
SMALL_CELL_COMMITTEE = 5  # a cell with fewer members: the secretary alone holds the key
DEFAULT_COMMITTEE = 3


class BallotError(Explained):
    """A refusal with a msgid for the user's language."""


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
        if not OrgKind(self.cell.kind).is_cell:
            return []  # a đảng bộ's committee meeting rates its collectives, not members
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
    """Who attends the meeting, in Vietnamese name order (which also orders the candidates):
    a cell's members; at a đảng bộ cơ sở, the meeting is its committee's (the đảng ủy, seed
    004 B.1.4), so its leaders."""
    if not OrgKind(cell.kind).is_cell:
        return await units.leaders(session, cell.id)
    members = await session.scalars(
        select(Member).where(Member.org_id == cell.id).order_by(Member.id)
    )
    return sorted(members, key=lambda m: name_sort_key(m.full_name))


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


# --- the counting committee ----------------------------------------------------------------


@dataclass
class Committee:
    """The counting committee of a meeting: who holds a share, and how many open the box."""

    members: list[Member]
    threshold: int
    named: bool  # False: the default, not yet changed by the secretary

    @property
    def size(self) -> int:
        return len(self.members)


async def _secretaries(session: AsyncSession, cell: Organisation) -> list[int]:
    rows = await session.execute(
        select(Role.member_id, Role.role).where(
            Role.org_id == cell.id, Role.role.in_([RoleKind.SECRETARY, RoleKind.DEPUTY])
        )
    )
    ranked = sorted(rows, key=lambda row: (row.role != RoleKind.SECRETARY, row.member_id))
    return [row.member_id for row in ranked]


def default_threshold(size: int) -> int:
    """2 of 3 by default: one lost share does not spoil the box; 1 of 1 for one holder."""
    return 1 if size <= 1 else max(2, size // 2 + 1)


async def committee_of(session: AsyncSession, state: MeetingState) -> Committee:
    """The committee the secretary named, or the default: for a cell under
    SMALL_CELL_COMMITTEE members the secretary alone (1 of 1), else 3 official members present
    (the secretary and deputies first, then by name), 2 of 3."""
    by_id = {m.id: m for m in state.members}
    named = await session.get(CountingCommittee, state.meeting.id)
    if named is not None:
        ids = set(
            await session.scalars(
                select(CountingCommitteeMember.member_id).where(
                    CountingCommitteeMember.meeting_id == state.meeting.id
                )
            )
        )
        members = [  # only members present hold a share
            m for m in state.members if m.id in ids and state.presence.get(m.id) is Presence.PRESENT
        ]
        return Committee(members, min(named.threshold, max(1, len(members))), True)
    leaders = [by_id[i] for i in await _secretaries(session, state.cell) if i in by_id]
    # Official members present: a probationary member may not be elected (party statute,
    # article 3), so is not on the committee unless the secretary names them.
    present = state.voters()
    if len(state.members) < SMALL_CELL_COMMITTEE:
        chosen = [m for m in leaders if m in present][:1] or present[:1]
        return Committee(chosen, 1, False)
    chosen = [m for m in leaders if m in present]
    chosen += [m for m in present if m not in chosen]
    chosen = chosen[:DEFAULT_COMMITTEE]
    return Committee(chosen, default_threshold(len(chosen)), False)


async def _save_committee(session: AsyncSession, meeting: Meeting, ids: list[int], k: int) -> None:
    row = await session.get(CountingCommittee, meeting.id)
    if row is None:
        row = CountingCommittee(meeting_id=meeting.id, threshold=k)
        session.add(row)
        await session.flush()
    row.threshold = k
    await session.execute(
        delete(CountingCommitteeMember).where(CountingCommitteeMember.meeting_id == meeting.id)
    )
    for member_id in ids:
        session.add(CountingCommitteeMember(meeting_id=meeting.id, member_id=member_id))
    await session.flush()


async def toggle_teller(session: AsyncSession, state: MeetingState, member_id: int) -> None:
    """Add a member to the committee, or take them off it (k stays within 1..n)."""
    if await open_round_of(session, state.meeting.id) is not None:
        raise BallotError(N_("A ballot round is open: the committee is fixed until it closes."))
    if member_id not in state.presence:
        raise BallotError(N_("This button is no longer valid."))
    committee = await committee_of(session, state)
    ids = [m.id for m in committee.members]
    if member_id in ids:
        ids.remove(member_id)
    else:
        ids.append(member_id)
    threshold = committee.threshold
    if not committee.named and len(ids) > 1:
        threshold = default_threshold(len(ids))
    await _save_committee(session, state.meeting, ids, max(1, min(threshold, len(ids) or 1)))


async def set_threshold(session: AsyncSession, state: MeetingState, threshold: int) -> None:
    if await open_round_of(session, state.meeting.id) is not None:
        raise BallotError(N_("A ballot round is open: the committee is fixed until it closes."))
    committee = await committee_of(session, state)
    if not 1 <= threshold <= max(1, committee.size):
        raise BallotError(N_("This button is no longer valid."))
    await _save_committee(session, state.meeting, [m.id for m in committee.members], threshold)


# --- rounds ------------------------------------------------------------------------------


async def open_round_of(session: AsyncSession, meeting_id: int) -> BallotRound | None:
    """The meeting's round not yet counted: being opened, voting, or waiting for the box."""
    return await session.scalar(
        select(BallotRound).where(
            BallotRound.meeting_id == meeting_id, BallotRound.state.in_([PENDING, OPEN])
        )
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
    tellers: list[Member]
    shares: list[Share]  # in memory only: one per teller, in the same order


async def open_round(
    session: AsyncSession,
    state: MeetingState,
    *,
    actor: str,
    now: dt.datetime,
    candidate_ids: Sequence[int] | None = None,
    reviews: Sequence[int] | None = None,
) -> OpenedRound:
    """Prepare the next round: everyone to be rated, only those the last round left undecided,
    or (candidate_ids) the members whose proposals broke a rule and are voted on again (R-Q6);
    or (reviews) a round of kind "units" on these unit reviews (issue 14, unit_ballot.py).

    The round is PENDING, with a fresh key pair whose private key only the committee's shares
    unwrap; it becomes OPEN (``activate``) once every share reached its holder, or is removed
    (``void``). Voter rows are created here; no count exists before the box is opened.
    """
    if await open_round_of(session, state.meeting.id) is not None:
        raise BallotError(N_("A ballot round is already open for this meeting."))
    if not state.quorum():
        raise BallotError(
            N_(
                "The meeting has no quorum: {present} of {denominator} members present, at least "
                "two thirds are needed. Check the attendance with /hop."
            ),
            present=state.present_counted(),
            denominator=state.denominator(),
        )
    committee = await committee_of(session, state)
    if not committee.members:
        raise BallotError(N_("Name the counting committee in /hop before opening the ballot."))
    previous = await rounds_of(session, state.meeting.id)
    members_rounds = [r for r in previous if r.kind == unit_ballot.MEMBERS]
    by_id = {m.id: m for m in state.members}
    if reviews is not None:
        candidates = []
    elif candidate_ids is not None:
        wanted = set(candidate_ids)
        candidates = [m for m in state.candidates() if m.id in wanted]
        if not candidates:
            raise BallotError(N_("None of these members is to be rated at this meeting."))
    elif members_rounds:
        undecided = await session.scalars(
            select(BallotCandidate)
            .where(BallotCandidate.round_id == members_rounds[-1].id, BallotCandidate.undecided)
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
    keys = box.new_round_keys(committee.threshold, committee.size)
    rulebook = state.rulebook
    ballot_round = BallotRound(
        meeting_id=state.meeting.id,
        number=(previous[-1].number + 1) if previous else 1,
        kind=unit_ballot.MEMBERS if reviews is None else unit_ballot.UNITS,
        state=PENDING,
        counting_rule=rulebook.counting_rule.value,
        denominator_rule=rulebook.denominator_rule.value,
        denominator=(
            state.denominator() if rulebook.denominator_rule is DenominatorRule.CONVENED else None
        ),
        opened_by=actor,
        opened_at=now,
        public_key=keys.public_key,
        wrapped_key=keys.wrapped_key,
        threshold=committee.threshold,
    )
    session.add(ballot_round)
    await session.flush()
    for position, member in enumerate(candidates):
        session.add(
            BallotCandidate(round_id=ballot_round.id, position=position, candidate_id=member.id)
        )
    for position, review_id in enumerate(reviews or ()):
        session.add(BallotCandidate(round_id=ballot_round.id, position=position, review_id=review_id))
    for member in voters:
        session.add(BallotVoter(round_id=ballot_round.id, member_id=member.id, has_voted=False))
    for member in committee.members:
        session.add(BallotTeller(round_id=ballot_round.id, member_id=member.id))
    session.add(
        AuditEntry.record(
            actor,
            "ballot.open",
            "ballot_round",
            ballot_round.id,
            meeting=state.meeting.id,
            number=ballot_round.number,
            kind=ballot_round.kind,
            candidates=len(reviews) if reviews is not None else len(candidates),
            voters=len(voters),
            committee=committee.size,
            threshold=committee.threshold,
        )
    )
    await session.flush()
    log.info(
        "ballot round %s prepared: %d candidates, %d voters, box opened by %d of %d",
        ballot_round.id,
        len(reviews) if reviews is not None else len(candidates),
        len(voters),
        committee.threshold,
        committee.size,
    )
    return OpenedRound(ballot_round, candidates, voters, committee.members, keys.shares)


async def activate(session: AsyncSession, round_id: int) -> bool:
    """Every share was delivered: voting starts."""
    done = await session.execute(
        update(BallotRound)
        .where(BallotRound.id == round_id, BallotRound.state == PENDING)
        .values(state=OPEN)
        .execution_options(synchronize_session=False)
    )
    await aggregates.round_changed(session, round_id)
    return done.rowcount == 1


async def void(session: AsyncSession, round_id: int) -> None:
    """A share could not be delivered (or a crash came first): the round never opened."""
    await aggregates.round_changed(session, round_id)
    await session.execute(
        delete(BallotRound).where(BallotRound.id == round_id, BallotRound.state == PENDING)
    )


@dataclass
class RoundView:
    round: BallotRound
    meeting: Meeting
    cell: Organisation
    # Members, or in a round of kind "units" the collectives (unit_ballot.UnitCandidate).
    candidates: list[tuple[BallotCandidate, Member | unit_ballot.UnitCandidate]]
    voters: list[tuple[Member, bool]]  # (member, has voted), by name
    tellers: list[Member]

    @property
    def voted(self) -> int:
        return sum(1 for _, has_voted in self.voters if has_voted)

    @property
    def waiting(self) -> list[Member]:
        return [m for m, has_voted in self.voters if not has_voted]

    @property
    def voting(self) -> bool:
        return self.round.state == OPEN and self.round.ended_at is None

    @property
    def sealed(self) -> bool:
        """Voting has ended; the box waits for the counting committee."""
        return self.round.state == OPEN and self.round.ended_at is not None


async def round_view(session: AsyncSession, round_id: int) -> RoundView | None:
    ballot_round = await session.get(BallotRound, round_id)
    if ballot_round is None:
        return None
    meeting = await session.get(Meeting, ballot_round.meeting_id)
    cell = await session.get(Organisation, meeting.org_id)
    if ballot_round.kind == unit_ballot.UNITS:  # the collectives (issue 14)
        cycle = await session.get(Cycle, meeting.cycle_id)
        candidates = await unit_ballot.candidates_of(session, round_id, cycle_rulebook(cycle))
    else:
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
                .order_by(Member.id)
            )
        )
    )
    voters.sort(key=lambda row: name_sort_key(row[0].full_name))
    tellers = sorted(
        await session.scalars(
            select(Member)
            .join(BallotTeller, BallotTeller.member_id == Member.id)
            .where(BallotTeller.round_id == round_id)
            .order_by(Member.id)
        ),
        key=lambda m: name_sort_key(m.full_name),
    )
    return RoundView(ballot_round, meeting, cell, candidates, voters, tellers)


async def voter_row(session: AsyncSession, round_id: int, member_id: int) -> BallotVoter | None:
    return await session.get(BallotVoter, (round_id, member_id))


async def open_ballots_for(session: AsyncSession, member_id: int) -> list[BallotVoter]:
    """The rounds not yet counted in which this member is a voter (voted or not)."""
    return list(
        await session.scalars(
            select(BallotVoter)
            .join(BallotRound, BallotRound.id == BallotVoter.round_id)
            .where(BallotVoter.member_id == member_id, BallotRound.state == OPEN)
            .order_by(BallotRound.id)
        )
    )


async def receipts_for(session: AsyncSession, member_id: int, since: dt.datetime) -> list[int]:
    """Rounds opened since `since` in which the member voted and whose receipt message is
    known (where it is in their chat; the receipt itself is not stored)."""
    return list(
        await session.scalars(
            select(BallotVoter.round_id)
            .join(BallotRound, BallotRound.id == BallotVoter.round_id)
            .where(
                BallotVoter.member_id == member_id,
                BallotVoter.has_voted.is_(True),
                BallotRound.opened_at >= since,
            )
            .order_by(BallotRound.id)
        )
    )


async def record_receipt_message(
    session: AsyncSession, round_id: int, member_id: int, message_id: int
) -> None:
    await session.execute(
        update(BallotVoter)
        .where(BallotVoter.round_id == round_id, BallotVoter.member_id == member_id)
        .values(receipt_message_id=message_id)
        .execution_options(synchronize_session=False)
    )


# --- casting -------------------------------------------------------------------------------


def show_receipt(code: str) -> str:
    half = RECEIPT_LENGTH // 2
    return f"{code[:half]}-{code[half:]}"


def normalise_receipt(text: str) -> str:
    cleaned = "".join(ch for ch in text.upper() if ch.isalnum())
    return cleaned.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))


def receipt_hash(code: str) -> str:
    return hashlib.sha256(normalise_receipt(code).encode()).hexdigest()


def plaintext(positions: Sequence[int], choices: dict[int, str]) -> bytes:
    """One byte per candidate, in position order: the same length for every ballot."""
    return bytes(CHOICES.index(choices[position]) for position in positions)


@dataclass
class Cast:
    code: str  # the receipt code (the voter writes it down)
    tracker: str


async def cast(
    session: AsyncSession, round_id: int, member_id: int, choices: dict[int, str]
) -> Cast:
    """Cast one ballot in the caller's transaction, exactly once (R-B7): ``has_voted`` is
    flipped, the sealed ballot and its receipt hash are inserted, nothing else.

    Raises BallotError (and changes nothing) if the round is not voting, the member is not a
    voter or has already voted, or the choices do not cover exactly the round's candidates.
    """
    if any(choice not in CHOICES for choice in choices.values()):
        raise BallotError(N_("This button is no longer valid."))
    positions = sorted(
        await session.scalars(
            select(BallotCandidate.position).where(BallotCandidate.round_id == round_id)
        )
    )
    if set(choices) != set(positions):
        raise BallotError(N_("This button is no longer valid."))
    voting = exists().where(
        BallotRound.id == round_id,
        BallotRound.state == OPEN,
        BallotRound.ended_at.is_(None),
        BallotRound.public_key.is_not(None),
    )
    flipped = await session.execute(
        update(BallotVoter)
        .where(
            BallotVoter.round_id == round_id,
            BallotVoter.member_id == member_id,
            BallotVoter.has_voted.is_(False),
            voting,
        )
        .values(has_voted=True)
        .execution_options(synchronize_session=False)
    )
    if flipped.rowcount != 1:
        raise await _why_not(session, round_id, member_id)
    public_key = await session.scalar(
        select(BallotRound.public_key).where(BallotRound.id == round_id)
    )
    sealed = box.seal(public_key, plaintext(positions, choices))
    tracker = box.tracker(sealed)
    code = box.receipt_code(tracker)
    session.add(SealedBallot(tracker=tracker, round_id=round_id, sealed=sealed))
    session.add(BallotReceipt(code_hash=receipt_hash(code), round_id=round_id))
    await session.flush()
    return Cast(code, tracker)


async def _why_not(session: AsyncSession, round_id: int, member_id: int) -> BallotError:
    ballot_round = await session.get(BallotRound, round_id)
    if ballot_round is None or ballot_round.state == PENDING:
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
    """SQLite: copy the WAL into the database and truncate it, so no older page images (of a
    delivered receipt message, of a deleted sealed ballot) remain in the -wal file (R-B6)."""
    if db.engine.dialect.name != "sqlite":
        return
    async with db.engine.connect() as conn:
        busy, _frames, _done = (await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")).one()
    if busy:
        log.warning("WAL checkpoint was blocked by a reader; it runs again after the next cast")


async def purge(db: Database) -> None:
    """After the sealed ballots were deleted: SQLite zeroes freed cells (secure_delete) and the
    WAL is emptied; PostgreSQL VACUUMs the table, outside any transaction (autocommit)."""
    if db.engine.dialect.name == "sqlite":
        await checkpoint(db)
        return
    async with db.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.exec_driver_sql("VACUUM ballot_sealed")


# --- ending the vote, opening the box, the tally ------------------------------------------------


async def end_voting(session: AsyncSession, round_id: int, *, now: dt.datetime) -> bool:
    """No more ballots: the box is sealed until the committee opens it. False if it already
    was (or the round is not open)."""
    ended = await session.execute(
        update(BallotRound)
        .where(
            BallotRound.id == round_id, BallotRound.state == OPEN, BallotRound.ended_at.is_(None)
        )
        .values(ended_at=now)
        .execution_options(synchronize_session=False)
    )
    return ended.rowcount == 1


@dataclass
class CandidateResult:
    member: Member | unit_ballot.UnitCandidate
    counts: dict[str, int]  # choice code -> votes
    decision: Decision | None  # None: no ballots at all


@dataclass
class RoundResult:
    view: RoundView
    denominator: int
    cast: int
    rule: CountingRule
    results: list[CandidateResult]
    receipts: list[str] = dataclasses.field(default_factory=list)  # every counted code, sorted

    @property
    def undecided(self) -> list[Member | unit_ballot.UnitCandidate]:
        return [r.member for r in self.results if r.decision is None or r.decision.undecided]


def _counts_for_rules(counts: dict[str, int]) -> dict[Level | None, int]:
    return {(None if code == BLANK else Level(code)): n for code, n in counts.items()}


class BoxError(BallotError):
    pass


def unlock(ballot_round: BallotRound, shares: list[Share]) -> PrivateKey | None:
    return box.unlock(ballot_round.wrapped_key, shares)


async def open_box(
    session: AsyncSession,
    round_id: int,
    private: PrivateKey | None,
    *,
    actor: str,
    now: dt.datetime,
) -> RoundResult:
    """Decrypt every sealed ballot of a sealed round in memory, write the counts, delete the
    sealed ballots, close the round and tally it (R-B3..R-B5), in one transaction. `private`
    is None only for a round opened before the box existed (its counts are already stored).
    The caller drops `private` afterwards and runs ``purge``."""
    ballot_round = await session.get(BallotRound, round_id)
    if ballot_round is None or ballot_round.state != OPEN or ballot_round.ended_at is None:
        raise round_closed()
    positions = sorted(
        await session.scalars(
            select(BallotCandidate.position).where(BallotCandidate.round_id == round_id)
        )
    )
    receipts: list[str] = []
    if private is not None:
        tally = {(p, c): 0 for p in positions for c in CHOICES}
        sealed_rows = (
            await session.execute(
                select(SealedBallot.sealed).where(SealedBallot.round_id == round_id)
            )
        ).scalars()
        for sealed in sealed_rows:
            receipts.append(box.receipt_code(box.tracker(sealed)))
            ballot = box.open_sealed(private, sealed)
            if len(ballot) != len(positions) or any(b >= len(CHOICES) for b in ballot):
                raise BoxError(N_("A sealed ballot is damaged; the box stays sealed."))
            for position, index in zip(positions, ballot, strict=True):
                tally[(position, CHOICES[index])] += 1
        await session.execute(delete(SealedBallot).where(SealedBallot.round_id == round_id))
        for (position, choice), votes in tally.items():
            session.add(
                BallotCount(round_id=round_id, position=position, level=choice, votes=votes)
            )
        del tally
    closed = await session.execute(
        update(BallotRound)
        .where(BallotRound.id == round_id, BallotRound.state == OPEN)
        .values(state=CLOSED, closed_at=now)
        .execution_options(synchronize_session=False)
    )
    await aggregates.round_changed(session, round_id)
    if closed.rowcount != 1:
        raise round_closed()
    await session.refresh(ballot_round)
    if ballot_round.denominator is None:  # the ballots-cast rule (R-B3 setting)
        ballot_round.denominator = await session.scalar(
            select(func.count())
            .select_from(BallotVoter)
            .where(BallotVoter.round_id == round_id, BallotVoter.has_voted.is_(True))
        )
    await session.flush()
    result = await round_result(session, round_id)
    result.receipts = sorted(receipts)
    adopted: dict[int, str] = {}
    for (candidate, member), outcome in zip(result.view.candidates, result.results, strict=True):
        decision = outcome.decision
        candidate.undecided = decision is None or decision.undecided
        candidate.adopted_level = decision.level.value if decision and decision.level else None
        if candidate.adopted_level:
            adopted[member.id] = candidate.adopted_level
    # The adopted levels become the chi bộ's proposals (checked, then decided upstairs); a
    # units round's, the collectives' proposals (issue 14).
    if ballot_round.kind == unit_ballot.UNITS:
        await unit_ballot.record_unit_proposals(session, adopted, actor=actor, now=now)
    else:
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
        "ballot round %s opened and counted: %d of %d voted",
        round_id,
        result.cast,
        len(result.view.voters),
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
    # R-B5's strict variant counts its two thirds over every official member of the chi bộ.
    official = rules.official_members(member_facts(m) for m in await cell_members(session, view.cell))
    results = []
    for candidate, member in view.candidates:
        mine = {code: counts.get(candidate.position, {}).get(code, 0) for code in CHOICES}
        decision = (
            rules.tally_for(_counts_for_rules(mine), denominator, rulebook, official_members=official)
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


@dataclass
class Recovery:
    voided: list[BallotRound]  # rounds whose shares may not all have been delivered
    ended: list[int]  # rounds whose voters had all cast: voting now ended


async def recover(session: AsyncSession, now: dt.datetime) -> Recovery:
    """At start-up: rounds a crash left half-opened are removed; rounds whose voters have all
    cast have their voting ended (the box waits for the committee)."""
    pending = list(await session.scalars(select(BallotRound).where(BallotRound.state == PENDING)))
    for ballot_round in pending:
        await void(session, ballot_round.id)
    ended = []
    for round_id in await session.scalars(
        select(BallotRound.id).where(BallotRound.state == OPEN, BallotRound.ended_at.is_(None))
    ):
        if await all_voted(session, round_id) and await end_voting(session, round_id, now=now):
            ended.append(round_id)
    return Recovery(pending, ended)


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


async def meeting_by_id(session: AsyncSession, meeting_id: int) -> Meeting | None:
    return await session.get(Meeting, meeting_id)


async def cell_of(session: AsyncSession, org_id: int) -> Organisation:
    return await session.get(Organisation, org_id)


async def account(session: AsyncSession, telegram_id: int) -> TelegramAccount | None:
    return await session.get(TelegramAccount, telegram_id)


async def round_by_id(session: AsyncSession, round_id: int) -> BallotRound | None:
    return await session.get(BallotRound, round_id)


async def reload(session: AsyncSession, ballot_round: BallotRound) -> None:
    """Read the round again (after an UPDATE that bypassed the session's copy)."""
    await session.refresh(ballot_round)


async def record_round_message(
    session: AsyncSession, round_id: int, shown: str, chat_id: int | None, message_id: int | None
) -> None:
    """The secretary's round message (where progress edits go) and what it shows. A None
    chat keeps the message and records only what it shows now."""
    ballot_round = await session.get(BallotRound, round_id)
    if ballot_round is None:
        return
    if chat_id is not None:
        ballot_round.chat_id, ballot_round.message_id = chat_id, message_id
    ballot_round.progress_shown = shown


class RoundLocks:
    """One lock per ballot round, so that its progress message is edited one edit at a time;
    a round's lock is dropped once nobody holds or waits for it (like bot.intake's
    ChatOrderedProcessor), so the table does not grow with every round ever voted."""

    def __init__(self) -> None:
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._locks)

    @contextlib.asynccontextmanager
    async def hold(self, round_id: int) -> AsyncIterator[None]:
        lock = self._locks.setdefault(round_id, asyncio.Lock())
        self._users[round_id] = self._users.get(round_id, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[round_id] -= 1
            if not self._users[round_id]:
                del self._users[round_id]
                del self._locks[round_id]


PROGRESS_LOCKS = RoundLocks()  # the secretary's round messages, edited one edit at a time
