"""durable intake and the outbox; the message a self-review piece came from (issue 9)

Revision ID: 0008
Revises: 0007
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox_updates",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("update_id", name=op.f("pk_inbox_updates")),
    )
    op.create_index("ix_inbox_updates_pending", "inbox_updates", ["handled_at", "update_id"])
    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_messages")),
    )
    op.create_index("ix_outbox_messages_chat", "outbox_messages", ["chat_id", "id"])
    with op.batch_alter_table("review_pieces") as batch:
        batch.add_column(sa.Column("message_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("review_pieces") as batch:
        batch.drop_column("message_id")
    op.drop_index("ix_outbox_messages_chat", table_name="outbox_messages")
    op.drop_table("outbox_messages")
    op.drop_index("ix_inbox_updates_pending", table_name="inbox_updates")
    op.drop_table("inbox_updates")
