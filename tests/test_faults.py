"""Replication under faults, on a real five-tier chain of separate processes whose village
dials its township through a proxy on loopback: the village working offline behind a cut
link, a county killed with SIGKILL in the middle of a 20,000-entry transfer, the province
restarted during catch-up, a slow and flapping link. After each: every village entry is at the
province exactly once and in order, every node's `audit verify` passes, and the province's
NATS stream holds each entry once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from node.app.bus import free_port
from node.context import Node
from node.services.cases import Applicant, FileRequest
from tests.fedtools import ANY_PORTS, Running, bus_account, case_field, cli, cli_json, enroll_token, init_top, wait_for
from tests.proxy import Proxy
from tests.test_bus import _all_messages

CHAIN = ["510000000000", "511600000000", "511602000000", "511602001000", "511602001001"]
NAMES = ["province", "city", "county", "township", "village"]
ITEM = f"511A0138600000-{CHAIN[4]}-000-1"
PERSON = Applicant("1", "李四", "11010519491231002X", "13800001111")


class Chain:
    def __init__(self, base: Path) -> None:
        self.homes = {name: base / name for name in NAMES}
        self.running: dict[str, Running] = {}
        self.proxy: Proxy | None = None

    def start(self, name: str) -> Running:
        self.running[name] = Running(self.homes[name])
        return self.running[name]

    def kill(self, name: str) -> None:
        run = self.running.pop(name)
        os.kill(run.proc.pid, signal.SIGKILL)
        run.proc.wait(timeout=10)
        run.log.close()

    def stop(self, name: str) -> None:
        self.running.pop(name).stop()

    def at_province(self) -> int:
        return len(village_seqs(self.homes["province"]))


def village_seqs(home: Path) -> list[int]:
    """The village's case-stream sequence numbers a node holds, in order."""
    with sqlite3.connect(home / "yiwang.db") as conn:
        sql = "select seq from entries where origin = ? and stream = 'case' order by seq"
        return [r[0] for r in conn.execute(sql, (CHAIN[4],))]


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    c = Chain(tmp_path_factory.mktemp("faults"))
    try:
        for i, name in enumerate(NAMES):
            home = c.homes[name]
            # fixed federation ports: a restarted node must be where its children dial
            ports = ["--listen", f"127.0.0.1:{free_port()}", *ANY_PORTS[2:]]
            if i == 0:
                init_top(home, CHAIN[0], *ports)
            else:
                parent = NAMES[i - 1]
                token = enroll_token(c.homes[parent], CHAIN[i])
                address = c.running[parent].ports["federation"]
                if name == "village":  # the village reaches its township only through the proxy
                    c.proxy = Proxy(address)
                    address = c.proxy.address
                cli(home, "init", "--code", CHAIN[i], "--parent", address, "--token", token, *ports)
            c.start(name)
        item = {
            "basic_code": "511A0138600000",
            "implementation_code": ITEM,
            "name": "教师资格认定",
            "power_type": "01",
            "department": "窗口",
            "division_code": CHAIN[4],
            "legal_limit_days": 20,
        }
        (c.homes["village"] / "item.json").write_text(json.dumps([item]), encoding="utf-8")
        cli(c.homes["village"], "catalog", "import", str(c.homes["village"] / "item.json"))
        yield c
    finally:
        for name in reversed(list(c.running)):
            c.running[name].stop()
        if c.proxy is not None:
            c.proxy.close()


def file_cases(chain: Chain, n: int) -> int:
    """File `n` cases at the village (its store, beside the running node); returns its case tail."""
    node = Node.open(chain.homes["village"])
    try:
        for start in range(0, n, 2000):
            node.cases.file_many([FileRequest(ITEM, PERSON)] * min(2000, n - start), "agent-07")
        with node.store.read() as tx:
            return tx.tail(CHAIN[4], "case")[0]
    finally:
        node.close()


def _bus_ids(url: str, account: dict[str, str]) -> list[str]:
    """Message ids of the village's case entries in the province's JetStream stream, in order."""
    ids = [h.get("Nats-Msg-Id", "") for _, _, h in asyncio.run(_all_messages(url, account))]
    return [i for i in ids if i.startswith(f"{CHAIN[4]}:case:")]


def assert_exactly_once_everywhere(chain: Chain, total: int) -> None:
    wait_for(lambda: chain.at_province() == total, 240, f"{total} village entries at the province")
    with sqlite3.connect(chain.homes["province"] / "yiwang.db") as conn:
        seqs = [
            r[0]
            for r in conn.execute(
                "select seq from entries where origin = ? and stream = 'case' order by seq", (CHAIN[4],)
            )
        ]
    assert seqs == list(range(1, total + 1))  # each once, none missing
    for name in NAMES:
        assert cli_json(chain.homes[name], "audit", "verify")["ok"], name
    url = chain.running["province"].ports["nats"]
    account = bus_account(chain.homes["province"])
    ids = wait_for(lambda: (got := _bus_ids(url, account)) and len(got) >= total and got, 120, "the bus")
    assert ids == [f"{CHAIN[4]}:case:{i}" for i in range(1, total + 1)]  # once each, in order


