"""SQLAlchemy models: the organisation tree, members, roles, Telegram links, invites, audit.

Portable SQL only (SQLite and PostgreSQL). Timestamps are stored as UTC.
"""

from __future__ import annotations

import datetime as dt
import enum
import json

from sqlalchemy import BigInteger
from sqlalchemy import Boolean
from sqlalchemy import Date
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import ForeignKeyConstraint
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import LargeBinary
from sqlalchemy import MetaData
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import TypeDecorator
from sqlalchemy import UniqueConstraint
from sqlalchemy import event
from sqlalchemy import false
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, whatever the backend keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


# Materialized paths ("/1/5/23/") are compared byte-wise so a subtree is one index range scan;
# PostgreSQL's default collation would ignore the slashes, hence "C" there.
PathString = String(255).with_variant(String(255, collation="C"), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class OrgKind(enum.StrEnum):
    CENTRAL = "central"  # Trung ương
    PROVINCE = "province"  # Đảng bộ tỉnh / thành phố
    DISTRICT = "district"  # Đảng bộ huyện (legacy, seeds)
    UPPER = "upper"  # Đảng bộ cấp trên trực tiếp (xã, phường, đặc khu, ...)
    GRASSROOTS = "grassroots"  # Đảng bộ cơ sở
    CELL = "cell"  # Chi bộ trực thuộc
    GRASSROOTS_CELL = "grassroots_cell"  # Chi bộ cơ sở

    @property
    def is_cell(self) -> bool:
        return self in (OrgKind.CELL, OrgKind.GRASSROOTS_CELL)


# The kinds as stored: the cells (chi bộ), and the grassroots units a quota is counted over.
CELL_KINDS = (OrgKind.CELL.value, OrgKind.GRASSROOTS_CELL.value)
UNIT_KINDS = (OrgKind.GRASSROOTS.value, OrgKind.GRASSROOTS_CELL.value)


class RoleKind(enum.StrEnum):
    SECRETARY = "secretary"  # Bí thư
    DEPUTY = "deputy"  # Phó bí thư
    COMMITTEE_MEMBER = "committee_member"  # Cấp ủy viên
    ORGANISING_OFFICE = "organising_office"  # Ban tổ chức
    # Representatives of the bodies that take part in rating organisations (seed 004 B.1.4
    # step 2; models.ParticipantBody): they enter their body's opinion, nothing else.
    REP_COUNCIL = "rep_council"  # Đại diện Thường trực HĐND, UBND
    REP_FRONT = "rep_front"  # Đại diện Ủy ban MTTQ
    REP_MASS_ORGS = "rep_mass_orgs"  # Đại diện các đoàn thể chính trị - xã hội
    REP_LEADERSHIP = "rep_leadership"  # Đại diện lãnh đạo cơ quan, đơn vị


class MemberStatus(enum.StrEnum):
    OFFICIAL = "official"  # chính thức
    PROBATIONARY = "probationary"  # dự bị


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(24))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT"), index=True
    )
    path: Mapped[str] = mapped_column(PathString, index=True)
    depth: Mapped[int] = mapped_column(Integer, default=0)
    founded_on: Mapped[dt.date | None] = mapped_column(Date)
    # Chi bộ thôn, tổ dân phố: a village or residential cell (seed 004 B.1.4 step 2: who gives
    # opinions on it; B.4: R-C4's exception for its secretary). Migration 0023.
    residential: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    parent: Mapped[Organisation | None] = relationship(remote_side=[id])

    @property
    def org_kind(self) -> OrgKind:
        return OrgKind(self.kind)


