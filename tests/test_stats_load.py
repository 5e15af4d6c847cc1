"""The statistics under real load (issue 11): a county branch of five `yiwang run` processes
(province, city, county, township, village) takes generated cases at real volume - 1,600 cases
a working day across the county's windows, its township and village (node/app/loadgen.py), 5-15 %
filed by agents, some not accepted, denied, late, some 差评 - written as real signed entries into
each node's own log while the federation replicates them. Volume in the suite: 3 working days
(4,800 cases, about 21,000 entries), then one more day during which the city is killed with
SIGKILL mid-replication (6,400 cases in all); bench/stats.py runs longer plans.

The proof at the province: (1) it holds every case-stream entry of every origin exactly as the
origin's own log has it (seq and hash), (2) its counters equal a replay of its log (`stats
verify`), (3) its figures equal a recount straight from the origins' logs of every counter one
entry decides alone; and all three still hold after every entry is delivered again and after
the city's kill -9. A supervision alarm of the county reaches the province's log and bus."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import os
import signal
import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from federation.wire.codec_cases import case_record
from node.app.bus import STREAM_NAME, free_port
from node.app.loadgen import Plan, SettableClock, generate
from node.context import Node
from node.domain.catalog import CatalogItem
from node.domain.cursors import CursorSet
from node.domain.entries import CASE_KINDS
from node.domain.evaluation import BAD_LEVELS, ONLINE_CHANNELS
from node.domain.lifecycle import Decide, Evaluate, File
from node.services.catalog_import import read_catalog_file
from node.services.stats import Period, Query
from tests.conftest import ROOT
from tests.fedtools import ANY_PORTS, Running, bus_account, cli, cli_json, enroll_token, init_top, wait_for

CHAIN = ["510000000000", "511600000000", "511602000000", "511602001000", "511602001001"]
NAMES = ["province", "city", "county", "township", "village"]
PROVINCE, CITY, COUNTY, TOWNSHIP, VILLAGE = CHAIN
SHARES = {COUNTY: 0.80, TOWNSHIP: 0.125, VILLAGE: 0.075}
CATALOG = ROOT.parent / "shared" / "data" / "catalog_sichuan_511602.csv"
WITH_BUS = ("province", "county")  # the others run without a bus: fewer nats-servers on two cores


def _local_items(code: str, level: str, n: int) -> list[CatalogItem]:
    """Items a township or village handles itself (证明, 登记 ...), open to agents."""
    return [
        CatalogItem(
            basic_code=f"511Z0{level}00{i:04d}",
            implementation_code=f"511Z0{level}00{i:04d}-{code}-000-11511301008778183N-1-00",
            name=f"便民服务事项{i}",
            power_type="20",
            division_code=code,
            department="便民服务中心",
            use_level=level,
            promised_limit_days=3 + i,
            legal_limit_days=10,
            agent_allowed=True,
        )
        for i in range(n)
    ]


class Branch:
    def __init__(self, base: Path) -> None:
        self.homes = {name: base / name for name in NAMES}
        self.running: dict[str, Running] = {}

    def start(self, name: str) -> None:
        self.running[name] = Running(self.homes[name])

    def kill(self, name: str) -> None:
        run = self.running.pop(name)
        os.kill(run.proc.pid, signal.SIGKILL)
        run.proc.wait(timeout=10)
        run.log.close()


@pytest.fixture(scope="module")
def branch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Branch]:
    b = Branch(tmp_path_factory.mktemp("load"))
    try:
        for i, name in enumerate(NAMES):
            home = b.homes[name]
            ports = ["--listen", f"127.0.0.1:{free_port()}", *ANY_PORTS[2:]]  # a restarted node stays where it was
            bus = [] if name in WITH_BUS else ["--no-bus"]
            if i == 0:
                init_top(home, CHAIN[0], *ports, *bus)
            else:
                token = enroll_token(b.homes[NAMES[i - 1]], CHAIN[i])
                address = b.running[NAMES[i - 1]].ports["federation"]
                cli(home, "init", "--code", CHAIN[i], "--parent", address, "--token", token, *ports, *bus)
            settings = home / "yiwang.toml"  # scans by hand (`alarms scan`), not every 5 minutes
            settings.write_text(settings.read_text().replace("interval_seconds = 300", "interval_seconds = 86400"))
            b.start(name)
        real = read_catalog_file(CATALOG)  # the real district catalog; a seventh open to agents
        county = [dataclasses.replace(item, agent_allowed=n % 7 == 0) for n, item in enumerate(real)]
        for name, items in (
            ("county", county),
            ("township", _local_items(TOWNSHIP, "5", 6)),
            ("village", _local_items(VILLAGE, "6", 3)),
        ):
            node = Node.open(b.homes[name])
            try:
                node.catalog.import_items(items)
            finally:
                node.close()
        yield b
    finally:
        for name in reversed(list(b.running)):
            b.running[name].stop()


def load(branch: Branch, plan: Plan) -> None:
    clock = SettableClock(dt.datetime.now(dt.UTC))
    nodes = {code: Node.open(branch.homes[name], clock) for code, name in zip(CHAIN[2:], NAMES[2:], strict=True)}
    try:
        generate(nodes, SHARES, plan, clock)
    finally:
        for node in nodes.values():
            node.close()


def own_log(home: Path, origin: str) -> list[tuple[int, bytes, str, bytes]]:
    """(seq, hash, kind, body) of an origin's case stream as a node holds it."""
    with sqlite3.connect(home / "yiwang.db") as conn:
        sql = "select seq, hash, kind, body from entries where origin = ? and stream = 'case' order by seq"
        return [(r[0], r[1], r[2], r[3]) for r in conn.execute(sql, (origin,))]


