"""`yiwang run`: the servers of one node and its link to the parent.

- federation port: mutual TLS, FederationService (Link, Renew) and the gRPC health service;
- enrollment port (nodes that certify children): server TLS, EnrollmentService and health;
- local API port: NodeService and health, on 127.0.0.1 by default;
- a thread that keeps the link to the parent (settings.parent).

The ports actually bound are written to `<data dir>/run.json` with the process id, so a port
of 0 works and `yiwang enroll token` and `yiwang status` find the running node.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import subprocess
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from cryptography import x509

from federation.transport.enrollment import EnrollmentServicer
from federation.transport.link import LinkServicer, ParentLink
from federation.transport.local_api import NodeServicer
from federation.transport.servers import Servers
from federation.wire.identity import Identity
from node import logs
from node.app.bus_accounts import NODE_USER, BusAccounts
from node.app.runfile import RUN_FILE, hold_run_lock
from node.app.scans import start_scans
from node.context import Node, check_private
from node.domain.divisions import DivisionCode, Tier
from node.domain.errors import PeerError, Recovering, SetupError, excerpt
from node.services.enrollment import Enrollment
from sync.pump import LinkState

if TYPE_CHECKING:  # imported where used: a village without pages, bus or metrics loads none of them
    from wsgiref.simple_server import WSGIServer

    from node.web.server import WebServer

SEEN_EVERY_US = 2_000_000  # write a child's last-seen time at most this often


def _us(at: dt.datetime) -> int:
    return int(at.timestamp() * 1_000_000)


def _link_values(state: LinkState | None) -> dict[str, int | str | None]:
    """The peers-table columns of a link's progress."""
    if state is None:
        return {}
    return {
        "sent_at_us": _us(state.sent_at) if state.sent_at else None,
        "acked_at_us": _us(state.acked_at) if state.acked_at else None,
        "lag_entries": state.lag_entries,
        "restarts": state.restarts,
        **({"software": state.software} if state.software else {}),
    }


