"""The one door to the wire: conversion between domain values and protobuf messages.

`*_to_pb` / `*_from_pb` pairs, round-trip tested. Entry bodies are made here once and from then
on kept as bytes: hashed, stored and relayed without being re-encoded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from google.protobuf.message import DecodeError, Message
from yiwang.v1 import case_pb2, catalog_pb2, federation_pb2, log_pb2

from federation.wire.keys import Signature
from node.domain import messages as link
from node.domain.calendar import CalendarYear
from node.domain.catalog import CatalogItem, Material
from node.domain.cursors import Cursor, CursorSet
from node.domain.entries import Addressed, Entry, Head, Kind
from node.domain.errors import IntegrityError
from node.domain.lifecycle import (
    Accept,
    AcceptCustody,
    CaseCommand,
    CaseState,
    Decide,
    DeclineCustody,
    Deliver,
    Evaluate,
    File,
    OfferCustody,
    Reject,
    RequestSupplement,
    Resume,
    Review,
    Status,
    Supplement,
    Suspend,
    Withdraw,
)
from node.domain.timelimits import ClockStop

# --- catalog ---------------------------------------------------------------------------------


def item_to_pb(item: CatalogItem) -> catalog_pb2.CatalogItem:
    msg = catalog_pb2.CatalogItem(
        basic_code=item.basic_code,
        implementation_code=item.implementation_code,
        name=item.name,
        power_type=item.power_type,
        use_level=item.use_level,
        service_objects=list(item.service_objects),
        handling_forms=list(item.handling_forms),
        case_type=item.case_type,
        conditions=item.conditions,
        materials=[catalog_pb2.Material(name=m.name, required=m.required, note=m.note) for m in item.materials],
        fee=item.fee,
        legal_basis=item.legal_basis,
        department=item.department,
        dept_credit_code=item.dept_credit_code,
        division_code=item.division_code,
        agent_allowed=item.agent_allowed,
        cross_region=item.cross_region,
        group=item.group,
        limits_source=item.limits_source,
    )
    if item.legal_limit_days is not None:
        msg.legal_limit_days = item.legal_limit_days
    if item.promised_limit_days is not None:
        msg.promised_limit_days = item.promised_limit_days
    return msg


def item_from_pb(msg: catalog_pb2.CatalogItem) -> CatalogItem:
    return CatalogItem(
        basic_code=msg.basic_code,
        implementation_code=msg.implementation_code,
        name=msg.name,
        power_type=msg.power_type,
        division_code=msg.division_code,
        department=msg.department,
        dept_credit_code=msg.dept_credit_code,
        use_level=msg.use_level,
        service_objects=tuple(msg.service_objects),
        handling_forms=tuple(msg.handling_forms),
        case_type=msg.case_type,
        legal_limit_days=msg.legal_limit_days if msg.HasField("legal_limit_days") else None,
        promised_limit_days=msg.promised_limit_days if msg.HasField("promised_limit_days") else None,
        conditions=msg.conditions,
        materials=tuple(Material(m.name, m.required, m.note) for m in msg.materials),
        fee=msg.fee,
        legal_basis=msg.legal_basis,
        agent_allowed=msg.agent_allowed,
        cross_region=msg.cross_region,
        group=msg.group,
        limits_source=msg.limits_source,
    )


def calendar_to_pb(year: CalendarYear) -> catalog_pb2.CalendarYear:
    return catalog_pb2.CalendarYear(
        year=year.year,
        holidays=sorted(d.isoformat() for d in year.holidays),
        workdays=sorted(d.isoformat() for d in year.workdays),
        source=year.source,
    )


def calendar_from_pb(msg: catalog_pb2.CalendarYear) -> CalendarYear:
    return CalendarYear(
        year=msg.year,
        holidays=frozenset(dt.date.fromisoformat(d) for d in msg.holidays),
        workdays=frozenset(dt.date.fromisoformat(d) for d in msg.workdays),
        source=msg.source,
    )


M = TypeVar("M", bound=Message)


def parsed(msg: M, data: bytes, what: str) -> M:
    """`msg` parsed from `data`; bytes that do not decode are an integrity error, not a crash."""
    try:
        msg.ParseFromString(data)
    except DecodeError as exc:
        raise IntegrityError(f"{what} body does not decode: {exc}") from None
    return msg


def item_from_body(body: bytes) -> CatalogItem:
    return item_from_pb(parsed(catalog_pb2.CatalogItem(), body, "catalog item"))


def calendar_from_body(body: bytes) -> CalendarYear:
    return calendar_from_pb(parsed(catalog_pb2.CalendarYear(), body, "calendar"))


def issued_body(code: str, der: bytes, fingerprint: str) -> bytes:
    """The body of a cert_issued (or anchor_added) entry."""
    return federation_pb2.CertificateIssued(code=code, der=der, fingerprint=fingerprint).SerializeToString()


def revoked_body(code: str, fingerprint: str, reason: str) -> bytes:
    """The body of a cert_revoked entry."""
    return federation_pb2.CertificateRevoked(code=code, fingerprint=fingerprint, reason=reason).SerializeToString()


def issued_from_body(body: bytes) -> tuple[str, bytes]:
    """(code, certificate DER) of a cert_issued entry."""
    msg = parsed(federation_pb2.CertificateIssued(), body, "cert_issued")
    return msg.code, msg.der


def revoked_from_body(body: bytes) -> tuple[str, str]:
    """(code, fingerprint) of a cert_revoked entry."""
    msg = parsed(federation_pb2.CertificateRevoked(), body, "cert_revoked")
    return msg.code, msg.fingerprint


# --- cases -----------------------------------------------------------------------------------

_KIND_OF_FIELD: dict[str, Kind] = {
    "filed": Kind.CASE_FILED,
    "accepted": Kind.CASE_ACCEPTED,
    "not_accepted": Kind.CASE_NOT_ACCEPTED,
    "review_started": Kind.CASE_REVIEW_STARTED,
    "supplement_requested": Kind.CASE_SUPPLEMENT_REQUESTED,
    "supplemented": Kind.CASE_SUPPLEMENTED,
    "suspended": Kind.CASE_SUSPENDED,
    "resumed": Kind.CASE_RESUMED,
    "decided": Kind.CASE_DECIDED,
    "delivered": Kind.CASE_DELIVERED,
    "withdrawn": Kind.CASE_WITHDRAWN,
    "evaluated": Kind.CASE_EVALUATED,
    "custody_offered": Kind.CASE_CUSTODY_OFFERED,
    "custody_accepted": Kind.CASE_CUSTODY_ACCEPTED,
    "custody_declined": Kind.CASE_CUSTODY_DECLINED,
}


@dataclass(frozen=True)
class CaseRecord:
    """A decoded case entry: the command it recorded and what came with it."""

    case_no: str
    at: dt.datetime
    actor: str
    writer: str
    command: CaseCommand
    sealed_bundle_hash: bytes = b""
    due_date: str = ""
    due_provisional: bool = False
    version: int = 0
    outline: CaseState | None = None  # a custody offer's snapshot, for a node new to the case


def to_us(at: dt.datetime) -> int:
    return int(at.timestamp() * 1_000_000)


def from_us(us: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(us / 1_000_000, tz=dt.UTC)


def outline_to_pb(state: CaseState, due_date: str = "", due_provisional: bool = False) -> case_pb2.CaseOutline:
    msg = case_pb2.CaseOutline(
        case_no=state.case_no,
        item_code=state.item_code,
        handling_division=state.handling_division,
        filing_division=state.filing_division,
        channel=state.channel,
        case_type=state.case_type,
        status=state.status.value,
        filed_at_us=to_us(state.filed_at),
        accepted_at_us=to_us(state.accepted_at) if state.accepted_at else 0,
        due_date=due_date,
        due_provisional=due_provisional,
        evaluation=state.evaluation or 0,
        custodian=state.custodian,
        offered_to=state.offered_to,
        version=state.version,
        decided_at_us=to_us(state.decided_at) if state.decided_at else 0,
        closed_at_us=to_us(state.closed_at) if state.closed_at else 0,
        missing_materials=state.missing_materials,
        requested_materials=state.requested_materials,
        agent=state.agent,
    )
    if state.limit_days is not None:
        msg.limit_days = state.limit_days
    if state.approved is not None:
        msg.approved = state.approved
    for stop in state.stops:
        s = msg.stops.add(kind=stop.kind, start=stop.start.isoformat(), end=stop.end.isoformat() if stop.end else "")
        if stop.limit_days is not None:
            s.limit_days = stop.limit_days
    return msg


def _change(
    cmd: CaseCommand,
    after: CaseState,
    sealed_bundle_hash: bytes,
    applicant_kind: str,
    due_date: str,
    due_provisional: bool,
) -> tuple[str, Any]:
    """The CaseEntry oneof field and its message for a command."""
    if isinstance(cmd, File):
        return "filed", case_pb2.Filed(
            outline=outline_to_pb(after),
            sealed_bundle_hash=sealed_bundle_hash,
            agent=cmd.agent,
            consent=cmd.consent,
            applicant_kind=applicant_kind,
            cited_licenses=cmd.cited_licenses,
        )
    if isinstance(cmd, Accept):
        return "accepted", case_pb2.Accepted(
            missing_materials=cmd.missing_materials, due_date=due_date, due_provisional=due_provisional
        )
    if isinstance(cmd, Reject):
        return "not_accepted", case_pb2.NotAccepted(reason=cmd.reason)
    if isinstance(cmd, Review):
        return "review_started", case_pb2.ReviewStarted()
    if isinstance(cmd, RequestSupplement):
        return "supplement_requested", case_pb2.SupplementRequested(materials=cmd.materials, reason=cmd.reason)
    if isinstance(cmd, Supplement):
        return "supplemented", case_pb2.Supplemented(materials=cmd.materials)
    if isinstance(cmd, Suspend):
        return "suspended", case_pb2.Suspended(procedure=cmd.procedure, limit_days=cmd.limit_days, reason=cmd.reason)
    if isinstance(cmd, Resume):
        return "resumed", case_pb2.Resumed()
    if isinstance(cmd, Decide):
        return "decided", case_pb2.Decided(approved=cmd.approved, reason=cmd.reason, result_ref=cmd.result_ref)
    if isinstance(cmd, Deliver):
        return "delivered", case_pb2.Delivered(method=cmd.method)
    if isinstance(cmd, Withdraw):
        return "withdrawn", case_pb2.Withdrawn(reason=cmd.reason)
    if isinstance(cmd, Evaluate):
        return "evaluated", case_pb2.Evaluated(level=cmd.level, channel=cmd.channel)
    if isinstance(cmd, OfferCustody):
        outline = outline_to_pb(after, due_date, due_provisional)
        return "custody_offered", case_pb2.CustodyOffered(
            to=cmd.to, purpose=cmd.purpose, reason=cmd.reason, outline=outline
        )
    if isinstance(cmd, AcceptCustody):
        return "custody_accepted", case_pb2.CustodyAccepted(by=cmd.by)
    return "custody_declined", case_pb2.CustodyDeclined(by=cmd.by, reason=cmd.reason)


def case_entry(
    cmd: CaseCommand,
    after: CaseState,
    at: dt.datetime,
    actor: str,
    writer: str,
    *,
    sealed_bundle_hash: bytes = b"",
    applicant_kind: str = "",
    due_date: str = "",
    due_provisional: bool = False,
) -> tuple[Kind, bytes]:
    """The entry kind and exact body bytes recording `cmd`, which produced `after`."""
    field, change = _change(cmd, after, sealed_bundle_hash, applicant_kind, due_date, due_provisional)
    msg = case_pb2.CaseEntry(
        case_no=after.case_no, at_us=to_us(at), actor=actor, writer=writer, version=after.version, **{field: change}
    )
    return _KIND_OF_FIELD[field], msg.SerializeToString()


def command_from_pb(msg: case_pb2.CaseEntry) -> CaseCommand | None:
    """The command a CaseEntry message carries, or None when it carries no change."""
    field = msg.WhichOneof("change")
    if field == "filed":
        o = msg.filed.outline
        limit = o.limit_days if o.HasField("limit_days") else None
        return File(
            o.case_no,
            o.item_code,
            o.handling_division,
            o.filing_division,
            o.channel,
            o.case_type,
            limit,
            msg.filed.agent,
            msg.filed.consent,
            tuple(msg.filed.cited_licenses),
        )
    if field == "accepted":
        return Accept(tuple(msg.accepted.missing_materials))
    if field == "not_accepted":
        return Reject(msg.not_accepted.reason)
    if field == "review_started":
        return Review()
    if field == "supplement_requested":
        return RequestSupplement(tuple(msg.supplement_requested.materials), msg.supplement_requested.reason)
    if field == "supplemented":
        return Supplement(tuple(msg.supplemented.materials))
    if field == "suspended":
        return Suspend(msg.suspended.procedure, msg.suspended.limit_days, msg.suspended.reason)
    if field == "resumed":
        return Resume()
    if field == "decided":
        return Decide(msg.decided.approved, msg.decided.reason, msg.decided.result_ref)
    if field == "delivered":
        return Deliver(msg.delivered.method)
    if field == "withdrawn":
        return Withdraw(msg.withdrawn.reason)
    if field == "evaluated":
        return Evaluate(msg.evaluated.level, msg.evaluated.channel)
    if field == "custody_offered":
        m = msg.custody_offered
        return OfferCustody(m.to, m.purpose, m.reason)
    if field == "custody_accepted":
        return AcceptCustody(msg.custody_accepted.by)
    if field == "custody_declined":
        return DeclineCustody(msg.custody_declined.by, msg.custody_declined.reason)
    return None


def case_record(body: bytes) -> CaseRecord:
    """Decode a case entry body back into the command it recorded."""
    msg = parsed(case_pb2.CaseEntry(), body, "case entry")
    cmd = command_from_pb(msg)
    if cmd is None:
        raise IntegrityError(f"case entry for {msg.case_no} carries no change")
    return CaseRecord(
        msg.case_no,
        from_us(msg.at_us),
        msg.actor,
        msg.writer,
        cmd,
        sealed_bundle_hash=msg.filed.sealed_bundle_hash if isinstance(cmd, File) else b"",
        due_date=msg.accepted.due_date if isinstance(cmd, Accept) else "",
        due_provisional=msg.accepted.due_provisional if isinstance(cmd, Accept) else False,
        version=msg.version,
        outline=_offered_state(msg) if isinstance(cmd, OfferCustody) else None,
    )


def _offered_state(msg: case_pb2.CaseEntry) -> CaseState:
    """The case as a custody offer describes it (the outline after the offer)."""
    o = msg.custody_offered.outline
    return CaseState(
        case_no=o.case_no,
        item_code=o.item_code,
        status=Status(o.status),
        handling_division=o.handling_division,
        filing_division=o.filing_division,
        custodian=o.custodian,
        channel=o.channel,
        case_type=o.case_type,
        limit_days=o.limit_days if o.HasField("limit_days") else None,
        filed_at=from_us(o.filed_at_us),
        accepted_at=from_us(o.accepted_at_us) if o.accepted_at_us else None,
        decided_at=from_us(o.decided_at_us) if o.decided_at_us else None,
        closed_at=from_us(o.closed_at_us) if o.closed_at_us else None,
        agent=o.agent,
        missing_materials=tuple(o.missing_materials),
        requested_materials=tuple(o.requested_materials),
        stops=tuple(
            ClockStop(
                s.kind,
                dt.date.fromisoformat(s.start),
                dt.date.fromisoformat(s.end) if s.end else None,
                s.limit_days if s.HasField("limit_days") else None,
            )
            for s in o.stops
        ),
        approved=o.approved if o.HasField("approved") else None,
        evaluation=o.evaluation or None,
        offered_to=msg.custody_offered.to,
        version=msg.version,
    )


def bundle_sent_body(case_no: str, sealed_bundle_hash: bytes) -> bytes:
    return case_pb2.BundleSent(case_no=case_no, sealed_bundle_hash=sealed_bundle_hash).SerializeToString()


def bundle_sent_from_body(body: bytes) -> tuple[str, bytes]:
    msg = parsed(case_pb2.BundleSent(), body, "bundle_sent")
    return msg.case_no, msg.sealed_bundle_hash


def license_sent_body(case_no: str, number: str, sealed_hash: bytes) -> bytes:
    return case_pb2.LicenseSent(case_no=case_no, license_no=number, sealed_hash=sealed_hash).SerializeToString()


def license_sent_from_body(body: bytes) -> tuple[str, str, bytes]:
    msg = parsed(case_pb2.LicenseSent(), body, "license_sent")
    return msg.case_no, msg.license_no, msg.sealed_hash


def material_chunk_body(case_no: str, digest: str, idx: int, count: int, sealed_hash: bytes, chunk: bytes) -> bytes:
    msg = case_pb2.MaterialChunk(
        case_no=case_no,
        digest=digest,
        idx=idx,
        count=count,
        sealed_hash=sealed_hash,
        chunk_hash=hashlib.sha256(chunk).digest(),
    )
    return msg.SerializeToString()


def material_chunk_from_body(body: bytes) -> case_pb2.MaterialChunk:
    return parsed(case_pb2.MaterialChunk(), body, "material_chunk")


def notice_body(title: str, text: str) -> bytes:
    return case_pb2.Notice(title=title, text=text).SerializeToString(deterministic=True)


def notice_from_body(body: bytes) -> tuple[str, str]:
    msg = parsed(case_pb2.Notice(), body, "notice")
    return msg.title, msg.text


# --- log -------------------------------------------------------------------------------------


def entry_to_pb(e: Entry) -> log_pb2.Entry:
    return log_pb2.Entry(
        origin=e.origin,
        stream=e.stream,
        seq=e.seq,
        prev_hash=e.prev_hash,
        kind=e.kind,
        body=e.body,
        hash=e.hash,
        subject=e.subject,
        recorded_at_us=e.recorded_at_us,
    )


def entry_from_pb(m: log_pb2.Entry) -> Entry:
    return Entry(m.origin, m.stream, m.seq, m.prev_hash, m.kind, m.body, m.hash, m.subject, m.recorded_at_us)


def entry_wire(e: Entry) -> bytes:
    """A log entry as it travels (what a relay stores and forwards unchanged)."""
    return entry_to_pb(e).SerializeToString()


def entry_from_wire(wire: bytes) -> Entry:
    return entry_from_pb(parsed(log_pb2.Entry(), wire, "log entry"))


def length_delimited(number: int, data: bytes) -> bytes:
    """A length-delimited protobuf field: its key, the length as a varint, the bytes."""
    out, n = bytearray([number << 3 | 2]), len(data)
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out) + data


def head_to_pb(h: Head) -> log_pb2.Head:
    sig = signature_to_pb(Signature(h.alg, h.key_id, h.signature))
    return log_pb2.Head(
        origin=h.origin, stream=h.stream, seq=h.seq, hash=h.hash, signed_at_us=h.signed_at_us, signature=sig
    )


def head_from_pb(m: log_pb2.Head) -> Head:
    sig = signature_from_pb(m.signature)
    return Head(m.origin, m.stream, m.seq, m.hash, m.signed_at_us, sig.alg, sig.key_id, sig.value)


def cursors_to_pb(cursors: Iterable[Cursor]) -> list[federation_pb2.Cursor]:
    return [federation_pb2.Cursor(origin=c.origin, stream=c.stream, seq=c.seq) for c in cursors]


def cursors_from_pb(msgs: Iterable[federation_pb2.Cursor]) -> CursorSet:
    return CursorSet(Cursor(m.origin, m.stream, m.seq) for m in msgs)


def batch_to_pb(entries: Iterable[Entry], heads: Iterable[Head]) -> federation_pb2.Batch:
    return federation_pb2.Batch(entries=[entry_to_pb(e) for e in entries], heads=[head_to_pb(h) for h in heads])


def batch_of_wires(wires: Sequence[bytes], heads: Iterable[Head]) -> federation_pb2.Batch:
    """A batch of serialized entries, put in as they are: the repeated `entries` field is the
    concatenation of each entry's bytes under field 1, which the C parser reads in one call."""
    msg = federation_pb2.Batch()
    msg.ParseFromString(b"".join([length_delimited(1, w) for w in wires]))
    msg.heads.extend(head_to_pb(h) for h in heads)
    return msg


