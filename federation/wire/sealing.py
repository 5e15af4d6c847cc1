"""Sealed bundles: personal data encrypted to the nodes that may read it (DESIGN.md section 5).

Format (version 1): a random 256-bit content key encrypts the plaintext with AES-GCM; for each
recipient an ephemeral key of the recipient's suite agrees a secret with its key, HKDF-SHA256 turns it
into a wrapping key, and AES-GCM wraps the content key. The log holds only SHA-256 of the sealed
bytes, which reveals nothing about the contents (a hash of the plaintext would let anyone test
guesses of an identity number).

    b"YWS1" | u8 recipients | { key_id(16) | eph_pub | nonce(12) | wrapped(48) }* | nonce(12) | ciphertext

`eph_pub` is as long as the suite's encoded ephemeral key (65 bytes for P-256); every
recipient of one bundle has the same suite (a node seals to its own tree).
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from federation.wire.suites import PrivateKey, PublicKey, UnsupportedKey
from node.domain.errors import IntegrityError, InvalidInput

MAGIC = b"YWS1"
_WRAPPED_LEN = 48
MAX_PLAINTEXT = 8 * 1024 * 1024


def _wrapping_key(shared: bytes, eph_pub: bytes, recipient_id: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=eph_pub, info=b"yiwang/v1/seal" + recipient_id).derive(
        shared
    )


def seal(plaintext: bytes, recipients: list[PublicKey]) -> bytes:
    return seal_many([plaintext], recipients)[0]


def seal_many(plaintexts: list[bytes], recipients: list[PublicKey]) -> list[bytes]:
    """Seal each plaintext with its own content key. One ephemeral key per recipient serves the
    whole call (the ECDH is the costly part); each wrap uses a fresh random nonce, so bundles of
    one batch share nothing but the ephemeral public key."""
    if not recipients:
        raise InvalidInput("recipients", "a sealed bundle needs at least one recipient")
    for p in plaintexts:
        if len(p) > MAX_PLAINTEXT:
            raise InvalidInput("bundle", f"{len(p)} bytes exceeds {MAX_PLAINTEXT}")
    if len({pub.suite.alg for pub in recipients}) > 1:
        raise InvalidInput("recipients", "the recipients of one sealed bundle must share a crypto suite")
    wrappers = []
    for pub in recipients:
        shared, eph_pub = pub.agree_ephemeral()
        wrappers.append((pub.key_id, eph_pub, AESGCM(_wrapping_key(shared, eph_pub, pub.key_id))))
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


def open_sealed(sealed: bytes, private_key: PrivateKey) -> bytes:
    """Decrypt a bundle sealed to `private_key`'s public key."""
    if sealed[:4] != MAGIC or len(sealed) < 5:
        raise IntegrityError("not a sealed bundle (bad magic)")
    count = sealed[4]
    eph_len = private_key.suite.ephemeral_len
    slot_len = 16 + eph_len + 12 + _WRAPPED_LEN
    body_at = 5 + count * slot_len
    my_id = private_key.public.key_id
    for i in range(count):
        slot = sealed[5 + i * slot_len : 5 + (i + 1) * slot_len]
        if slot[:16] != my_id:
            continue
        eph_pub = slot[16 : 16 + eph_len]
        nonce = slot[16 + eph_len : 28 + eph_len]
        wrapped = slot[28 + eph_len :]
        try:
            wrap_key = _wrapping_key(private_key.agree(eph_pub), eph_pub, my_id)
        except UnsupportedKey:
            raise IntegrityError("sealed bundle's key slot is damaged") from None
        try:
            content_key = AESGCM(wrap_key).decrypt(nonce, wrapped, MAGIC)
            return AESGCM(content_key).decrypt(sealed[body_at : body_at + 12], sealed[body_at + 12 :], MAGIC)
        except InvalidTag:
            raise IntegrityError("sealed bundle fails authentication: it was altered") from None
    raise IntegrityError("this node is not a recipient of the sealed bundle")


def open_sealed_with(sealed: bytes, keys: Sequence[PrivateKey]) -> bytes:
    """Decrypt with whichever of `keys` (a node's current key, then its retired ones) the
    bundle was sealed to."""
    for key in keys[:-1]:
        if _recipient(sealed, key):
            return open_sealed(sealed, key)
    return open_sealed(sealed, keys[-1])


def _recipient(sealed: bytes, key: PrivateKey) -> bool:
    if sealed[:4] != MAGIC or len(sealed) < 5:
        return False
    slot_len = 16 + key.suite.ephemeral_len + 12 + _WRAPPED_LEN
    return any(sealed[5 + i * slot_len : 21 + i * slot_len] == key.public.key_id for i in range(sealed[4]))


def bundle_hash(sealed: bytes) -> bytes:
    return hashlib.sha256(sealed).digest()
