"""Benchmark: the statistics of issue 11, each figure beside a baseline measured in the same run.

(a) Ingest: a province takes --entries case entries (default 1,000,000) of many origins (a city
    relaying --counties counties that filed and walked their cases: file, accept, decide,
    deliver, some evaluated) through `ReplicaService.apply_batch`, as its link would hand them
    over: chains and signed heads checked, entries stored, cases projected and counted per day,
    month and level in the same transaction. Beside it, raw `executemany` of the same entry rows
    into an empty `entries` table of the same engine. On SQLite, and on PostgreSQL when it is
    reachable (YIWANG_TEST_PG_URL, default postgresql://postgres@127.0.0.1:5432/test). Target:
    ingest >= 0.3 of raw.
(b) Queries: a year of Sichuan-scale counters generated directly (the 183 counties and their
    townships of the real division tree, about 300,000 cases a working day, --counter-rows day
    rows, default 10,000,000; the rollups built from them with one aggregate per table): a
    province-wide month by city (target < 200 ms) and a county's month by township (target
    < 50 ms) through `StatsService`, each beside the same sums over the day rows.
(c) Freshness: on a running `yiwang sim` branch, from a case committed at a village to the
    province's figures showing it (median of --samples; target < 3 s), beside the link's ping
    interval.

Bounded: every loop has a count, every wait a timeout. Run: python bench/stats.py [--quick].
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding

from federation.wire.certs import make_csr
from federation.wire.keys import NodeKey
from node.app.loadgen import Plan, SettableClock, generate
from node.context import Node
from node.divisions_data import example_tree
from node.domain.catalog import CatalogItem
from node.domain.counting import COUNTERS
from node.domain.divisions import DivisionCode, Tier
from node.services.stats import Period, Query
from node.startup import settle_after_startup

PROVINCE, CITY = "510000000000", "511600000000"
PG_URL = os.environ.get("YIWANG_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


# -- (a) ingest ------------------------------------------------------------------------------


def enroll(parent: Node, code: str, base: Path, clock: SettableClock, key: NodeKey | None = None) -> Node:
    """A child node enrolled in process with a one-time token of `parent`."""
    identity = parent.identity()
    assert identity is not None
    enrollment = parent.enrollment(identity, enroll_port=1)
    token = enrollment.make_token(code)
    key = key or NodeKey.generate()
    chain = enrollment.enroll(code, token.secret.hex(), make_csr(DivisionCode(code), key).public_bytes(Encoding.DER))
    return Node.init(base / code, code, key=key, chain=chain, clock=clock)


def county_items(code: str) -> list[CatalogItem]:
    return [
        CatalogItem(
            basic_code=f"511Z0700{i:04d}",
            implementation_code=f"511Z0700{i:04d}-{code}-000-11511301008778183N-1-00",
            name=f"事项{i}",
            power_type="01",
            division_code=code,
            department=f"部门{i % 12}",
            promised_limit_days=5 + i % 15,
            legal_limit_days=20,
            agent_allowed=i % 7 == 0,
        )
        for i in range(40)
    ]


def build_origins(base: Path, entries: int, counties: int) -> tuple[Node, Node, list[Node], SettableClock]:
    """A province, a city and `counties` counties whose logs hold about `entries` case entries."""
    clock = SettableClock(dt.datetime(2026, 9, 1, 2, tzinfo=dt.UTC))
    province = Node.init(base / "province", PROVINCE, clock=clock)
    city = enroll(province, CITY, base, clock)
    codes = [d.code.code for d in example_tree("51").children(DivisionCode(CITY))][:counties]
    nodes = [enroll(city, code, base, clock) for code in codes]
    for node in nodes:
        node.catalog.import_items(county_items(node.code))
    cases_a_day = 400 * len(nodes)
    per_case = 4.4  # file, accept, decide, deliver; 40 % evaluated
    days = max(1, round(entries / per_case / cases_a_day))
    plan = Plan(dt.date(2026, 9, 1), working_days=days, per_day=cases_a_day, settle_days=20, stuck_share=0.0)
    generate({n.code: n for n in nodes}, {n.code: 1 / len(nodes) for n in nodes}, plan, clock)
    return province, city, nodes, clock


def push(child: Node, parent: Node, batch: int = 2000) -> tuple[int, float]:
    """Every entry `child` holds that `parent` lacks, in link-sized batches; (entries, seconds)."""
    moved, t = 0, time.perf_counter()
    for _ in range(1_000_000):
        out = child.replica.outgoing(parent.settings.code, up=True, theirs=parent.replica.cursors(), max_entries=batch)
        if not out.wires:
            break
        parent.replica.apply_batch(out.entries, out.heads, out.wires)
        moved += len(out.wires)
    return moved, time.perf_counter() - t


def raw_sqlite(rows: list[tuple[object, ...]], schema: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        dst = sqlite3.connect(Path(tmp) / "raw.db", isolation_level=None)
        dst.execute("PRAGMA journal_mode=WAL")
        dst.execute("PRAGMA synchronous=NORMAL")
        dst.execute(schema)
        marks = ",".join("?" * len(rows[0]))
        t = time.perf_counter()
        for first in range(0, len(rows), 2000):
            dst.execute("BEGIN")
            dst.executemany(f"insert into entries values ({marks})", rows[first : first + 2000])
            dst.execute("COMMIT")
        elapsed = time.perf_counter() - t
        dst.close()
    return len(rows) / elapsed


@contextmanager
def pg_schema() -> Iterator[str | None]:
    """A fresh PostgreSQL schema's URL (None when PostgreSQL is unreachable), dropped after."""
    try:
        import psycopg

        with psycopg.connect(PG_URL, autocommit=True, connect_timeout=3) as conn:
            schema = f"yiwang_bench_{uuid.uuid4().hex[:10]}"
            conn.execute(f'CREATE SCHEMA "{schema}"')
    except Exception as exc:  # no PostgreSQL here: the SQLite figures stand alone
        print(f"PostgreSQL unreachable ({str(exc).splitlines()[0][:80]}): SQLite only")
        yield None
        return
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def raw_pg(url: str, rows: list[tuple[object, ...]]) -> float:
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain) as conn:
        conn.execute(
            "create table raw_entries (origin varchar(12), stream varchar(16), seq bigint, prev_hash bytea, kind "
            "varchar(48), body bytea, hash bytea, subject varchar(64), recorded_at_us bigint, held_ns bigint, "
            "wire bytea, primary key (origin, stream, seq))"
        )
        conn.commit()
        marks = ",".join(["%s"] * len(rows[0]))
        t = time.perf_counter()
        with conn.cursor() as cur:
            for first in range(0, len(rows), 2000):
                cur.executemany(f"insert into raw_entries values ({marks})", rows[first : first + 2000])
                conn.commit()
        return len(rows) / (time.perf_counter() - t)


