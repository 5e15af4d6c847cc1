"""Storage functions for the window's work queues and the record of reveals (issue 12): a
node's cases by status, soonest due first (index ix_cases_queue), the offers made to it, a
village agent's errands, and who saw an applicant in full. Mixed into node.store.repo.Tx."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, insert, select

from node.store.base import TxBase
from node.store.cases import StoredCase, case_from_row
from node.store.tables import CASES, REVEALS


@dataclass(frozen=True)
class Reveal:
    at_us: int
    actor: str
    case_no: str
    what: str
    via: str


class QueuesTx(TxBase):
    def queue(
        self,
        custodian: str,
        statuses: Sequence[str],
        limit: int,
        offset: int = 0,
        due_before: str = "",
        agent: str = "",
    ) -> list[StoredCase]:
        """Cases `custodian` holds in `statuses` and has not offered on, soonest due first, then
        those without a due date by filing time; `due_before`: only those due before that day
        (overdue); `agent`: only that agent's errands. Two index range scans (ix_cases_queue):
        the dated cases, then the undated ones past them."""
        c = CASES.c
        held = [c.custodian == custodian, c.status.in_(list(statuses)), c.offered_to == ""]
        if agent:
            held.append(c.agent == agent)
        dated = [*held, c.due_date > ""] + ([c.due_date < due_before] if due_before else [])
        order = (c.due_date, c.filed_at_us, c.case_no)
        rows = self._stored(select(CASES).where(*dated).order_by(*order).limit(limit).offset(offset))
        if len(rows) == limit or due_before:
            return rows
        skipped = offset - self.conn.execute(select(func.count()).where(*dated)).scalar_one() if not rows else 0
        undated = select(CASES).where(*held, c.due_date == "").order_by(c.filed_at_us, c.case_no)
        return rows + self._stored(undated.limit(limit - len(rows)).offset(max(0, skipped)))

    def offers_to(self, code: str, limit: int, offset: int = 0) -> list[StoredCase]:
        """Cases offered to `code` and not yet answered, oldest filing first."""
        c = CASES.c
        q = select(CASES).where(c.offered_to == code).order_by(c.filed_at_us, c.case_no)
        return self._stored(q.limit(limit).offset(offset))

    def errands_of(self, agent: str, filing: str, limit: int, offset: int = 0) -> list[StoredCase]:
        """The errands `agent` filed at `filing`, wherever they are now, the newest first."""
        c = CASES.c
        q = select(CASES).where(c.agent == agent, c.filing_division == filing)
        return self._stored(q.order_by(c.filed_at_us.desc(), c.case_no).limit(limit).offset(offset))

    def queue_sizes(self, custodian: str, statuses: Sequence[str]) -> tuple[dict[str, int], int]:
        """Cases `custodian` holds in `statuses` by status (not offered on), and how many cases
        are offered to it: index-only counts (ix_cases_queue, ix_cases_offered_to)."""
        c = CASES.c
        held = (c.custodian == custodian, c.status.in_(list(statuses)), c.offered_to == "")
        rows = self.conn.execute(select(c.status, func.count()).where(*held).group_by(c.status)).all()
        offers = self.conn.execute(select(func.count()).where(c.offered_to == custodian)).scalar_one()
        return {str(r[0]): int(r[1]) for r in rows}, int(offers)

    def overdue_count(self, custodian: str, statuses: Sequence[str], due_before: str) -> int:
        """Cases `custodian` holds in `statuses`, not offered on, due before `due_before`."""
        c = CASES.c
        where = (c.custodian == custodian, c.status.in_(list(statuses)), c.offered_to == "")
        q = select(func.count()).where(*where, c.due_date > "", c.due_date < due_before)
        return int(self.conn.execute(q).scalar_one())

    def _stored(self, q: Select[Any]) -> list[StoredCase]:
        return [StoredCase(case_from_row(r), r.due_date, bool(r.due_provisional)) for r in self.conn.execute(q)]

    # -- reveals ----------------------------------------------------------------------------

    def record_reveal(self, reveal: Reveal) -> None:
        self.conn.execute(
            insert(REVEALS).values(
                at_us=reveal.at_us, actor=reveal.actor, case_no=reveal.case_no, what=reveal.what, via=reveal.via
            )
        )

    def reveals(self, case_no: str = "", limit: int = 100) -> list[Reveal]:
        """The latest reveals, of one case or of all, the newest first."""
        q = select(REVEALS).order_by(REVEALS.c.id.desc()).limit(limit)
        if case_no:
            q = q.where(REVEALS.c.case_no == case_no)
        return [Reveal(r.at_us, r.actor, r.case_no, r.what, r.via) for r in self.conn.execute(q)]
