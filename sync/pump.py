"""One link's replication protocol, the same on both sides (DESIGN.md section 7), as a state
machine over link messages (node.domain.messages): what to send next, a window of unacknowledged
batches, batch sizes that shrink on a flapping link and grow back, one addressed delivery in
flight, and what to do with what arrives. It speaks to the node through two ports, `Replicator`
(sync.replica) and `Mailer` (sync.mail), and to the wire through `put`; the transport turns
messages into signed envelopes (federation.transport.link), and an in-memory twin does the same
without sockets (federation.transport.memory).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from node.bell import Bell
from node.domain.cursors import Cursor, CursorSet
from node.domain.divisions import DivisionCode
from node.domain.entries import Addressed, Entry, Head
from node.domain.errors import BadSignature
from node.domain.messages import Ack, Batch, Deliver, DeliverAck, Key, Message, Ping

Now = Callable[[], dt.datetime]

MAX_BATCH_ENTRIES = 500
MAX_DELIVER_BYTES = 4 * 1024 * 1024
MIN_BATCH_ENTRIES = 8


class Outgoing(Protocol):
    @property
    def wires(self) -> list[bytes]: ...

    @property
    def heads(self) -> list[Head]: ...

    @property
    def reached(self) -> list[Cursor]: ...


Back = Mapping[tuple[str, str], int]  # streams of a child's subtree sent back to it, and up to where


class Replicator(Protocol):
    """What a link needs of the node to replicate (sync.replica.ReplicaService)."""

    def cursors(self) -> CursorSet: ...

    def apply_batch(
        self, entries: Sequence[Entry], heads: Sequence[Head], wires: Sequence[bytes] = ...
    ) -> list[Cursor]: ...

    def outgoing(
        self, peer: DivisionCode, up: bool, theirs: CursorSet, max_entries: int = ..., *, back: Back | None = ...
    ) -> Outgoing: ...

    def behind_parent(self, theirs: CursorSet) -> list[tuple[str, int, int]]: ...

    def lag(self, peer: DivisionCode, up: bool, theirs: CursorSet) -> int: ...


class Mailer(Protocol):
    """What a link needs of the node to carry addressed entries (sync.mail.MailService)."""

    def take(self, items: Sequence[Addressed], sender: str) -> tuple[list[Key], list[tuple[Key, str]]]: ...

    def outbox(self, to: str, limit: int = ...) -> list[tuple[Key, bytes]]: ...

    def forwarded(self, to: str, keys: Iterable[Key]) -> None: ...

    def refused(self, to: str, refusals: Sequence[tuple[Key, str]]) -> None: ...


class Pump:
    """What flows over one link, the same on both sides: answers pings (the parent), applies
    the peer's batches and acknowledges them with its cursors, takes over the peer's addressed
    entries and acknowledges them once stored, sends its own batches with at most `window` of
    them unacknowledged, and hands on the addressed entries whose next hop is the peer (one
    delivery in flight). `sent` runs ahead of the acknowledged `theirs`; after a reconnect both
    start again from the cursors the peer reports in its Hello, and unacknowledged addressed
    entries are sent again (the receiver recognises copies it holds)."""

    def __init__(
        self,
        replicator: Replicator | None,
        peer: DivisionCode,
        up: bool,
        put: Callable[[Message], None],
        now: Now,
        poll: float,
        theirs: CursorSet,
        max_entries: int = 500,
        ack_timeout: float = 60.0,
        window: int = 4,
        mailer: Mailer | None = None,
        bell: Bell | None = None,
        state: LinkState | None = None,
        on_failure: Callable[[BaseException], None] | None = None,
        on_end: Callable[[], None] | None = None,
        back: Back | None = None,
    ) -> None:
        self.replicator, self.peer, self.up = replicator, peer, up
        self.back = back  # to a child that lost entries of its subtree: those, up to where they stood
        self.state = state or LinkState()
        self.on_failure = on_failure  # the sender died of a fault of ours: an alarm
        self.on_end = on_end  # the sender ended by itself (died, or the peer stopped answering): end the link
        self.died: BaseException | None = None
        self.put, self.now, self.poll, self.theirs = put, now, poll, theirs
        self.max_entries, self.ack_timeout, self.window = max_entries, ack_timeout, window
        self.ceiling = MAX_BATCH_ENTRIES  # batches grow back to this after a slow link shrank them
        self.mailer = mailer
        self.bell = bell or Bell()
        self.sent = CursorSet(list(theirs))
        self.unacked = 0
        self.delivering: set[Key] = set()
        self.waiting_since: float | None = None  # monotonic time of the oldest unanswered send
        self.stopping = threading.Event()
        self.failed: str = ""
        self._lock = threading.Lock()

    def stop(self) -> None:
        self.stopping.set()
        self.bell.ring()

    def send(self, msg: Message) -> None:
        self.put(msg)  # the transport numbers, stamps and signs it, whichever thread sends

    def receive(self, msg: Message, answer_pings: bool) -> None:
        """Act on a message from the peer; a peer error (an entry that breaks a rule) raises
        and nothing of it is kept."""
        if isinstance(msg, Ping):
            if answer_pings:
                self.send(Ping())
        elif isinstance(msg, Batch):
            if self.replicator is None:
                raise BadSignature("this link does not replicate streams")
            self.send(Ack(self.replicator.apply_batch(msg.entries, msg.heads, msg.wires)))
        elif isinstance(msg, Ack):
            for c in msg.cursors:
                self.theirs.advance(c.origin, c.stream, c.seq)
            self.max_entries = min(self.ceiling, self.max_entries * 2)
            self.state.acked_at = self.now()
            self._answered(lambda: setattr(self, "unacked", max(0, self.unacked - 1)))
        elif isinstance(msg, Deliver):
            if self.mailer is None:
                raise BadSignature("this link does not carry addressed entries")
            stored, refused = self.mailer.take(msg.items, self.peer.code)
            self.send(DeliverAck(stored, refused))
        elif isinstance(msg, DeliverAck) and self.mailer is not None:
            keys = list(msg.keys)
            self.mailer.forwarded(self.peer.code, keys)
            refused = [(k, why) for k, why in msg.refused if k in self.delivering]  # only what it was sent
            if refused:
                self.mailer.refused(self.peer.code, refused)
            done = keys + [k for k, _ in refused]
            self._answered(lambda: self.delivering.difference_update(done))

    def _answered(self, update: Callable[[], object]) -> None:
        with self._lock:
            update()
            self.waiting_since = time.monotonic() if (self.unacked or self.delivering) else None
        self.bell.ring()

    def start(self) -> None:
        if self.replicator is not None or self.mailer is not None:
            threading.Thread(target=self._send_loop, name=f"pump-{self.peer}", daemon=True).start()

    def _send_loop(self) -> None:
        """Sends until stopped; a fault of ours ends the link (`died`, `on_failure`), which is
        then dialled again: a sender never dies unnoticed while the link looks connected."""
        try:
            self._send_until_stopped()
        except Exception as exc:
            self.died = exc
            self.failed = f"sender failed: {type(exc).__name__}: {str(exc)[:300]}"
            if self.on_failure is not None:
                self.on_failure(exc)
        if self.failed and not self.stopping.is_set():
            self.stop()
            if self.on_end is not None:
                self.on_end()

    def step(self) -> bool:
        """Send what may go now (a delivery, a batch); False when nothing could."""
        sent = self._send_mail()
        return self._send_batch() or sent

    def _send_until_stopped(self) -> None:
        while not self.stopping.is_set():
            mark = self.bell.mark()
            if self.step():
                continue
            since = self.waiting_since
            if since is not None and time.monotonic() - since > self.ack_timeout:
                self.failed = f"no answer from {self.peer} within {self.ack_timeout:.0f} s"
                return
            self.bell.wait(mark, self.poll)

    def _sending(self, update: Callable[[], object]) -> None:
        with self._lock:
            update()
            if self.waiting_since is None:
                self.waiting_since = time.monotonic()

    def _send_mail(self) -> bool:
        if self.mailer is None or self.delivering:
            return False
        out = self.mailer.outbox(self.peer.code, self.max_entries)
        if not out:
            return False
        size, cut = 0, 0
        for _, wire in out:  # bounded by bytes too: material chunks are large
            if cut and size + len(wire) > MAX_DELIVER_BYTES:
                break
            size, cut = size + len(wire), cut + 1
        out = out[:cut]
        self._sending(lambda: self.delivering.update(k for k, _ in out))
        self.send(Deliver(wires=[w for _, w in out]))
        return True

    def _send_batch(self) -> bool:
        if self.replicator is None or self.unacked >= self.window:
            return False
        out = self.replicator.outgoing(self.peer, self.up, self.sent, self.max_entries, back=self.back)
        if not out.wires:
            return False
        self._sending(lambda: setattr(self, "unacked", self.unacked + 1))
        self.send(Batch((), out.heads, out.wires))
        for c in out.reached:
            self.sent.advance(c.origin, c.stream, c.seq)
        self.state.sent_at = self.now()
        return True


@dataclass
class LinkState:
    """What `yiwang status` shows of a link (kept in the peers table): its state now, the last
    batch sent and acknowledged, how many entries the peer still lacks, how often the link's
    worker was restarted after a fault of ours."""

    state: str = "starting"
    error: str = ""
    last_ok: dt.datetime | None = None
    was_up: bool = False  # connected since the last dial
    sent_at: dt.datetime | None = None
    acked_at: dt.datetime | None = None
    lag_entries: int | None = None
    restarts: int = 0
    software: str = ""  # the peer's yiwang version, from its Hello
