"""An in-memory link between a child and its parent in one process: the real protocol
(sync.pump) on both sides, real signed and numbered envelopes (federation.wire.envelopes) and
real Hellos, but the wire is two lists the caller schedules. An envelope delivered out of order
or twice is refused by the session and breaks the link, as it would end a real stream; a lost
one is a connection that died; `reconnect` dials again and both sides resume from the cursors
in their Hellos. `settle` runs the link without new faults until it is quiet (an envelope
still in flight from before is refused as it would be, and the link dialled again).

Used by the property tests of replication; nothing in a running node uses it.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from yiwang.v1 import federation_pb2

from federation.transport.link import check_hello, hello, sealer
from federation.wire.codec import cursors_from_pb, message_of
from federation.wire.envelopes import LinkSession
from federation.wire.identity import Identity
from node.domain.errors import PeerError, Replay
from sync.pump import Mailer, Pump, Replicator

Envelope = federation_pb2.SignedEnvelope


@dataclass
class Side:
    """One end: who it is, what it replicates, and the envelopes on their way to it."""

    identity: Identity
    replicator: Replicator
    mailer: Mailer | None = None
    inbox: list[Envelope] = field(default_factory=list)
    pump: Pump | None = None
    session: LinkSession | None = None


class MemoryLink:
    def __init__(self, child: Side, parent: Side, now: Callable[[], dt.datetime]) -> None:
        self.child, self.parent, self.now = child, parent, now
        self.broken = True  # dial with `reconnect`
        self.breaks = 0

    def _us(self) -> int:
        return int(self.now().timestamp() * 1_000_000)

    def reconnect(self) -> None:
        """Drop whatever is in flight and dial again: Hellos both ways, fresh pumps resuming
        from the cursors each side reports."""
        child, parent = self.child, self.parent
        child.inbox.clear()
        parent.inbox.clear()
        me, up = child.identity.code, parent.identity.code
        child.session = LinkSession(me.code, up.code, os.urandom(16))
        parent.session = LinkSession(up.code, me.code, os.urandom(16))
        ask = hello(child.identity, child.session, self.now(), child.replicator.cursors())
        body, key = check_hello(ask, parent.identity, set(), self.now(), lambda c: c == me, None)
        parent.session.accept_hello(body, key, self._us())
        child_has = cursors_from_pb(body.hello.cursors)
        answer = hello(parent.identity, parent.session, self.now(), parent.replicator.cursors())
        body, key = check_hello(answer, child.identity, set(), self.now(), lambda c: c == up, None)
        child.session.accept_hello(body, key, self._us())
        parent_has = cursors_from_pb(body.hello.cursors)
        child.pump = Pump(
            child.replicator,
            up,
            True,
            sealer(child.identity.key, child.session, self.now, parent.inbox.append),
            self.now,
            0.0,
            parent_has,
            mailer=child.mailer,
        )
        parent.pump = Pump(
            parent.replicator,
            me,
            False,
            sealer(parent.identity.key, parent.session, self.now, child.inbox.append),
            self.now,
            0.0,
            child_has,
            mailer=parent.mailer,
        )
        self.broken = False

    def step(self, side: Side) -> bool:
        """Let `side` send what it may now (a batch within its window, a delivery)."""
        return not self.broken and side.pump is not None and side.pump.step()

    def deliver(self, side: Side, index: int = 0) -> PeerError | None:
        """Hand `side` the envelope at `index` of its inbox (0: in order). A refusal breaks
        the link, as it would end a real stream, and is returned."""
        if self.broken or index >= len(side.inbox):
            return None
        envelope = side.inbox.pop(index)
        assert side.session is not None and side.pump is not None
        try:
            msg = message_of(side.session.unwrap(envelope, self._us()))
            if msg is not None:
                side.pump.receive(msg, answer_pings=side is self.parent)
        except PeerError as exc:
            self.broken = True
            self.breaks += 1
            return exc
        return None

    def drop(self, side: Side, index: int = 0) -> None:
        """Lose an envelope on the way: on a stream that means the connection died there."""
        if index < len(side.inbox):
            side.inbox.pop(index)
            self.broken = True

    def duplicate(self, side: Side, index: int = 0) -> None:
        if index < len(side.inbox):
            side.inbox.insert(index, side.inbox[index])

    def settle(self, limit: int = 10_000) -> int:
        """Run the link without faults until neither side has anything to send; returns the
        number of envelopes delivered."""
        if self.broken:
            self.reconnect()
        delivered = 0
        for _ in range(limit):
            moved = self.step(self.child) | self.step(self.parent)
            for side in (self.parent, self.child):
                while side.inbox:
                    refused = self.deliver(side)
                    if isinstance(refused, Replay):  # a copy or a reordering still in flight
                        self.reconnect()
                    elif refused is not None:  # the protocol broke its own rules
                        raise AssertionError(f"a link without faults was refused: {refused}")
                    delivered += 1
                    moved = True
            if not moved:
                pumps = [p for p in (self.child.pump, self.parent.pump) if p is not None]
                if any(p.unacked or p.delivering for p in pumps):
                    self.reconnect()  # what the acknowledgement timeout does to a stalled link
                    continue
                return delivered
        raise AssertionError(f"the link did not settle within {limit} rounds")
