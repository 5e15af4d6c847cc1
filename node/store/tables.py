"""The schema, as SQLAlchemy Core tables. `entries`, `heads` and `stream_tails` are the log;
everything else is derived from it and can be rebuilt (`sealed_bundles` holds the personal data
the log only hashes).

Keys are time-ordered ((origin, stream, seq), case numbers with a date): random keys halve insert
speed as tables grow (DESIGN.md section 14).

Plain Core tables, no ORM models: the store reads and writes with Core statements, and the
listings it returns are the small dataclasses at the end. A model layer would cost a village
node a third of its memory and the CLI a third of its start-up (issue 13, bench/footprint.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Column, Index, Integer, LargeBinary, MetaData, String, Table, Text

from node.domain.counting import COUNTERS

# indexes of single columns are named as before (ix_<table>_<column>), so migrations agree
metadata = MetaData(naming_convention={"ix": "ix_%(column_0_label)s"})


def counter_columns() -> list[Column[Any]]:
    """The counters of node.domain.counting.COUNTERS, as columns of every statistics table."""
    return [Column(name, Integer, nullable=False, default=0) for name in COUNTERS]


ENTRIES = Table(
    "entries",
    metadata,
    Column("origin", String(12), primary_key=True),
    Column("stream", String(16), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("prev_hash", LargeBinary, nullable=False),
    Column("kind", String(48), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("hash", LargeBinary, nullable=False),
    Column("subject", String(64), nullable=False, index=True, default=""),
    Column("recorded_at_us", BigInteger, nullable=False),
    # when this node stored it (ns, this machine's clock): the order `yiwang rebuild` replays in;
    # NULL for entries stored before schema revision 0002
    Column("held_ns", BigInteger),
    # the exact bytes a relayed entry arrived in (a serialized log Entry), forwarded as they are;
    # NULL for this node's own entries (encoded when sent) and before schema revision 0004
    Column("wire", LargeBinary),
)


# The last entry of each stream: locked by writers, so appends are serialised per stream.
STREAM_TAILS = Table(
    "stream_tails",
    metadata,
    Column("origin", String(12), primary_key=True),
    Column("stream", String(16), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", LargeBinary, nullable=False),
)


HEADS = Table(
    "heads",
    metadata,
    Column("origin", String(12), primary_key=True),
    Column("stream", String(16), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("hash", LargeBinary, nullable=False),
    Column("signed_at_us", BigInteger, nullable=False),
    Column("alg", String(32), nullable=False),
    Column("key_id", LargeBinary, nullable=False),
    Column("signature", LargeBinary, nullable=False),
)


# Public keys of origins whose heads this node verifies (its own, for now).
ORIGIN_KEYS = Table(
    "origin_keys",
    metadata,
    Column("key_id", LargeBinary, primary_key=True),
    Column("origin", String(12), nullable=False, index=True),
    Column("public_key_pem", LargeBinary, nullable=False),
)


# Counters of the node; `catalog_version` moves with every catalog write, so a process can
# keep catalog items in memory and know when another process changed them.
NODE_META = Table(
    "node_meta",
    metadata,
    Column("key", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)


CATALOG_ITEMS = Table(
    "catalog_items",
    metadata,
    Column("implementation_code", String(64), primary_key=True),
    Column("basic_code", String(40), nullable=False, index=True),
    Column("name", String, nullable=False),
    Column("power_type", String(4), nullable=False),
    Column("division_code", String(12), nullable=False, index=True),
    Column("department", String, nullable=False),
    Column("dept_credit_code", String(18), nullable=False, default=""),
    Column("use_level", String(2), nullable=False),
    Column("case_type", String(2), nullable=False),
    Column("legal_limit_days", Integer),
    Column("promised_limit_days", Integer),
    Column("agent_allowed", Boolean, nullable=False, default=False),
    Column("cross_region", Boolean, nullable=False, default=False),
    Column("group_name", String, nullable=False, default=""),
    Column("limits_source", String(32), nullable=False, default="published"),
    Column("details", JSON, nullable=False),
    Column("origin", String(12), nullable=False),
    Column("seq", BigInteger, nullable=False),
)


CALENDARS = Table(
    "calendars",
    metadata,
    Column("year", Integer, primary_key=True),
    Column("holidays", JSON, nullable=False),
    Column("workdays", JSON, nullable=False),
    Column("source", String, nullable=False, default=""),
    Column("origin", String(12), nullable=False),
    Column("seq", BigInteger, nullable=False),
)


# Local holidays a division published for its subtree (an autonomous prefecture's 彝族年);
# in effect while the province's delegation to it stands (`calendar_delegations`).
LOCAL_CALENDARS = Table(
    "local_calendars",
    metadata,
    Column("division", String(12), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("holidays", JSON, nullable=False),
    Column("workdays", JSON, nullable=False),
    Column("source", String, nullable=False, default=""),
    Column("seq", BigInteger, nullable=False),
)


# Divisions the province allowed (or no longer allows) to publish local holidays.
CALENDAR_DELEGATIONS = Table(
    "calendar_delegations",
    metadata,
    Column("division", String(12), primary_key=True),
    Column("allowed", Boolean, nullable=False),
    Column("origin", String(12), nullable=False),
    Column("seq", BigInteger, nullable=False),
)


# The province's division tree as it published it (`divisions_published`, in parts: the
# province's own part and one per county), below the national tree the package ships.
DIVISIONS = Table(
    "divisions",
    metadata,
    Column("code", String(12), primary_key=True),
    Column("name", String, nullable=False),
    Column("part", String(12), nullable=False, index=True),
    Column("seq", BigInteger, nullable=False),
)


# Counters of case changes per day and case key (issue 11): written by the projection in
# the entry's transaction, summed by `yiwang stats` for periods that are not whole months.
CASE_COUNTS = Table(
    "case_counts",
    metadata,
    Column("day", String(10), primary_key=True),
    Column("handling", String(12), primary_key=True),
    Column("filing", String(12), primary_key=True),
    Column("item_code", String(64), primary_key=True),
    Column("channel", String(2), primary_key=True),
    *counter_columns(),
)


# The same counters per month and handling division cut to each level above it (and one
# below, where its own cases show as 本级): what a query over whole months reads, so a
# province-wide month sums a few hundred rows, never the day rows.
CASE_ROLLUPS = Table(
    "case_rollups",
    metadata,
    Column("month", String(7), primary_key=True),
    Column("level", Integer, primary_key=True),  # node.domain.divisions.Tier: 1 province .. 5 village
    Column("division", String(12), primary_key=True),  # the handling division cut to `level`, padded
    Column("channel", String(2), primary_key=True),
    Column("peer", String(2), primary_key=True),  # the filing province when another one's, else ""
    *counter_columns(),
)


# The counters per month, county and item: item, department and power-type figures over
# whole months from the county level up.
ITEM_ROLLUPS = Table(
    "item_rollups",
    metadata,
    Column("month", String(7), primary_key=True),
    Column("county", String(12), primary_key=True),  # the handling division cut to its county, padded
    Column("item_code", String(64), primary_key=True),
    Column("channel", String(2), primary_key=True),
    *counter_columns(),
)


# Alarms of electronic supervision (电子监察), from `supervision_alarm` entries of any node
# of the subtree; cleared by the projection when the case resolves what they are about,
# acknowledged by `alarm_acknowledged` entries.
SUPERVISION_ALARMS = Table(
    "supervision_alarms",
    metadata,
    Column("origin", String(12), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("rule", String(16), nullable=False),
    Column("level", String(8), nullable=False),
    Column("case_no", String(50), nullable=False, index=True, default=""),
    Column("division", String(12), nullable=False, index=True),
    Column("item_code", String(64), nullable=False, default=""),
    Column("custodian", String(12), nullable=False, default=""),
    Column("due", String(10), nullable=False, default=""),
    Column("period", String(7), nullable=False, default=""),
    Column("department", Text, nullable=False, default=""),
    Column("detail", Text, nullable=False, default=""),
    Column("raised_at_us", BigInteger, nullable=False),
    Column("cleared_at_us", BigInteger),
    Column("ack_by", String(64), nullable=False, default=""),
    Column("ack_at_us", BigInteger),
    Column("ack_note", Text, nullable=False, default=""),
)


# A node's signed monthly figures (`stats_signed` entries of this node's subtree and
# ancestors); `changes_after` counts the counter changes of its month and subtree projected
# here after it: a change after sign-off is flagged, never silently absorbed.
SIGNOFFS = Table(
    "signoffs",
    metadata,
    Column("period", String(7), primary_key=True),
    Column("division", String(12), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("entry_hash", LargeBinary, nullable=False),
    Column("signed_by", String(64), nullable=False),
    Column("signed_at_us", BigInteger, nullable=False),
    Column("counts", JSON, nullable=False),
    Column("children", JSON, nullable=False),
    Column("changes_after", Integer, nullable=False, default=0),
)


# A 差评's rectification task (好差评 follow-up): opened by the evaluation, due a number of
# working days later (each node's `supervision.rectification_days`), closed by the handling
# node's callback (回访) and rectification (整改).
RECTIFICATIONS = Table(
    "rectifications",
    metadata,
    Column("case_no", String(50), primary_key=True),
    Column("handling", String(12), nullable=False, index=True),
    Column("item_code", String(64), nullable=False),
    Column("level", Integer, nullable=False),
    Column("causes", String(200), nullable=False, default=""),  # cause codes, comma-separated
    Column("opened_at_us", BigInteger, nullable=False),
    Column("called_back_at_us", BigInteger),
    Column("rectified_at_us", BigInteger),
    Column("note", Text, nullable=False, default=""),
)


CASES = Table(
    "cases",
    metadata,
    Column("case_no", String(50), primary_key=True),
    Column("item_code", String(64), nullable=False, index=True),
    Column("status", String(24), nullable=False, index=True),
    Column("handling_division", String(12), nullable=False),
    Column("filing_division", String(12), nullable=False),
    Column("custodian", String(12), nullable=False),
    Column("channel", String(2), nullable=False),
    Column("case_type", String(2), nullable=False),
    Column("limit_days", Integer),
    Column("agent", String, nullable=False, default=""),
    Column("filed_at_us", BigInteger, nullable=False),
    Column("accepted_at_us", BigInteger),
    Column("decided_at_us", BigInteger),
    Column("closed_at_us", BigInteger),
    Column("approved", Boolean),
    Column("evaluation", Integer),
    Column("due_date", String(10), nullable=False, default=""),
    Column("due_provisional", Boolean, nullable=False, default=False),
    # Missing and requested materials and clock stops as compact JSON; "" when all are empty
    # (most cases), which keeps the bulk path free of JSON work.
    Column("extras", Text, nullable=False, default=""),
    Column("sealed_bundle_hash", LargeBinary, nullable=False, default=b""),
    Column("last_seq", BigInteger, nullable=False),
    Column("offered_to", String(12), nullable=False, index=True, default=""),  # an open custody offer
    Column(
        "version", Integer, nullable=False, default=0
    ),  # entries applied to the case so far (1 = filed); orders entries of several writers
    # the window's queues (issue 12): a node's cases by status, soonest due first
    Index("ix_cases_queue", "custodian", "status", "offered_to", "due_date"),
)


# Who saw a case's applicant or material files in full, when and through what (issue 12):
# local bookkeeping of this node, never replicated (it names no personal datum).
REVEALS = Table(
    "reveals",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at_us", BigInteger, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("case_no", String(50), nullable=False, index=True),
    Column("what", String(80), nullable=False),  # "applicant", or "material:NAME"
    Column("via", String(8), nullable=False),  # cli, web, api
)


# The node's operator accounts and API clients: a user's Argon2id password hash, a
# client's SHA-256 token hash (its token is random and long), their roles.
PRINCIPALS = Table(
    "principals",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("kind", String(8), nullable=False),  # "user" or "client"
    Column("roles", JSON, nullable=False),
    Column("secret", String(200), nullable=False, index=True),  # an Argon2 hash, or the hex SHA-256 of a client token
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at_us", BigInteger, nullable=False),
)


# Requests a client named with its own id (FileCase, ActOnCase): a retry with the same id
# returns the case it made and writes nothing. Local bookkeeping, not derived from the log.
CLIENT_REQUESTS = Table(
    "client_requests",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("rpc", String(16), nullable=False),
    Column("digest", LargeBinary, nullable=False),  # what was asked (no personal data in it)
    Column("case_no", String(50), nullable=False),
    Column("at_us", BigInteger, nullable=False),
)


# Case entries that arrived before an earlier entry of their case (another writer's, on
# another path); applied as soon as it is here.
CASE_BACKLOG = Table(
    "case_backlog",
    metadata,
    Column("origin", String(12), primary_key=True),
    Column("stream", String(16), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("case_no", String(50), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("prev_hash", LargeBinary, nullable=False),
    Column("kind", String(48), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("hash", LargeBinary, nullable=False),
    Column("subject", String(64), nullable=False, default=""),
    Column("recorded_at_us", BigInteger, nullable=False),
)


# Electronic licences this node issued or holds for its residents (signed bytes, which name
# the holder: kept only at the deciding and the filing node).
LICENSES = Table(
    "licenses",
    metadata,
    Column("license_no", String(80), primary_key=True),
    Column("case_no", String(50), nullable=False, index=True),
    Column("issuer", String(12), nullable=False),
    Column("signed", LargeBinary, nullable=False),
    Column("stored_at_us", BigInteger, nullable=False),
)


# Material files, keyed by the SHA-256 of their bytes and kept sealed to this node.
MATERIALS = Table(
    "materials",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("sealed", LargeBinary, nullable=False),
)


# Chunks of a material on its way here, kept as they arrive: a broken transfer resumes.
MATERIAL_CHUNKS = Table(
    "material_chunks",
    metadata,
    Column("sealed_hash", LargeBinary, primary_key=True),
    Column("idx", Integer, primary_key=True),
    Column("count", Integer, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("data", LargeBinary, nullable=False),
)


# Encrypted personal data of applicants; the log holds only the hash.
SEALED_BUNDLES = Table(
    "sealed_bundles",
    metadata,
    Column("hash", LargeBinary, primary_key=True),
    Column("case_no", String(50), nullable=False, index=True),
    Column("sealed", LargeBinary, nullable=False),
)


# Certificates this node issued to its children (also `cert_issued` public entries).
ISSUED_CERTIFICATES = Table(
    "issued_certificates",
    metadata,
    Column("fingerprint", String(64), primary_key=True),
    Column("code", String(12), nullable=False, index=True),
    Column("serial", String(40), nullable=False),
    Column("not_after_us", BigInteger, nullable=False),
    Column("der", LargeBinary, nullable=False),
    Column("seq", BigInteger, nullable=False),
)


# Revoked certificates, from `cert_revoked` entries of any issuer this node holds.
REVOCATIONS = Table(
    "revocations",
    metadata,
    Column("fingerprint", String(64), primary_key=True),
    Column("code", String(12), nullable=False, index=True),
    Column("issuer", String(12), nullable=False),
    Column("revoked_at_us", BigInteger, nullable=False),
    Column("seq", BigInteger, nullable=False),
)


# Peer provinces' roots their own province published (`anchor_added` entries), so every
# node of the province verifies chains from there: addressed entries, licences.
TRUSTED_ROOTS = Table(
    "trusted_roots",
    metadata,
    Column("fingerprint", String(64), primary_key=True),
    Column("code", String(12), nullable=False),
    Column("origin", String(12), nullable=False),
    Column("seq", BigInteger, nullable=False),
)


# One-time enrollment tokens; only the hash of the secret is kept.
ENROLLMENT_TOKENS = Table(
    "enrollment_tokens",
    metadata,
    Column("secret_hash", LargeBinary, primary_key=True),
    Column("child_code", String(12), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("expires_at_us", BigInteger, nullable=False),
    Column("used_at_us", BigInteger),
)


# Alarms (a refused peer message, a broken link ...). Never the refused content itself.
ALARMS = Table(
    "alarms",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at_us", BigInteger, nullable=False, index=True),
    Column("level", String(8), nullable=False),
    Column("kind", String(48), nullable=False),
    Column("peer", String(64), nullable=False, default=""),
    Column("detail", String, nullable=False, default=""),
)


# Nodes this node links with: its parent and the children that dialled in.
PEERS = Table(
    "peers",
    metadata,
    Column("code", String(12), primary_key=True),
    Column("role", String(8), nullable=False),  # parent | child | province
    Column("address", String, nullable=False, default=""),
    Column("state", String(16), nullable=False, default=""),  # connected | disconnected | refused
    Column("last_seen_us", BigInteger),
    Column("not_after_us", BigInteger),
    Column("error", String, nullable=False, default=""),
    # the link's progress (schema revision 0003): last batch sent, last acknowledgement, entries
    # the peer still lacks, restarts of its worker after a fault of ours
    Column("sent_at_us", BigInteger),
    Column("acked_at_us", BigInteger),
    Column("lag_entries", BigInteger),
    Column("restarts", Integer, nullable=False, default=0, server_default="0"),
    Column("software", String(32), nullable=False, default="", server_default=""),  # the peer's version
)


# Addressed entries this node wrote, relays or received (DESIGN.md section 4). A row is
# kept after it is forwarded, so a resent copy is recognised and acknowledged, not sent on
# again: `state` is outbox (waiting for `next_hop` to answer), forwarded, delivered (the
# addressee is this node), dead (the next hop refused it for good: `refusal` says why; an
# admin retries or discards it) or discarded. `wire` is the signed message exactly as
# received.
ADDRESSED = Table(
    "addressed",
    metadata,
    Column("origin", String(12), primary_key=True),
    Column("stream", String(16), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("addressee", String(12), primary_key=True),
    Column("next_hop", String(12), nullable=False, default=""),
    Column("state", String(12), nullable=False),
    Column("kind", String(48), nullable=False),
    Column("subject", String(64), nullable=False, default=""),
    Column("received_at_us", BigInteger, nullable=False),
    Column("done_at_us", BigInteger),
    Column("wire", LargeBinary, nullable=False),
    Column("held_ns", BigInteger),  # as for entries
    Column("refusal", String(500), nullable=False, default="", server_default=""),
    Index("ix_addressed_hop", "next_hop", "state"),
)


# The yiwang version each node runs, from its `software_running` entries: a node holds those of
# its subtree (they go up with every stream of the subtree) and of its ancestors, so the
# province sees who runs what across the whole province during a rolling upgrade.
NODE_VERSIONS = Table(
    "node_versions",
    metadata,
    Column("code", String(12), primary_key=True),
    Column("version", String(32), nullable=False),
    Column("since_us", BigInteger, nullable=False),
    Column("seq", BigInteger, nullable=False),
)


# Joint reviews (并联审批, issue 14): one row per reviewer asked about a case, from the lead's
# `case_review_requested` entry; its opinion (a `review_opinion` entry of the reviewer's node)
# or its silence (`case_review_lapsed`) fills it in; the decision closes it. Derived: every node
# that holds the request keeps it - the lead, the reviewers, the filing node, the tiers above.
JOINT_REVIEWS = Table(
    "joint_reviews",
    metadata,
    Column("case_no", String(50), primary_key=True),
    Column("node", String(12), primary_key=True),  # the reviewer's node
    Column("department", String(18), primary_key=True),  # the reviewer's credit code
    Column("name", String(100), nullable=False),
    Column("lead", String(12), nullable=False, index=True),  # the node that asked
    Column("item_code", String(64), nullable=False),
    Column("filing_division", String(12), nullable=False),
    Column("mode", String(8), nullable=False),
    Column("due", String(10), nullable=False),  # the last day it may answer
    Column("silence", String(16), nullable=False),  # what no answer counts as
    Column("requested_at_us", BigInteger, nullable=False),
    Column("verdict", String(16), nullable=False, default=""),  # "": not answered yet
    Column("reasons", Text, nullable=False, default=""),
    Column("forward_to", Text, nullable=False, default=""),
    Column("by_default", Boolean, nullable=False, default=False),  # silence, recorded by the lead
    Column("answered_at_us", BigInteger),
    Column("working_days", Integer),  # from the request to the answer (or the due date, silent)
    Column("opinion_hash", LargeBinary, nullable=False, default=b""),  # the review_opinion entry
    Column("decided_at_us", BigInteger),  # the case's decision: the review is closed
    # a node's queue: the requests it has not answered, soonest due first
    Index("ix_joint_reviews_queue", "node", "verdict", "due"),
)


ALL_TABLES: list[Table] = [
    ENTRIES,
    STREAM_TAILS,
    HEADS,
    ORIGIN_KEYS,
    NODE_META,
    CATALOG_ITEMS,
    CALENDARS,
    LOCAL_CALENDARS,
    CALENDAR_DELEGATIONS,
    DIVISIONS,
    CASES,
    CASE_COUNTS,
    CASE_ROLLUPS,
    ITEM_ROLLUPS,
    SUPERVISION_ALARMS,
    RECTIFICATIONS,
    SIGNOFFS,
    CASE_BACKLOG,
    LICENSES,
    MATERIALS,
    MATERIAL_CHUNKS,
    SEALED_BUNDLES,
    ISSUED_CERTIFICATES,
    REVOCATIONS,
    TRUSTED_ROOTS,
    ENROLLMENT_TOKENS,
    ALARMS,
    PEERS,
    ADDRESSED,
    REVEALS,
    PRINCIPALS,
    CLIENT_REQUESTS,
    NODE_VERSIONS,
    JOINT_REVIEWS,
]


@dataclass
class SupervisionAlarmRow:
    """Alarms of electronic supervision (电子监察), from `supervision_alarm` entries of any node
    of the subtree; cleared by the projection when the case resolves what they are about,
    acknowledged by `alarm_acknowledged` entries."""

    origin: str
    seq: int
    rule: str
    level: str
    case_no: str
    division: str
    item_code: str
    custodian: str
    due: str
    period: str
    department: str
    detail: str
    raised_at_us: int
    cleared_at_us: int | None
    ack_by: str
    ack_at_us: int | None
    ack_note: str


@dataclass
class SignOffRow:
    """A node's signed monthly figures (`stats_signed` entries of this node's subtree and
    ancestors); `changes_after` counts the counter changes of its month and subtree projected
    here after it: a change after sign-off is flagged, never silently absorbed."""

    period: str
    division: str
    seq: int
    entry_hash: bytes
    signed_by: str
    signed_at_us: int
    counts: dict[str, int]
    children: list[list[Any]]
    changes_after: int


@dataclass
class RectificationRow:
    """A 差评's rectification task (好差评 follow-up): opened by the evaluation, due a number of
    working days later (each node's `supervision.rectification_days`), closed by the handling
    node's callback (回访) and rectification (整改)."""

    case_no: str
    handling: str
    item_code: str
    level: int
    causes: str
    opened_at_us: int
    called_back_at_us: int | None
    rectified_at_us: int | None
    note: str


@dataclass
class PrincipalRow:
    """The node's operator accounts and API clients: a user's Argon2id password hash, a
    client's SHA-256 token hash (its token is random and long), their roles."""

    name: str
    kind: str
    roles: list[str]
    secret: str
    disabled: bool
    created_at_us: int


@dataclass
class IssuedCertRow:
    """Certificates this node issued to its children (also `cert_issued` public entries)."""

    fingerprint: str
    code: str
    serial: str
    not_after_us: int
    der: bytes
    seq: int


@dataclass
class EnrollmentTokenRow:
    """One-time enrollment tokens; only the hash of the secret is kept."""

    secret_hash: bytes
    child_code: str
    created_at_us: int
    expires_at_us: int
    used_at_us: int | None


@dataclass
class AlarmRow:
    """Alarms (a refused peer message, a broken link ...). Never the refused content itself."""

    id: int | None
    at_us: int
    level: str
    kind: str
    peer: str
    detail: str


@dataclass
class PeerRow:
    """Nodes this node links with: its parent and the children that dialled in."""

    code: str
    role: str
    address: str
    state: str
    last_seen_us: int | None
    not_after_us: int | None
    error: str
    sent_at_us: int | None
    acked_at_us: int | None
    lag_entries: int | None
    restarts: int
    software: str


@dataclass
class AddressedRow:
    """Addressed entries this node wrote, relays or received (DESIGN.md section 4). A row is
    kept after it is forwarded, so a resent copy is recognised and acknowledged, not sent on
    again: `state` is outbox (waiting for `next_hop` to answer), forwarded, delivered (the
    addressee is this node), dead (the next hop refused it for good: `refusal` says why; an
    admin retries or discards it) or discarded. `wire` is the signed message exactly as
    received."""

    origin: str
    stream: str
    seq: int
    addressee: str
    next_hop: str
    state: str
    kind: str
    subject: str
    received_at_us: int
    done_at_us: int | None
    wire: bytes
    held_ns: int | None
    refusal: str


@dataclass
class JointReviewRow:
    """One reviewer asked about a case (并联审批), with its opinion or its recorded silence."""

    case_no: str
    node: str
    department: str
    name: str
    lead: str
    item_code: str
    filing_division: str
    mode: str
    due: str
    silence: str
    requested_at_us: int
    verdict: str
    reasons: str
    forward_to: str
    by_default: bool
    answered_at_us: int | None
    working_days: int | None
    opinion_hash: bytes
    decided_at_us: int | None


@dataclass
class ReviewerFigures:
    """A co-reviewer's figures over a period (joint_reviews grouped by node and department)."""

    node: str
    department: str
    name: str
    asked: int
    answered: int  # in time, by its own opinion
    silent: int  # silence recorded past the due date
    disagreed: int
    forwarded: int  # 同意但需转报
    working_days: int  # summed over the answers and silences counted so far
    longest: int  # working days of the slowest
    timed: int  # requests with working days counted (answered or silent)

    @property
    def mean_days(self) -> float | None:
        return round(self.working_days / self.timed, 1) if self.timed else None
