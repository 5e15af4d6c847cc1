"""Schema migrations (DESIGN.md section 12): the migrations build exactly the schema the code
defines; a database made by the code before migrations existed (a province, a city and a
county, kept as fixtures on SQLite and PostgreSQL) is refused until `yiwang upgrade`, then
upgraded, replayed by `yiwang rebuild` into the same tables, verified and used."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from node.context import Node
from node.domain.errors import SetupError
from node.store import open_engine, schema
from node.store.tables import metadata
from tests.conftest import ROOT
from tests.fedtools import cli, cli_json

FIXTURES = ROOT / "tests" / "fixtures"
CODES = ("510000000000", "511600000000", "511602000000")


def test_the_migrations_build_the_schema_the_code_defines(database_url: str, tmp_path: Path) -> None:
    url = database_url or f"sqlite:///{tmp_path / 'fresh.db'}"
    engine = open_engine(url)
    try:
        with engine.begin() as conn:
            command.upgrade(schema.alembic_config(conn), "head")  # every migration, from nothing
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), metadata)
            stamped = MigrationContext.configure(conn).get_current_revision()
        assert diffs == []
        assert schema.current(engine) == schema.head() == stamped
    finally:
        engine.dispose()


def test_the_newest_revision_read_without_alembic_is_alembics_head() -> None:
    # schema.head() reads the highest-numbered file so that opening a node need not import Alembic
    assert schema.head() == ScriptDirectory.from_config(schema.alembic_config()).get_current_head()


def copy_sqlite_fixture(tmp_path: Path) -> dict[str, Path]:
    homes = {}
    for code in CODES:
        homes[code] = tmp_path / code
        shutil.copytree(FIXTURES / "pre_alembic" / code, homes[code])
    return homes


@pytest.fixture
def pg_fixture(pg_base_url: str, tmp_path: Path) -> Iterator[dict[str, Path]]:
    """The PostgreSQL fixture loaded into fresh schemas, with settings pointing at them."""
    homes, schemas = {}, []
    with psycopg.connect(pg_base_url, autocommit=True) as conn:
        for code in CODES:
            name = f"yiwang_fx_{uuid.uuid4().hex[:10]}"
            sql = (FIXTURES / "pre_alembic_pg" / f"{code}.sql").read_text(encoding="utf-8")
            conn.execute(sql.replace(f"fx_{code}", name).encode())
            schemas.append(name)
            home = homes[code] = tmp_path / code
            shutil.copytree(FIXTURES / "pre_alembic_pg" / code, home)
            sep = "&" if "?" in pg_base_url else "?"
            settings = (home / "yiwang.toml").read_text(encoding="utf-8")
            old = f"postgresql://postgres@127.0.0.1:5432/test?options=-csearch_path%3Dfx_{code}"
            settings = settings.replace(old, f"{pg_base_url}{sep}options=-csearch_path%3D{name}")
            (home / "yiwang.toml").write_text(settings, encoding="utf-8")
    yield homes
    with psycopg.connect(pg_base_url, autocommit=True) as conn:
        for name in schemas:
            conn.execute(f'DROP SCHEMA "{name}" CASCADE'.encode())


def upgrade_and_replay(homes: dict[str, Path]) -> None:
    for code, home in homes.items():
        with pytest.raises(SetupError, match="yiwang upgrade"):
            Node.open(home)  # every command refuses, with the same advice
        assert f"from schema revision 0001 to {schema.head()}" in cli(home, "upgrade").stdout
        node = Node.open(home)
        try:
            assert all(r.fault is None for r in node.audit.verify()), code
            assert node.rebuilder().rebuild(check=True).differences == {}, code
            assert node.rebuilder().rebuild().entries > 60
        finally:
            node.close()
    county = homes["511602000000"]
    cli(county, "status", expect=0)
    assert "nothing to do" in cli(county, "upgrade").stdout
    assert cli_json(county, "rebuild", "--check")["differences"] == {}
    statuses = sorted(c["status"] for c in cli_json(county, "case", "list"))
    assert statuses == [
        "accepted", "accepted", "approved", "evaluated", "filed", "under_review", "under_review", "withdrawn"
    ]  # fmt: skip
    case_no = cli_json(county, "case", "list", "--status", "filed")[0]["case_no"]
    assert cli_json(county, "case", "accept", case_no)["status"] == "accepted"  # the node works on


def test_a_sqlite_federation_from_before_migrations_is_upgraded_and_replays(tmp_path: Path) -> None:
    upgrade_and_replay(copy_sqlite_fixture(tmp_path))


@pytest.mark.postgres
def test_a_postgresql_federation_from_before_migrations_is_upgraded_and_replays(
    pg_fixture: dict[str, Path],
) -> None:
    upgrade_and_replay(pg_fixture)
