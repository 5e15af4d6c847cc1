"""Links between a child and its parent: one bidirectional gRPC stream over mutual TLS.

The child always dials. Its first envelope is a signed Hello carrying its certificate chain;
the parent checks the chain (trusted root, tree rule, revocations, validity), that the chain's
leaf is the certificate the TLS handshake presented, that the sender is its own child, and the
signature; it answers with its own Hello, which the child checks the same way. Then envelopes
flow (Ping now; Batch and Ack with replication), each checked by LinkSession. Any peer error
ends the link with its gRPC status, is logged and raises an alarm; nothing the refused envelope
carried is stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import queue
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from yiwang.v1 import federation_pb2, federation_pb2_grpc

from federation.transport.errors_grpc import abort_with
from federation.transport.tls import channel_credentials
from federation.wire.certs import code_of, dns_name, verify_chain
from federation.wire.codec import (
    addressed_from_pb,
    batch_from_pb,
    batch_to_pb,
    cursors_from_pb,
    cursors_to_pb,
    deliver_to_pb,
)
from federation.wire.envelopes import MAX_MESSAGE_BYTES, LinkSession, parse_body, verify_hello_signature
from federation.wire.identity import Identity
from federation.wire.keys import NodeKey
from node import logs
from node.bell import Bell
from node.domain.cursors import Cursor, CursorSet
from node.domain.divisions import DivisionCode, Tier
from node.domain.entries import Addressed, Entry, Head
from node.domain.errors import BadSignature, CertificateRevoked, PeerError, UnknownIssuer, YiwangError

GRPC_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
]
Now = Callable[[], dt.datetime]
Alarm = Callable[[PeerError, str], None]
Failed = Callable[[str, BaseException], None]  # a worker of ours died: (which, why); it is restarted


def _us(at: dt.datetime) -> int:
    return int(at.timestamp() * 1_000_000)


def check_hello(
    envelope: federation_pb2.SignedEnvelope,
    identity: Identity,
    revoked: set[str],
    now: dt.datetime,
    expect_peer: Callable[[DivisionCode], bool],
    tls_leaf_der: bytes | None,
) -> tuple[federation_pb2.EnvelopeBody, ec.EllipticCurvePublicKey]:
    """Verify a peer's Hello (chain, TLS binding, who may link, signature); returns its body
    and the peer's certified key. The caller's LinkSession then checks addressing and time."""
    body = parse_body(envelope.payload)
    if body.WhichOneof("kind") != "hello":
        raise BadSignature("the first envelope of a link must be a Hello")
    try:
        chain = [x509.load_der_x509_certificate(d) for d in body.hello.chain_der]
    except ValueError:
        raise UnknownIssuer("Hello carries an unreadable certificate") from None
    verified = verify_chain(chain, identity.anchors, now, revoked)
    if tls_leaf_der is not None and chain[0].public_bytes(serialization.Encoding.DER) != tls_leaf_der:
        raise UnknownIssuer("the Hello's certificate is not the one the TLS handshake presented")
    if body.sender != verified.code.code:
        raise BadSignature(f"Hello sent as {body.sender} with a certificate of {verified.code}")
    if not expect_peer(verified.code):
        raise UnknownIssuer(f"{verified.code} is not a node this node links with")
    peer_key = chain[0].public_key()
    assert isinstance(peer_key, ec.EllipticCurvePublicKey)
    verify_hello_signature(envelope, peer_key)
    return body, peer_key


def hello(
    identity: Identity, session: LinkSession, now: dt.datetime, cursors: CursorSet | None = None
) -> federation_pb2.SignedEnvelope:
    der = [c.public_bytes(serialization.Encoding.DER) for c in identity.chain]
    held = cursors_to_pb(cursors or CursorSet())
    body = federation_pb2.EnvelopeBody(hello=federation_pb2.Hello(chain_der=der, link_id=session.link_id, cursors=held))
    return session.wrap(identity.key, body, _us(now))


MAX_BATCH_ENTRIES = 500
MAX_DELIVER_BYTES = 4 * 1024 * 1024
MIN_BATCH_ENTRIES = 8


class LinkStalled(Exception):
    """The peer stopped acknowledging: the link is dropped and dialled again."""


class WorkerDied(Exception):
    """A link's sender died of a fault of ours (a database error, a bug): the link is dropped,
    an alarm raised, and the link dialled again with backoff."""


class Outgoing(Protocol):
    @property
    def entries(self) -> list[Entry]: ...

    @property
    def heads(self) -> list[Head]: ...


class Replicator(Protocol):
    """What a link needs of the node to replicate (sync.replica.ReplicaService)."""

    def cursors(self) -> CursorSet: ...

    def apply_batch(self, entries: Sequence[Entry], heads: Sequence[Head]) -> list[Cursor]: ...

    def outgoing(self, peer: DivisionCode, up: bool, theirs: CursorSet, max_entries: int = ...) -> Outgoing: ...

    def lag(self, peer: DivisionCode, up: bool, theirs: CursorSet) -> int: ...


Key = tuple[str, str, int, str]  # origin, stream, seq, addressee


class Mailer(Protocol):
    """What a link needs of the node to carry addressed entries (sync.mail.MailService)."""

    def receive(self, items: Sequence[Addressed], sender: str) -> list[Key]: ...

    def outbox(self, to: str, limit: int = ...) -> list[tuple[Key, bytes]]: ...

    def forwarded(self, to: str, keys: Iterable[Key]) -> None: ...


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
        key: NodeKey,
        session: LinkSession,
        replicator: Replicator | None,
        peer: DivisionCode,
        up: bool,
        put: Callable[[federation_pb2.SignedEnvelope], None],
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
    ) -> None:
        self.key, self.session, self.replicator, self.peer, self.up = key, session, replicator, peer, up
        self.state = state or LinkState()
        self.on_failure = on_failure
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

    def send(self, body: federation_pb2.EnvelopeBody) -> None:
        with self._lock:  # one sequence of link numbers, whichever thread sends
            self.put(self.session.wrap(self.key, body, _us(self.now())))

    def receive(self, body: federation_pb2.EnvelopeBody, answer_pings: bool) -> None:
        kind = body.WhichOneof("kind")
        if kind == "ping" and answer_pings:
            self.send(federation_pb2.EnvelopeBody(ping=federation_pb2.Ping()))
        elif kind == "batch":
            if self.replicator is None:
                raise BadSignature("this link does not replicate streams")
            entries, heads = batch_from_pb(body.batch)
            cursors = self.replicator.apply_batch(entries, heads)
            self.send(federation_pb2.EnvelopeBody(ack=federation_pb2.Ack(cursors=cursors_to_pb(cursors))))
        elif kind == "ack":
            for c in cursors_from_pb(body.ack.cursors):
                self.theirs.advance(c.origin, c.stream, c.seq)
            self.max_entries = min(self.ceiling, self.max_entries * 2)
            self.state.acked_at = self.now()
            self._answered(lambda: setattr(self, "unacked", max(0, self.unacked - 1)))
        elif kind == "deliver":
            if self.mailer is None:
                raise BadSignature("this link does not carry addressed entries")
            keys = self.mailer.receive([addressed_from_pb(m) for m in body.deliver.entries], self.peer.code)
            acked = federation_pb2.DeliverAck(
                keys=[federation_pb2.AddressedKey(origin=o, stream=s, seq=q, addressee=a) for o, s, q, a in keys]
            )
            self.send(federation_pb2.EnvelopeBody(deliver_ack=acked))
        elif kind == "deliver_ack" and self.mailer is not None:
            keys = [(k.origin, k.stream, k.seq, k.addressee) for k in body.deliver_ack.keys]
            self.mailer.forwarded(self.peer.code, keys)
            self._answered(lambda: self.delivering.difference_update(keys))

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
            self.stop()

    def _send_until_stopped(self) -> None:
        while not self.stopping.is_set():
            mark = self.bell.mark()
            sent = self._send_mail()
            sent = self._send_batch() or sent
            if sent:
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
        self.send(federation_pb2.EnvelopeBody(deliver=deliver_to_pb(w for _, w in out)))
        return True

    def _send_batch(self) -> bool:
        if self.replicator is None or self.unacked >= self.window:
            return False
        out = self.replicator.outgoing(self.peer, self.up, self.sent, self.max_entries)
        if not out.entries:
            return False
        self._sending(lambda: setattr(self, "unacked", self.unacked + 1))
        self.send(federation_pb2.EnvelopeBody(batch=batch_to_pb(out.entries, out.heads)))
        for e in out.entries:
            self.sent.advance(e.origin, e.stream, e.seq)
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


class LinkServicer(federation_pb2_grpc.FederationServiceServicer):
    """The parent's side of links from its children."""

    def __init__(
        self,
        identity: Identity,
        now: Now,
        revoked: Callable[..., set[str]],
        on_seen: Callable[[str, LinkState | None], None],
        alarm: Alarm,
        renew: Callable[[str, bytes], list[x509.Certificate]],
        replicator: Replicator | None = None,
        poll: float = 1.0,
        mailer: Mailer | None = None,
        bell: Bell | None = None,
        failed: Failed | None = None,
    ) -> None:
        self.replicator = replicator
        self.mailer = mailer
        self.bell = bell
        self.failed = failed
        self.poll = poll
        self.identity = identity
        self.now = now
        self.revoked = revoked
        self.on_seen = on_seen
        self.alarm = alarm
        self.renew = renew
        self.log = logs.get("link")

    def _tls_leaf(self, context: grpc.ServicerContext) -> bytes | None:
        pem = context.auth_context().get("x509_pem_cert")
        if not pem:
            return None
        return x509.load_pem_x509_certificate(pem[0]).public_bytes(serialization.Encoding.DER)

    def _is_child(self, code: DivisionCode) -> bool:
        return code.parent() == self.identity.code

    def _may_link(self, code: DivisionCode) -> bool:
        """Children dial their parent; a province also takes links from peer provinces (whose
        roots it anchors: verify_chain has checked that)."""
        me = self.identity.code
        return self._is_child(code) or (me.tier == Tier.PROVINCE and code.tier == Tier.PROVINCE and code != me)

    def Link(
        self, request_iterator: Iterator[federation_pb2.SignedEnvelope], context: grpc.ServicerContext
    ) -> Iterator[federation_pb2.SignedEnvelope]:
        peer = "?"
        try:
            first = next(request_iterator, None)
            if first is None:
                return
            body, peer_key = check_hello(
                first, self.identity, self.revoked(fresh=True), self.now(), self._may_link, self._tls_leaf(context)
            )
            session = LinkSession(self.identity.code.code, body.sender, os.urandom(16))
            session.accept_hello(body, peer_key, _us(self.now()))
            peer = body.sender
            peer_fp = hashlib.sha256(body.hello.chain_der[0]).hexdigest()
            self.log.info("link_accepted", peer=peer)
            self.on_seen(peer, None)
            mine = self.replicator.cursors() if self.replicator else None
            yield hello(self.identity, session, self.now(), mine)
            outbox: queue.Queue[federation_pb2.SignedEnvelope | None] = queue.Queue()
            child = self._is_child(DivisionCode(peer))  # else a peer province: addressed entries only
            state = LinkState("connected")

            def pump_failed(exc: BaseException) -> None:
                self._failed(f"sender to {peer}", exc)
                outbox.put(None)  # ends the stream: the child dials again

            pump = Pump(
                self.identity.key,
                session,
                self.replicator if child else None,
                DivisionCode(peer),
                False,
                outbox.put,
                self.now,
                self.poll,
                cursors_from_pb(body.hello.cursors),
                mailer=self.mailer,
                bell=self.bell,
                state=state,
                on_failure=pump_failed,
            )
            failure: list[PeerError] = []

            def read() -> None:
                try:
                    for envelope in request_iterator:
                        got = session.unwrap(envelope, _us(self.now()))
                        if peer_fp in self.revoked():  # a revocation ends a running link too
                            raise CertificateRevoked(f"certificate of {peer} was revoked")
                        self.on_seen(peer, state)
                        pump.receive(got, answer_pings=True)
                except PeerError as exc:
                    failure.append(exc)
                except grpc.RpcError:
                    pass  # the child went away
                except Exception as exc:  # a fault of ours: raise it, end the link, let the child redial
                    self._failed(f"receiver from {peer}", exc)
                finally:
                    pump.stop()
                    outbox.put(None)

            threading.Thread(target=read, name=f"link-{peer}", daemon=True).start()
            pump.start()
            while (item := outbox.get()) is not None:
                yield item
            if failure:
                raise failure[0]
            if pump.died is not None:
                context.abort(grpc.StatusCode.UNAVAILABLE, "the parent's sender failed and was restarted: dial again")
        except PeerError as exc:
            self.alarm(exc, peer)
            abort_with(context, exc)

    def _failed(self, worker: str, exc: BaseException) -> None:
        self.log.error("link_worker_failed", worker=worker, error=type(exc).__name__, exc_info=exc)
        if self.failed is not None:
            self.failed(worker, exc)

    def Renew(
        self, request: federation_pb2.RenewRequest, context: grpc.ServicerContext
    ) -> federation_pb2.EnrollResponse:
        try:
            leaf = self._tls_leaf(context)
            if leaf is None:
                raise UnknownIssuer("renewal needs the current certificate")
            cert = x509.load_der_x509_certificate(leaf)
            code = code_of(cert)
            if not self._is_child(code):
                raise UnknownIssuer(f"{code} is not a child of {self.identity.code}")
            chain = self.renew(code.code, request.csr_der)
        except YiwangError as exc:
            if isinstance(exc, PeerError):
                self.alarm(exc, "renew")
            abort_with(context, exc)
        return federation_pb2.EnrollResponse(chain_der=[c.public_bytes(serialization.Encoding.DER) for c in chain])


