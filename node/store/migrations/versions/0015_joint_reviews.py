"""Joint reviews (并联审批, issue 14): one row per reviewer asked about a case, with its opinion
or its recorded silence, at every node that holds the request; the statistics count the
reviews opened (counter `joint`).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None
COUNTED = ("case_counts", "case_rollups", "item_rollups")  # the tables with a column per counter


def upgrade() -> None:
    op.create_table(
        "joint_reviews",
        sa.Column("case_no", sa.String(length=50), nullable=False),
        sa.Column("node", sa.String(length=12), nullable=False),
        sa.Column("department", sa.String(length=18), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("lead", sa.String(length=12), nullable=False),
        sa.Column("item_code", sa.String(length=64), nullable=False),
        sa.Column("filing_division", sa.String(length=12), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("due", sa.String(length=10), nullable=False),
        sa.Column("silence", sa.String(length=16), nullable=False),
        sa.Column("requested_at_us", sa.BigInteger(), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("forward_to", sa.Text(), nullable=False),
        sa.Column("by_default", sa.Boolean(), nullable=False),
        sa.Column("answered_at_us", sa.BigInteger(), nullable=True),
        sa.Column("working_days", sa.Integer(), nullable=True),
        sa.Column("opinion_hash", sa.LargeBinary(), nullable=False),
        sa.Column("decided_at_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("case_no", "node", "department"),
    )
    op.create_index("ix_joint_reviews_lead", "joint_reviews", ["lead"])
    for table in COUNTED:  # counted from zero: no review was opened before this version
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("joint", sa.Integer(), nullable=False, server_default="0"))
        with op.batch_alter_table(table) as batch:
            batch.alter_column("joint", server_default=None)
    op.create_index("ix_joint_reviews_queue", "joint_reviews", ["node", "verdict", "due"])


def downgrade() -> None:
    for table in COUNTED:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("joint")
    op.drop_index("ix_joint_reviews_queue", table_name="joint_reviews")
    op.drop_index("ix_joint_reviews_lead", table_name="joint_reviews")
    op.drop_table("joint_reviews")
