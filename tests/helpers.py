"""Test helpers that look at what a node stored."""

from __future__ import annotations

from sqlalchemy import select

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
