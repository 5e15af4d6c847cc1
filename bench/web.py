"""Benchmark: the workbench's pages under load (issue 12).

A county node holds --cases open cases (default 10,000: 60 % accepted, in the 审查中 queue, the
rest waiting for acceptance) filed from the real district catalog; its web port serves them on
127.0.0.1. --sessions logged-in sessions (default 4) run concurrently, each asking in turn for
the queue page (/work?q=review, the first page of 50 soonest due), a case page (/cases/NO of a
random open case: outline, timeline, custody, applicant masked, steps) and the log-in page, the
baseline: a page rendered from a template with no data behind it, in the same run, by the same
server. Prints median and p99 per page (target: p99 < 200 ms for the queue and case pages) and
each page's p99 as a multiple of the baseline's.

Bounded: --requests per page and session (default 150), and --seconds (default 300) in all.
Run: python bench/web.py [--cases 10000] [--sessions 4] [--requests 150] [--json]
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import platform
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

from node.context import Node
from node.domain.lifecycle import Accept
from node.domain.roles import Role
from node.services.cases import Applicant, FileRequest
from node.services.catalog_import import read_catalog_file
from node.web.server import WebServer

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT.parent / "shared" / "data" / "catalog_sichuan_511602.csv"
COUNTY = "511602000000"
IDS = ["11010519491231002X", "440524188001010014", "360426199101010071", "412723199010050012"]
BATCH = 500


def populate(node: Node, cases: int) -> list[str]:
    """`cases` open cases at the county, 60 % of them accepted; their numbers."""
    items = [i.implementation_code for i in node.catalog.list(limit=2000) if i.case_type != "1"][:200]
    numbers: list[str] = []
    for start in range(0, cases, BATCH):
        requests = [
            FileRequest(items[(start + k) % len(items)], Applicant("1", "测试", IDS[(start + k) % len(IDS)]))
            for k in range(min(BATCH, cases - start))
        ]
        states = node.cases.file_many(requests, "bench")
        numbers += [s.case_no for s in states]
        accepted = states[: len(states) * 6 // 10]
        node.cases.act_many([(s.case_no, Accept()) for s in accepted], "bench")
    return numbers


class Session:
    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def log_in(self, name: str, password: str) -> None:
        page = self.opener.open(f"{self.base}/login", timeout=30).read().decode()
        token = page.split('name="csrf" value="')[1].split('"')[0]
        form = urlencode({"csrf": token, "name": name, "password": password}).encode()
        self.opener.open(urllib.request.Request(f"{self.base}/login", data=form, method="POST"), timeout=30).read()

    def get(self, path: str) -> float:
        start = time.perf_counter()
        with self.opener.open(self.base + path, timeout=30) as answer:
            answer.read()
            if answer.status != 200 or (answer.url.endswith("/login") and path != "/login"):
                raise RuntimeError(f"{path}: {answer.status} {answer.url}")
        return time.perf_counter() - start


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "median_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
    }


def run(cases: int, sessions: int, requests: int, seconds: float) -> dict[str, object]:
    folder = Path(tempfile.mkdtemp(prefix="yiwang-bench-web-"))
    node = Node.init(folder / COUNTY, COUNTY)
    server = None
    try:
        node.catalog.import_items(read_catalog_file(CATALOG))
        started = time.perf_counter()
        numbers = populate(node, cases)
        filled = time.perf_counter() - started
        node.principals.add_user("窗口-王", frozenset({Role.CLERK, Role.REVIEWER, Role.DECIDER}), "bench-password-1")
        server = WebServer(node, "127.0.0.1:0")
        base = f"http://{server.start()}"
        pages = {"queue": "/work?q=review", "case": "", "baseline": "/login"}
        times: dict[str, list[float]] = {name: [] for name in pages}
        lock = threading.Lock()
        deadline = time.monotonic() + seconds
        errors: list[str] = []

        def work(seed: int) -> None:
            rng = random.Random(seed)
            session = Session(base)
            try:
                session.log_in("窗口-王", "bench-password-1")
                for _ in range(requests):
                    if time.monotonic() > deadline:
                        return
                    for name, path in pages.items():
                        took = session.get(path or f"/cases/{rng.choice(numbers)}")
                        with lock:
                            times[name].append(took)
            except Exception as exc:  # reported, never hidden
                errors.append(repr(exc))

        threads = [threading.Thread(target=work, args=(i,)) for i in range(sessions)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=seconds + 60)
        if errors:
            raise RuntimeError(f"a session failed: {errors[0]}")
        figures = {name: summary(samples) for name, samples in times.items()}
        base_p99 = figures["baseline"]["p99_ms"]
        return {
            "machine": f"{platform.python_version()} on {platform.machine()}",
            "open_cases": len(numbers),
            "populate_s": round(filled, 1),
            "sessions": sessions,
            "pages": figures,
            "p99_over_baseline": {n: round(f["p99_ms"] / base_p99, 2) for n, f in figures.items() if n != "baseline"},
            "target": "p99 < 200 ms for queue and case",
        }
    finally:
        if server is not None:
            server.stop()
        node.close()
        shutil.rmtree(folder, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--requests", type=int, default=150)
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(min(args.cases, 100_000), min(args.sessions, 16), min(args.requests, 2000), args.seconds)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    filled = f"filled in {result['populate_s']} s"
    print(f"{result['open_cases']} open cases at the county ({filled}), {args.sessions} sessions")
    pages = result["pages"]
    assert isinstance(pages, dict)
    for name, f in pages.items():
        print(f"  {name:9} median {f['median_ms']:7.1f} ms   p99 {f['p99_ms']:7.1f} ms   ({f['n']} requests)")
    print(f"  p99 as a multiple of the baseline (the log-in page): {result['p99_over_baseline']}")
    print(f"  target: {result['target']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
