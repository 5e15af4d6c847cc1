"""Applicants' sealed bundles on custody moves (DESIGN.md section 5): a bundle is encrypted to
the nodes that may read it, so when custody moves, the node that offered the case - and holds
the bundle - re-seals it for the node that took it (whose key came, verified, with its
acceptance) and sends it as an addressed `bundle_sent` entry; the log keeps only the hash and
relays carry ciphertext. The receiving node checks the hash its entry names and keeps it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from federation.codec import bundle_sent_body, bundle_sent_from_body, case_record
from federation.sealing import bundle_hash, open_sealed, seal_many
from node import logs
from node.domain.entries import Addressed, Kind, Stream
from node.domain.errors import BadSignature
from node.domain.lifecycle import OfferCustody
from node.journal import Record

if TYPE_CHECKING:
    from node.context import Node
    from node.store import Tx

log = logs.get("bundles")


def take_bundles(tx: Tx, copies: Sequence[Addressed]) -> None:
    """Sealed bundles sent to this node as a case's new custodian."""
    for a in copies:
        case_no, digest = bundle_sent_from_body(a.entry.body)
        if bundle_hash(a.sealed_bundle) != digest:
            where = f"{a.entry.origin}/{a.entry.stream}/{a.entry.seq}"
            raise BadSignature(f"{where}: the sealed bundle does not match the hash its entry names")
        if tx.bundle(digest) is None:
            tx.put_bundles([(digest, case_no, a.sealed_bundle)])
        tx.set_case_bundle(case_no, digest)


def hand_over_bundles(node: Node, tx: Tx, copies: Sequence[Addressed]) -> None:
    """Custody this node offered was accepted: re-seal the applicant's bundle for the new
    custodian (whose key came with the acceptance, in its verified chain) and send it."""
    me = node.code
    now_us = int(node.now().timestamp() * 1_000_000)
    outgoing: list[tuple[str, str, bytes]] = []
    for a in copies:
        rec = case_record(a.entry.body)
        acceptor = a.entry.origin
        signer_key = node.mail.signer_key(a)
        mine = [e for e in tx.entries_about(rec.case_no) if e.origin == me and e.kind == Kind.CASE_CUSTODY_OFFERED]
        offer = case_record(mine[-1].body).command if mine else None
        rows = tx.case_rows([rec.case_no])
        blob = tx.bundle(bytes(rows[0].sealed_bundle_hash)) if rows else None
        if not isinstance(offer, OfferCustody) or offer.to != acceptor or blob is None:
            continue  # not this node's offer, or it holds no bundle to pass on
        plain = open_sealed(blob, node.key.private_key)
        (sealed,) = seal_many([plain], [signer_key])
        outgoing.append((rec.case_no, acceptor, sealed))
    if not outgoing:
        return
    chain = node.mail.chain_der()
    tail = node.journal.lock(tx, Stream.CASE)
    records = [Record(Kind.BUNDLE_SENT, no, bundle_sent_body(no, bundle_hash(sealed))) for no, _, sealed in outgoing]
    entries = node.journal.append(tx, Stream.CASE, records, now_us, tail)
    for e, (no, acceptor, sealed) in zip(entries, outgoing, strict=True):
        node.mail.address(tx, [(e, acceptor)], chain, now_us, sealed)
        log.info("bundle_handed_over", case_no=no, to=acceptor)
