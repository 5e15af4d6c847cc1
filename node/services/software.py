"""Which yiwang each node runs (issue 13): a node announces the version it runs in its public
stream when that changes (a `software_running` entry, written by `yiwang run`'s scans), and
every node keeps the versions of its subtree (they go up with the subtree's streams) and of
its ancestors (they come down). The province sees who runs what across the whole province
during a rolling upgrade, not only its own children's Hello."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from node import logs
from node.domain.divisions import DivisionCode
from node.domain.entries import Kind, Stream
from node.journal import Journal, Record
from node.services.health import version
from node.services.ports import Clock
from node.services.projection import Projection
from node.store import Store


@dataclass(frozen=True)
class NodeVersion:
    code: str
    name: str
    version: str
    since: dt.datetime  # when the node announced it


class SoftwareService:
    def __init__(
        self,
        me: DivisionCode,
        store: Store,
        journal: Journal,
        projection: Projection,
        clock: Clock,
        names: Callable[[Iterable[str]], dict[str, str]],
    ) -> None:
        self.me, self.store, self.journal, self.projection, self.clock = me, store, journal, projection, clock
        self.names = names
        self.log = logs.get("software")

    def announce(self) -> bool:
        """Announce the installed version unless this node already has; True when it did."""
        running = version()
        with self.store.read() as tx:  # every scan asks: most find it announced, and take no lock
            if [v for _, v, _ in tx.node_versions(self.me.code)] == [running]:
                return False
        now_us = int(self.clock().timestamp() * 1_000_000)
        with self.store.transaction() as tx:
            tail = self.journal.lock(tx, Stream.PUBLIC)
            if [v for _, v, _ in tx.node_versions(self.me.code)] == [running]:
                return False
            record = Record(Kind.SOFTWARE_RUNNING, self.me.code, running.encode())
            self.projection.apply(tx, self.journal.append(tx, Stream.PUBLIC, [record], now_us, tail))
        self.log.info("software_announced", version=running)
        return True

    def versions(self, within: DivisionCode | None = None) -> list[NodeVersion]:
        """The nodes of `within`'s subtree (this node's by default) with the version each runs."""
        prefix = (within or self.me).prefix
        with self.store.read() as tx:
            rows = tx.node_versions(prefix)
        names = self.names(c for c, _, _ in rows)
        return [NodeVersion(c, names.get(c, ""), v, dt.datetime.fromtimestamp(us / 1e6, dt.UTC)) for c, v, us in rows]