class Member(Base):
    """Đảng viên, with the attributes of DOMAIN §3."""

    __tablename__ = "members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    full_name: Mapped[str] = mapped_column(String(255))
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    position: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    admitted_on: Mapped[dt.date] = mapped_column(Date)
    exempt: Mapped[bool] = mapped_column(Boolean, default=False)
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    committee_suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    temporary_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    transferred_in_on: Mapped[dt.date | None] = mapped_column(Date)
    leader: Mapped[bool] = mapped_column(Boolean, default=False)
    head: Mapped[bool] = mapped_column(Boolean, default=False)
    outside_political_system: Mapped[bool] = mapped_column(Boolean, default=False)
    sick_leave_months: Mapped[int] = mapped_column(Integer, default=0)
    maternity: Mapped[bool] = mapped_column(Boolean, default=False)
    discipline_form: Mapped[str | None] = mapped_column(String(24))
    discipline_in_official_duties: Mapped[bool] = mapped_column(Boolean, default=False)
    # Cán bộ, công chức (R-C4: a village cell's secretary who is not one may be rated above
    # the cell). Migration 0023.
    public_servant: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    org: Mapped[Organisation] = relationship(foreign_keys=[org_id])
    temporary_org: Mapped[Organisation | None] = relationship(foreign_keys=[temporary_org_id])


class Role(Base):
    """A role held on an organisation; it grants that organisation's subtree."""

    __tablename__ = "roles"
    __table_args__ = (UniqueConstraint("member_id", "org_id", "role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    role: Mapped[str] = mapped_column(String(24))

    member: Mapped[Member] = relationship()
    org: Mapped[Organisation] = relationship()


class TelegramAccount(Base):
    """A Telegram user who has talked to the bot, and the member it is linked to."""

    __tablename__ = "telegram_accounts"

    telegram_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), unique=True
    )
    language_code: Mapped[str | None] = mapped_column(String(16))
    chosen_locale: Mapped[str | None] = mapped_column(String(8))  # set by /ngon_ngu
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # first private message
    blocked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    linked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    failed_invites: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_invite_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The command menu of this chat (bot/services/menus.py): a digest of what setMyCommands
    # last set for it (None: none of its own, the default menu shows), and how many changes
    # since then may alter it (0: up to date). Kept here so a restart loses no menu update.
    menu: Mapped[str | None] = mapped_column(String(40))
    menu_owed: Mapped[int] = mapped_column(Integer, default=0, server_default="0", index=True)

    member: Mapped[Member | None] = relationship()


class InviteToken(Base):
    """A single-use invite; only the SHA-256 of the token is stored."""

    __tablename__ = "invite_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    member: Mapped[Member] = relationship()


class PendingImport(Base):
    """A roster file a secretary sent, kept until they confirm or cancel its preview."""

    __tablename__ = "pending_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """Append-only record of who changed what (never votes, tokens or review text)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_target", "target_type", "target_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))  # "cli", "tg:<telegram id>"
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[str | None] = mapped_column(Text)  # JSON

    @classmethod
    def record(
        cls, actor: str, action: str, target_type: str, target_id: object = None, **details: object
    ) -> AuditEntry:
        return cls(
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=None if target_id is None else str(target_id),
            details=json.dumps(details, ensure_ascii=False, default=str) if details else None,
        )


@event.listens_for(Session, "before_flush")
def _audit_is_append_only(session: Session, flush_context, instances) -> None:
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, AuditEntry):
            raise PermissionError("the audit log is append-only")


