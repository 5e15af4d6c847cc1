"""Signed link envelopes: what a link carries, and the checks every received one passes.

The sender signs the exact serialized EnvelopeBody (`payload`) with the ENVELOPE purpose tag.
A receiver checks, in order: the signature by the peer's certified key, that the envelope names
this link's sender, receiver and link id, that its per-link sequence number is the next one
(a replay or a reordering is refused) and that its timestamp lies within the window.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from google.protobuf.message import DecodeError
from yiwang.v1 import federation_pb2

from federation.wire.codec import signature_from_pb, signature_to_pb
from federation.wire.keys import NodeKey, Purpose, verify
from federation.wire.suites import PublicKey
from node.domain.errors import BadSignature, Replay

DEFAULT_WINDOW_US = 120 * 1_000_000  # accepted clock skew and transit time
MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # gRPC refuses larger messages before we read them


@dataclass
class LinkSession:
    """One direction-pair of a link: our sequence counter and the peer's last one."""

    me: str
    peer: str
    link_id: bytes
    peer_key: PublicKey | None = None
    window_us: int = DEFAULT_WINDOW_US
    sent: int = 0
    received: int = 0
    peer_link_id: bytes = field(default=b"")

    def wrap(self, key: NodeKey, body: federation_pb2.EnvelopeBody, now_us: int) -> federation_pb2.SignedEnvelope:
        """Stamp `body` with this link's addressing, the next sequence number and the time; sign."""
        self.sent += 1
        body.sender, body.receiver, body.link_id = self.me, self.peer, self.link_id
        body.link_seq, body.sent_at_us = self.sent, now_us
        payload = body.SerializeToString()
        return federation_pb2.SignedEnvelope(
            payload=payload, signature=signature_to_pb(key.sign(Purpose.ENVELOPE, payload))
        )

    def unwrap(self, envelope: federation_pb2.SignedEnvelope, now_us: int) -> federation_pb2.EnvelopeBody:
        """Verify an envelope from the peer and return its body, or raise the peer error."""
        if self.peer_key is None:
            raise BadSignature("no certified key for the peer yet: the first envelope must be a verified Hello")
        if not verify(self.peer_key, Purpose.ENVELOPE, envelope.payload, signature_from_pb(envelope.signature)):
            raise BadSignature(f"envelope from {self.peer} does not verify with its certified key")
        body = parse_body(envelope.payload)
        self.check(body, now_us)
        return body

    def accept_hello(self, body: federation_pb2.EnvelopeBody, peer_key: PublicKey, now_us: int) -> None:
        """Take the peer's verified Hello: its key and link id, then the usual checks."""
        self.peer_key, self.peer_link_id = peer_key, body.link_id
        self.check(body, now_us)

    def check(self, body: federation_pb2.EnvelopeBody, now_us: int) -> None:
        if body.sender != self.peer or body.receiver != self.me:
            raise BadSignature(f"envelope addressed {body.sender} -> {body.receiver} on link {self.peer} -> {self.me}")
        if self.peer_link_id and body.link_id != self.peer_link_id:
            raise Replay(f"envelope from another link of {self.peer}")
        if body.link_seq != self.received + 1:
            raise Replay(f"link sequence {body.link_seq} from {self.peer}, expected {self.received + 1}")
        if abs(now_us - body.sent_at_us) > self.window_us:
            skew = (now_us - body.sent_at_us) / 1_000_000
            raise Replay(f"envelope from {self.peer} is {skew:+.0f} s off (window {self.window_us // 1_000_000} s)")
        self.received = body.link_seq


def parse_body(payload: bytes) -> federation_pb2.EnvelopeBody:
    body = federation_pb2.EnvelopeBody()
    try:
        body.ParseFromString(payload)
    except DecodeError:
        raise BadSignature("envelope payload does not decode") from None
    return body


def verify_hello_signature(envelope: federation_pb2.SignedEnvelope, key: PublicKey) -> None:
    if not verify(key, Purpose.ENVELOPE, envelope.payload, signature_from_pb(envelope.signature)):
        raise BadSignature("Hello is not signed by the key of the certificate it carries")
