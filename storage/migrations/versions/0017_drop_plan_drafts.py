"""drop plan_drafts: the /ke_hoach draft is the payload of its flow (flow_states)

Revision ID: 0017
Revises: 0012
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A draft open at the upgrade is dropped: nothing in it was saved, and /ke_hoach asks again.
    op.drop_table("plan_drafts")


def downgrade() -> None:
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
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"],
            name=op.f("fk_plan_drafts_org_id_organisations"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("telegram_id", name=op.f("pk_plan_drafts")),
    )
