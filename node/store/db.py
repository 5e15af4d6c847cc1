"""Opening the database: SQLite in WAL mode by default, PostgreSQL through `database.url`.

SQLite writers take the lock at BEGIN (BEGIN IMMEDIATE) so two processes appending to the same
stream queue up instead of failing half-way; PostgreSQL writers lock the stream's tail row. The
schema is created and upgraded by node.store.schema (Alembic).
"""

from __future__ import annotations

import sqlite3

from sqlalchemy import Connection, Engine, create_engine, event, make_url

from node.domain.errors import SetupError


def _sqlite_pragmas(dbapi_conn: sqlite3.Connection, _record: object) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _sqlite_begin)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    read_only = conn.get_execution_options().get("yiwang_read", False)
    conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def open_engine(url: str) -> Engine:
    """An engine for `url`, checked to be reachable. The schema is node.store.schema's business."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    try:
        engine = create_engine(url, future=True)
    except Exception as exc:  # an unparseable URL or a missing driver
        raise SetupError(f"database.url {url!r} cannot be opened: {exc}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    try:
        with engine.connect():
            pass
    except Exception as exc:
        where = engine.url.render_as_string(hide_password=True)
        raise SetupError(f"database {where} is unreachable: {exc}") from None
    return engine


def shown_url(url: str) -> str:
    """A database URL as an operator may see it: without its password, in the user part or
    in the query (`?password=`)."""
    try:
        parsed = make_url(url)
    except Exception:  # an unparseable URL: nothing of it is shown
        return "(a database URL that cannot be read)"
    hidden = {k: "***" for k in parsed.query if k.lower() in ("password", "passfile", "sslpassword")}
    return parsed.update_query_dict(hidden).render_as_string(hide_password=True)
