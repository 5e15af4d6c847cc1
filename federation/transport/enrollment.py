"""Enrollment over the network: the parent's enrollment port and the child's side.

A parent certifies a child that holds a one-time token (DESIGN.md section 6).

The parent operator runs `yiwang enroll token --child CODE`; the token names the child, the
parent's enrollment port, an expiry, a random secret and the SHA-256 fingerprint of the
parent's certificate. The child (`yiwang init --code CODE --parent HOST:PORT --token T`) fetches
the parent's certificate over TLS, compares its fingerprint with the token (so nobody in the
middle can pose as the parent), then - over TLS that trusts only that certificate - sends its
CSR and the secret. The parent checks the token (known, unused, unexpired, for this code),
issues the certificate, records it as a `cert_issued` public entry and marks the token used,
all in one transaction, and returns the chain. The parent keeps only the secret's hash.
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
import time
from collections.abc import Callable

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from yiwang.v1 import federation_pb2, federation_pb2_grpc

from federation.transport.errors_grpc import abort_with
from federation.wire.certs import certified_key, code_of, dns_name, fingerprint, make_csr, tls_key, verify_chain
from federation.wire.keys import NodeKey
from federation.wire.national import national_key
from node.domain.bounds import check
from node.domain.divisions import DivisionCode
from node.domain.errors import InvalidInput, Oversize, PeerError, SetupError, YiwangError
from node.services.enrollment import Enrollment, Token

_DER, _PEM = serialization.Encoding.DER, serialization.Encoding.PEM


class Throttle:
    """At most `burst` attempts per source address, refilled at `per_minute`: the enrollment
    port needs no certificate, so every caller counts against its address."""

    def __init__(self, burst: int = 10, per_minute: float = 6.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.burst, self.rate, self.clock = burst, per_minute / 60.0, clock
        self._buckets: dict[str, tuple[float, float]] = {}  # address -> (tokens, at)
        self._lock = threading.Lock()

    def admit(self, address: str) -> bool:
        with self._lock:
            now = self.clock()
            tokens, at = self._buckets.get(address, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.rate)
            admitted = tokens >= 1.0
            self._buckets[address] = (tokens - 1.0 if admitted else tokens, now)
            if len(self._buckets) > 10_000:  # forget the quietest addresses
                for key in sorted(self._buckets, key=lambda k: self._buckets[k][1])[:5_000]:
                    del self._buckets[key]
            return admitted


def source_address(context: grpc.ServicerContext) -> str:
    """The caller's address without its port ("ipv4:127.0.0.1:51234" -> "127.0.0.1")."""
    peer = context.peer() or "unknown"
    kind, _, rest = peer.partition(":")
    return rest.rsplit(":", 1)[0].strip("[]") if kind in ("ipv4", "ipv6") else peer[:64]


class EnrollmentServicer(federation_pb2_grpc.EnrollmentServiceServicer):
    def __init__(
        self, enrollment: Enrollment, on_refusal: Callable[[PeerError, str], None], throttle: Throttle | None = None
    ) -> None:
        self.enrollment = enrollment
        self.on_refusal = on_refusal
        self.throttle = throttle or Throttle()
        self._throttled: set[str] = set()  # addresses told once (one alarm each) until admitted again

    def Enroll(
        self, request: federation_pb2.EnrollRequest, context: grpc.ServicerContext
    ) -> federation_pb2.EnrollResponse:
        address = source_address(context)
        if not self.throttle.admit(address):
            if address not in self._throttled:
                self._throttled.add(address)
                self.on_refusal(Oversize(f"too many enrollment attempts from {address}"), address)
            context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED, "Oversize: too many enrollment attempts from this address; wait"
            )
        self._throttled.discard(address)
        try:
            check("code", request.code, "division")
            chain = self.enrollment.enroll(request.code, request.token_secret, request.csr_der)
        except YiwangError as exc:
            if isinstance(exc, PeerError):
                self.on_refusal(exc, request.code)
            abort_with(context, exc)
        return federation_pb2.EnrollResponse(chain_der=[c.public_bytes(_DER) for c in chain])


# --- the child's side --------------------------------------------------------------------


def fetch_certificate(host: str, port: int, timeout: float = 10.0) -> x509.Certificate:
    """The certificate a TLS server presents, unverified (the caller pins its fingerprint)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2"])
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock, ctx.wrap_socket(sock) as tls:
            der = tls.getpeercert(binary_form=True)
    except OSError as exc:
        raise SetupError(f"cannot reach the parent's enrollment port {host}:{port}: {exc}") from None
    if der is None:
        raise SetupError(f"{host}:{port} presented no certificate")
    return x509.load_der_x509_certificate(der)


def enroll_with_parent(
    host: str, token: Token, code: DivisionCode, key: NodeKey, now: dt.datetime, timeout: float = 15.0
) -> tuple[list[x509.Certificate], NodeKey]:
    """Run enrollment against the parent at `host`; returns the verified chain and the node's
    key: `key`, or a new key of the province's suite when the parent's certificate shows that
    its province runs another (the national suite: a child learns it from its parent)."""
    if token.child != code.code:
        raise InvalidInput("--token", f"the token is for {token.child}, not {code}")
    parent_cert = fetch_certificate(host, token.enroll_port)
    if fingerprint(parent_cert) != token.parent_fingerprint:
        raise SetupError(
            f"{host}:{token.enroll_port} is not the parent named in the token "
            "(certificate fingerprint differs): check the address"
        )
    parent_code = code_of(parent_cert)
    if (national_key(parent_cert) is not None) != (key.national is not None):
        key = NodeKey.generate(certified_key(parent_cert).suite.alg)
    creds = grpc.ssl_channel_credentials(root_certificates=parent_cert.public_bytes(_PEM))
    options = [("grpc.ssl_target_name_override", dns_name(parent_code.code))]
    with grpc.secure_channel(f"{host}:{token.enroll_port}", creds, options=options) as channel:
        stub = federation_pb2_grpc.EnrollmentServiceStub(channel)
        request = federation_pb2.EnrollRequest(
            code=code.code,
            token_secret=token.secret.hex(),
            csr_der=make_csr(code, key).public_bytes(_DER),
        )
        try:
            response = stub.Enroll(request, timeout=timeout)
        except grpc.RpcError as exc:
            raise SetupError(f"the parent refused enrollment: {exc.details()}") from None
    chain = [x509.load_der_x509_certificate(d) for d in response.chain_der]
    if len(chain) < 2 or fingerprint(chain[1]) != token.parent_fingerprint:
        raise SetupError("the parent returned a chain that is not issued by the pinned certificate")
    verify_chain(chain, {fingerprint(chain[-1])}, now)
    if (
        certified_key(chain[0]) != key.public_key
        or tls_key(chain[0]) != key.tls_key.public
        or code_of(chain[0]) != code
    ):
        raise SetupError("the parent returned a certificate for another key or code")
    return chain, key
