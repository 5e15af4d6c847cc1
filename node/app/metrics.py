"""Prometheus metrics of `yiwang run` on `monitoring.metrics_listen` (DESIGN.md section 15):
read from the node's database at each scrape (node.services.health), so they are what
`yiwang status` says. The exposition format and its HTTP server are prometheus_client's.

    yiwang_info{code, tier, version} 1
    yiwang_certificate_days_left            days until the node's certificate ends
    yiwang_link_up{peer, role}              1 when the link is connected
    yiwang_link_lag_entries{peer, role}     entries the peer lacks
    yiwang_link_lag_seconds{peer, role}     how long they have waited
    yiwang_link_restarts{peer, role}        restarts of the link's workers
    yiwang_peer_certificate_days_left{peer, role}
    yiwang_peer_info{peer, role, version} 1 the yiwang each linked peer runs
    yiwang_outbox_depth                     addressed copies waiting for their next hop
    yiwang_dead_letters                     addressed copies refused for good
    yiwang_alarms{kind, level}              node alarms held
    yiwang_bus_unpublished_entries          entries the event bus has not acknowledged
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from node.context import Node
from node.domain.errors import SetupError
from node.services.health import LinkHealth

DAY_S = 86_400


class NodeCollector(Collector):
    def __init__(self, node: Node) -> None:
        self.node = node

    def collect(self) -> Iterator[Metric]:
        health = self.node.health.snapshot()
        now = self.node.now().timestamp()
        info = GaugeMetricFamily("yiwang_info", "The node and the yiwang it runs", labels=["code", "tier", "version"])
        info.add_metric([self.node.code, self.node.settings.tier.label, health.version], 1)
        yield info
        if health.certificate_until is not None:
            left = (health.certificate_until.timestamp() - now) / DAY_S
            yield GaugeMetricFamily("yiwang_certificate_days_left", "Days until the node's certificate ends", left)
        links: dict[str, tuple[str, Callable[[LinkHealth], float]]] = {
            "up": ("1 when the link is connected", lambda lk: 1.0 if lk.state == "connected" else 0.0),
            "lag_entries": ("Entries the peer lacks", lambda lk: float(lk.lag_entries or 0)),
            "lag_seconds": ("Seconds the entries the peer lacks have waited", lambda lk: lk.lag_seconds),
            "restarts": ("Restarts of the link's workers", lambda lk: float(lk.restarts)),
        }
        for name, (doc, value) in links.items():
            family = GaugeMetricFamily(f"yiwang_link_{name}", doc, labels=["peer", "role"])
            for link in health.links:
                family.add_metric([link.code, link.role], value(link))
            yield family
        peers = GaugeMetricFamily(
            "yiwang_peer_certificate_days_left", "Days until a peer's certificate ends", labels=["peer", "role"]
        )
        for link in health.links:
            if link.certificate_until_us is not None:
                peers.add_metric([link.code, link.role], (link.certificate_until_us / 1e6 - now) / DAY_S)
        yield peers
        versions = GaugeMetricFamily("yiwang_peer_info", "The yiwang a peer runs", labels=["peer", "role", "version"])
        for link in health.links:
            versions.add_metric([link.code, link.role, link.software or "unknown"], 1)
        yield versions
        yield GaugeMetricFamily("yiwang_outbox_depth", "Addressed copies waiting for their next hop", health.outbox)
        yield GaugeMetricFamily("yiwang_dead_letters", "Addressed copies refused for good", health.dead_letters)
        alarms = GaugeMetricFamily("yiwang_alarms", "Node alarms held", labels=["kind", "level"])
        for (kind, level), count in sorted(health.alarms.items()):
            alarms.add_metric([kind, level], count)
        yield alarms
        yield GaugeMetricFamily(
            "yiwang_bus_unpublished_entries", "Entries the event bus has not acknowledged", health.bus_unpublished
        )


def serve_metrics(node: Node, listen: str) -> tuple[WSGIServer, threading.Thread, int]:
    """Serve the node's metrics on `listen` (HOST:PORT, port 0 picks one); (server, thread,
    bound port)."""
    host, _, port = listen.rpartition(":")
    registry = CollectorRegistry()
    registry.register(NodeCollector(node))
    try:
        server, thread = start_http_server(int(port), addr=host.strip("[]"), registry=registry)
    except OSError as exc:
        raise SetupError(f"monitoring.metrics_listen {listen}: {exc}") from None
    return server, thread, int(server.server_address[1])
