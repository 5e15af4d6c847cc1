"""When this node stored each entry and addressed copy (`held_ns`), the order a rebuild replays.

Rows stored before this revision stay NULL: no database kept a common order of entries and
copies (SQLite's rowids count per table), so a rebuild replays them first, in the order their
origins wrote them (time, then origin, stream and seq).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("entries", "addressed"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("held_ns", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    for table in ("entries", "addressed"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("held_ns")
