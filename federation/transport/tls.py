"""gRPC TLS credentials made from a node's identity: the only place a key meets grpc.

Links use mutual TLS (`server_credentials(identity, mutual=True)` on the parent's port,
`channel_credentials` on the child's dial); the enrollment port presents the chain without
asking for a client certificate. Trusted roots are the node's province root and the peer
provinces it anchors, so a link from any other tree fails in the handshake.
"""

from __future__ import annotations

import grpc

from federation.wire.certs import to_pem
from federation.wire.identity import Identity


def server_credentials(identity: Identity, mutual: bool) -> grpc.ServerCredentials:
    """TLS for our ports: `mutual` requires and verifies a client certificate (links) from our
    own tree or a peer province whose root we anchor."""
    return grpc.ssl_server_credentials(
        [(identity.key_pem(), to_pem(identity.chain))],
        root_certificates=identity.trusted_roots_pem() if mutual else None,
        require_client_auth=mutual,
    )


def channel_credentials(identity: Identity) -> grpc.ChannelCredentials:
    """mTLS to a parent or peer province: present our chain, trust our root and anchors."""
    return grpc.ssl_channel_credentials(
        root_certificates=identity.trusted_roots_pem(),
        private_key=identity.key_pem(),
        certificate_chain=to_pem(identity.chain),
    )
