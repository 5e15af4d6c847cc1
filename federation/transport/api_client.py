"""A client of a node's local NodeService that authenticates as an API client: what window
software and department systems written in Python use (and the tests and benches here). Other
languages send the same metadata: `authorization: Bearer ywc1....` on every call.
"""

from __future__ import annotations

import collections
from typing import Any

import grpc
from yiwang.v1 import node_service_pb2_grpc


class _CallDetails(
    collections.namedtuple(
        "_CallDetails", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")
    ),
    grpc.ClientCallDetails,  # type: ignore[misc]  # grpc ships no type information
):
    pass


class Bearer(grpc.UnaryUnaryClientInterceptor):  # type: ignore[misc]  # grpc ships no type information
    """Adds `authorization: Bearer TOKEN` to every call."""

    def __init__(self, token: str) -> None:
        self.header = ("authorization", f"Bearer {token}")

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        metadata = (*(details.metadata or ()), self.header)
        new = _CallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready, details.compression
        )
        return continuation(new, request)


def connect(address: str, token: str) -> tuple[grpc.Channel, node_service_pb2_grpc.NodeServiceStub]:
    """A channel to the local API at `address` (HOST:PORT, plain: it listens on 127.0.0.1) and a
    stub that authenticates with the client token `token`. Close the channel when done."""
    channel = grpc.intercept_channel(grpc.insecure_channel(address), Bearer(token))
    return channel, node_service_pb2_grpc.NodeServiceStub(channel)
