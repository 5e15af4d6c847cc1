"""What every group of storage functions shares: the connection, whether this transaction
locks rows, the driver's executemany, time conversions, and the types rows have on their way in
and out. Mixed into node.store.repo.Tx.

What leaves node.store is a domain value or a typed row (a row dataclass of
node.store.tables, or a tuple of plain values); SQLAlchemy's untyped `Row` stays inside, in the
mappers that turn it into one of those."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, Row

Value = str | int | float | bool | bytes | None  # a plain driver value
DbRow = Row[Any]  # what SQLAlchemy hands a mapper; never returned from node.store
M = TypeVar("M")


def rows_as(model: Callable[..., M], rows: Iterable[DbRow]) -> list[M]:
    """Rows of `select(table)` as instances of the table's row dataclass (for listings)."""
    return [model(**r._mapping) for r in rows]


class TxBase:
    """One database transaction: `conn`, and whether reads in it lock rows (writers on
    PostgreSQL; never a read-only transaction)."""

    def __init__(self, conn: Connection, writing: bool = True) -> None:
        self.conn = conn
        self._locking = writing and conn.dialect.name == "postgresql"  # reads never lock rows
        self._mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"

    def _insert_many(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Value]]) -> None:
        """executemany at the driver: the bulk path skips per-row parameter processing, so
        rows must hold plain driver values (str, int, bool, bytes, None) in column order."""
        marks = ",".join([self._mark] * len(columns))
        self.conn.exec_driver_sql(f"INSERT INTO {table} ({','.join(columns)}) VALUES ({marks})", list(rows))


def _us(at: dt.datetime | None) -> int | None:
    return None if at is None else int(at.timestamp() * 1_000_000)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _at(us: int) -> dt.datetime:
    """Microseconds since the epoch as an aware UTC datetime, exactly (no float rounding)."""
    return _EPOCH + dt.timedelta(microseconds=us)


def _dt(us: int | None) -> dt.datetime | None:
    return None if us is None else _at(us)


def _comparable(value: object) -> object:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    if isinstance(value, memoryview):
        return bytes(value)
    return value