def batch_from_pb(msg: federation_pb2.Batch) -> tuple[list[Entry], list[Head], list[bytes]]:
    """The entries, heads and each entry's bytes (to store and forward as they came)."""
    entries = list(msg.entries)
    wires = [e.SerializeToString() for e in entries]
    return [entry_from_pb(e) for e in entries], [head_from_pb(h) for h in msg.heads], wires


def signature_to_pb(sig: Signature) -> log_pb2.Signature:
    return log_pb2.Signature(alg=sig.alg, key_id=sig.key_id, value=sig.value)


def signature_from_pb(m: log_pb2.Signature) -> Signature:
    return Signature(m.alg, m.key_id, m.value)


# --- addressed entries -----------------------------------------------------------------------


def addressed_to_wire(a: Addressed) -> bytes:
    """The serialized AddressedEntry, stored and forwarded as it is at every hop."""
    return federation_pb2.AddressedEntry(
        entry=entry_to_pb(a.entry),
        addressee=a.addressee,
        signature=signature_to_pb(Signature(a.alg, a.key_id, a.signature)),
        chain_der=list(a.chain_der),
        sealed_bundle=a.sealed_bundle,
    ).SerializeToString(deterministic=True)


def addressed_from_pb(m: federation_pb2.AddressedEntry) -> Addressed:
    return Addressed(
        entry_from_pb(m.entry),
        m.addressee,
        m.signature.alg,
        m.signature.key_id,
        m.signature.value,
        tuple(m.chain_der),
        m.sealed_bundle,
    )