def entry_rows(node: Node, origins: list[str]) -> list[tuple[object, ...]]:
    """The stored rows of the origins' case entries (all columns), as the raw baseline inserts them."""
    with sqlite3.connect(node.settings.data_dir / "yiwang.db") as conn:
        marks = ",".join("?" * len(origins))
        sql = f"select * from entries where stream = 'case' and origin in ({marks}) order by origin, seq"
        return [tuple(r) for r in conn.execute(sql, origins)]


def ingest(base: Path, entries: int, counties: int) -> list[str]:
    out = []
    province, city, nodes, clock = build_origins(base, entries, counties)
    origins = [n.code for n in nodes]
    for node in nodes:
        push(node, city)
    with sqlite3.connect(city.settings.data_dir / "yiwang.db") as schema_conn:
        schema = schema_conn.execute("select sql from sqlite_master where name = 'entries'").fetchone()[0]
    rows = entry_rows(city, origins)
    moved, seconds = push(city, province)
    case_entries = len(rows)
    rate = moved / seconds
    raw = raw_sqlite(rows, schema)
    out.append(
        f"(a) SQLite ingest at the province: {moved:,} entries ({case_entries:,} case entries of {len(origins)} "
        f"origins) in {seconds:.1f} s = {rate:,.0f} entries/s; raw executemany {raw:,.0f}/s; "
        f"ratio {rate / raw:.3f} (target >= 0.3)"
    )
    with pg_schema() as url:
        if url is not None:
            pg_province = Node.init(base / "pg-province", PROVINCE, database_url=url, clock=clock)
            identity = pg_province.identity()
            assert identity is not None
            enrollment = pg_province.enrollment(identity, enroll_port=1)  # the same city key, certified here too
            token = enrollment.make_token(CITY)
            enrollment.enroll(
                CITY, token.secret.hex(), make_csr(DivisionCode(CITY), city.key).public_bytes(Encoding.DER)
            )
            moved, seconds = push(city, pg_province)
            rate = moved / seconds
            raw = raw_pg(url, rows)
            out.append(
                f"(a) PostgreSQL ingest at the province: {moved:,} entries in {seconds:.1f} s = {rate:,.0f} entries/s; "
                f"raw executemany {raw:,.0f}/s; ratio {rate / raw:.3f} (target >= 0.3)"
            )
            pg_province.close()
    for n in (province, city, *nodes):
        n.close()
    return out


