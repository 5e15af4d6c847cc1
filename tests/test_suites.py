"""The crypto suite registry (issue 9): keys are opaque values of a registered suite. A suite
registered in one place - here a P-384 suite the product does not ship - serves certificates,
head signatures, envelopes and sealing through the unchanged code of every other module, and a
key or an algorithm id of no registered suite is refused with a clear error."""

from __future__ import annotations

import datetime as dt
import json
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
from node.domain.errors import IntegrityError, InvalidInput, SetupError, UnknownIssuer
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
    assert again.tls_key.public == key.tls_key.public and again.tls_key.suite.alg == "p256-sha256"
    with pytest.raises(UnsupportedKey, match=r"X\.509"):  # an SM2 key never goes into X.509 itself
        key.private_key.library_key()
    from federation.wire.national import requested_key

    csr = make_csr(D("511600000000"), key)  # the TLS key's CSR asks for the SM2 key beside it
    assert requested_key(csr, "511600000000") == key.public_key
    with pytest.raises(UnknownIssuer, match="proof of possession"):
        requested_key(csr, "511602000000")  # the proof names the code it was made for


def test_an_sm2_province_certifies_its_nodes_national_keys_and_replicates_with_them(tmp_path: Path) -> None:
    """A province on the national suite: each node's certificate carries a P-256 key for TLS
    and an SM2 key endorsed by its issuer's SM2 key down from the root; heads, sealing and the
    audit run on SM2; a chain whose endorsement is missing or forged is refused."""
    from federation.wire.national import national_key

    clock = Clock(NOW)
    province = Node.init(tmp_path / "510000000000", "510000000000", clock=clock, key=NodeKey.generate("sm2-sm3"))
    nodes = [province]
    try:
        for code in ("511600000000", "511602000000"):
            nodes.append(enroll(nodes[-1], code, tmp_path, clock))
        province.divisions.publish(list(example_tree("51")))
        city, county = nodes[1:]
        for node in nodes:
            identity = node.identity()
            assert identity is not None and node.key.suite.alg == "sm2-sm3"
            assert node.key.tls_key.suite.alg == "p256-sha256"  # TLS stays P-256
            assert identity.cert.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            ) == (node.key.tls_key.public.der)
            assert certified_key(identity.cert) == node.key.public_key  # the SM2 key is what it signs with
            anchors = {fingerprint(identity.root)}
            assert verify_chain(list(identity.chain), anchors, NOW).code.code == node.code
        item = licence_item(division="511602000000")
        county.catalog.import_items([item])
        (case,) = county.cases.file_many([FileRequest(item.implementation_code, PERSON)], "窗口")
        assert push_up(county, city) > 0 and push_up(city, province) > 0  # SM2 heads verified above
        assert push_down(province, city) > 0
        with province.store.read() as tx:
            assert case.case_no in tx.cases([case.case_no])
        assert county.cases.applicant(case.case_no).name == PERSON.name  # sealed with SM2 / SM4-GCM
        with county.store.read() as tx:
            digest = tx.case_bundle_hash(case.case_no)
            assert digest and (tx.bundle(digest) or b"")[:4] == b"YWS2"
        from node.domain.entries import Stream, hash_alg
        from node.domain.entries import verify_chain as verify_entries

        with province.store.read() as tx:  # the county's stream, as the province holds it: an SM3 chain
            held = list(tx.entries("511602000000", Stream.CASE))
        assert held and all(len(e.hash) == 33 and hash_alg(e.hash) == "sm3" for e in held)
        assert verify_entries(held) is None
        altered = [*held[:-1], held[-1]._replace(body=held[-1].body + b"x")]
        assert verify_entries(altered) is not None
        for node in nodes:
            reports = node.audit.verify()
            assert reports and all(r.fault is None for r in reports)
        # a county certificate whose endorsement is cut off, or signed by the county itself, is refused
        identity = county.identity()
        assert identity is not None and national_key(identity.cert) is not None
        chain = list(identity.chain)
        forged = _reissued(chain[0], city.key, endorsement=county.key.private_key.sign(b"anything"))
        with pytest.raises(UnknownIssuer, match="not endorsed"):
            verify_chain([forged, *chain[1:]], {fingerprint(chain[-1])}, NOW)
        with pytest.raises(UnknownIssuer, match="carries no national signing key"):
            verify_chain([_reissued(chain[0], city.key, None), *chain[1:]], {fingerprint(chain[-1])}, NOW)
        assert verify_chain(
            [_reissued(chain[0], city.key, _endorsement(chain[0])), *chain[1:]], {fingerprint(chain[-1])}, NOW
        )
    finally:
        for node in nodes:
            node.close()


def _endorsement(cert: x509.Certificate) -> bytes:
    from federation.wire.national import ENDORSEMENT

    value = cert.extensions.get_extension_for_oid(ENDORSEMENT).value
    assert isinstance(value, x509.UnrecognizedExtension)
    return value.value


def _reissued(cert: x509.Certificate, issuer: NodeKey, endorsement: bytes | None) -> x509.Certificate:
    """`cert` signed again by `issuer`'s TLS key, with `endorsement` in place of its own (None:
    without one)."""
    from federation.wire.national import ENDORSEMENT

    builder = (
        x509.CertificateBuilder()
        .subject_name(cert.subject)
        .issuer_name(cert.issuer)
        .public_key(cert.public_key())
        .serial_number(cert.serial_number)
        .not_valid_before(cert.not_valid_before_utc)
        .not_valid_after(cert.not_valid_after_utc)
    )
    for ext in cert.extensions:
        if ext.oid != ENDORSEMENT:
            builder = builder.add_extension(ext.value, ext.critical)
    if endorsement is not None:
        builder = builder.add_extension(x509.UnrecognizedExtension(ENDORSEMENT, endorsement), critical=False)
    return builder.sign(issuer.tls_key.library_key(), hashes.SHA256())


