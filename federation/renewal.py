"""`yiwang keys rotate`: a new key and certificate through the parent, without downtime.

The node asks its parent over the usual mutual-TLS link port, authenticated by its current
certificate. The new key is registered for head verification first (heads signed with either
key verify), then key and chain replace the old ones atomically; a running node uses them
from its next connection, and its old certificate stays valid until it expires.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import grpc
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from yiwang.v1 import federation_pb2, federation_pb2_grpc

from federation.certs import code_of, dns_name, make_csr, verify_chain
from federation.identity import save_chain
from federation.keys import NodeKey, public_key_pem
from federation.link import GRPC_OPTIONS
from node.domain.errors import SetupError

if TYPE_CHECKING:
    from node.context import Node


def rotate_key(node: Node, timeout: float = 15.0) -> dt.datetime:
    identity = node.identity()
    parent = node.settings.code.parent()
    if identity is None or parent is None or not node.settings.parent:
        raise SetupError("only an enrolled node with a parent renews through it (a province re-creates its root)")
    new_key = NodeKey.generate()
    request = federation_pb2.RenewRequest(csr_der=make_csr(identity.code, new_key).public_bytes(Encoding.DER))
    options = [*GRPC_OPTIONS, ("grpc.ssl_target_name_override", dns_name(parent.code))]
    with grpc.secure_channel(node.settings.parent, identity.channel_credentials(), options=options) as channel:
        try:
            response = federation_pb2_grpc.FederationServiceStub(channel).Renew(request, timeout=timeout)
        except grpc.RpcError as exc:
            raise SetupError(f"the parent refused the renewal: {exc.details()}") from None
    chain = [x509.load_der_x509_certificate(d) for d in response.chain_der]
    verify_chain(chain, identity.anchors, node.now())
    if chain[0].public_key() != new_key.public_key or code_of(chain[0]) != identity.code:
        raise SetupError("the parent returned a certificate for another key or code")
    with node.store.transaction() as tx:
        tx.put_origin_key(node.code, new_key.key_id, public_key_pem(new_key.public_key))
    new_key.save(node.settings.key_path, replace=True)
    save_chain(node.settings.data_dir, chain)
    return chain[0].not_valid_after_utc
