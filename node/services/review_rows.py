"""Joint-review rows (issue 14, docs/joint-review.md): the `joint_reviews` table at every node
that holds a case's review request, written only through node.services.projection.

The lead's `case_review_requested` entry opens one row per reviewer wherever it is applied: at
the lead, at the nodes that hold the case (the filing node, the tiers above) and, as an
addressed copy, at a reviewer's node that never held the case. A reviewer's `review_opinion`
entry fills its row in where the request is held; one that does not answer an open request
(never asked, answered already, past its due date, after the decision) is refused. The lead's
`case_review_lapsed` records a silence; its decision closes the rows and fills in, from the
opinions it carries, the answers a node had not received itself (the filing node's timeline).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import TYPE_CHECKING

from federation.wire.codec_cases import CaseRecord, opinion_from_body
from node.domain.calendar import WorkCalendar
from node.domain.entries import Entry, Kind
from node.domain.errors import CaseConflict, InvalidInput
from node.domain.joint_review import (
    JointReview,
    Mode,
    Opinion,
    Request,
    Verdict,
    check_carried,
    check_decision,
    check_lapse,
    check_opinion,
    check_requests,
    default_opinion,
)
from node.domain.lifecycle import CaseState, Decide, LapseReview, RequestReview, Withdraw
from node.domain.timelimits import local_date, working_days_between
from node.services.ports import micros
from node.store.tables import JointReviewRow

if TYPE_CHECKING:
    from node.store import Tx

REVIEW_COMMANDS = (RequestReview, LapseReview, Decide, Withdraw)


def _days(calendar: WorkCalendar, lead: str, start_us: int, end: dt.date) -> int:
    start = local_date(dt.datetime.fromtimestamp(start_us / 1_000_000, tz=dt.UTC))
    return working_days_between(calendar.for_division(lead), start, end)


def on_change(
    tx: Tx, me: str, rec: CaseRecord, state: CaseState | None, calendar: WorkCalendar, item_filing: tuple[str, str]
) -> bool:
    """Rows after a case change of a joint review: `state` is the case after it where this node
    applied it, None where it holds only the review (a reviewer's node, or one whose copy of
    the case is behind); `item_filing`: the case's item and filing division. The lead's record
    wins: a lapse and a decision set the rows to what they say, whatever arrived before, so
    every node ends with the same rows in any order of arrival. Returns False when a lapse,
    decision or withdrawal finds no request here yet (it waits for it); raises CaseConflict
    or InvalidInput when, without the case, the change breaks a rule of the review."""
    cmd, at_us = rec.command, micros(rec.at)
    if isinstance(cmd, RequestReview):
        if state is None:
            check_requests(cmd.requests)
        item, filing = item_filing
        asked = [
            {
                "case_no": rec.case_no,
                "node": q.node,
                "department": q.department,
                "name": q.name,
                "lead": rec.writer,
                "item_code": item,
                "filing_division": filing,
                "mode": cmd.mode.value,
                "due": q.due,
                "silence": q.silence.value,
                "requested_at_us": at_us,
            }
            for q in cmd.requests
        ]
        if tx.put_review_requests(asked):
            _held_opinions(tx, me, rec.case_no, calendar)
        return True
    rows = {(r.node, r.department): r for r in tx.joint_review(rec.case_no)}
    if not rows:
        return state is not None  # the case has no review, or the request has not come yet
    if state is None:
        _check_without_case(rec, list(rows.values()))
    if isinstance(cmd, LapseReview):
        row = rows.get((cmd.node, cmd.department))
        if row is not None:
            silence = default_opinion(request_of_row(row), at_us)
            _record(tx, row, silence, calendar, dt.date.fromisoformat(row.due))
    elif isinstance(cmd, Decide):
        for o in cmd.opinions:
            row = rows.get(o.key)
            if row is not None:
                answered = dt.date.fromisoformat(row.due) if o.by_default else _day(o.at_us)
                _record(tx, row, o, calendar, answered)
        tx.close_joint_review(rec.case_no, at_us)
    elif isinstance(cmd, Withdraw):
        tx.close_joint_review(rec.case_no, at_us)
    return True


def _check_without_case(rec: CaseRecord, rows: list[JointReviewRow]) -> None:
    """At a node that holds the review but not the case: the change comes from the lead and
    keeps the review's rules (where the case is held, the lifecycle checks the same)."""
    cmd, lead = rec.command, rows[0].lead
    if rec.writer != lead:
        raise CaseConflict("writer", f"the joint review of case {rec.case_no} is led by {lead}, not {rec.writer}")
    review = JointReview(
        Mode(rows[0].mode),
        tuple(request_of_row(r) for r in rows),
        tuple((r.node, r.department) for r in rows if r.by_default),
    )
    day = local_date(rec.at)
    if isinstance(cmd, LapseReview):
        check_lapse(review, cmd.node, cmd.department, day, rec.case_no)
    elif isinstance(cmd, Decide):
        check_decision(rec.case_no, review.mode, review.requests, cmd.opinions, cmd.approved, cmd.responsibility)
        check_carried(review, cmd.opinions, day, rec.case_no)