def test_one_province_runs_one_suite_and_init_says_which_it_takes(tmp_path: Path) -> None:
    """An SM2 province refuses a P-256 CSR and a P-256 province an SM2 one; `init --suite`
    takes p256 or sm2 at a province only, and a bad value leaves nothing behind."""
    p256_root, sm2_root = NodeKey.generate(), NodeKey.generate("sm2-sm3")
    code = D("511600000000")
    for root_key, child_key in ((sm2_root, NodeKey.generate()), (p256_root, NodeKey.generate("sm2-sm3"))):
        root = make_root(D("510000000000"), root_key, NOW, 1)
        with pytest.raises(InvalidInput, match="a province and all its nodes run one suite"):
            issue(make_csr(code, child_key), code, root, root_key, NOW, 2)
    from tests.fedtools import cli

    home = tmp_path / "p"
    refused = cli(home, "init", "--code", "510000000000", "--suite", "rsa", expect=2)
    assert "--suite" in refused.stderr and not home.exists()
    refused = cli(
        home, "init", "--code", "511600000000", "--parent", "127.0.0.1:1", "--token", "x", "--suite", "sm2", expect=2
    )
    assert "--suite" in refused.stderr and not home.exists()
    cli(home, "init", "--code", "510000000000", "--suite", "sm2", "--no-bus")
    shown = json.loads(cli(home, "status", "--json").stdout)
    assert shown["suite"] == "sm2-sm3"
    assert "SM2 / SM3 / SM4-GCM (TLS: P-256)" in cli(home, "status").stdout


def test_an_sm2_province_refuses_a_p256_national_key_a_sha256_chain_and_crafted_seals(tmp_path: Path) -> None:
    """What the national suite must refuse: a CSR whose 'national' key is P-256 (a node would
    sign with P-256 inside an SM2 province), a head of an SM2 origin over a SHA-256 chain, a
    sealed slot whose SM2 ciphertext holds a key of the wrong size, and a bundle cut short.
    Each is a clear refusal, never an exception that would end a link."""
    from federation.wire.keys import NodeKey as Key
    from federation.wire.suites import PrivateKey
    from node.domain.entries import GENESIS, Head, Kind, Stream, head_message, make_entry
    from sync.batches import BatchRefused

    root_key = NodeKey.generate("sm2-sm3")
    root = make_root(D("510000000000"), root_key, NOW, 1)
    downgraded = Key(PrivateKey.generate(), tls=PrivateKey.generate())  # P-256 posing as national
    with pytest.raises(InvalidInput, match="not SM2"):
        issue(make_csr(D("511600000000"), downgraded), D("511600000000"), root, root_key, NOW, 2)

    clock = Clock(NOW)
    province = Node.init(tmp_path / "510000000000", "510000000000", clock=clock, key=NodeKey.generate("sm2-sm3"))
    city = enroll(province, "511600000000", tmp_path, clock)
    try:
        for alg, refused in (("sha256", True), ("sm3", False)):
            e = make_entry(city.code, Stream.CASE, 1, GENESIS, Kind.NOTICE_SENT, b"x", "to:510000000000", 1, alg)
            sig = city.key.sign(Purpose.HEAD, head_message(city.code, Stream.CASE, 1, e.hash, 1))
            head = Head(city.code, Stream.CASE, 1, e.hash, 1, sig.alg, sig.key_id, sig.value)
            if refused:
                with pytest.raises(BatchRefused, match="head signature"):
                    province.replica.apply_batch([e], [head])
            else:
                province.replica.apply_batch([e], [head])
        with province.store.read() as tx:
            assert [x.hash for x in tx.entries(city.code, Stream.CASE)] == [e.hash]  # only the SM3 one
    finally:
        province.close()
        city.close()

    key = NodeKey.generate("sm2-sm3")
    sealed = seal(b"personal data", [key.public_key])
    slot_at = 5 + 16
    from federation.wire import gm

    recipient = gm.Sm2PublicKey.from_pem(key.public_key.pem)
    assert recipient is not None
    ct = recipient.encrypt(b"12345")  # a slot whose SM2 ciphertext holds 5 bytes, not a 16-byte key
    forged = bytearray(sealed)
    forged[slot_at : slot_at + 128] = bytes([len(ct)]) + ct.ljust(127, b"\0")
    with pytest.raises(IntegrityError, match="altered"):
        open_sealed(bytes(forged), key.private_key)
    with pytest.raises(IntegrityError, match="cut short"):
        open_sealed(sealed[: 5 + 16 + key.suite.slot_len + 5], key.private_key)


def test_an_sm2_key_rotation_keeps_both_keys_and_opens_what_was_sealed_before(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    old = NodeKey.generate("sm2-sm3")
    old.save(path)
    sealed = seal(b"before the rotation", [old.public_key])
    old.retire(path)
    new = old.generate_like()
    new.save(path, replace=True)
    loaded = NodeKey.load(path)
    assert loaded.public_key == new.public_key and loaded.tls_key.public == new.tls_key.public
    assert loaded.tls_key.public != old.tls_key.public and loaded.national is not None
    assert [k.public for k in loaded.opening_keys] == [new.public_key, old.public_key]
    from federation.wire.sealing import open_sealed_with

    assert open_sealed_with(sealed, loaded.opening_keys) == b"before the rotation"
