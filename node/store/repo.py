"""Every SQL statement of a node, as storage functions on a transaction, grouped by tables:
the log (node.store.log), catalog and calendars (node.store.catalog), cases and what is kept
beside them (node.store.cases), trust and links (node.store.trust), addressed copies
(node.store.mail), statistics (node.store.stats), supervision and 差评 follow-up
(node.store.supervision). `Tx` joins them; `Store` opens transactions.

Handlers never write SQL: they open `Store.transaction()` and call these. Bulk paths use
SQLAlchemy Core executemany (DESIGN.md section 14); nothing here loops one INSERT per row.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import (
    Engine,
    Table,
    delete,
    func,
    select,
)
from sqlalchemy.exc import DBAPIError

from node import logs
from node.store.base import _comparable
from node.store.cases import CasesTx
from node.store.catalog import CatalogTx
from node.store.log import LogTx
from node.store.mail import MailTx
from node.store.materials import MaterialsTx
from node.store.queues import QueuesTx
from node.store.reviews import ReviewsTx
from node.store.stats import STATS_TABLES, StatsTx
from node.store.supervision import SupervisionTx
from node.store.tables import (
    ALL_TABLES,
    CALENDAR_DELEGATIONS,
    CALENDARS,
    CASE_BACKLOG,
    CASES,
    CATALOG_ITEMS,
    DIVISIONS,
    JOINT_REVIEWS,
    LOCAL_CALENDARS,
    NODE_VERSIONS,
    RECTIFICATIONS,
    REVOCATIONS,
    SUPERVISION_ALARMS,
    TRUSTED_ROOTS,
)
from node.store.trust import TrustTx

T = TypeVar("T")
log = logs.get("store")

# PostgreSQL's deadlock_detected and serialization_failure; SQLite's "database is locked".
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})


def transient(exc: DBAPIError) -> bool:
    """Did the database abort this for a reason that passes with a retry?"""
    if getattr(exc.orig, "sqlstate", None) in TRANSIENT_SQLSTATES:
        return True
    return "database is locked" in str(exc.orig)


# The tables the projection writes and `yiwang rebuild` replays (node.services.projection).
DERIVED_TABLES = (
    CASES,
    CASE_BACKLOG,
    *STATS_TABLES,
    SUPERVISION_ALARMS,
    RECTIFICATIONS,
    CATALOG_ITEMS,
    CALENDARS,
    LOCAL_CALENDARS,
    CALENDAR_DELEGATIONS,
    DIVISIONS,
    REVOCATIONS,
    TRUSTED_ROOTS,
    NODE_VERSIONS,
    JOINT_REVIEWS,
)


class Tx(LogTx, CatalogTx, CasesTx, QueuesTx, StatsTx, SupervisionTx, MaterialsTx, TrustTx, MailTx, ReviewsTx):
    """One database transaction of the node; every method is one storage function."""

    # -- rebuilding -----------------------------------------------------------------------

    def clear(self, tables: Iterable[Table]) -> None:
        """Empty tables (the derived ones, before a rebuild)."""
        for table in tables:
            self.conn.execute(delete(table))

    def rows_of(self, table: Table) -> list[tuple[object, ...]]:
        """Every row of a table in primary-key order, JSON values as canonical text, to compare
        two states of it."""
        key = list(table.primary_key.columns)
        rows = self.conn.execute(select(table).order_by(*key)).all()
        return [tuple(_comparable(v) for v in r) for r in rows]

    # -- bookkeeping ----------------------------------------------------------------------

    def row_counts(self) -> dict[str, int]:
        return {t.name: int(self.conn.execute(select(func.count()).select_from(t)).scalar_one()) for t in ALL_TABLES}


class Store:
    """The node's database; `transaction()` is the only way in."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """Commit when the block ends normally, roll back (writing nothing) when it raises."""
        with self.engine.begin() as conn:
            yield Tx(conn)

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """A read-only transaction: a consistent snapshot that takes no row locks, so it never
        blocks a writer nor waits for one."""
        with self.engine.connect() as conn:
            conn.execution_options(yiwang_read=True)
            with conn.begin():
                yield Tx(conn, writing=False)

    def retrying(self, work: Callable[[], T], attempts: int = 8) -> T:
        """Run `work` (which opens its own transactions) again when the database aborted it for
        a reason that passes: a deadlock or serialization failure on PostgreSQL, a busy SQLite
        file. Nothing of an aborted attempt was committed. Other errors pass through."""
        for attempt in range(attempts):
            try:
                return work()
            except DBAPIError as exc:
                if attempt + 1 == attempts or not transient(exc):
                    raise
                log.warning("transaction_retried", attempt=attempt + 1, error=type(exc.orig).__name__)
                time.sleep(min(1.0, 0.01 * 2**attempt) * random.uniform(0.5, 1.5))
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.engine.dispose()
