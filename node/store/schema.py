"""The schema's version, with Alembic (DESIGN.md section 12): a new database is created from the
table definitions and stamped with the newest revision; an existing one is brought up to date
only by `yiwang upgrade`, and a node refuses to open a database that is behind.

A database made before migrations existed (no `alembic_version` table, but the node's tables)
has exactly the first revision's schema; `upgrade` stamps it so and goes on from there.
"""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect
from sqlmodel import SQLModel

from node.domain.errors import SetupError

MIGRATIONS = Path(__file__).with_name("migrations")
BASELINE = "0001"  # the schema as `create_all` made it before this module existed
# Revisions that add a derived table the log must fill: `yiwang upgrade` replays the log after
# them (0009: the statistics' counters; 0010: rollups, supervision alarms, rectifications).
REPLAY_AFTER = ("0009", "0010")


def needs_replay(before: str | None, after: str) -> bool:
    """Whether an upgrade from `before` to `after` crossed a revision whose table the log fills."""
    return any((before or "") < revision <= after for revision in REPLAY_AFTER)


def alembic_config(conn: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


@functools.cache
def head() -> str:
    """The newest revision this code knows (read once per process)."""
    found = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert found is not None, "no migrations are packaged"
    return found


def current(engine: Engine) -> str | None:
    """The revision the database is at; BASELINE for one made before migrations, None if empty."""
    with engine.connect() as conn:
        revision = MigrationContext.configure(conn).get_current_revision()
        if revision is None and inspect(conn).has_table("entries"):
            return BASELINE
        return revision


def create(engine: Engine) -> None:
    """A new database: every table, stamped with the newest revision."""
    with engine.begin() as conn:
        create_in(conn)


def create_in(conn: Connection) -> None:
    """Every table, stamped with the newest revision, in the caller's transaction."""
    SQLModel.metadata.create_all(conn)
    command.stamp(alembic_config(conn), "head")


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Apply the migrations the database lacks; returns (from, to) revisions."""
    before = current(engine)
    with engine.begin() as conn:
        cfg = alembic_config(conn)
        if before == BASELINE and MigrationContext.configure(conn).get_current_revision() is None:
            command.stamp(cfg, BASELINE)
        if before is None:
            SQLModel.metadata.create_all(conn)
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
