"""`yiwang backup` and `yiwang restore` (issue 13): a running node backed up in one file, restored
into an empty directory on SQLite or PostgreSQL with every row, its log verified and serving;
a damaged, altered or foreign file, or a directory that is not empty, refused with nothing
written."""

from __future__ import annotations

import gzip
import io
import json
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import SQLModel

from node.context import Node
from node.domain.errors import InvalidInput, SetupError
from node.domain.roles import Role
from node.services.backup import make_backup, restore_backup
from node.services.cases import FileRequest
from node.store.queues import Reveal
from tests.conftest import Clock, fresh_pg_schema, licence_item
from tests.fedtools import ANY_PORTS, Running, alarms, case_json, cli, cli_json, start_chain, wait_for
from tests.test_replica import PERSON

COUNTY = "511602000000"


def table_rows(node: Node) -> dict[str, int]:
    """Rows of every table of the node, accounts and API records included."""
    with node.store.read() as tx:
        return {
            t.name: int(tx.conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in SQLModel.metadata.sorted_tables
        }


def busy_node(home: Path, clock: Clock, database_url: str = "") -> Node:
    node = Node.init(home, COUNTY, database_url=database_url, clock=clock)
    node.principals.add_user("窗口-王", frozenset({Role.CLERK}), "pass-word-01")
    item = licence_item()
    node.catalog.import_items([item])
    node.cases.file_many([FileRequest(item.implementation_code, PERSON)] * 5, "窗口-王")
    return node


@pytest.fixture
def empty_pg_url(pg_base_url: str) -> Iterator[str]:
    """Another fresh PostgreSQL schema (the first one holds the backed-up node)."""
    with fresh_pg_schema(pg_base_url) as url:
        yield url


def test_a_node_comes_back_from_its_backup_with_every_row_on_either_backend(
    tmp_path: Path, clock: Clock, database_url: str, request: pytest.FixtureRequest
) -> None:
    node = busy_node(tmp_path / "node", clock, database_url)
    retired = tmp_path / "node" / "retired-keys" / "old.pem"  # a rotated key opens older seals
    retired.parent.mkdir(mode=0o700)
    retired.write_bytes((tmp_path / "node" / "node.key").read_bytes())
    try:
        before = table_rows(node)
        result = make_backup(node.settings, tmp_path / "node.backup")
        assert (tmp_path / "node.backup").stat().st_mode & 0o777 == 0o600  # it holds the key
        assert result.rows == sum(before.values()) and before["principals"] == 1 and before["entries"] > 5
    finally:
        node.close()
    targets = [("", tmp_path / "on-sqlite")]
    if database_url:  # a PostgreSQL node restores into SQLite and into another PostgreSQL
        targets.append((request.getfixturevalue("empty_pg_url"), tmp_path / "on-pg"))
    for url, home in targets:
        restored = restore_backup(tmp_path / "node.backup", home, url)
        assert restored.code == COUNTY and restored.rows == sum(before.values())
        back = Node.open(home, clock)
        try:
            assert table_rows(back) == before
            assert back.settings.database_url == url
            assert all(r.fault is None for r in back.audit.verify())
            assert back.key.key_id == node.key.key_id
            assert (home / "retired-keys" / "old.pem").read_bytes() == retired.read_bytes()
            assert back.principals.get("窗口-王").name == "窗口-王"
            (case,) = back.cases.file_many([FileRequest(licence_item().implementation_code, PERSON)], "窗口-王")
            assert case.case_no  # it serves: the log goes on from where the backup left it
            with back.store.transaction() as tx:  # rows with ids of their own take new ones
                tx.raise_alarm(1, "warning", "Restored", "", "after the restore")
                tx.record_reveal(Reveal(2, "窗口-王", case.case_no, "applicant", "cli"))
            assert table_rows(back)["alarms"] == before["alarms"] + 1
        finally:
            back.close()


def test_a_running_node_is_backed_up_and_its_restored_copy_runs(tmp_path: Path) -> None:
    home = tmp_path / "county"
    cli(home, "init", "--code", COUNTY, *ANY_PORTS, "--no-bus")
    running = Running(home)
    try:
        (tmp_path / "item.json").write_text(json.dumps([ITEM]), encoding="utf-8")
        cli(home, "catalog", "import", str(tmp_path / "item.json"))
        for _ in range(3):
            cli(home, "case", "file", "--item", ITEM_CODE, "--name", "王大妈", "--id",
                "440524188001010014", "--phone", "13566667777")  # fmt: skip
        made = cli_json(home, "backup", "--out", str(tmp_path / "county.backup"))
        assert made["code"] == COUNTY and made["rows"] > 0
        assert cli(home, "backup", "--out", str(tmp_path / "county.backup"), expect=2).stderr  # never overwrites
    finally:
        running.stop()
    restored = tmp_path / "restored"
    cli_json(restored, "restore", str(tmp_path / "county.backup"))
    again = Running(restored)
    try:
        assert cli_json(restored, "audit", "verify")["ok"]
        cases = cli_json(restored, "case", "list")
        assert len(cases) == 3
        assert cli_json(restored, "status")["running"]
    finally:
        again.stop()


ITEM_CODE = f"511A0138600000-{COUNTY}-000-115113010833722043-1-00"
ITEM = {
    "basic_code": "511A0138600000",
    "implementation_code": ITEM_CODE,
    "name": "教师资格认定",
    "power_type": "01",
    "department": "区教科体局",
    "division_code": COUNTY,
    "legal_limit_days": 20,
}


def _rewrite(source: Path, out: Path, change: str) -> None:
    """A copy of the backup `source` with one thing changed."""
    with tarfile.open(source, "r:gz") as tar:
        members = [(m, tar.extractfile(m).read() if m.isfile() else b"") for m in tar.getmembers()]  # type: ignore[union-attr]
    with tarfile.open(out, "w:gz") as tar:
        for member, data in members:
            if change == "altered" and member.name == "files/yiwang.toml":
                data = data.replace(b"511602000000", b"511602000001")
            if change == "dropped" and member.name == "files/node.key":
                continue
            if change == "escape" and member.name == "files/yiwang.toml":
                member.name = "../escape.toml"
            if change == "escape" and member.name == "manifest.json":  # a manifest that lists it, as it is
                manifest = json.loads(data)
                manifest["members"]["../escape.toml"] = manifest["members"].pop("files/yiwang.toml")
                data = json.dumps(manifest).encode()
            if change == "symlink" and member.name == "files/yiwang.toml":
                member.type, member.linkname, data = tarfile.SYMTYPE, "/etc/passwd", b""
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
        if change == "extra":
            info = tarfile.TarInfo("files/extra")
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))


