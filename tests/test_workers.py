"""Workers that cannot die silently (issue 9): reads take no locks, a deadlock on PostgreSQL is
retried, and a link worker whose database connection is killed is restarted with an alarm while
`yiwang status` shows the link's real progress; a county on PostgreSQL with two child links
under bursts while its operators write ends with every entry at the province exactly once."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

import psycopg
import pytest

from node.context import Node
from node.domain.entries import Stream
from node.services.cases import Applicant, FileRequest
from tests.conftest import Clock, make_node
from tests.fedtools import ANY_PORTS, Running, cli, cli_json, portal_item, wait_for

PERSON = Applicant("1", "王小明", "11010519491231002X")


def test_reads_take_no_locks_while_a_writer_holds_a_stream(tmp_path: Path, clock: Clock, database_url: str) -> None:
    node = make_node(tmp_path, clock, database_url)
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with node.store.transaction() as tx:
            node.journal.lock(tx, Stream.CASE)
            node.journal.lock(tx, Stream.PUBLIC)
            holding.set()
            release.wait(30)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(10)
        started = time.monotonic()
        with node.store.read() as tx:
            tails = tx.tails()  # the rows the writer holds locked
        node.replica.cursors()
        node.cases.list()
        waited = time.monotonic() - started
        assert set(tails) == {(node.code, "case"), (node.code, "public")}
        assert waited < 5, f"a read waited {waited:.1f} s for a writer"
    finally:
        release.set()
        thread.join(30)
        node.close()


@pytest.mark.postgres
def test_a_deadlock_on_postgresql_is_retried_and_both_writers_finish(
    tmp_path: Path, clock: Clock, pg_schema_url: str
) -> None:
    node = make_node(tmp_path, clock, pg_schema_url)
    attempts: list[str] = []
    both_hold_one = threading.Barrier(2, timeout=10)

    def crosswise(first: str, second: str) -> None:
        def work() -> None:
            attempts.append(first)
            with node.store.transaction() as tx:
                tx.tail(node.code, first)  # locks that stream's tail row
                if len(attempts) <= 2:
                    both_hold_one.wait()  # the first attempts meet: each holds what the other wants
                tx.tail(node.code, second)

        node.store.retrying(work)

    threads = [
        threading.Thread(target=crosswise, args=(Stream.CASE.value, Stream.PUBLIC.value)),
        threading.Thread(target=crosswise, args=(Stream.PUBLIC.value, Stream.CASE.value)),
    ]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not any(t.is_alive() for t in threads)
        assert len(attempts) == 3  # PostgreSQL aborted one of the two; it ran again and finished
    finally:
        node.close()


def _terminate_backends(base_url: str) -> int:
    """Kill every other client connection to the test database: the county's, here."""
    with psycopg.connect(base_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
            "AND datname = current_database() AND backend_type = 'client backend'"
        ).fetchall()
    return len(rows)


def _seqs(home: Path, origin: str) -> list[int]:
    """The case-stream seqs of `origin` a SQLite node holds, in order."""
    with sqlite3.connect(home / "yiwang.db") as conn:
        sql = "select seq from entries where origin = ? and stream = 'case' order by seq"
        return [r[0] for r in conn.execute(sql, (origin,))]


def _file(home: Path, code: str, count: int) -> int:
    """File `count` cases in batches at a node (beside its running process); its case tail."""
    node = Node.open(home)
    try:
        item = str(portal_item(code)["implementation_code"])
        for start in range(0, count, 200):
            node.cases.file_many([FileRequest(item, PERSON)] * min(200, count - start), "窗口")
        with node.store.read() as tx:
            return tx.tail(code, "case")[0]
    finally:
        node.close()


@pytest.mark.postgres
@pytest.mark.slow
def test_a_county_on_postgresql_under_bursts_loses_nothing_and_restarts_a_killed_worker(
    tmp_path: Path, pg_schema_url: str, pg_base_url: str
) -> None:
    """Province (SQLite) <- a city standing for the county of the issue (PostgreSQL, two child
    links) <- two counties (SQLite). The children file bursts while the city's operators file
    their own; after the second round every database connection of the city is killed.
    Bounded: 3 rounds of 600 cases per child."""
    codes = {"province": "510000000000", "county": "511600000000", "a": "511602000000", "b": "511621000000"}
    homes = {name: tmp_path / name for name in codes}
    running: dict[str, Running] = {}
    tails: dict[str, int] = {}
    try:
        cli(homes["province"], "init", "--code", codes["province"], *ANY_PORTS)
        running["province"] = Running(homes["province"])
        chain: tuple[tuple[str, str, list[str]], ...] = (
            ("county", "province", ["--database-url", pg_schema_url]),
            ("a", "county", []),
            ("b", "county", []),
        )
        for name, parent, extra in chain:
            token = cli_json(homes[parent], "enroll", "token", "--child", codes[name])["token"]
            address = running[parent].ports["federation"]
            cli(homes[name], "init", "--code", codes[name], "--parent", address, "--token", token, *ANY_PORTS, *extra)
            running[name] = Running(homes[name])
            (tmp_path / f"{name}.json").write_text(json.dumps([portal_item(codes[name])]), encoding="utf-8")
            cli(homes[name], "catalog", "import", str(tmp_path / f"{name}.json"))

        def burst(name: str, count: int) -> None:
            tails[name] = _file(homes[name], codes[name], count)

        for round_ in range(3):
            workers = [threading.Thread(target=burst, args=(n, k)) for n, k in (("a", 600), ("b", 600), ("county", 60))]
            for w in workers:
                w.start()
            for w in workers:
                w.join(300)
            if round_ == 1:
                assert _terminate_backends(pg_base_url) > 0
        for name in ("county", "a", "b"):
            want = list(range(1, tails[name] + 1))
            origin = codes[name]
            wait_for(lambda o=origin, w=want: _seqs(homes["province"], o) == w, 240, f"{name} at the province")  # type: ignore[misc]
        alarms = cli_json(homes["county"], "alarms", "list")
        assert any(a["kind"] == "WorkerRestarted" for a in alarms), alarms
        links = {p["code"]: p for p in cli_json(homes["county"], "status")["peers"]}
        assert links[codes["province"]]["state"] == "connected"
        assert links[codes["province"]]["lag_entries"] == 0
        assert links[codes["province"]]["last_acknowledged"] is not None
        for home in homes.values():
            assert cli_json(home, "audit", "verify")["ok"]
    finally:
        for r in reversed(list(running.values())):
            r.stop()
