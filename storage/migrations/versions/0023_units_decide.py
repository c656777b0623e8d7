"""organisations and collectives, the decision (issue 14 part C): whether a chi bộ is a
village or residential one (chi bộ thôn, tổ dân phố: who gives opinions on it, R-C4's
exception for its secretary) and whether a member is a public servant (cán bộ, công chức)

Revision ID: 0023
Revises: 0020
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ADD COLUMN with a constant default: no table rebuild on SQLite, none on PostgreSQL.
    op.add_column(
        "organisations",
        sa.Column("residential", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column(
        "members",
        sa.Column("public_servant", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("public_servant")
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_column("residential")