class Cycle(Base):
    """The year's review plan (kế hoạch) for an organisation's subtree."""

    __tablename__ = "cycles"
    __table_args__ = (UniqueConstraint("org_id", "year"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    rulebook: Mapped[str] = mapped_column(String(16))  # "hd21-2019" | "qd366-2025"
    overrides: Mapped[str | None] = mapped_column(Text)  # JSON: Rulebook settings changed by the plan
    finish_by: Mapped[dt.date] = mapped_column(Date)  # reviews and ratings finished before
    report_by: Mapped[dt.date] = mapped_column(Date)  # results reported upward before
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    org: Mapped[Organisation] = relationship()


class Meeting(Base):
    """A cell's review meeting (hội nghị kiểm điểm) in a cycle."""

    __tablename__ = "meetings"
    __table_args__ = (UniqueConstraint("cycle_id", "org_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    scheduled_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # Why the members' ballot opened before the collectives were reviewed (R-D3), if it did.
    order_reason: Mapped[str | None] = mapped_column(Text)
    # The chair's conclusions, for the minutes (biên bản hội nghị).
    conclusions: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ReviewState(enum.StrEnum):
    DRAFTING = "drafting"
    SUBMITTED = "submitted"
    RETURNED = "returned"  # sent back by the secretary for revision


class SelfReview(Base):
    """A member's self-review (bản tự kiểm điểm) in a cycle; its text lives in pieces."""

    __tablename__ = "self_reviews"
    __table_args__ = (UniqueConstraint("cycle_id", "member_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    form_code: Mapped[str] = mapped_column(String(4))
    state: Mapped[str] = mapped_column(String(16), default=ReviewState.DRAFTING)
    # Where the member is: a section key, or "scores_general", "scores_tasks", "level", "preview".
    stage: Mapped[str] = mapped_column(String(32))
    reached_preview: Mapped[bool] = mapped_column(Boolean, default=False)  # "Xong" then returns there
    general_score: Mapped[int | None] = mapped_column(Integer)
    task_score: Mapped[int | None] = mapped_column(Integer)
    proposed_level: Mapped[str | None] = mapped_column(String(8))
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    copy_flags: Mapped[str | None] = mapped_column(Text)  # JSON list of sections that look copied
    return_reason: Mapped[str | None] = mapped_column(Text)
    returned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    member: Mapped[Member] = relationship()
    cycle: Mapped[Cycle] = relationship()


class FlowState(Base):
    """Where a user is in a multi-step flow (conversations/engine.py): one row per user, so a
    restart in the middle of a form loses nothing and the next message lands in the right place."""

    __tablename__ = "flow_states"

    telegram_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    flow: Mapped[str] = mapped_column(String(32))
    step: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text, default="{}")  # JSON: the flow's own values
    # The message that asked for this step, once sent: its buttons go when the step is left.
    prompt_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    prompt_message_id: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReviewPiece(Base):
    """One message's worth of a section, saved the moment it arrives."""

    __tablename__ = "review_pieces"
    __table_args__ = (Index("ix_review_pieces_review_section", "review_id", "section_key", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("self_reviews.id", ondelete="CASCADE"))
    section_key: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    # The member's Telegram message it came from: editing that message replaces the piece.
    message_id: Mapped[int | None] = mapped_column(Integer)


# --- Secret ballot (DOMAIN §7; the secrecy design is in bot/services/ballot.py) -----------


class MeetingAttendance(Base):
    """Who is at the meeting (R-B1, R-B3, R-E5): no row means absent."""

    __tablename__ = "meeting_attendance"

    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    presence: Mapped[str] = mapped_column(String(16))  # rules.people.Presence value


class BallotRound(Base):
    """One round of the secret ballot at a meeting; round 2+ re-vote the undecided."""

    __tablename__ = "ballot_rounds"
    __table_args__ = (UniqueConstraint("meeting_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    # "members": the members' levels; "units": an organisation's or collective's proposed
    # level (issue 14), its candidates named by ``BallotCandidate.review_id``.
    kind: Mapped[str] = mapped_column(String(12), default="members", server_default="members")
    state: Mapped[str] = mapped_column(String(8))  # "pending" | "open" | "closed"
    counting_rule: Mapped[str] = mapped_column(String(16))  # rules.rulebooks.CountingRule
    denominator_rule: Mapped[str] = mapped_column(String(16))  # rules.rulebooks.DenominatorRule
    denominator: Mapped[int | None] = mapped_column(Integer)  # ballots-cast: set at the close
    opened_by: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The secretary's round message, edited in place with the progress.
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(Integer)
    progress_shown: Mapped[str | None] = mapped_column(String(24))
    # The sealed box (issue 11): voting ended (the box waits for the counting committee), the
    # round's public key, its private key sealed with the key the committee's shares rebuild,
    # and how many shares open it. The shares themselves are never stored.
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    public_key: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary(128))
    threshold: Mapped[int | None] = mapped_column(Integer)


class BallotCandidate(Base):
    """A member (or, in a round of kind "units", a unit review) voted on in a round, by
    position; the result is set at the close."""

    __tablename__ = "ballot_candidates"

    round_id: Mapped[int] = mapped_column(
        ForeignKey("ballot_rounds.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    candidate_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    review_id: Mapped[int | None] = mapped_column(ForeignKey("unit_reviews.id", ondelete="CASCADE"))
    adopted_level: Mapped[str | None] = mapped_column(String(8))
    undecided: Mapped[bool | None] = mapped_column(Boolean)


class BallotVoter(Base):
    """That a voter may vote and has voted in a round; never what (R-B6). Created at open."""

    __tablename__ = "ballot_voters"

    round_id: Mapped[int] = mapped_column(
        ForeignKey("ballot_rounds.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    has_voted: Mapped[bool] = mapped_column(Boolean, default=False)
    # Where the voter's receipt message is in their own chat (recorded once it was delivered),
    # so /phieu can point to it; the receipt itself is never stored next to the voter.
    receipt_message_id: Mapped[int | None] = mapped_column(Integer)


class BallotCount(Base):
    """Votes for one candidate at one level (or blank), written when the box is opened."""

    __tablename__ = "ballot_counts"
    __table_args__ = (
        ForeignKeyConstraint(
            ["round_id", "position"],
            ["ballot_candidates.round_id", "ballot_candidates.position"],
            ondelete="CASCADE",
        ),
    )

    round_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    level: Mapped[str] = mapped_column(String(8), primary_key=True)  # HTXS..KHT or BLANK
    votes: Mapped[int] = mapped_column(Integer, default=0)


class BallotReceipt(Base):
    """The SHA-256 of a receipt code (R-B8): no voter, no time; keyed (and ordered on disk)
    by the hash itself (SQLite WITHOUT ROWID), so no insertion order exists."""

    __tablename__ = "ballot_receipts"
    __table_args__ = {"sqlite_with_rowid": False}

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    round_id: Mapped[int] = mapped_column(
        ForeignKey("ballot_rounds.id", ondelete="CASCADE"), index=True
    )


class SealedBallot(Base):
    """One confirmed ballot, encrypted to the round's public key (a sealed box of fixed size);
    keyed by its tracker so the table has no insertion order. Deleted when the box is opened."""

    __tablename__ = "ballot_sealed"
    __table_args__ = {"sqlite_with_rowid": False}

    tracker: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of `sealed`
    round_id: Mapped[int] = mapped_column(
        ForeignKey("ballot_rounds.id", ondelete="CASCADE"), index=True
    )
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class BallotTeller(Base):
    """A member of the counting committee of a round: received one share of its key."""

    __tablename__ = "ballot_tellers"

    round_id: Mapped[int] = mapped_column(
        ForeignKey("ballot_rounds.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )


class CountingCommittee(Base):
    """The counting committee (ban kiểm phiếu) the secretary named for a meeting: k of n."""

    __tablename__ = "counting_committees"

    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True
    )
    threshold: Mapped[int] = mapped_column(Integer)


class CountingCommitteeMember(Base):
    __tablename__ = "counting_committee_members"

    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("counting_committees.meeting_id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )


class RatingState(enum.StrEnum):
    PROPOSED = "proposed"  # the chi bộ's proposal (from the ballot, or lowered by the secretary)
    DECIDED = "decided"  # the deciding level confirmed it (DOMAIN §1 step 6)
    CANCELLED = "cancelled"  # cancelled to be redone (R-A2); a new row replaces it


class Rating(Base):
    """A member's quality rating in a cycle: the chi bộ's proposal, then the decision."""

    __tablename__ = "ratings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16), default=RatingState.PROPOSED)
    proposed_level: Mapped[str | None] = mapped_column(String(8))  # HTXS, HTT, HT, KHT
    proposed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decided_level: Mapped[str | None] = mapped_column(String(8))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(64))  # actor, as in the audit log


class RatingChange(Base):
    """Append-only history of a rating: proposed, lowered, decided, cancelled, with reasons."""

    __tablename__ = "rating_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rating_id: Mapped[int] = mapped_column(ForeignKey("ratings.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # proposed | lowered | decided | cancelled
    level: Mapped[str | None] = mapped_column(String(8))
    reason: Mapped[str | None] = mapped_column(Text)


# --- Decisions and appeals (DOMAIN §1 step 6, §9; issue 6) ----------------------------------


class Decision(Base):
    """The deciding level confirmed the levels of a unit (a cell or a grassroots committee)."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    decided_count: Mapped[int] = mapped_column(Integer)
    override_reason: Mapped[str | None] = mapped_column(Text)  # a standing breach overridden


class Appeal(Base):
    """A member's written appeal against a decided level (R-A1) and the written answer."""

    __tablename__ = "appeals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rating_id: Mapped[int] = mapped_column(ForeignKey("ratings.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    deciding_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    filed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    answered_by: Mapped[str | None] = mapped_column(String(64))


# Subtree figures join ratings by member within a cycle (migration 0006).
Index("ix_ratings_member_cycle", Rating.member_id, Rating.cycle_id)


# --- Plans and the deadline monitor (issue 5; bot/services/plans.py, bot/jobs.py) -----------


class UnitDeadline(Base):
    """A dated deadline of a plan (R-D5, and the plan's finish-by and report-by), set on the
    cycle's own organisation or, earlier only, on a unit below it (R-D5)."""

    __tablename__ = "plan_deadlines"
    __table_args__ = (UniqueConstraint("cycle_id", "org_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    key: Mapped[str] = mapped_column(String(32))
    due: Mapped[dt.date] = mapped_column(Date)
    set_by: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class NoticeState(enum.StrEnum):
    PENDING = "pending"  # claimed, about to be sent (or the process stopped meanwhile)
    SENT = "sent"  # Telegram accepted it
    FAILED = "failed"  # Telegram refused it after the retries: the next run sends it again
    BLOCKED = "blocked"  # 403: the user blocked the bot; the secretary is told


class SentNotice(Base):
    """What the monitor has sent (or is sending): once per kind, target, cycle and stage."""

    __tablename__ = "sent_notices"
    __table_args__ = (UniqueConstraint("kind", "target", "cycle_id", "stage"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(64))  # "member:<id>"
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(96))
    state: Mapped[str] = mapped_column(String(8))
    claimed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The Telegram message id of the (last part of the) message that carried it, written as
    # soon as Telegram accepted it: a pending row with one was sent (issue 9; migration 0010).
    message_id: Mapped[int | None] = mapped_column(BigInteger)


# The deadline monitor's set-based queries (bot/jobs.py; migration 0010): a cycle's ratings by
# member, and the ledger by cycle and stage.
Index("ix_ratings_cycle_member", Rating.cycle_id, Rating.member_id)
Index("ix_sent_notices_cycle_stage", SentNotice.cycle_id, SentNotice.stage)


# --- Durable intake and the outbox (issue 9; bot/intake.py, bot/delivery.py) ----------------


class InboxUpdate(Base):
    """An update from Telegram, stored before Telegram is told it arrived (the next
    getUpdates offset, or the webhook's 200) and marked handled in the transaction of the turn
    that handled it. The payload is dropped once handled; the row stays a while so a replayed
    update_id changes nothing."""

    __tablename__ = "inbox_updates"
    __table_args__ = (Index("ix_inbox_updates_pending", "handled_at", "update_id"),)

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    chat_id: Mapped[int | None] = mapped_column(BigInteger)  # updates of one chat run in order
    payload: Mapped[str | None] = mapped_column(Text)  # JSON, trimmed (see bot/intake.py)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    handled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class OutboxMessage(Base):
    """A message owed to a user, written in the transaction of the change it reports and
    deleted once Telegram took it; what is left after a crash is delivered at start-up."""

    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_messages_chat", "chat_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    payload: Mapped[str] = mapped_column(Text)  # JSON: bot.delivery.Owed
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


# --- Criteria frameworks (issue 14; bot/frameworks.py, bot/services/frameworks.py) ----------


class CriteriaFramework(Base):
    """A committee's criteria framework (khung tiêu chí) for a year: the criteria its units are
    scored on. A unit uses the framework of its nearest ancestor-or-self for its plan's year."""

    __tablename__ = "frameworks"
    __table_args__ = (UniqueConstraint("org_id", "year"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    year: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(255))
    loaded_by: Mapped[str] = mapped_column(String(64))  # "cli", "tg:<telegram id>"
    loaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class FrameworkCriterion(Base):
    """A criterion or sub-criterion (``parent_code``), its text, maximum points in tenths and
    the kinds of organisation (OrgKind values, comma-separated) it applies to."""

    __tablename__ = "framework_criteria"
    __table_args__ = (UniqueConstraint("framework_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    framework_id: Mapped[int] = mapped_column(
        ForeignKey("frameworks.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(16))
    parent_code: Mapped[str | None] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    max_tenths: Mapped[int] = mapped_column(Integer)
    kinds: Mapped[str] = mapped_column(String(64))
    guidance: Mapped[str | None] = mapped_column(Text)


class FrameworkUpload(Base):
    """A framework file sent to the bot, kept until its preview is confirmed or cancelled."""

    __tablename__ = "framework_uploads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    year: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ReviewPrompt(Base):
    """Written points an upper level asks a member to address in part IV of their self-review
    (gợi ý kiểm điểm, DOMAIN §6), or a collective in its report (``subject_org_id`` and
    ``subject``, member None), in a cycle. ``org_id``: the organisation on which the sender
    holds the role that allowed it."""

    __tablename__ = "review_prompts"
    __table_args__ = (Index("ix_review_prompts_cycle_member", "cycle_id", "member_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    subject_org_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE")
    )
    subject: Mapped[str | None] = mapped_column(String(16))  # UnitSubject
    text: Mapped[str] = mapped_column(Text)
    sent_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

class UnitVersion(Base):
    """How many times the figures of an organisation's subtree changed: every write that
    changes a figure of /tinh_trang bumps its organisation and every ancestor, in the write's
    own transaction (``bot.services.aggregates.changed``)."""

    __tablename__ = "unit_versions"

    org_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(Integer, default=0)


class UnitFigures(Base):
    """The figures of an organisation's subtree for one plan (the plan a status is read
    under), as of ``fresh`` (the organisation's UnitVersion when they were counted). They
    hold while the version is unchanged, the plan's rules are those of ``rule_key``, today's
    admission cut-off lies in [cutoff_lo, cutoff_hi) and now in [held_lo, held_hi)."""

    __tablename__ = "unit_figures"

    org_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    cycle_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    fresh: Mapped[int] = mapped_column(Integer)
    rule_key: Mapped[str] = mapped_column(String(200))
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    cutoff_lo: Mapped[dt.date | None] = mapped_column(Date)
    cutoff_hi: Mapped[dt.date | None] = mapped_column(Date)
    held_lo: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    held_hi: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    figures: Mapped[str] = mapped_column(Text)  # JSON: the counts (bot/services/aggregates.py)


# --- Organisations and collectives (issue 14; DOMAIN §1, §5, §8, §9; seed 004 B.1, B.3) -----


class UnitSubject(enum.StrEnum):
    """What of an organisation is reviewed and rated (seed 004 A.1.1, B.1, B.3)."""

    ORGANISATION = "organisation"  # tổ chức đảng: the chi bộ or đảng bộ itself
    COMMITTEE = "committee"  # tập thể cấp ủy: the chi ủy of a cell, the đảng ủy of a đảng bộ
    STANDING = "standing"  # ban thường vụ đảng ủy


class UnitReviewState(enum.StrEnum):
    DRAFTING = "drafting"  # the head prepares the report and the draft score sheet
    CIRCULATED = "circulated"  # sent to every participant before the meeting (R-D1)
    REVIEWED = "reviewed"  # reviewed at the meeting: the collectives' step is done (R-D3)


class UnitReview(Base):
    """The review (kiểm điểm) and self-assessment of an organisation or a collective in a
    plan: the report (báo cáo kiểm điểm) and the draft score sheet (Mẫu 01) that its head
    prepares, the committee comments on, and that is circulated to the participants at least
    R-D1's working days before the meeting; then reviewed and scored at the meeting."""

    __tablename__ = "unit_reviews"
    __table_args__ = (UniqueConstraint("cycle_id", "org_id", "subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    subject: Mapped[str] = mapped_column(String(16))  # UnitSubject
    state: Mapped[str] = mapped_column(String(16), default=UnitReviewState.DRAFTING)
    prepared_by: Mapped[str | None] = mapped_column(String(64))  # actor, as in the audit log
    # The report as a Word file sent to the bot (else it is typed in UnitReportPiece rows).
    report_filename: Mapped[str | None] = mapped_column(String(255))
    report_docx: Mapped[bytes | None] = mapped_column(LargeBinary)
    circulated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    circulated_by: Mapped[str | None] = mapped_column(String(64))
    # The meeting where it was reviewed (R-D3: collectives before individuals) and when.
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id", ondelete="SET NULL"))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The meeting's members' totals combined, adjustments agreed, in tenths (seed 004 B.1.4).
    combined_tenths: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class UnitReportPiece(Base):
    """One message's worth of a section of a collective's report, typed in the bot."""

    __tablename__ = "unit_report_pieces"
    __table_args__ = (Index("ix_unit_report_pieces_review", "review_id", "section_key", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("unit_reviews.id", ondelete="CASCADE"))
    section_key: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    message_id: Mapped[int | None] = mapped_column(Integer)  # editing it replaces the piece
    # Who sent the message (actor, "tg:<id>"): message ids are per chat (migration 0021).
    author: Mapped[str | None] = mapped_column(String(64))


class ScoreGrade(enum.StrEnum):
    """The grade of a criterion on Mẫu 01 (seed 004 B.1.4 step 1)."""

    EXCELLENT = "excellent"  # Xuất sắc
    GOOD = "good"  # Tốt
    AVERAGE = "average"  # Trung bình
    POOR = "poor"  # Kém


class ScoreSheet(Base):
    """A score sheet (Mẫu 01) of a unit review: the head's draft (``member_id`` None) or the
    scores one member present gave at the meeting (submitted once ``submitted_at`` is set)."""

    __tablename__ = "unit_score_sheets"
    __table_args__ = (Index("ix_unit_score_sheets_review_member", "review_id", "member_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("unit_reviews.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ScoreMark(Base):
    """The mark of one leaf criterion on a sheet: points in tenths, the grade in words and
    the result in words and figures (column 3 of the seed's tables)."""

    __tablename__ = "unit_score_marks"

    sheet_id: Mapped[int] = mapped_column(
        ForeignKey("unit_score_sheets.id", ondelete="CASCADE"), primary_key=True
    )
    criterion: Mapped[str] = mapped_column(String(16), primary_key=True)
    tenths: Mapped[int] = mapped_column(Integer)
    grade: Mapped[str | None] = mapped_column(String(12))  # ScoreGrade
    result: Mapped[str | None] = mapped_column(Text)


class AdjustmentKind(enum.StrEnum):
    DEDUCTION = "deduction"  # a basic target missed (trừ điểm)
    ADDITION = "addition"  # an outstanding result (cộng điểm)


class ScoreAdjustment(Base):
    """A deduction or an addition (seed 004 B.6): proposed in the draft (``agreed`` False) or
    agreed by the meeting; always with its criterion, reason and who is responsible."""

    __tablename__ = "unit_score_adjustments"
    __table_args__ = (Index("ix_unit_score_adjustments_review", "review_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("unit_reviews.id", ondelete="CASCADE"))
    agreed: Mapped[bool] = mapped_column(Boolean, default=False)
    kind: Mapped[str] = mapped_column(String(12))  # AdjustmentKind
    criterion: Mapped[str] = mapped_column(String(16))
    shortfall_tenths: Mapped[int | None] = mapped_column(Integer)  # deduction: % short, tenths
    points_tenths: Mapped[int | None] = mapped_column(Integer)  # addition: points, tenths
    reason: Mapped[str] = mapped_column(Text)
    responsible: Mapped[str] = mapped_column(String(255))
    entered_by: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CommentStage(enum.StrEnum):
    COMMITTEE = "committee"  # a committee member on the head's draft, before it is circulated
    PARTICIPANT = "participant"  # a participant on the circulated draft, before the meeting


class UnitComment(Base):
    """A comment on a unit review's draft report and score sheet."""

    __tablename__ = "unit_comments"
    __table_args__ = (Index("ix_unit_comments_review", "review_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("unit_reviews.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(String(12))  # CommentStage
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ParticipantBody(enum.StrEnum):
    """The bodies that take part in rating an organisation (seed 004 B.1.4 step 2)."""

    COUNCIL = "council"  # Thường trực HĐND, UBND
    FRONT = "front"  # Ủy ban Mặt trận Tổ quốc Việt Nam
    MASS_ORGS = "mass_orgs"  # Ban Thường vụ các đoàn thể chính trị - xã hội
    LEADERSHIP = "leadership"  # tập thể lãnh đạo cơ quan, đơn vị
    ADVISORY = "advisory"  # các cơ quan tham mưu, giúp việc của cấp ủy cấp trên


class ParticipantOpinion(Base):
    """The opinion of one participating body on a unit review: a level it proposes (or
    none) and its written assessment; entered by a person holding that body's role, or by
    the organising office. A body's later entry replaces its earlier one."""

    __tablename__ = "unit_opinions"
    __table_args__ = (UniqueConstraint("review_id", "body"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("unit_reviews.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(String(16))  # ParticipantBody
    level: Mapped[str | None] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    entered_by: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class UnitRating(Base):
    """An organisation's or collective's rating in a plan: the proposal it voted on itself
    (its combined score and level), then the deciding level's decision. ``not_rated``: reviewed
    but not rated (R-E4). Cancelled rows stay as history (R-A2)."""

    __tablename__ = "unit_ratings"
    __table_args__ = (Index("ix_unit_ratings_review", "review_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("unit_reviews.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16), default=RatingState.PROPOSED)
    score_tenths: Mapped[int | None] = mapped_column(Integer)
    proposed_level: Mapped[str | None] = mapped_column(String(8))
    proposed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    not_rated: Mapped[bool] = mapped_column(Boolean, default=False)
    decided_level: Mapped[str | None] = mapped_column(String(8))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(64))


class UnitRatingChange(Base):
    """Append-only history of a unit's rating: proposed, lowered, decided, cancelled."""

    __tablename__ = "unit_rating_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rating_id: Mapped[int] = mapped_column(
        ForeignKey("unit_ratings.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # proposed | lowered | decided | cancelled
    level: Mapped[str | None] = mapped_column(String(8))
    reason: Mapped[str | None] = mapped_column(Text)


class UnitAppeal(Base):
    """A collective's written appeal against its decided level (R-A1), filed by its head, and
    the deciding level's written answer."""

    __tablename__ = "unit_appeals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rating_id: Mapped[int] = mapped_column(
        ForeignKey("unit_ratings.id", ondelete="CASCADE"), index=True
    )
    filed_by: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    deciding_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    filed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    answered_by: Mapped[str | None] = mapped_column(String(64))


class UnitPlanSetting(Base):
    """A setting an upper level gives one unit in its plan (DOMAIN §5): a unit with
    outstanding results may rate up to 25% HTXS (R-Q1, qd366-2025), and the peer group its
    quota is counted over (R-Q5, qd366-2025). ``value`` is JSON."""

    __tablename__ = "plan_unit_settings"
    __table_args__ = (UniqueConstraint("cycle_id", "org_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    key: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(Text)
    set_by: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
