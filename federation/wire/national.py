"""The national signing key in a node's X.509 certificate (docs/national-crypto.md).

TLS needs a P-256 certificate, so a node of an SM2 province keeps its P-256 key for TLS and
certifies an SM2 key beside it in the same certificate, as two non-critical extensions:
- `KEY`: the SM2 SubjectPublicKeyInfo (DER);
- `ENDORSEMENT`: the issuer's SM2 signature (DER r, s) over `endorsement_message`: the
  subject's code, the SM2 key, the certificate's P-256 key and its validity. A province root
  endorses its own key.

So the SM2 keys chain from the province's root by SM2 signatures alone, the key travels with
every chain a node sends (Hellos, addressed copies, licences), and the certificate's validity,
renewal and revocation apply to both keys. In a CSR, `KEY` comes with `POSSESSION`: the SM2
signature of the child over its code and its CSR's P-256 key (proof that it holds the key).
"""

from __future__ import annotations

import datetime as dt
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

from federation.wire.suites import PrivateKey, PublicKey, UnsupportedKey
from node.domain.errors import UnknownIssuer

_ARC = "2.25.292658596496176064905126801629826849251"  # a UUID OID (X.667): yiwang's own
KEY = x509.ObjectIdentifier(_ARC + ".1")
ENDORSEMENT = x509.ObjectIdentifier(_ARC + ".2")
POSSESSION = x509.ObjectIdentifier(_ARC + ".3")


def tls_spki(public: CertificatePublicKeyTypes) -> bytes:
    """The DER SubjectPublicKeyInfo of a certificate's or CSR's own (P-256) key."""
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def endorsement_message(
    code: str, national: PublicKey, tls_key_der: bytes, not_before: dt.datetime, not_after: dt.datetime
) -> bytes:
    """What an issuer's SM2 key signs to certify a subject's SM2 key."""
    return b"".join(
        [
            b"yiwang/v1/national-key\x00",
            code.encode(),
            hashlib.sha256(national.der).digest(),
            hashlib.sha256(tls_key_der).digest(),
            f"{int(not_before.timestamp())}-{int(not_after.timestamp())}".encode(),
        ]
    )


def possession_message(code: str, tls_key_der: bytes) -> bytes:
    """What a child's SM2 key signs in its CSR."""
    return b"yiwang/v1/national-key-possession\x00" + code.encode() + hashlib.sha256(tls_key_der).digest()


def _extension(exts: x509.Extensions, oid: x509.ObjectIdentifier) -> bytes | None:
    try:
        ext = exts.get_extension_for_oid(oid)
    except x509.ExtensionNotFound:
        return None
    value = ext.value
    if not isinstance(value, x509.UnrecognizedExtension):
        return None
    return bytes(value.value)


NATIONAL_SUITE = "sm2-sm3"  # the one suite a national key may be of


def _key_of(der: bytes, where: str) -> PublicKey:
    try:
        key = PublicKey.from_der(der)
    except UnsupportedKey:
        raise UnknownIssuer(f"{where}: the national key is of no supported suite") from None
    if key.suite.alg != NATIONAL_SUITE:
        raise UnknownIssuer(f"{where}: the national key is a {key.suite.label} key, not SM2")
    return key


def national_key(cert: x509.Certificate) -> PublicKey | None:
    """The SM2 key a certificate carries, None for a P-256 province's certificate (unchecked:
    `check_endorsement` proves it)."""
    der = _extension(cert.extensions, KEY)
    return None if der is None else _key_of(der, f"certificate serial {cert.serial_number}")


def check_endorsement(cert: x509.Certificate, code: str, issuer_key: PublicKey) -> PublicKey:
    """The certificate's SM2 key, proven by its endorsement under `issuer_key` (the issuer's SM2
    key; a root's own); UnknownIssuer when it is missing or does not verify."""
    key = national_key(cert)
    endorsement = _extension(cert.extensions, ENDORSEMENT)
    if key is None or endorsement is None:
        raise UnknownIssuer(f"certificate of {code} carries no national signing key, as its province's chain requires")
    message = endorsement_message(
        code, key, tls_spki(cert.public_key()), cert.not_valid_before_utc, cert.not_valid_after_utc
    )
    if not issuer_key.verify(issuer_key.suite.alg, endorsement, message):
        raise UnknownIssuer(f"the national key in the certificate of {code} is not endorsed by its issuer")
    return key


def endorse(
    builder: x509.CertificateBuilder,
    code: str,
    national: PublicKey,
    tls_key_der: bytes,
    issuer_national: PrivateKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> x509.CertificateBuilder:
    """Add the subject's SM2 key and the issuer's endorsement of it to a certificate."""
    message = endorsement_message(code, national, tls_key_der, not_before, not_after)
    return builder.add_extension(x509.UnrecognizedExtension(KEY, national.der), critical=False).add_extension(
        x509.UnrecognizedExtension(ENDORSEMENT, issuer_national.sign(message)), critical=False
    )


def request_key(
    builder: x509.CertificateSigningRequestBuilder, code: str, national: PrivateKey, tls_key_der: bytes
) -> x509.CertificateSigningRequestBuilder:
    """Ask for an SM2 key in a CSR, with the proof that the child holds it."""
    return builder.add_extension(x509.UnrecognizedExtension(KEY, national.public.der), critical=False).add_extension(
        x509.UnrecognizedExtension(POSSESSION, national.sign(possession_message(code, tls_key_der))), critical=False
    )


def requested_key(csr: x509.CertificateSigningRequest, code: str) -> PublicKey | None:
    """The SM2 key a CSR asks for, proven by its possession signature; None when it asks for
    none; UnknownIssuer when the proof fails."""
    der = _extension(csr.extensions, KEY)
    if der is None:
        return None
    key = _key_of(der, "the CSR")
    proof = _extension(csr.extensions, POSSESSION)
    message = possession_message(code, tls_spki(csr.public_key()))
    if proof is None or not key.verify(key.suite.alg, proof, message):
        raise UnknownIssuer("the CSR's national key comes without a valid proof of possession")
    return key
