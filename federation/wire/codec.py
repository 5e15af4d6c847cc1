"""The one door to the wire (with codec_catalog and codec_cases, which make entry bodies):
conversion between domain values and the generated protobuf messages of `yiwang.v1`. This
module holds the log (entries, heads, their bytes as they travel), batches, addressed copies
and the link messages; `parsed` is how every body is read.

`*_to_pb` / `*_from_pb` pairs, round-trip tested. Entry bodies are made once and from then on
kept as bytes: hashed, stored and relayed without being re-encoded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeVar

from google.protobuf.message import DecodeError, Message
from yiwang.v1 import federation_pb2, log_pb2

from federation.wire.keys import Signature
from node.domain import messages as link
from node.domain.cursors import Cursor, CursorSet
from node.domain.entries import Addressed, Entry, Head
from node.domain.errors import IntegrityError

M = TypeVar("M", bound=Message)


def parsed(msg: M, data: bytes, what: str) -> M:
    """`msg` parsed from `data`; bytes that do not decode are an integrity error, not a crash."""
    try:
        msg.ParseFromString(data)
    except DecodeError as exc:
        raise IntegrityError(f"{what} body does not decode: {exc}") from None
    return msg


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
    keys = [_key_pb(k) for k in msg.keys]
    refused = [federation_pb2.Refusal(key=_key_pb(k), reason=why) for k, why in msg.refused]
    return federation_pb2.EnvelopeBody(deliver_ack=federation_pb2.DeliverAck(keys=keys, refused=refused))


def _key_pb(key: link.Key) -> federation_pb2.AddressedKey:
    origin, stream, seq, addressee = key
    return federation_pb2.AddressedKey(origin=origin, stream=stream, seq=seq, addressee=addressee)


def _key_of(k: federation_pb2.AddressedKey) -> link.Key:
    return (k.origin, k.stream, k.seq, k.addressee)


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
        ack = body.deliver_ack
        return link.DeliverAck([_key_of(k) for k in ack.keys], [(_key_of(r.key), r.reason) for r in ack.refused])
    return None