@pytest.mark.parametrize("change", ["altered", "dropped", "escape", "symlink", "extra", "truncated", "not a backup"])
def test_a_damaged_or_altered_backup_is_refused_and_writes_nothing(tmp_path: Path, clock: Clock, change: str) -> None:
    node = busy_node(tmp_path / "node", clock)
    make_backup(node.settings, tmp_path / "good.backup")
    node.close()
    bad = tmp_path / "bad.backup"
    if change == "truncated":
        bad.write_bytes((tmp_path / "good.backup").read_bytes()[:-300])
    elif change == "not a backup":
        bad.write_bytes(gzip.compress(b"hello"))
    else:
        _rewrite(tmp_path / "good.backup", bad, change)
    with pytest.raises(InvalidInput):
        restore_backup(bad, tmp_path / "target")
    assert not (tmp_path / "target").exists() and not (tmp_path / "escape.toml").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.backup", "good.backup", "node"]  # no leftovers


def test_a_restore_never_overwrites_and_a_newer_backup_is_refused(tmp_path: Path, clock: Clock) -> None:
    node = busy_node(tmp_path / "node", clock)
    make_backup(node.settings, tmp_path / "node.backup")
    node.close()
    with pytest.raises(InvalidInput, match="not empty"):
        restore_backup(tmp_path / "node.backup", tmp_path / "node")
    untouched = Node.open(tmp_path / "node", clock)  # the node there is as it was
    assert all(r.fault is None for r in untouched.audit.verify())
    untouched.close()
    with tarfile.open(tmp_path / "node.backup", "r:gz") as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]  # type: ignore[union-attr]
    with tarfile.open(tmp_path / "newer.backup", "w:gz") as tar:
        for member, data in members:
            if member.name == "manifest.json":
                manifest = json.loads(data)
                manifest["revision"] = "9999"
                data = json.dumps(manifest).encode()
                member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    with pytest.raises(SetupError, match="newer yiwang"):
        restore_backup(tmp_path / "newer.backup", tmp_path / "target")
    assert not (tmp_path / "target").exists()


def test_a_node_restored_from_an_older_backup_is_told_its_parent_holds_more_of_its_streams(tmp_path: Path) -> None:
    """What it wrote after the backup is at its parent only: writing on would fork its chain,
    so the link raises StreamsBehindParent at once (once), naming the stream and both ends."""
    city_code = "511600000000"
    code = f"511A0138600000-{city_code}-000-115113010833722043-1-00"
    item = {**ITEM, "implementation_code": code, "division_code": city_code, "department": "市教育局"}
    nodes: dict[str, tuple[Path, Running]] = {}
    try:
        start_chain(tmp_path, [("province", "510000000000"), ("city", city_code)], nodes)
        city, province = nodes["city"][0], nodes["province"][0]
        (tmp_path / "item.json").write_text(json.dumps([item]), encoding="utf-8")
        cli(city, "catalog", "import", str(tmp_path / "item.json"))

        def file_one() -> str:
            filed: str = cli_json(city, "case", "file", "--item", code, "--name", "王大妈", "--id", PERSON.id_number)[
                "case_no"
            ]
            return filed

        early = file_one()
        wait_for(lambda: case_json(province, early), 60, "the first case at the province")
        cli_json(city, "backup", "--out", str(tmp_path / "city.backup"))
        late = file_one()
        wait_for(lambda: case_json(province, late), 60, "the later case at the province")
        nodes["city"][1].stop()
        shutil.rmtree(city)
        cli_json(city, "restore", str(tmp_path / "city.backup"))
        nodes["city"] = (city, Running(city))
        wait_for(lambda: ("StreamsBehindParent", "510000000000") in alarms(city), 60, "the alarm at the city")
        said = [a for a in cli_json(city, "alarms", "list") if a["kind"] == "StreamsBehindParent"]
        assert len(said) == 1 and "case stream" in said[0]["detail"]
        assert case_json(city, late) is None and case_json(province, late)  # the later case: at the parent only
    finally:
        for _, running in reversed(list(nodes.values())):
            running.stop()
