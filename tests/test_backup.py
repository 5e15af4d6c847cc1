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

from node.context import Node
from node.domain.errors import InvalidInput, SetupError
from node.domain.roles import Role
from node.services.backup import make_backup, restore_backup
from node.services.cases import FileRequest
from node.store.queues import Reveal
from node.store.tables import metadata
from tests.conftest import Clock, fresh_pg_schema, licence_item
from tests.fedtools import ANY_PORTS, Running, case_json, cli, cli_json, enroll_token, start_chain, wait_for
from tests.test_replica import PERSON

COUNTY = "511602000000"
CITY = "511600000000"


def table_rows(node: Node) -> dict[str, int]:
    """Rows of every table of the node, accounts and API records included."""
    with node.store.read() as tx:
        return {
            t.name: int(tx.conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in metadata.sorted_tables
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


def city_streams(home: Path) -> dict[str, int]:
    """Entries of each of the city's streams the node at `home` holds, after checking them all."""
    audit = cli_json(home, "audit", "verify")
    assert audit["ok"]
    return {s["stream"]: s["entries"] for s in audit["streams"] if s["origin"] == CITY}


CITY_ITEM = f"511A0138600000-{CITY}-000-115113010833722043-1-00"
FILING = ("case", "file", "--item", CITY_ITEM, "--name", "王大妈", "--id", PERSON.id_number)


def city_under_province(base: Path, nodes: dict[str, tuple[Path, Running]]) -> tuple[Path, Path]:
    """A running province and city, the city with an item to file cases of (FILING)."""
    start_chain(base, [("province", "510000000000"), ("city", CITY)], nodes)
    city, province = nodes["city"][0], nodes["province"][0]
    item = {**ITEM, "implementation_code": CITY_ITEM, "division_code": CITY, "department": "市教育局"}
    (base / "item.json").write_text(json.dumps([item]), encoding="utf-8")
    cli(city, "catalog", "import", str(base / "item.json"))
    return city, province


def test_a_node_restored_from_an_older_backup_gets_back_what_it_wrote_since_and_goes_on(
    tmp_path: Path, database_url: str, request: pytest.FixtureRequest
) -> None:
    """On either backend: until its link has asked its parent the restored node writes nothing;
    then the parent sends back the entries it wrote after the backup (StreamsBehindParent says
    so, once), and what it writes next reaches the parent with no entry lost or held twice."""
    nodes: dict[str, tuple[Path, Running]] = {}
    try:
        city, province = city_under_province(tmp_path, nodes)
        early = cli_json(city, *FILING)["case_no"]
        wait_for(lambda: case_json(province, early), 60, "the first case at the province")
        cli_json(city, "backup", "--out", str(tmp_path / "city.backup"))
        late = cli_json(city, *FILING)["case_no"]
        wait_for(lambda: case_json(province, late), 60, "the later case at the province")
        nodes["city"][1].stop()
        shutil.rmtree(city)

        url = request.getfixturevalue("empty_pg_url") if database_url else ""
        cli_json(city, "restore", str(tmp_path / "city.backup"), "--database-url", url)
        restored = city_streams(city)
        refused = cli(city, *FILING, expect=5)
        assert "has not yet checked with its parent" in refused.stderr
        assert "尚未与上级核对" in cli(city, *FILING, expect=5, lang="zh_CN").stderr
        assert city_streams(city) == restored and case_json(city, late) is None  # nothing written
        assert cli_json(city, "status")["recovering"] == {"*": 0}
        assert "not yet checked with the parent" in cli(city, "status").stdout

        nodes["city"] = (city, Running(city))
        wait_for(lambda: case_json(city, late), 60, "the later case back at the city")
        said = [a for a in cli_json(city, "alarms", "list") if a["kind"] == "StreamsBehindParent"]
        assert len(said) == 1 and "case stream" in said[0]["detail"]
        assert cli_json(city, "status")["recovering"] == {}  # writable again
        after = cli_json(city, *FILING)["case_no"]
        assert after not in (early, late)
        wait_for(lambda: case_json(province, after), 60, "the case filed after the restore at the province")
        held = city_streams(city)
        assert held["case"] == restored["case"] + 2  # the later case's entry back, the new one's
        assert wait_for(lambda: city_streams(province) == held, 30, "the province to hold what the city holds")
    finally:
        for _, running in reversed(list(nodes.values())):
            running.stop()


def test_a_node_that_lost_its_disk_and_key_re_enrolls_and_gets_its_streams_back(
    tmp_path: Path, database_url: str, request: pytest.FixtureRequest
) -> None:
    """On either backend, no backup: the province revokes the lost key's certificate and gives a
    token; the city re-enrolls on a new disk under the same code and gets back every entry it
    had written, which still verify (signed with the old key) at both ends; what it writes next,
    signed with the new key, follows on at the province."""
    nodes: dict[str, tuple[Path, Running]] = {}
    try:
        city, province = city_under_province(tmp_path, nodes)
        filed = [cli_json(city, *FILING)["case_no"] for _ in range(2)]
        wait_for(lambda: all(case_json(province, c) for c in filed), 60, "the cases at the province")
        old_key = (city / "node.key").read_bytes()
        wait_for(lambda: city_streams(province) == city_streams(city), 30, "the province to hold the city's log")
        written = city_streams(city)
        nodes["city"][1].stop()
        shutil.rmtree(city)  # the disk, and the key on it

        assert cli_json(province, "enroll", "revoke", CITY, "--reason", "key lost with the disk")["revoked"] == 1
        token = enroll_token(province, CITY)
        url = request.getfixturevalue("empty_pg_url") if database_url else ""
        address = nodes["province"][1].ports["federation"]
        cli(city, "init", "--code", CITY, "--parent", address, "--token", token, "--database-url", url, *ANY_PORTS)
        assert city_streams(city) == written  # every entry back, its chain and old heads checked
        assert all(case_json(city, c) for c in filed)
        assert (city / "node.key").read_bytes() != old_key  # a new key, certified anew

        nodes["city"] = (city, Running(city))
        after = cli_json(city, *FILING)["case_no"]
        assert after not in filed
        wait_for(lambda: case_json(province, after), 60, "the new case at the province")
        held = city_streams(city)
        assert held["case"] == written["case"] + 1
        assert wait_for(lambda: city_streams(province) == held, 30, "the province to hold what the city holds")
    finally:
        for _, running in reversed(list(nodes.values())):
            running.stop()
