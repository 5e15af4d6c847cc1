"""The yiwang version each node runs, from its `software_running` entries (issue 13): the
province sees who runs what across the whole province, not only its own children.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "node_versions",
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("since_us", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )


def downgrade() -> None:
    op.drop_table("node_versions")
