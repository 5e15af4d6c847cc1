"""Addressed entries between real node stores, in-process: routed up to the lowest common
ancestor and down, stored at every hop until the next one takes them, delivered exactly once,
across provinces through the two peered province nodes; every forged, altered or misrouted
copy refused with nothing stored. The running-process version is in test_federation.py."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from federation.wire.codec import addressed_from_wire
from federation.wire.identity import add_anchor
from node.config import write_settings
from node.context import Node
from node.domain.divisions import DivisionCode as D
from node.domain.entries import Addressed
from node.domain.errors import BadSignature, CertificateRevoked, InvalidInput, Misrouted, PeerError, UnknownIssuer
from node.store.mail import DELIVERED, FORWARDED, OUTBOX
from sync.outbox import addressed_row
from tests.conftest import Clock
from tests.helpers import counts
from tests.test_replica import enroll, province_node, push_down

PROVINCE, CITY = "510000000000", "511600000000"
BRANCH_A = ["511602000000", "511602001000", "511602001001"]  # county, township, village
BRANCH_B = ["511621000000", "511621101000", "511621101002"]
CHONGQING = ["500000000000", "500100000000", "500101000000"]


@pytest.fixture
def nodes(tmp_path: Path, clock: Clock) -> Iterator[dict[str, Node]]:
    """Sichuan with two counties under one city, and Chongqing, each anchoring the other."""
    made: dict[str, Node] = {}
    made[PROVINCE] = province_node(tmp_path / PROVINCE, PROVINCE, clock)
    made[CITY] = enroll(made[PROVINCE], CITY, tmp_path, clock)
    for branch in (BRANCH_A, BRANCH_B):
        parent = made[CITY]
        for code in branch:
            made[code] = parent = enroll(parent, code, tmp_path, clock)
    made[CHONGQING[0]] = Node.init(tmp_path / CHONGQING[0], CHONGQING[0], clock=clock)
    for code in CHONGQING[1:]:
        made[code] = enroll(made[D(code).parent().code], code, tmp_path, clock)  # type: ignore[union-attr]
    for a, b in ((PROVINCE, CHONGQING[0]), (CHONGQING[0], PROVINCE)):
        root = made[b].identity().root  # type: ignore[union-attr]
        fp = add_anchor(made[a].settings.data_dir, root)
        made[a].settings = dataclasses.replace(made[a].settings, anchors=(fp,))
        write_settings(made[a].settings)
        # the province publishes the peer root, and its descendants take it from their public streams
        identity = made[a].identity()
        assert identity is not None and made[a].enrollment(identity, 0).publish_anchor(root)
        assert not made[a].enrollment(identity, 0).publish_anchor(root)  # once
    for code, node in made.items():
        above = D(code).parent()
        if above is not None:
            push_down(made[above.code], node)
    yield made
    for n in made.values():
        n.close()


def relay(nodes: dict[str, Node]) -> list[tuple[str, str]]:
    """Hand every outbox entry to its next hop until nothing moves, as the links do: each hop
    takes what it can and refuses the rest, and the sender parks refused copies as dead
    letters. Returns the hops taken."""
    hops: list[tuple[str, str]] = []
    moved = True
    while moved:
        moved = False
        for code, node in nodes.items():
            for to in nodes:
                out = node.mail.outbox(to)
                if out:
                    stored, refused = nodes[to].mail.take([addressed_from_wire(w) for _, w in out], code)
                    node.mail.forwarded(to, stored)
                    node.mail.refused(to, refused)
                    hops.append((code, to))
                    moved = True
    return hops


def sent(node: Node) -> Addressed:
    """The copy a node just put in its outbox."""
    with node.store.read() as tx:
        return addressed_from_wire(bytes(tx.addressed_rows(limit=1)[0].wire))


def states(node: Node) -> list[str]:
    with node.store.read() as tx:
        return sorted(r.state for r in tx.addressed_rows())


def test_a_notice_climbs_to_the_common_ancestor_and_descends_to_the_addressee(nodes: dict[str, Node]) -> None:
    sender, addressee = nodes[BRANCH_A[-1]], nodes[BRANCH_B[-1]]
    sender.mail.send_notice(BRANCH_B[-1], "防汛值班", "请于周五前报送值班表")
    copy = sent(sender)
    assert states(sender) == [OUTBOX]
    hops = relay(nodes)
    path = [BRANCH_A[2], BRANCH_A[1], BRANCH_A[0], CITY, BRANCH_B[0], BRANCH_B[1], BRANCH_B[2]]
    assert hops == list(itertools.pairwise(path))  # through the city, never the province
    assert [n["title"] for n in addressee.mail.notices()] == ["防汛值班"]
    assert addressee.mail.notices()[0]["state"] == "received"
    assert states(addressee) == [DELIVERED]
    for code in path[:-1]:
        assert states(nodes[code]) == [FORWARDED], code
    assert states(nodes[PROVINCE]) == []
    # the entry is also in the sender's own case stream, and its chain verifies there
    assert all(r.fault is None for r in sender.audit.verify())
    # a copy resent after a lost acknowledgement is acknowledged and not stored or sent again
    before = counts(addressee)
    assert addressee.mail.receive([copy], BRANCH_B[1]) == [copy.key]
    assert counts(addressee) == before and relay(nodes) == []


def test_a_notice_to_another_province_passes_through_both_province_nodes(nodes: dict[str, Node]) -> None:
    nodes[BRANCH_A[-1]].mail.send_notice(CHONGQING[-1], "跨省通办", "协查")
    hops = relay(nodes)
    assert (PROVINCE, CHONGQING[0]) in hops and hops[-1] == (CHONGQING[1], CHONGQING[2])
    assert [n["from"] for n in nodes[CHONGQING[-1]].mail.notices()] == [BRANCH_A[-1]]
    # and back: Chongqing's district answers the village
    nodes[CHONGQING[-1]].mail.send_notice(BRANCH_A[-1], "回复", "已协查")
    relay(nodes)
    assert {n["state"] for n in nodes[BRANCH_A[-1]].mail.notices()} == {"sent", "received"}


def _forged(copy: Addressed, **change: object) -> Addressed:
    return copy._replace(**change)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("altered body", BadSignature),
        ("other addressee", BadSignature),
        ("other origin's signature", BadSignature),
        ("no chain", UnknownIssuer),
        ("from the wrong side", Misrouted),
        ("public stream", BadSignature),
    ],
)
def test_forged_or_misrouted_copies_are_refused_and_nothing_is_stored(
    nodes: dict[str, Node], case: str, error: type[PeerError]
) -> None:
    sender, county_a = nodes[BRANCH_A[-1]], nodes[BRANCH_A[0]]
    sender.mail.send_notice(BRANCH_B[-1], "t", "x")
    copy = sent(sender)
    nodes[BRANCH_A[1]].mail.send_notice(BRANCH_B[-1], "t", "y")
    other = sent(nodes[BRANCH_A[1]])
    bad, receiver, sender_code = {
        "altered body": (_forged(copy, entry=copy.entry._replace(body=b"\x0a\x01z")), nodes[BRANCH_A[1]], BRANCH_A[2]),
        "other addressee": (_forged(copy, addressee=BRANCH_A[0]), nodes[BRANCH_A[1]], BRANCH_A[2]),
        "other origin's signature": (_forged(copy, signature=other.signature), nodes[BRANCH_A[1]], BRANCH_A[2]),
        "no chain": (_forged(copy, chain_der=()), nodes[BRANCH_A[1]], BRANCH_A[2]),
        # the city hands county A an entry that must go down county B's branch: it would loop
        "from the wrong side": (copy, county_a, CITY),
        "public stream": (_forged(copy, entry=copy.entry._replace(stream="public")), county_a, BRANCH_A[1]),
    }[case]
    before = counts(receiver)
    with pytest.raises(error):
        receiver.mail.receive([copy, bad] if case != "from the wrong side" else [bad], sender_code)
    assert counts(receiver) == before


def test_a_revoked_origin_certificate_is_refused_at_the_next_hop(nodes: dict[str, Node]) -> None:
    village, township = nodes[BRANCH_A[-1]], nodes[BRANCH_A[1]]
    village.mail.send_notice(BRANCH_B[-1], "t", "x")
    copy = sent(village)
    identity = township.identity()
    assert identity is not None
    township.enrollment(identity, 1).revoke(BRANCH_A[-1], "key lost")
    before = counts(township)
    with pytest.raises((BadSignature, CertificateRevoked), match="revoked"):
        township.mail.receive([copy], BRANCH_A[-1])
    assert counts(township) == before


@pytest.mark.parametrize(
    ("to", "title", "text", "field"),
    [
        ("511602001001", "t", "x", "--to"),  # itself
        ("5116", "t", "x", "addressee"),
        ("511621101002", "  ", "x", "--title"),
        ("511621101002", "t", "x" * 4001, "TEXT"),
        ("511621101002", "t" * 201, "x", "--title"),
        ("511621101002", "t\x00", "x", "--title"),
        ("511621101002", "t", "x\x1b[2J", "TEXT"),
    ],
)
def test_bad_notices_are_refused_and_write_nothing(
    nodes: dict[str, Node], to: str, title: str, text: str, field: str
) -> None:
    village = nodes[BRANCH_A[-1]]
    before = counts(village)
    with pytest.raises(InvalidInput) as exc:
        village.mail.send_notice(to, title, text)
    assert exc.value.field == field
    assert counts(village) == before


def test_a_refused_copy_becomes_a_dead_letter_and_the_copies_behind_it_go_on(nodes: dict[str, Node]) -> None:
    village, township, addressee = nodes[BRANCH_A[-1]], nodes[BRANCH_A[1]], nodes[BRANCH_B[-1]]
    village.mail.send_notice(BRANCH_B[-1], "第一件", "x")
    first = sent(village)
    bad = _forged(first, addressee=BRANCH_B[0])  # the origin's signature names another addressee
    with village.store.transaction() as tx:
        tx.put_addressed([addressed_row(bad, D(BRANCH_A[1]), first.entry.recorded_at_us + 1)])
    village.mail.send_notice(BRANCH_B[-1], "第二件", "y")
    before = counts(township)
    relay(nodes)
    assert sorted(n["title"] for n in addressee.mail.notices()) == ["第一件", "第二件"]
    [dead] = village.mail.dead_letters()
    assert (dead.origin, dead.seq, dead.addressee, dead.next_hop) == (
        BRANCH_A[-1],
        first.entry.seq,
        BRANCH_B[0],
        BRANCH_A[1],
    )
    assert dead.refusal.startswith("BadSignature") and "signature does not verify" in dead.refusal
    assert counts(township)["addressed"] == before["addressed"] + 2  # the good copies only
    with village.store.read() as tx:
        alarms = [a for a in tx.alarms() if a.kind == "DeadLetter"]
    assert len(alarms) == 1 and alarms[0].peer == BRANCH_A[1] and "refused" in alarms[0].detail
    # retried: refused again, dead again (with a second alarm); discarded: never sent again
    assert village.mail.retry(None) == 1 and village.mail.outbox(BRANCH_A[1])
    relay(nodes)
    assert len(village.mail.dead_letters()) == 1
    key = (dead.origin, dead.stream, dead.seq, dead.addressee)
    assert village.mail.discard([key]) == 1
    assert village.mail.dead_letters() == [] and village.mail.outbox(BRANCH_A[1]) == []
    assert village.mail.retry(None) == 0 and village.mail.discard([key]) == 0
    assert counts(township)["addressed"] == before["addressed"] + 2


def test_a_copy_refused_for_a_cause_that_may_pass_goes_out_again_by_itself(
    nodes: dict[str, Node], clock: Clock
) -> None:
    """An unknown issuer (a peer province's root not yet at that hop) or a certificate outside
    its validity by the hop's clock may pass: such dead letters go out again after 15 minutes;
    a bad signature waits for an admin."""
    import datetime as dt

    village = nodes[BRANCH_A[-1]]
    village.mail.send_notice(BRANCH_B[-1], "甲", "x")
    village.mail.send_notice(BRANCH_B[-1], "乙", "y")
    [(first, _), (second, _)] = village.mail.outbox(BRANCH_A[1])
    village.mail.refused(BRANCH_A[1], [(first, "UnknownIssuer: no trusted root"), (second, "BadSignature: no")])
    assert village.mail.outbox(BRANCH_A[1]) == []
    clock.now += dt.timedelta(minutes=10)
    assert village.mail.outbox(BRANCH_A[1]) == []  # not yet
    clock.now += dt.timedelta(minutes=6)
    assert [k for k, _ in village.mail.outbox(BRANCH_A[1])] == [first]
    assert [(r.seq, r.refusal) for r in village.mail.dead_letters()] == [(second[2], "BadSignature: no")]
