"""A node's key: made at `yiwang init` with its province's crypto suite (federation.wire.suites),
used for head signatures, envelopes, addressed entries, licences and sealing. A node of a P-256
province uses the same key for mTLS; a node of an SM2 province keeps a P-256 key for mTLS beside
its SM2 key (gRPC's TLS refuses SM2), and its certificate carries both (federation.wire.national).
The key file holds the TLS key first when there are two.

Every signature carries its suite's algorithm id and is made over a domain-separation tag per
purpose, so a signature for one purpose can never be replayed as another.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from federation.wire.suites import DEFAULT, PrivateKey, PublicKey, UnsupportedKey
from node.domain.errors import SetupError


class Purpose(StrEnum):
    HEAD = "head"
    ENVELOPE = "envelope"
    ADDRESSED_ENTRY = "addressed-entry"
    LICENSE = "license"
    BUS_RUN = "bus-run"


def _tag(purpose: Purpose) -> bytes:
    return f"yiwang/v1/{purpose.value}\x00".encode()


@dataclass(frozen=True)
class Signature:
    alg: str
    key_id: bytes
    value: bytes


def load_public_key(pem: bytes) -> PublicKey:
    """A stored public key (origin keys are kept as PEM)."""
    try:
        return PublicKey.from_pem(pem)
    except UnsupportedKey as exc:
        raise SetupError(f"a stored public key is unusable: {exc}") from None


RETIRED_DIR = "retired-keys"  # beside the key: keys replaced by `yiwang keys rotate`


class NodeKey:
    """The node's private key with its sign operation, and the keys it replaced: kept only to
    open what was sealed to them before a rotation (sealed bundles and materials are named by
    their hash in the log, so they are not sealed again)."""

    def __init__(
        self,
        private_key: PrivateKey,
        retired: tuple[PrivateKey, ...] = (),
        path: Path | None = None,
        tls: PrivateKey | None = None,
    ) -> None:
        self._path = path  # the file it came from: a running node follows `yiwang keys rotate`
        self._stamp = _stamp(path)
        self._set(private_key, retired, tls)

    def _set(self, private_key: PrivateKey, retired: tuple[PrivateKey, ...], tls: PrivateKey | None) -> None:
        self._key = private_key
        self._tls = tls
        self.retired = retired
        self.suite = private_key.suite
        self.public_key = private_key.public
        self.key_id = self.public_key.key_id

    def refresh(self) -> bool:
        """Take the key file again when `yiwang keys rotate` replaced it under a running node
        (its signatures must match the chain the node now sends); True when it changed."""
        if self._path is None:
            return False
        stamp = _stamp(self._path)
        if stamp == self._stamp:
            return False
        fresh = NodeKey.load(self._path)
        self._set(fresh._key, fresh.retired, fresh._tls)
        self._stamp = stamp
        return True

    @classmethod
    def generate(cls, alg: str = DEFAULT) -> NodeKey:
        """A new key of suite `alg`, with a P-256 key for TLS beside it when X.509 (and so TLS)
        cannot carry that suite's keys."""
        key = PrivateKey.generate(alg)
        return cls(key, tls=None if _x509_capable(key) else PrivateKey.generate(DEFAULT))

    def generate_like(self) -> NodeKey:
        """A new key of this key's suite (a rotation, a renewal)."""
        return NodeKey.generate(self.suite.alg)

    @classmethod
    def load(cls, path: Path) -> NodeKey:
        try:
            retired = tuple(
                PrivateKey.from_pem(p.read_bytes()) for p in sorted((path.parent / RETIRED_DIR).glob("*.pem"))
            )
            keys = [PrivateKey.from_pem(block) for block in _pem_blocks(path.read_bytes())]
            if len(keys) == 2:
                return cls(keys[1], retired, path, tls=keys[0])
            if len(keys) != 1:
                raise ValueError(f"{len(keys)} keys in the file; a node key file holds one, or a TLS key and one")
            return cls(keys[0], retired, path)
        except FileNotFoundError:
            raise SetupError(f"no node key at {path}: run `yiwang init` first") from None
        except ValueError as exc:
            raise SetupError(f"{path} is not a readable PEM private key: {exc}") from None
        except UnsupportedKey as exc:
            raise SetupError(f"{path}: {exc}") from None

    def save(self, path: Path, replace: bool = False) -> None:
        """Write the key readable by the owner only; with `replace`, atomically over the old one."""
        target = path.with_name(path.name + ".new") if replace else path
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write((self._tls.pem() if self._tls is not None else b"") + self._key.pem())
        if replace:
            os.replace(target, path)

    def retire(self, key_path: Path) -> Path:
        """Keep this key (owner-only) among the retired ones beside `key_path`, before a new
        key replaces it."""
        folder = key_path.parent / RETIRED_DIR
        folder.mkdir(mode=0o700, exist_ok=True)
        target = folder / f"{self.key_id.hex()}.pem"
        if not target.exists():
            NodeKey(self._key).save(target)  # the key sealed data was sealed to, not the TLS key
        return target

    @property
    def private_key(self) -> PrivateKey:
        """The key that signs and opens sealed data (the SM2 key in an SM2 province)."""
        return self._key

    @property
    def tls_key(self) -> PrivateKey:
        """The key of the node's X.509 certificate and mTLS (P-256)."""
        return self._tls if self._tls is not None else self._key

    @property
    def national(self) -> PrivateKey | None:
        """The signing key its certificate carries beside the TLS key (SM2), if any."""
        return self._key if self._tls is not None else None

    @property
    def opening_keys(self) -> tuple[PrivateKey, ...]:
        """The current key, then the retired ones: what sealed data at rest may be sealed to."""
        self.refresh()
        return (self._key, *self.retired)

    def pem(self) -> bytes:
        """PKCS#8 PEM of the TLS key (for the TLS stack)."""
        return self.tls_key.pem()

    def sign(self, purpose: Purpose, message: bytes) -> Signature:
        self.refresh()
        return Signature(self.suite.alg, self.key_id, self._key.sign(_tag(purpose) + message))


def _x509_capable(key: PrivateKey) -> bool:
    try:
        key.suite.certificate_hash()
    except UnsupportedKey:
        return False
    return True


_BEGIN = b"-----BEGIN "


def _pem_blocks(data: bytes) -> list[bytes]:
    """The PEM blocks of a file, each from its BEGIN line."""
    starts = [m.start() for m in re.finditer(re.escape(_BEGIN), data)]
    return [data[a:b] for a, b in zip(starts, [*starts[1:], len(data)], strict=True)] or [data]


def _stamp(path: Path | None) -> tuple[int, int] | None:
    try:
        st = path.stat() if path is not None else None
    except OSError:
        return None
    return None if st is None else (st.st_ino, st.st_mtime_ns)


def verify(public_key: PublicKey, purpose: Purpose, message: bytes, sig: Signature) -> bool:
    """True when `sig` is a valid signature of `message` for `purpose` by `public_key`."""
    return sig.key_id == public_key.key_id and public_key.verify(sig.alg, sig.value, _tag(purpose) + message)
