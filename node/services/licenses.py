"""Electronic licences (电子证照): issued with an approval by the deciding node, sent sealed to
the filing node where the resident collects the result, verified offline anywhere, and cited
in a later case instead of new materials.

The licence names its holder, so it never enters a log or an upper tier: the decision's entry
records the licence number only; the signed licence is kept at the deciding and the filing
node, and travels as an addressed `license_sent` entry with the licence sealed to the filing
node's keys beside it (relays carry ciphertext).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from federation.wire.codec_cases import license_sent_body, license_sent_from_body
from federation.wire.keys import NodeKey, load_public_key
from federation.wire.licenses import sign_license, verify_license
from federation.wire.sealing import bundle_hash, is_sealed, open_sealed_with, seal_many
from federation.wire.suites import PublicKey
from node import logs
from node.bell import Bell
from node.domain.entries import Addressed, Kind, Stream
from node.domain.errors import BadSignature, IntegrityError, InvalidInput, NotFound, SetupError
from node.domain.licenses import License, check_citable, license_no
from node.domain.lifecycle import CaseState, Decide
from node.journal import Journal, Record
from node.services.cases import CaseService
from node.services.ports import Addresser, Clock, IdentitySource
from node.store import Store, Tx


def sealed_at_rest(key: NodeKey, signed: bytes) -> bytes:
    """A signed licence as the licences table keeps it: sealed to this node's own key, since it
    names its holder (issue 10). Exported and sent licences are the signed bytes unchanged."""
    (sealed,) = seal_many([signed], [key.public_key])
    return sealed


def sealed_again(old: NodeKey, new: NodeKey, stored: bytes) -> bytes:
    """A stored licence sealed to both keys of a rotation: the running node (old key) and the
    node after its restart (new key) both open it."""
    (sealed,) = seal_many([opened_at_rest(old, stored)], [old.public_key, new.public_key])
    return sealed


def opened_at_rest(key: NodeKey, stored: bytes) -> bytes:
    """The signed licence from a stored row (rows stored in clear by earlier versions read as they are)."""
    return open_sealed_with(stored, key.opening_keys) if is_sealed(stored) else stored


class LicenseBook:
    """Licences this node holds: verifying, reading, citing, and keeping those sent to it."""

    def __init__(self, store: Store, clock: Clock, key: NodeKey, identity: IdentitySource) -> None:
        self.store, self.clock, self.key, self.identity = store, clock, key, identity
        self.log = logs.get("licenses")

    # -- receiving (from MailService, in its transaction) ----------------------------------

    def take(self, tx: Tx, copies: Sequence[Addressed]) -> None:
        """Licences sent to this node as a case's filing node: open, verify and keep them."""
        now = self.clock()
        anchors = self._anchors(tx)
        for a in copies:
            case_no, number, digest = license_sent_from_body(a.entry.body)
            if bundle_hash(a.sealed_bundle) != digest:
                raise BadSignature(f"{a.entry.origin}/case/{a.entry.seq}: the sealed licence does not match its hash")
            try:
                signed = open_sealed_with(a.sealed_bundle, self.key.opening_keys)
            except IntegrityError as exc:  # the copy's fault: a dead letter at its sender, not a broken link
                raise BadSignature(f"{a.entry.origin}/case/{a.entry.seq}: {exc}") from None
            lic = verify_license(signed, anchors, now, tx.revoked_fingerprints())
            if lic.license_no != number or lic.issuer != a.entry.origin:
                raise BadSignature(f"licence {lic.license_no} does not match the entry that carried it")
            at_us = int(now.timestamp() * 1_000_000)
            tx.put_license(number, case_no, lic.issuer, sealed_at_rest(self.key, signed), at_us)

    def _anchors(self, tx: Tx) -> frozenset[str]:
        identity = self.identity()
        own = identity.anchors if identity is not None else frozenset()
        return own | frozenset(tx.trusted_roots())

    # -- reading, verifying, citing --------------------------------------------------------

    def verify(self, signed: bytes) -> License:
        """Verify a signed licence offline against the roots this node trusts."""
        with self.store.read() as tx:
            anchors = self._anchors(tx)
            revoked = tx.revoked_fingerprints()
        return verify_license(signed, anchors, self.clock(), revoked)

    def signed(self, number: str) -> bytes:
        with self.store.read() as tx:
            data = tx.license(number)
        if data is None:
            raise NotFound("licence", number)
        return opened_at_rest(self.key, data)

    def held(self, limit: int = 50) -> list[License]:
        with self.store.read() as tx:
            numbers = tx.license_nos(limit)
        return [self.verify(self.signed(no)) for no in numbers]

    def cite(self, signed_licenses: Sequence[bytes], applicant_id: str, today: dt.date) -> list[str]:
        """Numbers of licences a new case may cite (verified, the applicant's own, valid)."""
        numbers = []
        for data in signed_licenses:
            lic = self.verify(data)
            check_citable(lic, applicant_id, today)
            numbers.append(lic.license_no)
        if len(set(numbers)) != len(numbers):
            raise InvalidInput("--license", "a licence is cited twice")
        return numbers


