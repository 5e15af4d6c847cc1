"""Benchmark: what authentication and authorisation cost on the local API (issue 10).

A county node (SQLite) serves its NodeService twice on 127.0.0.1, in one process: once as
`yiwang run` does (every call carries a client token, which is looked up and authorised by the
role table) and once with authentication off (the baseline; never how a node runs). Four client
threads file cases concurrently through each, the two runs alternating (--repeats, default 3).
Prints filings/s and p50/p99 latency for both, and the cost of authentication as a share of the
baseline's rate (target: at most 10 %). Bounded: --per-client filings per client and run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc
from yiwang.v1 import node_service_pb2, node_service_pb2_grpc

from federation.transport.api_client import connect
from federation.transport.local_api import AUTH_OFF, NodeServicer, serve
from node.context import Node
from node.domain.catalog import CatalogItem
from node.domain.roles import Role
from node.startup import settle_after_startup

CLIENTS = 4
COUNTY = "511602000000"
ITEM = CatalogItem(
    basic_code="511A0138600000",
    implementation_code=f"511A0138600000-{COUNTY}-000-1",
    name="教师资格认定",
    power_type="01",
    division_code=COUNTY,
    department="窗口",
    legal_limit_days=20,
    promised_limit_days=10,
)


def run(stubs: list[node_service_pb2_grpc.NodeServiceStub], per_client: int) -> tuple[float, list[float]]:
    """(filings/s over all clients, every call's latency in seconds)."""
    latencies: list[list[float]] = [[] for _ in stubs]
    request = node_service_pb2.FileCaseRequest(
        item_code=ITEM.implementation_code, applicant_name="王小明", applicant_id="11010519491231002X"
    )

    def client(i: int) -> None:
        for _ in range(per_client):
            t = time.perf_counter()
            stubs[i].FileCase(request, timeout=60)
            latencies[i].append(time.perf_counter() - t)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(stubs))]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    return len(stubs) * per_client / elapsed, [x for xs in latencies for x in xs]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-client", type=int, default=250)
    parser.add_argument("--repeats", type=int, default=3)
    ns = parser.parse_args()
    settle_after_startup()
    with tempfile.TemporaryDirectory() as tmp:
        node = Node.init(Path(tmp) / "county", COUNTY)
        node.catalog.import_items([ITEM])
        _, token = node.principals.add_client("window-software", frozenset({Role.CLERK}))
        with_auth, auth_port = serve(
            NodeServicer(node.catalog, node.cases, node.audit, node.principals, node.stats, node.joint_reviews)
        )
        without_auth, plain_port = serve(
            NodeServicer(node.catalog, node.cases, node.audit, AUTH_OFF, node.stats, node.joint_reviews)
        )
        servers = {"authenticated": with_auth, "no authentication": without_auth}
        ports = {"authenticated": auth_port, "no authentication": plain_port}
        results: dict[str, list[tuple[float, list[float]]]] = {k: [] for k in servers}
        try:
            for _ in range(ns.repeats):
                for label in servers:
                    address = f"127.0.0.1:{ports[label]}"
                    if label == "authenticated":
                        pairs = [connect(address, token) for _ in range(CLIENTS)]
                    else:
                        channels = [grpc.insecure_channel(address) for _ in range(CLIENTS)]
                        pairs = [(c, node_service_pb2_grpc.NodeServiceStub(c)) for c in channels]
                    results[label].append(run([s for _, s in pairs], ns.per_client))
                    for channel, _ in pairs:
                        channel.close()
        finally:
            for server in servers.values():
                server.stop(grace=None).wait()
            node.close()
    print(f"{CLIENTS} concurrent clients, {ns.per_client} filings each, {ns.repeats} runs each, alternating")
    rates = {}
    for label, runs in results.items():
        rate = statistics.median(r for r, _ in runs)
        lat = sorted(x for _, xs in runs for x in xs)
        p50, p99 = lat[len(lat) // 2], lat[int(len(lat) * 0.99)]
        rates[label] = rate
        print(f"{label:18s}: {rate:8.1f} filings/s   p50 {p50 * 1000:6.1f} ms   p99 {p99 * 1000:6.1f} ms")
    cost = 1 - rates["authenticated"] / rates["no authentication"]
    print(f"authentication costs {cost * 100:.1f} % of the rate (target <= 10 %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
