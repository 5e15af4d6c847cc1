"""Catching up with the parent once (`yiwang sync`, and `yiwang init --parent` right after
enrolling): a new node fetches the public streams of all its ancestors - the whole ancestor
catalog, calendars, certificates and revocations - before it first runs, and reports progress
against the stream ends its parent announced in its Hello. A node that lost entries of its own
streams (restored from an older backup, or a new disk) gets them back here too."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from federation.transport.link import ParentLink
from federation.wire.identity import Identity
from node import logs
from node.domain.divisions import DivisionCode
from node.domain.errors import PeerError, SetupError
from sync.pump import LinkState
from sync.routing import goes_down, goes_up

if TYPE_CHECKING:
    from node.context import Node

Progress = Callable[[int, int], None]


def catch_up(node: Node, address: str, progress: Progress, timeout: float = 600.0) -> int:
    """Link to the parent at `address` until this node holds every entry of its ancestors'
    public streams the parent held when it answered, and of its own and its subtree's streams
    the parent held further than this node; returns how many entries that is."""
    log = logs.get("bootstrap")
    me = node.settings.code
    if node.identity() is None:
        raise SetupError("this node has no certificate: enroll it with `yiwang init --parent --token` first")

    def revoked(fresh: bool = False) -> set[str]:
        with node.store.read() as tx:
            return tx.revoked_fingerprints()

    def alarm(error: PeerError, peer: str) -> None:
        log.warning("peer_refused", peer=peer, error=type(error).__name__, reason=str(error))

    def identity() -> Identity:
        found = node.identity()
        if found is None:
            raise SetupError("the node's certificate chain disappeared")
        return found

    def record(state: LinkState) -> None:
        return None

    link = ParentLink(address, identity, node.now, revoked, record, alarm, 1.0, replicator=node.replica)
    link.start()
    deadline = time.monotonic() + timeout
    try:
        while link.peer_cursors is None:
            if time.monotonic() > deadline:
                raise SetupError(f"no link to the parent at {address} within {timeout:.0f} s: {link.state.error}")
            time.sleep(0.05)
        # the ancestors' public streams, and the node's own and its subtree's the parent holds
        # further than the node (restored from an older backup, or a new disk): it sends them back
        start = node.replica.cursors()
        targets = {
            (c.origin, c.stream): c.seq
            for c in link.peer_cursors
            if goes_down(me, DivisionCode(c.origin), c.stream)
            or (goes_up(me, DivisionCode(c.origin)) and c.seq > start.get(c.origin, c.stream))
        }
        total = sum(targets.values())
        while True:
            held = node.replica.cursors()
            done = sum(min(held.get(o, s), seq) for (o, s), seq in targets.items())
            progress(done, total)
            if done >= total:
                return total
            if time.monotonic() > deadline:
                raise SetupError(f"caught up {done} of {total} entries within {timeout:.0f} s; `yiwang run` goes on")
            time.sleep(0.1)
    finally:
        link.stop()
        link.join(timeout=10)
