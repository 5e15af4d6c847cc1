"""Helpers for tests that run real node processes: the CLI as a subprocess, `yiwang run`
started and stopped by PID, waiting for conditions with a bound."""

from __future__ import annotations

import functools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from node.cli.sim import PORTS
from node.divisions_data import example_file

ANY_PORTS = PORTS  # every port picked by the system: federation, enrollment, API, web


def portal_item(code: str) -> dict[str, object]:
    """A licence item of division `code` in the documented full-field JSON (catalog import)."""
    return {
        "basic_code": "511A0138600000",
        "implementation_code": f"511A0138600000-{code}-000-1",
        "name": "教师资格认定",
        "power_type": "01",
        "department": "窗口",
        "division_code": code,
        "legal_limit_days": 20,
        "promised_limit_days": 10,
    }


def cli(
    home: Path, *args: str, expect: int = 0, lang: str = "en", columns: int = 200
) -> subprocess.CompletedProcess[str]:
    """The CLI on the node at `home`, in `lang` (the tests read English; tests/test_locale.py
    the Chinese), at `columns` wide."""
    env = {**os.environ, "COLUMNS": str(columns), "YIWANG_LANG": lang}
    proc = subprocess.run(
        [sys.executable, "-m", "node.cli.app", *args, "-d", str(home)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == expect, f"{args}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def cli_json(home: Path, *args: str) -> Any:
    return json.loads(cli(home, *args, "--json").stdout)


def wait_for(check: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


class Running:
    """A `yiwang run` process; stopped by its PID."""

    def __init__(self, home: Path, ping_every: float = 0.5) -> None:
        self.home = home
        (home / "run.json").unlink(missing_ok=True)
        self.log = (home / "run.out").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "node.cli.app", "run", "-d", str(home), "--ping-every", str(ping_every)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.ports: dict[str, Any] = wait_for(self._ports, 30, f"{home.name} to start")

    def _ports(self) -> dict[str, Any] | None:
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.home.name} exited: {(self.home / 'run.out').read_text()}")
        try:
            data: dict[str, Any] = json.loads((self.home / "run.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return data if data.get("pid") == self.proc.pid else None

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.log.close()


BOOKKEEPING = ("alarms", "peers", "node_meta")


def db_counts(home: Path, skip: tuple[str, ...] = BOOKKEEPING) -> dict[str, int]:
    """Rows per table of a node's SQLite file, without alarms, link state and the counters in
    node_meta (the event-bus relay's cursors move when it publishes an alarm)."""
    with sqlite3.connect(home / "yiwang.db") as conn:
        tables = [r[0] for r in conn.execute("select name from sqlite_master where type='table'")]
        return {t: conn.execute(f"select count(*) from {t}").fetchone()[0] for t in tables if t not in skip}


def alarms(home: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(home / "yiwang.db") as conn:
        return [(k, p) for k, p in conn.execute("select kind, peer from alarms order by id")]


def settled_counts(home: Path, skip: tuple[str, ...] = BOOKKEEPING, timeout: float = 30.0) -> dict[str, int]:
    """db_counts once replication into the node has come to rest (equal over one second)."""
    deadline = time.monotonic() + timeout
    last = db_counts(home, skip)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = db_counts(home, skip)
        if now == last:
            return now
        last = now
    raise AssertionError(f"{home.name} kept changing for {timeout} s")


def case_json(home: Path, case_no: str) -> dict[str, Any] | None:
    """`yiwang case show --json`, or None while the node does not hold the case."""
    proc = subprocess.run(
        [sys.executable, "-m", "node.cli.app", "case", "show", case_no, "--json", "-d", str(home)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode != 0:
        return None
    shown: dict[str, Any] = json.loads(proc.stdout)
    return shown


def has_item(home: Path, code: str) -> bool:
    """Whether the node at `home` lists the catalog item `code`."""
    return any(i["implementation_code"] == code for i in cli_json(home, "catalog", "list"))


def wait_case(home: Path, case_no: str, what: str, **expect: Any) -> dict[str, Any]:
    """The case as the node at `home` shows it, once its fields have the `expect`ed values."""

    def ready() -> dict[str, Any] | None:
        shown = case_json(home, case_no)
        return shown if shown and all(shown.get(k) == v for k, v in expect.items()) else None

    found: dict[str, Any] = wait_for(ready, 90, what)
    return found


def case_field(home: Path, case_no: str, field: str) -> str:
    shown = case_json(home, case_no)
    return str(shown.get(field, "")) if shown else ""


def bus_account(home: Path) -> dict[str, str]:
    """nats.connect keywords for the bus of a running node: its own account (tests only; a
    department system gets a subscribe-only account with `yiwang bus user add`)."""
    from node.app.bus_accounts import NODE_USER, BusAccounts

    return {"user": NODE_USER, "password": BusAccounts.load(home / "nats").node_password}


def knows_division(home: Path, code: str) -> bool:
    """Whether the node at `home` holds `code` in its province's published division list."""
    with sqlite3.connect(home / "yiwang.db") as db:
        return db.execute("SELECT 1 FROM divisions WHERE code = ?", (code,)).fetchone() is not None


def init_top(home: Path, code: str, *args: str) -> None:
    """`yiwang init` of the chain's first node; a province then publishes its division tree (the
    package's example tree), as `yiwang sim` does."""
    cli(home, "init", "--code", code, *args)
    example = example_file(code[:2])
    if code.endswith("0000000000") and example is not None:
        cli(home, "divisions", "import", str(example))


def enroll_token(parent: Path, code: str) -> str:
    """A one-time token for `code` from the node at `parent`; below county level once the
    province's division list has reached the parent."""
    if not code.endswith("000000"):
        wait_for(functools.partial(knows_division, parent, code), 60, f"{code} in the parent's division list")
    token: str = cli_json(parent, "enroll", "token", "--child", code)["token"]
    return token


def start_chain(base: Path, chain: list[tuple[str, str]], nodes: dict[str, tuple[Path, Running]]) -> None:
    """Init and run a chain of nodes, each child enrolled by its parent through the CLI, into
    `nodes` (name -> (data directory, running process)) as they start, so that the caller's
    `finally` stops those that started even when a later one fails."""
    parent: tuple[Path, Running] | None = None
    for name, code in chain:
        home = base / name
        if parent is None:
            init_top(home, code, *ANY_PORTS)
        else:
            token = enroll_token(parent[0], code)
            address = parent[1].ports["federation"]
            cli(home, "init", "--code", code, "--parent", address, "--token", token, *ANY_PORTS)
        nodes[name] = (home, Running(home))
        parent = nodes[name]