class Runtime:
    def __init__(self, node: Node, ping_every: float = 5.0) -> None:
        self.node = node
        self.ping_every = ping_every
        self.identity: Identity | None = node.identity()
        self.servers = Servers()
        self.addresses = self.servers.addresses
        self.parent_link: ParentLink | None = None
        self.peer_links: list[ParentLink] = []
        self._seen: dict[str, int] = {}
        self._revoked: tuple[float, set[str]] = (0.0, set())
        self._lock = threading.Lock()
        self._bus_stop = threading.Event()
        self._scans_stop = threading.Event()
        self.scan_thread: threading.Thread | None = None
        self.web: WebServer | None = None
        self.metrics: WSGIServer | None = None  # the Prometheus metrics (monitoring.metrics_listen)
        self.nats_server: subprocess.Popen[bytes] | None = None
        self.bus_thread: threading.Thread | None = None
        self.bus_credentials: tuple[str, str] | None = None  # on the nats-server this node starts
        self.run_lock: int | None = None
        self.log = logs.get("runtime")

    # -- callbacks shared by the link and enrollment code ---------------------------------

    def revoked(self, fresh: bool = False) -> set[str]:
        """Revoked fingerprints: read from the database for a handshake (`fresh`), otherwise
        re-read at most once a second (the per-envelope check of running links)."""
        at, value = self._revoked
        if fresh or time.monotonic() - at > 1.0:
            with self.node.store.read() as tx:
                value = tx.revoked_fingerprints()
            self._revoked = (time.monotonic(), value)
        return value

    def alarm(self, error: PeerError, peer: str) -> None:
        """Log a refused peer and keep an alarm: a short, escaped excerpt of what it said (a
        caller may have put anything in it)."""
        peer, detail = excerpt(peer, 40), excerpt(str(error), 300)
        self.log.warning("peer_refused", peer=peer, error=type(error).__name__, reason=detail)
        with self.node.store.transaction() as tx:
            tx.raise_alarm(_us(self.node.now()), "warning", type(error).__name__, peer, detail)

    def worker_failed(self, worker: str, error: BaseException) -> None:
        """A worker of ours (a link's sender or receiver, the bus relay) died and is being
        restarted: an alarm, which `yiwang alarms` lists and the bus publishes."""
        detail = f"{worker}: {type(error).__name__}: {str(error)[:300]}"
        self.log.error("worker_restarted", worker=worker, error=type(error).__name__)
        try:
            with self.node.store.transaction() as tx:
                tx.raise_alarm(_us(self.node.now()), "error", "WorkerRestarted", worker, detail)
        except Exception as exc:  # the database itself is down: the log line above must do
            self.log.error("alarm_not_stored", worker=worker, error=type(exc).__name__)

    def seen(self, code: str, state: LinkState | None = None) -> None:
        """A child or a peer province that dialled in sent something."""
        now = _us(self.node.now())
        with self._lock:
            if now - self._seen.get(code, 0) < SEEN_EVERY_US:
                return
            self._seen[code] = now
        with self.node.store.transaction() as tx:
            role = "province" if DivisionCode(code).tier == Tier.PROVINCE else "child"
            tx.put_peer(code, role, state="connected", last_seen_us=now, **_link_values(state))

    def recorder(self, code: str, role: str, address: str) -> Callable[[LinkState], None]:
        """Keeps a dialled link's state in the peers table, for `yiwang status`."""

        def record(state: LinkState) -> None:
            last_ok = _us(state.last_ok) if state.last_ok else None
            values = _link_values(state)
            with self.node.store.transaction() as tx:
                tx.put_peer(
                    code,
                    role,
                    address=address,
                    state=state.state,
                    error=state.error[:300],
                    last_seen_us=last_ok,
                    **values,
                )

        return record

    def renew(self, code: str, csr_der: bytes) -> list[x509.Certificate]:
        assert self.enrollment is not None
        return self.enrollment.renew(code, csr_der)

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> dict[str, str]:
        settings = self.node.settings
        self.run_lock = hold_run_lock(settings.data_dir)  # before anything: a second run changes nothing
        check_private(settings)
        self.enrollment: Enrollment | None = None
        nats_url = self._start_nats()  # first: it is forked before any server thread exists
        api = NodeServicer(
            self.node.catalog,
            self.node.cases,
            self.node.audit,
            self.node.principals,
            self.node.stats,
            self.node.joint_reviews,
        )
        self.servers.api(settings.api_listen, api, self.identity)
        if settings.web_listen:
            from node.web.server import WebServer

            self.web = WebServer(self.node, settings.web_listen, settings.web_tls_cert, settings.web_tls_key)
            self.addresses["web"] = self.web.start()
        if settings.metrics_listen:
            from node.app.metrics import serve_metrics

            self.metrics, _, port = serve_metrics(self.node, settings.metrics_listen)
            self.addresses["metrics"] = f"{settings.metrics_listen.rpartition(':')[0]}:{port}"
        identity = self.identity
        if identity is not None and identity.code.tier < 5:
            self.enrollment = self.node.enrollment(identity, 0)
            servicer = EnrollmentServicer(self.enrollment, self.alarm)
            self.enrollment.enroll_port = self.servers.enrollment(settings.enroll_listen, identity, servicer)
            links = LinkServicer(
                identity,
                self.node.now,
                self.revoked,
                self.seen,
                self.alarm,
                self.renew,
                replicator=self.node.replica,
                poll=min(self.ping_every, 1.0),
                mailer=self.node.mail,
                bell=self.node.bell,
                failed=self.worker_failed,
            )
            self.servers.federation(settings.listen, identity, links)
        for peer in settings.peers:
            self._dial_peer(peer)
        if settings.parent:
            if identity is None:
                raise SetupError("this node has a parent but no certificate: enroll it with `yiwang init --token`")
            parent = settings.code.parent()
            assert parent is not None  # a node with a parent address is not a province
            self.parent_link = ParentLink(
                settings.parent,
                self._current_identity,
                self.node.now,
                self.revoked,
                self.recorder(parent.code, "parent", settings.parent),
                self.alarm,
                self.ping_every,
                replicator=self.node.replica,
                mailer=self.node.mail,
                bell=self.node.bell,
                failed=self.worker_failed,
            )
            self.parent_link.start()
        if nats_url:
            self.addresses["nats"] = nats_url
            settings = self.node.settings
            credentials = self.bus_credentials or (
                (settings.nats_user, settings.nats_password) if settings.nats_user else None
            )
            from node.app.bus import Relay

            relay = Relay(
                self.node, nats_url, failed=self.worker_failed, credentials=credentials, replicas=settings.nats_replicas
            )
            self.bus_thread = relay.start(self._bus_stop)
        # before run.json says it runs, so what it runs is known from its first moment; while
        # its own streams are on their way back (Recovering), a later scan announces it
        with contextlib.suppress(Recovering):
            self.node.software.announce()
        self.scan_thread = start_scans(
            self.node, self.node.settings.supervision_interval, self._scans_stop, self.worker_failed
        )
        self._write_run_file()
        self.log.info("node_running", node=self.node.code, **self.addresses)
        return self.addresses

    def _start_nats(self) -> str:
        """The event bus's URL: nats.url, or a nats-server of our own; none on the village profile."""
        settings = self.node.settings
        if settings.profile == "village" or not settings.bus_enabled:
            return ""
        if settings.nats_url:
            return settings.nats_url
        from node.app.bus import start_nats_server

        self.bus_accounts = BusAccounts.load(settings.data_dir / "nats")
        self.nats_server, url = start_nats_server(settings.data_dir / "nats", accounts=self.bus_accounts)
        self.bus_credentials = (NODE_USER, self.bus_accounts.node_password)
        return url

    def _dial_peer(self, peer: str) -> None:
        """A link to a peer province, given as CODE@HOST:PORT."""
        code_text, _, address = peer.partition("@")
        code = DivisionCode.parse(code_text, "federation.peers")
        if code.tier != Tier.PROVINCE or self.identity is None or self.identity.code.tier != Tier.PROVINCE:
            raise SetupError(f"federation.peers {peer!r}: only provinces link with peer provinces")

        link = ParentLink(
            address,
            self._current_identity,
            self.node.now,
            self.revoked,
            self.recorder(code.code, "province", address),
            self.alarm,
            self.ping_every,
            peer=code,
            mailer=self.node.mail,
            bell=self.node.bell,
            failed=self.worker_failed,
        )
        link.start()
        self.peer_links.append(link)

    def _current_identity(self) -> Identity:
        identity = self.node.identity()
        if identity is None:
            raise SetupError("the node's certificate chain disappeared")
        return identity

    def _write_run_file(self) -> None:
        path = self.node.settings.data_dir / RUN_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "started_at": self.node.now().isoformat(),
                    **self.addresses,
                    **({"nats_pid": self.nats_server.pid} if self.nats_server is not None else {}),
                }
            ),
            encoding="utf-8",
        )
        os.replace(tmp, path)

    def stop(self) -> None:
        if self.run_lock is None:
            return  # this run never started: the files belong to the run that holds the lock
        for link in [*self.peer_links, *([self.parent_link] if self.parent_link else [])]:
            link.stop()
        self._scans_stop.set()
        if self.scan_thread is not None:
            self.scan_thread.join(timeout=30)
        self._bus_stop.set()
        if self.bus_thread is not None:  # the relay closes its connection before its server goes
            self.bus_thread.join(timeout=10)
        self.servers.stop(grace=2)
        if self.web is not None:
            self.web.stop()
        if self.metrics is not None:
            self.metrics.shutdown()
            self.metrics.server_close()
        if self.nats_server is not None:
            self.nats_server.terminate()
            try:
                self.nats_server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.nats_server.kill()
        (self.node.settings.data_dir / RUN_FILE).unlink(missing_ok=True)
        self.log.info("node_stopped", node=self.node.code)
