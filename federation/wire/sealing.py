"""Sealed bundles: personal data encrypted to the nodes that may read it (DESIGN.md section 5).

Format (version 1): a random 256-bit content key encrypts the plaintext with AES-GCM; for each
recipient an ephemeral P-256 key agrees a secret with the recipient's key, HKDF-SHA256 turns it
into a wrapping key, and AES-GCM wraps the content key. The log holds only SHA-256 of the sealed
bytes, which reveals nothing about the contents (a hash of the plaintext would let anyone test
guesses of an identity number).

    b"YWS1" | u8 recipients | { key_id(16) | eph_pub(65) | nonce(12) | wrapped(48) }* | nonce(12) | ciphertext
"""

from __future__ import annotations

import hashlib
import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from federation.wire.keys import key_id
from node.domain.errors import IntegrityError, InvalidInput

MAGIC = b"YWS1"
_EPH_LEN = 65
_WRAPPED_LEN = 48
_SLOT_LEN = 16 + _EPH_LEN + 12 + _WRAPPED_LEN
MAX_PLAINTEXT = 8 * 1024 * 1024


def _wrapping_key(shared: bytes, eph_pub: bytes, recipient_id: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=eph_pub, info=b"yiwang/v1/seal" + recipient_id).derive(
        shared
    )


def seal(plaintext: bytes, recipients: list[ec.EllipticCurvePublicKey]) -> bytes:
    return seal_many([plaintext], recipients)[0]


def seal_many(plaintexts: list[bytes], recipients: list[ec.EllipticCurvePublicKey]) -> list[bytes]:
    """Seal each plaintext with its own content key. One ephemeral key per recipient serves the
    whole call (the ECDH is the costly part); each wrap uses a fresh random nonce, so bundles of
    one batch share nothing but the ephemeral public key."""
    if not recipients:
        raise InvalidInput("recipients", "a sealed bundle needs at least one recipient")
    for p in plaintexts:
        if len(p) > MAX_PLAINTEXT:
            raise InvalidInput("bundle", f"{len(p)} bytes exceeds {MAX_PLAINTEXT}")
    wrappers = []
    for pub in recipients:
        rid = key_id(pub)
        eph = ec.generate_private_key(ec.SECP256R1())
        eph_pub = eph.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        wrappers.append((rid, eph_pub, AESGCM(_wrapping_key(eph.exchange(ec.ECDH(), pub), eph_pub, rid))))
    out = []
    for plaintext in plaintexts:
        content_key = AESGCM.generate_key(bit_length=256)
        parts = [MAGIC, struct.pack(">B", len(recipients))]
        for rid, eph_pub, wrap in wrappers:
            nonce = os.urandom(12)
            parts += [rid, eph_pub, nonce, wrap.encrypt(nonce, content_key, MAGIC)]
        nonce = os.urandom(12)
        parts += [nonce, AESGCM(content_key).encrypt(nonce, plaintext, MAGIC)]
        out.append(b"".join(parts))
    return out


def open_sealed(sealed: bytes, private_key: ec.EllipticCurvePrivateKey) -> bytes:
    """Decrypt a bundle sealed to `private_key`'s public key."""
    if sealed[:4] != MAGIC or len(sealed) < 5:
        raise IntegrityError("not a sealed bundle (bad magic)")
    count = sealed[4]
    body_at = 5 + count * _SLOT_LEN
    my_id = key_id(private_key.public_key())
    for i in range(count):
        slot = sealed[5 + i * _SLOT_LEN : 5 + (i + 1) * _SLOT_LEN]
        if slot[:16] != my_id:
            continue
        eph_pub = slot[16 : 16 + _EPH_LEN]
        nonce = slot[16 + _EPH_LEN : 28 + _EPH_LEN]
        wrapped = slot[28 + _EPH_LEN :]
        eph = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), eph_pub)
        wrap_key = _wrapping_key(private_key.exchange(ec.ECDH(), eph), eph_pub, my_id)
        try:
            content_key = AESGCM(wrap_key).decrypt(nonce, wrapped, MAGIC)
            return AESGCM(content_key).decrypt(sealed[body_at : body_at + 12], sealed[body_at + 12 :], MAGIC)
        except InvalidTag:
            raise IntegrityError("sealed bundle fails authentication: it was altered") from None
    raise IntegrityError("this node is not a recipient of the sealed bundle")


def bundle_hash(sealed: bytes) -> bytes:
    return hashlib.sha256(sealed).digest()
