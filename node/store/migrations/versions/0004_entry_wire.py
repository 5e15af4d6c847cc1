"""Relayed entries keep the exact bytes they arrived in (`entries.wire`, a serialized log
Entry), which the node forwards as they are; NULL for this node's own entries (encoded once,
when sent) and for entries stored before this revision.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("entries") as batch_op:
        batch_op.add_column(sa.Column("wire", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("entries") as batch_op:
        batch_op.drop_column("wire")
