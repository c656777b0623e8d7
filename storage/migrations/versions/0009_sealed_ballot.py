"""the sealed ballot box (issue 11): round keys, sealed ballots, the counting committee

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-01 21:40:00

Sits beside 0008 (durable intake) as a second head: `alembic upgrade heads` runs both.
Counts are no longer kept while a round is open; they are written when the committee opens the
box. A round left open by the old design (no key) keeps its counts and closes as before.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ballot_rounds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("public_key", sa.LargeBinary(length=32), nullable=True))
        batch_op.add_column(sa.Column("wrapped_key", sa.LargeBinary(length=128), nullable=True))
        batch_op.add_column(sa.Column("threshold", sa.Integer(), nullable=True))
    with op.batch_alter_table("ballot_voters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("receipt_message_id", sa.Integer(), nullable=True))
    op.create_table(
        "ballot_sealed",
        sa.Column("tracker", sa.String(length=64), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["round_id"], ["ballot_rounds.id"], name=op.f("fk_ballot_sealed_round_id_ballot_rounds"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tracker", name=op.f("pk_ballot_sealed")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("ballot_sealed", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ballot_sealed_round_id"), ["round_id"], unique=False)
    op.create_table(
        "ballot_tellers",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_ballot_tellers_member_id_members"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["round_id"], ["ballot_rounds.id"], name=op.f("fk_ballot_tellers_round_id_ballot_rounds"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("round_id", "member_id", name=op.f("pk_ballot_tellers")),
    )
    op.create_table(
        "counting_committees",
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["meeting_id"], ["meetings.id"], name=op.f("fk_counting_committees_meeting_id_meetings"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("meeting_id", name=op.f("pk_counting_committees")),
    )
    op.create_table(
        "counting_committee_members",
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["meeting_id"], ["counting_committees.meeting_id"], name=op.f("fk_counting_committee_members_meeting_id_counting_committees"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_counting_committee_members_member_id_members"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("meeting_id", "member_id", name=op.f("pk_counting_committee_members")),
    )


def downgrade() -> None:
    op.drop_table("counting_committee_members")
    op.drop_table("counting_committees")
    op.drop_table("ballot_tellers")
    with op.batch_alter_table("ballot_sealed", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ballot_sealed_round_id"))
    op.drop_table("ballot_sealed")
    with op.batch_alter_table("ballot_voters", schema=None) as batch_op:
        batch_op.drop_column("receipt_message_id")
    with op.batch_alter_table("ballot_rounds", schema=None) as batch_op:
        batch_op.drop_column("threshold")
        batch_op.drop_column("wrapped_key")
        batch_op.drop_column("public_key")
        batch_op.drop_column("ended_at")
