"""Log entries and their hash chain (DESIGN.md section 3).

hash = SHA-256(TAG | origin | stream | seq | prev_hash | kind | body), each variable field
length-prefixed so no two different entries share an encoding. The body is the exact protobuf
bytes; it is hashed as stored and never re-encoded.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from node.domain.errors import BadSignature, SetupError

ENTRY_TAG = b"yiwang/v1/entry\x00"
ENTRY_TAG_SM3 = b"yiwang/v1/entry-sm3\x00"
SHA256, SM3 = "sha256", "sm3"  # the entry hash algorithms
_SM3_MARK = b"\x01"
GENESIS = bytes(32)


class Stream(StrEnum):
    PUBLIC = "public"  # catalog items, calendars, certificates and revocations, notices
    CASE = "case"  # case entries


class Kind(StrEnum):
    ITEM_PUBLISHED = "item_published"
    CERT_ISSUED = "cert_issued"
    CERT_REVOKED = "cert_revoked"
    CALENDAR_PUBLISHED = "calendar_published"
    CALENDAR_DELEGATED = "calendar_delegated"  # the province lets a division publish local holidays
    LOCAL_CALENDAR_PUBLISHED = "local_calendar_published"  # a delegated division's local holidays
    LOCAL_CALENDAR_ENDORSED = "local_calendar_endorsed"  # the province passes them on to the whole province
    CASE_FILED = "case_filed"
    CASE_ACCEPTED = "case_accepted"
    CASE_NOT_ACCEPTED = "case_not_accepted"
    CASE_REVIEW_STARTED = "case_review_started"
    CASE_SUPPLEMENT_REQUESTED = "case_supplement_requested"
    CASE_SUPPLEMENTED = "case_supplemented"
    CASE_SUSPENDED = "case_suspended"
    CASE_RESUMED = "case_resumed"
    CASE_DECIDED = "case_decided"
    CASE_DELIVERED = "case_delivered"
    CASE_WITHDRAWN = "case_withdrawn"
    CASE_EVALUATED = "case_evaluated"
    CASE_CUSTODY_OFFERED = "case_custody_offered"
    CASE_CUSTODY_ACCEPTED = "case_custody_accepted"
    CASE_CUSTODY_DECLINED = "case_custody_declined"
    CASE_CUSTODY_WITHDRAWN = "case_custody_withdrawn"  # an unanswered offer taken back
    CASE_REVIEW_REQUESTED = "case_review_requested"  # 并联审批: the lead asks co-reviewers
    CASE_REVIEW_LAPSED = "case_review_lapsed"  # the lead records a silent reviewer's default
    REVIEW_OPINION = "review_opinion"  # a co-reviewer's signed opinion (not a change of the case)
    # a co-reviewer's node got its request without the materials (the lead held no certificate of
    # it: another region) and asks for them; its copy's chain carries the key to re-seal them with
    REVIEW_RECEIVED = "review_received"
    NOTICE_SENT = "notice_sent"  # an addressed notice between offices
    BUNDLE_SENT = "bundle_sent"  # a case's sealed bundle, re-sealed for its new custodian
    LICENSE_SENT = "license_sent"  # an electronic licence, sealed for the filing node
    MATERIAL_CHUNK = "material_chunk"  # a chunk of a material file, sealed for the new custodian
    ANCHOR_ADDED = "anchor_added"  # a province trusts a peer province's root
    SUPERVISION_ALARM = "supervision_alarm"  # 电子监察: a case or a department overran a rule
    ALARM_ACKNOWLEDGED = "alarm_acknowledged"  # a supervisor saw an alarm
    REVIEW_CALLED_BACK = "review_called_back"  # 差评 follow-up: the resident was called back (回访)
    REVIEW_RECTIFIED = "review_rectified"  # 差评 follow-up: what was wrong was fixed (整改)
    STATS_SIGNED = "stats_signed"  # a tier's monthly figures, signed off
    DIVISIONS_PUBLISHED = "divisions_published"  # a part of the province's division tree
    SOFTWARE_RUNNING = "software_running"  # the yiwang version a node runs (when it changes)


CASE_KINDS = frozenset(k.value for k in Kind if k.value.startswith("case_"))


class Entry(NamedTuple):
    """One log entry. A NamedTuple: immutable and cheap to build on the bulk path."""

    origin: str
    stream: str
    seq: int
    prev_hash: bytes
    kind: str
    body: bytes
    hash: bytes
    subject: str = ""
    recorded_at_us: int = 0


def _lp(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def hash_alg(digest: bytes) -> str:
    """The algorithm an entry hash names: an SM3 hash is 33 bytes, its mark then the digest; a
    SHA-256 hash is the 32-byte digest (as every entry before the national suite)."""
    return SM3 if len(digest) == 33 and digest[:1] == _SM3_MARK else SHA256


def entry_hash(
    origin: str, stream: str, seq: int, prev_hash: bytes, kind: str, body: bytes, alg: str = SHA256
) -> bytes:
    """The hash of an entry with `alg` (its origin's suite: SHA-256, or SM3 in a province on the
    national suite); the hash names its algorithm (`hash_alg`)."""
    o, s, k = origin.encode(), stream.encode(), kind.encode()
    fixed = struct.pack(f">I{len(o)}sI{len(s)}sQI", len(o), o, len(s), s, seq, len(prev_hash))
    content = (fixed, prev_hash, struct.pack(">I", len(k)), k, struct.pack(">I", len(body)), body)
    if alg == SHA256:
        return hashlib.sha256(b"".join((ENTRY_TAG, *content))).digest()
    if alg == SM3:
        return _SM3_MARK + _sm3(b"".join((ENTRY_TAG_SM3, *content)))
    raise ValueError(f"no entry hash algorithm {alg!r}")


def _sm3(data: bytes) -> bytes:
    try:
        return hashlib.new("sm3", data).digest()
    except ValueError:  # a peer's SM3 chain cannot be checked here: refused like a bad one
        raise BadSignature("this node's OpenSSL has no SM3 (GB/T 32905) to check an SM3 entry hash") from None


def check_hash_alg(alg: str) -> None:
    """Refuse to run a node whose entry hash this host cannot compute (at start-up)."""
    try:
        entry_hash("", "", 0, GENESIS, "", b"", alg)
    except (BadSignature, ValueError):
        raise SetupError(
            f"this host cannot compute {alg} entry hashes: install a Python whose OpenSSL has SM3"
        ) from None


def make_entry(
    origin: str,
    stream: str,
    seq: int,
    prev_hash: bytes,
    kind: str,
    body: bytes,
    subject: str = "",
    recorded_at_us: int = 0,
    alg: str = SHA256,
) -> Entry:
    return Entry(
        origin,
        stream,
        seq,
        prev_hash,
        kind,
        body,
        entry_hash(origin, stream, seq, prev_hash, kind, body, alg),
        subject,
        recorded_at_us,
    )


@dataclass(frozen=True)
class Head:
    """An origin's signed statement that its stream reached `seq` with `hash`."""

    origin: str
    stream: str
    seq: int
    hash: bytes
    signed_at_us: int
    alg: str
    key_id: bytes
    signature: bytes

    def message(self) -> bytes:
        return head_message(self.origin, self.stream, self.seq, self.hash, self.signed_at_us)


