"""Node certificates: a chain that mirrors the division tree (DESIGN.md section 6).

The province root is self-signed; every other node's certificate is issued by its parent and
names its 12-digit division code and tier (subject CN, OU, and a `urn:yiwang:division:CODE`
URI). `verify_chain` is the one policy every verifier applies: signatures up to a trusted root,
validity at `now`, CA flags, and the tree rule - an issuer certifies only codes under its own
prefix, one tier or more below itself - plus the revocations the verifier knows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from federation.wire.keys import NodeKey
from federation.wire.national import check_endorsement, endorse, national_key, request_key, requested_key, tls_spki
from federation.wire.suites import SUITES, PublicKey, UnsupportedKey
from node.domain.divisions import DivisionCode, Tier
from node.domain.errors import (
    CertificateExpired,
    CertificateRevoked,
    InvalidInput,
    OutsidePrefix,
    UnknownIssuer,
)

URN_PREFIX = "urn:yiwang:division:"
ROOT_DAYS = 3650
NODE_DAYS = 365


def dns_name(code: str) -> str:
    """The TLS name of a node: links override the target name with it (nodes move hosts)."""
    return f"n{code}.yiwang"


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the DER certificate, hex: what an enrollment token pins."""
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def to_pem(certs: Sequence[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def from_pem(data: bytes) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise InvalidInput("certificate", f"not a PEM certificate chain: {exc}") from None


def load_certificate(der: bytes) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        raise UnknownIssuer("a certificate does not decode") from None


def certified_key(cert: x509.Certificate) -> PublicKey:
    """The key a certificate certifies for signatures and sealing, of a registered crypto
    suite: the national key it carries in an SM2 province (`verify_chain` proves it), else its
    own key."""
    national = national_key(cert)
    return national if national is not None else tls_key(cert)


def tls_key(cert: x509.Certificate) -> PublicKey:
    """The certificate's own (TLS) key."""
    try:
        return PublicKey(cert.public_key())
    except UnsupportedKey as exc:
        raise UnknownIssuer(f"certificate key: {exc}") from None


def public_key_of(der: bytes) -> PublicKey:
    """The key a DER certificate certifies."""
    return certified_key(load_certificate(der))


def code_of(cert: x509.Certificate) -> DivisionCode:
    """The division code a certificate names (its URN SAN, which must agree with its CN)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        urns = [u for u in san.get_values_for_type(x509.UniformResourceIdentifier) if u.startswith(URN_PREFIX)]
        cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    except (x509.ExtensionNotFound, IndexError):
        raise UnknownIssuer("certificate names no division code") from None
    if len(urns) != 1 or urns[0][len(URN_PREFIX) :] != cn:
        raise UnknownIssuer("certificate's division URN and common name disagree")
    return DivisionCode.parse(str(cn), "certificate division")


def _name(code: DivisionCode) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "yiwang"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, code.tier.label),
            x509.NameAttribute(NameOID.COMMON_NAME, code.code),
        ]
    )


def _build(
    subject: DivisionCode,
    public_key: PublicKey,
    issuer_name: x509.Name,
    issuer_key: NodeKey,
    issuer_public: PublicKey,
    now: dt.datetime,
    days: int,
    serial: int,
    national: PublicKey | None = None,
) -> x509.Certificate:
    """A certificate of `public_key` (TLS), carrying `national` endorsed by the issuer's
    national key when the province runs the national suite."""
    is_ca = subject.tier != Tier.VILLAGE
    not_before, not_after = now - dt.timedelta(minutes=5), now + dt.timedelta(days=days)
    not_before, not_after = (t.replace(microsecond=0) for t in (not_before, not_after))  # as X.509 keeps them
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(public_key.library_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=is_ca,
                crl_sign=is_ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(dns_name(subject.code)), x509.UniformResourceIdentifier(URN_PREFIX + subject.code)]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key.library_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public.library_key()),  # type: ignore[arg-type]
            critical=False,
        )
    )
    if (national is None) != (issuer_key.national is None):
        raise InvalidInput(
            "csr",
            f"{subject} asks for a {'national' if national is not None else 'P-256 only'} certificate"
            f" and its issuer's province runs {'the national suite' if issuer_key.national else 'P-256'}:"
            " a province and all its nodes run one suite",
        )
    if national is not None and issuer_key.national is not None:
        spki = tls_spki(public_key.library_key())
        builder = endorse(builder, subject.code, national, spki, issuer_key.national, not_before, not_after)
    signer = issuer_key.tls_key
    return builder.sign(signer.library_key(), signer.suite.certificate_hash())


def make_root(code: DivisionCode, key: NodeKey, now: dt.datetime, serial: int) -> x509.Certificate:
    """A province's self-signed root (its national key, if any, endorsed by itself)."""
    if code.tier != Tier.PROVINCE:
        raise InvalidInput("--code", f"only a province ({code} is a {code.tier.label}) has a self-signed root")
    tls, national = key.tls_key.public, (key.national.public if key.national else None)
    return _build(code, tls, _name(code), key, tls, now, ROOT_DAYS, serial, national)


def make_csr(code: DivisionCode, key: NodeKey) -> x509.CertificateSigningRequest:
    """A CSR of the node's TLS key, asking for its national key too (with proof of possession)."""
    signer = key.tls_key
    builder = x509.CertificateSigningRequestBuilder().subject_name(_name(code))
    if key.national is not None:
        builder = request_key(builder, code.code, key.national, tls_spki(signer.public.library_key()))
    return builder.sign(signer.library_key(), signer.suite.certificate_hash())


def issue(
    csr: x509.CertificateSigningRequest,
    child: DivisionCode,
    issuer_cert: x509.Certificate,
    issuer_key: NodeKey,
    now: dt.datetime,
    serial: int,
    days: int = NODE_DAYS,
) -> x509.Certificate:
    """Certify `child`'s CSR; refuses a code outside the issuer's prefix or a bad CSR."""
    issuer_code = code_of(issuer_cert)
    if not issuer_code.is_ancestor_of(child):
        raise OutsidePrefix(f"{issuer_code} may not certify {child}: it is not under its prefix {issuer_code.prefix}")
    if not csr.is_signature_valid:
        raise InvalidInput("csr", "the CSR's signature does not verify")
    try:
        public = PublicKey(csr.public_key())
    except UnsupportedKey:
        raise InvalidInput("csr", f"the CSR's key is of no supported suite ({', '.join(sorted(SUITES))})") from None
    try:
        national = requested_key(csr, child.code)
    except UnknownIssuer as exc:
        raise InvalidInput("csr", str(exc)) from None
    return _build(child, public, issuer_cert.subject, issuer_key, tls_key(issuer_cert), now, days, serial, national)


@dataclass(frozen=True)
class Verified:
    code: DivisionCode
    root: DivisionCode
    not_after: dt.datetime


def verify_chain(
    chain: Sequence[x509.Certificate],
    anchors: Collection[str],
    now: dt.datetime,
    revoked: Collection[str] = (),
) -> Verified:
    """Check `chain` (leaf first, root last) against trusted root fingerprints `anchors`.

    `revoked` holds fingerprints of revoked certificates. Raises the specific PeerError."""
    if not chain:
        raise UnknownIssuer("empty certificate chain")
    root = chain[-1]
    if fingerprint(root) not in anchors:
        raise UnknownIssuer(f"chain ends at {code_of(root)}'s root {fingerprint(root)[:16]}..., not a trusted anchor")
    codes = [code_of(c) for c in chain]
    if codes[-1].tier != Tier.PROVINCE:
        raise UnknownIssuer("a chain's root must be a province")
    for cert, code in zip(chain, codes, strict=True):
        if fingerprint(cert) in revoked:
            raise CertificateRevoked(f"certificate of {code} (serial {cert.serial_number}) is revoked")
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise CertificateExpired(
                f"certificate of {code} is valid {cert.not_valid_before_utc:%Y-%m-%d} .. "
                f"{cert.not_valid_after_utc:%Y-%m-%d}, not at {now:%Y-%m-%d %H:%M}"
            )
    for i, (cert, code) in enumerate(zip(chain, codes, strict=True)):
        last = i + 1 == len(chain)
        issuer, issuer_code = (cert, code) if last else (chain[i + 1], codes[i + 1])
        try:
            cert.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            raise UnknownIssuer(f"certificate of {code} is not signed by {issuer_code}") from None
        if last:
            continue
        ca = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value
        if not ca.ca:
            raise UnknownIssuer(f"{issuer_code} is not a CA")
        if not issuer_code.is_ancestor_of(code):
            raise OutsidePrefix(f"{issuer_code} certified {code}, which is outside its prefix {issuer_code.prefix}")
    _check_national(chain, codes)
    return Verified(codes[0], codes[-1], chain[0].not_valid_after_utc)


def _check_national(chain: Sequence[x509.Certificate], codes: Sequence[DivisionCode]) -> None:
    """In a chain whose root carries a national key, every certificate's national key is
    endorsed by its issuer's, from the root's own down; in a P-256 chain none carries one."""
    issuer_national = national_key(chain[-1])
    if issuer_national is None:
        if any(national_key(c) is not None for c in chain):
            raise UnknownIssuer("a P-256 province's chain carries a national key")
        return
    for cert, code in reversed(list(zip(chain, codes, strict=True))):
        issuer_national = check_endorsement(cert, code.code, issuer_national)
