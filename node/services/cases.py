"""Case use cases: file, act (accept, reject, ... evaluate), show, list.

Every command runs the lifecycle table (node.domain.lifecycle) on the stored state, writes one
`case` entry per command and the new derived row in one transaction. The batch forms
(`file_many`, `act_many`) are the same path with one transaction, one executemany per table
and one signed head per batch; the single-case forms call them with one command.

The applicant's data is sealed on arrival; the log and the cases table hold only its hash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields, is_dataclass, replace
from typing import Any, Protocol

from federation.wire.codec import addressed_from_wire
from federation.wire.codec_cases import CaseRecord, case_entry, case_record
from federation.wire.keys import NodeKey
from federation.wire.sealing import bundle_hash, open_sealed_with, seal_many
from node import logs
from node.bell import Bell
from node.divisions_data import national_county_codes
from node.domain.bounds import check, check_command
from node.domain.calendar import WorkCalendar
from node.domain.catalog import CatalogItem
from node.domain.codes import HANDLING_FORMS, SERVICE_OBJECTS
from node.domain.divisions import DivisionCode
from node.domain.entries import CASE_KINDS, Kind, Stream
from node.domain.errors import InvalidInput, NotFound, StateConflict, mask
from node.domain.identifiers import validate_credit_code, validate_resident_id
from node.domain.joint_review import Mode, default_opinion, requests_for, standing
from node.domain.lifecycle import (
    CLOCK_STOPPED,
    RUNNING,
    Accept,
    AcceptCustody,
    CaseCommand,
    CaseState,
    Decide,
    DeclineCustody,
    File,
    LapseReview,
    OfferCustody,
    RequestReview,
    Status,
    Withdraw,
    WithdrawOffer,
    apply,
    check_writer,
)
from node.domain.materials import MaterialRef, check_case_materials, material_ref
from node.domain.timelimits import Level, local_date, progress, working_days_between
from node.journal import Journal, Record
from node.services.case_rows import CLOCK_COMMANDS, due_of
from node.services.offers import check_offer_terms
from node.services.ports import Addresser, CalendarCache, Clock, ReviewCourier
from node.services.projection import Projection
from node.services.reach import check_addressee
from node.services.requests import ClientRequest
from node.services.review_rows import opinion_of_row
from node.store import Store, Tx
from node.store.cases import StoredCase
from node.store.queues import Reveal


class LicenseCheck(Protocol):
    """What filing needs of the licence book (node.services.licenses.LicenseBook)."""

    def cite(self, signed_licenses: Sequence[bytes], applicant_id: str, today: dt.date) -> list[str]: ...


_ITEM_CACHE_LIMIT = 100_000
_PHONE = re.compile(r"^\+?[0-9][0-9 \-]{5,18}[0-9]$")


def _addressees(before: CaseState, cmd: CaseCommand, me: str) -> set[str]:
    """Who must receive this change as an addressed entry: the node an offer (or its
    withdrawal) names, the offering node for an answer, the reviewers' nodes of a joint review
    (its request, lapses and decision), the filing node (which keeps the whole timeline) and
    the handling node (which counts the case) whenever they are not this node or its ancestors."""
    out = set()
    if isinstance(cmd, OfferCustody | WithdrawOffer):
        out.add(cmd.to)
    elif isinstance(cmd, AcceptCustody | DeclineCustody):
        out.add(before.custodian)
    review = cmd.requests if isinstance(cmd, RequestReview) else before.review.requests if before.review else ()
    if isinstance(cmd, RequestReview | LapseReview | Decide | Withdraw):  # the reviewers follow their review
        out.update(q.node for q in review if not DivisionCode(q.node).is_ancestor_of(DivisionCode(me)))
    out.add(before.filing_division)
    handling = DivisionCode(before.handling_division)
    if not handling.is_ancestor_of(DivisionCode(me)):  # an ancestor has this node's stream already
        out.add(before.handling_division)  # delivery and evaluation count where the case was handled
    out.discard(me)
    return out


def _with_opinions(tx: Tx, state: CaseState, cmd: Decide, now: dt.datetime) -> Decide:
    """A decision carrying the opinions of the case's joint review as this node holds them,
    and the silence of every reviewer past its due date; a caller brings none of its own."""
    if cmd.opinions:
        raise InvalidInput("opinions", "the decision carries the opinions the reviewers sent; send none")
    if state.review is None:
        return cmd
    rows = {(r.node, r.department): r for r in tx.joint_review(state.case_no)}
    review = state.review
    answered = [opinion_of_row(row) for q in review.requests if (row := rows.get(q.key)) is not None and row.verdict]
    if standing(review.mode, review.requests, answered).complete and review.mode == Mode.ANY:
        return replace(cmd, opinions=tuple(answered))  # settled by an agreement: the others lapsed
    opinions = []
    for q in review.requests:  # in the order asked
        row = rows.get(q.key)
        if row is not None and row.verdict:
            opinions.append(opinion_of_row(row))
        elif local_date(now) > dt.date.fromisoformat(q.due):
            opinions.append(default_opinion(q, int(now.timestamp() * 1_000_000)))
    return replace(cmd, opinions=tuple(opinions))


@dataclass(frozen=True)
class Applicant:
    """Personal data of the applicant: sealed on arrival, never logged."""

    kind: str  # GB/T 39046 A.4 service object: "1" natural person, "2".."6" organisations
    name: str
    id_number: str  # GB 11643 identity number (kind 1) or GB 32100 credit code
    phone: str = ""
    address: str = ""
    materials: tuple[MaterialRef, ...] = ()  # files handed in: their bytes are sealed apart

    def validated(self, today: dt.date) -> tuple[Applicant, str | None]:
        if self.kind not in SERVICE_OBJECTS:
            raise InvalidInput("applicant kind", f"one of {', '.join(SERVICE_OBJECTS)} (GB/T 39046 A.4)")
        if not check("applicant name", self.name).strip():
            raise InvalidInput("applicant name", "is empty")
        check("address", self.address)
        check("phone", self.phone)
        check("id_number", self.id_number)
        if self.kind == "1":
            checked = validate_resident_id(self.id_number, today, national_county_codes())
        else:
            checked = validate_credit_code(self.id_number, "applicant credit code", masked=True)
        if self.phone and not _PHONE.match(self.phone.strip()):
            raise InvalidInput("phone", "digits, spaces or dashes, 7 to 20 long")
        check_case_materials(self.materials)
        return Applicant(
            self.kind, self.name.strip(), checked.value, self.phone.strip(), self.address.strip(), self.materials
        ), checked.warning

    def masked(self) -> Applicant:
        """As lists and pages show it unless revealed: the first character of the name, the
        identity number and phone masked, no address."""
        return Applicant(self.kind, self.name[:1] + "*" * (len(self.name) - 1), mask(self.id_number), mask(self.phone))

    def to_bytes(self) -> bytes:
        data = {**self.__dict__, "materials": [r.__dict__ for r in self.materials]}
        return json.dumps(data, ensure_ascii=False, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Applicant:
        fields = json.loads(data)
        fields["materials"] = tuple(MaterialRef(**r) for r in fields.get("materials", []))
        return cls(**fields)


@dataclass(frozen=True)
class FileRequest:
    item_code: str
    applicant: Applicant
    channel: str = "1"  # A.5 handling form the application came through
    agent: str = ""  # village agent id for 代办
    consent: bool = False  # the resident's consent to the errand
    licenses: tuple[bytes, ...] = ()  # signed licences presented instead of new materials
    files: tuple[tuple[str, bytes], ...] = ()  # materials as files: (name, bytes)


@dataclass(frozen=True)
class TimelineStep:
    at: dt.datetime
    kind: str
    actor: str
    writer: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class CustodySpan:
    """One node's time holding a case: from taking it until the next node took it."""

    node: str
    start: dt.datetime
    end: dt.datetime | None  # None: holds it now
    working_days: int


