"""A node's key: made at `yiwang init` with the default crypto suite (federation.wire.suites),
used for head signatures, mTLS, envelopes, addressed entries and licences.

Every signature carries its suite's algorithm id and is made over a domain-separation tag per
purpose, so a signature for one purpose can never be replayed as another.
"""

from __future__ import annotations

import os
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

    def __init__(self, private_key: PrivateKey, retired: tuple[PrivateKey, ...] = (), path: Path | None = None) -> None:
        self._path = path  # the file it came from: a running node follows `yiwang keys rotate`
        self._stamp = _stamp(path)
        self._set(private_key, retired)

    def _set(self, private_key: PrivateKey, retired: tuple[PrivateKey, ...]) -> None:
        self._key = private_key
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
        self._set(fresh._key, fresh.retired)
        self._stamp = stamp
        return True

    @classmethod
    def generate(cls, alg: str = DEFAULT) -> NodeKey:
        return cls(PrivateKey.generate(alg))

    @classmethod
    def load(cls, path: Path) -> NodeKey:
        try:
            retired = tuple(
                PrivateKey.from_pem(p.read_bytes()) for p in sorted((path.parent / RETIRED_DIR).glob("*.pem"))
            )
            return cls(PrivateKey.from_pem(path.read_bytes()), retired, path)
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
            fh.write(self._key.pem())
        if replace:
            os.replace(target, path)

    def retire(self, key_path: Path) -> Path:
        """Keep this key (owner-only) among the retired ones beside `key_path`, before a new
        key replaces it."""
        folder = key_path.parent / RETIRED_DIR
        folder.mkdir(mode=0o700, exist_ok=True)
        target = folder / f"{self.key_id.hex()}.pem"
        if not target.exists():
            self.save(target)
        return target

    @property
    def private_key(self) -> PrivateKey:
        return self._key

    @property
    def opening_keys(self) -> tuple[PrivateKey, ...]:
        """The current key, then the retired ones: what sealed data at rest may be sealed to."""
        self.refresh()
        return (self._key, *self.retired)

    def pem(self) -> bytes:
        """PKCS#8 PEM of the private key (for the TLS stack)."""
        return self._key.pem()

    def sign(self, purpose: Purpose, message: bytes) -> Signature:
        self.refresh()
        return Signature(self.suite.alg, self.key_id, self._key.sign(_tag(purpose) + message))


def _stamp(path: Path | None) -> tuple[int, int] | None:
    try:
        st = path.stat() if path is not None else None
    except OSError:
        return None
    return None if st is None else (st.st_ino, st.st_mtime_ns)


def verify(public_key: PublicKey, purpose: Purpose, message: bytes, sig: Signature) -> bool:
    """True when `sig` is a valid signature of `message` for `purpose` by `public_key`."""
    return sig.key_id == public_key.key_id and public_key.verify(sig.alg, sig.value, _tag(purpose) + message)
