"""Crypto suites: the algorithms a node signs, verifies and seals with, behind opaque key types.

A suite is named by the algorithm id every signature carries (`p256-sha256`). The rest of the
code holds `PublicKey` and `PrivateKey` values and asks them to sign, verify or seal a content
key; it never sees a curve or a library's key class. Two suites are registered: P-256 with
SHA-256 and AES-GCM (`p256-sha256`, pyca/cryptography), and the national SM2 with SM3 and
SM4-GCM (`sm2-sm3`, federation.wire.gm). Heads, envelopes, addressed entries and licences carry
the algorithm id, and a verifier looks the suite up by it.
"""

from __future__ import annotations

import functools
import hashlib
import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, cast

from cryptography.exceptions import InvalidSignature, InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from federation.wire import gm
from node.domain.errors import BadSignature, IntegrityError

CertificateHash = hashes.SHA256 | hashes.SHA384 | hashes.SHA512 | hashes.SHA3_256  # what X.509 signing takes


class UnsupportedKey(BadSignature):
    """A key or an algorithm id that no registered suite handles."""


class Suite(ABC):
    """One family of algorithms: signature, the hash, the sealing of a content key for a
    recipient and of the content, and the key encodings. Subclasses hold no state; a key of the
    suite is whatever `generate` and the loaders return (the suite's own library's type)."""

    alg: str  # the id signatures carry
    label: str  # what an operator reads
    seal_magic: bytes  # the first 4 bytes of a bundle sealed with this suite
    slot_len: int  # bytes of a recipient's slot in a sealed bundle, after the key id
    content_key_len: int  # bytes of a sealed bundle's content key
    entry_hash_alg: str  # the hash its nodes chain their entries with (node.domain.entries)

    @abstractmethod
    def generate(self) -> Any: ...

    @abstractmethod
    def adopts(self, raw: object) -> bool:
        """True for a library key (public or private) of this suite."""

    @abstractmethod
    def public_of(self, raw: Any) -> Any: ...

    @abstractmethod
    def sign(self, raw: Any, data: bytes) -> bytes: ...

    @abstractmethod
    def verify(self, raw: Any, signature: bytes, data: bytes) -> bool: ...

    @abstractmethod
    def digest(self, data: bytes) -> bytes:
        """The suite's hash (SHA-256, SM3): 32 bytes."""

    @abstractmethod
    def public_der(self, raw: Any) -> bytes:
        """The DER SubjectPublicKeyInfo."""

    @abstractmethod
    def public_pem(self, raw: Any) -> bytes: ...

    @abstractmethod
    def private_pem(self, raw: Any) -> bytes:
        """Unencrypted PKCS#8 PEM."""

    @abstractmethod
    def load_public(self, pem: bytes) -> Any | None:
        """The key of a PEM SubjectPublicKeyInfo if it is one of this suite's, else None."""

    @abstractmethod
    def load_public_der(self, der: bytes) -> Any | None:
        """The key of a DER SubjectPublicKeyInfo if it is one of this suite's, else None."""

    @abstractmethod
    def load_private(self, pem: bytes) -> Any | None:
        """The key of an unencrypted PKCS#8 PEM if it is one of this suite's, else None."""

    @abstractmethod
    def wrapper(self, raw: Any, recipient_id: bytes) -> Callable[[bytes], bytes]:
        """A function that seals content keys for the public key `raw`: each call returns a
        recipient slot of `slot_len` bytes (one key agreement may serve a whole batch)."""

    @abstractmethod
    def unwrap(self, raw: Any, recipient_id: bytes, slot: bytes) -> bytes:
        """The content key in a slot sealed for the private key `raw`; IntegrityError when the
        slot was altered or is not for this key."""

    @abstractmethod
    def content_seal(self, key: bytes, nonce: bytes, plain: bytes, aad: bytes) -> bytes: ...

    @abstractmethod
    def content_open(self, key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        """IntegrityError when the content or `aad` was altered."""

    def certificate_hash(self) -> CertificateHash:
        """The hash X.509 certificates of this suite's keys are signed with; UnsupportedKey for
        a suite X.509 (as pyca/cryptography builds it) cannot carry."""
        raise UnsupportedKey(f"{self.label} keys are not certified in X.509 certificates")


def _hkdf_wrapping_key(shared: bytes, eph_pub: bytes, recipient_id: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=eph_pub, info=b"yiwang/v1/seal" + recipient_id).derive(
        shared
    )


class Ecdsa(Suite):
    """ECDSA signatures on one NIST curve; sealing by ECDH with an ephemeral key, HKDF-SHA256
    and AES-GCM (a bundle's slot: ephemeral point, nonce, wrapped 256-bit AES key)."""

    seal_magic = b"YWS1"
    content_key_len = 32
    entry_hash_alg = "sha256"

    def __init__(self, alg: str, label: str, curve: ec.EllipticCurve, digest: CertificateHash) -> None:
        self.alg, self.label, self._curve, self._digest = alg, label, curve, digest
        self.ephemeral_len = 1 + 2 * ((curve.key_size + 7) // 8)  # an uncompressed point
        self.slot_len = self.ephemeral_len + 12 + 48

    def generate(self) -> CertificateIssuerPrivateKeyTypes:
        return ec.generate_private_key(self._curve)

    def adopts(self, raw: object) -> bool:
        return isinstance(raw, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) and raw.curve.name == (
            self._curve.name
        )

    def public_of(self, raw: Any) -> Any:
        return raw.public_key()

    def sign(self, raw: Any, data: bytes) -> bytes:
        assert isinstance(raw, ec.EllipticCurvePrivateKey)
        return raw.sign(data, ec.ECDSA(self._digest))

    def verify(self, raw: Any, signature: bytes, data: bytes) -> bool:
        assert isinstance(raw, ec.EllipticCurvePublicKey)
        try:
            raw.verify(signature, data, ec.ECDSA(self._digest))
        except InvalidSignature:
            return False
        return True

    def digest(self, data: bytes) -> bytes:
        return hashlib.sha256(data).digest()

    def public_der(self, raw: Any) -> bytes:
        out: bytes = raw.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return out

    def public_pem(self, raw: Any) -> bytes:
        out: bytes = raw.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        return out

    def private_pem(self, raw: Any) -> bytes:
        out: bytes = raw.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return out

    def _adopted(self, load: Callable[[bytes], object], data: bytes) -> Any | None:
        """The key `load` reads from `data` if it is one of this suite's, else None."""
        try:
            raw = load(data)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            return None
        return raw if self.adopts(raw) else None

    def load_public(self, pem: bytes) -> Any | None:
        return self._adopted(serialization.load_pem_public_key, pem)

    def load_public_der(self, der: bytes) -> Any | None:
        return self._adopted(serialization.load_der_public_key, der)

    def load_private(self, pem: bytes) -> Any | None:
        return self._adopted(functools.partial(serialization.load_pem_private_key, password=None), pem)

    def wrapper(self, raw: Any, recipient_id: bytes) -> Callable[[bytes], bytes]:
        assert isinstance(raw, ec.EllipticCurvePublicKey)
        eph = ec.generate_private_key(self._curve)
        point = serialization.PublicFormat.UncompressedPoint
        eph_pub = eph.public_key().public_bytes(serialization.Encoding.X962, point)
        aead = AESGCM(_hkdf_wrapping_key(eph.exchange(ec.ECDH(), raw), eph_pub, recipient_id))

        def wrap(content_key: bytes) -> bytes:
            nonce = os.urandom(12)
            return eph_pub + nonce + aead.encrypt(nonce, content_key, self.seal_magic)

        return wrap

    def unwrap(self, raw: Any, recipient_id: bytes, slot: bytes) -> bytes:
        assert isinstance(raw, ec.EllipticCurvePrivateKey)
        n = self.ephemeral_len
        eph_pub, nonce, wrapped = slot[:n], slot[n : n + 12], slot[n + 12 :]
        try:
            peer = ec.EllipticCurvePublicKey.from_encoded_point(self._curve, eph_pub)
        except ValueError:
            raise IntegrityError("sealed bundle's key slot is damaged") from None
        aead = AESGCM(_hkdf_wrapping_key(raw.exchange(ec.ECDH(), peer), eph_pub, recipient_id))
        try:
            return aead.decrypt(nonce, wrapped, self.seal_magic)
        except InvalidTag:
            raise IntegrityError("sealed bundle fails authentication: it was altered") from None

    def content_seal(self, key: bytes, nonce: bytes, plain: bytes, aad: bytes) -> bytes:
        return AESGCM(key).encrypt(nonce, plain, aad)

    def content_open(self, key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        try:
            return AESGCM(key).decrypt(nonce, sealed, aad)
        except InvalidTag:
            raise IntegrityError("sealed bundle fails authentication: it was altered") from None

    def certificate_hash(self) -> CertificateHash:
        return self._digest


class Sm2(Suite):
    """The national suite: SM2 signatures over Z(default id) with SM3 (GB/T 32918.2), the SM3
    hash, and sealing by SM2 public-key encryption (GB/T 32918.4) of a 128-bit SM4 wrapping key
    that wraps each bundle's content key with SM4-GCM, the content under SM4-GCM (RFC 8998).
    One SM2 encryption per recipient serves a whole batch, as P-256's ephemeral key does. Keys
    are federation.wire.gm's; tongsuopy loads on first use. A slot: the SM2 ciphertext's length
    and the ciphertext padded to 127 bytes, a nonce, the wrapped content key and its tag."""

    alg = "sm2-sm3"
    label = "SM2 / SM3 / SM4-GCM"
    seal_magic = b"YWS2"
    content_key_len = 16
    entry_hash_alg = "sm3"
    _ct_len = 1 + 127  # GM/T 0009 ASN.1 of a 16-byte secret: 121 to 125 bytes
    slot_len = _ct_len + 12 + 16 + 16

    def generate(self) -> Any:
        return gm.Sm2PrivateKey.generate()

    def adopts(self, raw: object) -> bool:
        return isinstance(raw, gm.Sm2PrivateKey | gm.Sm2PublicKey)

    def public_of(self, raw: Any) -> Any:
        return raw.public_key()

    def sign(self, raw: Any, data: bytes) -> bytes:
        assert isinstance(raw, gm.Sm2PrivateKey)
        return raw.sign(data)

    def verify(self, raw: Any, signature: bytes, data: bytes) -> bool:
        assert isinstance(raw, gm.Sm2PublicKey)
        return raw.verify(signature, data)

    def digest(self, data: bytes) -> bytes:
        return gm.sm3(data)

    def public_der(self, raw: Any) -> bytes:
        return bytes(raw.der())

    def public_pem(self, raw: Any) -> bytes:
        return bytes(raw.pem())

    def private_pem(self, raw: Any) -> bytes:
        return bytes(raw.pem())

    def load_public(self, pem: bytes) -> Any | None:
        return gm.Sm2PublicKey.from_pem(pem)

    def load_public_der(self, der: bytes) -> Any | None:
        return gm.Sm2PublicKey.from_der(der)

    def load_private(self, pem: bytes) -> Any | None:
        return gm.Sm2PrivateKey.from_pem(pem)

    def wrapper(self, raw: Any, recipient_id: bytes) -> Callable[[bytes], bytes]:
        assert isinstance(raw, gm.Sm2PublicKey)
        wrapping_key = os.urandom(16)
        ct = raw.encrypt(wrapping_key)
        if len(ct) >= self._ct_len:
            raise UnsupportedKey(f"an SM2 ciphertext of {len(ct)} bytes does not fit a slot")
        head = bytes([len(ct)]) + ct.ljust(self._ct_len - 1, b"\0")
        aad = self.seal_magic + recipient_id

        def wrap(content_key: bytes) -> bytes:
            nonce = gm.new_nonce()
            return head + nonce + gm.sm4_gcm_seal(wrapping_key, nonce, content_key, aad)

        return wrap

    def unwrap(self, raw: Any, recipient_id: bytes, slot: bytes) -> bytes:
        assert isinstance(raw, gm.Sm2PrivateKey)
        if len(slot) != self.slot_len or not 0 < slot[0] < self._ct_len:
            raise IntegrityError("sealed bundle's key slot is damaged")
        nonce, wrapped = slot[self._ct_len : self._ct_len + 12], slot[self._ct_len + 12 :]
        try:
            wrapping_key = raw.decrypt(slot[1 : 1 + slot[0]])
            if len(wrapping_key) != 16:
                raise BadSignature("an SM4 wrapping key of another size")
            key = gm.sm4_gcm_open(wrapping_key, nonce, wrapped, self.seal_magic + recipient_id)
        except BadSignature:
            raise IntegrityError("sealed bundle fails authentication: it was altered") from None
        if len(key) != self.content_key_len:
            raise IntegrityError("sealed bundle's key slot is damaged")
        return key

    def content_seal(self, key: bytes, nonce: bytes, plain: bytes, aad: bytes) -> bytes:
        return gm.sm4_gcm_seal(key, nonce, plain, aad)

    def content_open(self, key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        try:
            return gm.sm4_gcm_open(key, nonce, sealed, aad)
        except BadSignature:
            raise IntegrityError("sealed bundle fails authentication: it was altered") from None


P256 = Ecdsa("p256-sha256", "ECDSA P-256 / SHA-256", ec.SECP256R1(), hashes.SHA256())
SM2 = Sm2()
SUITES: dict[str, Suite] = {P256.alg: P256, SM2.alg: SM2}
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

    def __init__(self, raw: object) -> None:
        self.suite = _suite_of(raw)
        self._raw = raw
        self.der = self.suite.public_der(raw)
        self.key_id = hashlib.sha256(self.der).digest()[:16]

    @classmethod
    def from_pem(cls, pem: bytes) -> PublicKey:
        for s in SUITES.values():
            raw = s.load_public(pem)
            if raw is not None:
                return cls(raw)
        raise UnsupportedKey(f"not a PEM public key of a supported suite ({', '.join(sorted(SUITES))})")

    @classmethod
    def from_der(cls, der: bytes) -> PublicKey:
        for s in SUITES.values():
            raw = s.load_public_der(der)
            if raw is not None:
                return cls(raw)
        raise UnsupportedKey(f"not a DER public key of a supported suite ({', '.join(sorted(SUITES))})")

    @property
    def pem(self) -> bytes:
        return self.suite.public_pem(self._raw)

    def verify(self, alg: str, signature: bytes, data: bytes) -> bool:
        return alg == self.suite.alg and self.suite.verify(self._raw, signature, data)

    def wrapper(self) -> Callable[[bytes], bytes]:
        """Seals content keys for this key (node.wire.sealing)."""
        return self.suite.wrapper(self._raw, self.key_id)

    def library_key(self) -> CertificatePublicKeyTypes:
        """The `cryptography` key, for building certificates (this package only)."""
        self.suite.certificate_hash()  # UnsupportedKey for a suite X.509 cannot carry
        return cast(CertificatePublicKeyTypes, self._raw)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and other.der == self.der

    def __hash__(self) -> int:
        return hash(self.der)

    def __repr__(self) -> str:
        return f"PublicKey({self.suite.alg}, {self.key_id.hex()})"


class PrivateKey:
    """A private key of some suite; it signs and opens sealed slots, and is written as PKCS#8 PEM."""

    __slots__ = ("_raw", "public", "suite")

    def __init__(self, raw: object) -> None:
        self.suite = _suite_of(raw)
        self._raw = raw
        self.public = PublicKey(self.suite.public_of(raw))

    @classmethod
    def generate(cls, alg: str = DEFAULT) -> PrivateKey:
        return cls(suite(alg).generate())

    @classmethod
    def from_pem(cls, pem: bytes) -> PrivateKey:
        """Raises ValueError for bytes that are not an unencrypted PEM private key of a
        supported suite."""
        for s in SUITES.values():
            raw = s.load_private(pem)
            if raw is not None:
                return cls(raw)
        raise ValueError(f"not an unencrypted PEM private key of a supported suite ({', '.join(sorted(SUITES))})")

    def pem(self) -> bytes:
        return self.suite.private_pem(self._raw)

    def sign(self, data: bytes) -> bytes:
        return self.suite.sign(self._raw, data)

    def unwrap(self, slot: bytes) -> bytes:
        """The content key in a sealed bundle's slot for this key."""
        return self.suite.unwrap(self._raw, self.public.key_id, slot)

    def library_key(self) -> CertificateIssuerPrivateKeyTypes:
        """The `cryptography` key, for signing certificates (this package only)."""
        self.suite.certificate_hash()
        return cast(CertificateIssuerPrivateKeyTypes, self._raw)