# -- (b) queries -------------------------------------------------------------------------------


def counter_rows(target: int, seed: int = 7) -> Iterator[tuple[object, ...]]:
    """Day rows of a year for Sichuan: every working day, every county's own windows and its
    townships, items and channels, about 300,000 cases a day in all."""
    rng = random.Random(seed)
    registry = example_tree("51")
    counties = [c for city in registry.children(DivisionCode(PROVINCE)) for c in registry.children(city.code)]
    towns = {c.code.code: [t.code.code for t in registry.children(c.code)][:25] for c in counties}
    days = [dt.date(2026, 1, 1) + dt.timedelta(days=i) for i in range(365)]
    days = [d for d in days if d.weekday() < 5][:250]
    per_county_day = max(1, -(-target // (len(days) * len(counties))))  # rounded up: at least `target` rows
    cases_per_row = max(1, 300_000 // (len(counties) * per_county_day))
    i = COUNTERS.index
    n = 0
    for day in days:
        for county in counties:
            places = [county.code.code] * 3 + towns[county.code.code]
            for k in range(per_county_day):
                handling = places[k % len(places)]
                filed = rng.randint(1, 2 * cases_per_row)
                values = [0] * len(COUNTERS)
                values[i("filed")] = filed
                values[i("accepted")] = filed
                values[i("delivered")] = filed - (filed > 20)
                values[i("delivered_on_time")] = values[i("delivered")]
                values[i("online")] = filed // 5
                values[i("eval_1")] = filed // 3
                yield (day.isoformat(), handling, handling, f"item-{k % 400}", str(1 + k % 3), *values)
                n += 1
                if n >= target:
                    return


def build_counters(node: Node, target: int) -> int:
    """Day rows generated directly, then the rollups as the projection keeps them (one
    aggregate per table and level)."""
    conn = sqlite3.connect(node.settings.data_dir / "yiwang.db", isolation_level=None)
    names = ("day", "handling", "filing", "item_code", "channel", *COUNTERS)
    marks = ",".join("?" * len(names))
    rows = counter_rows(target)
    n = 0
    conn.execute("BEGIN")
    while chunk := [r for _, r in zip(range(50_000), rows, strict=False)]:
        conn.executemany(f"insert into case_counts ({','.join(names)}) values ({marks})", chunk)
        n += len(chunk)
    sums = ",".join(f"sum({c})" for c in COUNTERS)
    for level in range(1, 6):  # the cuts of node.store.stats.rollup_cuts, in SQL
        digits = {1: 2, 2: 4, 3: 6, 4: 9, 5: 12}[level]
        below_county = "where substr(handling, 7, 3) != '000'" if level == 5 else ""  # a county's own: to level 4
        conn.execute(
            f"insert into case_rollups (month, level, division, channel, peer, {','.join(COUNTERS)}) "
            f"select substr(day, 1, 7), {level}, substr(substr(handling, 1, {digits}) || '000000000000', 1, 12), "
            f"channel, '', {sums} from case_counts {below_county} group by 1, 3, 4"
        )
    conn.execute(
        f"insert into item_rollups (month, county, item_code, channel, {','.join(COUNTERS)}) "
        f"select substr(day, 1, 7), substr(handling, 1, 6) || '000000', item_code, channel, {sums} "
        "from case_counts group by 1, 2, 3, 4"
    )
    conn.execute("COMMIT")
    conn.close()
    return n


def timed(fn: Callable[[], object], repeats: int = 15) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def queries(base: Path, target: int) -> list[str]:
    node = Node.init(base / "q-province", PROVINCE)
    t = time.perf_counter()
    n = build_counters(node, target)
    built = time.perf_counter() - t
    month = Period.parse("2026-06")
    county = "510104000000"  # 锦江区, Chengdu

    def by_days(division: str, next_level: bool) -> object:
        code = DivisionCode(division)
        group = Tier(code.tier + 1) if next_level else None
        digits = {2: 4, 3: 6, 4: 9}[group] if group else 0
        with node.store.read() as tx:
            return tx.day_sums(digits, code.prefix, month.first.isoformat(), month.last.isoformat())

    province_ms = timed(lambda: node.stats.figures(Query(month, PROVINCE, by_next_level=True)))
    province_days_ms = timed(lambda: by_days(PROVINCE, True), 3)
    county_ms = timed(lambda: node.stats.figures(Query(month, county, by_next_level=True)))
    county_days_ms = timed(lambda: by_days(county, True), 5)
    rows = node.stats.figures(Query(month, PROVINCE, by_next_level=True))
    filed = sum(r.counts["filed"] for r in rows)
    node.close()
    return [
        f"(b) {n:,} counter day rows of 2026 (183 counties and their townships; {filed:,} cases filed in June), "
        f"generated with their rollups in {built:.0f} s",
        f"(b) province-wide month by city: median {province_ms:.1f} ms (target < 200 ms); the same sums over the "
        f"day rows {province_days_ms:.0f} ms ({province_days_ms / province_ms:.0f}x)",
        f"(b) a county's month by township: median {county_ms:.1f} ms (target < 50 ms); over the day rows "
        f"{county_days_ms:.1f} ms ({county_days_ms / county_ms:.1f}x)",
    ]


# -- (c) freshness -----------------------------------------------------------------------------


def freshness(base: Path, samples: int, ping_every: float) -> list[str]:
    sim = base / "sim"
    cmd = [
        sys.executable,
        "-m",
        "node.cli.app",
        "sim",
        "--dir",
        str(sim),
        "--branch",
        "511602001000",
        "--villages",
        "1",
        "--detach",
        "--json",
    ]
    cmd += ["--ping-every", str(ping_every)]
    nodes = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=300).stdout)["nodes"]
    try:
        village_home = Path(nodes[-1]["data_dir"])
        village_code = nodes[-1]["code"]
        item = county_items(village_code)[0]
        village = Node.open(village_home)
        village.catalog.import_items([item])
        province = Node.open(sim / PROVINCE)
        today = Period.parse(dt.date.today().isoformat())

        def seen() -> int:
            return province.stats.figures(Query(today, village_code))[0].counts["filed"]

        from node.services.cases import Applicant, FileRequest

        person = Applicant("1", "某人", "11010519491231002X")
        delays = []
        for _ in range(samples):
            before = seen()
            village.cases.file_many([FileRequest(item.implementation_code, person)], "bench")
            t = time.perf_counter()
            while seen() == before and time.perf_counter() - t < 60:
                time.sleep(0.02)
            delays.append(time.perf_counter() - t)
        village.close()
        province.close()
    finally:
        subprocess.run([sys.executable, "-m", "node.cli.app", "sim", "stop", "--dir", str(sim)], timeout=120)
    return [
        f"(c) freshness, village commit to the province's figures over four links: "
        f"median {statistics.median(delays):.2f} s, max {max(delays):.2f} s of {samples} (target median < 3 s); "
        f"the links ping every {ping_every} s"
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--counties", type=int, default=6)
    parser.add_argument("--counter-rows", type=int, default=10_000_000)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--ping-every", type=float, default=1.0)
    parser.add_argument("--quick", action="store_true", help="100,000 entries, 1,000,000 counter rows, 5 samples")
    parser.add_argument("--only", choices=("ingest", "queries", "freshness"), default=None)
    ns = parser.parse_args()
    if ns.quick:
        ns.entries, ns.counter_rows, ns.samples = 100_000, 1_000_000, 5
    settle_after_startup()
    lines: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="yiwang-bench-stats-"))
    try:
        if ns.only in (None, "ingest"):
            lines += ingest(base / "ingest", ns.entries, ns.counties)
            print("\n".join(lines), flush=True)
        if ns.only in (None, "queries"):
            lines += queries(base / "queries", ns.counter_rows)
        if ns.only in (None, "freshness"):
            lines += freshness(base / "freshness", ns.samples, ns.ping_every)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