def replicated(branch: Branch) -> bool:
    return all(
        len(own_log(branch.homes["province"], origin)) == len(own_log(branch.homes[name], origin))
        for origin, name in zip(CHAIN[2:], NAMES[2:], strict=True)
    )


SIMPLE = ("filed", "accepted", "not_accepted", "approved", "denied", "delivered", "agent", "online", "bad_reviews")


def recount(branch: Branch, first: dt.date, last: dt.date) -> Counter[str]:
    """Counters one entry decides alone, straight from the origins' own logs."""
    from node.domain.timelimits import local_date

    out: Counter[str] = Counter()
    for origin, name in zip(CHAIN[2:], NAMES[2:], strict=True):
        for _, _, kind, body in own_log(branch.homes[name], origin):
            if kind not in CASE_KINDS:
                continue
            rec = case_record(body)
            if not first <= local_date(rec.at) <= last:
                continue
            cmd = rec.command
            if isinstance(cmd, File):
                out["filed"] += 1
                out["agent"] += bool(cmd.agent)
                out["online"] += cmd.channel in ONLINE_CHANNELS
            elif kind == "case_accepted":
                out["accepted"] += 1
            elif kind == "case_not_accepted":
                out["not_accepted"] += 1
            elif isinstance(cmd, Decide):
                out["approved" if cmd.approved else "denied"] += 1
            elif kind == "case_delivered":
                out["delivered"] += 1
            elif isinstance(cmd, Evaluate):
                out["bad_reviews"] += cmd.level in BAD_LEVELS
    return out


def assert_province_proves(branch: Branch, period: Period) -> dict[str, int]:
    wait_for(lambda: replicated(branch), 300, "every origin's entries at the province")
    for origin, name in zip(CHAIN[2:], NAMES[2:], strict=True):  # (1) exactly the origins' logs
        theirs = [(s, h) for s, h, _, _ in own_log(branch.homes[name], origin)]
        assert [(s, h) for s, h, _, _ in own_log(branch.homes["province"], origin)] == theirs, name
    province = Node.open(branch.homes["province"])
    try:
        assert province.stats.verify() == {}  # (2) the counters are a replay of the log
        total = province.stats.figures(Query(period, COUNTY))[0].counts
        rows = {f.division: f.counts for f in province.stats.figures(Query(period, COUNTY, by_next_level=True))}
    finally:
        province.close()
    expected = recount(branch, period.first, period.last)
    assert {k: total[k] for k in SIMPLE} == {k: expected[k] for k in SIMPLE}  # (3)
    assert set(rows) == {COUNTY, TOWNSHIP}  # the county's own windows (本级) and its township with the village
    assert sum(r["filed"] for r in rows.values()) == total["filed"]
    return total