def addressed_from_wire(wire: bytes) -> Addressed:
    return addressed_from_pb(parsed(federation_pb2.AddressedEntry(), wire, "addressed entry"))


def deliver_to_pb(wires: Iterable[bytes]) -> federation_pb2.Deliver:
    msg = federation_pb2.Deliver()
    for wire in wires:
        msg.entries.add().MergeFromString(wire)
    return msg


# --- link messages ---------------------------------------------------------------------------


def body_of(msg: link.Message) -> federation_pb2.EnvelopeBody:
    """The envelope body carrying a link message (the session stamps and signs it)."""
    if isinstance(msg, link.Ping):
        return federation_pb2.EnvelopeBody(ping=federation_pb2.Ping())
    if isinstance(msg, link.Batch):
        batch = batch_of_wires(msg.wires, msg.heads) if msg.wires else batch_to_pb(msg.entries, msg.heads)
        return federation_pb2.EnvelopeBody(batch=batch)
    if isinstance(msg, link.Ack):
        return federation_pb2.EnvelopeBody(ack=federation_pb2.Ack(cursors=cursors_to_pb(msg.cursors)))
    if isinstance(msg, link.Deliver):
        return federation_pb2.EnvelopeBody(deliver=deliver_to_pb(msg.wires))
    keys = [federation_pb2.AddressedKey(origin=o, stream=s, seq=q, addressee=a) for o, s, q, a in msg.keys]
    return federation_pb2.EnvelopeBody(deliver_ack=federation_pb2.DeliverAck(keys=keys))


def message_of(body: federation_pb2.EnvelopeBody) -> link.Message | None:
    """The link message an envelope body carries; None for a Hello or an empty body."""
    kind = body.WhichOneof("kind")
    if kind == "ping":
        return link.Ping()
    if kind == "batch":
        entries, heads, wires = batch_from_pb(body.batch)
        return link.Batch(entries, heads, wires)
    if kind == "ack":
        return link.Ack(list(cursors_from_pb(body.ack.cursors)))
    if kind == "deliver":
        return link.Deliver(items=[addressed_from_pb(m) for m in body.deliver.entries])
    if kind == "deliver_ack":
        return link.DeliverAck([(k.origin, k.stream, k.seq, k.addressee) for k in body.deliver_ack.keys])
    return None
