"""Applicants' sealed bundles on custody moves (DESIGN.md section 5): a bundle is encrypted to
the nodes that may read it, so when custody moves, the node that offered the case - and holds
the bundle - re-seals it for the node that took it (whose key came, verified, with its
acceptance) and sends it as an addressed `bundle_sent` entry; the log keeps only the hash and
relays carry ciphertext. The receiving node checks the hash its entry names and keeps it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence

from federation.wire.certs import certified_key, fingerprint, load_certificate
from federation.wire.codec_cases import (
    bundle_sent_body,
    bundle_sent_from_body,
    case_record,
    material_chunk_body,
    material_chunk_from_body,
)
from federation.wire.codec_catalog import issued_from_body
from federation.wire.keys import NodeKey
from federation.wire.sealing import bundle_hash, open_sealed_with, seal_many
from federation.wire.suites import PublicKey
from node import logs
from node.domain.divisions import DivisionCode
from node.domain.entries import Addressed, Kind, Stream
from node.domain.errors import BadSignature, IntegrityError, Recovering
from node.domain.lifecycle import OfferCustody, RequestReview
from node.domain.materials import MaterialRef, chunks
from node.journal import Journal, Record
from node.services.cases import Applicant
from node.services.ports import Addresser, Clock
from node.store import Tx

log = logs.get("bundles")


def take_bundles(tx: Tx, copies: Sequence[Addressed]) -> None:
    """Sealed bundles sent to this node as a case's new custodian, checked and kept (the
    projection attaches each to its case)."""
    for a in copies:
        case_no, digest = bundle_sent_from_body(a.entry.body)
        if bundle_hash(a.sealed_bundle) != digest:
            where = f"{a.entry.origin}/{a.entry.stream}/{a.entry.seq}"
            raise BadSignature(f"{where}: the sealed bundle does not match the hash its entry names")
        if tx.bundle(digest) is None:
            tx.put_bundles([(digest, case_no, a.sealed_bundle)])


SignerKey = Callable[[Addressed], PublicKey]


def _certified_keys(tx: Tx, node: str, revoked: set[str], at: dt.datetime) -> list[PublicKey]:
    """The keys of `node`'s certificates that its parent issued, not revoked nor expired at `at`."""
    parent = DivisionCode(node).parent()
    out = []
    for e in tx.entries_about(node):
        if e.kind != Kind.CERT_ISSUED or parent is None or e.origin != parent.code:
            continue
        code, der = issued_from_body(e.body)
        cert = load_certificate(der)
        if code == node and fingerprint(cert) not in revoked and cert.not_valid_after_utc > at:
            out.append(certified_key(cert))
    return out


