"""criteria frameworks: a committee's criteria for a year, framework files awaiting
confirmation, and review prompts (gợi ý kiểm điểm) to members (issue 14)

Revision ID: 0014
Revises: 0011
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "frameworks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("loaded_by", sa.String(length=64), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], name=op.f("fk_frameworks_org_id_organisations"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_frameworks")),
        sa.UniqueConstraint("org_id", "year", name=op.f("uq_frameworks_org_id")),
    )
    op.create_table(
        "framework_criteria",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("framework_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("parent_code", sa.String(length=16), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("max_tenths", sa.Integer(), nullable=False),
        sa.Column("kinds", sa.String(length=64), nullable=False),
        sa.Column("guidance", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["framework_id"], ["frameworks.id"], name=op.f("fk_framework_criteria_framework_id_frameworks"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_framework_criteria")),
        sa.UniqueConstraint("framework_id", "code", name=op.f("uq_framework_criteria_framework_id")),
    )
    with op.batch_alter_table("framework_criteria", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_framework_criteria_framework_id"), ["framework_id"], unique=False)
    op.create_table(
        "framework_uploads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], name=op.f("fk_framework_uploads_org_id_organisations"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_framework_uploads")),
    )
    with op.batch_alter_table("framework_uploads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_framework_uploads_telegram_id"), ["telegram_id"], unique=False)
    op.create_table(
        "review_prompts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sent_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["cycle_id"], ["cycles.id"], name=op.f("fk_review_prompts_cycle_id_cycles"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_review_prompts_member_id_members"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], name=op.f("fk_review_prompts_org_id_organisations"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_prompts")),
    )
    with op.batch_alter_table("review_prompts", schema=None) as batch_op:
        batch_op.create_index("ix_review_prompts_cycle_member", ["cycle_id", "member_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("review_prompts", schema=None) as batch_op:
        batch_op.drop_index("ix_review_prompts_cycle_member")
    op.drop_table("review_prompts")
    with op.batch_alter_table("framework_uploads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_framework_uploads_telegram_id"))
    op.drop_table("framework_uploads")
    with op.batch_alter_table("framework_criteria", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_framework_criteria_framework_id"))
    op.drop_table("framework_criteria")
    op.drop_table("frameworks")
