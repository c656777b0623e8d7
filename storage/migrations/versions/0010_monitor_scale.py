"""the deadline monitor at province scale: indexes for its set-based queries, and the Telegram
message id of each sent notice (recovery of notices left claimed by a crash)

Revision ID: 0010
Revises: 0007
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sent_notices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("message_id", sa.BigInteger(), nullable=True))
        batch_op.create_index("ix_sent_notices_cycle_stage", ["cycle_id", "stage"], unique=False)
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.create_index("ix_ratings_cycle_member", ["cycle_id", "member_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.drop_index("ix_ratings_cycle_member")
    with op.batch_alter_table("sent_notices", schema=None) as batch_op:
        batch_op.drop_index("ix_sent_notices_cycle_stage")
        batch_op.drop_column("message_id")
