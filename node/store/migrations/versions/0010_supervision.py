"""Statistics over months and supervision (issue 11): more counters (working days used, 好差评
follow-up, 差评 causes), rollups per month and level and per month, county and item, the
supervision alarms, the rectification tasks and the monthly sign-offs. All derived: `yiwang upgrade` replays the log.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# Frozen copies of the counter lists (a migration never imports live code).
OLD_COUNTERS = (
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
NEW_COUNTERS = (
    "timed",
    "work_days",
    "called_back",
    "bad_rectified",
    "cause_overdue",
    "cause_extra_conditions",
    "cause_extra_materials",
    "cause_repeat_visits",
    "cause_attitude",
    "cause_guide",
    "cause_platform",
    "cause_other",
)


def _counters() -> list[sa.Column[int]]:
    return [sa.Column(name, sa.Integer(), nullable=False) for name in (*OLD_COUNTERS, *NEW_COUNTERS)]


def upgrade() -> None:
    with op.batch_alter_table("case_counts", schema=None) as batch_op:
        for name in NEW_COUNTERS:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("case_counts", schema=None) as batch_op:
        for name in NEW_COUNTERS:
            batch_op.alter_column(name, server_default=None)
    op.create_table(
        "case_rollups",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("division", sa.String(length=12), nullable=False),
        sa.Column("channel", sa.String(length=2), nullable=False),
        sa.Column("peer", sa.String(length=2), nullable=False),
        *_counters(),
        sa.PrimaryKeyConstraint("month", "level", "division", "channel", "peer"),
    )
    op.create_table(
        "item_rollups",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("county", sa.String(length=12), nullable=False),
        sa.Column("item_code", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=2), nullable=False),
        *_counters(),
        sa.PrimaryKeyConstraint("month", "county", "item_code", "channel"),
    )
    op.create_table(
        "supervision_alarms",
        sa.Column("origin", sa.String(length=12), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("rule", sa.String(length=16), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("case_no", sa.String(length=50), nullable=False),
        sa.Column("division", sa.String(length=12), nullable=False),
        sa.Column("item_code", sa.String(length=64), nullable=False),
        sa.Column("custodian", sa.String(length=12), nullable=False),
        sa.Column("due", sa.String(length=10), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("department", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("raised_at_us", sa.BigInteger(), nullable=False),
        sa.Column("cleared_at_us", sa.BigInteger(), nullable=True),
        sa.Column("ack_by", sa.String(length=64), nullable=False),
        sa.Column("ack_at_us", sa.BigInteger(), nullable=True),
        sa.Column("ack_note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("origin", "seq"),
    )
    op.create_index("ix_supervision_alarms_case_no", "supervision_alarms", ["case_no"])
    op.create_index("ix_supervision_alarms_division", "supervision_alarms", ["division"])
    op.create_table(
        "rectifications",
        sa.Column("case_no", sa.String(length=50), nullable=False),
        sa.Column("handling", sa.String(length=12), nullable=False),
        sa.Column("item_code", sa.String(length=64), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("causes", sa.String(length=200), nullable=False),
        sa.Column("opened_at_us", sa.BigInteger(), nullable=False),
        sa.Column("called_back_at_us", sa.BigInteger(), nullable=True),
        sa.Column("rectified_at_us", sa.BigInteger(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("case_no"),
    )
    op.create_index("ix_rectifications_handling", "rectifications", ["handling"])
    op.create_table(
        "signoffs",
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("division", sa.String(length=12), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("entry_hash", sa.LargeBinary(), nullable=False),
        sa.Column("signed_by", sa.String(length=64), nullable=False),
        sa.Column("signed_at_us", sa.BigInteger(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("children", sa.JSON(), nullable=False),
        sa.Column("changes_after", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("period", "division"),
    )


def downgrade() -> None:
    op.drop_table("signoffs")
    op.drop_index("ix_rectifications_handling", table_name="rectifications")
    op.drop_table("rectifications")
    op.drop_index("ix_supervision_alarms_division", table_name="supervision_alarms")
    op.drop_index("ix_supervision_alarms_case_no", table_name="supervision_alarms")
    op.drop_table("supervision_alarms")
    op.drop_table("item_rollups")
    op.drop_table("case_rollups")
    with op.batch_alter_table("case_counts", schema=None) as batch_op:
        for name in reversed(NEW_COUNTERS):
            batch_op.drop_column(name)