class Courier:
    """Re-seals and sends what a new custodian needs (the bundle, the material files) and keeps
    what arrives for this node. Runs inside the mail receiver's transaction."""

    def __init__(self, journal: Journal, clock: Clock, key: NodeKey, outbox: Addresser) -> None:
        self.journal, self.clock, self.key, self.outbox = journal, clock, key, outbox

    def hand_over(self, tx: Tx, copies: Sequence[Addressed], signer_key: SignerKey) -> None:
        """Custody this node offered was accepted: re-seal the applicant's bundle for the new
        custodian (whose key came with the acceptance, in its verified chain) and send it."""
        me = self.journal.origin
        now_us = int(self.clock().timestamp() * 1_000_000)
        outgoing: list[tuple[str, str, bytes]] = []
        files: list[tuple[str, str, PublicKey, MaterialRef]] = []
        for a in copies:
            rec = case_record(a.entry.body)
            acceptor = a.entry.origin
            acceptor_key = signer_key(a)
            mine = [e for e in tx.entries_about(rec.case_no) if e.origin == me and e.kind == Kind.CASE_CUSTODY_OFFERED]
            offer = case_record(mine[-1].body).command if mine else None
            digest = tx.case_bundle_hash(rec.case_no)
            blob = tx.bundle(digest) if digest is not None else None
            if not isinstance(offer, OfferCustody) or offer.to != acceptor or blob is None:
                continue  # not this node's offer, or it holds no bundle to pass on
            plain = open_sealed_with(blob, self.key.opening_keys)
            (sealed,) = seal_many([plain], [acceptor_key])
            outgoing.append((rec.case_no, acceptor, sealed))
            files.extend((rec.case_no, acceptor, acceptor_key, ref) for ref in Applicant.from_bytes(plain).materials)
        if not outgoing:
            return
        chain = self.outbox.chain_der()
        tail = self.journal.lock(tx, Stream.CASE)
        records = [
            Record(Kind.BUNDLE_SENT, no, bundle_sent_body(no, bundle_hash(sealed))) for no, _, sealed in outgoing
        ]
        entries = self.journal.append(tx, Stream.CASE, records, now_us, tail)
        for e, (no, acceptor, sealed) in zip(entries, outgoing, strict=True):
            self.outbox.address(tx, [(e, acceptor)], chain, now_us, sealed)
            log.info("bundle_handed_over", case_no=no, to=acceptor)
        for no, acceptor, key, ref in files:
            self._send_material(tx, no, acceptor, [key], ref, chain, now_us)

    def to_reviewers(self, tx: Tx, case_no: str, nodes: Sequence[str], now_us: int) -> list[str]:
        """A joint review was opened: re-seal the applicant's bundle and material files for
        each reviewer node, with the keys of its certificates in force that this node holds (its
        issuer's `cert_issued` entries: an ancestor's, a descendant's, a sibling's), and send
        them. Returns the nodes it holds no certificate of: they ask for the materials when the
        request reaches them (`ask_materials`, `send_asked`)."""
        digest = tx.case_bundle_hash(case_no)
        blob = tx.bundle(digest) if digest and nodes else None
        if blob is None:
            return []  # nobody elsewhere to send to, or no bundle here to pass on
        plain = open_sealed_with(blob, self.key.opening_keys)
        refs = Applicant.from_bytes(plain).materials
        at = dt.datetime.fromtimestamp(now_us / 1_000_000, tz=dt.UTC)
        revoked = tx.revoked_fingerprints()
        known = {node: keys for node in nodes if (keys := _certified_keys(tx, node, revoked, at))}
        chain = self.outbox.chain_der() if known else ()
        for node, keys in known.items():
            self._reseal_for(tx, case_no, node, keys, plain, refs, chain, now_us)
        return [n for n in nodes if n not in known]

    def ask_materials(self, tx: Tx, requests: Sequence[Addressed]) -> None:
        """Review requests reached this node by mail with no bundle beside them: the lead holds
        no certificate of this node (it sits in another region). Answer each with a
        `review_received` entry addressed to the lead; that copy carries this node's chain, whose
        key the lead re-seals the materials with (`send_asked`)."""
        me = self.journal.origin
        asks: list[tuple[str, str]] = []
        for a in requests:
            rec = case_record(a.entry.body)
            cmd = rec.command
            if not isinstance(cmd, RequestReview) or me not in {q.node for q in cmd.requests}:
                continue
            if not tx.bundles_of_case(rec.case_no) and (rec.case_no, a.entry.origin) not in asks:
                asks.append((rec.case_no, a.entry.origin))
        if not asks:
            return
        now_us = int(self.clock().timestamp() * 1_000_000)
        records = [Record(Kind.REVIEW_RECEIVED, no, no.encode()) for no, _lead in asks]
        try:
            entries = self.journal.append(tx, Stream.CASE, records, now_us)
        except Recovering:  # its own stream is coming back from its parent: the reviewer asks by hand later
            log.warning("review_materials_not_asked", cases=[no for no, _lead in asks], why="recovering")
            return
        self.outbox.address(
            tx, [(e, lead) for e, (_no, lead) in zip(entries, asks, strict=True)], self.outbox.chain_der(), now_us
        )
        log.info("review_materials_asked", cases=[no for no, _lead in asks])

    def send_asked(self, tx: Tx, copies: Sequence[Addressed], signer_key: SignerKey) -> None:
        """A reviewer node asked for a case's materials (`review_received`): if this node leads
        the case's open review and asked that node, and sent it nothing yet, re-seal the bundle
        and material files with the key its copy's chain proves."""
        me = self.journal.origin
        now_us = int(self.clock().timestamp() * 1_000_000)
        for a in copies:
            case_no, node = a.entry.subject, a.entry.origin
            asked = any(r.lead == me and r.node == node and r.decided_at_us is None for r in tx.joint_review(case_no))
            digest = tx.case_bundle_hash(case_no)
            blob = tx.bundle(digest) if digest is not None else None
            if not asked or blob is None or tx.sent_copy(case_no, Kind.BUNDLE_SENT, me, node):
                log.info("review_materials_not_sent", case_no=case_no, to=node, asked=asked, held=blob is not None)
                continue
            try:
                plain = open_sealed_with(blob, self.key.opening_keys)
                refs = Applicant.from_bytes(plain).materials
            except (IntegrityError, ValueError, TypeError) as exc:  # ours is unreadable: the copy is not at fault
                log.error("review_materials_unreadable", case_no=case_no, error=str(exc))
                continue
            self._reseal_for(tx, case_no, node, [signer_key(a)], plain, refs, self.outbox.chain_der(), now_us)

    def _reseal_for(
        self,
        tx: Tx,
        case_no: str,
        node: str,
        keys: Sequence[PublicKey],
        plain: bytes,
        refs: Sequence[MaterialRef],
        chain: tuple[bytes, ...],
        now_us: int,
    ) -> None:
        """The applicant's bundle and material files, sealed for a reviewer node's `keys`, sent."""
        (sealed,) = seal_many([plain], list(keys))
        body = bundle_sent_body(case_no, bundle_hash(sealed))
        (e,) = self.journal.append(tx, Stream.CASE, [Record(Kind.BUNDLE_SENT, case_no, body)], now_us)
        self.outbox.address(tx, [(e, node)], chain, now_us, sealed)
        for ref in refs:
            self._send_material(tx, case_no, node, keys, ref, chain, now_us)
        log.info("bundle_sent_to_reviewer", case_no=case_no, to=node)

    def _send_material(
        self,
        tx: Tx,
        case_no: str,
        to: str,
        keys: Sequence[PublicKey],
        ref: MaterialRef,
        chain: tuple[bytes, ...],
        now_us: int,
    ) -> None:
        """A material file re-sealed for `to`, as chunk entries each carrying its bytes beside it."""
        mine = tx.material(ref.digest)
        if mine is None:
            log.warning("material_missing", case_no=case_no, material=ref.name)
            return
        (sealed,) = seal_many([open_sealed_with(mine, self.key.opening_keys)], list(keys))
        parts = chunks(sealed)
        digest = bundle_hash(sealed)
        records = [
            Record(Kind.MATERIAL_CHUNK, case_no, material_chunk_body(case_no, ref.digest, i, len(parts), digest, part))
            for i, part in enumerate(parts)
        ]
        entries = self.journal.append(tx, Stream.CASE, records, now_us)
        for e, part in zip(entries, parts, strict=True):
            self.outbox.address(tx, [(e, to)], chain, now_us, part)

    def take_material_chunks(self, tx: Tx, copies: Sequence[Addressed]) -> None:
        """Keep chunks as they arrive; a file whose chunks are all here is checked and kept."""
        for a in copies:
            msg = material_chunk_from_body(a.entry.body)
            where = f"{a.entry.origin}/{a.entry.stream}/{a.entry.seq}"
            if hashlib.sha256(a.sealed_bundle).digest() != msg.chunk_hash:
                raise BadSignature(f"{where}: the material chunk does not match the hash its entry names")
            whole = tx.put_chunk(msg.sealed_hash, msg.idx, msg.count, msg.digest, a.sealed_bundle)
            if whole is None or tx.material(msg.digest) is not None:
                continue
            sealed = b"".join(whole)
            try:
                plain = (
                    open_sealed_with(sealed, self.key.opening_keys) if bundle_hash(sealed) == msg.sealed_hash else b""
                )
            except IntegrityError:
                plain = b""  # refused below, as a copy that does not match its digest
            if hashlib.sha256(plain).hexdigest() != msg.digest:
                raise BadSignature(f"{where}: material {msg.digest[:12]}... does not match its digest")
            tx.put_materials([(msg.digest, len(plain), sealed)])
