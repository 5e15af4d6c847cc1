"""The national algorithms (商用密码) as the SM2 suite will use them: SM3 (GB/T 32905), SM4
(GB/T 32907) in GCM mode as RFC 8998 uses it, and SM2 signatures (GB/T 32918.2) over the Z
value of the default user id `1234567812345678`, DER-encoded as GB/T 35276 writes them.

The library is tongsuopy (Tongsuo, the OpenSSL fork of the 铜锁 project, in C), chosen by
measurement (bench/gm_libraries.py): its SM2 signs 40 and verifies 85 times faster than
the pure-Python candidates. pyca/cryptography has SM3 and SM4 but no SM2. tongsuopy is imported
on first use only, so a node of a P-256 province never loads it (a village node's memory).
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Callable
from typing import Any

from node.domain.errors import BadSignature

DEFAULT_ID = b"1234567812345678"  # GB/T 35276: the user id when none is agreed
SM3_LEN = 32
SM4_KEY_LEN = 16
GCM_NONCE_LEN = 12  # RFC 8998
GCM_TAG_LEN = 16


@functools.cache
def _mod(name: str) -> Any:
    """A module of tongsuopy's crypto package, imported on first use."""
    try:
        return importlib.import_module(f"tongsuopy.crypto.{name}")
    except ImportError as e:
        raise RuntimeError("the SM2 suite needs the tongsuopy package: reinstall yiwang (pip install .)") from e


def sm3(data: bytes) -> bytes:
    """The SM3 digest of `data`."""
    h = _mod("hashes").Hash(_mod("hashes").SM3())
    h.update(data)
    digest: bytes = h.finalize()
    return digest


def sm4_block_encryptor(key: bytes) -> Callable[[bytes], bytes]:
    """SM4 on whole 16-byte blocks under one key (the standard's examples; sealing uses GCM)."""
    c = _mod("ciphers")
    update: Callable[[bytes], bytes] = c.Cipher(c.algorithms.SM4(key), c.modes.ECB()).encryptor().update
    return update


def sm4_gcm_seal(key: bytes, nonce: bytes, plain: bytes, aad: bytes = b"") -> bytes:
    """SM4-GCM: the ciphertext followed by its 16-byte tag."""
    sealed: bytes = _mod("ciphers.aead").SM4GCM(key).encrypt(nonce, plain, aad or None)
    return sealed


def sm4_gcm_open(key: bytes, nonce: bytes, sealed: bytes, aad: bytes = b"") -> bytes:
    """The plaintext of an SM4-GCM ciphertext; BadSignature when it or `aad` was changed."""
    try:
        plain: bytes = _mod("ciphers.aead").SM4GCM(key).decrypt(nonce, sealed, aad or None)
    except (_mod("exceptions").InvalidTag, ValueError):  # altered, or a key or nonce of another size
        raise BadSignature("an SM4-GCM ciphertext does not match its tag") from None
    return plain


def new_nonce() -> bytes:
    return os.urandom(GCM_NONCE_LEN)


def _backend() -> Any:
    """tongsuopy's Tongsuo backend (its cffi library and ffi)."""
    _mod("asymciphers.ec")  # a clear error when tongsuopy is missing
    return importlib.import_module("tongsuopy.backends.tongsuo.backend").backend


def _pkey_op(evp_pkey: Any, encrypt: bool, data: bytes) -> bytes:
    """SM2 public-key encryption (GB/T 32918.4; C1, C3, C2 in GM/T 0009's ASN.1) or its
    decryption, through Tongsuo's EVP_PKEY_encrypt/decrypt: tongsuopy 1.0 has no Python call
    for it, so this one goes through its cffi binding (pinned in pyproject; the standard's
    example in tests/test_gm_vectors.py checks it)."""
    b = _backend()
    lib, ffi = b._lib, b._ffi
    init, op = (
        (lib.EVP_PKEY_encrypt_init, lib.EVP_PKEY_encrypt)
        if encrypt
        else (lib.EVP_PKEY_decrypt_init, lib.EVP_PKEY_decrypt)
    )
    ctx = lib.EVP_PKEY_CTX_new(evp_pkey, ffi.NULL)
    if ctx == ffi.NULL:
        b._consume_errors_with_text()
        raise BadSignature("an SM2 key Tongsuo cannot use")
    ctx = ffi.gc(ctx, lib.EVP_PKEY_CTX_free)
    size = ffi.new("size_t *")
    if init(ctx) != 1 or op(ctx, ffi.NULL, size, data, len(data)) != 1:
        b._consume_errors_with_text()
        raise BadSignature("SM2 " + ("encryption" if encrypt else "decryption") + " failed")
    out = ffi.new("unsigned char[]", size[0])
    if op(ctx, out, size, data, len(data)) != 1:
        b._consume_errors_with_text()
        raise BadSignature("an SM2 ciphertext that does not open with this key: altered, or for another key")
    result: bytes = ffi.buffer(out, size[0])[:]
    return result


