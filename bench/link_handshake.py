"""Benchmark: link handshakes and envelopes over a real mutual-TLS gRPC link on 127.0.0.1.

- handshakes/s: a new channel each time: TLS 1.3 with client certificates, the child's signed
  Hello with its chain, the parent's full verification (chain, tree rule, TLS binding,
  signature) and its signed Hello back, verified by the child.
- envelopes/s: one link, pings pipelined both ways; every envelope is signed by its sender and
  verified by its receiver (sequence and time window checked too).
- raw: ECDSA P-256 sign + verify pairs/s with `cryptography` in the same process and run.

Each figure is printed next to the raw rate as a ratio. Bounded by --handshakes and --envelopes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import queue
import sys
import threading
import time
from collections.abc import Iterator
from concurrent import futures

import grpc
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from yiwang.v1 import federation_pb2, federation_pb2_grpc

from federation.transport.link import GRPC_OPTIONS, LinkServicer, check_hello, hello
from federation.transport.tls import channel_credentials, server_credentials
from federation.wire.certs import dns_name, issue, make_csr, make_root
from federation.wire.envelopes import LinkSession
from federation.wire.identity import Identity
from federation.wire.keys import NodeKey
from node import logs
from node.domain.divisions import DivisionCode
from node.startup import settle_after_startup

PROVINCE, CITY = DivisionCode("510000000000"), DivisionCode("511600000000")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _us() -> int:
    return int(time.time() * 1_000_000)


def identities() -> tuple[Identity, Identity]:
    now = _now()
    pk, ck = NodeKey.generate(), NodeKey.generate()
    root = make_root(PROVINCE, pk, now, 1)
    city = issue(make_csr(CITY, ck), CITY, root, pk, now, 2)
    return Identity(pk, (root,)), Identity(ck, (city, root))


def serve(parent: Identity) -> tuple[grpc.Server, int]:
    servicer = LinkServicer(
        parent, _now, lambda fresh=False: set(), lambda code, state: None, lambda e, p: None, lambda c, d: []
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=GRPC_OPTIONS)
    federation_pb2_grpc.add_FederationServiceServicer_to_server(servicer, server)
    port = server.add_secure_port("127.0.0.1:0", server_credentials(parent, mutual=True))
    server.start()
    return server, port


class Link:
    def __init__(self, port: int, child: Identity) -> None:
        options = [*GRPC_OPTIONS, ("grpc.ssl_target_name_override", dns_name(PROVINCE.code))]
        self.channel = grpc.secure_channel(f"127.0.0.1:{port}", channel_credentials(child), options=options)
        self.child = child
        self.session = LinkSession(CITY.code, PROVINCE.code, os.urandom(16))
        self.outbox: queue.Queue[federation_pb2.SignedEnvelope | None] = queue.Queue()

        def outgoing() -> Iterator[federation_pb2.SignedEnvelope]:
            while (item := self.outbox.get()) is not None:
                yield item

        self.responses = federation_pb2_grpc.FederationServiceStub(self.channel).Link(outgoing())
        self.outbox.put(hello(child, self.session, _now()))
        body, key = check_hello(next(self.responses), child, set(), _now(), lambda c: c == PROVINCE, None)
        self.session.accept_hello(body, key, _us())

    def close(self) -> None:
        self.outbox.put(None)
        self.responses.cancel()
        self.channel.close()


def handshakes(port: int, child: Identity, count: int, seconds: float) -> tuple[int, float]:
    start = time.perf_counter()
    done = 0
    while done < count and time.perf_counter() - start < seconds:
        Link(port, child).close()
        done += 1
    return done, time.perf_counter() - start


def envelopes(port: int, child: Identity, count: int) -> tuple[int, float]:
    """Pings sent as fast as signing allows while replies are read and verified."""
    link = Link(port, child)
    received = 0

    def reader() -> None:
        nonlocal received
        for envelope in link.responses:
            link.session.unwrap(envelope, _us())
            received += 1
            if received == count:
                return

    thread = threading.Thread(target=reader)
    start = time.perf_counter()
    thread.start()
    for _ in range(count):
        link.outbox.put(link.session.wrap(child.key, federation_pb2.EnvelopeBody(ping=federation_pb2.Ping()), _us()))
    thread.join(timeout=120)
    elapsed = time.perf_counter() - start
    link.close()
    # each round trip is two envelopes: the ping and the reply, each signed once and verified once
    return 2 * received, elapsed


def raw_sign_verify(seconds: float = 2.0) -> float:
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    message = os.urandom(200)
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        public.verify(key.sign(message, ec.ECDSA(hashes.SHA256())), message, ec.ECDSA(hashes.SHA256()))
        done += 1
    return done / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--handshakes", type=int, default=300)
    parser.add_argument("--envelopes", type=int, default=5000, help="pings (each answered by a reply)")
    parser.add_argument("--json", action="store_true")
    ns = parser.parse_args()
    logs.configure(None)  # a log line per handshake would measure the terminal
    settle_after_startup()
    parent, child = identities()
    server, port = serve(parent)
    try:
        Link(port, child).close()  # warm-up
        raw = raw_sign_verify()
        hs_done, hs_seconds = handshakes(port, child, ns.handshakes, 60.0)
        env_done, env_seconds = envelopes(port, child, ns.envelopes)
    finally:
        server.stop(grace=None).wait()
    result = {
        "python": platform.python_version(),
        "raw_sign_verify_per_s": round(raw, 1),
        "handshakes": hs_done,
        "handshakes_per_s": round(hs_done / hs_seconds, 1),
        "handshake_ratio": round(hs_done / hs_seconds / raw, 4),
        "envelopes": env_done,
        "envelopes_per_s": round(env_done / env_seconds, 1),
        "envelope_ratio": round(env_done / env_seconds / raw, 3),
    }
    if ns.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"Python {result['python']}; one mutual-TLS link on 127.0.0.1")
    print(f"raw P-256 sign+verify : {raw:9.1f} /s")
    print(f"link handshakes       : {result['handshakes_per_s']:9.1f} /s   ratio {result['handshake_ratio']:.4f}")
    print(f"envelope sign+verify  : {result['envelopes_per_s']:9.1f} /s   ratio {result['envelope_ratio']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
