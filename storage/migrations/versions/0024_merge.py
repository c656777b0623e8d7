"""merge the units' branches built side by side on 0020: the report pieces' author (0021, part
A) and the residential organisations and public servants (0023, part C)

Revision ID: 0024
Revises: 0021, 0023
"""
from __future__ import annotations

revision = "0024"
down_revision = ("0021", "0023")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
