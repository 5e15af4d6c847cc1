"""A link's progress in the peers table, for `yiwang status`: the last batch sent and
acknowledged, the entries the peer still lacks, and how often its worker was restarted.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("peers") as batch_op:
        batch_op.add_column(sa.Column("sent_at_us", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("acked_at_us", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("lag_entries", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("restarts", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("peers") as batch_op:
        for column in ("restarts", "lag_entries", "acked_at_us", "sent_at_us"):
            batch_op.drop_column(column)
