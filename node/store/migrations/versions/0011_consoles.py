"""The consoles (issue 12): indexes for the window's queues (a node's cases by status, soonest
due first; offers to this node) and the record of who saw an applicant in full.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_cases_queue", "cases", ["custodian", "status", "offered_to", "due_date"])
    op.create_index("ix_cases_offered_to", "cases", ["offered_to"])
    op.create_table(
        "reveals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("case_no", sa.String(length=50), nullable=False),
        sa.Column("what", sa.String(length=80), nullable=False),
        sa.Column("via", sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_reveals_case_no", "reveals", ["case_no"])


def downgrade() -> None:
    op.drop_index("ix_reveals_case_no", table_name="reveals")
    op.drop_table("reveals")
    op.drop_index("ix_cases_offered_to", table_name="cases")
    op.drop_index("ix_cases_queue", table_name="cases")
