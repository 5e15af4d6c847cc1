"""Joint review use cases (并联审批 / 纵横联审, issue 14, docs/joint-review.md): open a case's
review as its lead, answer a request as a reviewer's node, record the silence of reviewers past
their due date, and show the review of a case and the queue of requests a node has not answered.

The lead's steps are case changes (node.services.cases: the lead stays the only writer of the
case). An opinion is the reviewer's own `review_opinion` entry, in its node's `case` stream,
signed and addressed to the lead unless the lead holds that stream already (an ancestor).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from federation.wire.codec_cases import opinion_body
from node import logs
from node.bell import Bell
from node.domain.bounds import check
from node.domain.divisions import DivisionCode
from node.domain.entries import Kind, Stream
from node.domain.errors import InvalidInput, NotFound, OperatorError
from node.domain.identifiers import validate_credit_code
from node.domain.joint_review import Opinion, Verdict, check_answer, check_opinion
from node.domain.lifecycle import CaseState, LapseReview, RequestReview
from node.domain.timelimits import CHINA_TZ, local_date
from node.journal import Journal, Record
from node.services.cases import CaseService
from node.services.ports import Addresser, Clock, micros
from node.services.projection import Projection, ProjectionRefused
from node.services.review_rows import opinion_of_row, request_of_row
from node.store import Store, Tx
from node.store.tables import JointReviewRow, ReviewerFigures


def silent_held(tx: Tx, me: str, today: dt.date) -> list[JointReviewRow]:
    """The reviewers silent past their due date on the open reviews of cases `me` holds."""
    silent = tx.silent_reviewers(me, today.isoformat())
    held = {no for no, s in tx.cases({r.case_no for r in silent}).items() if s.custodian == me}
    return [r for r in silent if r.case_no in held]


def record_silences(cases: CaseService, rows: list[JointReviewRow], actor: str, log: Any) -> list[JointReviewRow]:
    """Record the silence of `rows` (from silent_held), case by case: a case refused (moved
    on meanwhile) does not hold up the others. Returns the rows recorded."""
    by_case: dict[str, list[JointReviewRow]] = {}
    for r in rows:
        by_case.setdefault(r.case_no, []).append(r)
    done = []
    for case_no, silent in by_case.items():
        try:
            cases.act_many([(case_no, LapseReview(r.node, r.department)) for r in silent], actor)
        except OperatorError as exc:
            log.warning("review_lapse_refused", case=case_no, error=type(exc).__name__)
            continue
        done += silent
    return done


class JointReviewService:
    def __init__(
        self,
        me: DivisionCode,
        store: Store,
        journal: Journal,
        projection: Projection,
        clock: Clock,
        cases: CaseService,
        outbox: Addresser,
        bell: Bell,
    ) -> None:
        self.me, self.store, self.journal, self.projection, self.clock = me, store, journal, projection, clock
        self.cases, self.outbox, self.bell = cases, outbox, bell
        self.log = logs.get("joint_review")

    def request(self, case_no: str, actor: str) -> CaseState:
        """Open the case's joint review as its plan says (this node must hold the case)."""
        return self.cases.act(case_no, RequestReview(()), actor)

    def answer(
        self, case_no: str, department: str, verdict: Verdict, reasons: str, forward_to: str, actor: str
    ) -> Opinion:
        """Record `department`'s opinion at this node on a request it was sent, and send it to
        the lead; raises and writes nothing when the request is not open to it."""
        check("actor", actor)
        dept = validate_credit_code(department, "department").value
        reasons, forward_to = reasons.strip(), forward_to.strip()
        check_opinion(verdict, reasons, forward_to)
        now = self.clock()
        now_us = micros(now)
        with self.store.transaction() as tx:
            tail = self.journal.lock(tx, Stream.CASE)
            rows = tx.joint_review(case_no)
            if not rows:
                raise NotFound("joint review of case", case_no)
            requests = [request_of_row(r) for r in rows]
            opinions = [opinion_of_row(r) for r in rows if r.verdict]
            decided = any(r.decided_at_us is not None for r in rows)
            check_answer(requests, opinions, self.me.code, dept, local_date(now), decided, case_no)
            lead = rows[0].lead
            opinion = Opinion(self.me.code, dept, verdict, reasons, forward_to, now_us)
            record = Record(Kind.REVIEW_OPINION, case_no, opinion_body(case_no, lead, opinion, actor))
            (entry,) = self.journal.append(tx, Stream.CASE, [record], now_us, tail)
            sent = lead != self.me.code and not DivisionCode(lead).is_ancestor_of(self.me)
            if sent:
                self.outbox.address(tx, [(entry, lead)], self.outbox.chain_der(), now_us)
            refused = self.projection.apply(tx, [entry]).refused
            if refused:  # checked above: a rule the two checks disagree on
                raise ProjectionRefused(*refused[0])
        if sent:
            self.bell.ring()
        self.log.info("review_opinion", case_no=case_no, lead=lead, verdict=verdict.value, node=self.me.code)
        return replace(opinion, entry_hash=entry.hash)

    def lapse_due(self, actor: str) -> list[JointReviewRow]:
        """Record the silence of every reviewer of this node's open reviews past its due date;
        returns the rows whose silence it recorded."""
        with self.store.read() as tx:
            silent = silent_held(tx, self.me.code, local_date(self.clock()))
        return record_silences(self.cases, silent, actor, self.log)

    def show(self, case_no: str) -> list[JointReviewRow]:
        with self.store.read() as tx:
            rows = tx.joint_review(case_no)
        if not rows:
            raise NotFound("joint review of case", case_no)
        return rows

    def figures(self, division: str, first: dt.date, last: dt.date) -> list[ReviewerFigures]:
        """Per co-reviewer of the subtree of `division` (this node's by default): the requests
        made from `first` to `last` (China time) and how they were answered."""
        code = DivisionCode.parse(division, "division") if division else self.me
        if not self.me.contains(code):
            raise InvalidInput("division", f"{code} is outside this node's subtree {self.me}")
        start, end = (micros(dt.datetime.combine(d, dt.time(), CHINA_TZ)) for d in (first, last + dt.timedelta(days=1)))
        with self.store.read() as tx:
            return tx.reviewer_figures(code.prefix, start, end)

    def queue(self, limit: int = 100) -> list[JointReviewRow]:
        """The requests this node's departments have not answered, soonest due first."""
        with self.store.read() as tx:
            return tx.review_queue(self.me.code, limit)
