"""The case lifecycle as a transition table, in the manner of a protocol state machine.

`TRANSITIONS[(status, command)]` is the status after the command; a command absent from the
table for the case's status raises IllegalTransition and changes nothing. Guards that depend on
the command's data (容缺 materials before approval, evaluation levels) sit in `apply`.

    filed ── accept ──> accepted ── review ──> under_review
      │  └─ reject ──> not_accepted             │  ▲   │  ▲
      │                                          │  │   │  └ resume ── special_procedure (clock stopped)
      │                                          │  └ supplement ── awaiting_supplement (clock stopped)
      └ withdraw (before the decision) ──> withdrawn
    accepted | under_review ── decide ──> approved | denied ── deliver ──> delivered ── evaluate ──> evaluated

Joint review (node.domain.joint_review): the custodian, as lead, asks co-reviewers
(request_review: accepted | under_review -> under_review) and records the silence of those past
their due date (lapse_review); its decision carries their opinions and is checked against the
requests; custody does not move while the review is open.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, NamedTuple

from node.domain.codes import SATISFACTION
from node.domain.errors import CaseConflict, IllegalTransition, InvalidInput, NotCustodian
from node.domain.evaluation import check_evaluation
from node.domain.joint_review import (
    JointReview,
    Mode,
    Opinion,
    Request,
    check_carried,
    check_decision,
    check_lapse,
    check_requests,
)
from node.domain.timelimits import ClockStop, local_date


class Status(StrEnum):
    FILED = "filed"  # 申请
    ACCEPTED = "accepted"  # 受理
    NOT_ACCEPTED = "not_accepted"  # 不予受理
    UNDER_REVIEW = "under_review"  # 审查
    AWAITING_SUPPLEMENT = "awaiting_supplement"  # 补正
    SPECIAL_PROCEDURE = "special_procedure"  # 特别程序
    APPROVED = "approved"  # 准予
    DENIED = "denied"  # 不予
    DELIVERED = "delivered"  # 办结/送达
    WITHDRAWN = "withdrawn"  # 撤回
    EVALUATED = "evaluated"  # 好差评


class Command(StrEnum):
    FILE = "file"
    ACCEPT = "accept"
    REJECT = "reject"
    REVIEW = "review"
    REQUEST_SUPPLEMENT = "request_supplement"
    SUPPLEMENT = "supplement"
    SUSPEND = "suspend"
    RESUME = "resume"
    DECIDE_APPROVE = "decide_approve"
    DECIDE_DENY = "decide_deny"
    DELIVER = "deliver"
    WITHDRAW = "withdraw"
    EVALUATE = "evaluate"
    OFFER_CUSTODY = "offer_custody"
    ACCEPT_CUSTODY = "accept_custody"
    DECLINE_CUSTODY = "decline_custody"
    WITHDRAW_OFFER = "withdraw_offer"
    REQUEST_REVIEW = "request_review"  # 并联审批: the lead asks co-reviewers
    LAPSE_REVIEW = "lapse_review"  # the lead records a silent reviewer's default


S, C = Status, Command
_OPEN = (S.ACCEPTED, S.UNDER_REVIEW)
TRANSITIONS: dict[tuple[Status | None, Command], Status] = {
    (None, C.FILE): S.FILED,
    (S.FILED, C.ACCEPT): S.ACCEPTED,
    (S.FILED, C.REJECT): S.NOT_ACCEPTED,
    (S.FILED, C.WITHDRAW): S.WITHDRAWN,
    (S.ACCEPTED, C.REVIEW): S.UNDER_REVIEW,
    **{(s, C.REQUEST_SUPPLEMENT): S.AWAITING_SUPPLEMENT for s in _OPEN},
    (S.AWAITING_SUPPLEMENT, C.SUPPLEMENT): S.UNDER_REVIEW,
    # 容缺 materials handed in while the case runs: the status stays.
    (S.ACCEPTED, C.SUPPLEMENT): S.ACCEPTED,
    (S.UNDER_REVIEW, C.SUPPLEMENT): S.UNDER_REVIEW,
    **{(s, C.SUSPEND): S.SPECIAL_PROCEDURE for s in _OPEN},
    (S.SPECIAL_PROCEDURE, C.RESUME): S.UNDER_REVIEW,
    **{(s, C.DECIDE_APPROVE): S.APPROVED for s in _OPEN},
    **{(s, C.DECIDE_DENY): S.DENIED for s in _OPEN},
    **{(s, C.WITHDRAW): S.WITHDRAWN for s in (S.ACCEPTED, S.UNDER_REVIEW, S.AWAITING_SUPPLEMENT, S.SPECIAL_PROCEDURE)},
    **{(s, C.REQUEST_REVIEW): S.UNDER_REVIEW for s in _OPEN},
    **{(s, C.LAPSE_REVIEW): s for s in (S.UNDER_REVIEW, S.AWAITING_SUPPLEMENT, S.SPECIAL_PROCEDURE)},
    (S.APPROVED, C.DELIVER): S.DELIVERED,
    (S.DENIED, C.DELIVER): S.DELIVERED,
    (S.DELIVERED, C.EVALUATE): S.EVALUATED,
    (S.NOT_ACCEPTED, C.EVALUATE): S.EVALUATED,
    # Custody moves keep the status: to the competent node after filing, up for a decision
    # (上报), back with the result (approved, denied, not accepted) to the filing node.
    **{
        (s, c): s
        for s in (
            S.FILED,
            S.ACCEPTED,
            S.UNDER_REVIEW,
            S.AWAITING_SUPPLEMENT,
            S.SPECIAL_PROCEDURE,
            S.APPROVED,
            S.DENIED,
            S.NOT_ACCEPTED,
        )
        for c in (C.OFFER_CUSTODY, C.ACCEPT_CUSTODY, C.DECLINE_CUSTODY, C.WITHDRAW_OFFER)
    },
}
del S, C
CUSTODY_COMMANDS = frozenset(
    {Command.OFFER_CUSTODY, Command.ACCEPT_CUSTODY, Command.DECLINE_CUSTODY, Command.WITHDRAW_OFFER}
)
CUSTODY_PURPOSES = ("process", "escalate", "return", "reroute", "result")

CLOSED = frozenset({Status.NOT_ACCEPTED, Status.DELIVERED, Status.WITHDRAWN, Status.EVALUATED})
CLOCK_STOPPED = frozenset({Status.AWAITING_SUPPLEMENT, Status.SPECIAL_PROCEDURE})
# Where a case can be overdue: its clock runs and it is not decided (a supplement or a special
# procedure stops the clock; a decided case waits only for delivery).
RUNNING = (Status.ACCEPTED, Status.UNDER_REVIEW)
SPECIAL_PROCEDURES = ("hearing", "testing", "expert_review", "extension", "inspection", "other")


def allowed_commands(status: Status | None) -> list[Command]:
    return [cmd for (st, cmd) in TRANSITIONS if st == status]


# --- commands: what an operator asks for; each names its table column ---------------------


@dataclass(frozen=True)
class File:
    case_no: str
    item_code: str
    handling_division: str
    filing_division: str
    channel: str = "1"
    case_type: str = "2"
    limit_days: int | None = None
    agent: str = ""
    consent: bool = False
    cited_licenses: tuple[str, ...] = ()  # licence numbers presented instead of new materials
    command: Command = Command.FILE


@dataclass(frozen=True)
class Accept:
    missing_materials: tuple[str, ...] = ()  # 容缺受理
    command: Command = Command.ACCEPT


@dataclass(frozen=True)
class Reject:
    reason: str
    command: Command = Command.REJECT


@dataclass(frozen=True)
class Review:
    command: Command = Command.REVIEW


@dataclass(frozen=True)
class RequestSupplement:
    materials: tuple[str, ...]
    reason: str = ""
    command: Command = Command.REQUEST_SUPPLEMENT


@dataclass(frozen=True)
class Supplement:
    materials: tuple[str, ...] = ()
    command: Command = Command.SUPPLEMENT


@dataclass(frozen=True)
class Suspend:
    procedure: str
    limit_days: int
    reason: str = ""
    command: Command = Command.SUSPEND


@dataclass(frozen=True)
class Resume:
    command: Command = Command.RESUME


@dataclass(frozen=True)
class Decide:
    approved: bool
    reason: str = ""
    result_ref: str = ""
    opinions: tuple[Opinion, ...] = ()  # a joint review's opinions (silence included), as the lead holds them
    responsibility: bool = False  # the lead approves over a reasoned 不同意, taking the responsibility

    @property
    def command(self) -> Command:
        return Command.DECIDE_APPROVE if self.approved else Command.DECIDE_DENY


@dataclass(frozen=True)
class Deliver:
    method: str = "window"
    command: Command = Command.DELIVER


@dataclass(frozen=True)
class Withdraw:
    reason: str = ""
    command: Command = Command.WITHDRAW


@dataclass(frozen=True)
class Evaluate:
    level: int
    channel: str = ""  # the channel it was given on; empty: the case's
    causes: tuple[str, ...] = ()  # a 差评's cause tags (node.domain.evaluation.CAUSES)
    scores: tuple[tuple[str, int], ...] = ()  # the channel's sub-indicators, sorted by name
    command: Command = Command.EVALUATE


@dataclass(frozen=True)
class OfferCustody:
    """The custodian offers the case to `to` (an addressed entry); nobody changes the case until
    `to` answers."""

    to: str
    purpose: str = "process"  # one of CUSTODY_PURPOSES
    reason: str = ""
    answer_by: str = ""  # ISO date: `to` answers by then; afterwards the offering node may withdraw
    command: Command = Command.OFFER_CUSTODY


@dataclass(frozen=True)
class AcceptCustody:
    by: str  # the node the offer named: from now on the custodian
    command: Command = Command.ACCEPT_CUSTODY


@dataclass(frozen=True)
class DeclineCustody:
    by: str
    reason: str
    command: Command = Command.DECLINE_CUSTODY


@dataclass(frozen=True)
class WithdrawOffer:
    """The custodian withdraws an offer nobody answered in time (or that could not be
    delivered: a dead letter); the case stays with it."""

    to: str  # the node the offer named
    reason: str = ""
    command: Command = Command.WITHDRAW_OFFER


@dataclass(frozen=True)
class RequestReview:
    """The lead opens the case's joint review: each request names a department at a node and
    the last day it may answer (node.domain.joint_review.requests_for)."""

    requests: tuple[Request, ...]
    mode: Mode = Mode.ALL
    command: Command = Command.REQUEST_REVIEW


@dataclass(frozen=True)
class LapseReview:
    """The lead records that a reviewer did not answer by its due date: its silence counts as
    the plan says."""

    node: str
    department: str
    command: Command = Command.LAPSE_REVIEW


CaseCommand = (
    File
    | Accept
    | Reject
    | Review
    | RequestSupplement
    | Supplement
    | Suspend
    | Resume
    | Decide
    | Deliver
    | Withdraw
    | Evaluate
    | OfferCustody
    | AcceptCustody
    | DeclineCustody
    | WithdrawOffer
    | RequestReview
    | LapseReview
)


class CaseState(NamedTuple):
    """Everything the rules need to know about one case; outline fields only.

    A NamedTuple rather than a frozen dataclass: just as immutable, and built and copied
    (`_replace`) several times faster, which matters on the bulk path (one per command)."""

    case_no: str
    item_code: str
    status: Status
    handling_division: str
    filing_division: str
    custodian: str
    channel: str
    case_type: str
    limit_days: int | None
    filed_at: dt.datetime
    agent: str = ""
    accepted_at: dt.datetime | None = None
    decided_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    missing_materials: tuple[str, ...] = ()
    requested_materials: tuple[str, ...] = ()
    stops: tuple[ClockStop, ...] = ()
    approved: bool | None = None
    evaluation: int | None = None
    offered_to: str = ""  # an open custody offer: nobody changes the case until it is answered
    version: int = 1  # changes so far, filing included: entries of one case from several
    # writers (custody moves) are applied in this order wherever they arrive
    offer_answer_by: str = ""  # the open offer's answer date (ISO): answers up to it, withdrawal after
    review: JointReview | None = None  # the joint review the lead opened (并联审批)

    @property
    def closed(self) -> bool:
        return self.status in CLOSED


def check_writer(state: CaseState | None, cmd: CaseCommand, writer: str) -> None:
    """Exactly one node writes a case: its custodian; the answer to an offer comes from the
    node it was offered to. Raises NotCustodian for any other writer."""
    if state is None:
        expected = cmd.filing_division if isinstance(cmd, File) else ""
        case_no = cmd.case_no if isinstance(cmd, File) else "?"
    elif cmd.command in (Command.ACCEPT_CUSTODY, Command.DECLINE_CUSTODY):
        expected, case_no = state.offered_to or state.custodian, state.case_no  # no offer open: as any change
    else:
        expected, case_no = state.custodian, state.case_no
    if writer != expected:
        raise NotCustodian(case_no, expected or "nobody", writer)


def _is_code(text: str) -> bool:
    return len(text) == 12 and text.isdigit()


def _is_date(text: str) -> bool:
    try:
        return dt.date.fromisoformat(text).isoformat() == text
    except ValueError:
        return False


def _require(cond: bool, field: str, reason: str) -> None:
    if not cond:
        raise InvalidInput(field, reason)


def _consistent(cond: bool, field: str, reason: str) -> None:
    """A rule between the command's data and the case as it stands."""
    if not cond:
        raise CaseConflict(field, reason)


