"""The schema's version, with Alembic (DESIGN.md section 12): a new database is created from the
table definitions and stamped with the newest revision; an existing one is brought up to date
only by `yiwang upgrade`, and a node refuses to open a database that is behind.

Opening a node reads the revisions without Alembic (its import alone costs a command's start-up
more than the rest of the store): the newest is the highest-numbered file of migrations/versions
(revisions are numbered in order; tests/test_migrations.py checks Alembic agrees), the current
one is the `alembic_version` row. Alembic itself runs only to create, stamp and upgrade.

A database made before migrations existed (no `alembic_version` table, but the node's tables)
has exactly the first revision's schema; `upgrade` stamps it so and goes on from there.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

from node.domain.errors import SetupError
from node.store.tables import metadata

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
BASELINE = "0001"  # the schema as `create_all` made it before this module existed
# Revisions that add a derived table the log must fill: `yiwang upgrade` replays the log after
# them (0009: the statistics' counters; 0010: rollups, supervision alarms, rectifications).
REPLAY_AFTER = ("0009", "0010")


def needs_replay(before: str | None, after: str) -> bool:
    """Whether an upgrade from `before` to `after` crossed a revision whose table the log fills."""
    return any((before or "") < revision <= after for revision in REPLAY_AFTER)


def alembic_config(conn: Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


@functools.cache
def head() -> str:
    """The newest revision this code knows (read once per process)."""
    numbers = [p.name.split("_", 1)[0] for p in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py")]
    assert numbers, "no migrations are packaged"
    return max(numbers)


def current(engine: Engine) -> str | None:
    """The revision the database is at; BASELINE for one made before migrations, None if empty."""
    with engine.connect() as conn:
        return _revision(conn) or (BASELINE if inspect(conn).has_table("entries") else None)


def _revision(conn: Connection) -> str | None:
    """The `alembic_version` row, None when the table is missing or empty."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def create(engine: Engine) -> None:
    """A new database: every table, stamped with the newest revision."""
    with engine.begin() as conn:
        create_in(conn)


def create_in(conn: Connection) -> None:
    """Every table, stamped with the newest revision, in the caller's transaction."""
    from alembic import command

    metadata.create_all(conn)
    command.stamp(alembic_config(conn), "head")


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Apply the migrations the database lacks; returns (from, to) revisions."""
    from alembic import command

    before = current(engine)
    with engine.begin() as conn:
        cfg = alembic_config(conn)
        if before == BASELINE and _revision(conn) is None:
            command.stamp(cfg, BASELINE)
        if before is None:
            metadata.create_all(conn)
            command.stamp(cfg, "head")
        else:
            command.upgrade(cfg, "head")
    return before, head()


def check(engine: Engine, where: str) -> None:
    """Refuse a database that is not at the newest revision."""
    at, newest = current(engine), head()
    if at != newest:
        raise SetupError(
            f"the database of {where} is at schema revision {at or 'none'}, this yiwang needs {newest}: "
            "back it up, then run `yiwang upgrade`"
        )