def request_of_row(row: JointReviewRow) -> Request:
    return Request(row.node, row.department, row.name, row.due, Verdict(row.silence))


def opinion_of_row(row: JointReviewRow) -> Opinion:
    """The opinion (or recorded silence) a row holds."""
    return Opinion(
        row.node,
        row.department,
        Verdict(row.verdict),
        row.reasons,
        row.forward_to,
        row.answered_at_us or 0,
        row.by_default,
        bytes(row.opinion_hash),
    )


def _day(at_us: int) -> dt.date:
    return local_date(dt.datetime.fromtimestamp(at_us / 1_000_000, tz=dt.UTC))


def _record(
    tx: Tx, row: JointReviewRow, o: Opinion, calendar: WorkCalendar, answered: dt.date, overwrite: bool = True
) -> bool:
    """Fill in a row of a review not closed; `overwrite`: also one answered already (the
    lead's lapse and decision do; an opinion fills only an open request)."""
    return tx.record_opinion(
        row.case_no,
        row.node,
        row.department,
        verdict=o.verdict.value,
        reasons=o.reasons,
        forward_to=o.forward_to,
        by_default=o.by_default,
        answered_at_us=o.at_us,
        working_days=_days(calendar, row.lead, row.requested_at_us, answered),
        opinion_hash=o.entry_hash,
        overwrite=overwrite,
    )


def on_opinion(tx: Tx, me: str, e: Entry, calendar: WorkCalendar) -> str | None:
    """Fill in the request a `review_opinion` entry answers; why not, when it answers none that
    is open here. A node that does not hold the case's review yet (the request comes another
    way) keeps the entry for when it does; the lead holds every request it made."""
    o, case_no, lead = opinion_from_body(e.origin, e.hash, e.body)
    o = replace(o, reasons=o.reasons.strip(), forward_to=o.forward_to.strip())
    rows = {(r.node, r.department): r for r in tx.joint_review(case_no)}
    if not rows:
        return f"case {case_no} has asked nobody for an opinion" if lead == me else None
    row = rows.get(o.key)
    if row is None:
        return f"case {case_no} has not asked department {o.department} at {o.node} for an opinion"
    if row.lead != lead:
        return f"the opinion names {lead} as the lead; {row.lead} asked"
    if bytes(row.opinion_hash) == e.hash:
        return None  # recorded already, from the decision that carries it
    if row.decided_at_us is not None:
        return f"the joint review of case {case_no} is closed (decided or withdrawn)"
    if row.verdict:
        return f"department {o.department} at {o.node} has answered on case {case_no} already"
    answered = _day(o.at_us)
    if answered > dt.date.fromisoformat(row.due):
        return f"the opinion on case {case_no} was due by {row.due}"
    try:
        check_opinion(o.verdict, o.reasons, o.forward_to)
    except InvalidInput as exc:
        if not (o.verdict == Verdict.DISAGREE and exc.field == "reasons"):  # counts as agreement
            return str(exc)
    _record(tx, row, o, calendar, answered, overwrite=False)
    return None


def _held_opinions(tx: Tx, me: str, case_no: str, calendar: WorkCalendar) -> None:
    """Opinions this node's log holds on a case whose request it only now received (the
    reviewer's stream came first)."""
    for e in tx.entries_about(case_no):
        if e.kind == Kind.REVIEW_OPINION:
            on_opinion(tx, me, e, calendar)