@dataclass(frozen=True)
class ChainFault:
    """The first entry of a chain that does not verify, and why."""

    origin: str
    stream: str
    seq: int
    reason: str


def verify_chain(entries: Iterable[Entry], prev_seq: int = 0, prev_hash: bytes = GENESIS) -> ChainFault | None:
    """Check seq continuity, prev_hash links and every hash; None when the chain is sound."""
    for e in entries:
        if e.seq != prev_seq + 1:
            return ChainFault(e.origin, e.stream, e.seq, f"gap: expected seq {prev_seq + 1}")
        if e.prev_hash != prev_hash:
            return ChainFault(e.origin, e.stream, e.seq, "prev_hash does not match the previous entry")
        if entry_hash(e.origin, e.stream, e.seq, e.prev_hash, e.kind, e.body, hash_alg(e.hash)) != e.hash:
            return ChainFault(e.origin, e.stream, e.seq, "hash does not match the entry's content")
        prev_seq, prev_hash = e.seq, e.hash
    return None


def head_message(origin: str, stream: str, seq: int, hash_: bytes, signed_at_us: int) -> bytes:
    """The bytes an origin signs for a head."""
    return b"".join(
        (
            _lp(origin.encode()),
            _lp(stream.encode()),
            struct.pack(">Q", seq),
            _lp(hash_),
            struct.pack(">q", signed_at_us),
        )
    )


def addressed_message(addressee: str, entry_hash_: bytes) -> bytes:
    """The bytes an origin signs for an addressed entry: the addressee and the entry's hash."""
    return _lp(addressee.encode()) + entry_hash_


class Addressed(NamedTuple):
    """An entry on its way to `addressee`, signed on its own by its origin, with the origin's
    certificate chain (DER, leaf first) so any node can check it."""

    entry: Entry
    addressee: str
    alg: str
    key_id: bytes
    signature: bytes
    chain_der: tuple[bytes, ...]
    sealed_bundle: bytes = b""  # with a bundle_sent entry: ciphertext for the addressee

    @property
    def key(self) -> tuple[str, str, int, str]:
        return (self.entry.origin, self.entry.stream, self.entry.seq, self.addressee)
