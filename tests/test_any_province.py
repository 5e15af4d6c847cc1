"""A province the package ships no tree of (issue 13): `yiwang sim` runs two branches of Gansu
from a division file made for this test, every node names itself from the tree its province
published, a code in no tree is refused, and a cross-region (通办) case filed in one city is
handled in the other and delivered back, all through the CLI of separate processes."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fedtools import cli, cli_json, db_counts, has_item, wait_case, wait_for
from tests.test_divisions import gansu_rows, write_tree

BRANCHES = ["620102001000", "620502001000"]
COUNTY_A, COUNTY_B = "620102000000", "620502000000"
VILLAGE_A, VILLAGE_B = "620102001001", "620502001001"
PERSON = ("马小兰", "62010219900101002X", "13893100000")


def _sim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "node.cli.app", "sim", *args], capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def gansu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Path], dict[str, str]]]:
    base = tmp_path_factory.mktemp("gansu")
    tree = write_tree(base / "gansu-divisions.csv", gansu_rows())
    args = ["--dir", str(base / "sim"), "--divisions", str(tree), "--villages", "1", "--detach", "--json"]
    for b in BRANCHES:
        args += ["--branch", b]
    started = _sim(*args)
    assert started.returncode == 0, started.stderr
    nodes = json.loads(started.stdout)["nodes"]
    try:
        yield {n["code"]: Path(n["data_dir"]) for n in nodes}, {n["code"]: n["name"] for n in nodes}
    finally:
        _sim("stop", "--dir", str(base / "sim"))


def test_without_a_tree_of_its_province_the_sim_says_what_to_pass(tmp_path: Path) -> None:
    refused = _sim("--dir", str(tmp_path / "sim"), "--branch", BRANCHES[0], "--detach")
    assert refused.returncode == 2 and "--divisions" in refused.stderr
    assert not (tmp_path / "sim" / "sim.json").exists()


def test_every_node_names_itself_from_the_tree_its_province_published(
    gansu: tuple[dict[str, Path], dict[str, str]],
) -> None:
    homes, names = gansu
    assert names[COUNTY_A] == "城关区" and names[VILLAGE_B] == "东岗社区"
    village = wait_for(lambda: cli_json(homes[VILLAGE_A], "status").get("name"), 60, "the village's name")
    assert village == "东岗社区"
    shown = cli_json(homes[VILLAGE_A], "divisions", "show", "620502001002")
    assert (shown["name"], shown["parent"]) == ("西关村", "620502001000")
    # a township no tree has: the county refuses to enroll it, and writes nothing
    before = db_counts(homes[COUNTY_A])
    refused = cli(homes[COUNTY_A], "enroll", "token", "--child", "620102009000", expect=2)
    assert "no division in the division list" in refused.stderr
    assert db_counts(homes[COUNTY_A]) == before
    # a county publishes no tree
    assert cli(homes[COUNTY_A], "divisions", "import", str(homes[COUNTY_A] / "yiwang.toml"), expect=2).stderr


def test_a_cross_region_case_of_gansu_is_handled_in_the_other_city_and_delivered_back(
    gansu: tuple[dict[str, Path], dict[str, str]], tmp_path: Path
) -> None:
    homes, _ = gansu
    code = f"620A0138600000-{COUNTY_B}-000-116205000000000000-1-01"
    item = {
        "basic_code": "620A0138600000",
        "implementation_code": code,
        "name": "教师资格认定",
        "power_type": "01",
        "department": "秦州区教育局",
        "division_code": COUNTY_B,
        "legal_limit_days": 20,
        "agent_allowed": True,
        "cross_region": True,
    }
    (tmp_path / "b.json").write_text(json.dumps([item]), encoding="utf-8")
    cli(homes[COUNTY_B], "catalog", "import", str(tmp_path / "b.json"))
    wait_for(functools.partial(has_item, homes[VILLAGE_A], code), 90, "the cross-region item at village A")
    name, id_number, phone = PERSON
    filed = cli_json(
        homes[VILLAGE_A], "case", "file", "--item", code, "--name", name, "--id", id_number, "--phone", phone,
        "--agent", "代办员-马", "--consent",
    )  # fmt: skip
    case_no = filed["case_no"]
    wait_case(homes[COUNTY_B], case_no, "the offer in the other city", offered_to=COUNTY_B)
    cli(homes[COUNTY_B], "case", "take", case_no)
    shown = wait_for(
        lambda: cli_json(homes[COUNTY_B], "case", "show", case_no, "--reveal").get("applicant"), 90, "the bundle"
    )
    assert shown["name"] == name
    cli(homes[COUNTY_B], "case", "accept", case_no)
    decided = cli_json(homes[COUNTY_B], "case", "decide", case_no, "--approve", "--license")
    cli(homes[COUNTY_B], "case", "offer", case_no, "--to", VILLAGE_A, "--purpose", "result")
    wait_case(homes[VILLAGE_A], case_no, "the result back at village A", offered_to=VILLAGE_A, status="approved")
    cli(homes[VILLAGE_A], "case", "take", case_no)
    cli(homes[VILLAGE_A], "case", "deliver", case_no)
    wait_case(homes["620000000000"], case_no, "the delivery at the province", status="delivered")
    custody = [c["node"] for c in cli_json(homes[VILLAGE_A], "case", "show", case_no)["custody"]]
    assert custody == [VILLAGE_A, COUNTY_B, VILLAGE_A]
    licences = wait_for(lambda: cli_json(homes[VILLAGE_A], "license", "list"), 60, "the licence at village A")
    assert [lic["license_no"] for lic in licences] == [decided["license_no"]]
    # the applicant's data stays at the filing village and the handling county
    for division, home in homes.items():
        blobs = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())
        if division not in (VILLAGE_A, COUNTY_B):
            assert id_number.encode() not in blobs and name.encode() not in blobs, division
