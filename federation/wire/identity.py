"""A node's identity for the federation: its key, its certificate chain and the roots it trusts.

The chain (leaf first, province root last) lives in `<data dir>/chain.pem`, written at init
(a province's self-signed root, or the chain its parent returned at enrollment) and replaced
atomically on renewal. Trusted roots: the node's own province root plus the peer-province
anchors configured in `federation.anchors`.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from federation.wire.certs import certified_key, code_of, fingerprint, from_pem, tls_key, to_pem, verify_chain
from federation.wire.keys import NodeKey
from node.domain.divisions import DivisionCode
from node.domain.errors import SetupError

CHAIN_NAME = "chain.pem"


ANCHORS_DIR = "anchors"


@dataclass(frozen=True)
class Identity:
    key: NodeKey
    chain: tuple[x509.Certificate, ...]
    peer_roots: tuple[x509.Certificate, ...] = ()

    @property
    def peer_anchors(self) -> frozenset[str]:
        return frozenset(fingerprint(r) for r in self.peer_roots)

    @property
    def code(self) -> DivisionCode:
        return code_of(self.chain[0])

    @property
    def cert(self) -> x509.Certificate:
        return self.chain[0]

    @property
    def root(self) -> x509.Certificate:
        return self.chain[-1]

    @property
    def anchors(self) -> frozenset[str]:
        return self.peer_anchors | {fingerprint(self.root)}

    @property
    def not_after(self) -> dt.datetime:
        return self.cert.not_valid_after_utc

    def key_pem(self) -> bytes:
        return self.key.pem()

    def trusted_roots_pem(self) -> bytes:
        return to_pem([self.root, *self.peer_roots])


def save_chain(data_dir: Path, chain: Sequence[x509.Certificate]) -> None:
    """Write the chain atomically (a renewal swaps it under a running node)."""
    tmp = data_dir / (CHAIN_NAME + ".tmp")
    tmp.write_bytes(to_pem(chain))
    os.replace(tmp, data_dir / CHAIN_NAME)


def add_anchor(data_dir: Path, root: x509.Certificate) -> str:
    """Keep a peer province's root certificate; returns its fingerprint (for the config)."""
    if code_of(root).tier != 1 or root.issuer != root.subject:
        raise SetupError("an anchor must be a province's self-signed root certificate")
    folder = data_dir / ANCHORS_DIR
    folder.mkdir(exist_ok=True)
    fp = fingerprint(root)
    (folder / f"{fp}.pem").write_bytes(to_pem([root]))
    return fp


def load_identity(data_dir: Path, key: NodeKey, peer_anchors: Sequence[str], now: dt.datetime) -> Identity | None:
    """The node's identity, or None for a node without a certificate (not enrolled)."""
    path = data_dir / CHAIN_NAME
    if not path.exists():
        return None
    chain = from_pem(path.read_bytes())
    roots = []
    for fp in peer_anchors:
        anchor = data_dir / ANCHORS_DIR / f"{fp}.pem"
        try:
            (root,) = from_pem(anchor.read_bytes())
        except (FileNotFoundError, ValueError):
            raise SetupError(
                f"anchor {fp[:16]}... is configured but {anchor} is missing or not one certificate"
            ) from None
        if fingerprint(root) != fp:
            raise SetupError(f"{anchor} does not hold the certificate its name promises")
        roots.append(root)
    identity = Identity(key, tuple(chain), tuple(roots))
    if certified_key(identity.cert) != key.public_key or tls_key(identity.cert) != key.tls_key.public:
        raise SetupError(f"{path} does not certify this node's key: re-enroll the node")
    verify_chain(chain, identity.anchors, now)
    return identity
