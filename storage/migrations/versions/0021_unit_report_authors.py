"""who typed each piece of a collective's report (issue 14, part A): a message the head edits in
Telegram replaces its piece, found by the author's account and the message id (message ids
are counted per chat, so two heads' ids may be equal)

Revision ID: 0021
Revises: 0020
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("unit_report_pieces", schema=None) as batch_op:
        batch_op.add_column(sa.Column("author", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("unit_report_pieces", schema=None) as batch_op:
        batch_op.drop_column("author")
