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

from sqlalchemy import Engine, Table, func, insert, inspect, select
from sqlmodel import SQLModel

import node.store.tables  # noqa: F401 - the models' tables in SQLModel.metadata
from node.domain.errors import SetupError
from node.store import schema
from node.store.db import open_engine

BATCH = 5000
Progress = Callable[[str, int], None]


def _tables() -> list[Table]:
    """Every table of the node (accounts and API idempotency records too), parents before
    children (foreign keys)."""
    return list(SQLModel.metadata.sorted_tables)


def snapshot(url: str, out: Path, progress: Progress | None = None) -> dict[str, int]:
    """Write the database at `url` as of one moment into the new SQLite file `out`; rows per
    table."""
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
            raise SetupError(f"{schema_where(target)} is not empty: restore into an empty database")
        revision = schema.current(source)
        if revision != schema.head():
            raise SetupError(
                f"the database to copy is at schema revision {revision}, this yiwang copies {schema.head()}: "
                "run `yiwang upgrade` on it (or the yiwang it was made with) first"
            )
        schema.create(target)
        counts: dict[str, int] = {}
        with source.connect() as src, target.begin() as dst:
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
        return counts
    finally:
        target.dispose()


def load(backup_db: Path, target_url: str, progress: Progress | None = None) -> dict[str, int]:
    """Load a backup's SQLite file into the empty database at `target_url`; rows per table."""
    source = open_engine(f"sqlite:///{backup_db}")
    try:
        return copy_database(source, target_url, progress)
    finally:
        source.dispose()


def schema_where(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one()) for t in _tables()}
