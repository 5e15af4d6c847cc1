"""The schema. `entries`, `heads` and `stream_tails` are the log; everything else is derived
from it and can be rebuilt (`sealed_bundles` holds the personal data the log only hashes).

Keys are time-ordered ((origin, stream, seq), case numbers with a date): random keys halve insert
speed as tables grow (DESIGN.md section 14).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, LargeBinary, Table, Text
from sqlmodel import Field, SQLModel


class EntryRow(SQLModel, table=True):
    __tablename__ = "entries"
    origin: str = Field(primary_key=True, max_length=12)
    stream: str = Field(primary_key=True, max_length=16)
    seq: int = Field(primary_key=True, sa_type=BigInteger)
    prev_hash: bytes = Field(sa_type=LargeBinary)
    kind: str = Field(max_length=48)
    body: bytes = Field(sa_type=LargeBinary)
    hash: bytes = Field(sa_type=LargeBinary)
    subject: str = Field(default="", max_length=64, index=True)
    recorded_at_us: int = Field(sa_type=BigInteger)
    # when this node stored it (ns, this machine's clock): the order `yiwang rebuild` replays in;
    # NULL for entries stored before schema revision 0002
    held_ns: int | None = Field(default=None, sa_type=BigInteger)
    # the exact bytes a relayed entry arrived in (a serialized log Entry), forwarded as they are;
    # NULL for this node's own entries (encoded when sent) and before schema revision 0004
    wire: bytes | None = Field(default=None, sa_type=LargeBinary)


class StreamTail(SQLModel, table=True):
    """The last entry of each stream: locked by writers, so appends are serialised per stream."""

    __tablename__ = "stream_tails"
    origin: str = Field(primary_key=True, max_length=12)
    stream: str = Field(primary_key=True, max_length=16)
    seq: int = Field(sa_type=BigInteger)
    hash: bytes = Field(sa_type=LargeBinary)


class HeadRow(SQLModel, table=True):
    __tablename__ = "heads"
    origin: str = Field(primary_key=True, max_length=12)
    stream: str = Field(primary_key=True, max_length=16)
    seq: int = Field(primary_key=True, sa_type=BigInteger)
    hash: bytes = Field(sa_type=LargeBinary)
    signed_at_us: int = Field(sa_type=BigInteger)
    alg: str = Field(max_length=32)
    key_id: bytes = Field(sa_type=LargeBinary)
    signature: bytes = Field(sa_type=LargeBinary)


class NodeKeyRow(SQLModel, table=True):
    """Public keys of origins whose heads this node verifies (its own, for now)."""

    __tablename__ = "origin_keys"
    key_id: bytes = Field(primary_key=True, sa_type=LargeBinary)
    origin: str = Field(max_length=12, index=True)
    public_key_pem: bytes = Field(sa_type=LargeBinary)


class MetaRow(SQLModel, table=True):
    """Counters of the node; `catalog_version` moves with every catalog write, so a process can
    keep catalog items in memory and know when another process changed them."""

    __tablename__ = "node_meta"
    key: str = Field(primary_key=True, max_length=32)
    value: int = Field(sa_type=BigInteger)


class CatalogItemRow(SQLModel, table=True):
    __tablename__ = "catalog_items"
    implementation_code: str = Field(primary_key=True, max_length=64)
    basic_code: str = Field(max_length=40, index=True)
    name: str
    power_type: str = Field(max_length=4)
    division_code: str = Field(max_length=12, index=True)
    department: str
    dept_credit_code: str = Field(default="", max_length=18)
    use_level: str = Field(max_length=2)
    case_type: str = Field(max_length=2)
    legal_limit_days: int | None = None
    promised_limit_days: int | None = None
    agent_allowed: bool = False
    cross_region: bool = False
    group_name: str = ""
    limits_source: str = Field(default="published", max_length=32)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    origin: str = Field(max_length=12)
    seq: int = Field(sa_type=BigInteger)


class CalendarRow(SQLModel, table=True):
    __tablename__ = "calendars"
    year: int = Field(primary_key=True)
    holidays: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    workdays: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    source: str = ""
    origin: str = Field(max_length=12)
    seq: int = Field(sa_type=BigInteger)


class LocalCalendarRow(SQLModel, table=True):
    """Local holidays a division published for its subtree (an autonomous prefecture's 彝族年);
    in effect while the province's delegation to it stands (`calendar_delegations`)."""

    __tablename__ = "local_calendars"
    division: str = Field(primary_key=True, max_length=12)
    year: int = Field(primary_key=True)
    holidays: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    workdays: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    source: str = ""
    seq: int = Field(sa_type=BigInteger)


class CalendarDelegationRow(SQLModel, table=True):
    """Divisions the province allowed (or no longer allows) to publish local holidays."""

    __tablename__ = "calendar_delegations"
    division: str = Field(primary_key=True, max_length=12)
    allowed: bool
    origin: str = Field(max_length=12)
    seq: int = Field(sa_type=BigInteger)


class DivisionListRow(SQLModel, table=True):
    """The province's division tree as it published it (`divisions_published`, in parts: the
    province's own part and one per county), below the national tree the package ships."""

    __tablename__ = "divisions"
    code: str = Field(primary_key=True, max_length=12)
    name: str
    part: str = Field(max_length=12, index=True)
    seq: int = Field(sa_type=BigInteger)


class CounterColumns(SQLModel):
    """The counters of node.domain.counting.COUNTERS, as columns of every statistics table (a
    test keeps the two lists equal)."""

    filed: int = 0
    accepted: int = 0
    not_accepted: int = 0
    approved: int = 0
    denied: int = 0
    delivered: int = 0
    delivered_on_time: int = 0
    delivered_late: int = 0
    withdrawn: int = 0
    instant: int = 0
    online: int = 0
    agent: int = 0
    cross_region: int = 0
    eval_1: int = 0
    eval_2: int = 0
    eval_3: int = 0
    eval_4: int = 0
    eval_5: int = 0
    bad_reviews: int = 0
    timed: int = 0
    work_days: int = 0
    called_back: int = 0
    bad_rectified: int = 0
    cause_overdue: int = 0
    cause_extra_conditions: int = 0
    cause_extra_materials: int = 0
    cause_repeat_visits: int = 0
    cause_attitude: int = 0
    cause_guide: int = 0
    cause_platform: int = 0
    cause_other: int = 0


class CaseCountRow(CounterColumns, table=True):
    """Counters of case changes per day and case key (issue 11): written by the projection in
    the entry's transaction, summed by `yiwang stats` for periods that are not whole months."""

    __tablename__ = "case_counts"
    day: str = Field(primary_key=True, max_length=10)
    handling: str = Field(primary_key=True, max_length=12)
    filing: str = Field(primary_key=True, max_length=12)
    item_code: str = Field(primary_key=True, max_length=64)
    channel: str = Field(primary_key=True, max_length=2)


class CaseRollupRow(CounterColumns, table=True):
    """The same counters per month and handling division cut to each level above it (and one
    below, where its own cases show as 本级): what a query over whole months reads, so a
    province-wide month sums a few hundred rows, never the day rows."""

    __tablename__ = "case_rollups"
    month: str = Field(primary_key=True, max_length=7)
    level: int = Field(primary_key=True)  # node.domain.divisions.Tier: 1 province .. 5 village
    division: str = Field(primary_key=True, max_length=12)  # the handling division cut to `level`, padded
    channel: str = Field(primary_key=True, max_length=2)
    peer: str = Field(primary_key=True, max_length=2)  # the filing province when another one's, else ""


class ItemRollupRow(CounterColumns, table=True):
    """The counters per month, county and item: item, department and power-type figures over
    whole months from the county level up."""

    __tablename__ = "item_rollups"
    month: str = Field(primary_key=True, max_length=7)
    county: str = Field(primary_key=True, max_length=12)  # the handling division cut to its county, padded
    item_code: str = Field(primary_key=True, max_length=64)
    channel: str = Field(primary_key=True, max_length=2)


class SupervisionAlarmRow(SQLModel, table=True):
    """Alarms of electronic supervision (电子监察), from `supervision_alarm` entries of any node
    of the subtree; cleared by the projection when the case resolves what they are about,
    acknowledged by `alarm_acknowledged` entries."""

    __tablename__ = "supervision_alarms"
    origin: str = Field(primary_key=True, max_length=12)
    seq: int = Field(primary_key=True, sa_type=BigInteger)
    rule: str = Field(max_length=16)
    level: str = Field(max_length=8)
    case_no: str = Field(default="", max_length=50, index=True)
    division: str = Field(max_length=12, index=True)
    item_code: str = Field(default="", max_length=64)
    custodian: str = Field(default="", max_length=12)
    due: str = Field(default="", max_length=10)
    period: str = Field(default="", max_length=7)
    department: str = Field(default="", sa_type=Text)
    detail: str = Field(default="", sa_type=Text)
    raised_at_us: int = Field(sa_type=BigInteger)
    cleared_at_us: int | None = Field(default=None, sa_type=BigInteger)
    ack_by: str = Field(default="", max_length=64)
    ack_at_us: int | None = Field(default=None, sa_type=BigInteger)
    ack_note: str = Field(default="", sa_type=Text)


class SignOffRow(SQLModel, table=True):
    """A node's signed monthly figures (`stats_signed` entries of this node's subtree and
    ancestors); `changes_after` counts the counter changes of its month and subtree projected
    here after it: a change after sign-off is flagged, never silently absorbed."""

    __tablename__ = "signoffs"
    period: str = Field(primary_key=True, max_length=7)
    division: str = Field(primary_key=True, max_length=12)
    seq: int = Field(sa_type=BigInteger)
    entry_hash: bytes = Field(sa_type=LargeBinary)
    signed_by: str = Field(max_length=64)
    signed_at_us: int = Field(sa_type=BigInteger)
    counts: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    children: list[list[Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    changes_after: int = 0


class RectificationRow(SQLModel, table=True):
    """A 差评's rectification task (好差评 follow-up): opened by the evaluation, due a number of
    working days later (each node's `supervision.rectification_days`), closed by the handling
    node's callback (回访) and rectification (整改)."""

    __tablename__ = "rectifications"
    case_no: str = Field(primary_key=True, max_length=50)
    handling: str = Field(max_length=12, index=True)
    item_code: str = Field(max_length=64)
    level: int
    causes: str = Field(default="", max_length=200)  # cause codes, comma-separated
    opened_at_us: int = Field(sa_type=BigInteger)
    called_back_at_us: int | None = Field(default=None, sa_type=BigInteger)
    rectified_at_us: int | None = Field(default=None, sa_type=BigInteger)
    note: str = Field(default="", sa_type=Text)


class CaseRow(SQLModel, table=True):
    __tablename__ = "cases"
    case_no: str = Field(primary_key=True, max_length=50)
    item_code: str = Field(max_length=64, index=True)
    status: str = Field(max_length=24, index=True)
    handling_division: str = Field(max_length=12)
    filing_division: str = Field(max_length=12)
    custodian: str = Field(max_length=12)
    channel: str = Field(max_length=2)
    case_type: str = Field(max_length=2)
    limit_days: int | None = None
    agent: str = ""
    filed_at_us: int = Field(sa_type=BigInteger)
    accepted_at_us: int | None = Field(default=None, sa_type=BigInteger)
    decided_at_us: int | None = Field(default=None, sa_type=BigInteger)
    closed_at_us: int | None = Field(default=None, sa_type=BigInteger)
    approved: bool | None = None
    evaluation: int | None = None
    due_date: str = Field(default="", max_length=10)
    due_provisional: bool = False
    # Missing and requested materials and clock stops as compact JSON; "" when all are empty
    # (most cases), which keeps the bulk path free of JSON work.
    extras: str = Field(default="", sa_type=Text)
    sealed_bundle_hash: bytes = Field(default=b"", sa_type=LargeBinary)
    last_seq: int = Field(sa_type=BigInteger)
    offered_to: str = Field(default="", max_length=12, index=True)  # an open custody offer
    version: int = 0  # entries applied to the case so far (1 = filed); orders entries of several writers

    # the window's queues (issue 12): a node's cases by status, soonest due first
    __table_args__ = (Index("ix_cases_queue", "custodian", "status", "offered_to", "due_date"),)


class RevealRow(SQLModel, table=True):
    """Who saw a case's applicant or material files in full, when and through what (issue 12):
    local bookkeeping of this node, never replicated (it names no personal datum)."""

    __tablename__ = "reveals"
    id: int | None = Field(default=None, primary_key=True)
    at_us: int = Field(sa_type=BigInteger)
    actor: str = Field(max_length=64)
    case_no: str = Field(max_length=50, index=True)
    what: str = Field(max_length=80)  # "applicant", or "material:NAME"
    via: str = Field(max_length=8)  # cli, web, api


class PrincipalRow(SQLModel, table=True):
    """The node's operator accounts and API clients: a user's Argon2id password hash, a
    client's SHA-256 token hash (its token is random and long), their roles."""

    __tablename__ = "principals"
    name: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=8)  # "user" or "client"
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    secret: str = Field(max_length=200, index=True)  # an Argon2 hash, or the hex SHA-256 of a client token
    disabled: bool = False
    created_at_us: int = Field(sa_type=BigInteger)


class ClientRequestRow(SQLModel, table=True):
    """Requests a client named with its own id (FileCase, ActOnCase): a retry with the same id
    returns the case it made and writes nothing. Local bookkeeping, not derived from the log."""

    __tablename__ = "client_requests"
    request_id: str = Field(primary_key=True, max_length=64)
    rpc: str = Field(max_length=16)
    digest: bytes = Field(sa_type=LargeBinary)  # what was asked (no personal data in it)
    case_no: str = Field(max_length=50)
    at_us: int = Field(sa_type=BigInteger)


class CaseBacklogRow(SQLModel, table=True):
    """Case entries that arrived before an earlier entry of their case (another writer's, on
    another path); applied as soon as it is here."""

    __tablename__ = "case_backlog"
    origin: str = Field(primary_key=True, max_length=12)
    stream: str = Field(primary_key=True, max_length=16)
    seq: int = Field(primary_key=True, sa_type=BigInteger)
    case_no: str = Field(max_length=50, index=True)
    version: int
    prev_hash: bytes = Field(sa_type=LargeBinary)
    kind: str = Field(max_length=48)
    body: bytes = Field(sa_type=LargeBinary)
    hash: bytes = Field(sa_type=LargeBinary)
    subject: str = Field(default="", max_length=64)
    recorded_at_us: int = Field(sa_type=BigInteger)


class LicenseRow(SQLModel, table=True):
    """Electronic licences this node issued or holds for its residents (signed bytes, which name
    the holder: kept only at the deciding and the filing node)."""

    __tablename__ = "licenses"
    license_no: str = Field(primary_key=True, max_length=80)
    case_no: str = Field(max_length=50, index=True)
    issuer: str = Field(max_length=12)
    signed: bytes = Field(sa_type=LargeBinary)
    stored_at_us: int = Field(sa_type=BigInteger)


class MaterialRow(SQLModel, table=True):
    """Material files, keyed by the SHA-256 of their bytes and kept sealed to this node."""

    __tablename__ = "materials"
    digest: str = Field(primary_key=True, max_length=64)
    size: int = Field(sa_type=BigInteger)
    sealed: bytes = Field(sa_type=LargeBinary)


class MaterialChunkRow(SQLModel, table=True):
    """Chunks of a material on its way here, kept as they arrive: a broken transfer resumes."""

    __tablename__ = "material_chunks"
    sealed_hash: bytes = Field(primary_key=True, sa_type=LargeBinary)
    idx: int = Field(primary_key=True)
    count: int
    digest: str = Field(max_length=64)
    data: bytes = Field(sa_type=LargeBinary)


class SealedBundleRow(SQLModel, table=True):
    """Encrypted personal data of applicants; the log holds only the hash."""

    __tablename__ = "sealed_bundles"
    hash: bytes = Field(primary_key=True, sa_type=LargeBinary)
    case_no: str = Field(max_length=50, index=True)
    sealed: bytes = Field(sa_type=LargeBinary)


class IssuedCertRow(SQLModel, table=True):
    """Certificates this node issued to its children (also `cert_issued` public entries)."""

    __tablename__ = "issued_certificates"
    fingerprint: str = Field(primary_key=True, max_length=64)
    code: str = Field(max_length=12, index=True)
    serial: str = Field(max_length=40)
    not_after_us: int = Field(sa_type=BigInteger)
    der: bytes = Field(sa_type=LargeBinary)
    seq: int = Field(sa_type=BigInteger)


class RevocationRow(SQLModel, table=True):
    """Revoked certificates, from `cert_revoked` entries of any issuer this node holds."""

    __tablename__ = "revocations"
    fingerprint: str = Field(primary_key=True, max_length=64)
    code: str = Field(max_length=12, index=True)
    issuer: str = Field(max_length=12)
    revoked_at_us: int = Field(sa_type=BigInteger)
    seq: int = Field(sa_type=BigInteger)


class TrustedRootRow(SQLModel, table=True):
    """Peer provinces' roots their own province published (`anchor_added` entries), so every
    node of the province verifies chains from there: addressed entries, licences."""

    __tablename__ = "trusted_roots"
    fingerprint: str = Field(primary_key=True, max_length=64)
    code: str = Field(max_length=12)
    origin: str = Field(max_length=12)
    seq: int = Field(sa_type=BigInteger)


class EnrollmentTokenRow(SQLModel, table=True):
    """One-time enrollment tokens; only the hash of the secret is kept."""

    __tablename__ = "enrollment_tokens"
    secret_hash: bytes = Field(primary_key=True, sa_type=LargeBinary)
    child_code: str = Field(max_length=12)
    created_at_us: int = Field(sa_type=BigInteger)
    expires_at_us: int = Field(sa_type=BigInteger)
    used_at_us: int | None = Field(default=None, sa_type=BigInteger)


class AlarmRow(SQLModel, table=True):
    """Alarms (a refused peer message, a broken link ...). Never the refused content itself."""

    __tablename__ = "alarms"
    id: int | None = Field(default=None, primary_key=True)
    at_us: int = Field(sa_type=BigInteger, index=True)
    level: str = Field(max_length=8)
    kind: str = Field(max_length=48)
    peer: str = Field(default="", max_length=64)
    detail: str = ""


class PeerRow(SQLModel, table=True):
    """Nodes this node links with: its parent and the children that dialled in."""

    __tablename__ = "peers"
    code: str = Field(primary_key=True, max_length=12)
    role: str = Field(max_length=8)  # parent | child | province
    address: str = ""
    state: str = Field(default="", max_length=16)  # connected | disconnected | refused
    last_seen_us: int | None = Field(default=None, sa_type=BigInteger)
    not_after_us: int | None = Field(default=None, sa_type=BigInteger)
    error: str = ""
    # the link's progress (schema revision 0003): last batch sent, last acknowledgement, entries
    # the peer still lacks, restarts of its worker after a fault of ours
    sent_at_us: int | None = Field(default=None, sa_type=BigInteger)
    acked_at_us: int | None = Field(default=None, sa_type=BigInteger)
    lag_entries: int | None = Field(default=None, sa_type=BigInteger)
    restarts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    software: str = Field(default="", max_length=32, sa_column_kwargs={"server_default": ""})  # the peer's version


class AddressedRow(SQLModel, table=True):
    """Addressed entries this node wrote, relays or received (DESIGN.md section 4). A row is
    kept after it is forwarded, so a resent copy is recognised and acknowledged, not sent on
    again: `state` is outbox (waiting for `next_hop` to answer), forwarded, delivered (the
    addressee is this node), dead (the next hop refused it for good: `refusal` says why; an
    admin retries or discards it) or discarded. `wire` is the signed message exactly as
    received."""

    __tablename__ = "addressed"
    __table_args__ = (Index("ix_addressed_hop", "next_hop", "state"),)
    origin: str = Field(primary_key=True, max_length=12)
    stream: str = Field(primary_key=True, max_length=16)
    seq: int = Field(primary_key=True, sa_type=BigInteger)
    addressee: str = Field(primary_key=True, max_length=12)
    next_hop: str = Field(default="", max_length=12)
    state: str = Field(max_length=12)
    kind: str = Field(max_length=48)
    subject: str = Field(default="", max_length=64)
    received_at_us: int = Field(sa_type=BigInteger)
    done_at_us: int | None = Field(default=None, sa_type=BigInteger)
    wire: bytes = Field(sa_type=LargeBinary)
    held_ns: int | None = Field(default=None, sa_type=BigInteger)  # as for entries
    refusal: str = Field(default="", max_length=500, sa_column_kwargs={"server_default": ""})


_MODELS: tuple[type[SQLModel], ...] = (
    EntryRow,
    StreamTail,
    HeadRow,
    NodeKeyRow,
    MetaRow,
    CatalogItemRow,
    CalendarRow,
    LocalCalendarRow,
    CalendarDelegationRow,
    DivisionListRow,
    CaseRow,
    CaseCountRow,
    CaseRollupRow,
    ItemRollupRow,
    SupervisionAlarmRow,
    RectificationRow,
    SignOffRow,
    CaseBacklogRow,
    LicenseRow,
    MaterialRow,
    MaterialChunkRow,
    SealedBundleRow,
    IssuedCertRow,
    RevocationRow,
    TrustedRootRow,
    EnrollmentTokenRow,
    AlarmRow,
    PeerRow,
    AddressedRow,
    RevealRow,
    PrincipalRow,
    ClientRequestRow,
)


def table_of(model: type[SQLModel]) -> Table:
    """The SQLAlchemy table of a model (sqlmodel sets `__table__` without typing it)."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


ALL_TABLES = [table_of(m) for m in _MODELS]
