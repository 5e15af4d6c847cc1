"""Benchmark: a new node bootstraps its ancestors' catalog.

A province holds --items catalog items (the real 1,135-item catalog of district 511602,
repeated for as many real Sichuan counties as it takes, each copy with that county's codes)
and runs as a `yiwang run` process on 127.0.0.1. A new city enrols through the CLI without
fetching (`init --no-sync`), then `yiwang sync` fetches every public entry of the province.
Printed: the wall time of `yiwang sync` (CLI start-up included) and the rate, next to the
target of 50,000 items in under 30 s. Bounded: --items, and --timeout seconds for the sync.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from node.cli.sim import PORTS
from node.context import Node
from node.divisions_data import example_tree
from node.domain.catalog import CatalogItem
from node.domain.divisions import DivisionCode
from node.services.catalog_import import read_catalog_file
from node.startup import settle_after_startup

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT.parent / "shared" / "data" / "catalog_sichuan_511602.csv"


def yiwang(*args: str, timeout: float = 300) -> str:
    return subprocess.run(
        [sys.executable, "-m", "node.cli.app", *args], capture_output=True, text=True, check=True, timeout=timeout
    ).stdout


def catalog_items(count: int) -> list[CatalogItem]:
    """`count` items: the real district catalog once per real county, with that county's codes."""
    base = read_catalog_file(CATALOG)
    registry = example_tree("51")
    province = DivisionCode("510000000000")
    counties = [c.code.code for city in registry.children(province) for c in registry.children(city.code)]
    out: list[CatalogItem] = []
    for county in counties:
        for item in base:
            code = item.implementation_code.replace("511602000000", county)
            out.append(dataclasses.replace(item, implementation_code=code, division_code=county))
            if len(out) == count:
                return out
    raise SystemExit(f"only {len(out)} items from {len(counties)} counties")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--timeout", type=float, default=300.0)
    ns = parser.parse_args()
    settle_after_startup()
    with tempfile.TemporaryDirectory() as tmp:
        province, city = Path(tmp) / "province", Path(tmp) / "city"
        yiwang("init", "--code", "510000000000", *PORTS, "-d", str(province))
        node = Node.open(province)
        started = time.perf_counter()
        items = catalog_items(ns.items)
        node.catalog.import_items(items)
        distinct = len({i.implementation_code for i in items})  # the real catalog repeats a few codes
        print(f"province: {ns.items} item entries ({distinct} distinct items) in {time.perf_counter() - started:.1f} s")
        node.close()
        (province / "run.json").unlink(missing_ok=True)
        proc = subprocess.Popen(
            [sys.executable, "-m", "node.cli.app", "run", "-d", str(province)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(300):
                if (province / "run.json").exists():
                    break
                time.sleep(0.1)
            ports = json.loads((province / "run.json").read_text())
            token = json.loads(yiwang("enroll", "token", "--child", "511600000000", "--json", "-d", str(province)))
            parent = ports["federation"]
            yiwang(
                "init",
                "--code",
                "511600000000",
                "--parent",
                parent,
                "--token",
                token["token"],
                "--no-sync",
                *PORTS,
                "-d",
                str(city),
            )
            started = time.perf_counter()
            result = json.loads(yiwang("sync", "--json", "-d", str(city), timeout=ns.timeout + 30))
            took = time.perf_counter() - started
            print(
                f"new city: `yiwang sync` fetched {result['entries']} public entries "
                f"({result['catalog_items']} catalog items) in {took:.1f} s = {result['entries'] / took:,.0f} entries/s"
                f" (target: {ns.items:,} items in < 30 s: {'met' if took < 30 else 'NOT met'})"
            )
        finally:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
