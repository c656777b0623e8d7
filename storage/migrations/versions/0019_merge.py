"""merge the branches built side by side on 0011: menus (0011_menus), the kept status figures
(0013), criteria frameworks (0014) and the flow engine with the plan's draft in it (0012, 0017)

Revision ID: 0019
Revises: 0011_menus, 0013, 0014, 0017
"""
from __future__ import annotations

revision = "0019"
down_revision = ("0011_menus", "0013", "0014", "0017")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
