"""The window's work queues (issue 12): a node's cases by the step they wait for, soonest due
first and the undated after them by filing time, paged across that boundary; overdue ones of
every queue; sizes by queue; a bad queue or page refused with nothing written."""

from __future__ import annotations

import pytest

from node.context import Node
from node.domain.errors import InvalidInput
from node.domain.lifecycle import Accept, RequestSupplement
from node.domain.queues import Queue
from node.services.cases import Applicant, FileRequest
from tests.conftest import Clock, licence_item
from tests.helpers import counts

PERSON = Applicant("1", "王大妈", "440524188001010014", "13566667777")


def test_queues_sort_dated_then_undated_page_across_and_count(node: Node, clock: Clock) -> None:
    dated, undated = licence_item("1", promised=10), licence_item("2", promised=None, legal=None)
    node.catalog.import_items([dated, undated])
    order = []
    for day, item in ((2, undated), (3, dated), (4, undated), (5, dated), (6, dated)):
        clock.set_local(2026, 3, day)
        case_no = node.cases.file(FileRequest(item.implementation_code, PERSON), "w").case_no
        node.cases.act(case_no, Accept(), "w")
        order.append((item is dated, day, case_no))
    waiting = node.cases.file(FileRequest(dated.implementation_code, PERSON), "w").case_no
    expected = [no for _, _, no in sorted(order, key=lambda o: (not o[0], o[1]))]  # dated by due date first
    with node.store.read() as tx:
        for size in (1, 2, 3, 5, 7):
            pages = [tx.queue(node.code, ["accepted"], size, offset) for offset in range(0, 6, size)]
            assert [c.state.case_no for p in pages for c in p] == expected, size
    page = node.queues.page("review")
    assert [v.state.case_no for v in page.views] == expected and not page.more
    assert [v.state.case_no for v in node.queues.page("intake").views] == [waiting]

    node.cases.act(expected[0], RequestSupplement(("身份证",)), "w")
    clock.set_local(2026, 4, 30)  # the dated cases are past their due dates now
    sizes = node.queues.sizes()
    assert sizes.by_queue[Queue.REVIEW] == 4 and sizes.by_queue[Queue.SUPPLEMENT] == 1
    assert sizes.by_queue[Queue.INTAKE] == 1 and sizes.by_queue[Queue.OFFERS] == 0
    overdue = [v.state.case_no for v in node.queues.page("intake", overdue_only=True).views]
    assert overdue == expected[1:3] and sizes.overdue == 2  # the clock stopped for the supplement

    before = counts(node)
    for bad in ({"queue": "nonsense"}, {"queue": "review", "page": 0}, {"queue": "review", "page": 10**6}):
        with pytest.raises(InvalidInput):
            node.queues.page(**bad)
    assert counts(node) == before
