"""The store contract: the same tests on a real SQLite file and on real PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from node.context import Node
from node.domain.entries import GENESIS, make_entry
from tests.conftest import licence_item
from tests.helpers import counts

ORIGIN = "511602000000"


def chain(n: int, stream: str = "case", start: int = 0, prev: bytes = GENESIS) -> list:  # type: ignore[type-arg]
    out = []
    for seq in range(start + 1, start + n + 1):
        e = make_entry(ORIGIN, stream, seq, prev, "case_filed", f"b{seq}".encode(), f"S{seq}", seq)
        out.append(e)
        prev = e.hash
    return out


def test_append_read_back_and_tail(any_node: Node) -> None:
    entries = chain(1200)
    with any_node.store.transaction() as tx:
        tx.append_entries(entries[:700], 0)
        tx.append_entries(entries[700:], 700)
    with any_node.store.read() as tx:
        assert tx.tail(ORIGIN, "case") == (1200, entries[-1].hash)
        back = list(tx.entries(ORIGIN, "case", chunk=500))
        assert back == entries
        assert list(tx.entries(ORIGIN, "case", after=1190)) == entries[1190:]
        assert tx.entries_about("S5") == [entries[4]]
        assert tx.tail(ORIGIN, "public") == (0, GENESIS)


def test_a_failed_transaction_writes_nothing(any_node: Node) -> None:
    before = counts(any_node)
    with pytest.raises(RuntimeError), any_node.store.transaction() as tx:
        tx.append_entries(chain(10), 0)
        raise RuntimeError("boom")
    assert counts(any_node) == before


def test_duplicate_entry_key_is_refused(any_node: Node) -> None:
    entries = chain(3)
    with any_node.store.transaction() as tx:
        tx.append_entries(entries, 0)
    before = counts(any_node)
    with pytest.raises(SAIntegrityError), any_node.store.transaction() as tx:
        tx.append_entries(entries[2:], 2)
    assert counts(any_node) == before


def test_catalog_rows_insert_then_replace(any_node: Node) -> None:
    from node.store.catalog import item_row

    a, b = licence_item("1"), licence_item("2", promised=5)
    with any_node.store.transaction() as tx:
        tx.put_items([item_row(a, ORIGIN, 1), item_row(b, ORIGIN, 2)])
    changed = licence_item("2", promised=7)
    with any_node.store.transaction() as tx:
        tx.put_items([item_row(changed, ORIGIN, 3)])
    with any_node.store.read() as tx:
        got = tx.items([a.implementation_code, b.implementation_code])
        assert got[a.implementation_code] == a
        assert got[b.implementation_code] == changed
        assert [i.implementation_code for i in tx.list_items("教师", 10)] == sorted(got)
        assert [(i.implementation_code, o) for i, o in tx.items_with_origin(["511A0138600000"])]


def test_case_numbers_by_key_range(any_node: Node) -> None:
    from node.domain.lifecycle import File, apply
    from node.store.cases import case_row

    prefix = f"{ORIGIN}20260302"
    rows = []
    for i in (1, 2, 10):
        s = apply(None, File(f"{prefix}{i:06d}", "X", ORIGIN, ORIGIN), any_node.now())
        rows.append(case_row(s, i, "", False))
    other = apply(None, File(f"{ORIGIN}20260303000099", "X", ORIGIN, ORIGIN), any_node.now())
    rows.append(case_row(other, 9, "", False))
    with any_node.store.transaction() as tx:
        tx.insert_cases(rows)
        assert tx.last_case_no(prefix) == f"{prefix}000010"
        assert tx.last_case_no(f"{ORIGIN}20260304") is None
        assert set(tx.cases([f"{prefix}000002", "nope"])) == {f"{prefix}000002"}


def test_case_columns_match_the_table_and_the_state() -> None:
    from node.domain.lifecycle import CaseState
    from node.store.cases import CASE_COLUMNS
    from node.store.tables import CASES

    assert tuple(c.name for c in CASES.columns) == CASE_COLUMNS  # case_from_row unpacks in this order
    assert CaseState._fields[:3] == ("case_no", "item_code", "status")


def test_case_state_round_trips_through_a_row(any_node: Node) -> None:
    import datetime as dt

    from node.domain.lifecycle import Accept, File, RequestSupplement, apply
    from node.store.cases import case_row

    now = any_node.now()
    state = apply(None, File("C-RT-1", "X", ORIGIN, ORIGIN, "2", "2", 10, "agent-1", True), now)
    state = apply(state, Accept(("体检表",)), now + dt.timedelta(hours=1))
    state = apply(state, RequestSupplement(("户口簿",), "unclear"), now + dt.timedelta(days=1))
    with any_node.store.transaction() as tx:
        tx.insert_cases([case_row(state, 3, "2026-03-16", True, b"h" * 32)])
    with any_node.store.read() as tx:
        stored = tx.stored_cases(["C-RT-1"])["C-RT-1"]
    assert stored.state == state and (stored.due_date, stored.due_provisional) == ("2026-03-16", True)
