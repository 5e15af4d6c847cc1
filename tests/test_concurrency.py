"""Two processes writing to one node's database at once: the chain stays whole, case numbers
stay unique (SQLite: BEGIN IMMEDIATE; PostgreSQL: the locked stream tail)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from node.context import Node
from node.domain.lifecycle import Accept
from node.services.cases import Applicant, FileRequest
from tests.conftest import Clock, licence_item, make_node

PER_WRITER = 25


def _writer(data_dir: str, code: str, actor: str) -> None:
    node = Node.open(Path(data_dir))
    try:
        for _ in range(PER_WRITER):
            case = node.cases.file(FileRequest(code, Applicant("1", "某人", "412723199010050012")), actor)
            node.cases.act(case.case_no, Accept(), actor)
    finally:
        node.close()


def test_two_writer_processes_keep_the_chain_whole(tmp_path: Path, clock: Clock, database_url: str) -> None:
    node = make_node(tmp_path, clock, database_url)
    try:
        node.catalog.import_items([licence_item()])
        code = licence_item().implementation_code
        ctx = multiprocessing.get_context("spawn")
        procs = [ctx.Process(target=_writer, args=(str(node.settings.data_dir), code, f"w{i}")) for i in (1, 2)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=120)
            assert p.exitcode == 0
        with node.store.read() as tx:
            entries = list(tx.entries(node.code, "case"))
            cases = tx.list_cases(limit=1000)
        assert [e.seq for e in entries] == list(range(1, 4 * PER_WRITER + 1))
        assert len({c.state.case_no for c in cases}) == 2 * PER_WRITER
        assert all(c.state.status == "accepted" for c in cases)
        assert all(r.fault is None for r in node.audit.verify())
    finally:
        node.close()


def _acceptor(data_dir: str, case_nos: list[str], barrier: object, results: object) -> None:
    from node.domain.errors import IllegalTransition

    node = Node.open(Path(data_dir))
    won = 0
    try:
        barrier.wait()  # type: ignore[attr-defined]
        for case_no in case_nos:
            try:
                node.cases.act(case_no, Accept(), "racer")
                won += 1
            except IllegalTransition:
                pass
    finally:
        node.close()
    results.put(won)  # type: ignore[attr-defined]


def test_two_processes_accepting_the_same_cases_win_each_once(tmp_path: Path, clock: Clock, database_url: str) -> None:
    node = make_node(tmp_path, clock, database_url)
    try:
        node.catalog.import_items([licence_item()])
        code = licence_item().implementation_code
        cases = node.cases.file_many([FileRequest(code, Applicant("1", "某人", "412723199010050012"))] * 40, "w")
        case_nos = [c.case_no for c in cases]
        ctx = multiprocessing.get_context("spawn")
        barrier, results = ctx.Barrier(2), ctx.Queue()
        procs = [
            ctx.Process(target=_acceptor, args=(str(node.settings.data_dir), case_nos, barrier, results))
            for _ in range(2)
        ]
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=120)
            assert p.exitcode == 0
        assert results.get(timeout=5) + results.get(timeout=5) == len(case_nos)
        with node.store.read() as tx:
            kinds = [e.kind for e in tx.entries(node.code, "case")]
        assert kinds.count("case_accepted") == len(case_nos)
        assert all(r.fault is None for r in node.audit.verify())
    finally:
        node.close()