def _close_stop(stops: tuple[ClockStop, ...], day: dt.date) -> tuple[ClockStop, ...]:
    return tuple(replace(s, end=day) if s.end is None else s for s in stops)


def apply(state: CaseState | None, cmd: CaseCommand, at: dt.datetime) -> CaseState:
    """The case after `cmd` at time `at`; raises and changes nothing when not allowed. Field
    bounds (node.domain.bounds.check_command) are the writer's to check before it writes: an
    entry already in a log replays as it was written, whatever the bounds of today."""
    status = state.status if state is not None else None
    target = TRANSITIONS.get((status, cmd.command))
    if target is None:
        case_no = state.case_no if state is not None else getattr(cmd, "case_no", "?")
        raise IllegalTransition(
            case_no,
            status.value if status is not None else "not filed",
            cmd.command.value,
            [c.value for c in allowed_commands(status)],
        )
    if isinstance(cmd, File):
        _require(bool(cmd.case_no.strip()), "case_no", "is empty")
        _require(not cmd.agent or cmd.consent, "consent", "an errand filed by an agent needs the resident's consent")
        return CaseState(
            case_no=cmd.case_no,
            item_code=cmd.item_code,
            status=target,
            handling_division=cmd.handling_division,
            filing_division=cmd.filing_division,
            custodian=cmd.filing_division,
            channel=cmd.channel,
            case_type=cmd.case_type,
            limit_days=cmd.limit_days,
            filed_at=at,
            agent=cmd.agent,
        )
    assert state is not None  # the table has only FILE for "not filed"
    _consistent(at >= state.filed_at, "at", "a case cannot change before it was filed")
    answering = cmd.command in (Command.ACCEPT_CUSTODY, Command.DECLINE_CUSTODY, Command.WITHDRAW_OFFER)
    if state.offered_to and not answering:
        raise IllegalTransition(
            state.case_no,
            f"offered to {state.offered_to}",
            cmd.command.value,
            [Command.ACCEPT_CUSTODY.value, Command.DECLINE_CUSTODY.value, Command.WITHDRAW_OFFER.value],
        )
    if isinstance(cmd, OfferCustody) and state.review is not None and state.decided_at is None:
        raise CaseConflict("to", f"case {state.case_no} is under joint review; custody moves after the decision")
    return state._replace(status=target, version=state.version + 1, **_changes(state, cmd, at))