def test_a_county_branch_at_real_volume_counts_exactly_through_duplicates_and_a_killed_city(branch: Branch) -> None:
    import urllib.request

    web = branch.running["province"].ports["web"]  # `yiwang run` serves the statistics page on loopback
    assert web.startswith("127.0.0.1:")
    with urllib.request.urlopen(f"http://{web}/login", timeout=10) as page:
        assert "登录" in page.read().decode()
    today = dt.date.today()
    first = today - dt.timedelta(days=90)
    plan = Plan(first, working_days=3, per_day=1600, settle_days=25)  # decisions over the items' 20 days
    load(branch, plan)
    period = Period(first, today)
    total = assert_province_proves(branch, period)
    assert total["filed"] == 4800
    assert 0.05 <= total["agent"] / total["filed"] <= 0.15
    assert 0 < total["delivered_late"] < total["delivered"] and total["bad_reviews"] > 0
    assert 0.98 <= total["delivered"] / total["accepted"] < 1.0  # a few still open

    county, city = Node.open(branch.homes["county"]), Node.open(branch.homes["city"])
    try:  # every entry of the county delivered to the city once more
        theirs, again = CursorSet([]), 0  # as if the city had lost every cursor
        while (batch := county.replica.outgoing(city.settings.code, up=True, theirs=theirs, max_entries=5000)).wires:
            city.replica.apply_batch(batch.entries, batch.heads)
            for c in batch.reached:
                theirs.advance(c.origin, c.stream, c.seq)
            again += len(batch.wires)
        assert again > 20_000
        assert city.stats.figures(Query(period, COUNTY))[0].counts == total
        assert city.stats.verify() == {}
    finally:
        county.close()
        city.close()
    assert assert_province_proves(branch, period) == total

    before = len(own_log(branch.homes["city"], COUNTY))
    later = dataclasses.replace(plan, first_day=first + dt.timedelta(days=50), working_days=1, settle_days=0, seed=2)
    load(branch, later)  # filed and accepted, not decided: late by today
    wait_for(lambda: len(own_log(branch.homes["city"], COUNTY)) > before, 120, "the city to be receiving")
    branch.kill("city")
    assert not replicated(branch)  # killed in the middle
    branch.start("city")
    after = assert_province_proves(branch, period)
    assert after["filed"] == 6400

    scanned = cli_json(branch.homes["county"], "alarms", "scan")  # today, by the real clock: open cases are late
    carded = [a for a in scanned["alarms"] if a["rule"] == "limit" and a["level"] in ("yellow", "red")]
    assert carded
    wait_for(
        lambda: (
            len(cli_json(branch.homes["province"], "alarms", "supervision", "--rule", "limit", "--limit", "10000"))
            >= len(carded)
        ),
        120,
        "the county's alarms at the province",
    )
    url = branch.running["province"].ports["nats"]
    account = bus_account(branch.homes["province"])
    levels = {a["level"] for a in carded}
    found = wait_for(lambda: all(last_alarm(url, account, level) for level in levels), 120, "the alarms on the bus")
    assert found
    for level in levels:
        message = last_alarm(url, account, level)
        assert message is not None and message["kind"] == "supervision" and message["node"] == COUNTY
        assert message["case_no"] in {a["case_no"] for a in scanned["alarms"] if a["level"] == level}


def last_alarm(url: str, account: dict[str, str], level: str) -> dict[str, object] | None:
    """The newest message on the province's bus under yiwang.<county>.alarm.<level>."""
    import nats
    from nats.js.errors import NotFoundError

    async def get() -> dict[str, object] | None:
        nc = await nats.connect(url, **account)
        try:
            msg = await nc.jetstream().get_last_msg(STREAM_NAME, f"yiwang.{COUNTY}.alarm.{level}")
            found: dict[str, object] = json.loads(msg.data or b"{}")
            return found
        except NotFoundError:
            return None
        finally:
            await nc.close()

    return asyncio.run(get())
