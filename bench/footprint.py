"""Benchmark: how light a node is (issue 13, a village on one small machine).

(a) CLI start-up: the median wall time of `yiwang --help`, `yiwang status` and `yiwang case
list` on a village node, next to a bare `python -c pass` in the same run (targets: under 0.3 s).
(b) Resident memory of a village's `yiwang run` (village profile, no event bus) after a day of
errands filed through its local API, and its peak, next to a bare Python process that only
sleeps (target: under 80 MB).

Bounded: --runs start-ups per command, --errands filings. Run: `python bench/footprint.py`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from yiwang.v1 import node_service_pb2

from federation.transport.api_client import connect
from node.context import Node
from node.domain.catalog import CatalogItem
from node.domain.roles import Role

VILLAGE = "511602001001"
ITEM = CatalogItem(
    basic_code="511A0138600000",
    implementation_code=f"511A0138600000-{VILLAGE}-000-1",
    name="居住证明",
    power_type="10",
    division_code=VILLAGE,
    department="村委会",
    legal_limit_days=5,
)
PORTS = ["--listen", "127.0.0.1:0", "--enroll-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0"]


def wall(cmd: list[str], runs: int) -> float:
    """Median seconds of `runs` runs of `cmd`."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def rss_mb(pid: int) -> tuple[float, float]:
    """(resident, peak resident) MB of a process, from /proc."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--errands", type=int, default=300)
    ns = parser.parse_args()
    yiwang = [sys.executable, "-m", "node.cli.app"]
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "village"
        subprocess.run(
            [*yiwang, "init", "--code", VILLAGE, "--no-bus", *PORTS, "-d", str(home)], check=True, capture_output=True
        )
        node = Node.open(home)
        node.catalog.import_items([ITEM])
        _, token = node.principals.add_client("village-agent-app", frozenset({Role.CLERK, Role.AGENT}))
        node.close()

        bare = wall([sys.executable, "-c", "pass"], ns.runs)
        starts = {
            "yiwang --help": wall([*yiwang, "--help"], ns.runs),
            "yiwang status": wall([*yiwang, "status", "-d", str(home)], ns.runs),
            "yiwang case list": wall([*yiwang, "case", "list", "-d", str(home)], ns.runs),
        }

        sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        time.sleep(1.0)
        bare_rss, _ = rss_mb(sleeper.pid)
        sleeper.kill()
        sleeper.wait()

        run = subprocess.Popen([*yiwang, "run", "-d", str(home)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while not (home / "run.json").exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            api = json.loads((home / "run.json").read_text())["api"]
            idle, _ = rss_mb(run.pid)
            channel, stub = connect(api, token)
            request = node_service_pb2.FileCaseRequest(
                item_code=ITEM.implementation_code, applicant_name="王小明", applicant_id="11010519491231002X"
            )
            for _ in range(ns.errands):
                stub.FileCase(request, timeout=60)
            channel.close()
            subprocess.run([*yiwang, "case", "list", "-d", str(home)], check=True, capture_output=True)
            time.sleep(1.0)
            after, peak = rss_mb(run.pid)
        finally:
            run.terminate()
            run.wait(timeout=30)

    print(f"start-up (median of {ns.runs}):  python -c pass {bare:.3f} s")
    for label, seconds in starts.items():
        print(f"  {label:18s} {seconds:.3f} s  ({seconds / bare:.1f} x bare python; target < 0.3 s)")
    print(f"village `yiwang run` (village profile, no bus), {ns.errands} errands through its API:")
    print(f"  resident {after:.1f} MB after the work, {idle:.1f} MB idle, peak {peak:.1f} MB (target < 80 MB)")
    print(f"  a bare sleeping python: {bare_rss:.1f} MB  ({after / bare_rss:.1f} x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
