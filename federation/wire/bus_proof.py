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
from node.domain.entries import entry_hash

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


@dataclass
class Verdict:
    """What a verifier concluded of the messages fed so far: proven (origin, stream, seq) and
    the forged or broken ones with the reason."""

    proven: list[tuple[str, str, int]] = field(default_factory=list)
    forged: list[tuple[tuple[str, str, int], str]] = field(default_factory=list)


class BusVerifier:
    """Feed entry messages of a node's bus in stream order (as JetStream delivers them);
    each one is proven once a signed message chains back to it, or reported forged."""

    def __init__(self, signer_key: PublicKey) -> None:
        self.key = signer_key
        self.verdict = Verdict()
        self._waiting: dict[tuple[str, str], list[tuple[int, bytes]]] = {}  # unproven (seq, hash) per stream
        self._last: dict[tuple[str, str], bytes] = {}  # the hash of the stream's last message fed

    def feed(self, subject: str, headers: Mapping[str, str], body: bytes) -> None:
        try:
            origin, stream, seq = headers[H_ORIGIN], headers[H_STREAM], int(headers[H_SEQ])
            hash_, prev = bytes.fromhex(headers[H_HASH]), bytes.fromhex(headers[H_PREV])
        except (KeyError, ValueError):
            self.verdict.forged.append(((subject, "", 0), "headers missing or malformed"))
            return
        key = (origin, stream, seq)
        parts = subject.split(".")
        if len(parts) != 4 or parts[:3] != ["yiwang", origin, stream]:
            self._forged(key, "the subject does not name the headers' origin and stream")
            return
        omitted = headers.get(H_REFERENCE) == "body-omitted"
        if not omitted and entry_hash(origin, stream, seq, prev, parts[3], body) != hash_:
            self._forged(key, "the body does not match Yiwang-Hash")
            return
        waiting = self._waiting.setdefault((origin, stream), [])
        last = self._last.get((origin, stream))
        if last is not None and prev != last:  # what waits was not this stream's log: forged
            for s, _ in waiting:
                self.verdict.forged.append(((origin, stream, s), f"message {seq} does not chain to it"))
            waiting.clear()
        self._last[(origin, stream)] = hash_
        waiting.append((seq, hash_))
        signed = headers.get(H_SIGNATURE)
        if signed is None:
            return
        try:
            alg, key_id, value = signed.split(":")
            sig = Signature(alg, bytes.fromhex(key_id), bytes.fromhex(value))
            good = verify(self.key, Purpose.BUS_RUN, run_message(origin, stream, seq, hash_), sig)
        except ValueError:
            good = False
        if not good:
            waiting.pop()
            if last is None:
                del self._last[(origin, stream)]
            else:
                self._last[(origin, stream)] = last
            self._forged(key, "the relay's signature does not verify")
            return
        self.verdict.proven.extend((origin, stream, s) for s, _ in waiting)  # the signed hash commits to them all
        waiting.clear()

    def _forged(self, key: tuple[str, str, int], why: str) -> None:
        """A message that is not from the log; the stream's chain goes on from the message
        before it."""
        self.verdict.forged.append((key, why))
