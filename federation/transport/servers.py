"""The gRPC servers of a running node, each with the standard health service (DESIGN.md
section 7): the local API (plain, 127.0.0.1 by default), the enrollment port (server TLS) and
the federation port (mutual TLS). Ports are bound exclusively (gRPC would share a port with
another process through SO_REUSEPORT): a port in use is a set-up error naming the setting.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent import futures
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from yiwang.v1 import federation_pb2_grpc

from federation.transport.enrollment import EnrollmentServicer
from federation.transport.link import GRPC_OPTIONS, LinkServicer
from federation.transport.local_api import NodeServicer, add_node_service
from federation.transport.tls import server_credentials
from federation.wire.identity import Identity
from node.domain.errors import SetupError


def _health(server: grpc.Server, services: list[str]) -> None:
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    for name in ["", *services]:
        servicer.set(name, health_pb2.HealthCheckResponse.SERVING)


SETTING_OF = {"api": "federation.api_listen", "enroll": "federation.enroll_listen", "federation": "federation.listen"}
EXCLUSIVE = [("grpc.so_reuseport", 0)]
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class Servers:
    """The servers started so far and the addresses they bound (a port of 0 gets a free one)."""

    def __init__(self) -> None:
        self.servers: list[grpc.Server] = []
        self.addresses: dict[str, str] = {}

    def _serve(
        self,
        name: str,
        address: str,
        credentials: grpc.ServerCredentials | None,
        register: Callable[[grpc.Server], Any],
        service: str,
    ) -> int:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=16), options=[*GRPC_OPTIONS, *EXCLUSIVE])
        register(server)
        _health(server, [service])
        try:
            port = server.add_secure_port(address, credentials) if credentials else server.add_insecure_port(address)
        except RuntimeError:  # newer gRPC raises where older returned 0
            port = 0
        if port == 0:
            raise SetupError(
                f"cannot bind {address} ({SETTING_OF[name]} in yiwang.toml): another program, or another node,"
                " listens there; choose another port (0 picks a free one)"
            )
        server.start()
        self.servers.append(server)
        self.addresses[name] = f"{address.rsplit(':', 1)[0]}:{port}"
        return int(port)

    def api(self, address: str, servicer: NodeServicer, identity: Identity | None) -> int:
        """The local API: plain on the loopback interface (its default), TLS with the node's
        certificate anywhere else, where bearer tokens would otherwise cross the network."""
        host = address.rsplit(":", 1)[0].strip("[]")
        credentials = None
        if host not in LOOPBACK:
            if identity is None:
                raise SetupError(
                    f"{SETTING_OF['api']} = {address!r} is not a loopback address: the local API then needs TLS "
                    "with the node's certificate, and this node has none yet; bind it to 127.0.0.1 or enroll first"
                )
            credentials = server_credentials(identity, mutual=False)
        return self._serve(
            "api",
            address,
            credentials,
            lambda s: add_node_service(servicer, s),
            "yiwang.v1.NodeService",
        )

    def enrollment(self, address: str, identity: Identity, servicer: EnrollmentServicer) -> int:
        return self._serve(
            "enroll",
            address,
            server_credentials(identity, mutual=False),
            lambda s: federation_pb2_grpc.add_EnrollmentServiceServicer_to_server(servicer, s),
            "yiwang.v1.EnrollmentService",
        )

    def federation(self, address: str, identity: Identity, servicer: LinkServicer) -> int:
        return self._serve(
            "federation",
            address,
            server_credentials(identity, mutual=True),
            lambda s: federation_pb2_grpc.add_FederationServiceServicer_to_server(servicer, s),
            "yiwang.v1.FederationService",
        )

    def stop(self, grace: float = 2.0) -> None:
        for server in self.servers:
            server.stop(grace=grace).wait()
