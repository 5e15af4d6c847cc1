"""The crypto suite registry (issue 9): keys are opaque values of a registered suite. A suite
registered in one place - here a P-384 suite the product does not ship - serves certificates,
head signatures, envelopes and sealing through the unchanged code of every other module, and a
key or an algorithm id of no registered suite is refused with a clear error."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from federation.wire.certs import certified_key, code_of, fingerprint, issue, make_csr, make_root, verify_chain
from federation.wire.keys import NodeKey, Purpose, Signature, verify
from federation.wire.sealing import open_sealed, seal, seal_many
from federation.wire.suites import DEFAULT, SUITES, Ecdsa, PublicKey, UnsupportedKey, register, suite
from node.context import Node
from node.divisions_data import example_tree
from node.domain.divisions import DivisionCode as D
from node.domain.errors import IntegrityError, InvalidInput, SetupError
from node.services.cases import Applicant, FileRequest
from tests.conftest import Clock, licence_item
from tests.test_replica import enroll, push_down, push_up

NOW = dt.datetime(2026, 3, 2, 2, tzinfo=dt.UTC)
PERSON = Applicant("1", "王小明", "11010519491231002X")
P384 = Ecdsa("p384-sha384", "ECDSA P-384 / SHA-384", ec.SECP384R1(), hashes.SHA384())


@pytest.fixture
def p384() -> Iterator[str]:
    register(P384)
    yield P384.alg
    del SUITES[P384.alg]


def test_the_default_suite_is_p256_and_unknown_ids_are_refused() -> None:
    key = NodeKey.generate()
    assert key.suite.alg == DEFAULT == "p256-sha256"
    with pytest.raises(UnsupportedKey, match="'ed25519' is not one this node supports"):
        suite("ed25519")
    assert suite("sm2-sm3").label == "SM2 / SM3 / SM4-GCM"  # the national suite is registered
    sig = key.sign(Purpose.HEAD, b"m")
    assert verify(key.public_key, Purpose.HEAD, b"m", sig)
    # the same value claimed under another algorithm id does not verify
    assert not verify(key.public_key, Purpose.HEAD, b"m", Signature("sm2-sm3", sig.key_id, sig.value))


def test_a_key_of_no_registered_suite_is_refused_everywhere(tmp_path: Path) -> None:
    other = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(UnsupportedKey, match="not a key of any supported suite"):
        PublicKey(other.public_key())
    pem = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "node.key").write_bytes(pem)
    with pytest.raises(SetupError, match="not an unencrypted PEM private key of a supported suite"):
        NodeKey.load(tmp_path / "node.key")
    # a parent refuses to certify such a key
    root_key = NodeKey.generate()
    root = make_root(D("510000000000"), root_key, NOW, 1)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "511600000000")]))
        .sign(other, hashes.SHA256())
    )
    with pytest.raises(InvalidInput, match="of no supported suite"):
        issue(csr, D("511600000000"), root, root_key, NOW, 2)


def test_a_registered_suite_certifies_signs_and_seals(p384: str) -> None:
    root_key, city_key = NodeKey.generate(p384), NodeKey.generate()
    assert root_key.suite.alg == p384 and root_key.public_key.suite is P384
    root = make_root(D("510000000000"), root_key, NOW, 1)
    city = issue(make_csr(D("511600000000"), city_key), D("511600000000"), root, root_key, NOW, 2)
    verified = verify_chain([city, root], {fingerprint(root)}, NOW)
    assert verified.code == D("511600000000") and certified_key(root) == root_key.public_key
    assert certified_key(city) == city_key.public_key != root_key.public_key
    sig = root_key.sign(Purpose.ENVELOPE, b"hello")
    assert sig.alg == p384 and verify(root_key.public_key, Purpose.ENVELOPE, b"hello", sig)
    sealed = seal(b"personal data", [root_key.public_key])
    assert open_sealed(sealed, root_key.private_key) == b"personal data"
    with pytest.raises(InvalidInput, match="share a crypto suite"):
        seal_many([b"x"], [root_key.public_key, city_key.public_key])


def test_a_province_on_another_suite_replicates_with_its_p256_city(p384: str, tmp_path: Path) -> None:
    clock = Clock(NOW)
    province = Node.init(tmp_path / "510000000000", "510000000000", clock=clock, key=NodeKey.generate(p384))
    city = enroll(province, "511600000000", tmp_path, clock)
    province.divisions.publish(list(example_tree("51")))  # after the city's first pull: it comes down below
    try:
        identity = province.identity()
        assert identity is not None and identity.key.suite.alg == p384 and code_of(identity.root).tier == 1
        assert city.key.suite.alg == "p256-sha256"
        item = licence_item(division="511600000000")
        city.catalog.import_items([item])
        (case,) = city.cases.file_many([FileRequest(item.implementation_code, PERSON)], "窗口")
        assert push_up(city, province) > 0  # P-256 heads verified at a P-384 province
        assert push_down(province, city) > 0  # P-384 heads (the city's certificate) verified at the city
        assert city.divisions.name("511602001001") == "翠屏路社区居委会"
        with province.store.read() as tx:
            assert case.case_no in tx.cases([case.case_no])
        for node in (province, city):
            reports = node.audit.verify()
            assert reports and all(r.fault is None for r in reports)
        with city.store.read() as tx:  # the city checks the province's heads with the P-384 key
            assert tx.origin_keys()[province.key.key_id] == ("510000000000", province.key.public_key.pem)
    finally:
        province.close()
        city.close()


def test_a_licence_at_rest_follows_a_key_rotation() -> None:
    """Licences are sealed to the node's key at rest (issue 10); `yiwang keys rotate` seals them
    again to both keys, so the running node (old key) and the node after its restart (new key)
    both open them."""
    from node.services.licenses import opened_at_rest, sealed_again, sealed_at_rest

    old, new = NodeKey.generate(), NodeKey.generate()
    stored = sealed_at_rest(old, b"signed licence bytes")
    again = sealed_again(old, new, stored)
    assert opened_at_rest(old, again) == opened_at_rest(new, again) == b"signed licence bytes"
    assert sealed_again(old, new, b"\x0a\x03clear") != b"\x0a\x03clear"  # a row stored in clear is sealed too


def test_the_national_suite_signs_seals_and_keeps_its_keys_through_the_registry(tmp_path: Path) -> None:
    """SM2 / SM3 / SM4-GCM behind the same opaque keys: a signature names `sm2-sm3` and
    verifies only as such, a bundle sealed with it (SM2-encrypted SM4 key, SM4-GCM content)
    opens only with its recipients' keys and refuses any change, and the key file round-trips.
    X.509 cannot carry an SM2 key as pyca/cryptography builds certificates: that is said."""
    key, other = NodeKey.generate("sm2-sm3"), NodeKey.generate("sm2-sm3")
    assert key.suite.alg == "sm2-sm3" and key.public_key.suite is suite("sm2-sm3")
    sig = key.sign(Purpose.HEAD, b"head")
    assert sig.alg == "sm2-sm3" and verify(key.public_key, Purpose.HEAD, b"head", sig)
    assert not verify(key.public_key, Purpose.ENVELOPE, b"head", sig)  # the purpose is signed too
    assert not verify(other.public_key, Purpose.HEAD, b"head", sig)
    assert not verify(key.public_key, Purpose.HEAD, b"head", Signature("p256-sha256", sig.key_id, sig.value))
    sealed = seal_many(["王小明 11010519491231002X".encode(), b"second"], [key.public_key, other.public_key])
    assert all(s[:4] == b"YWS2" for s in sealed) and b"11010519491231002X" not in sealed[0]
    assert open_sealed(sealed[0], key.private_key) == open_sealed(sealed[0], other.private_key)
    assert open_sealed(sealed[1], other.private_key) == b"second"
    for at in (30, len(sealed[0]) - 1):  # a recipient's slot, the content
        damaged = bytearray(sealed[0])
        damaged[at] ^= 1
        with pytest.raises(IntegrityError, match=r"altered|damaged"):
            open_sealed(bytes(damaged), key.private_key)
    with pytest.raises(IntegrityError, match="not a recipient"):
        open_sealed(sealed[0], NodeKey.generate("sm2-sm3").private_key)
    p256 = NodeKey.generate()
    with pytest.raises(IntegrityError, match="another suite"):
        open_sealed(seal(b"x", [p256.public_key]), key.private_key)
    with pytest.raises(InvalidInput, match="share a crypto suite"):
        seal_many([b"x"], [key.public_key, p256.public_key])
    key.save(tmp_path / "node.key")
    again = NodeKey.load(tmp_path / "node.key")
    assert again.public_key == key.public_key and again.public_key.key_id == key.public_key.key_id
    assert PublicKey.from_pem(key.public_key.pem) == key.public_key
    assert verify(again.public_key, Purpose.HEAD, b"head", again.sign(Purpose.HEAD, b"head"))
    with pytest.raises(UnsupportedKey, match=r"X\.509"):
        make_csr(D("511600000000"), key)
