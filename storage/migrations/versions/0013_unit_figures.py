"""figures of /tinh_trang kept per organisation: unit_versions (bumped by every write that
changes a figure) and unit_figures (the counts of a subtree, valid while its version holds)

Revision ID: 0013
Revises: 0011
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "unit_versions",
        sa.Column("org_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_unit_versions")),
    )
    op.create_table(
        "unit_figures",
        sa.Column("org_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("cycle_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("fresh", sa.Integer(), nullable=False),
        sa.Column("rule_key", sa.String(length=200), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cutoff_lo", sa.Date(), nullable=True),
        sa.Column("cutoff_hi", sa.Date(), nullable=True),
        sa.Column("held_lo", sa.DateTime(timezone=True), nullable=True),
        sa.Column("held_hi", sa.DateTime(timezone=True), nullable=True),
        sa.Column("figures", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "cycle_id", name=op.f("pk_unit_figures")),
    )


def downgrade() -> None:
    op.drop_table("unit_figures")
    op.drop_table("unit_versions")
