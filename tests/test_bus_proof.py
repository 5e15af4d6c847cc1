"""The bus proof (federation.wire.bus_proof) against forgeries a subscriber may meet on an open
NATS server, without a server: a reference that carries a body, junk in the middle of a run,
a replayed message, a message a retired key signed."""

from __future__ import annotations

from federation.wire.bus_proof import BusVerifier, sign_run
from federation.wire.keys import NodeKey
from node.domain.entries import entry_hash

ORIGIN, STREAM = "511602001001", "case"
Msg = tuple[str, dict[str, str], bytes]


def run(n: int, key: NodeKey, signed_at: tuple[int, ...]) -> list[Msg]:
    """Messages 1..n of one stream as the relay publishes them, runs ending (signed) at `signed_at`."""
    prev, out = b"\0" * 32, []
    for seq in range(1, n + 1):
        body = f"body {seq}".encode()
        hash_ = entry_hash(ORIGIN, STREAM, seq, prev, "case_filed", body)
        headers = {
            "Yiwang-Origin": ORIGIN,
            "Yiwang-Stream": STREAM,
            "Yiwang-Seq": str(seq),
            "Yiwang-Hash": hash_.hex(),
            "Yiwang-Prev": prev.hex(),
        }
        if seq in signed_at:
            headers["Yiwang-Signature"] = sign_run(key, ORIGIN, STREAM, seq, hash_)
        out.append((f"yiwang.{ORIGIN}.{STREAM}.case_filed", headers, body))
        prev = hash_
    return out


def verify(messages: list[Msg], *keys: NodeKey) -> BusVerifier:
    verifier = BusVerifier(*(k.public_key for k in keys))
    for subject, headers, body in messages:
        verifier.feed(subject, headers, body)
    return verifier


def test_every_message_of_signed_runs_is_proven_once_even_when_replayed() -> None:
    key = NodeKey.generate()
    messages = run(5, key, (2, 5))
    verifier = verify([*messages, messages[1], messages[3]], key)  # replays after the dedup window
    assert sorted(m.seq for m in verifier.verdict.proven) == [1, 2, 3, 4, 5]
    assert verifier.verdict.forged == [] and verifier.unproven == []


def test_a_reference_carrying_a_body_of_another_kind_is_forged_not_proven() -> None:
    key = NodeKey.generate()
    messages = run(4, key, (2, 4))
    _, headers, _ = messages[2]
    fake = (f"yiwang.{ORIGIN}.{STREAM}.case_decided", {**headers, "Yiwang-Reference": "body-omitted"}, b"APPROVED")
    verifier = verify([*messages[:3], fake, *messages[3:]], key)
    assert [why for _, why in verifier.verdict.forged] == ["a reference (body-omitted) that carries a body"]
    assert all(m.kind == "case_filed" and not m.reference for m in verifier.verdict.proven)
    assert sorted(m.seq for m in verifier.verdict.proven) == [1, 2, 3, 4]


def test_junk_in_the_middle_of_a_run_stays_unproven_and_takes_nothing_genuine_with_it() -> None:
    key = NodeKey.generate()
    messages = run(4, key, (2, 4))
    body = b"junk"
    junk_hash = entry_hash(ORIGIN, STREAM, 3, b"\1" * 32, "case_filed", body)
    junk_headers = {
        "Yiwang-Origin": ORIGIN,
        "Yiwang-Stream": STREAM,
        "Yiwang-Seq": "3",
        "Yiwang-Hash": junk_hash.hex(),
        "Yiwang-Prev": ("01" * 32),
    }
    junk = (f"yiwang.{ORIGIN}.{STREAM}.case_filed", junk_headers, body)
    verifier = verify([*messages[:3], junk, *messages[3:]], key)
    assert sorted(m.seq for m in verifier.verdict.proven) == [1, 2, 3, 4]
    assert [m.hash for m in verifier.unproven] == [junk_hash]
    altered = (messages[0][0], messages[0][1], b"another body")
    assert [why for _, why in verify([altered], key).verdict.forged] == ["the body does not match Yiwang-Hash"]


def test_runs_signed_before_a_key_rotation_are_proven_with_the_earlier_key() -> None:
    old, new = NodeKey.generate(), NodeKey.generate()
    before, after = run(2, old, (2,)), run(4, new, (4,))[2:]
    verifier = verify([*before, *after], new, old)
    assert sorted(m.seq for m in verifier.verdict.proven) == [1, 2, 3, 4]
    assert verify([*before, *after], new).verdict.proven_keys() == {(ORIGIN, STREAM, 3), (ORIGIN, STREAM, 4)}
