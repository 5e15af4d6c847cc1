"""Addressed entries and the catalog across a wider running federation from `yiwang sim`: two
counties of one city (511602 and 511621), each down to one village, every node a separate
process. A notice from one village reaches the village of the other county through their
common ancestor, and a province item reaches both villages."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fedtools import cli, cli_json, wait_for

BRANCHES = ["511602001000", "511621101000"]


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    folder = tmp_path_factory.mktemp("sim")
    args = [sys.executable, "-m", "node.cli.app", "sim", "--dir", str(folder), "--villages", "1", "--detach", "--json"]
    for b in BRANCHES:
        args += ["--branch", b]
    started = json.loads(subprocess.run(args, capture_output=True, text=True, timeout=300, check=True).stdout)
    try:
        yield {n["code"]: Path(n["data_dir"]) for n in started["nodes"]}
    finally:
        subprocess.run(
            [sys.executable, "-m", "node.cli.app", "sim", "stop", "--dir", str(folder)], capture_output=True, timeout=60
        )


def _villages(nodes: dict[str, Path]) -> list[str]:
    return sorted(c for c in nodes if c.endswith(tuple("123456789")) and not c.endswith("000"))


def _received(home: Path) -> list[dict[str, Any]]:
    return [n for n in cli_json(home, "notice", "list") if n["state"] == "received"]


def test_the_sim_runs_two_counties_of_one_city(sim: dict[str, Path]) -> None:
    codes = sorted(sim)
    assert codes[:2] == ["510000000000", "511600000000"]
    assert {"511602000000", "511621000000", *BRANCHES} <= set(codes)
    villages = _villages(sim)
    assert [v[:9] for v in villages] == ["511602001", "511621101"]


def test_a_notice_reaches_a_village_in_another_county(sim: dict[str, Path]) -> None:
    a, b = _villages(sim)
    cli(sim[a], "notice", "send", "--to", b, "--title", "代办员培训", "周三上午在县政务中心")
    got = wait_for(lambda: _received(sim[b]), 60, "the notice at the other village")
    assert [(n["from"], n["title"]) for n in got] == [(a, "代办员培训")]
    # it went through the city (their lowest common ancestor), not the province
    city = [n for n in cli_json(sim["511600000000"], "notice", "list") if n["from"] == a]
    assert [n["state"] for n in city] == ["relayed"]
    assert cli_json(sim["510000000000"], "notice", "list") == []
    for home in sim.values():
        assert cli_json(home, "audit", "verify")["ok"], home.name


def test_a_province_item_reaches_both_villages(sim: dict[str, Path], tmp_path: Path) -> None:
    item = {
        "basic_code": "511A0138600000",
        "implementation_code": "511A0138600000-510000000000-000-1",
        "name": "教师资格认定",
        "power_type": "01",
        "department": "省教育厅",
        "division_code": "510000000000",
        "legal_limit_days": 20,
    }
    (tmp_path / "p.json").write_text(json.dumps([item]), encoding="utf-8")
    cli(sim["510000000000"], "catalog", "import", str(tmp_path / "p.json"))
    for v in _villages(sim):
        wait_for(functools.partial(_has_item, sim[v], str(item["implementation_code"])), 60, f"the item at {v}")


def _has_item(home: Path, code: str) -> bool:
    return any(i["implementation_code"] == code for i in cli_json(home, "catalog", "list"))
