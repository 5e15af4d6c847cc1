"""Test helpers that look at what a node stored, and an authenticated local API client."""

from __future__ import annotations

import grpc
from sqlalchemy import select
from yiwang.v1 import node_service_pb2_grpc

from federation.transport.api_client import connect
from node.context import Node
from node.store.tables import ALL_TABLES


def counts(node: Node) -> dict[str, int]:
    """Rows of every table: the proof that a refused command wrote nothing."""
    with node.store.read() as tx:
        return tx.row_counts()


def stored_text(node: Node) -> str:
    """Every value of every row of every table, as text (bytes decoded leniently)."""
    parts: list[str] = []
    with node.store.read() as tx:
        for table in ALL_TABLES:
            for row in tx.conn.execute(select(table)).all():
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        parts.append(bytes(value).decode("utf-8", "replace"))
                    else:
                        parts.append(str(value))
    return "\n".join(parts)


def api_stub(address: str, token: str) -> tuple[grpc.Channel, node_service_pb2_grpc.NodeServiceStub]:
    """A channel to a node's local API that authenticates as the client with `token`."""
    return connect(address, token)
