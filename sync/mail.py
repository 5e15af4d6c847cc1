"""Addressed entries (DESIGN.md section 4): writing them, taking them over from a neighbour,
and handing them on.

Sending: an entry in this node's case stream, signed on its own for its addressee and carrying
the node's certificate chain, is stored in the `addressed` outbox with its next hop
(sync.routing) in the transaction that appends the entry.

Receiving (at every hop): each copy is checked - the entry's hash, the origin's chain against
this node's anchors and revocations, the signature over addressee and hash, and that it does
not arrive from where it must go (a loop). A copy already held is acknowledged and not stored
again, so resending after a lost acknowledgement delivers nothing twice. A new copy is stored
with its next hop, or as delivered when this node is the addressee; one transaction for all.

Dead letters: a copy this node will never store (a PeerError: it does not verify, would loop,
breaks a case rule) is refused on its own and the copies beside it are stored (`take`); the
sender parks a refused copy as a dead letter with an alarm (`refused`) and sends what follows,
so one bad copy never blocks a link. An admin lists, retries or discards dead letters
(`yiwang mail`). A fault of ours (the database) refuses nothing: the link ends and the copies
are sent again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from cryptography import x509

from federation.wire.certs import certified_key, fingerprint, verify_chain
from federation.wire.codec import addressed_from_wire
from federation.wire.codec_cases import notice_body, notice_from_body
from federation.wire.keys import Purpose, Signature, verify
from federation.wire.suites import PublicKey
from node import logs
from node.bell import Bell
from node.domain.bounds import check
from node.domain.divisions import DivisionCode
from node.domain.entries import (
    CASE_KINDS,
    Addressed,
    Entry,
    Kind,
    Stream,
    addressed_message,
    entry_hash,
    hash_alg,
)
from node.domain.errors import BadSignature, InvalidInput, Misrouted, PeerError, SetupError, excerpt
from node.journal import Journal, Record
from node.services.bundles import Courier, take_bundles
from node.services.licenses import LicenseBook
from node.services.ports import Clock, IdentitySource
from node.services.projection import Projection, ProjectionRefused
from node.services.reach import check_addressee
from node.store import Store
from node.store.mail import DEAD, DELIVERED, OUTBOX, Key
from node.store.tables import AddressedRow
from sync.outbox import Outbox, addressed_row
from sync.routing import may_arrive_from, next_node

# Refusals that may pass without an operator: the hop does not know the origin's issuer yet (a
# peer province's root still on its way down), or a certificate is outside its validity by the
# hop's clock. Their dead letters are sent again every RETRY_TRANSIENT_US; others wait for
# `yiwang mail retry`.
TRANSIENT_REFUSALS = ("UnknownIssuer", "CertificateExpired")
RETRY_TRANSIENT_US = 15 * 60 * 1_000_000


class _Signer:
    """A verified origin chain: its code, leaf key, and fingerprints (checked against
    revocations at every use)."""

    def __init__(self, code: str, key: PublicKey, fingerprints: frozenset[str]) -> None:
        self.code, self.key, self.fingerprints = code, key, fingerprints


class MailService:
    def __init__(
        self,
        store: Store,
        journal: Journal,
        clock: Clock,
        identity: IdentitySource,
        projection: Projection,
        outbox: Outbox,
        courier: Courier,
        licenses: LicenseBook,
        bell: Bell,
    ) -> None:
        self.store, self.journal, self.clock, self.identity = store, journal, clock, identity
        self.addresser, self.courier, self.licenses, self.bell = outbox, courier, licenses, bell
        self.projection = projection
        self.me = outbox.me
        self.log = logs.get("mail")
        self._signers: dict[bytes, _Signer] = {}
        self._revived: dict[str, int] = {}  # next hop -> when transient dead letters were last revived (us)

    # -- sending --------------------------------------------------------------------------

    def send(self, addressee: str, kind: str, subject: str, body: bytes) -> Entry:
        """Append an entry addressed to `addressee` and put it in the outbox."""
        me = self.me
        if DivisionCode.parse(addressee, "addressee") == me:
            raise InvalidInput("--to", f"{addressee} is this node: an addressed entry goes to another node")
        chain = self.addresser.chain_der()
        now_us = int(self.clock().timestamp() * 1_000_000)
        with self.store.transaction() as tx:
            check_addressee(tx, me, addressee, "--to")
            tail = self.journal.lock(tx, Stream.CASE)
            [entry] = self.journal.append(tx, Stream.CASE, [Record(kind, subject, body)], now_us, tail)
            self.addresser.address(tx, [(entry, addressee)], chain, now_us)
        self.bell.ring()
        self.log.info("addressed_sent", kind=kind, seq=entry.seq, addressee=addressee)
        return entry

    def send_notice(self, addressee: str, title: str, text: str) -> Entry:
        title, text = title.strip(), text.strip()
        if not title:
            raise InvalidInput("--title", "a notice needs a title")
        check("--title", title, "notice title")
        check("TEXT", text, "notice text")
        return self.send(addressee, Kind.NOTICE_SENT, f"to:{addressee}", notice_body(title, text))

    # -- receiving ------------------------------------------------------------------------

    def receive(self, items: Sequence[Addressed], sender: str) -> list[Key]:
        """Take over a neighbour's delivery; returns the keys to acknowledge (all of them). A
        transaction the database aborted for a deadlock is run again."""
        return self.store.retrying(lambda: self._receive(items, sender))

    def take(self, items: Sequence[Addressed], sender: str) -> tuple[list[Key], list[tuple[Key, str]]]:
        """Take over a neighbour's delivery copy by copy: (keys stored or held already, the
        keys refused for good with the reason). All in one transaction when every copy is
        good; when one is not, each copy in its own."""
        try:
            return self.receive(items, sender), []
        except PeerError as exc:
            if len(items) == 1:
                return [], [self._refusal(items[0], exc, sender)]
        stored: list[Key] = []
        refused: list[tuple[Key, str]] = []
        for a in items:
            try:
                stored.extend(self.receive([a], sender))
            except PeerError as exc:
                refused.append(self._refusal(a, exc, sender))
        return stored, refused

    def _refusal(self, a: Addressed, exc: PeerError, sender: str) -> tuple[Key, str]:
        reason = excerpt(f"{type(exc).__name__}: {exc}", 480)
        self.log.warning("addressed_refused", sender=sender, key=_key_text(a), error=type(exc).__name__)
        return a.key, reason

    def _receive(self, items: Sequence[Addressed], sender: str) -> list[Key]:
        me = self.me
        came_from = DivisionCode(sender)
        now = self.clock()
        now_us = int(now.timestamp() * 1_000_000)
        hops = [self._check(a, me, came_from, now) for a in items]
        with self.store.transaction() as tx:
            tx.lock_tails([(me.code, Stream.CASE), (me.code, Stream.PUBLIC)])  # as every writer: case, public
            revoked = tx.revoked_fingerprints()
            for a in items:
                signer = self._signers[hashlib.sha256(b"".join(a.chain_der)).digest()]
                if signer.fingerprints & revoked:
                    raise BadSignature(f"the certificate of {a.entry.origin} that signed {_key_text(a)} is revoked")
            held = tx.known_addressed(a.key for a in items)
            rows: dict[Key, dict[str, Any]] = {}
            arrived: list[Entry] = []
            seen: set[tuple[str, str, int]] = set()  # one entry may come as several copies
            for a, hop in zip(items, hops, strict=True):
                if a.key not in held and a.key not in rows:
                    rows[a.key] = addressed_row(a, hop, now_us)
                    # relays follow the case too; an ancestor has it from the origin's stream
                    ek = (a.entry.origin, a.entry.stream, a.entry.seq)
                    if (
                        (a.entry.kind in CASE_KINDS or a.entry.kind == Kind.REVIEW_OPINION)
                        and not me.is_ancestor_of(DivisionCode(a.entry.origin))
                        and ek not in seen
                    ):
                        arrived.append(a.entry)
                        seen.add(ek)
            tx.put_addressed(list(rows.values()))
            refused = self.projection.apply(tx, arrived, copies=True).refused
            if refused:  # a copy is refused on its own (`take`): a dead letter at its sender
                raise ProjectionRefused(*refused[0])
            delivered_here = [a for a, hop in zip(items, hops, strict=True) if hop is None and a.key in rows]
            for a in delivered_here:  # the sender's key, proven by its chain: to seal replies to it
                key = self.signer_key(a)
                tx.put_origin_key(a.entry.origin, key.key_id, key.pem)
            bundles = [a for a in delivered_here if a.entry.kind == Kind.BUNDLE_SENT]
            take_bundles(tx, bundles)
            self.projection.apply(tx, [a.entry for a in bundles], to_me=True)
            accepted = [a for a in delivered_here if a.entry.kind == Kind.CASE_CUSTODY_ACCEPTED]
            self.courier.hand_over(tx, accepted, self.signer_key)
            self.licenses.take(tx, [a for a in delivered_here if a.entry.kind == Kind.LICENSE_SENT])
            self.courier.take_material_chunks(tx, [a for a in delivered_here if a.entry.kind == Kind.MATERIAL_CHUNK])
            self.courier.ask_materials(tx, [a for a in delivered_here if a.entry.kind == Kind.CASE_REVIEW_REQUESTED])
            self.courier.send_asked(
                tx, [a for a in delivered_here if a.entry.kind == Kind.REVIEW_RECEIVED], self.signer_key
            )
        if rows:
            self.bell.ring()
            delivered = sum(1 for r in rows.values() if r["state"] == DELIVERED)
            self.log.info("addressed_received", sender=sender, stored=len(rows), delivered=delivered)
        return [a.key for a in items]

    def signer_key(self, a: Addressed) -> PublicKey:
        """The leaf key of a copy's chain, verified when the copy was received."""
        return self._signers[hashlib.sha256(b"".join(a.chain_der)).digest()].key

    def _check(self, a: Addressed, me: DivisionCode, sender: DivisionCode, now: Any) -> DivisionCode | None:
        e = a.entry
        where = _key_text(a)
        if e.stream != Stream.CASE:
            raise BadSignature(f"{where}: addressed entries belong to case streams")
        if entry_hash(e.origin, e.stream, e.seq, e.prev_hash, e.kind, e.body, hash_alg(e.hash)) != e.hash:
            raise BadSignature(f"{where}: the hash does not match the entry's content")
        try:
            to = DivisionCode.parse(a.addressee, "addressee")
        except InvalidInput:
            raise BadSignature(f"{where}: addressee {a.addressee!r} is not a division code") from None
        signer = self._signer(a, now)
        if signer.code != e.origin:
            raise BadSignature(f"{where}: signed with the certificate of {signer.code}")
        sig = Signature(a.alg, a.key_id, a.signature)
        if a.key_id != signer.key.key_id or not verify(
            signer.key, Purpose.ADDRESSED_ENTRY, addressed_message(a.addressee, e.hash), sig
        ):
            raise BadSignature(f"{where}: the origin's signature does not verify")
        if not may_arrive_from(me, sender, to):
            raise Misrouted(f"{where} for {a.addressee} must not reach {me} from {sender}")
        return next_node(me, to)

    def _signer(self, a: Addressed, now: Any) -> _Signer:
        digest = hashlib.sha256(b"".join(a.chain_der)).digest()
        known = self._signers.get(digest)
        if known is None:
            try:
                chain = [x509.load_der_x509_certificate(d) for d in a.chain_der]
            except ValueError:
                raise BadSignature(f"{_key_text(a)}: the origin's chain does not decode") from None
            identity = self.identity()
            if identity is None:
                raise SetupError("this node has no certificate yet and cannot check addressed entries")
            with self.store.read() as tx:
                anchors = identity.anchors | tx.trusted_roots()
            verified = verify_chain(chain, anchors, now)
            known = _Signer(verified.code.code, certified_key(chain[0]), frozenset(fingerprint(c) for c in chain))
            self._signers[digest] = known
        return known

    # -- handing on -----------------------------------------------------------------------

    def outbox(self, to: str, limit: int = 100) -> list[tuple[Key, bytes]]:
        self._revive_transient(to)
        with self.store.read() as tx:
            return tx.outbox(to, limit)

    def _revive_transient(self, to: str) -> None:
        """Dead letters refused for a cause that may pass go out again after RETRY_TRANSIENT_US
        (checked at most once a minute per next hop)."""
        now_us = int(self.clock().timestamp() * 1_000_000)
        if now_us - self._revived.get(to, 0) < 60_000_000:
            return
        self._revived[to] = now_us
        with self.store.transaction() as tx:
            n = tx.revive_transient(to, now_us - RETRY_TRANSIENT_US, TRANSIENT_REFUSALS)
        if n:
            self.log.info("dead_letters_retried", next_hop=to, copies=n)

    def forwarded(self, to: str, keys: Iterable[Key]) -> None:
        now_us = int(self.clock().timestamp() * 1_000_000)
        done = list(keys)

        def mark() -> None:
            with self.store.transaction() as tx:
                tx.mark_forwarded(to, done, now_us)

        self.store.retrying(mark)

    def refused(self, to: str, refusals: Sequence[tuple[Key, str]]) -> None:
        """`to` refused these copies for good: park them as dead letters, each with an alarm."""
        now_us = int(self.clock().timestamp() * 1_000_000)
        refusals = [(key, excerpt(why, 480)) for key, why in refusals]  # the peer's words, escaped and cut

        def park() -> list[AddressedRow]:
            with self.store.transaction() as tx:
                rows = tx.park_dead(to, refusals, now_us)
                for r in rows:
                    detail = f"{r.kind} {r.origin}/{r.stream}/{r.seq} for {r.addressee} refused: {r.refusal}"
                    tx.raise_alarm(now_us, "error", "DeadLetter", to, detail[:1000])
                return rows

        for r in self.store.retrying(park):
            self.log.error("dead_letter", next_hop=to, kind=r.kind, key=f"{r.origin}/{r.stream}/{r.seq}")

    # -- dead letters (yiwang mail) -------------------------------------------------------

    def dead_letters(self, limit: int = 100) -> list[AddressedRow]:
        with self.store.read() as tx:
            return tx.addressed_rows(state=DEAD, limit=limit)

    def retry(self, keys: Sequence[Key] | None) -> int:
        """Dead letters back into the outbox (all when `keys` is None); how many."""
        with self.store.transaction() as tx:
            n = tx.revive_dead(keys)
        if n:
            self.bell.ring()
        return n

    def discard(self, keys: Sequence[Key]) -> int:
        now_us = int(self.clock().timestamp() * 1_000_000)
        with self.store.transaction() as tx:
            return tx.discard_dead(keys, now_us)

    # -- reading --------------------------------------------------------------------------

    def notices(self, limit: int = 50) -> list[dict[str, Any]]:
        """Notices this node sent or received, newest first, with where each one is."""
        me = self.me.code
        out = []
        with self.store.read() as tx:
            rows = tx.addressed_rows(kind=Kind.NOTICE_SENT, limit=limit)
        for r in rows:
            a = addressed_from_wire(bytes(r.wire))
            title, text = notice_from_body(a.entry.body)
            out.append(
                {
                    "from": a.entry.origin,
                    "to": a.addressee,
                    "seq": a.entry.seq,
                    "sent_at_us": a.entry.recorded_at_us,
                    "state": "received" if r.state == DELIVERED else ("sent" if a.entry.origin == me else "relayed"),
                    "waiting_for": r.next_hop if r.state == OUTBOX else "",
                    "title": title,
                    "text": text,
                }
            )
        return out


def _key_text(a: Addressed) -> str:
    return f"{a.entry.origin}/{a.entry.stream}/{a.entry.seq}"
