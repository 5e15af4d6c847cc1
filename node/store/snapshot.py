"""A database as of one moment, for `yiwang backup` and `yiwang restore` (DESIGN.md section 15).

A backup's database is always a SQLite file. From SQLite it is made with SQLite's online
backup API (a consistent copy while the node writes); from PostgreSQL every table is copied in
one REPEATABLE READ transaction (one snapshot) into a new SQLite file with the same schema. A
restore loads that file into SQLite (a file copy) or PostgreSQL (the same table copy back).
Copying our own tables ourselves instead of calling pg_dump keeps a backup independent of the
server's and the client's versions, and restorable to either backend.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Connection, Engine, Table, func, insert, inspect, select, text

from node.domain.errors import SetupError
from node.store import schema
from node.store.db import open_engine, shown_url
from node.store.tables import metadata

BATCH = 5000
Progress = Callable[[str, int], None]


def _tables() -> list[Table]:
    """Every table of the node (accounts and API idempotency records too), parents before
    children (foreign keys)."""
    return list(metadata.sorted_tables)


def snapshot(url: str, out: Path, progress: Progress | None = None) -> dict[str, int]:
    """Write the database at `url` as of one moment into the new SQLite file `out`; rows per
    table. Its schema revision is `revision(out)`."""
    engine = open_engine(url)
    try:
        if engine.dialect.name == "sqlite":
            source = engine.url.database
            assert source, "a SQLite URL names its file"
            with sqlite3.connect(source) as src, sqlite3.connect(out) as dst:
                src.backup(dst)
            counted = open_engine(f"sqlite:///{out}")
            try:
                return _counts(counted)
            finally:
                counted.dispose()
        return copy_database(engine, f"sqlite:///{out}", progress)
    finally:
        engine.dispose()


def copy_database(source: Engine, target_url: str, progress: Progress | None = None) -> dict[str, int]:
    """Copy every table of `source` (in one snapshot) into the empty database at `target_url`,
    creating its schema at the source's revision first; rows per table."""
    target = open_engine(target_url)
    try:
        if inspect(target).get_table_names():
            raise SetupError(f"{shown_url(target_url)} is not empty: restore into an empty database")
        revision = schema.current(source)
        if revision != schema.head():
            raise SetupError(
                f"the database is at schema revision {revision} and this yiwang copies only {schema.head()}: "
                'restore it into SQLite (--database-url ""), run `yiwang upgrade` there, then back that up'
            )
        counts: dict[str, int] = {}
        with source.connect() as src, target.begin() as dst:  # all or nothing: a failed copy leaves no table
            schema.create_in(dst)
            if source.dialect.name == "postgresql":
                src.execution_options(isolation_level="REPEATABLE READ")
            with src.begin():
                for table in _tables():
                    counts[table.name] = 0
                    rows = src.execution_options(stream_results=True).execute(select(table))
                    for chunk in rows.partitions(BATCH):
                        dst.execute(insert(table), [dict(r._mapping) for r in chunk])
                        counts[table.name] += len(chunk)
                        if progress:
                            progress(table.name, counts[table.name])
            if target.dialect.name == "postgresql":
                _advance_sequences(dst)
        return counts
    finally:
        target.dispose()


def _advance_sequences(conn: Connection) -> None:
    """Rows were copied with their ids: each id sequence moves past the largest, or the next
    row inserted (an alarm, a reveal) would take an id already held."""
    for table in _tables():
        keys = list(table.primary_key.columns)
        if len(keys) != 1 or keys[0].type.python_type is not int:
            continue
        found = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": keys[0].name})
        sequence = found.scalar_one()
        if sequence is not None:  # a serial column
            top = conn.execute(select(func.max(keys[0]))).scalar_one()
            values = {"s": sequence, "v": top or 1, "called": top is not None}
            conn.execute(text("SELECT setval(:s, :v, :called)"), values)


def load(backup_db: Path, target_url: str, progress: Progress | None = None) -> dict[str, int]:
    """Load a backup's SQLite file into the empty database at `target_url`; rows per table."""
    source = open_engine(f"sqlite:///{backup_db}")
    try:
        return copy_database(source, target_url, progress)
    finally:
        source.dispose()


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one()) for t in _tables()}


def revision(backup_db: Path) -> str | None:
    """The schema revision of a snapshot file (what its database was at, not this code's)."""
    engine = open_engine(f"sqlite:///{backup_db}")
    try:
        return schema.current(engine)
    finally:
        engine.dispose()
