"""The pure replication rules: routing by division codes, cursors, batches and their check."""

from __future__ import annotations

import pytest

from federation.wire.keys import NodeKey, Purpose, Signature, verify
from node.domain.cursors import Cursor, CursorSet
from node.domain.divisions import DivisionCode as D
from node.domain.entries import GENESIS, Entry, Head, head_message, make_entry
from sync.batches import BatchRefused, check_batch, split
from sync.routing import Direction, Hop, goes_down, goes_up, lacking, next_hop, sent_back

VILLAGE, OTHER_COUNTY_VILLAGE = D("511602001001"), D("511621101002")


@pytest.mark.parametrize(("me", "addressee", "hop"), [
    ("511602001001", "511602001001", Hop(Direction.SELF)),
    ("511602001001", "511621101002", Hop(Direction.PARENT)),  # up towards 广安市
    ("511600000000", "511621101002", Hop(Direction.CHILD, D("511621000000"))),  # the LCA turns down
    ("511621000000", "511621101002", Hop(Direction.CHILD, D("511621101000"))),
    ("510000000000", "511621101002", Hop(Direction.CHILD, D("511600000000"))),
    ("510000000000", "500101001001", Hop(Direction.PEER, D("500000000000"))),  # to 重庆
    ("511602000000", "500101001001", Hop(Direction.PARENT)),
])  # fmt: skip
def test_next_hop(me: str, addressee: str, hop: Hop) -> None:
    assert next_hop(D(me), D(addressee)) == hop


def test_a_path_from_village_to_village_crosses_the_lowest_common_ancestor() -> None:
    node, path = VILLAGE, [VILLAGE]
    while node != OTHER_COUNTY_VILLAGE:
        hop = next_hop(node, OTHER_COUNTY_VILLAGE)
        node = hop.to if hop.to is not None else node.parent()  # type: ignore[assignment]
        path.append(node)
    assert [p.code for p in path] == ["511602001001", "511602001000", "511602000000", "511600000000",
                                      "511621000000", "511621101000", "511621101002"]  # fmt: skip


def test_up_and_down() -> None:
    county = D("511602000000")
    assert goes_up(county, VILLAGE) and goes_up(county, county) and not goes_up(county, D("511621000000"))
    assert goes_down(VILLAGE, D("510000000000"), "public") and goes_down(VILLAGE, county, "public")
    assert not goes_down(VILLAGE, county, "case") and not goes_down(VILLAGE, D("511621000000"), "public")
    assert not goes_down(VILLAGE, VILLAGE, "public")


def test_cursors_only_move_forward_and_say_what_is_missing() -> None:
    cursors = CursorSet([Cursor("511602000000", "case", 5)])
    cursors.advance("511602000000", "case", 3)
    assert cursors.get("511602000000", "case") == 5
    tails = {("511602000000", "case"): 9, ("511602001001", "public"): 2, ("511602001000", "case"): 0}
    assert list(cursors.behind(tails)) == [(("511602000000", "case"), 6, 9), (("511602001001", "public"), 1, 2)]
    assert CursorSet(list(cursors)) == cursors


def chain(n: int, origin: str = "511602001001", start: int = 0, prev: bytes = GENESIS) -> list[Entry]:
    out = []
    for seq in range(start + 1, start + n + 1):
        e = make_entry(origin, "case", seq, prev, "case_filed", b"x" * 100, f"C{seq}", seq)
        out.append(e)
        prev = e.hash
    return out


def signed_head(key: NodeKey, e: Entry) -> Head:
    sig = key.sign(Purpose.HEAD, head_message(e.origin, e.stream, e.seq, e.hash, 7))
    return Head(e.origin, e.stream, e.seq, e.hash, 7, sig.alg, sig.key_id, sig.value)


def verifier(key: NodeKey):  # type: ignore[no-untyped-def]
    return lambda h: verify(key.public_key, Purpose.HEAD, h.message(), Signature(h.alg, h.key_id, h.signature))


def test_split_bounds_count_and_bytes() -> None:
    entries = chain(1200)
    assert [len(b) for b in split(entries, max_entries=500)] == [500, 500, 200]
    assert [len(b) for b in split(entries[:10], max_bytes=520)] == [2] * 5  # about 250 bytes each
    assert [e for b in split(entries) for e in b] == entries


def test_a_good_batch_with_duplicates_applies_once() -> None:
    key = NodeKey.generate()
    entries = chain(10)
    held = {("511602001001", "case"): (4, entries[3].hash)}
    checked = check_batch(entries, [signed_head(key, entries[-1])], held, verifier(key))
    assert checked.new == entries[4:] and checked.duplicates == 4
    assert checked.tails[("511602001001", "case")] == (10, entries[-1].hash)
    again = check_batch(entries, [signed_head(key, entries[-1])], checked.tails, verifier(key))
    assert again.new == [] and again.duplicates == 10


def test_gaps_broken_chains_bad_hashes_and_unsigned_entries_refuse_the_batch() -> None:
    key, other = NodeKey.generate(), NodeKey.generate()
    entries = chain(6)
    head = [signed_head(key, entries[-1])]
    with pytest.raises(BatchRefused, match="gap"):
        check_batch(entries[2:], [signed_head(key, entries[-1])], {}, verifier(key))
    forged = [*entries[:3], entries[3]._replace(body=b"altered at the township"), *entries[4:]]
    with pytest.raises(BatchRefused, match="content") as err:
        check_batch(forged, head, {}, verifier(key))
    assert err.value.seq == 4
    relinked = chain(3, start=3, prev=b"\x01" * 32)
    with pytest.raises(BatchRefused, match="prev_hash"):
        check_batch(entries[:3] + relinked, [signed_head(key, relinked[-1])], {}, verifier(key))
    with pytest.raises(BatchRefused, match="no head"):
        check_batch(entries, [], {}, verifier(key))
    with pytest.raises(BatchRefused, match="signature"):
        check_batch(entries, [signed_head(other, entries[-1])], {}, verifier(key))


def test_a_parent_sends_back_only_what_a_child_lost_of_its_subtree_and_no_further() -> None:
    county, village, other = "511602000000", "511602001001", "511603000000"
    parent_holds = CursorSet(
        [
            Cursor(county, "case", 9),  # the county lost entries 6..9 of its own case stream
            Cursor(county, "public", 4),  # it holds all of this one
            Cursor(village, "case", 7),  # and 3..7 of a village's below it
            Cursor(other, "case", 50),  # another county's: not the child's to get
            Cursor("511600000000", "public", 30),  # the parent's own public stream: goes down anyway
        ]
    )
    child_says = CursorSet([Cursor(county, "case", 5), Cursor(county, "public", 4), Cursor(village, "case", 2)])
    back = sent_back(D(county), parent_holds, child_says)
    assert back == {(county, "case"): 9, (village, "case"): 7}
    assert lacking(back, child_says) == 4 + 5
    assert sent_back(D(county), parent_holds, parent_holds) == {}  # a child that lost nothing gets nothing back
