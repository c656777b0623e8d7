"""merge the plans (0005) and decisions (0006) branches, built side by side on 0004

Revision ID: 0007
Revises: 0005, 0006
"""
from __future__ import annotations

revision = "0007"
down_revision = ("0005", "0006")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
