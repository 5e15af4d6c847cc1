"""Signing and verifying electronic licences. A signed licence carries the issuer's chain, so
any node verifies it offline against the roots it trusts (its province's and the peer roots its
province published): no call to the issuer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from cryptography import x509
from yiwang.v1 import case_pb2

from federation.wire.certs import certified_key, verify_chain
from federation.wire.codec import parsed, signature_from_pb, signature_to_pb
from federation.wire.codec_cases import from_us, to_us
from federation.wire.keys import NodeKey, Purpose, verify
from node.domain.errors import BadSignature, UnknownIssuer
from node.domain.licenses import License


def _to_pb(lic: License) -> case_pb2.License:
    return case_pb2.License(
        license_no=lic.license_no,
        case_no=lic.case_no,
        item_code=lic.item_code,
        item_name=lic.item_name,
        holder_name=lic.holder_name,
        holder_id=lic.holder_id,
        issuer=lic.issuer,
        issued_at_us=to_us(lic.issued_at),
        valid_until=lic.valid_until.isoformat() if lic.valid_until else "",
    )


def _from_pb(m: case_pb2.License) -> License:
    until = dt.date.fromisoformat(m.valid_until) if m.valid_until else None
    return License(
        m.license_no,
        m.case_no,
        m.item_code,
        m.item_name,
        m.holder_name,
        m.holder_id,
        m.issuer,
        from_us(m.issued_at_us),
        until,
    )


def sign_license(lic: License, key: NodeKey, chain_der: tuple[bytes, ...]) -> bytes:
    """The signed licence as bytes (a serialized SignedLicense), ready to store or hand out."""
    body = _to_pb(lic).SerializeToString(deterministic=True)
    sig = key.sign(Purpose.LICENSE, body)
    signed = case_pb2.SignedLicense(license=body, signature=signature_to_pb(sig), chain_der=list(chain_der))
    return signed.SerializeToString(deterministic=True)


def verify_license(data: bytes, anchors: Collection[str], now: dt.datetime, revoked: Collection[str] = ()) -> License:
    """The licence in `data`, after checking the issuer's chain and signature; raises a
    PeerError (UnknownIssuer, BadSignature, CertificateRevoked ...) when it does not verify."""
    signed = parsed(case_pb2.SignedLicense(), data, "signed licence")
    try:
        chain = [x509.load_der_x509_certificate(d) for d in signed.chain_der]
    except ValueError:
        raise UnknownIssuer("the licence's certificate chain does not decode") from None
    issuer = verify_chain(chain, anchors, now, revoked)
    if not verify(certified_key(chain[0]), Purpose.LICENSE, signed.license, signature_from_pb(signed.signature)):
        raise BadSignature("the licence's signature does not verify")
    lic = _from_pb(parsed(case_pb2.License(), signed.license, "licence"))
    if lic.issuer != issuer.code.code:
        raise BadSignature(f"the licence names {lic.issuer} as issuer but is signed by {issuer.code}")
    return lic