class ParentLink(threading.Thread):
    """The dialling side: keeps one link - to the parent, or from a province to a peer province
    (`peer`) - reconnecting with backoff and jitter."""

    def __init__(
        self,
        address: str,
        identity: Callable[[], Identity],
        now: Now,
        revoked: Callable[..., set[str]],
        record: Callable[[LinkState], None],
        alarm: Alarm,
        ping_every: float = 5.0,
        peer: DivisionCode | None = None,
        replicator: Replicator | None = None,
        mailer: Mailer | None = None,
        bell: Bell | None = None,
        failed: Failed | None = None,
    ) -> None:
        self.replicator = replicator
        self.mailer = mailer
        self.bell = bell
        self.failed = failed
        self._recorded = 0.0
        super().__init__(name=f"link-{peer or 'parent'}", daemon=True)
        self.peer = peer
        self.address = address
        self.identity = identity
        self.now = now
        self.revoked = revoked
        self.record = record
        self.alarm = alarm
        self.ping_every = ping_every
        self.batch_entries = MAX_BATCH_ENTRIES  # halved when a link breaks with batches unacknowledged
        self.peer_cursors: CursorSet | None = None  # what the peer held, from its last Hello
        self.state = LinkState()
        self.stopping = threading.Event()
        self._outbox: queue.Queue[federation_pb2.SignedEnvelope | None] = queue.Queue()
        self.log = logs.get("link")

    def stop(self) -> None:
        self.stopping.set()
        self._outbox.put(None)

    def run(self) -> None:
        failures = 0
        while not self.stopping.is_set():
            try:
                self._connect_once()
                failures = 0
            except PeerError as exc:
                self.alarm(exc, "parent")
                self._down(f"{type(exc).__name__}: {exc}")
                failures += 1
            except grpc.RpcError as exc:
                self._down(f"{exc.code().name}: {exc.details()}")
                failures += 1
            except LinkStalled as exc:
                self._down(str(exc))
                failures += 1
            except Exception as exc:  # a fault of ours (database, bug): never a silent death
                self.state.restarts += 1
                self.log.error("link_worker_failed", address=self.address, error=type(exc).__name__, exc_info=exc)
                if self.failed is not None:
                    self.failed(f"link to {self.peer or 'parent'}", exc.__cause__ or exc)
                self._down(f"restarted after {type(exc.__cause__ or exc).__name__}: {str(exc.__cause__ or exc)[:200]}")
                failures += 1
            if self.state.was_up:  # a link that worked and broke: dial again soon, not after a long backoff
                failures, self.state.was_up = min(failures, 1), False
            delay = min(30.0, 0.5 * 2 ** min(failures, 6)) * random.uniform(0.5, 1.5)
            self.stopping.wait(delay if failures else 0.2)

    def _down(self, error: str) -> None:
        self.state.state, self.state.error = "disconnected", error
        self.log.warning("parent_link_down", address=self.address, error=error)
        self.record(self.state)

    def _connect_once(self) -> None:
        identity = self.identity()  # re-read: a renewal takes effect at the next connection
        parent = self.peer or identity.code.parent()
        assert parent is not None
        session = LinkSession(identity.code.code, parent.code, os.urandom(16))
        options = [*GRPC_OPTIONS, ("grpc.ssl_target_name_override", dns_name(parent.code))]
        with grpc.secure_channel(self.address, channel_credentials(identity), options=options) as channel:
            stub = federation_pb2_grpc.FederationServiceStub(channel)
            outbox: queue.Queue[federation_pb2.SignedEnvelope | None] = queue.Queue()
            self._outbox = outbox

            def outgoing() -> Iterator[federation_pb2.SignedEnvelope]:
                yield hello(identity, session, self.now(), self.replicator.cursors() if self.replicator else None)
                while True:
                    item = outbox.get()
                    if item is None:
                        return
                    yield item

            responses = stub.Link(outgoing())
            pump: Pump | None = None
            try:
                first = next(responses)
                body, peer_key = check_hello(
                    first, identity, self.revoked(fresh=True), self.now(), lambda c: c == parent, None
                )
                session.accept_hello(body, peer_key, _us(self.now()))
                self.peer_cursors = cursors_from_pb(body.hello.cursors)
                self._up()
                up = self.peer is None  # to a parent our subtree goes up; a peer province: addressed only
                pump = Pump(
                    identity.key,
                    session,
                    self.replicator if up else None,
                    parent,
                    True,
                    outbox.put,
                    self.now,
                    min(self.ping_every, 1.0),
                    cursors_from_pb(body.hello.cursors),
                    max_entries=self.batch_entries,
                    mailer=self.mailer,
                    bell=self.bell,
                    state=self.state,
                )
                pump.start()
                pinger = threading.Thread(target=self._ping, args=(pump,), daemon=True)
                pinger.start()
                for envelope in responses:
                    pump.receive(session.unwrap(envelope, _us(self.now())), answer_pings=False)
                    self.state.last_ok = self.now()
                    self._record_now(pump)
                    if pump.died is not None:
                        raise WorkerDied(pump.failed) from pump.died
                    if pump.failed:
                        raise LinkStalled(pump.failed)
            finally:
                if pump is not None:
                    pump.stop()
                    # a link that broke with batches in flight gets smaller ones next time, so a
                    # slow, flapping link still completes some; acknowledgements grow them back
                    shrink = pump.unacked > 0
                    self.batch_entries = max(MIN_BATCH_ENTRIES, pump.max_entries // 2) if shrink else pump.max_entries
                outbox.put(None)
                responses.cancel()

    def _record_now(self, pump: Pump, every: float = 1.0) -> None:
        """Keep the link's state for `yiwang status`, at most once a `every` seconds: with the
        entries the peer still lacks (what it acknowledged against what this node holds)."""
        if time.monotonic() - self._recorded < every:
            return
        self._recorded = time.monotonic()
        if pump.replicator is not None:
            self.state.lag_entries = pump.replicator.lag(pump.peer, pump.up, pump.theirs)
        self.record(self.state)

    def _up(self) -> None:
        now = self.now()
        self.state.state, self.state.error, self.state.last_ok = "connected", "", now
        self.state.was_up = True
        self.log.info("parent_link_up", address=self.address)
        self.record(self.state)

    def _ping(self, pump: Pump) -> None:
        while not self.stopping.wait(self.ping_every) and not pump.stopping.is_set():
            pump.send(federation_pb2.EnvelopeBody(ping=federation_pb2.Ping()))
