"""the schema made by create_all up to 0.1.0

Revision ID: 0001
Revises:
Create Date: 2026-11-30 (the schema of commit 32b040d, made by create_all)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "addressed",
        sa.Column("origin", sa.String(length=12), nullable=False),
        sa.Column("stream", sa.String(length=16), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("addressee", sa.String(length=12), nullable=False),
        sa.Column("next_hop", sa.String(length=12), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("received_at_us", sa.BigInteger(), nullable=False),
        sa.Column("done_at_us", sa.BigInteger(), nullable=True),
        sa.Column("wire", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("origin", "stream", "seq", "addressee"),
    )
    with op.batch_alter_table("addressed", schema=None) as batch_op:
        batch_op.create_index("ix_addressed_hop", ["next_hop", "state"], unique=False)

    op.create_table(
        "alarms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("peer", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alarms_at_us"), ["at_us"], unique=False)

    op.create_table(
        "calendars",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("holidays", sa.JSON(), nullable=False),
        sa.Column("workdays", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("origin", sa.String(length=12), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("year"),
    )
    op.create_table(
        "case_backlog",
        sa.Column("origin", sa.String(length=12), nullable=False),
        sa.Column("stream", sa.String(length=16), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("case_no", sa.String(length=50), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("prev_hash", sa.LargeBinary(), nullable=False),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("recorded_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("origin", "stream", "seq"),
    )
    with op.batch_alter_table("case_backlog", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_backlog_case_no"), ["case_no"], unique=False)

    op.create_table(
        "cases",
        sa.Column("case_no", sa.String(length=50), nullable=False),
        sa.Column("item_code", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("handling_division", sa.String(length=12), nullable=False),
        sa.Column("filing_division", sa.String(length=12), nullable=False),
        sa.Column("custodian", sa.String(length=12), nullable=False),
        sa.Column("channel", sa.String(length=2), nullable=False),
        sa.Column("case_type", sa.String(length=2), nullable=False),
        sa.Column("limit_days", sa.Integer(), nullable=True),
        sa.Column("agent", sa.String(), nullable=False),
        sa.Column("filed_at_us", sa.BigInteger(), nullable=False),
        sa.Column("accepted_at_us", sa.BigInteger(), nullable=True),
        sa.Column("decided_at_us", sa.BigInteger(), nullable=True),
        sa.Column("closed_at_us", sa.BigInteger(), nullable=True),
        sa.Column("approved", sa.Boolean(), nullable=True),
        sa.Column("evaluation", sa.Integer(), nullable=True),
        sa.Column("due_date", sa.String(length=10), nullable=False),
        sa.Column("due_provisional", sa.Boolean(), nullable=False),
        sa.Column("extras", sa.Text(), nullable=False),
        sa.Column("sealed_bundle_hash", sa.LargeBinary(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("offered_to", sa.String(length=12), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("case_no"),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cases_item_code"), ["item_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_status"), ["status"], unique=False)

    op.create_table(
        "catalog_items",
        sa.Column("implementation_code", sa.String(length=64), nullable=False),
        sa.Column("basic_code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("power_type", sa.String(length=4), nullable=False),
        sa.Column("division_code", sa.String(length=12), nullable=False),
        sa.Column("department", sa.String(), nullable=False),
        sa.Column("dept_credit_code", sa.String(length=18), nullable=False),
        sa.Column("use_level", sa.String(length=2), nullable=False),
        sa.Column("case_type", sa.String(length=2), nullable=False),
        sa.Column("legal_limit_days", sa.Integer(), nullable=True),
        sa.Column("promised_limit_days", sa.Integer(), nullable=True),
        sa.Column("agent_allowed", sa.Boolean(), nullable=False),
        sa.Column("cross_region", sa.Boolean(), nullable=False),
        sa.Column("group_name", sa.String(), nullable=False),
        sa.Column("limits_source", sa.String(length=32), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("origin", sa.String(length=12), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("implementation_code"),
    )
    with op.batch_alter_table("catalog_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_catalog_items_basic_code"), ["basic_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_catalog_items_division_code"), ["division_code"], unique=False)

    op.create_table(
        "enrollment_tokens",
        sa.Column("secret_hash", sa.LargeBinary(), nullable=False),
        sa.Column("child_code", sa.String(length=12), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=False),
        sa.Column("used_at_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("secret_hash"),
    )
    op.create_table(
        "entries",
        sa.Column("origin", sa.String(length=12), nullable=False),
        sa.Column("stream", sa.String(length=16), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("prev_hash", sa.LargeBinary(), nullable=False),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("recorded_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("origin", "stream", "seq"),
    )
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_entries_subject"), ["subject"], unique=False)

    op.create_table(
        "heads",
        sa.Column("origin", sa.String(length=12), nullable=False),
        sa.Column("stream", sa.String(length=16), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.Column("signed_at_us", sa.BigInteger(), nullable=False),
        sa.Column("alg", sa.String(length=32), nullable=False),
        sa.Column("key_id", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("origin", "stream", "seq"),
    )
    op.create_table(
        "issued_certificates",
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("not_after_us", sa.BigInteger(), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("fingerprint"),
    )
    with op.batch_alter_table("issued_certificates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_issued_certificates_code"), ["code"], unique=False)

    op.create_table(
        "licenses",
        sa.Column("license_no", sa.String(length=80), nullable=False),
        sa.Column("case_no", sa.String(length=50), nullable=False),
        sa.Column("issuer", sa.String(length=12), nullable=False),
        sa.Column("signed", sa.LargeBinary(), nullable=False),
        sa.Column("stored_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("license_no"),
    )
    with op.batch_alter_table("licenses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_licenses_case_no"), ["case_no"], unique=False)

    op.create_table(
        "material_chunks",
        sa.Column("sealed_hash", sa.LargeBinary(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("sealed_hash", "idx"),
    )
    op.create_table(
        "materials",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("digest"),
    )
    op.create_table(
        "node_meta",
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "origin_keys",
        sa.Column("key_id", sa.LargeBinary(), nullable=False),
        sa.Column("origin", sa.String(length=12), nullable=False),
        sa.Column("public_key_pem", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("key_id"),
    )
    with op.batch_alter_table("origin_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_origin_keys_origin"), ["origin"], unique=False)

    op.create_table(
        "peers",
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("address", sa.String(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("last_seen_us", sa.BigInteger(), nullable=True),
        sa.Column("not_after_us", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "revocations",
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("issuer", sa.String(length=12), nullable=False),
        sa.Column("revoked_at_us", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("fingerprint"),
    )
    with op.batch_alter_table("revocations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_revocations_code"), ["code"], unique=False)

    op.create_table(
        "sealed_bundles",
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.Column("case_no", sa.String(length=50), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("hash"),
    )
    with op.batch_alter_table("sealed_bundles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sealed_bundles_case_no"), ["case_no"], unique=False)

    op.create_table(
        "stream_tails",
        sa.Column("origin", sa.String(length=12), nullable=False),
        sa.Column("stream", sa.String(length=16), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("origin", "stream"),
    )
    op.create_table(
        "trusted_roots",
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("origin", sa.String(length=12), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("fingerprint"),
    )


def downgrade() -> None:

    op.drop_table("trusted_roots")
    op.drop_table("stream_tails")
    with op.batch_alter_table("sealed_bundles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sealed_bundles_case_no"))

    op.drop_table("sealed_bundles")
    with op.batch_alter_table("revocations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_revocations_code"))

    op.drop_table("revocations")
    op.drop_table("peers")
    with op.batch_alter_table("origin_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_origin_keys_origin"))

    op.drop_table("origin_keys")
    op.drop_table("node_meta")
    op.drop_table("materials")
    op.drop_table("material_chunks")
    with op.batch_alter_table("licenses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_licenses_case_no"))

    op.drop_table("licenses")
    with op.batch_alter_table("issued_certificates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_issued_certificates_code"))

    op.drop_table("issued_certificates")
    op.drop_table("heads")
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_entries_subject"))

    op.drop_table("entries")
    op.drop_table("enrollment_tokens")
    with op.batch_alter_table("catalog_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_items_division_code"))
        batch_op.drop_index(batch_op.f("ix_catalog_items_basic_code"))

    op.drop_table("catalog_items")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cases_status"))
        batch_op.drop_index(batch_op.f("ix_cases_item_code"))

    op.drop_table("cases")
    with op.batch_alter_table("case_backlog", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_backlog_case_no"))

    op.drop_table("case_backlog")
    op.drop_table("calendars")
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alarms_at_us"))

    op.drop_table("alarms")
    with op.batch_alter_table("addressed", schema=None) as batch_op:
        batch_op.drop_index("ix_addressed_hop")

    op.drop_table("addressed")
