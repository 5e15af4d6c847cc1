"""What lets a subscriber of the event bus check that a message came from a node's log
(issue 10, DESIGN.md section 11), even on a NATS server others may publish to.

Every entry message carries the entry's hash and its predecessor's (`Yiwang-Hash`,
`Yiwang-Prev`), so its body can be checked against the hash and consecutive messages of one
stream against each other. The last message of every run the relay publishes also carries the
relay node's signature over (origin, stream, seq, hash) (`Yiwang-Signature` = alg:key id:value
in hex, `Yiwang-Signer` = the node's code), made with the node's key; the node's certificate
(`yiwang bus cert`) gives the key. A message is proven when a signed message of the same
stream chains back to it; a forged one - a wrong body for its hash, a hash that does not chain,
a signature that does not verify - never is. `BusVerifier` does this for Python subscribers;
docs/protocol.md gives the steps for any language.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

from federation.wire.keys import NodeKey, Purpose, Signature, verify
from federation.wire.suites import PublicKey
from node.domain.entries import entry_hash, hash_alg

H_ORIGIN, H_STREAM, H_SEQ, H_HASH, H_PREV = "Yiwang-Origin", "Yiwang-Stream", "Yiwang-Seq", "Yiwang-Hash", "Yiwang-Prev"
H_SIGNATURE, H_SIGNER, H_REFERENCE = "Yiwang-Signature", "Yiwang-Signer", "Yiwang-Reference"


def run_message(origin: str, stream: str, seq: int, hash_: bytes) -> bytes:
    """The bytes a relay signs for the end of a run: length-prefixed origin and stream, the
    sequence number (8 bytes, big-endian), the 32-byte entry hash."""
    o, s = origin.encode(), stream.encode()
    return struct.pack(f">I{len(o)}sI{len(s)}sQ", len(o), o, len(s), s, seq) + hash_


def sign_run(key: NodeKey, origin: str, stream: str, seq: int, hash_: bytes) -> str:
    sig = key.sign(Purpose.BUS_RUN, run_message(origin, stream, seq, hash_))
    return f"{sig.alg}:{sig.key_id.hex()}:{sig.value.hex()}"


@dataclass(frozen=True)
class Message:
    """One entry message as a verifier names it: what the log proves is its hash."""

    origin: str
    stream: str
    seq: int
    hash: bytes
    kind: str  # the subject's last token; for a reference only proven with its body, fetched from the node
    reference: bool = False  # `body-omitted`: the hash is proven, the body must be fetched


@dataclass
class Verdict:
    """What a verifier concluded of the messages fed so far. `proven`: from the log. `forged`:
    positively not (a body that does not match its hash, a signature that does not verify, a
    reference that carries a body). Every other message is unproven until a signed message
    chains back to it (`unproven`): act on proven messages only."""

    proven: list[Message] = field(default_factory=list)
    forged: list[tuple[str, str]] = field(default_factory=list)  # (subject, why)

    def proven_keys(self) -> set[tuple[str, str, int]]:
        return {(m.origin, m.stream, m.seq) for m in self.proven}


class BusVerifier:
    """Feed a node's entry messages (subscribe to whole streams, `yiwang.<origin>.<stream>.>`,
    and filter in the client: a proof runs through every message of a stream). Each message is
    proven once a message signed by one of `signer_keys` (the node's current and earlier keys,
    from `yiwang bus cert`) chains back to it through `Yiwang-Prev` links; alarms are skipped."""

    def __init__(self, *signer_keys: PublicKey) -> None:
        self.keys = {k.key_id: k for k in signer_keys}
        self.verdict = Verdict()
        self._unproven: dict[bytes, tuple[Message, bytes]] = {}  # hash -> (message, prev hash)
        self._proven: set[bytes] = set()

    @property
    def unproven(self) -> list[Message]:
        return sorted((m for m, _ in self._unproven.values()), key=lambda m: (m.origin, m.stream, m.seq))

    def feed(self, subject: str, headers: Mapping[str, str], body: bytes) -> None:
        parts = subject.split(".")
        if len(parts) == 4 and parts[2] == "alarm":
            return  # alarms are the node's notices, not log entries
        try:
            origin, stream, seq = headers[H_ORIGIN], headers[H_STREAM], int(headers[H_SEQ])
            hash_, prev = bytes.fromhex(headers[H_HASH]), bytes.fromhex(headers[H_PREV])
        except (KeyError, ValueError):
            self.verdict.forged.append((subject, "Yiwang headers missing or malformed"))
            return
        if len(parts) != 4 or parts[:3] != ["yiwang", origin, stream]:
            self.verdict.forged.append((subject, "the subject does not name the headers' origin and stream"))
            return
        reference = headers.get(H_REFERENCE) == "body-omitted"
        if reference and body:
            self.verdict.forged.append((subject, "a reference (body-omitted) that carries a body"))
            return
        if not reference and entry_hash(origin, stream, seq, prev, parts[3], body, hash_alg(hash_)) != hash_:
            self.verdict.forged.append((subject, "the body does not match Yiwang-Hash"))
            return
        message = Message(origin, stream, seq, hash_, parts[3], reference)
        signed = headers.get(H_SIGNATURE)
        if signed is None:
            if hash_ not in self._proven:
                self._unproven[hash_] = (message, prev)
            return
        if not self._signed(signed, origin, stream, seq, hash_):
            self.verdict.forged.append((subject, "the relay's signature does not verify"))
            return
        self._prove(message, prev)

    def _signed(self, signed: str, origin: str, stream: str, seq: int, hash_: bytes) -> bool:
        try:
            alg, key_id, value = signed.split(":")
            sig = Signature(alg, bytes.fromhex(key_id), bytes.fromhex(value))
        except ValueError:
            return False
        key = self.keys.get(sig.key_id)
        return key is not None and verify(key, Purpose.BUS_RUN, run_message(origin, stream, seq, hash_), sig)

    def _prove(self, message: Message, prev: bytes) -> None:
        """`message` is signed: it and every unproven message its `Yiwang-Prev` links reach
        are from the log (each hash commits to the one before it)."""
        self._unproven.pop(message.hash, None)
        if message.hash not in self._proven:
            self._proven.add(message.hash)
            self.verdict.proven.append(message)
        while prev in self._unproven:
            earlier, prev_of_earlier = self._unproven.pop(prev)
            self._proven.add(earlier.hash)
            self.verdict.proven.append(earlier)
            prev = prev_of_earlier
