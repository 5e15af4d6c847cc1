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

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from federation.certs import code_of, fingerprint, from_pem, to_pem, verify_chain
from federation.keys import NodeKey
from node.domain.divisions import DivisionCode
from node.domain.errors import SetupError

CHAIN_NAME = "chain.pem"


@dataclass(frozen=True)
class Identity:
    key: NodeKey
    chain: tuple[x509.Certificate, ...]
    peer_anchors: frozenset[str] = frozenset()

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
        return self.key.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def trusted_roots_pem(self, extra: Sequence[x509.Certificate] = ()) -> bytes:
        return to_pem([self.root, *extra])

    def server_credentials(self, mutual: bool, peer_roots: Sequence[x509.Certificate] = ()) -> grpc.ServerCredentials:
        """TLS for our ports: `mutual` requires and verifies a client certificate (links)."""
        return grpc.ssl_server_credentials(
            [(self.key_pem(), to_pem(self.chain))],
            root_certificates=self.trusted_roots_pem(peer_roots) if mutual else None,
            require_client_auth=mutual,
        )

    def channel_credentials(self, peer_roots: Sequence[x509.Certificate] = ()) -> grpc.ChannelCredentials:
        """mTLS to a parent or peer: present our chain, trust our root (and peer roots)."""
        return grpc.ssl_channel_credentials(
            root_certificates=self.trusted_roots_pem(peer_roots),
            private_key=self.key_pem(),
            certificate_chain=to_pem(self.chain),
        )


def save_chain(data_dir: Path, chain: Sequence[x509.Certificate]) -> None:
    """Write the chain atomically (a renewal swaps it under a running node)."""
    tmp = data_dir / (CHAIN_NAME + ".tmp")
    tmp.write_bytes(to_pem(chain))
    os.replace(tmp, data_dir / CHAIN_NAME)


def load_identity(data_dir: Path, key: NodeKey, peer_anchors: Sequence[str], now: dt.datetime) -> Identity | None:
    """The node's identity, or None for a node without a certificate (not enrolled)."""
    path = data_dir / CHAIN_NAME
    if not path.exists():
        return None
    chain = from_pem(path.read_bytes())
    identity = Identity(key, tuple(chain), frozenset(peer_anchors))
    leaf_key = identity.cert.public_key()
    if leaf_key != key.public_key:
        raise SetupError(f"{path} does not certify this node's key: re-enroll the node")
    verify_chain(chain, identity.anchors, now)
    return identity
