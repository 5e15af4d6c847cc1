"""Benchmark: cases filed and walked through the service layer vs raw sqlite3.executemany.

1. Batched path: N cases (default 20,000) in batches of 500, each batch filed, accepted,
   decided and delivered through CaseService (validation, sealing, entry, chain, signed head,
   derived tables; one transaction per batch and command).
   Service and raw runs alternate (--repeats, default 3) and medians are reported.
2. Raw baseline, same run: the rows that path stored (entries, cases, sealed bundles) are read
   back and inserted into an empty copy of the schema with sqlite3.executemany, in the same
   batches, one commit per batch, the same pragmas. Raw inserts each row once; the service
   also updates each case row three times, so the ratio is conservative.
3. Operator path: single commands (file, accept, decide, deliver), each its own transaction,
   median and p99 latency per command.

Prints cases/s for both and their ratio (target >= 0.25), and the per-command medians
(target < 5 ms). The batched walk and the operator path run on both crypto suites a province may
choose (P-256, and SM2 / SM3 / SM4-GCM: issue 15), the SM2 figures beside the P-256 ones of the
same run. Bounded: at most --cases cases and --single single-case walks per suite.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from federation.wire.keys import NodeKey
from node.context import Node
from node.domain.lifecycle import Accept, Decide, Deliver
from node.services.cases import Applicant, FileRequest
from node.services.catalog_import import read_catalog_file
from node.startup import settle_after_startup

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT.parent / "shared" / "data" / "catalog_sichuan_511602.csv"
COUNTY = "511602000000"
# Valid GB 11643 specimens from ../shared/data/identifier_vectors.json
IDS = ["11010519491231002X", "440524188001010014", "360426199101010071", "412723199010050012"]
# The rows the walk stored: its case-stream entries, the case rows and the sealed bundles.
ROW_QUERIES = {
    "entries": "select * from entries where stream = 'case'",
    "cases": "select * from cases",
    "sealed_bundles": "select * from sealed_bundles",
}
TABLES = tuple(ROW_QUERIES)


class StepClock:
    """A clock at a fixed working day that ticks a microsecond per call (ordered timestamps)."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 3, 2, 2, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(microseconds=1)
        return self.now


def requests(items: list[str], n: int) -> list[FileRequest]:
    return [
        FileRequest(items[i % len(items)], Applicant("1", f"申请人{i}", IDS[i % len(IDS)], f"1380000{i % 10000:04d}"))
        for i in range(n)
    ]


WALK = (Accept(), Decide(True, result_ref="R"), Deliver())


def walk_batched(node: Node, items: list[str], total: int, batch: int, per_command: bool) -> float:
    """File `total` cases in batches and walk each batch through accept, decide and deliver:
    one transaction for the filings and one for the batch's 3 x `batch` commands, or with
    `per_command` one transaction per command kind (four per batch)."""
    start = time.perf_counter()
    for first in range(0, total, batch):
        filed = node.cases.file_many(requests(items, min(batch, total - first)), "bench")
        if per_command:
            for cmd in WALK:
                node.cases.act_many([(c.case_no, cmd) for c in filed], "bench")
        else:
            node.cases.act_many([(c.case_no, cmd) for c in filed for cmd in WALK], "bench")
    return time.perf_counter() - start


def raw_rate(db: Path, batch: int) -> tuple[float, int]:
    """Seconds to insert the rows a service run stored with sqlite3.executemany into a fresh
    database, and how many rows."""
    src = sqlite3.connect(db)
    schema = [r[0] for r in src.execute("select sql from sqlite_master where sql is not null")]
    data = {t: src.execute(q).fetchall() for t, q in ROW_QUERIES.items()}
    src.close()
    with tempfile.TemporaryDirectory() as tmp:
        dst = sqlite3.connect(Path(tmp) / "raw.db", isolation_level=None)
        dst.execute("PRAGMA journal_mode=WAL")
        dst.execute("PRAGMA synchronous=NORMAL")
        for ddl in schema:
            dst.execute(ddl)
        start = time.perf_counter()
        for table, rows in data.items():
            marks = ",".join("?" * len(rows[0]))
            for first in range(0, len(rows), batch):
                dst.execute("BEGIN")
                dst.executemany(f"insert into {table} values ({marks})", rows[first : first + batch])
                dst.execute("COMMIT")
        elapsed = time.perf_counter() - start
        dst.close()
    return elapsed, sum(len(r) for r in data.values())


def operator_path(node: Node, items: list[str], walks: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"file": [], "accept": [], "decide": [], "deliver": []}
    for req in requests(items, walks):
        t = time.perf_counter()
        case = node.cases.file(req, "window")
        times["file"].append(time.perf_counter() - t)
        for name, cmd in (("accept", Accept()), ("decide", Decide(True)), ("deliver", Deliver())):
            t = time.perf_counter()
            node.cases.act(case.case_no, cmd, "window")
            times[name].append(time.perf_counter() - t)
    return times