def test_the_village_works_offline_and_delivers_everything_when_its_link_returns(chain: Chain) -> None:
    assert chain.proxy is not None
    wait_for(lambda: cli_json(chain.homes["village"], "status")["peers"][0]["state"] == "connected", 30, "link")
    chain.proxy.cut()
    wait_for(lambda: cli_json(chain.homes["village"], "status")["peers"][0]["state"] == "disconnected", 30, "cut")
    before = chain.at_province()
    total = file_cases(chain, 5000)  # offline: filing ...
    assert [i["implementation_code"] for i in cli_json(chain.homes["village"], "catalog", "list")] == [ITEM]  # reading
    time.sleep(2)
    assert chain.at_province() == before  # nothing got through the cut link
    chain.proxy.restore()
    assert_exactly_once_everywhere(chain, total)


def test_a_county_killed_mid_transfer_resumes_without_loss_or_duplicates(chain: Chain) -> None:
    before = chain.at_province()
    total = file_cases(chain, 20_000)
    wait_for(lambda: len(village_seqs(chain.homes["county"])) > before, 120, "the transfer to reach the county")
    chain.kill("county")
    assert chain.at_province() < total  # killed in the middle
    chain.start("county")
    assert_exactly_once_everywhere(chain, total)


def _county_has_more(chain: Chain, than: int) -> bool:
    with sqlite3.connect(chain.homes["county"] / "yiwang.db") as conn:
        n: int = conn.execute(
            "select count(*) from entries where origin = ? and stream = 'case'", (CHAIN[4],)
        ).fetchone()[0]
        return n > than


def test_a_province_restarted_during_catch_up_gets_everything_once(chain: Chain) -> None:
    assert chain.proxy is not None
    chain.proxy.cut()
    before = chain.at_province()
    total = file_cases(chain, 5000)
    chain.proxy.restore()
    wait_for(lambda: chain.at_province() > before, 120, "catch-up to start")
    chain.stop("province")
    chain.start("province")
    assert_exactly_once_everywhere(chain, total)


def test_a_slow_flapping_link_still_makes_progress(chain: Chain) -> None:
    assert chain.proxy is not None
    before = chain.at_province()
    chain.proxy.rate = 100_000  # bytes/s each way
    total = file_cases(chain, 1500)
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline and chain.at_province() < total:  # up 3 s, down 1 s, bounded
            time.sleep(3)
            chain.proxy.cut()
            time.sleep(1)
            chain.proxy.restore()
        assert chain.at_province() > before  # progress while flapping
    finally:
        chain.proxy.rate = 0
        chain.proxy.restore()
    assert_exactly_once_everywhere(chain, total)


def test_the_county_crashing_between_an_offer_and_its_answer_loses_nothing(chain: Chain) -> None:
    """An errand's offer reaches the county; the county is killed with SIGKILL before anyone
    answers; after the restart the offer is still open there and custody moves on."""
    county_item = {
        "basic_code": "511A0138600000",
        "implementation_code": f"511A0138600000-{CHAIN[2]}-000-1",
        "name": "教师资格认定",
        "power_type": "01",
        "department": "区教科体局",
        "division_code": CHAIN[2],
        "legal_limit_days": 20,
        "agent_allowed": True,
    }
    (chain.homes["county"] / "item.json").write_text(json.dumps([county_item]), encoding="utf-8")
    cli(chain.homes["county"], "catalog", "import", str(chain.homes["county"] / "item.json"))
    code = str(county_item["implementation_code"])
    wait_for(
        lambda: any(i["implementation_code"] == code for i in cli_json(chain.homes["village"], "catalog", "list")),
        60,
        "the county item at the village",
    )
    filed = cli_json(
        chain.homes["village"],
        "case",
        "file",
        "--item",
        code,
        "--name",
        "赵六",
        "--id",
        "11010519491231002X",
        "--agent",
        "agent-07",
        "--consent",
    )
    case_no = filed["case_no"]
    wait_for(
        lambda: case_field(chain.homes["county"], case_no, "offered_to") == CHAIN[2], 90, "the offer at the county"
    )
    chain.kill("county")
    chain.start("county")
    assert case_field(chain.homes["county"], case_no, "offered_to") == CHAIN[2]  # durable across the crash
    cli(chain.homes["county"], "case", "take", case_no)
    wait_for(
        lambda: case_field(chain.homes["village"], case_no, "custodian") == CHAIN[2], 90, "the take at the village"
    )
    # two nodes act at once: the county (custodian) and the village (no longer): exactly one wins
    results: dict[str, int] = {}

    def run(name: str, *args: str) -> None:
        proc = subprocess.run(
            [sys.executable, "-m", "node.cli.app", *args, "-d", str(chain.homes[name])],
            capture_output=True,
            text=True,
            timeout=120,
        )
        results[name] = proc.returncode

    threads = [
        threading.Thread(target=run, args=("county", "case", "accept", case_no)),
        threading.Thread(target=run, args=("village", "case", "withdraw", case_no, "--reason", "撤回")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {"county": 0, "village": 4}  # NotCustodian: exit 4, a clear error
    wait_for(lambda: case_field(chain.homes["province"], case_no, "status") == "accepted", 90, "the province")
    for name in NAMES:
        assert cli_json(chain.homes[name], "audit", "verify")["ok"], name
