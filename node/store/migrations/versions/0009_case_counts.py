"""Counters of case changes per day and case key, kept by the projection (issue 11).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# The counters as of this revision: a frozen copy (a migration never imports the live list).
COUNTERS = (
    "filed",
    "accepted",
    "not_accepted",
    "approved",
    "denied",
    "delivered",
    "delivered_on_time",
    "delivered_late",
    "withdrawn",
    "instant",
    "online",
    "agent",
    "cross_region",
    "eval_1",
    "eval_2",
    "eval_3",
    "eval_4",
    "eval_5",
    "bad_reviews",
)


def upgrade() -> None:
    op.create_table(
        "case_counts",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("handling", sa.String(length=12), nullable=False),
        sa.Column("filing", sa.String(length=12), nullable=False),
        sa.Column("item_code", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=2), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in COUNTERS),
        sa.PrimaryKeyConstraint("day", "handling", "filing", "item_code", "channel"),
    )


def downgrade() -> None:
    op.drop_table("case_counts")
