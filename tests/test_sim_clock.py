"""The sim's shared clock (node.sim_clock): a node the sim made reads the machine's clock plus
the sim's offset; `yiwang sim clock` moves it ahead only, and a bad value changes nothing. The
whole federation moving days ahead is tested on running nodes in tests/test_delivery.py."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from node import sim_clock
from node.context import Node
from node.domain.errors import InvalidInput, SetupError


def _yiwang(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "node.cli.app", *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_a_node_the_sim_made_reads_the_sim_time_and_others_the_system_time(tmp_path: Path) -> None:
    folder, home = tmp_path / "sim", tmp_path / "sim" / "510000000000"
    Node.init(home, "510000000000").close()
    plain = Node.open(home)
    try:
        assert abs(plain.now() - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=5)
    finally:
        plain.close()
    sim_clock.mark(home, sim_clock.start(folder))
    assert sim_clock.advance(folder, 3) == dt.timedelta(days=3)
    moved = Node.open(home)
    try:
        ahead = moved.now() - dt.datetime.now(dt.UTC)
        assert dt.timedelta(days=3, seconds=-5) < ahead < dt.timedelta(days=3, seconds=5)
        sim_clock.advance(folder, 1.5)  # a running node sees it within a fraction of a second
        time.sleep(0.3)
        assert moved.now() - dt.datetime.now(dt.UTC) > dt.timedelta(days=4.4)
        (folder / sim_clock.CLOCK_FILE).write_text("half a fi")  # a bad file: the last good offset stays
        time.sleep(0.3)
        assert moved.now() - dt.datetime.now(dt.UTC) > dt.timedelta(days=4.4)
    finally:
        moved.close()


def test_the_sim_clock_moves_ahead_only_and_a_bad_value_changes_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "sim"
    folder.mkdir()
    out = _yiwang("sim", "clock", "--dir", str(folder), "--advance-days", "2")
    assert out.returncode != 0 and "yiwang sim --dir" in out.stderr  # no sim here: says how to start one
    path = sim_clock.start(folder)
    before = path.read_text()
    for bad in (-1.0, 0.0, 301.0):
        with pytest.raises(InvalidInput, match="--days"):
            sim_clock.advance(folder, bad)
        assert path.read_text() == before
    refused = _yiwang("sim", "clock", "--dir", str(folder), "--advance-days", "-1")
    assert refused.returncode != 0 and "--days" in refused.stderr and path.read_text() == before
    shown = json.loads(_yiwang("sim", "clock", "--dir", str(folder), "--advance-days", "10", "--json").stdout)
    assert shown["offset_days"] == 10.0
    assert dt.datetime.fromisoformat(shown["now"]) - dt.datetime.now(dt.UTC) > dt.timedelta(days=9.9)
    path.write_text("{}")
    with pytest.raises(SetupError, match="offset_seconds"):
        sim_clock.read_offset(path)
