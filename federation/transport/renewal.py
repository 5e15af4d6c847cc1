"""Renewal over the link port: a node asks its parent for a certificate for a new key,
authenticated by its current certificate over mutual TLS (DESIGN.md section 6). What the node
does with the answer (register the key, swap key and chain) is node.app.renewal."""

from __future__ import annotations

import grpc
from cryptography import x509
from yiwang.v1 import federation_pb2, federation_pb2_grpc

from federation.transport.link import GRPC_OPTIONS
from federation.transport.tls import channel_credentials
from federation.wire.certs import dns_name
from federation.wire.identity import Identity
from node.domain.divisions import DivisionCode
from node.domain.errors import SetupError


def request_certificate(
    address: str, identity: Identity, parent: DivisionCode, csr_der: bytes, timeout: float = 15.0
) -> list[x509.Certificate]:
    """The chain the parent at `address` issues for `csr_der`; unverified (the caller checks)."""
    request = federation_pb2.RenewRequest(csr_der=csr_der)
    options = [*GRPC_OPTIONS, ("grpc.ssl_target_name_override", dns_name(parent.code))]
    with grpc.secure_channel(address, channel_credentials(identity), options=options) as channel:
        try:
            response = federation_pb2_grpc.FederationServiceStub(channel).Renew(request, timeout=timeout)
        except grpc.RpcError as exc:
            raise SetupError(f"the parent refused the renewal: {exc.details()}") from None
    return [x509.load_der_x509_certificate(d) for d in response.chain_der]
