"""merge the intake (0008), sealed ballot (0009) and monitor (0010) branches, built side by
side on 0007

Revision ID: 0011
Revises: 0008, 0009, 0010
"""
from __future__ import annotations

revision = "0011"
down_revision = ("0008", "0009", "0010")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