SUITE_OF = {"walk": "p256-sha256", "per_command": "p256-sha256", "walk_sm2": "sm2-sm3"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--single", type=int, default=300, help="single-case walks for the operator path")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each side; medians are reported")
    parser.add_argument("--json", action="store_true")
    ns = parser.parse_args()
    if not CATALOG.exists():
        print(f"{CATALOG} is missing: the benchmark uses the real district catalog", file=sys.stderr)
        return 1
    settle_after_startup()  # as every yiwang process does once it has started
    with tempfile.TemporaryDirectory() as tmp:
        catalog = read_catalog_file(CATALOG)
        items = [i.implementation_code for i in catalog if i.power_type == "01"]
        seconds: dict[str, float] = {}
        raw: dict[str, tuple[float, int]] = {}
        for mode in ("walk", "per_command", "walk_sm2"):
            # service and raw runs alternate, so a slow moment of the machine hits both alike
            runs, raws = [], []
            for rep in range(ns.repeats):
                folder = Path(tmp) / f"{mode}-{rep}"
                node = Node.init(folder, COUNTY, clock=StepClock(), key=NodeKey.generate(SUITE_OF[mode]))
                node.catalog.import_items(catalog)
                runs.append(walk_batched(node, items, ns.cases, ns.batch, per_command=mode == "per_command"))
                node.close()
                raws.append(raw_rate(folder / "yiwang.db", ns.batch))
                shutil.rmtree(folder)
            seconds[mode] = statistics.median(runs)
            raw[mode] = (statistics.median(r[0] for r in raws), raws[0][1])
        times: dict[str, list[float]] = {}
        for suite, tag in (("p256-sha256", ""), ("sm2-sm3", " sm2")):
            single_node = Node.init(Path(tmp) / f"single{tag}", COUNTY, clock=StepClock(), key=NodeKey.generate(suite))
            single_node.catalog.import_items(catalog)
            times |= {name + tag: t for name, t in operator_path(single_node, items, ns.single).items()}
            single_node.close()
    result: dict[str, Any] = {
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "cases": ns.cases,
        "batch": ns.batch,
        "entries_written": ns.cases * 4,
    }
    for mode in seconds:
        raw_seconds, raw_rows = raw[mode]
        service_rate, raw_case_rate = ns.cases / seconds[mode], ns.cases / raw_seconds
        result[mode] = {
            "service_seconds": round(seconds[mode], 3),
            "service_cases_per_s": round(service_rate, 1),
            "service_entries_per_s": round(ns.cases * 4 / seconds[mode], 1),
            "raw_rows": raw_rows,
            "raw_seconds": round(raw_seconds, 3),
            "raw_rows_per_s": round(raw_rows / raw_seconds, 1),
            "raw_cases_per_s": round(raw_case_rate, 1),
            "ratio": round(service_rate / raw_case_rate, 3),
        }
    result["target_ratio"] = 0.25
    result["single_median_ms"] = {k: round(statistics.median(v) * 1000, 3) for k, v in times.items()}
    result["single_p99_ms"] = {k: round(sorted(v)[int(len(v) * 0.99) - 1] * 1000, 3) for k, v in times.items()}
    result["target_single_median_ms"] = 5.0
    if ns.json:
        print(json.dumps(result, indent=2))
        return 0
    print(
        f"Python {result['python']}, SQLite {result['sqlite']}; {ns.cases} cases, batches of {ns.batch}; "
        f"medians of {ns.repeats} alternating runs"
    )
    labels = {
        "walk": "file + one transaction of accept/decide/deliver per batch",
        "per_command": "one transaction per command kind per batch",
        "walk_sm2": "the walk on the national suite: SM2 heads, SM3 chain, SM4-GCM seals",
    }
    for mode, label in labels.items():
        r = result[mode]
        print(f"{mode} ({label}):")
        print(f"  service path   : {r['service_cases_per_s']:9.1f} cases/s  ({r['service_entries_per_s']} entries/s)")
        print(
            f"  raw executemany: {r['raw_cases_per_s']:9.1f} cases/s  ({int(r['raw_rows'])} rows of {', '.join(TABLES)}"
            f" at {r['raw_rows_per_s']} rows/s)"
        )
        print(f"  ratio          : {r['ratio']:.3f}  (target >= 0.25)")
        if mode == "walk_sm2":
            sm2_vs = r["service_cases_per_s"] / result["walk"]["service_cases_per_s"]
            print(f"  SM2 / P-256    : {sm2_vs:.3f}  (the service path's cases/s on each suite)")
    for name in times:
        print(
            f"single {name:12s}: median {result['single_median_ms'][name]:6.3f} ms, "
            f"p99 {result['single_p99_ms'][name]:6.3f} ms  (target median < 5 ms)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
