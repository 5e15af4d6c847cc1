"""Benchmark: replication over real links between `yiwang run` processes on 127.0.0.1.

(a) one link: a city holds N case entries filed while its link was down; from the moment its
    `yiwang run` starts until the province holds all N;
(b) end to end: the same with a village of a five-tier chain (`yiwang sim`), until the
    province holds the village's N entries (relayed by township, county and city).
Each rate is printed next to the raw `sqlite3.executemany` rate of the same entry rows,
measured in the same run. Rates count from the first arrival at the province (the dialling
process's start-up, about a second, is printed separately in brackets). Both transfers run with
every node's bus relay on (as deployed) and again with the bus off (`init --no-bus`); what the
bus costs is printed beside them. Both transfers run once more, bus off, with the province on
the national suite (`init --suite sm2`: SM2 heads, signed per batch, and SM3 entry hashes), and
the SM2 rate is printed as a ratio of the P-256 rate of the same run (target: within 20 %).
Bounded: --entries cases, and --timeout seconds per transfer.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from node.cli.sim import PORTS
from node.context import Node
from node.services.cases import Applicant, FileRequest
from node.startup import settle_after_startup

ROOT = Path(__file__).resolve().parent.parent


def yiwang(*args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "node.cli.app", *args], capture_output=True, text=True, check=True, timeout=300
    ).stdout


def start(home: Path) -> subprocess.Popen[bytes]:
    (home / "run.json").unlink(missing_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "node.cli.app", "run", "-d", str(home), "--ping-every", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        if (home / "run.json").exists():
            return proc
        time.sleep(0.1)
    raise SystemExit(f"{home} did not start")


def file_cases(home: Path, count: int) -> None:
    """File `count` cases at a stopped node (its own item, batches of 500)."""
    node = Node.open(home)
    code = node.code
    item = {
        "basic_code": "B1",
        "implementation_code": f"B1-{code}",
        "name": "bench item",
        "power_type": "20",
        "department": "窗口",
        "division_code": code,
    }
    path = home / "item.json"
    path.write_text(json.dumps([item]), encoding="utf-8")
    node.close()
    yiwang("catalog", "import", str(path), "-d", str(home))
    node = Node.open(home)
    person = Applicant("1", "某人", "11010519491231002X")
    for first in range(0, count, 500):
        node.cases.file_many([FileRequest(f"B1-{code}", person)] * min(500, count - first), "bench")
    node.close()


def held(province: Path, origin: str) -> int:
    with sqlite3.connect(province / "yiwang.db") as conn:
        value: int = conn.execute(
            "select coalesce(max(seq), 0) from stream_tails where origin = ? and stream = 'case'", (origin,)
        ).fetchone()[0]
        return value


def transfer(province: Path, child: Path, origin: str, count: int, timeout: float) -> tuple[float, float]:
    """(entries/s from the first arrival on, entries/s including the child's start-up)."""
    start_at = time.perf_counter()
    proc = start(child)
    first: tuple[float, int] | None = None
    try:
        while (have := held(province, origin)) < count:
            if first is None and have > 0:
                first = (time.perf_counter(), have)
            if time.perf_counter() - start_at > timeout:
                raise SystemExit(f"timed out: {have} of {count} entries arrived")
            time.sleep(0.02)
        end = time.perf_counter()
        steady = (count - first[1]) / (end - first[0]) if first and end > first[0] else count / (end - start_at)
        return steady, count / (end - start_at)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def raw_rate(source: Path, origin: str) -> float:
    with sqlite3.connect(source / "yiwang.db") as src:
        schema = src.execute("select sql from sqlite_master where name = 'entries'").fetchone()[0]
        rows = src.execute("select * from entries where origin = ? and stream = 'case'", (origin,)).fetchall()
    with tempfile.TemporaryDirectory() as tmp:
        dst = sqlite3.connect(Path(tmp) / "raw.db", isolation_level=None)
        dst.execute("PRAGMA journal_mode=WAL")
        dst.execute("PRAGMA synchronous=NORMAL")
        dst.execute(schema)
        t = time.perf_counter()
        for first in range(0, len(rows), 500):
            dst.execute("BEGIN")
            dst.executemany(f"insert into entries values ({','.join('?' * len(rows[0]))})", rows[first : first + 500])
            dst.execute("COMMIT")
        elapsed = time.perf_counter() - t
        dst.close()
    return len(rows) / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--timeout", type=float, default=600.0)
    ns = parser.parse_args()
    settle_after_startup()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        one, raw_one = one_link(base / "bus", ns.entries, ns.timeout, bus=True)
        one_quiet, _ = one_link(base / "quiet", ns.entries, ns.timeout, bus=False)
        chain, raw_chain = five_tiers(base / "bus", ns.entries, ns.timeout, bus=True)
        chain_quiet, _ = five_tiers(base / "quiet", ns.entries, ns.timeout, bus=False)
        one_sm2, _ = one_link(base / "sm2", ns.entries, ns.timeout, bus=False, suite="sm2")
        chain_sm2, _ = five_tiers(base / "sm2", ns.entries, ns.timeout, bus=False, suite="sm2")
    print(f"{ns.entries} case entries; rates from the first arrival on (with the child's start-up in brackets)")
    for label, (rate, total), raw, target, (quiet, _) in (
        ("(a) one link", one, raw_one, 0.4, one_quiet),
        ("(b) five tiers", chain, raw_chain, 0.2, chain_quiet),
    ):
        bus_us = (1 / rate - 1 / quiet) * 1e6
        print(
            f"{label:16s}: {rate:9.1f} entries/s ({total:.1f})   raw {raw:9.1f}/s   ratio {rate / raw:.3f} "
            f"(target >= {target})   without the bus {quiet:9.1f}/s, ratio {quiet / raw:.3f}: "
            f"the bus costs {bus_us:.1f} us an entry"
        )
    for label, (p256, _), (sm2, _) in (
        ("(a) one link", one_quiet, one_sm2),
        ("(b) five tiers", chain_quiet, chain_sm2),
    ):
        print(
            f"{label:16s}, bus off: P-256 {p256:9.1f} entries/s   SM2/SM3 {sm2:9.1f} entries/s   "
            f"ratio {sm2 / p256:.3f} (target >= 0.8)"
        )
    return 0


def one_link(
    base: Path, entries: int, timeout: float, bus: bool, suite: str = "p256"
) -> tuple[tuple[float, float], float]:
    """(a): a city's `entries` case entries to its province over one link."""
    flag = [] if bus else ["--no-bus"]
    province, city = base / "a-province", base / "a-city"
    yiwang("init", "--code", "510000000000", "--suite", suite, *PORTS, *flag, "-d", str(province))
    prov = start(province)
    try:
        ports = json.loads((province / "run.json").read_text())
        token = json.loads(yiwang("enroll", "token", "--child", "511600000000", "--json", "-d", str(province)))
        yiwang(
            "init",
            "--code",
            "511600000000",
            "--parent",
            ports["federation"],
            "--token",
            token["token"],
            *PORTS,
            *flag,
            "-d",
            str(city),
        )
        file_cases(city, entries)
        rates = transfer(province, city, "511600000000", entries, timeout)
    finally:
        prov.terminate()
        prov.wait(timeout=30)
    return rates, raw_rate(city, "511600000000")


def five_tiers(
    base: Path, entries: int, timeout: float, bus: bool, suite: str = "p256"
) -> tuple[tuple[float, float], float]:
    """(b): a village's `entries` case entries through township, county and city to the province."""
    sim = base / "sim"
    args = [
        "sim",
        "--dir",
        str(sim),
        "--branch",
        "511602001000",
        "--villages",
        "1",
        "--detach",
        "--json",
        "--suite",
        suite,
        *([] if bus else ["--no-bus"]),
    ]
    nodes = json.loads(yiwang(*args))["nodes"]
    try:
        village = nodes[-1]
        subprocess.run(["kill", str(village["pid"])], check=True)
        time.sleep(3)
        file_cases(Path(village["data_dir"]), entries)
        rates = transfer(sim / "510000000000", Path(village["data_dir"]), village["code"], entries, timeout)
    finally:
        yiwang("sim", "stop", "--dir", str(sim))
    return rates, raw_rate(Path(village["data_dir"]), village["code"])


if __name__ == "__main__":
    sys.exit(main())
