"""What use cases are handed by the composition root (node.context.Node): a clock, the node's
identity read from disk, the working-day calendar as stored, and the outbox that addressed
entries leave by (implemented in sync.outbox). Each service names the ones it uses in its
constructor; no service reaches another through a shared locator.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from federation.wire.identity import Identity, load_identity
from federation.wire.keys import NodeKey
from node.domain.calendar import WorkCalendar
from node.domain.entries import Entry
from node.store import Store, Tx

Clock = Callable[[], dt.datetime]


def micros(at: dt.datetime) -> int:
    return int(at.timestamp() * 1_000_000)


class IdentityFile:
    """The node's certificate identity, read from disk at each call so a running node picks up
    `yiwang keys rotate` and renewals; None while the node is not enrolled."""

    def __init__(self, data_dir: Path, key_path: Path, anchors: Sequence[str], clock: Clock) -> None:
        self.data_dir, self.key_path, self.anchors, self.clock = data_dir, key_path, tuple(anchors), clock

    def __call__(self) -> Identity | None:
        return load_identity(self.data_dir, NodeKey.load(self.key_path), self.anchors, self.clock())


IdentitySource = Callable[[], Identity | None]


class CalendarCache:
    """The working-day calendar as stored (built-in years plus published ones), loaded once and
    dropped when a calendar entry is written or received."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._calendar: WorkCalendar | None = None

    def get(self) -> WorkCalendar:
        if self._calendar is None:
            with self.store.read() as tx:
                self._calendar = tx.work_calendar()
        return self._calendar

    def forget(self) -> None:
        self._calendar = None


class ReviewCourier(Protocol):
    """Who re-seals a case's bundle and material files for the reviewer nodes of a joint review
    (node.services.bundles.Courier)."""

    def to_reviewers(self, tx: Tx, case_no: str, nodes: Sequence[str], now_us: int) -> list[str]: ...


class Addresser(Protocol):
    """Where use cases put entries addressed to another node (sync.outbox.Outbox)."""

    def chain_der(self) -> tuple[bytes, ...]: ...

    def address(
        self, tx: Tx, pairs: Sequence[tuple[Entry, str]], chain: tuple[bytes, ...], now_us: int, bundle: bytes = b""
    ) -> None: ...
