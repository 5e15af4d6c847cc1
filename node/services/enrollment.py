"""Certificates this node issues to its children (DESIGN.md section 6): one-time enrollment
tokens, certificates recorded as `cert_issued` public entries, peer-province anchors and
revocations. The gRPC port that serves enrollment is federation.transport.enrollment.

A token names the child, the parent's enrollment port, an expiry, a random secret and the
SHA-256 fingerprint of the parent's certificate. Enrolling checks the token (known, unused,
unexpired, for this code), issues the certificate, records it and marks the token used, all
in one transaction. The parent keeps only the secret's hash.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from federation.wire.certs import certified_key, code_of, fingerprint, issue
from federation.wire.codec_catalog import issued_body, revoked_body
from federation.wire.identity import Identity
from node import logs
from node.domain.divisions import DivisionCode
from node.domain.entries import Kind, Stream
from node.domain.errors import BadToken, InvalidInput, SetupError
from node.journal import Journal, Record
from node.services.divisions import DivisionService
from node.services.ports import Clock
from node.services.projection import Projection
from node.store import Store, Tx

TOKEN_PREFIX = "ywt1."
_DER, _PEM = serialization.Encoding.DER, serialization.Encoding.PEM
DEFAULT_TTL = dt.timedelta(hours=24)


@dataclass(frozen=True)
class Token:
    child: str
    enroll_port: int
    expires_at: int  # unix seconds
    secret: bytes
    parent_fingerprint: str

    def encode(self) -> str:
        data = {
            "c": self.child,
            "p": self.enroll_port,
            "e": self.expires_at,
            "s": base64.urlsafe_b64encode(self.secret).decode().rstrip("="),
            "f": self.parent_fingerprint,
        }
        raw = json.dumps(data, separators=(",", ":")).encode()
        return TOKEN_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Token:
        text = text.strip()
        if not text.startswith(TOKEN_PREFIX):
            raise InvalidInput("--token", f"not an enrollment token (they start with {TOKEN_PREFIX})")
        try:
            raw = base64.urlsafe_b64decode(text[len(TOKEN_PREFIX) :] + "==")
            data = json.loads(raw)
            secret = base64.urlsafe_b64decode(data["s"] + "==")
            return cls(str(data["c"]), int(data["p"]), int(data["e"]), secret, str(data["f"]))
        except (ValueError, KeyError, TypeError):
            raise InvalidInput("--token", "the token is damaged: copy it again from the parent operator") from None

    @property
    def secret_hash(self) -> bytes:
        return hashlib.sha256(self.secret).digest()


def _us(at: dt.datetime) -> int:
    return int(at.timestamp() * 1_000_000)


class Enrollment:
    """The parent's side: tokens, certificates for children, revocations."""

    def __init__(
        self,
        store: Store,
        journal: Journal,
        projection: Projection,
        clock: Clock,
        identity: Identity,
        enroll_port: int,
        divisions: DivisionService,
    ) -> None:
        self.store, self.journal, self.projection, self.clock = store, journal, projection, clock
        self.divisions = divisions
        self.identity = identity
        self.enroll_port = enroll_port
        self.log = logs.get("enrollment")

    def make_token(self, child: str, ttl: dt.timedelta = DEFAULT_TTL) -> Token:
        code = DivisionCode.parse(child, "--child")
        if code.parent() != self.identity.code:
            raise InvalidInput("--child", f"{code} is not a child of {self.identity.code}; its parent enrolls it")
        self.divisions.require(code, "--child")
        if not dt.timedelta(minutes=1) <= ttl <= dt.timedelta(days=30):
            raise InvalidInput("--ttl", "between 1 minute and 30 days")
        if self.enroll_port == 0:
            raise SetupError("the enrollment port is chosen at start-up: run `yiwang run` first")
        now = self.clock()
        token = Token(
            code.code, self.enroll_port, int((now + ttl).timestamp()), os.urandom(24), fingerprint(self.identity.cert)
        )
        with self.store.transaction() as tx:
            tx.put_token(token.secret_hash, code.code, _us(now), _us(now + ttl))
        self.log.info("enrollment_token_made", child=code.code, expires_at=token.expires_at)
        return token

    def enroll(self, child: str, secret_hex: str, csr_der: bytes) -> list[x509.Certificate]:
        """Check the token (its secret, hex) and certify the CSR; raises BadToken (and writes
        nothing) when the token does not allow it."""
        now = self.clock()
        try:
            secret_hash = hashlib.sha256(bytes.fromhex(secret_hex)).digest()
        except ValueError:
            raise BadToken("unknown enrollment token") from None
        csr = _load_csr(csr_der)
        with self.store.transaction() as tx:
            self.journal.lock(tx, Stream.PUBLIC)
            row = tx.token(secret_hash)
            if row is None:
                raise BadToken("unknown enrollment token")
            if row.child_code != child:
                raise BadToken(f"the token was made for {row.child_code}, not {child}")
            if row.used_at_us is not None:
                raise BadToken(f"the token for {child} was used already")
            if row.expires_at_us < _us(now):
                raise BadToken(f"the token for {child} expired")
            cert = self._certify(tx, child, csr, now)
            if not tx.use_token(secret_hash, _us(now)):
                raise BadToken(f"the token for {child} was used already")
        self.log.info("child_enrolled", child=child, serial=cert.serial_number)
        return [cert, *self.identity.chain]

    def renew(self, child: str, csr_der: bytes) -> list[x509.Certificate]:
        """A new certificate for a child that authenticated with its current one (the link
        checked it); the old certificate stays valid until it expires or is revoked."""
        now = self.clock()
        csr = _load_csr(csr_der)
        with self.store.transaction() as tx:
            self.journal.lock(tx, Stream.PUBLIC)
            cert = self._certify(tx, child, csr, now)
        self.log.info("child_renewed", child=child, serial=cert.serial_number)
        return [cert, *self.identity.chain]

    def _certify(self, tx: Tx, child: str, csr: x509.CertificateSigningRequest, now: dt.datetime) -> x509.Certificate:
        """Issue the certificate and record it (public entry, issued table, peer) in `tx`."""
        cert = issue(csr, DivisionCode.parse(child), self.identity.cert, self.identity.key, now, tx.next_serial())
        body = issued_body(child, cert.public_bytes(_DER), fingerprint(cert))
        (entry,) = self.journal.append(tx, Stream.PUBLIC, [Record(Kind.CERT_ISSUED, child, body)], _us(now))
        tx.put_issued(
            fingerprint(cert),
            child,
            str(cert.serial_number),
            _us(cert.not_valid_after_utc),
            cert.public_bytes(_DER),
            entry.seq,
        )
        tx.put_peer(child, "child", state="enrolled", not_after_us=_us(cert.not_valid_after_utc))
        public = certified_key(cert)
        tx.put_origin_key(child, public.key_id, public.pem)  # to verify the child's heads
        return cert

    def publish_anchor(self, root: x509.Certificate) -> bool:
        """Publish a peer province's root in this province's public stream, so every node
        below trusts chains from there; False when it was published before."""
        fp = fingerprint(root)
        peer = code_of(root)
        now = self.clock()
        body = issued_body(peer.code, root.public_bytes(_DER), fp)
        with self.store.transaction() as tx:
            tail = self.journal.lock(tx, Stream.PUBLIC)
            if fp in tx.trusted_roots():
                return False
            (entry,) = self.journal.append(
                tx, Stream.PUBLIC, [Record(Kind.ANCHOR_ADDED, peer.code, body)], _us(now), tail
            )
            self.projection.apply(tx, [entry])
        self.log.info("anchor_published", province=peer.code)
        return True

    def revoke(self, child: str, reason: str = "") -> int:
        """Revoke every certificate this node issued to `child`; returns how many."""
        code = DivisionCode.parse(child, "CODE")
        now = self.clock()
        with self.store.transaction() as tx:
            self.journal.lock(tx, Stream.PUBLIC)
            revoked = tx.revoked_fingerprints()
            rows = [r for r in tx.issued_to(code.code) if r.fingerprint not in revoked]
            if not rows:
                raise InvalidInput("CODE", f"this node issued no unrevoked certificate to {code}")
            records = [
                Record(
                    Kind.CERT_REVOKED,
                    code.code,
                    revoked_body(code.code, r.fingerprint, reason),
                )
                for r in rows
            ]
            entries = self.journal.append(tx, Stream.PUBLIC, records, _us(now))
            self.projection.apply(tx, entries)
            tx.put_peer(code.code, "child", state="revoked")
        self.log.info("certificate_revoked", child=code.code, count=len(rows))
        return len(rows)


def _load_csr(der: bytes) -> x509.CertificateSigningRequest:
    try:
        return x509.load_der_x509_csr(der)
    except ValueError:
        raise InvalidInput("csr", "not a DER certificate signing request") from None
