"""Sealed bundles: personal data encrypted to the nodes that may read it (DESIGN.md section 5).

A random content key encrypts the plaintext; for each recipient the suite seals the content
key into a slot only that recipient's private key opens. The log holds only SHA-256 of the
sealed bytes, which reveals nothing about the contents (a hash of the plaintext would let
anyone test guesses of an identity number).

    magic(4) | u8 recipients | { key_id(16) | slot }* | nonce(12) | ciphertext

- `YWS1`, P-256: a slot is an ephemeral point (65), a nonce (12) and the 256-bit AES key
  wrapped with AES-GCM under HKDF-SHA256 of the ECDH secret; the content is under AES-GCM.
- `YWS2`, SM2: a slot is the length and the SM2 ciphertext (GB/T 32918.4) of a 128-bit SM4 key,
  padded to 128 bytes; the content is under SM4-GCM (RFC 8998).

The magic authenticates with every wrap and the content. Every recipient of one bundle has the
same suite (a node seals to its own tree, and a province runs one suite).
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Sequence

from federation.wire.suites import SUITES, PrivateKey, PublicKey
from node.domain.errors import IntegrityError, InvalidInput

MAX_PLAINTEXT = 8 * 1024 * 1024


def seal(plaintext: bytes, recipients: list[PublicKey]) -> bytes:
    return seal_many([plaintext], recipients)[0]


def seal_many(plaintexts: list[bytes], recipients: list[PublicKey]) -> list[bytes]:
    """Seal each plaintext with its own content key. One key agreement per recipient serves
    the whole call where the suite allows (P-256's ECDH is the costly part); each wrap uses a
    fresh nonce, so bundles of one batch share nothing but an ephemeral public key."""
    if not recipients:
        raise InvalidInput("recipients", "a sealed bundle needs at least one recipient")
    for p in plaintexts:
        if len(p) > MAX_PLAINTEXT:
            raise InvalidInput("bundle", f"{len(p)} bytes exceeds {MAX_PLAINTEXT}")
    if len({pub.suite.alg for pub in recipients}) > 1:
        raise InvalidInput("recipients", "the recipients of one sealed bundle must share a crypto suite")
    s = recipients[0].suite
    wrappers = [(pub.key_id, pub.wrapper()) for pub in recipients]
    out = []
    for plaintext in plaintexts:
        content_key = os.urandom(s.content_key_len)
        parts = [s.seal_magic, struct.pack(">B", len(recipients))]
        for rid, wrap in wrappers:
            parts += [rid, wrap(content_key)]
        nonce = os.urandom(12)
        parts += [nonce, s.content_seal(content_key, nonce, plaintext, s.seal_magic)]
        out.append(b"".join(parts))
    return out


def is_sealed(data: bytes) -> bool:
    """Whether `data` starts as a sealed bundle of a registered suite."""
    return len(data) >= 5 and any(data[:4] == s.seal_magic for s in SUITES.values())


def open_sealed(sealed: bytes, private_key: PrivateKey) -> bytes:
    """Decrypt a bundle sealed to `private_key`'s public key."""
    s = private_key.suite
    if sealed[:4] != s.seal_magic or len(sealed) < 5:
        if is_sealed(sealed):
            raise IntegrityError(f"the bundle is sealed with another suite than this node's key ({s.label})")
        raise IntegrityError("not a sealed bundle (bad magic)")
    count = sealed[4]
    slot_len = 16 + s.slot_len
    body_at = 5 + count * slot_len
    if len(sealed) < body_at + 12 + 16:
        raise IntegrityError("sealed bundle is cut short")
    my_id = private_key.public.key_id
    for i in range(count):
        slot = sealed[5 + i * slot_len : 5 + (i + 1) * slot_len]
        if slot[:16] != my_id:
            continue
        content_key = private_key.unwrap(slot[16:])
        return s.content_open(content_key, sealed[body_at : body_at + 12], sealed[body_at + 12 :], s.seal_magic)
    raise IntegrityError("this node is not a recipient of the sealed bundle")


def open_sealed_with(sealed: bytes, keys: Sequence[PrivateKey]) -> bytes:
    """Decrypt with whichever of `keys` (a node's current key, then its retired ones) the
    bundle was sealed to."""
    for key in keys[:-1]:
        if _recipient(sealed, key):
            return open_sealed(sealed, key)
    return open_sealed(sealed, keys[-1])


def _recipient(sealed: bytes, key: PrivateKey) -> bool:
    if sealed[:4] != key.suite.seal_magic or len(sealed) < 5:
        return False
    slot_len = 16 + key.suite.slot_len
    return any(sealed[5 + i * slot_len : 21 + i * slot_len] == key.public.key_id for i in range(sealed[4]))


def bundle_hash(sealed: bytes) -> bytes:
    return hashlib.sha256(sealed).digest()
