"""decisions and appeals: the deciding level's confirmations and members' written appeals

Revision ID: 0006
Revises: 0004
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("decided_count", sa.Integer(), nullable=False),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["cycle_id"], ["cycles.id"], name=op.f("fk_decisions_cycle_id_cycles"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], name=op.f("fk_decisions_org_id_organisations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decisions")),
    )
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_decisions_cycle_id"), ["cycle_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_decisions_org_id"), ["org_id"], unique=False)
    op.create_table(
        "appeals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rating_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("deciding_org_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["rating_id"], ["ratings.id"], name=op.f("fk_appeals_rating_id_ratings"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_appeals_member_id_members"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["deciding_org_id"], ["organisations.id"], name=op.f("fk_appeals_deciding_org_id_organisations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appeals")),
    )
    with op.batch_alter_table("appeals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_appeals_rating_id"), ["rating_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_appeals_member_id"), ["member_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_appeals_deciding_org_id"), ["deciding_org_id"], unique=False)
    # Subtree figures join ratings and self-reviews by member within a cycle.
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.create_index("ix_ratings_member_cycle", ["member_id", "cycle_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.drop_index("ix_ratings_member_cycle")
    op.drop_table("appeals")
    op.drop_table("decisions")
