"""Certificates, enrollment tokens and envelopes, in-process (the attack tests over real links
are in test_federation.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from yiwang.v1 import federation_pb2

from federation.transport.tls import channel_credentials, server_credentials
from federation.wire.certs import (
    _build,
    _name,
    certified_key,
    code_of,
    fingerprint,
    issue,
    make_csr,
    make_root,
    verify_chain,
)
from federation.wire.envelopes import LinkSession
from federation.wire.identity import Identity
from federation.wire.keys import NodeKey
from node.context import Node
from node.domain.divisions import DivisionCode as D
from node.domain.errors import (
    BadSignature,
    BadToken,
    CertificateExpired,
    CertificateRevoked,
    InvalidInput,
    OutsidePrefix,
    Replay,
    UnknownIssuer,
)
from node.services.enrollment import Enrollment, Token
from tests.conftest import Clock
from tests.helpers import counts

NOW = dt.datetime(2026, 3, 2, 2, tzinfo=dt.UTC)


def chain_of(*codes: str) -> tuple[list[NodeKey], list]:  # type: ignore[type-arg]
    """Keys and chain (leaf first) for a path of codes starting at a province."""
    keys = [NodeKey.generate() for _ in codes]
    certs = [make_root(D(codes[0]), keys[0], NOW, 1)]
    for i, code in enumerate(codes[1:], start=1):
        certs.append(issue(make_csr(D(code), keys[i]), D(code), certs[-1], keys[i - 1], NOW, i + 1))
    return keys, list(reversed(certs))


def test_a_five_tier_chain_verifies() -> None:
    _, chain = chain_of("510000000000", "511600000000", "511602000000", "511602100000", "511602100201")
    verified = verify_chain(chain, {fingerprint(chain[-1])}, NOW)
    assert verified.code == D("511602100201") and verified.root == D("510000000000")
    assert [code_of(c).tier for c in chain] == [5, 4, 3, 2, 1]


def test_another_provinces_root_needs_an_anchor() -> None:
    _, ours = chain_of("510000000000", "511600000000")
    _, theirs = chain_of("500000000000", "500100000000")
    with pytest.raises(UnknownIssuer, match="not a trusted anchor"):
        verify_chain(theirs, {fingerprint(ours[-1])}, NOW)
    assert verify_chain(theirs, {fingerprint(ours[-1]), fingerprint(theirs[-1])}, NOW).root == D("500000000000")


def test_an_issuer_cannot_certify_outside_its_prefix() -> None:
    keys, chain = chain_of("510000000000", "511600000000", "511602000000")
    with pytest.raises(OutsidePrefix):
        issue(make_csr(D("511621100201"), NodeKey.generate()), D("511621100201"), chain[0], keys[2], NOW, 9)
    # a rogue county builds the certificate by hand: every verifier refuses it
    rogue_key = NodeKey.generate()
    county_public = certified_key(chain[0])
    rogue = _build(
        D("511621100201"), rogue_key.public_key, _name(D("511602000000")), keys[2], county_public, NOW, 30, 9
    )
    with pytest.raises(OutsidePrefix, match="outside its prefix"):
        verify_chain([rogue, *chain], {fingerprint(chain[-1])}, NOW)


def test_revoked_and_expired_certificates_are_refused() -> None:
    _, chain = chain_of("510000000000", "511600000000", "511602000000")
    anchors = {fingerprint(chain[-1])}
    with pytest.raises(CertificateRevoked):
        verify_chain(chain, anchors, NOW, revoked={fingerprint(chain[1])})
    with pytest.raises(CertificateExpired):
        verify_chain(chain, anchors, NOW + dt.timedelta(days=400))


def test_a_forged_signature_is_refused() -> None:
    _, chain = chain_of("510000000000", "511600000000")
    _, other = chain_of("510000000000", "511600000000")
    with pytest.raises(UnknownIssuer, match="not signed by"):
        verify_chain([chain[0], other[-1]], {fingerprint(other[-1])}, NOW)


@pytest.fixture
def province(tmp_path: Path, clock: Clock) -> Iterator[tuple[Node, Enrollment]]:
    node = Node.init(tmp_path / "prov", "510000000000", clock=clock)
    identity = node.identity()
    assert identity is not None
    yield node, node.enrollment(identity, 7401)
    node.close()


def test_token_round_trip_and_damage() -> None:
    token = Token("511600000000", 7401, 1_800_000_000, b"s" * 24, "ab" * 32)
    assert Token.decode(token.encode()) == token
    with pytest.raises(InvalidInput):
        Token.decode(token.encode()[:-6] + "!!!!!!")
    with pytest.raises(InvalidInput):
        Token.decode("hello")


def test_enrollment_and_every_token_refusal(province: tuple[Node, Enrollment], clock: Clock) -> None:
    node, enrollment = province
    with pytest.raises(InvalidInput, match="not a child"):
        enrollment.make_token("511602000000")  # a county: its city enrolls it
    token = enrollment.make_token("511600000000")
    other = enrollment.make_token("511700000000")
    key = NodeKey.generate()
    csr = make_csr(D("511600000000"), key).public_bytes(Encoding.DER)
    before = counts(node)
    with pytest.raises(BadToken, match="unknown"):
        enrollment.enroll("511600000000", (b"x" * 24).hex(), csr)
    with pytest.raises(BadToken, match="made for 511700000000"):
        enrollment.enroll("511600000000", other.secret.hex(), csr)
    assert counts(node) == before
    chain = enrollment.enroll("511600000000", token.secret.hex(), csr)
    assert code_of(chain[0]) == D("511600000000") and certified_key(chain[0]) == key.public_key
    after = counts(node)
    assert after["issued_certificates"] == 1 and after["entries"] == before["entries"] + 1
    with pytest.raises(BadToken, match="used already"):
        enrollment.enroll("511600000000", token.secret.hex(), csr)
    clock.now += dt.timedelta(days=2)
    with pytest.raises(BadToken, match="expired"):
        enrollment.enroll("511700000000", other.secret.hex(), csr)
    assert counts(node) == after
    assert all(r.fault is None for r in node.audit.verify())


def test_revocation_is_a_public_entry(province: tuple[Node, Enrollment]) -> None:
    node, enrollment = province
    token = enrollment.make_token("511600000000")
    key = NodeKey.generate()
    chain = enrollment.enroll(
        "511600000000", token.secret.hex(), make_csr(D("511600000000"), key).public_bytes(Encoding.DER)
    )
    assert enrollment.revoke("511600000000", "key lost") == 1
    with node.store.read() as tx:
        assert tx.revoked_fingerprints() == {fingerprint(chain[0])}
        kinds = [e.kind for e in tx.entries(node.code, "public")]
    assert kinds == ["cert_issued", "cert_revoked"]
    with pytest.raises(InvalidInput, match="no unrevoked"):
        enrollment.revoke("511600000000")


def sessions() -> tuple[LinkSession, LinkSession, NodeKey, NodeKey]:
    a, b = NodeKey.generate(), NodeKey.generate()
    child_side = LinkSession("511600000000", "510000000000", b"L1", peer_key=b.public_key)
    parent_side = LinkSession("510000000000", "511600000000", b"L2", peer_key=a.public_key, peer_link_id=b"L1")
    return child_side, parent_side, a, b


def test_envelopes_verify_and_refuse_tampering_replay_and_old_timestamps() -> None:
    child_side, parent_side, child_key, _ = sessions()
    now = 1_772_416_800_000_000
    first = child_side.wrap(child_key, federation_pb2.EnvelopeBody(ping=federation_pb2.Ping()), now)
    assert parent_side.unwrap(first, now + 1000).link_seq == 1
    with pytest.raises(Replay, match="expected 2"):
        parent_side.unwrap(first, now + 2000)  # the same envelope again
    second = child_side.wrap(child_key, federation_pb2.EnvelopeBody(ping=federation_pb2.Ping()), now)
    tampered = federation_pb2.SignedEnvelope(payload=second.payload[:-1] + b"\x01", signature=second.signature)
    with pytest.raises(BadSignature):
        parent_side.unwrap(tampered, now)
    with pytest.raises(Replay, match="off"):
        parent_side.unwrap(second, now + 10 * 60 * 1_000_000)
    assert parent_side.received == 1  # refusals moved nothing


def test_identity_credentials_build() -> None:
    keys, chain = chain_of("510000000000", "511600000000")
    identity = Identity(keys[1], tuple(chain))
    assert identity.code == D("511600000000") and fingerprint(chain[-1]) in identity.anchors
    server_credentials(identity, mutual=True)
    channel_credentials(identity)
