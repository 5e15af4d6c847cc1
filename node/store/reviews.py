"""Storage functions of joint reviews (并联审批, issue 14): the reviewers a case's lead asked,
their opinions or recorded silence, and the queue of requests a node has not answered. A
derived table, written only through node.services.projection. Mixed into node.store.repo.Tx."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, insert, or_, select, update

from node.store.base import TxBase
from node.store.tables import JOINT_REVIEWS, JointReviewRow, ReviewerFigures

_OPEN = and_(JOINT_REVIEWS.c.verdict == "", JOINT_REVIEWS.c.decided_at_us.is_(None))
# An any-sign (或签) review with an agreement: complete, the other requests lapse (a 不同意
# without reasons counts as agreement; silence read as 不同意 does not).
_AGREED = JOINT_REVIEWS.alias("agreed")
_SETTLED = and_(
    JOINT_REVIEWS.c.mode == "any",
    exists().where(
        _AGREED.c.case_no == JOINT_REVIEWS.c.case_no,
        or_(
            _AGREED.c.verdict.in_(("agree", "agree_forward")),
            and_(_AGREED.c.verdict == "disagree", _AGREED.c.reasons == "", _AGREED.c.by_default.is_(False)),
        ),
    ),
)


def _row(r: Sequence[object]) -> JointReviewRow:
    return JointReviewRow(**dict[str, Any](zip(JOINT_REVIEWS.c.keys(), r, strict=True)))


class ReviewsTx(TxBase):
    def put_review_requests(self, rows: Sequence[Mapping[str, object]]) -> int:
        """Keep the requests not held yet (a request reaches a node by several paths); how many
        were new."""
        c = JOINT_REVIEWS.c
        cases = list({row["case_no"] for row in rows})
        found = self.conn.execute(select(c.case_no, c.node, c.department).where(c.case_no.in_(cases))).all()
        held = {(r.case_no, r.node, r.department) for r in found}
        new = [
            {**row, "verdict": "", "reasons": "", "forward_to": "", "by_default": False, "opinion_hash": b""}
            for row in rows
            if (row["case_no"], row["node"], row["department"]) not in held
        ]
        if new:
            self.conn.execute(insert(JOINT_REVIEWS), new)
        return len(new)

    def joint_review(self, case_no: str) -> list[JointReviewRow]:
        """Every reviewer asked about a case (by request, node and department)."""
        c = JOINT_REVIEWS.c
        q = select(JOINT_REVIEWS).where(c.case_no == case_no).order_by(c.requested_at_us, c.node, c.department)
        rows = self.conn.execute(q).all()
        return [_row(r) for r in rows]

    def record_opinion(
        self,
        case_no: str,
        node: str,
        department: str,
        *,
        verdict: str,
        reasons: str,
        forward_to: str,
        by_default: bool,
        answered_at_us: int,
        working_days: int | None,
        opinion_hash: bytes,
        overwrite: bool = False,
    ) -> bool:
        """Fill in an open request's answer (`overwrite`: also one answered already, on a
        review not closed); False when there is none to fill."""
        c = JOINT_REVIEWS.c
        fillable = c.decided_at_us.is_(None) if overwrite else _OPEN
        done = self.conn.execute(
            update(JOINT_REVIEWS)
            .where(c.case_no == case_no, c.node == node, c.department == department, fillable)
            .values(
                verdict=verdict,
                reasons=reasons,
                forward_to=forward_to,
                by_default=by_default,
                answered_at_us=answered_at_us,
                working_days=working_days,
                opinion_hash=opinion_hash,
            )
        )
        return bool(done.rowcount)

    def close_joint_review(self, case_no: str, decided_at_us: int) -> None:
        c = JOINT_REVIEWS.c
        self.conn.execute(
            update(JOINT_REVIEWS)
            .where(c.case_no == case_no, c.decided_at_us.is_(None))
            .values(decided_at_us=decided_at_us)
        )

    def review_queue(self, node: str, limit: int = 100) -> list[JointReviewRow]:
        """The requests `node`'s departments have not answered on cases not yet decided (nor
        settled by an any-sign agreement), soonest due first."""
        c = JOINT_REVIEWS.c
        q = (
            select(JOINT_REVIEWS)
            .where(c.node == node, _OPEN, ~_SETTLED)
            .order_by(c.due, c.case_no, c.department)
            .limit(limit)
        )
        return [_row(r) for r in self.conn.execute(q).all()]

    def silent_reviewers(self, lead: str, before: str) -> list[JointReviewRow]:
        """Requests `lead` made that are still open after their due date (`before`: the first
        day silence may be recorded, ISO), on reviews an any-sign agreement has not settled:
        the reviewers whose silence the lead records."""
        c = JOINT_REVIEWS.c
        q = select(JOINT_REVIEWS).where(c.lead == lead, _OPEN, ~_SETTLED, c.due < before).order_by(c.due, c.case_no)
        return [_row(r) for r in self.conn.execute(q).all()]

    def reviewer_figures(self, prefix: str, start_us: int, end_us: int) -> list[ReviewerFigures]:
        """Per co-reviewer (node, department) within the subtree of `prefix`: the requests made
        in [start_us, end_us) and how they were answered, with the working days taken."""
        c = JOINT_REVIEWS.c
        answered = and_(c.verdict != "", c.by_default.is_(False))

        def count(cond: ColumnElement[bool]) -> ColumnElement[int]:
            return func.sum(case((cond, 1), else_=0))

        q = (
            select(
                c.node,
                c.department,
                func.max(c.name),
                func.count(),
                count(answered),
                count(c.by_default.is_(True)),
                count(and_(answered, c.verdict == "disagree")),
                count(and_(answered, c.verdict == "agree_forward")),
                func.coalesce(func.sum(c.working_days), 0),
                func.coalesce(func.max(c.working_days), 0),
                count(c.working_days.is_not(None)),
            )
            .where(c.node.startswith(prefix), c.requested_at_us >= start_us, c.requested_at_us < end_us)
            .group_by(c.node, c.department)
            .order_by(c.node, c.department)
        )
        return [ReviewerFigures(*(r[:3]), *(int(v or 0) for v in r[3:])) for r in self.conn.execute(q).all()]