def _sm2_loaded(load: Callable[[bytes], Any], data: bytes, kind: str) -> Any | None:
    """The tongsuopy key `load` reads from `data` when it is an SM2 key of `kind` (its ec
    module's class name), else None (another kind of key, or not a key)."""
    try:
        raw = load(data)
    except (ValueError, TypeError, _mod("exceptions").UnsupportedAlgorithm):
        return None
    return raw if isinstance(raw, getattr(_mod("asymciphers.ec"), kind)) and raw.curve.name == "SM2" else None


class Sm2PrivateKey:
    """An SM2 private key: signs with SM3 over Z(default id) || message."""

    __slots__ = ("_raw",)

    def __init__(self, raw: Any) -> None:
        self._raw = raw

    @classmethod
    def generate(cls) -> Sm2PrivateKey:
        ec = _mod("asymciphers.ec")
        return cls(ec.generate_private_key(ec.SM2()))

    @classmethod
    def from_value(cls, d: int) -> Sm2PrivateKey:
        """The key whose private value is `d` (the standards' examples give it)."""
        ec = _mod("asymciphers.ec")
        return cls(ec.derive_private_key(d, ec.SM2()))

    def public_key(self) -> Sm2PublicKey:
        return Sm2PublicKey(self._raw.public_key())

    def sign(self, message: bytes) -> bytes:
        ec, hashes = _mod("asymciphers.ec"), _mod("hashes")
        signature: bytes = self._raw.sign(message, ec.ECDSA(hashes.SM3()))
        return signature

    def decrypt(self, ciphertext: bytes) -> bytes:
        """The plaintext of an SM2 ciphertext for this key; BadSignature when it does not open."""
        return _pkey_op(self._raw._evp_pkey, False, ciphertext)

    @classmethod
    def from_pem(cls, pem: bytes) -> Sm2PrivateKey | None:
        """The SM2 key of a PKCS#8 PEM, None when it holds another kind of key."""
        load = functools.partial(_mod("serialization").load_pem_private_key, password=None)
        raw = _sm2_loaded(load, pem, "EllipticCurvePrivateKey")
        return None if raw is None else cls(raw)

    def pem(self) -> bytes:
        ser = _mod("serialization")
        out: bytes = self._raw.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption())
        return out


class Sm2PublicKey:
    """An SM2 public key: verifies DER (r, s) signatures."""

    __slots__ = ("_raw",)

    def __init__(self, raw: Any) -> None:
        self._raw = raw

    @classmethod
    def from_point(cls, x: int, y: int) -> Sm2PublicKey:
        ec = _mod("asymciphers.ec")
        try:
            return cls(ec.EllipticCurvePublicNumbers(x, y, ec.SM2()).public_key())
        except ValueError:
            raise BadSignature("the point is not on the SM2 curve") from None

    @classmethod
    def from_pem(cls, pem: bytes) -> Sm2PublicKey | None:
        """The SM2 key of a SubjectPublicKeyInfo PEM, None when it holds another kind of key."""
        raw = _sm2_loaded(_mod("serialization").load_pem_public_key, pem, "EllipticCurvePublicKey")
        return None if raw is None else cls(raw)

    @classmethod
    def from_der(cls, der: bytes) -> Sm2PublicKey | None:
        """The SM2 key of a DER SubjectPublicKeyInfo, None when it holds another kind of key."""
        raw = _sm2_loaded(_mod("serialization").load_der_public_key, der, "EllipticCurvePublicKey")
        return None if raw is None else cls(raw)

    def der(self) -> bytes:
        ser = _mod("serialization")
        out: bytes = self._raw.public_bytes(ser.Encoding.DER, ser.PublicFormat.SubjectPublicKeyInfo)
        return out

    def pem(self) -> bytes:
        ser = _mod("serialization")
        out: bytes = self._raw.public_bytes(ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo)
        return out

    def encrypt(self, plaintext: bytes) -> bytes:
        """SM2 public-key encryption of a short secret (a content key) for this key."""
        return _pkey_op(self._raw._evp_pkey, True, plaintext)

    def point(self) -> tuple[int, int]:
        n = self._raw.public_numbers()
        return int(n.x), int(n.y)

    def verify(self, signature: bytes, message: bytes) -> bool:
        ec, hashes = _mod("asymciphers.ec"), _mod("hashes")
        try:
            self._raw.verify(signature, message, ec.ECDSA(hashes.SM3()))
        except (_mod("exceptions").InvalidSignature, _mod("exceptions").InternalError, ValueError):
            return False  # wrong, or not DER (Tongsuo reports that as an internal error)
        return True


def der_signature(r: int, s: int) -> bytes:
    """(r, s) as the DER SEQUENCE of two INTEGERs that SM2 signatures travel as."""

    def integer(v: int) -> bytes:
        body = v.to_bytes(v.bit_length() // 8 + 1, "big")  # a leading zero keeps it positive
        return b"\x02" + bytes([len(body)]) + body

    inner = integer(r) + integer(s)
    return b"\x30" + bytes([len(inner)]) + inner
