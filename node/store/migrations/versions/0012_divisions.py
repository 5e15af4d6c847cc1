"""The province's published division list (issue 13): any province's tree below the national
one to county level that the package ships.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "divisions",
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("part", sa.String(length=12), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_index("ix_divisions_part", "divisions", ["part"])


def downgrade() -> None:
    op.drop_index("ix_divisions_part", table_name="divisions")
    op.drop_table("divisions")
