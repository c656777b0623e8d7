"""plans: dated plan deadlines per unit, /ke_hoach drafts, and the monitor's sent notices

Revision ID: 0005
Revises: 0004
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plan_deadlines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("set_by", sa.String(length=64), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["cycle_id"], ["cycles.id"], name=op.f("fk_plan_deadlines_cycle_id_cycles"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], name=op.f("fk_plan_deadlines_org_id_organisations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_deadlines")),
        sa.UniqueConstraint("cycle_id", "org_id", "key", name=op.f("uq_plan_deadlines_cycle_id")),
    )
    with op.batch_alter_table("plan_deadlines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_deadlines_cycle_id"), ["cycle_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_plan_deadlines_org_id"), ["org_id"], unique=False)
    op.create_table(
        "plan_drafts",
        sa.Column("telegram_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("rulebook", sa.String(length=16), nullable=True),
        sa.Column("overrides", sa.Text(), nullable=False),
        sa.Column("deadlines", sa.Text(), nullable=False),
        sa.Column("step", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], name=op.f("fk_plan_drafts_org_id_organisations"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("telegram_id", name=op.f("pk_plan_drafts")),
    )
    op.create_table(
        "sent_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=96), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["cycle_id"], ["cycles.id"], name=op.f("fk_sent_notices_cycle_id_cycles"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sent_notices")),
        sa.UniqueConstraint("kind", "target", "cycle_id", "stage", name=op.f("uq_sent_notices_kind")),
    )
    with op.batch_alter_table("sent_notices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sent_notices_cycle_id"), ["cycle_id"], unique=False)


def downgrade() -> None:
    op.drop_table("sent_notices")
    op.drop_table("plan_drafts")
    op.drop_table("plan_deadlines")
