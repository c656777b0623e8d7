"""command menus per person: what each chat's menu shows and whether an update is owed

Revision ID: 0011_menus
Revises: 0011
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_menus"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("telegram_accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("menu", sa.String(length=40), nullable=True))
        batch_op.add_column(
            sa.Column("menu_owed", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.create_index(
            batch_op.f("ix_telegram_accounts_menu_owed"), ["menu_owed"], unique=False
        )
    # Members linked before menus per person get theirs at the next start.
    op.execute("UPDATE telegram_accounts SET menu_owed = 1 WHERE member_id IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("telegram_accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_telegram_accounts_menu_owed"))
        batch_op.drop_column("menu_owed")
        batch_op.drop_column("menu")
