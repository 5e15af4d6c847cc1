"""The addressed-entry outbox (DESIGN.md section 4): entries this node writes for another node
are signed on their own for the addressee, carry this node's certificate chain, and are stored
with their next hop (sync.routing) in the transaction that appends them. Links hand them on
and mark them forwarded once the next hop acknowledged them.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.hazmat.primitives import serialization

from federation.wire.codec import addressed_to_wire
from federation.wire.keys import NodeKey, Purpose
from node.domain.divisions import DivisionCode
from node.domain.entries import Addressed, Entry, addressed_message
from node.domain.errors import SetupError
from node.services.ports import IdentitySource
from node.store import Tx
from node.store.base import Value
from node.store.mail import DELIVERED, OUTBOX
from sync.routing import next_node


def addressed_row(a: Addressed, hop: DivisionCode | None, now_us: int) -> dict[str, Value]:
    """The `addressed` row of a copy: in the outbox for `hop`, or delivered here (None)."""
    e = a.entry
    return {
        "origin": e.origin,
        "stream": e.stream,
        "seq": e.seq,
        "addressee": a.addressee,
        "next_hop": hop.code if hop else "",
        "state": OUTBOX if hop else DELIVERED,
        "kind": e.kind,
        "subject": e.subject,
        "received_at_us": now_us,
        "done_at_us": None if hop else now_us,
        "wire": addressed_to_wire(a),
    }


class Outbox:
    """Entries this node writes for another node (DESIGN.md section 4): signed on their own for
    the addressee, with this node's chain, stored with their next hop in the transaction that
    appends them. Whoever commits rings the bell after the commit."""

    def __init__(self, me: DivisionCode, key: NodeKey, identity: IdentitySource) -> None:
        self.me, self.key, self.identity = me, key, identity

    def chain_der(self) -> tuple[bytes, ...]:
        """This node's certificate chain, which every addressed entry it writes carries."""
        identity = self.identity()
        if identity is None:
            raise SetupError("this node has no certificate yet: enroll it (`yiwang init --token`) to send")
        return tuple(c.public_bytes(serialization.Encoding.DER) for c in identity.chain)

    def address(
        self, tx: Tx, pairs: Sequence[tuple[Entry, str]], chain: tuple[bytes, ...], now_us: int, bundle: bytes = b""
    ) -> None:
        """Put entries just appended in `tx` in the outbox, each to its addressee (`bundle`:
        ciphertext that travels beside a bundle_sent, licence_sent or chunk entry)."""
        rows = []
        for entry, addressee in pairs:
            sig = self.key.sign(Purpose.ADDRESSED_ENTRY, addressed_message(addressee, entry.hash))
            copy = Addressed(entry, addressee, sig.alg, sig.key_id, sig.value, chain, bundle)
            rows.append(addressed_row(copy, next_node(self.me, DivisionCode(addressee)), now_us))
        tx.put_addressed(rows)