@dataclass(frozen=True)
class CaseView:
    state: CaseState
    due_date: str
    due_provisional: bool
    used_days: int | None
    remaining_days: int | None
    level: str
    timeline: tuple[TimelineStep, ...]
    custody: tuple[CustodySpan, ...] = ()


# Fields of a filing that the case outline shows already.
_OUTLINE_FIELDS = ("command", "case_no", "item_code", "handling_division", "filing_division", "case_type", "limit_days")


def _detail(cmd: CaseCommand) -> dict[str, Any]:
    out = {k: v for k, v in cmd.__dict__.items() if k not in _OUTLINE_FIELDS and v not in ("", (), None)}
    return {k: _plain(v) for k, v in out.items()}


def _plain(value: Any) -> Any:
    """A command's field as plain data (a joint review's requests and opinions as objects)."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    return value


class CaseService:
    def __init__(
        self,
        store: Store,
        journal: Journal,
        clock: Clock,
        projection: Projection,
        calendar: CalendarCache,
        key: NodeKey,
        outbox: Addresser,
        licenses: LicenseCheck,
        bell: Bell,
        courier: ReviewCourier,
        answer_days: int = 5,
    ) -> None:
        self.store, self.journal, self.clock, self.calendar = store, journal, clock, calendar
        self.courier = courier  # a joint review's materials, to its reviewers
        self.answer_days = answer_days  # working days a node has to answer this node's custody offer
        self.projection = projection
        self.key, self.outbox, self.licenses, self.bell = key, outbox, licenses, bell
        self._request_key = hashlib.sha256(b"yiwang/v1/request-id\x00" + key.pem()).digest()
        self.code = journal.origin
        self.log = logs.get("cases")
        self._items: dict[str, CatalogItem] = {}
        self._items_version = -1

    def _catalog_items(self, tx: Tx, codes: Iterable[str]) -> dict[str, CatalogItem]:
        """Catalog items by code, from memory while the stored catalog version is unchanged."""
        version = tx.catalog_version()
        if version != self._items_version or len(self._items) > _ITEM_CACHE_LIMIT:
            self._items, self._items_version = {}, version
        wanted = set(codes)
        missing = wanted - self._items.keys()
        if missing:
            self._items.update(tx.items(missing))
        return {c: self._items[c] for c in wanted if c in self._items}

    # -- filing ---------------------------------------------------------------------------

    def file(self, request: FileRequest, actor: str, request_id: str = "") -> CaseState:
        """File one case; with a `request_id`, a retry returns the case the first call filed."""
        r = request
        # the applicant enters the request's digest keyed by a secret of this node only: the same
        # id for another applicant is refused, and the digest tells nobody whom a case is for
        applicant = hmac.new(self._request_key, repr((r.applicant, r.files, r.licenses)).encode(), "sha256").hexdigest()
        asked = (r.item_code, r.channel, r.agent, str(r.consent), actor, applicant)
        once = ClientRequest.of(request_id, "FileCase", *asked)
        return self.file_many([request], actor, once)[0]

    def file_many(
        self, requests: Sequence[FileRequest], actor: str, once: ClientRequest | None = None
    ) -> list[CaseState]:
        """File cases in one transaction; raises on the first bad request and writes nothing.
        `once`: a single request a client named with its id (see node.services.requests)."""
        check("actor", actor)
        now = self.clock()
        today = local_date(now)
        me = self.code
        answer_by = self.calendar.get().for_division(me).add_working_days(today, self.answer_days)[0].isoformat()
        clean: list[Applicant] = []
        with self.store.transaction() as tx:
            tail = self.journal.lock(tx, Stream.CASE)
            if once is not None and (earlier := once.done_before(tx)) is not None:
                return [tx.cases([earlier])[earlier]]
            items = self._catalog_items(tx, (r.item_code for r in requests))
            for r in requests:
                item = items.get(r.item_code)
                if item is None:
                    raise NotFound("catalog item", r.item_code)
                if r.channel not in HANDLING_FORMS:
                    raise InvalidInput("channel", f"one of {', '.join(HANDLING_FORMS)} (GB/T 39046 A.5)")
                if r.agent and not item.agent_allowed:
                    raise InvalidInput("agent", f"item {item.implementation_code} is not open to errands (代办)")
                competent = DivisionCode(item.division_code)
                if not item.cross_region and not competent.contains(DivisionCode(me)):
                    raise InvalidInput(
                        "item",
                        f"{item.implementation_code} is handled by {competent} and is not cross-region (通办): "
                        "file it there or choose a cross-region item",
                    )
                given = r.applicant  # materials are rare: no copy on the bulk path without them
                if r.files:
                    given = replace(given, materials=tuple(material_ref(name, data) for name, data in r.files))
                applicant, _warning = given.validated(today)
                if item.service_objects and applicant.kind not in item.service_objects:
                    raise InvalidInput(
                        "applicant kind", f"item {item.name} serves {', '.join(item.service_objects)} only"
                    )
                clean.append(applicant)
            cited = [
                tuple(self.licenses.cite(r.licenses, a.id_number, today)) if r.licenses else ()
                for r, a in zip(requests, clean, strict=True)
            ]
            files = {hashlib.sha256(d).hexdigest(): d for r in requests for _, d in r.files}
            if files:  # content-addressed: a file handed in twice is kept once
                held = tx.held_materials(list(files))
                new = [(k, d) for k, d in files.items() if k not in held]
                sealed_files = seal_many([d for _, d in new], [self.key.public_key])
                tx.put_materials([(k, len(d), s) for (k, d), s in zip(new, sealed_files, strict=True)])
            sealed = seal_many([a.to_bytes() for a in clean], [self.key.public_key])
            prefix = f"{me}{today:%Y%m%d}"
            last = tx.last_case_no(prefix)
            base = int(last[len(prefix) :]) if last else 0
            states, records, known, bundles, offers = [], [], [], [], []
            for i, (r, blob) in enumerate(zip(requests, sealed, strict=True)):
                item = items[r.item_code]
                cmd = File(
                    case_no=f"{prefix}{base + i + 1:06d}",
                    item_code=item.implementation_code,
                    handling_division=item.division_code,
                    filing_division=me,
                    channel=r.channel,
                    case_type=item.case_type,
                    limit_days=item.limit_days,
                    agent=r.agent,
                    consent=r.consent,
                    cited_licenses=cited[i],
                )
                check_command(cmd)
                state = apply(None, cmd, now)
                digest = bundle_hash(blob)
                kind, body = case_entry(
                    cmd, state, now, actor, me, sealed_bundle_hash=digest, applicant_kind=clean[i].kind
                )
                records.append(Record(kind, state.case_no, body))
                known.append((CaseRecord(state.case_no, now, actor, me, cmd, digest, version=state.version), state))
                if item.division_code != me:  # the competent node is elsewhere: offer it the case at once
                    offer = OfferCustody(item.division_code, "process", answer_by=answer_by)
                    state = apply(state, offer, now)
                    offer_kind, offer_body = case_entry(offer, state, now, actor, me)
                    records.append(Record(offer_kind, state.case_no, offer_body))
                    known.append((CaseRecord(state.case_no, now, actor, me, offer, version=state.version), state))
                    offers.append((len(records) - 1, item.division_code))
                states.append(state)
                bundles.append((digest, state.case_no, blob))
            now_us = int(now.timestamp() * 1_000_000)
            chain = self.outbox.chain_der() if offers else ()
            entries = self.journal.append(tx, Stream.CASE, records, now_us, tail)
            self.projection.apply(tx, entries, known=known, prior={})
            tx.put_bundles(bundles)
            if offers:
                self.outbox.address(tx, [(entries[i], to) for i, to in offers], chain, now_us)
            if once is not None:
                once.record(tx, states[0].case_no, now_us)
        if offers:
            self.bell.ring()
        self._log_batch("case_filed", states)
        return states

    def _review_requests(
        self, tx: Tx, state: CaseState, cmd: RequestReview, calendar: WorkCalendar, today: dt.date
    ) -> RequestReview:
        """The requests of the item's joint-review plan for this case, due by each reviewer's
        limit in this node's working days; a caller names no reviewers of its own."""
        if cmd.requests:
            raise InvalidInput("requests", "the item's joint-review plan names the reviewers; name none")
        item = self._catalog_items(tx, [state.item_code]).get(state.item_code)
        if item is None or item.joint_review is None:
            raise InvalidInput(
                "item",
                f"{state.item_code} has no joint-review plan (catalog field joint_review, docs/catalog-format.md)",
            )
        digest = tx.case_bundle_hash(state.case_no)
        if not digest or tx.bundle(digest) is None:  # the reviewers get the materials from this node
            raise StateConflict(
                f"case {state.case_no}: the applicant's sealed data has not reached this node yet; "
                "open the joint review once it has (`yiwang case show CASE --reveal` shows it)"
            )
        plan, me = item.joint_review, DivisionCode(self.code)
        days = calendar.for_division(self.code)
        due = {r.limit_days: days.add_working_days(today, r.limit_days)[0] for r in plan.reviewers}
        requests = requests_for(plan, me, DivisionCode(state.filing_division), due)
        for q in requests:
            if q.node != me.code:
                check_addressee(tx, me, q.node, "reviewer node")
        return RequestReview(requests, plan.mode)

    def _log_batch(self, event: str, states: Sequence[CaseState], command: str = "") -> None:
        """One line per case on the operator path, one summary line per bulk batch."""
        if len(states) == 1:
            s = states[0]
            self.log.info(event, case_no=s.case_no, command=command or None, status=s.status.value, node=self.code)
        else:
            self.log.info(
                f"{event}_batch",
                cases=len(states),
                first=states[0].case_no,
                last=states[-1].case_no,
                node=self.code,
            )

    # -- state changes --------------------------------------------------------------------

    def act(self, case_no: str, cmd: CaseCommand, actor: str, request_id: str = "") -> CaseState:
        """Change one case; with a `request_id`, a retry returns the case as it is and writes nothing."""
        once = ClientRequest.of(request_id, "ActOnCase", case_no, repr(cmd), actor)
        return self.act_many([(case_no, cmd)], actor, once=once)[0]

    def act_many(
        self,
        commands: Sequence[tuple[str, CaseCommand]],
        actor: str,
        within: Callable[[Tx, list[CaseState]], None] | None = None,
        once: ClientRequest | None = None,
    ) -> list[CaseState]:
        """Apply commands in order in one transaction; the first illegal one raises and nothing
        of the batch is written. `within` runs in the same transaction after the entries are
        appended (issuing a licence with a decision); `once`: a single command a client named
        with its id."""
        check("actor", actor)
        now = self.clock()
        today = local_date(now)
        me = self.code
        calendar = self.calendar.get()  # loaded before the write transaction opens
        chain: tuple[bytes, ...] | None = None
        with self.store.transaction() as tx:
            tail = self.journal.lock(tx, Stream.CASE)  # before reading the states it changes
            if once is not None and (earlier := once.done_before(tx)) is not None:
                return [tx.cases([earlier])[earlier]]
            current = tx.stored_cases(no for no, _ in commands)
            prior = dict(current)  # before the commands: the projection starts from these
            records, results, addressees, known = [], [], [], []
            for case_no, cmd in commands:
                stored = current.get(case_no)
                if stored is None:
                    raise NotFound("case", case_no)
                if isinstance(cmd, File):
                    raise InvalidInput("command", "use file to create a case")
                check_writer(stored.state, cmd, me)
                if isinstance(cmd, OfferCustody):
                    check_addressee(tx, DivisionCode(me), cmd.to, "to")
                    answer_by = calendar.for_division(me).add_working_days(today, self.answer_days)[0]
                    cmd = replace(cmd, answer_by=answer_by.isoformat())
                elif isinstance(cmd, AcceptCustody | DeclineCustody | WithdrawOffer):
                    check_offer_terms(tx, stored.state, cmd, today)
                elif isinstance(cmd, RequestReview):
                    cmd = self._review_requests(tx, stored.state, cmd, calendar, today)
                elif isinstance(cmd, Decide):
                    cmd = _with_opinions(tx, stored.state, cmd, now)
                check_command(cmd)
                after = apply(stored.state, cmd, now)
                addressees.append(_addressees(stored.state, cmd, me))
                due, provisional = stored.due_date, stored.due_provisional
                if cmd.command in CLOCK_COMMANDS or after.status in CLOCK_STOPPED:
                    due, provisional = due_of(calendar, after, today)
                kind, body = case_entry(cmd, after, now, actor, me, due_date=due, due_provisional=provisional)
                records.append(Record(kind, case_no, body))
                recorded_due = (due, provisional) if isinstance(cmd, Accept) else ("", False)
                known.append((CaseRecord(case_no, now, actor, me, cmd, b"", *recorded_due, after.version), after))
                current[case_no] = StoredCase(after, due, provisional)
                results.append(after)
            now_us = int(now.timestamp() * 1_000_000)
            entries = self.journal.append(tx, Stream.CASE, records, now_us, tail)
            pairs = [(e, to) for e, tos in zip(entries, addressees, strict=True) for to in sorted(tos)]
            if pairs:
                chain = self.outbox.chain_der()
                self.outbox.address(tx, pairs, chain, now_us)
            for rec, _after in known:
                if isinstance(rec.command, RequestReview):  # the reviewers elsewhere get the materials, re-sealed
                    remote = sorted({q.node for q in rec.command.requests} - {me})
                    self.courier.to_reviewers(tx, rec.case_no, remote, now_us)
            if within is not None:
                within(tx, results)
            if once is not None:
                once.record(tx, results[0].case_no, now_us)
            self.projection.apply(tx, entries, known=known, prior=prior)
        if chain is not None:
            self.bell.ring()
        self._log_batch("case_changed", results, commands[0][1].command.value if len(commands) == 1 else "")
        return results

    # -- reading --------------------------------------------------------------------------

    def get(self, case_no: str) -> CaseState:
        return self.outline(case_no).state

    def outline(self, case_no: str) -> StoredCase:
        """The case with its stored due date (what GetCase and every write's reply show)."""
        check("case_no", case_no)
        with self.store.read() as tx:
            stored = tx.stored_cases([case_no]).get(case_no)
        if stored is None:
            raise NotFound("case", case_no)
        return stored

    def show(self, case_no: str) -> CaseView:
        check("case_no", case_no)
        today = local_date(self.clock())
        with self.store.read() as tx:
            stored = tx.stored_cases([case_no]).get(case_no)
            if stored is None:
                raise NotFound("case", case_no)
            # the case's entries in streams this node holds, and those other nodes addressed to it
            found = {(e.origin, e.stream, e.seq): e for e in tx.entries_about(case_no)}
            for wire in tx.addressed_about(case_no):
                e = addressed_from_wire(wire).entry
                found.setdefault((e.origin, e.stream, e.seq), e)
        records = [(e.kind, case_record(e.body)) for e in found.values() if e.kind in CASE_KINDS]
        steps = [
            TimelineStep(rec.at, kind, rec.actor, rec.writer, _detail(rec.command))
            for kind, rec in sorted(records, key=lambda kr: (kr[1].version, kr[1].at))
        ]
        state = stored.state
        view = self._view(state, stored.due_date, stored.due_provisional, today, tuple(steps))
        return replace(view, custody=self._custody(steps, state))

    def _custody(self, steps: Sequence[TimelineStep], state: CaseState) -> tuple[CustodySpan, ...]:
        """Who held the case and for how many working days, from the filing and every taking."""
        calendar = self.calendar.get()
        starts = [(s.writer, s.at) for s in steps if s.kind in (Kind.CASE_FILED, Kind.CASE_CUSTODY_ACCEPTED)]
        spans = []
        for i, (node, start) in enumerate(starts):
            end = starts[i + 1][1] if i + 1 < len(starts) else state.closed_at
            last_day = local_date(end if end is not None else self.clock())
            spans.append(
                CustodySpan(
                    node, start, end, working_days_between(calendar.for_division(node), local_date(start), last_day)
                )
            )
        return tuple(spans)

    def _view(
        self, state: CaseState, due: str, provisional: bool, today: dt.date, timeline: tuple[TimelineStep, ...] = ()
    ) -> CaseView:
        used = remaining = None
        level = ""
        if state.accepted_at is not None and state.limit_days is not None:
            finished = state.decided_at or state.closed_at
            end = local_date(finished) if finished is not None else today
            calendar = self.calendar.get().for_division(state.handling_division)
            p = progress(calendar, local_date(state.accepted_at), state.limit_days, state.stops, end)
            used, remaining = p.used_days, p.remaining_days
            level = p.level.value
            if state.decided_at or state.closed_at:
                level = "late" if p.level == Level.RED else "on_time"
            elif state.status in CLOCK_STOPPED:
                level = f"{level} (clock stopped)"
        return CaseView(state, due, provisional, used, remaining, level, timeline)

    def views(self, rows: Sequence[StoredCase]) -> list[CaseView]:
        """Outlines with time limits (no timeline) of stored cases, as lists show them."""
        today = local_date(self.clock())
        return [self._view(c.state, c.due_date, c.due_provisional, today) for c in rows]

    def reveal(self, case_no: str, actor: str, via: str) -> Applicant:
        """The applicant in full for `actor`, recorded (who, when, through what) before it is
        returned: `yiwang audit reveals` lists the record."""
        applicant = self.applicant(case_no)
        self._record_reveal(case_no, actor, "applicant", via)
        return applicant

    def reveal_material(self, case_no: str, name: str, actor: str, via: str) -> bytes:
        """A material file's bytes for `actor`, recorded as a reveal."""
        data = self.material(case_no, name)
        self._record_reveal(case_no, actor, f"material:{name}"[:80], via)
        return data

    def reveals(self, case_no: str = "", limit: int = 100) -> list[Reveal]:
        if case_no:
            check("case_no", case_no)
        with self.store.read() as tx:
            return tx.reveals(case_no, limit)

    def _record_reveal(self, case_no: str, actor: str, what: str, via: str) -> None:
        check("actor", actor)
        at_us = int(self.clock().timestamp() * 1_000_000)
        with self.store.transaction() as tx:
            tx.record_reveal(Reveal(at_us, actor, case_no, what, via))
        self.log.info("applicant_revealed", case_no=case_no, actor=actor, what=what.partition(":")[0], via=via)

    def list(
        self, status: str = "", limit: int = 50, after: str = "", open_only: bool = False, overdue: bool = False
    ) -> list[CaseView]:
        """Cases by number; `overdue`: only those past their due date whose clock runs."""
        if status and status not in set(Status):
            raise InvalidInput("status", f"one of {', '.join(Status)}")
        check("after", after, "case_no")
        today = local_date(self.clock())
        with self.store.read() as tx:
            rows = tx.list_cases(status, limit, after, open_only, today.isoformat() if overdue else "", RUNNING)
        return [self._view(c.state, c.due_date, c.due_provisional, today) for c in rows]

    def materials(self, case_no: str, applicant: Applicant | None = None) -> Sequence[tuple[MaterialRef, bool]]:
        """The case's material files (from the sealed bundle, or `applicant` when the caller
        opened it already) and whether this node holds each."""
        refs = (applicant or self.applicant(case_no)).materials
        with self.store.read() as tx:
            held = tx.held_materials([r.digest for r in refs]) if refs else set()
        return [(r, r.digest in held) for r in refs]

    def material(self, case_no: str, name: str) -> bytes:
        """A material file's bytes, for the operator of a node that holds it."""
        ref = next((r for r in self.applicant(case_no).materials if r.name == name), None)
        if ref is None:
            raise NotFound("material", f"{name} of case {case_no}")
        with self.store.read() as tx:
            sealed = tx.material(ref.digest)
        if sealed is None:
            raise NotFound("material file (still on its way)", f"{name} of case {case_no}")
        return open_sealed_with(sealed, self.key.opening_keys)

    def applicant_if_held(self, case_no: str) -> Applicant | None:
        """The applicant when this node holds the sealed bundle (filing and handling nodes)."""
        with self.store.read() as tx:
            bundle_hash = tx.case_bundle_hash(case_no)
            if bundle_hash is None:
                raise NotFound("case", case_no)
            held = tx.bundle(bundle_hash) is not None
        return self.applicant(case_no) if held else None

    def applicant(self, case_no: str) -> Applicant:
        """Open the sealed bundle (this node is a recipient); for the operator's eyes only. A
        joint review's reviewer node that does not hold the case opens the bundle the lead
        re-sealed for it."""
        with self.store.read() as tx:
            bundle_hash = tx.case_bundle_hash(case_no)
            if bundle_hash is None:
                sent = tx.bundles_of_case(case_no)
                if not sent:
                    raise NotFound("case", case_no)
                blob: bytes | None = sent[-1]
            else:
                blob = tx.bundle(bundle_hash)
        if blob is None:
            raise NotFound("sealed bundle of case", case_no)
        return Applicant.from_bytes(open_sealed_with(blob, self.key.opening_keys))
