"""Entry bodies of the case streams (a door to the wire beside federation.wire.codec): case
entries (the command each records, with the outline a filing or custody offer carries),
bundles, licences, material chunks and notices.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from yiwang.v1 import case_pb2

from federation.wire.codec import parsed
from node.domain.entries import Kind
from node.domain.errors import IntegrityError
from node.domain.joint_review import Mode, Opinion, Request, Verdict
from node.domain.lifecycle import (
    Accept,
    AcceptCustody,
    CaseCommand,
    CaseState,
    Decide,
    DeclineCustody,
    Deliver,
    Evaluate,
    File,
    LapseReview,
    OfferCustody,
    Reject,
    RequestReview,
    RequestSupplement,
    Resume,
    Review,
    Status,
    Supplement,
    Suspend,
    Withdraw,
    WithdrawOffer,
)
from node.domain.timelimits import ClockStop

# --- cases -----------------------------------------------------------------------------------

_KIND_OF_FIELD: dict[str, Kind] = {
    "filed": Kind.CASE_FILED,
    "accepted": Kind.CASE_ACCEPTED,
    "not_accepted": Kind.CASE_NOT_ACCEPTED,
    "review_started": Kind.CASE_REVIEW_STARTED,
    "supplement_requested": Kind.CASE_SUPPLEMENT_REQUESTED,
    "supplemented": Kind.CASE_SUPPLEMENTED,
    "suspended": Kind.CASE_SUSPENDED,
    "resumed": Kind.CASE_RESUMED,
    "decided": Kind.CASE_DECIDED,
    "delivered": Kind.CASE_DELIVERED,
    "withdrawn": Kind.CASE_WITHDRAWN,
    "evaluated": Kind.CASE_EVALUATED,
    "custody_offered": Kind.CASE_CUSTODY_OFFERED,
    "custody_accepted": Kind.CASE_CUSTODY_ACCEPTED,
    "custody_declined": Kind.CASE_CUSTODY_DECLINED,
    "custody_withdrawn": Kind.CASE_CUSTODY_WITHDRAWN,
    "review_requested": Kind.CASE_REVIEW_REQUESTED,
    "review_lapsed": Kind.CASE_REVIEW_LAPSED,
}


@dataclass(frozen=True)
class CaseRecord:
    """A decoded case entry: the command it recorded and what came with it."""

    case_no: str
    at: dt.datetime
    actor: str
    writer: str
    command: CaseCommand
    sealed_bundle_hash: bytes = b""
    due_date: str = ""
    due_provisional: bool = False
    version: int = 0
    outline: CaseState | None = None  # a custody offer's snapshot, for a node new to the case
    about: tuple[str, str] = ("", "")  # a review request's item and filing division, for a reviewer new to the case


def to_us(at: dt.datetime) -> int:
    return int(at.timestamp() * 1_000_000)


def from_us(us: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(us / 1_000_000, tz=dt.UTC)


def outline_to_pb(state: CaseState, due_date: str = "", due_provisional: bool = False) -> case_pb2.CaseOutline:
    msg = case_pb2.CaseOutline(
        case_no=state.case_no,
        item_code=state.item_code,
        handling_division=state.handling_division,
        filing_division=state.filing_division,
        channel=state.channel,
        case_type=state.case_type,
        status=state.status.value,
        filed_at_us=to_us(state.filed_at),
        accepted_at_us=to_us(state.accepted_at) if state.accepted_at else 0,
        due_date=due_date,
        due_provisional=due_provisional,
        evaluation=state.evaluation or 0,
        custodian=state.custodian,
        offered_to=state.offered_to,
        version=state.version,
        decided_at_us=to_us(state.decided_at) if state.decided_at else 0,
        closed_at_us=to_us(state.closed_at) if state.closed_at else 0,
        missing_materials=state.missing_materials,
        requested_materials=state.requested_materials,
        agent=state.agent,
    )
    if state.limit_days is not None:
        msg.limit_days = state.limit_days
    if state.approved is not None:
        msg.approved = state.approved
    for stop in state.stops:
        s = msg.stops.add(kind=stop.kind, start=stop.start.isoformat(), end=stop.end.isoformat() if stop.end else "")
        if stop.limit_days is not None:
            s.limit_days = stop.limit_days
    return msg


def _change(
    cmd: CaseCommand,
    after: CaseState,
    sealed_bundle_hash: bytes,
    applicant_kind: str,
    due_date: str,
    due_provisional: bool,
) -> tuple[str, Any]:
    """The CaseEntry oneof field and its message for a command."""
    if isinstance(cmd, File):
        return "filed", case_pb2.Filed(
            outline=outline_to_pb(after),
            sealed_bundle_hash=sealed_bundle_hash,
            agent=cmd.agent,
            consent=cmd.consent,
            applicant_kind=applicant_kind,
            cited_licenses=cmd.cited_licenses,
        )
    if isinstance(cmd, Accept):
        return "accepted", case_pb2.Accepted(
            missing_materials=cmd.missing_materials, due_date=due_date, due_provisional=due_provisional
        )
    if isinstance(cmd, Reject):
        return "not_accepted", case_pb2.NotAccepted(reason=cmd.reason)
    if isinstance(cmd, Review):
        return "review_started", case_pb2.ReviewStarted()
    if isinstance(cmd, RequestSupplement):
        return "supplement_requested", case_pb2.SupplementRequested(materials=cmd.materials, reason=cmd.reason)
    if isinstance(cmd, Supplement):
        return "supplemented", case_pb2.Supplemented(materials=cmd.materials)
    if isinstance(cmd, Suspend):
        return "suspended", case_pb2.Suspended(procedure=cmd.procedure, limit_days=cmd.limit_days, reason=cmd.reason)
    if isinstance(cmd, Resume):
        return "resumed", case_pb2.Resumed()
    if isinstance(cmd, Decide):
        return "decided", case_pb2.Decided(
            approved=cmd.approved,
            reason=cmd.reason,
            result_ref=cmd.result_ref,
            opinions=[cited_to_pb(o) for o in cmd.opinions],
            responsibility=cmd.responsibility,
        )
    if isinstance(cmd, Deliver):
        return "delivered", case_pb2.Delivered(method=cmd.method)
    if isinstance(cmd, Withdraw):
        return "withdrawn", case_pb2.Withdrawn(reason=cmd.reason)
    if isinstance(cmd, Evaluate):
        return "evaluated", case_pb2.Evaluated(
            level=cmd.level, channel=cmd.channel, causes=cmd.causes, scores=dict(cmd.scores)
        )
    if isinstance(cmd, OfferCustody):
        outline = outline_to_pb(after, due_date, due_provisional)
        return "custody_offered", case_pb2.CustodyOffered(
            to=cmd.to, purpose=cmd.purpose, reason=cmd.reason, outline=outline, answer_by=cmd.answer_by
        )
    if isinstance(cmd, AcceptCustody):
        return "custody_accepted", case_pb2.CustodyAccepted(by=cmd.by)
    if isinstance(cmd, WithdrawOffer):
        return "custody_withdrawn", case_pb2.CustodyWithdrawn(to=cmd.to, reason=cmd.reason)
    if isinstance(cmd, RequestReview):
        return "review_requested", case_pb2.ReviewRequested(
            mode=cmd.mode.value,
            reviewers=[
                case_pb2.ReviewRequest(
                    node=q.node, department=q.department, name=q.name, due=q.due, silence=q.silence.value
                )
                for q in cmd.requests
            ],
            item_code=after.item_code,
            filing_division=after.filing_division,
        )
    if isinstance(cmd, LapseReview):
        return "review_lapsed", case_pb2.ReviewLapsed(node=cmd.node, department=cmd.department)
    return "custody_declined", case_pb2.CustodyDeclined(by=cmd.by, reason=cmd.reason)


def cited_to_pb(o: Opinion) -> case_pb2.CitedOpinion:
    return case_pb2.CitedOpinion(
        node=o.node,
        department=o.department,
        verdict=o.verdict.value,
        reasons=o.reasons,
        forward_to=o.forward_to,
        at_us=o.at_us,
        by_default=o.by_default,
        entry_hash=o.entry_hash,
    )


def _verdict(text: str) -> Verdict:
    try:
        return Verdict(text)
    except ValueError:
        raise IntegrityError(f"unknown verdict {text!r}") from None


def _mode(text: str) -> Mode:
    try:
        return Mode(text or Mode.ALL)  # a client opening a review names no mode: the plan's
    except ValueError:
        raise IntegrityError(f"unknown joint-review mode {text!r}") from None


def cited_from_pb(m: case_pb2.CitedOpinion) -> Opinion:
    return Opinion(
        m.node, m.department, _verdict(m.verdict), m.reasons, m.forward_to, m.at_us, m.by_default, bytes(m.entry_hash)
    )


def case_entry(
    cmd: CaseCommand,
    after: CaseState,
    at: dt.datetime,
    actor: str,
    writer: str,
    *,
    sealed_bundle_hash: bytes = b"",
    applicant_kind: str = "",
    due_date: str = "",
    due_provisional: bool = False,
) -> tuple[Kind, bytes]:
    """The entry kind and exact body bytes recording `cmd`, which produced `after`."""
    field, change = _change(cmd, after, sealed_bundle_hash, applicant_kind, due_date, due_provisional)
    msg = case_pb2.CaseEntry(
        case_no=after.case_no, at_us=to_us(at), actor=actor, writer=writer, version=after.version, **{field: change}
    )
    return _KIND_OF_FIELD[field], msg.SerializeToString()


def command_from_pb(msg: case_pb2.CaseEntry) -> CaseCommand | None:
    """The command a CaseEntry message carries, or None when it carries no change."""
    field = msg.WhichOneof("change")
    if field == "filed":
        o = msg.filed.outline
        limit = o.limit_days if o.HasField("limit_days") else None
        return File(
            o.case_no,
            o.item_code,
            o.handling_division,
            o.filing_division,
            o.channel,
            o.case_type,
            limit,
            msg.filed.agent,
            msg.filed.consent,
            tuple(msg.filed.cited_licenses),
        )
    if field == "accepted":
        return Accept(tuple(msg.accepted.missing_materials))
    if field == "not_accepted":
        return Reject(msg.not_accepted.reason)
    if field == "review_started":
        return Review()
    if field == "supplement_requested":
        return RequestSupplement(tuple(msg.supplement_requested.materials), msg.supplement_requested.reason)
    if field == "supplemented":
        return Supplement(tuple(msg.supplemented.materials))
    if field == "suspended":
        return Suspend(msg.suspended.procedure, msg.suspended.limit_days, msg.suspended.reason)
    if field == "resumed":
        return Resume()
    if field == "decided":
        d = msg.decided
        opinions = tuple(cited_from_pb(o) for o in d.opinions)
        return Decide(d.approved, d.reason, d.result_ref, opinions, d.responsibility)
    if field == "review_requested":
        r = msg.review_requested
        requests = tuple(Request(q.node, q.department, q.name, q.due, _verdict(q.silence)) for q in r.reviewers)
        return RequestReview(requests, _mode(r.mode))
    if field == "review_lapsed":
        return LapseReview(msg.review_lapsed.node, msg.review_lapsed.department)
    if field == "delivered":
        return Deliver(msg.delivered.method)
    if field == "withdrawn":
        return Withdraw(msg.withdrawn.reason)
    if field == "evaluated":
        ev = msg.evaluated
        return Evaluate(ev.level, ev.channel, tuple(ev.causes), tuple(sorted(ev.scores.items())))
    if field == "custody_offered":
        m = msg.custody_offered
        return OfferCustody(m.to, m.purpose, m.reason, m.answer_by)
    if field == "custody_accepted":
        return AcceptCustody(msg.custody_accepted.by)
    if field == "custody_declined":
        return DeclineCustody(msg.custody_declined.by, msg.custody_declined.reason)
    if field == "custody_withdrawn":
        return WithdrawOffer(msg.custody_withdrawn.to, msg.custody_withdrawn.reason)
    return None


def case_record(body: bytes) -> CaseRecord:
    """Decode a case entry body back into the command it recorded."""
    msg = parsed(case_pb2.CaseEntry(), body, "case entry")
    cmd = command_from_pb(msg)
    if cmd is None:
        raise IntegrityError(f"case entry for {msg.case_no} carries no change")
    return CaseRecord(
        msg.case_no,
        from_us(msg.at_us),
        msg.actor,
        msg.writer,
        cmd,
        sealed_bundle_hash=msg.filed.sealed_bundle_hash if isinstance(cmd, File) else b"",
        due_date=msg.accepted.due_date if isinstance(cmd, Accept) else "",
        due_provisional=msg.accepted.due_provisional if isinstance(cmd, Accept) else False,
        version=msg.version,
        outline=_offered_state(msg) if isinstance(cmd, OfferCustody) else None,
        about=(msg.review_requested.item_code, msg.review_requested.filing_division)
        if isinstance(cmd, RequestReview)
        else ("", ""),
    )


def opinion_body(case_no: str, lead: str, o: Opinion, actor: str) -> bytes:
    """The body of a `review_opinion` entry."""
    return case_pb2.ReviewOpinion(
        case_no=case_no,
        lead=lead,
        department=o.department,
        verdict=o.verdict.value,
        reasons=o.reasons,
        forward_to=o.forward_to,
        at_us=o.at_us,
        actor=actor,
    ).SerializeToString()


def opinion_from_body(origin: str, entry_hash: bytes, body: bytes) -> tuple[Opinion, str, str]:
    """(the opinion, its case, the lead it answers) of a `review_opinion` entry of `origin`."""
    m = parsed(case_pb2.ReviewOpinion(), body, "review opinion")
    opinion = Opinion(origin, m.department, _verdict(m.verdict), m.reasons, m.forward_to, m.at_us, False, entry_hash)
    return opinion, m.case_no, m.lead


def _offered_state(msg: case_pb2.CaseEntry) -> CaseState:
    """The case as a custody offer describes it (the outline after the offer)."""
    o = msg.custody_offered.outline
    return CaseState(
        case_no=o.case_no,
        item_code=o.item_code,
        status=Status(o.status),
        handling_division=o.handling_division,
        filing_division=o.filing_division,
        custodian=o.custodian,
        channel=o.channel,
        case_type=o.case_type,
        limit_days=o.limit_days if o.HasField("limit_days") else None,
        filed_at=from_us(o.filed_at_us),
        accepted_at=from_us(o.accepted_at_us) if o.accepted_at_us else None,
        decided_at=from_us(o.decided_at_us) if o.decided_at_us else None,
        closed_at=from_us(o.closed_at_us) if o.closed_at_us else None,
        agent=o.agent,
        missing_materials=tuple(o.missing_materials),
        requested_materials=tuple(o.requested_materials),
        stops=tuple(
            ClockStop(
                s.kind,
                dt.date.fromisoformat(s.start),
                dt.date.fromisoformat(s.end) if s.end else None,
                s.limit_days if s.HasField("limit_days") else None,
            )
            for s in o.stops
        ),
        approved=o.approved if o.HasField("approved") else None,
        evaluation=o.evaluation or None,
        offered_to=msg.custody_offered.to,
        version=msg.version,
        offer_answer_by=msg.custody_offered.answer_by,
    )


def bundle_sent_body(case_no: str, sealed_bundle_hash: bytes) -> bytes:
    return case_pb2.BundleSent(case_no=case_no, sealed_bundle_hash=sealed_bundle_hash).SerializeToString()


def bundle_sent_from_body(body: bytes) -> tuple[str, bytes]:
    msg = parsed(case_pb2.BundleSent(), body, "bundle_sent")
    return msg.case_no, msg.sealed_bundle_hash


def license_sent_body(case_no: str, number: str, sealed_hash: bytes) -> bytes:
    return case_pb2.LicenseSent(case_no=case_no, license_no=number, sealed_hash=sealed_hash).SerializeToString()


def license_sent_from_body(body: bytes) -> tuple[str, str, bytes]:
    msg = parsed(case_pb2.LicenseSent(), body, "license_sent")
    return msg.case_no, msg.license_no, msg.sealed_hash


def material_chunk_body(case_no: str, digest: str, idx: int, count: int, sealed_hash: bytes, chunk: bytes) -> bytes:
    msg = case_pb2.MaterialChunk(
        case_no=case_no,
        digest=digest,
        idx=idx,
        count=count,
        sealed_hash=sealed_hash,
        chunk_hash=hashlib.sha256(chunk).digest(),
    )
    return msg.SerializeToString()


def material_chunk_from_body(body: bytes) -> case_pb2.MaterialChunk:
    return parsed(case_pb2.MaterialChunk(), body, "material_chunk")


def notice_body(title: str, text: str) -> bytes:
    return case_pb2.Notice(title=title, text=text).SerializeToString(deterministic=True)


def notice_from_body(body: bytes) -> tuple[str, str]:
    msg = parsed(case_pb2.Notice(), body, "notice")
    return msg.title, msg.text