def _changes(state: CaseState, cmd: CaseCommand, at: dt.datetime) -> dict[str, Any]:
    """The fields a command changes besides the status; raises when its data is not allowed."""
    if isinstance(cmd, Accept):
        _require(len(set(cmd.missing_materials)) == len(cmd.missing_materials), "missing", "a material is listed twice")
        return {"accepted_at": at, "missing_materials": cmd.missing_materials}
    if isinstance(cmd, Reject):
        _require(bool(cmd.reason.strip()), "reason", "a case not accepted needs a reason (一次性告知)")
        return {"closed_at": at}
    if isinstance(cmd, RequestSupplement):
        _require(bool(cmd.materials), "materials", "name the materials to supplement")
        stop = ClockStop("supplement", local_date(at))
        return {"requested_materials": cmd.materials, "stops": (*state.stops, stop)}
    if isinstance(cmd, Supplement):
        remaining = tuple(m for m in state.missing_materials if m not in cmd.materials)
        if state.status == Status.AWAITING_SUPPLEMENT:
            stops = _close_stop(state.stops, local_date(at))
            return {"requested_materials": (), "stops": stops, "missing_materials": remaining}
        _require(bool(cmd.materials), "materials", "name the 容缺 materials handed in")
        unknown = [m for m in cmd.materials if m not in state.missing_materials]
        _consistent(not unknown, "materials", f"not outstanding on this case: {', '.join(unknown)}")
        return {"missing_materials": remaining}
    if isinstance(cmd, Suspend):
        _require(cmd.procedure in SPECIAL_PROCEDURES, "procedure", f"one of {', '.join(SPECIAL_PROCEDURES)}")
        _require(
            1 <= cmd.limit_days <= 366, "limit_days", "a special procedure needs its own limit of 1..366 working days"
        )
        return {"stops": (*state.stops, ClockStop(cmd.procedure, local_date(at), None, cmd.limit_days))}
    if isinstance(cmd, Resume):
        return {"stops": _close_stop(state.stops, local_date(at))}
    if isinstance(cmd, Decide):
        _check_joint(state, cmd, local_date(at))
        if cmd.approved:
            _consistent(
                not state.missing_materials,
                "missing",
                f"容缺 materials still outstanding: {', '.join(state.missing_materials)}; "
                "record them with supplement first",
            )
        else:
            _require(bool(cmd.reason.strip()), "reason", "a denial needs a reason")
        return {"decided_at": at, "approved": cmd.approved}
    if isinstance(cmd, Withdraw):
        return {"closed_at": at, "stops": _close_stop(state.stops, local_date(at))}
    if isinstance(cmd, Deliver):
        return {"closed_at": at}
    if isinstance(cmd, Evaluate):
        _require(cmd.level in SATISFACTION, "level", "1 (非常满意) .. 5 (非常不满意)")
        check_evaluation(cmd.level, cmd.causes, dict(cmd.scores), cmd.channel or state.channel)
        return {"evaluation": cmd.level}
    if isinstance(cmd, OfferCustody):
        _require(cmd.purpose in CUSTODY_PURPOSES, "purpose", f"one of {', '.join(CUSTODY_PURPOSES)}")
        _require(_is_code(cmd.to), "to", "is not a 12-digit division code")
        _require(not cmd.answer_by or _is_date(cmd.answer_by), "answer_by", "is not a date YYYY-MM-DD")
        _consistent(cmd.to != state.custodian, "to", "the case is in that node's custody already")
        return {"offered_to": cmd.to, "offer_answer_by": cmd.answer_by}
    if isinstance(cmd, AcceptCustody | DeclineCustody):
        if not state.offered_to:
            raise IllegalTransition(state.case_no, "not offered", cmd.command.value, [Command.OFFER_CUSTODY.value])
        _consistent(cmd.by == state.offered_to, "by", f"the offer is open to {state.offered_to}, not {cmd.by}")
        if isinstance(cmd, DeclineCustody):
            _require(bool(cmd.reason.strip()), "reason", "a declined case goes back with a reason")
            return {"offered_to": "", "offer_answer_by": ""}
        return {"offered_to": "", "offer_answer_by": "", "custodian": cmd.by}
    if isinstance(cmd, WithdrawOffer):
        if not state.offered_to:
            raise IllegalTransition(state.case_no, "not offered", cmd.command.value, [Command.OFFER_CUSTODY.value])
        _consistent(cmd.to == state.offered_to, "to", f"the offer is open to {state.offered_to}, not {cmd.to}")
        return {"offered_to": "", "offer_answer_by": ""}
    if isinstance(cmd, RequestReview):
        check_requests(cmd.requests)
        _consistent(state.review is None, "review", f"case {state.case_no} has its joint review already")
        _consistent(
            all(q.due >= local_date(at).isoformat() for q in cmd.requests), "due", "a reviewer's due date has passed"
        )
        return {"review": JointReview(cmd.mode, cmd.requests)}
    if isinstance(cmd, LapseReview):
        _consistent(state.review is not None, "review", f"case {state.case_no} has no joint review")
        assert state.review is not None
        check_lapse(state.review, cmd.node, cmd.department, local_date(at), state.case_no)
        return {"review": replace(state.review, lapsed=(*state.review.lapsed, (cmd.node, cmd.department)))}
    return {}  # Review: status only


def _check_joint(state: CaseState, cmd: Decide, day: dt.date) -> None:
    """A decision carries the opinions of the case's joint review, and only then."""
    if state.review is None:
        _consistent(not cmd.opinions and not cmd.responsibility, "opinions", "the case has no joint review")
        return
    review = state.review
    check_decision(state.case_no, review.mode, review.requests, cmd.opinions, cmd.approved, cmd.responsibility)
    check_carried(state.review, cmd.opinions, day, state.case_no)
