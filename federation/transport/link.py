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
import functools
import hashlib
import os
import queue
import random
import threading
import time
from collections.abc import Callable, Iterator
from importlib import metadata

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from yiwang.v1 import federation_pb2, federation_pb2_grpc

from federation.transport.errors_grpc import abort_with
from federation.transport.tls import channel_credentials
from federation.wire.certs import certified_key, code_of, dns_name, verify_chain
from federation.wire.codec import body_of, cursors_from_pb, cursors_to_pb, message_of
from federation.wire.envelopes import MAX_MESSAGE_BYTES, LinkSession, parse_body, verify_hello_signature
from federation.wire.identity import Identity
from federation.wire.keys import NodeKey
from federation.wire.suites import PublicKey
from node import logs
from node.bell import Bell
from node.domain.cursors import CursorSet
from node.domain.divisions import DivisionCode, Tier
from node.domain.errors import (
    BadSignature,
    CertificateRevoked,
    PeerError,
    StreamsBehindParent,
    UnknownIssuer,
    YiwangError,
)
from node.domain.messages import Message, Ping
from sync.pump import MAX_BATCH_ENTRIES, MIN_BATCH_ENTRIES, LinkState, Mailer, Now, Pump, Replicator
from sync.routing import lacking, sent_back

GRPC_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
]
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
) -> tuple[federation_pb2.EnvelopeBody, PublicKey]:
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
    peer_key = certified_key(chain[0])
    verify_hello_signature(envelope, peer_key)
    return body, peer_key


def sealer(
    key: NodeKey, session: LinkSession, now: Now, put: Callable[[federation_pb2.SignedEnvelope], None]
) -> Callable[[Message], None]:
    """Turns the protocol's messages into this link's envelopes: numbered, stamped and signed
    in one sequence, whichever thread sends."""
    lock = threading.Lock()

    def send(msg: Message) -> None:
        with lock:
            put(session.wrap(key, body_of(msg), _us(now())))

    return send


def hello(
    identity: Identity, session: LinkSession, now: dt.datetime, cursors: CursorSet | None = None
) -> federation_pb2.SignedEnvelope:
    der = [c.public_bytes(serialization.Encoding.DER) for c in identity.chain]
    held = cursors_to_pb(cursors or CursorSet())
    said = federation_pb2.Hello(chain_der=der, link_id=session.link_id, cursors=held, software=software())
    return session.wrap(identity.key, federation_pb2.EnvelopeBody(hello=said), _us(now))


@functools.cache
def software() -> str:
    """This node's yiwang version, as its Hello tells its peers."""
    try:
        return metadata.version("yiwang")
    except metadata.PackageNotFoundError:
        return "unknown"


def peer_software(body: federation_pb2.EnvelopeBody) -> str:
    """The version a peer's Hello names, bounded and printable (a peer may send anything)."""
    said = body.hello.software[:32]
    return said if said.isprintable() else ""


class LinkStalled(Exception):
    """The peer stopped acknowledging: the link is dropped and dialled again."""


class WorkerDied(Exception):
    """A link's sender died of a fault of ours (a database error, a bug): the link is dropped,
    an alarm raised, and the link dialled again with backoff."""


