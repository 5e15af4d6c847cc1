"""A node's P-256 key: made at `yiwang init`, used for head signatures now and for mTLS,
envelopes and addressed entries with the federation.

Every signature carries an algorithm id and is made over a domain-separation tag per purpose,
so a signature for one purpose can never be replayed as another.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from node.domain.errors import SetupError

ALG_P256 = "p256-sha256"


class Purpose(StrEnum):
    HEAD = "head"
    ENVELOPE = "envelope"
    ADDRESSED_ENTRY = "addressed-entry"
    LICENSE = "license"


def _tag(purpose: Purpose) -> bytes:
    return f"yiwang/v1/{purpose.value}\x00".encode()


@dataclass(frozen=True)
class Signature:
    alg: str
    key_id: bytes
    value: bytes


def key_id(public_key: ec.EllipticCurvePublicKey) -> bytes:
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).digest()[:16]


def public_key_pem(public_key: ec.EllipticCurvePublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_public_key(pem: bytes) -> ec.EllipticCurvePublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise SetupError("the public key is not a P-256 key")
    return key


class NodeKey:
    """The node's private key with its sign operation."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        if not isinstance(private_key.curve, ec.SECP256R1):
            raise SetupError("a node key must be P-256")
        self._key = private_key
        self.public_key = private_key.public_key()
        self.key_id = key_id(self.public_key)

    @classmethod
    def generate(cls) -> NodeKey:
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def load(cls, path: Path) -> NodeKey:
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except FileNotFoundError:
            raise SetupError(f"no node key at {path}: run `yiwang init` first") from None
        except ValueError as exc:
            raise SetupError(f"{path} is not a readable PEM private key: {exc}") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise SetupError(f"{path} is not an EC private key")
        return cls(key)

    def save(self, path: Path, replace: bool = False) -> None:
        """Write the key readable by the owner only; with `replace`, atomically over the old one."""
        pem = self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        target = path.with_name(path.name + ".new") if replace else path
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        if replace:
            os.replace(target, path)

    @property
    def private_key(self) -> ec.EllipticCurvePrivateKey:
        return self._key

    def sign(self, purpose: Purpose, message: bytes) -> Signature:
        value = self._key.sign(_tag(purpose) + message, ec.ECDSA(hashes.SHA256()))
        return Signature(ALG_P256, self.key_id, value)


def verify(public_key: ec.EllipticCurvePublicKey, purpose: Purpose, message: bytes, sig: Signature) -> bool:
    """True when `sig` is a valid signature of `message` for `purpose` by `public_key`."""
    if sig.alg != ALG_P256 or sig.key_id != key_id(public_key):
        return False
    try:
        public_key.verify(sig.value, _tag(purpose) + message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True
