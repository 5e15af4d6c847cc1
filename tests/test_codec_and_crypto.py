"""Round trips through the one conversion module, the entry hash chain, signatures, sealing."""

from __future__ import annotations

import datetime as dt

import pytest

from federation.wire.codec_cases import case_entry, case_record
from federation.wire.codec_catalog import calendar_from_pb, calendar_to_pb, item_from_pb, item_to_pb
from federation.wire.keys import NodeKey, Purpose, verify
from federation.wire.sealing import bundle_hash, open_sealed, seal, seal_many
from node.domain.calendar import make_calendar_year
from node.domain.entries import GENESIS, make_entry, verify_chain
from node.domain.errors import IntegrityError
from node.domain.joint_review import Mode, Opinion, Request, Verdict
from node.domain.lifecycle import (
    Accept,
    Decide,
    Evaluate,
    File,
    LapseReview,
    RequestReview,
    RequestSupplement,
    Suspend,
    apply,
)
from tests.conftest import licence_item

T0 = dt.datetime(2026, 3, 2, 2, 30, 15, 123456, tzinfo=dt.UTC)


def test_item_round_trip() -> None:
    item = licence_item()
    assert item_from_pb(item_to_pb(item)) == item
    bare = licence_item(promised=None, legal=None)
    assert item_from_pb(item_to_pb(bare)) == bare


def test_calendar_round_trip() -> None:
    year = make_calendar_year(2027, ["2027-01-01", "2027-02-06..2027-02-12"], ["2027-02-14"], "国办发明电")
    assert calendar_from_pb(calendar_to_pb(year)) == year


@pytest.mark.parametrize(
    "cmd",
    [
        Accept(("户口簿复印件",)),
        RequestSupplement(("体检表",), "不清晰"),
        Suspend("hearing", 5, "听证"),
        Decide(True, "", "R-1"),
        Decide(False, "不符合", ""),
        Evaluate(1, "二维码"),
        RequestReview(
            (
                Request("511602000000", "11511301008778183N", "区经信局", "2026-03-10"),
                Request("511600000000", "11511301008778490F", "市卫健委", "2026-03-20", Verdict.DISAGREE),
            ),
            Mode.ANY,
        ),
        LapseReview("511600000000", "11511301008778490F"),
        Decide(
            False,
            "不符合规划",
            "",
            (
                Opinion("511602000000", "11511301008778183N", Verdict.DISAGREE, "用地不符", "", 7, False, b"h" * 32),
                Opinion("511600000000", "11511301008778490F", Verdict.AGREE_FORWARD, "", "省发展改革委", 9),
            ),
            True,
        ),
    ],
)
def test_case_entry_round_trip(cmd: object) -> None:
    filed = File("C1", "ITEM", "511602000000", "511602100201", "1", "2", 10, "agent-7", True)
    state = apply(None, filed, T0)
    kind, body = case_entry(filed, state, T0, "op", "511602100201", sealed_bundle_hash=b"h" * 32)
    rec = case_record(body)
    assert kind == "case_filed" and rec.command == filed and rec.at == T0 and rec.sealed_bundle_hash == b"h" * 32
    kind, body = case_entry(cmd, state, T0, "op", "511602000000")  # type: ignore[arg-type]
    assert case_record(body).command == cmd


def test_head_and_entry_round_trips() -> None:
    from federation.wire.codec import entry_from_pb, entry_to_pb, head_from_pb, head_to_pb
    from node.domain.entries import Head

    entry = make_entry("511602000000", "case", 1, GENESIS, "case_filed", b"body", "C1", 42)
    assert entry_from_pb(entry_to_pb(entry)) == entry
    head = Head("511602000000", "case", 1, entry.hash, 42, "p256-sha256", b"k" * 16, b"sig")
    assert head_from_pb(head_to_pb(head)) == head


def test_garbage_body_is_an_integrity_error() -> None:
    with pytest.raises(IntegrityError):
        case_record(b"\xff\xff\xff")


def test_hash_chain_detects_every_kind_of_fault() -> None:
    entries = []
    prev = GENESIS
    for seq in range(1, 6):
        e = make_entry("511602000000", "case", seq, prev, "case_filed", f"body{seq}".encode())
        entries.append(e)
        prev = e.hash
    assert verify_chain(entries) is None
    tampered = [*entries[:2], entries[2]._replace(body=b"other"), *entries[3:]]
    fault = verify_chain(tampered)
    assert fault is not None and fault.seq == 3 and "content" in fault.reason
    fault = verify_chain([*entries[:2], *entries[3:]])
    assert fault is not None and fault.seq == 4 and "gap" in fault.reason


def test_signatures_are_bound_to_their_purpose() -> None:
    key = NodeKey.generate()
    sig = key.sign(Purpose.HEAD, b"message")
    assert verify(key.public_key, Purpose.HEAD, b"message", sig)
    assert not verify(key.public_key, Purpose.ENVELOPE, b"message", sig)
    assert not verify(key.public_key, Purpose.HEAD, b"messagf", sig)
    assert not verify(NodeKey.generate().public_key, Purpose.HEAD, b"message", sig)


def test_sealed_bundle_opens_only_for_its_recipients() -> None:
    a, b, c = NodeKey.generate(), NodeKey.generate(), NodeKey.generate()
    sealed = seal("张三 11010519491231002X".encode(), [a.public_key, b.public_key])
    assert "张三".encode() not in sealed
    assert open_sealed(sealed, a.private_key) == open_sealed(sealed, b.private_key)
    with pytest.raises(IntegrityError, match="not a recipient"):
        open_sealed(sealed, c.private_key)
    flipped = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(IntegrityError, match="altered"):
        open_sealed(flipped, a.private_key)


def test_bundles_of_one_batch_are_independent() -> None:
    key = NodeKey.generate()
    one, two = seal_many([b"same", b"same"], [key.public_key])
    assert one != two and bundle_hash(one) != bundle_hash(two)
    assert open_sealed(one, key.private_key) == open_sealed(two, key.private_key) == b"same"


def test_entry_hash_follows_the_documented_layout() -> None:
    import hashlib
    import struct

    from node.domain.entries import ENTRY_TAG, entry_hash

    def lp(b: bytes) -> bytes:
        return struct.pack(">I", len(b)) + b

    expected = hashlib.sha256(
        ENTRY_TAG
        + lp(b"511602000000")
        + lp(b"case")
        + struct.pack(">Q", 7)
        + lp(b"\x01" * 32)
        + lp(b"case_filed")
        + lp(b"\x0a\x02hi")
    ).digest()
    assert entry_hash("511602000000", "case", 7, b"\x01" * 32, "case_filed", b"\x0a\x02hi") == expected
