"""Crypto suites: the algorithms a node signs, verifies and seals with, behind opaque key types.

A suite is named by the algorithm id every signature carries (`p256-sha256`). The rest of the
code holds `PublicKey` and `PrivateKey` values and asks them to sign, verify or agree a secret;
it never sees a curve or a library's key class. P-256 with SHA-256 is the suite registered
today; a national suite (SM2 with SM3) is one more `Suite` registered here, and nothing
outside this package changes: heads, envelopes, addressed entries and licences already carry
the algorithm id, and a verifier looks the suite up by it.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from typing import cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
    PrivateKeyTypes,
    PublicKeyTypes,
)

from node.domain.errors import BadSignature

CertificateHash = hashes.SHA256 | hashes.SHA384 | hashes.SHA512 | hashes.SHA3_256  # what X.509 signing takes


class UnsupportedKey(BadSignature):
    """A key or an algorithm id that no registered suite handles."""


class Suite(ABC):
    """One family of algorithms: signature, key agreement for sealing, and the hash that
    certificates are signed with. Subclasses hold no state."""

    alg: str  # the id signatures carry
    label: str  # what an operator reads
    ephemeral_len: int  # bytes of an encoded ephemeral public key in a sealed bundle

    @abstractmethod
    def generate(self) -> CertificateIssuerPrivateKeyTypes: ...

    @abstractmethod
    def adopts(self, raw: object) -> bool:
        """True for a library key (public or private) of this suite."""

    @abstractmethod
    def sign(self, raw: CertificateIssuerPrivateKeyTypes, data: bytes) -> bytes: ...

    @abstractmethod
    def verify(self, raw: CertificatePublicKeyTypes, signature: bytes, data: bytes) -> bool: ...

    @abstractmethod
    def agree_ephemeral(self, raw: CertificatePublicKeyTypes) -> tuple[bytes, bytes]:
        """(shared secret, encoded ephemeral public key) for a fresh key agreed with `raw`."""

    @abstractmethod
    def agree(self, raw: CertificateIssuerPrivateKeyTypes, ephemeral: bytes) -> bytes:
        """The shared secret of `raw` and an encoded ephemeral public key."""

    @abstractmethod
    def certificate_hash(self) -> CertificateHash: ...


class Ecdsa(Suite):
    """ECDSA signatures and ECDH sealing on one NIST curve."""

    def __init__(self, alg: str, label: str, curve: ec.EllipticCurve, digest: CertificateHash) -> None:
        self.alg, self.label, self._curve, self._digest = alg, label, curve, digest
        self.ephemeral_len = 1 + 2 * ((curve.key_size + 7) // 8)  # an uncompressed point

    def generate(self) -> CertificateIssuerPrivateKeyTypes:
        return ec.generate_private_key(self._curve)

    def adopts(self, raw: object) -> bool:
        return isinstance(raw, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) and raw.curve.name == (
            self._curve.name
        )

    def sign(self, raw: CertificateIssuerPrivateKeyTypes, data: bytes) -> bytes:
        assert isinstance(raw, ec.EllipticCurvePrivateKey)
        return raw.sign(data, ec.ECDSA(self._digest))

    def verify(self, raw: CertificatePublicKeyTypes, signature: bytes, data: bytes) -> bool:
        assert isinstance(raw, ec.EllipticCurvePublicKey)
        try:
            raw.verify(signature, data, ec.ECDSA(self._digest))
        except InvalidSignature:
            return False
        return True

    def agree_ephemeral(self, raw: CertificatePublicKeyTypes) -> tuple[bytes, bytes]:
        assert isinstance(raw, ec.EllipticCurvePublicKey)
        eph = ec.generate_private_key(self._curve)
        point = serialization.PublicFormat.UncompressedPoint
        return eph.exchange(ec.ECDH(), raw), eph.public_key().public_bytes(serialization.Encoding.X962, point)

    def agree(self, raw: CertificateIssuerPrivateKeyTypes, ephemeral: bytes) -> bytes:
        assert isinstance(raw, ec.EllipticCurvePrivateKey)
        try:
            peer = ec.EllipticCurvePublicKey.from_encoded_point(self._curve, ephemeral)
        except ValueError:
            raise UnsupportedKey(f"an ephemeral key is not a point of {self._curve.name}") from None
        return raw.exchange(ec.ECDH(), peer)

    def certificate_hash(self) -> CertificateHash:
        return self._digest


P256 = Ecdsa("p256-sha256", "ECDSA P-256 / SHA-256", ec.SECP256R1(), hashes.SHA256())
SUITES: dict[str, Suite] = {P256.alg: P256}
DEFAULT = P256.alg


def register(s: Suite) -> None:
    """Make a suite known to this process (verifiers look it up by its algorithm id)."""
    SUITES[s.alg] = s


def suite(alg: str) -> Suite:
    """The registered suite named `alg`; UnsupportedKey for any other."""
    found = SUITES.get(alg)
    if found is None:
        raise UnsupportedKey(f"algorithm {alg[:40]!r} is not one this node supports ({', '.join(sorted(SUITES))})")
    return found


def _suite_of(raw: object) -> Suite:
    for s in SUITES.values():
        if s.adopts(raw):
            return s
    raise UnsupportedKey(f"a {type(raw).__name__} is not a key of any supported suite ({', '.join(sorted(SUITES))})")


class PublicKey:
    """A public key of some suite: its id (SHA-256 of the DER SubjectPublicKeyInfo, first 16
    bytes), its encodings, and signature verification. Equal when the DER is equal."""

    __slots__ = ("_raw", "der", "key_id", "suite")

    def __init__(self, raw: PublicKeyTypes) -> None:
        self.suite = _suite_of(raw)
        self._raw = cast(CertificatePublicKeyTypes, raw)  # every suite's keys go in certificates
        self.der = raw.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.key_id = hashlib.sha256(self.der).digest()[:16]

    @classmethod
    def from_pem(cls, pem: bytes) -> PublicKey:
        try:
            raw = serialization.load_pem_public_key(pem)
        except ValueError:
            raise UnsupportedKey("not a PEM public key") from None
        return cls(raw)

    @property
    def pem(self) -> bytes:
        return self._raw.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def verify(self, alg: str, signature: bytes, data: bytes) -> bool:
        return alg == self.suite.alg and self.suite.verify(self._raw, signature, data)

    def agree_ephemeral(self) -> tuple[bytes, bytes]:
        return self.suite.agree_ephemeral(self._raw)

    def library_key(self) -> CertificatePublicKeyTypes:
        """The `cryptography` key, for building certificates (this package only)."""
        return self._raw

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and other.der == self.der

    def __hash__(self) -> int:
        return hash(self.der)

    def __repr__(self) -> str:
        return f"PublicKey({self.suite.alg}, {self.key_id.hex()})"


class PrivateKey:
    """A private key of some suite; it signs and agrees secrets, and is written as PKCS#8 PEM."""

    __slots__ = ("_raw", "public", "suite")

    def __init__(self, raw: PrivateKeyTypes) -> None:
        self.suite = _suite_of(raw)
        self._raw = cast(CertificateIssuerPrivateKeyTypes, raw)  # every suite's keys sign certificates
        self.public = PublicKey(raw.public_key())

    @classmethod
    def generate(cls, alg: str = DEFAULT) -> PrivateKey:
        return cls(suite(alg).generate())

    @classmethod
    def from_pem(cls, pem: bytes) -> PrivateKey:
        """Raises ValueError for bytes that are not an unencrypted PEM private key."""
        return cls(serialization.load_pem_private_key(pem, password=None))

    def pem(self) -> bytes:
        return self._raw.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def sign(self, data: bytes) -> bytes:
        return self.suite.sign(self._raw, data)

    def agree(self, ephemeral: bytes) -> bytes:
        return self.suite.agree(self._raw, ephemeral)

    def library_key(self) -> CertificateIssuerPrivateKeyTypes:
        """The `cryptography` key, for signing certificates (this package only)."""
        return self._raw
