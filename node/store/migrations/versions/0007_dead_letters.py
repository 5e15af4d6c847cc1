"""Dead letters: why the next hop refused an addressed copy for good (issue 10).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("addressed") as batch:
        batch.add_column(sa.Column("refusal", sa.String(length=500), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("addressed") as batch:
        batch.drop_column("refusal")
