"""Each linked peer's yiwang version, from its Hello (issue 13): a parent shows what its
children run.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("peers") as batch_op:
        batch_op.add_column(sa.Column("software", sa.String(length=32), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("peers") as batch_op:
        batch_op.drop_column("software")