class LicenseService(LicenseBook):
    """The book, and issuing: an approval that signs a licence and sends it to the filing node."""

    def __init__(
        self,
        store: Store,
        journal: Journal,
        clock: Clock,
        key: NodeKey,
        identity: IdentitySource,
        cases: CaseService,
        outbox: Addresser,
        bell: Bell,
    ) -> None:
        super().__init__(store, clock, key, identity)
        self.journal, self.cases, self.outbox, self.bell = journal, cases, outbox, bell

    # -- issuing --------------------------------------------------------------------------

    def approve_with_license(
        self, case_no: str, actor: str, valid_until: dt.date | None = None, reason: str = ""
    ) -> tuple[CaseState, License]:
        """Approve the case and issue its licence in the same transaction; the filing node gets
        the licence sealed for it."""
        me = self.journal.origin
        number = license_no(me, case_no)
        applicant = self.cases.applicant_if_held(case_no)
        if applicant is None:
            raise SetupError(f"the applicant's data of {case_no} has not reached this node yet: wait and try again")
        chain = self.outbox.chain_der()
        issued: list[License] = []

        def issue(tx: Tx, states: list[CaseState]) -> None:
            (state,) = states
            item = tx.items([state.item_code]).get(state.item_code)
            lic = License(
                number,
                case_no,
                state.item_code,
                item.name if item else "",
                applicant.name,
                applicant.id_number,
                me,
                self.clock(),
                valid_until,
            )
            signed = sign_license(lic, self.key, chain)
            now_us = int(self.clock().timestamp() * 1_000_000)
            tx.put_license(number, case_no, me, sealed_at_rest(self.key, signed), now_us)
            if state.filing_division != me:
                self._send(tx, state, lic, signed, chain, now_us)
            issued.append(lic)

        (after,) = self.cases.act_many([(case_no, Decide(True, reason, number))], actor, within=issue)
        self.bell.ring()
        self.log.info("license_issued", case_no=case_no, license_no=number)
        return after, issued[0]

    def _send(
        self, tx: Tx, state: CaseState, lic: License, signed: bytes, chain: tuple[bytes, ...], now_us: int
    ) -> None:
        keys = self._keys_of(tx, state.filing_division)
        if not keys:
            raise SetupError(f"no key of the filing node {state.filing_division} is known here to seal the licence to")
        (sealed,) = seal_many([signed], keys)
        body = license_sent_body(state.case_no, lic.license_no, bundle_hash(sealed))
        (entry,) = self.journal.append(tx, Stream.CASE, [Record(Kind.LICENSE_SENT, state.case_no, body)], now_us)
        self.outbox.address(tx, [(entry, state.filing_division)], chain, now_us, sealed)

    @staticmethod
    def _keys_of(tx: Tx, code: str) -> list[PublicKey]:
        return [load_public_key(pem) for origin, pem in tx.origin_keys().values() if origin == code]
