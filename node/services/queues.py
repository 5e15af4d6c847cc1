"""The window's work queues (issue 12, DESIGN.md section 13): a node's cases by the step they
wait for, soonest due first, the offers made to it, and a village agent's errands; what the
county workbench and the agent page list. Each row is a CaseView (due date, working days used
and left, warning level), so every console shows time limits as the CLI does."""

from __future__ import annotations

from dataclasses import dataclass

from node.domain.bounds import check
from node.domain.errors import InvalidInput
from node.domain.lifecycle import RUNNING
from node.domain.queues import STATUSES, Queue
from node.domain.timelimits import local_date
from node.services.cases import CaseService, CaseView
from node.services.ports import Clock
from node.store import Store

PER_PAGE = 50
MAX_PAGE = 1000


@dataclass(frozen=True)
class Sizes:
    """How many cases wait in each queue, and how many of the held ones are overdue."""

    by_queue: dict[Queue, int]
    overdue: int


@dataclass(frozen=True)
class QueuePage:
    queue: Queue
    page: int
    overdue_only: bool
    views: list[CaseView]
    more: bool


class WorkQueues:
    def __init__(self, me: str, store: Store, cases: CaseService, clock: Clock) -> None:
        self.me, self.store, self.cases, self.clock = me, store, cases, clock

    def sizes(self) -> Sizes:
        today = local_date(self.clock()).isoformat()
        with self.store.read() as tx:
            by_status, offers = tx.queue_sizes(self.me, [s for ss in STATUSES.values() for s in ss])
            overdue = tx.overdue_count(self.me, RUNNING, today)
        by_queue = {q: sum(by_status.get(s.value, 0) for s in statuses) for q, statuses in STATUSES.items()}
        return Sizes({**by_queue, Queue.OFFERS: offers}, overdue)

    def page(self, queue: str, page: int = 1, overdue_only: bool = False) -> QueuePage:
        """One page of a queue; `overdue_only`: the held cases past their due date whose clock runs."""
        chosen = _queue(queue)
        number = _page(page)
        offset = (number - 1) * PER_PAGE
        today = local_date(self.clock()).isoformat()
        with self.store.read() as tx:
            if chosen == Queue.OFFERS:
                rows = tx.offers_to(self.me, PER_PAGE + 1, offset)
            else:
                statuses = list(RUNNING if overdue_only else STATUSES[chosen])
                rows = tx.queue(self.me, statuses, PER_PAGE + 1, offset, due_before=today if overdue_only else "")
        return QueuePage(chosen, number, overdue_only, self.cases.views(rows[:PER_PAGE]), len(rows) > PER_PAGE)

    def errands(self, agent: str, page: int = 1) -> tuple[list[CaseView], bool]:
        """The errands `agent` filed at this node, wherever they are now, the newest first."""
        check("actor", agent)
        offset = (_page(page) - 1) * PER_PAGE
        with self.store.read() as tx:
            rows = tx.errands_of(agent, self.me, PER_PAGE + 1, offset)
        return self.cases.views(rows[:PER_PAGE]), len(rows) > PER_PAGE


def _queue(value: str) -> Queue:
    try:
        return Queue(value or Queue.INTAKE)
    except ValueError:
        raise InvalidInput("queue", f"one of {', '.join(Queue)}") from None


def _page(value: int) -> int:
    if not 1 <= value <= MAX_PAGE:
        raise InvalidInput("page", f"1 to {MAX_PAGE}")
    return value
