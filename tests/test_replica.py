"""Replication between real node stores, in-process: entries up the tree (relayed without
re-signing), public streams down, duplicates ignored, an entry altered on the way refused.
The link transport that carries these batches is tested in test_federation.py."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import text

from federation.transport.memory import MemoryLink, Side
from federation.wire.certs import make_csr
from federation.wire.codec import entry_wire, length_delimited
from federation.wire.keys import NodeKey
from node.context import Node
from node.divisions_data import example_file, example_tree
from node.domain.calendar import make_calendar_year
from node.domain.cursors import CursorSet
from node.domain.divisions import DivisionCode as D
from node.domain.lifecycle import Accept, Status
from node.services.cases import Applicant, FileRequest
from sync.batches import BatchRefused, entry_size
from tests.conftest import Clock, licence_item
from tests.helpers import counts, stored_text

CHAIN = ["510000000000", "511600000000", "511602000000", "511602001000", "511602001001"]
PERSON = Applicant("1", "王大妈", "440524188001010014", "13566667777")


def province_node(home: Path, code: str, clock: Clock, **init: Any) -> Node:
    """A province that published its division tree (the package's example tree when it ships
    one), as `yiwang sim` and a real province do before enrolling below county level."""
    node = Node.init(home, code, clock=clock, **init)
    if example_file(code[:2]) is not None:
        node.divisions.publish(list(example_tree(code[:2])))
    return node


def enroll(parent: Node, code: str, base: Path, clock: Clock, database_url: str = "") -> Node:
    """A child enrolled by `parent`, holding what the parent's public streams hold (the
    province's division list among them), as after its link's first pull."""
    identity = parent.identity()
    assert identity is not None
    enrollment = parent.enrollment(identity, enroll_port=1)
    token = enrollment.make_token(code)
    key = parent.key.generate_like() if parent.key.national else NodeKey.generate()  # as enrollment does
    chain = enrollment.enroll(code, token.secret.hex(), make_csr(D(code), key).public_bytes(Encoding.DER))
    child = Node.init(base / code, code, database_url, key=key, chain=chain, clock=clock)
    push_down(parent, child)
    return child


@pytest.fixture
def tree(tmp_path: Path, clock: Clock) -> Iterator[list[Node]]:
    nodes = [province_node(tmp_path / CHAIN[0], CHAIN[0], clock)]
    for code in CHAIN[1:]:
        nodes.append(enroll(nodes[-1], code, tmp_path, clock))
    yield nodes
    for n in nodes:
        n.close()


def push_up(child: Node, parent: Node) -> int:
    moved = 0
    while True:
        out = child.replica.outgoing(parent.settings.code, up=True, theirs=parent.replica.cursors(), max_entries=7)
        if not out.entries:
            return moved
        parent.replica.apply_batch(out.entries, out.heads)
        moved += len(out.entries)


def push_down(parent: Node, child: Node) -> int:
    out = parent.replica.outgoing(child.settings.code, up=False, theirs=child.replica.cursors())
    child.replica.apply_batch(out.entries, out.heads)
    return len(out.entries)


def test_village_cases_reach_the_province_relayed_without_re_signing(tree: list[Node]) -> None:
    province, village = tree[0], tree[-1]
    village.catalog.import_items([licence_item(division=CHAIN[-1])])
    cases = village.cases.file_many(
        [FileRequest(licence_item().implementation_code.replace("511602000000", CHAIN[-1]), PERSON)] * 3, "agent"
    )
    village.cases.act_many([(c.case_no, Accept()) for c in cases[:2]], "agent")
    for child, parent in zip(reversed(tree[1:]), reversed(tree[:-1]), strict=True):
        assert push_up(child, parent) > 0
    with province.store.read() as tx:
        at_province = list(tx.entries(CHAIN[-1], "case"))
        statuses = {c.case_no: c.status for c in tx.cases([c.case_no for c in cases]).values()}
    with village.store.read() as tx:
        assert at_province == list(tx.entries(CHAIN[-1], "case"))
    assert statuses == {
        cases[0].case_no: Status.ACCEPTED,
        cases[1].case_no: Status.ACCEPTED,
        cases[2].case_no: Status.FILED,
    }
    assert all(r.fault is None for r in province.audit.verify())  # every relayed head verifies
    assert PERSON.name not in stored_text(province) and PERSON.id_number not in stored_text(province)
    before = counts(province)
    assert push_up(tree[1], province) == 0  # nothing new
    out = tree[1].replica.outgoing(province.settings.code, up=True, theirs=CursorSet())
    province.replica.apply_batch(out.entries, out.heads)  # a full resend: duplicates only
    assert counts(province) == before


def test_the_province_catalog_and_calendar_reach_the_village(tree: list[Node]) -> None:
    province, village = tree[0], tree[-1]
    province.catalog.import_items([licence_item(division=CHAIN[0])])
    province.calendars.publish(make_calendar_year(2027, ["2027-01-01"], []))
    for parent, child in itertools.pairwise(tree):
        assert push_down(parent, child) > 0
    item = village.catalog.get(licence_item(division=CHAIN[0]).implementation_code)
    assert item.name == "教师资格认定"
    assert 2027 in village.calendar().published_years
    assert all(r.fault is None for r in village.audit.verify())


def test_an_entry_altered_at_the_township_is_refused_at_the_county(tree: list[Node]) -> None:
    county, township, village = tree[2], tree[3], tree[4]
    village.catalog.import_items([licence_item(division=CHAIN[-1])])
    village.cases.file(FileRequest(licence_item().implementation_code.replace("511602000000", CHAIN[-1]), PERSON), "a")
    push_up(village, township)
    with township.store.transaction() as tx:
        tx.conn.execute(
            text("UPDATE entries SET body = body || X'00' WHERE origin = :o AND stream = 'case'"), {"o": CHAIN[-1]}
        )
    before = counts(county)
    with pytest.raises(BatchRefused, match="content"):
        push_up(township, county)
    assert counts(county) == before


def test_outgoing_batches_are_bounded_by_bytes_and_end_on_heads(tree: list[Node]) -> None:
    province, city = tree[0], tree[1]
    city.catalog.import_items([licence_item(division=CHAIN[1])])
    code = licence_item(division=CHAIN[1]).implementation_code
    for _ in range(5):  # five appends: five heads
        city.cases.file_many([FileRequest(code, PERSON)] * 10, "w")
    theirs = province.replica.cursors()
    small = city.replica.outgoing(province.settings.code, up=True, theirs=theirs, max_bytes=1)
    # at a 1-byte bound: the shortest run that ends on a head (the city's cert for the county)
    assert [(e.stream, e.seq) for e in small.entries] == [("public", 1)] and [h.seq for h in small.heads] == [1]
    big = city.replica.outgoing(province.settings.code, up=True, theirs=theirs)
    assert len(big.entries) == 52 and [h.seq for h in big.heads] == [2, 50]
    province.replica.apply_batch(small.entries, small.heads)
    rest = city.replica.outgoing(province.settings.code, up=True, theirs=province.replica.cursors(), max_bytes=4000)
    assert 0 < len(rest.entries) < 51 and sum(entry_size(e) for e in rest.entries) <= 4000
    for head in rest.heads:  # every run ends on its head
        assert head.seq == max(e.seq for e in rest.entries if (e.origin, e.stream) == (head.origin, head.stream))
    province.replica.apply_batch(rest.entries, rest.heads)


def test_an_origin_signs_extra_heads_so_its_batches_stay_bounded(tree: list[Node]) -> None:
    township, village = tree[-2], tree[-1]
    village.catalog.import_items([licence_item(division=CHAIN[-1])])
    code = licence_item().implementation_code.replace("511602000000", CHAIN[-1])
    village.cases.file_many([FileRequest(code, PERSON)] * 1000, "agent")  # one bulk write: one head
    sizes = []
    while out := village.replica.outgoing(
        township.settings.code, up=True, theirs=township.replica.cursors(), max_entries=64
    ):
        if not out.entries:
            break
        township.replica.apply_batch(out.entries, out.heads)
        sizes.append(len(out.entries))
    assert sum(sizes) == 1 + 1000  # the public item entry and the cases
    assert sizes[0] == 1 + 64 and max(sizes[1:]) == 64  # a stream's run reaches its first head
    with township.store.read() as tx:
        assert tx.tail(CHAIN[-1], "case")[0] == 1000


def _wires(node: Node, origin: str) -> dict[int, bytes | None]:
    with node.store.read() as tx:
        rows = tx.conn.execute(
            text("select seq, wire from entries where origin = :o and stream = 'case'"), {"o": origin}
        )
        return {seq: None if wire is None else bytes(wire) for seq, wire in rows}


def test_a_relay_forwards_the_bytes_it_received(tree: list[Node], clock: Clock) -> None:
    """Store and forward (issue 9): the township stores each of the village's entries with the
    bytes it arrived in and forwards exactly those. An entry's bytes carrying a field this
    version does not know (a newer origin's, covered by no hash) reach the county unchanged,
    which only forwarding the stored bytes, not encoding the entry again, can do."""
    _, _, county, township, village = tree
    village.catalog.import_items([licence_item(division=CHAIN[-1])])
    code = licence_item().implementation_code.replace("511602000000", CHAIN[-1])
    village.cases.file_many([FileRequest(code, PERSON)] * 3, "agent")

    def link(child: Node, parent: Node) -> MemoryLink:
        c, p = child.identity(), parent.identity()
        assert c is not None and p is not None
        return MemoryLink(Side(c, child.replica), Side(p, parent.replica), clock)

    assert link(village, township).settle() > 0
    with village.store.read() as tx:
        sent = {e.seq: entry_wire(e) for e in tx.entries(CHAIN[-1], "case")}
    assert _wires(village, CHAIN[-1]) == dict.fromkeys(sent)  # own entries: encoded when sent
    assert _wires(township, CHAIN[-1]) == sent  # the bytes as they arrived
    newer = sent[2] + length_delimited(15, b"a field from a newer version")
    with township.store.transaction() as tx:
        tx.conn.execute(
            text("update entries set wire = :w where origin = :o and seq = 2"), {"w": newer, "o": CHAIN[-1]}
        )
    assert link(township, county).settle() > 0
    assert _wires(county, CHAIN[-1]) == {**sent, 2: newer}
    with county.store.read() as tx, village.store.read() as vx:
        assert list(tx.entries(CHAIN[-1], "case")) == list(vx.entries(CHAIN[-1], "case"))
    assert all(r.fault is None for r in county.audit.verify())