def _check_sender(pump: Pump) -> None:
    """Raise why a link's sender ended by itself, if it did."""
    if pump.died is not None:
        raise WorkerDied(pump.failed) from pump.died
    if pump.failed:
        raise LinkStalled(pump.failed)


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
            state = LinkState("connected", software=peer_software(body))
            self.on_seen(peer, state)
            mine = self.replicator.cursors() if self.replicator else None
            yield hello(self.identity, session, self.now(), mine)
            outbox: queue.Queue[federation_pb2.SignedEnvelope | None] = queue.Queue()
            child = self._is_child(DivisionCode(peer))  # else a peer province: addressed entries only
            theirs = cursors_from_pb(body.hello.cursors)
            back = sent_back(DivisionCode(peer), mine, theirs) if child and mine is not None else {}
            if back:
                self.log.warning("sending_back", peer=peer, streams=len(back), entries=lacking(back, theirs))

            def pump_failed(exc: BaseException) -> None:
                self._failed(f"sender to {peer}", exc)

            pump = Pump(
                self.replicator if child else None,
                DivisionCode(peer),
                False,
                sealer(self.identity.key, session, self.now, outbox.put),
                self.now,
                self.poll,
                theirs,
                mailer=self.mailer,
                bell=self.bell,
                state=state,
                on_failure=pump_failed,
                on_end=lambda: outbox.put(None),  # ends the stream: the child dials again
                back=back,
            )
            failure: list[PeerError] = []
            ours: list[BaseException] = []

            def read() -> None:
                try:
                    for envelope in request_iterator:
                        got = message_of(session.unwrap(envelope, _us(self.now())))
                        if peer_fp in self.revoked():  # a revocation ends a running link too
                            raise CertificateRevoked(f"certificate of {peer} was revoked")
                        self.on_seen(peer, state)
                        if got is not None:
                            pump.receive(got, answer_pings=True)
                except PeerError as exc:
                    failure.append(exc)
                except grpc.RpcError:
                    pass  # the child went away
                except Exception as exc:  # a fault of ours: raise it, end the link, let the child redial
                    ours.append(exc)
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
            if pump.died is not None or ours:
                context.abort(
                    grpc.StatusCode.UNAVAILABLE, "the parent failed on its side and ended the link: dial again"
                )
            if pump.failed:
                context.abort(grpc.StatusCode.UNAVAILABLE, f"{pump.failed}: dial again")
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
        self._behind_said: set[tuple[str, int]] = set()  # own streams the parent held further, alarmed
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

    def _check_own_streams(self, me: str, parent: str, theirs: CursorSet) -> None:
        """When the parent holds more of this node's own streams than this node (it was restored
        from an older backup or lost its disk), mark them: this node writes none of them until
        the parent has sent them back (its Pump does, up to where they stood now). Alarm once per
        stream and position, so the operator knows it happened."""
        assert self.replicator is not None
        for stream, mine, held in self.replicator.behind_parent(theirs):
            if (stream, held) in self._behind_said:
                continue
            self._behind_said.add((stream, held))
            why = (
                f"the parent holds this node's {stream} stream up to entry {held}, this node only up to {mine}: "
                "it was restored from an older backup or lost its disk; it is getting the entries back and "
                "writes nothing to that stream until it has (see the operator guide)"
            )
            self.alarm(StreamsBehindParent(why), parent)

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
                self.state.software = peer_software(body)
                if self.peer is None and self.replicator is not None:
                    self._check_own_streams(identity.code.code, parent.code, self.peer_cursors)
                self._up()
                up = self.peer is None  # to a parent our subtree goes up; a peer province: addressed only
                pump = Pump(
                    self.replicator if up else None,
                    parent,
                    True,
                    sealer(identity.key, session, self.now, outbox.put),
                    self.now,
                    min(self.ping_every, 1.0),
                    cursors_from_pb(body.hello.cursors),
                    max_entries=self.batch_entries,
                    mailer=self.mailer,
                    bell=self.bell,
                    state=self.state,
                    on_end=responses.cancel,  # a sender that ended by itself ends the link at once
                )
                pump.start()
                pinger = threading.Thread(target=self._ping, args=(pump,), daemon=True)
                pinger.start()
                try:
                    for envelope in responses:
                        got = message_of(session.unwrap(envelope, _us(self.now())))
                        if got is not None:
                            pump.receive(got, answer_pings=False)
                        self.state.last_ok = self.now()
                        self._record_now(pump)
                        _check_sender(pump)
                except grpc.RpcError:
                    _check_sender(pump)  # cancelled because the sender ended: say why
                    raise
                _check_sender(pump)
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
            pump.send(Ping())
