"""One projection (DESIGN.md section 3): `yiwang rebuild` replays a node's log into empty
derived tables and they equal the live ones row for row, at every node of a federation that
carried errands, custody moves, an escalation, a licence, material files, a declined offer, a
cross-region case, a calendar and a revocation; on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from federation.wire.codec_catalog import calendar_to_pb
from node.context import Node
from node.domain.calendar import make_calendar_year
from node.domain.errors import Forbidden
from node.domain.lifecycle import (
    Accept,
    AcceptCustody,
    Decide,
    DeclineCustody,
    Deliver,
    Evaluate,
    OfferCustody,
    RequestSupplement,
    Resume,
    Review,
    Supplement,
    Suspend,
)
from node.journal import Record
from node.services.cases import FileRequest
from node.store.repo import DERIVED_TABLES
from tests.conftest import Clock, licence_item, publish_calendar, uncovered_year
from tests.test_custody import (
    CITY,
    COUNTY,
    COUNTY_B,
    PROVINCE,
    TOWNSHIP,
    VILLAGE,
    VILLAGE_B,
    errand,
    nodes,
    settle,
)
from tests.test_services import seed

__all__ = ["nodes"]  # the federation fixture of test_custody


def derived(node: Node) -> dict[str, list[tuple[object, ...]]]:
    with node.store.read() as tx:
        return {t.name: tx.rows_of(t) for t in DERIVED_TABLES}


def assert_rebuilds_the_same(node: Node) -> None:
    live = derived(node)
    assert node.rebuilder().rebuild(check=True).differences == {}, node.code
    assert derived(node) == live  # a check rolls back
    result = node.rebuilder().rebuild()
    assert result.entries > 0
    assert derived(node) == live, node.code


def test_every_node_of_a_busy_federation_rebuilds_its_tables_exactly(nodes: dict[str, Node], clock: Clock) -> None:
    village, county, city = nodes[VILLAGE], nodes[COUNTY], nodes[CITY]
    # an errand handled at the county with a supplement and a suspension, decided, delivered back
    first = errand(village)
    settle(nodes)
    county.cases.act(first, AcceptCustody(COUNTY), "w")
    settle(nodes)  # the bundle comes re-sealed for the county
    county.cases.act(first, Accept(), "w")
    clock.now += dt.timedelta(days=1)
    county.cases.act(first, RequestSupplement(("体检表",), "缺体检表"), "w")
    clock.now += dt.timedelta(days=2)
    county.cases.act(first, Supplement(), "w")
    county.cases.act(first, Suspend("hearing", 5, "听证"), "w")
    clock.now += dt.timedelta(days=1)
    county.cases.act(first, Resume(), "w")
    county.licenses.approve_with_license(first, "w")
    settle(nodes)
    # a second errand escalated to the city and denied there; a third declined and returned
    second = errand(village)
    settle(nodes)
    county.cases.act(second, AcceptCustody(COUNTY), "w")
    county.cases.act(second, Accept(), "w")
    county.cases.act(second, OfferCustody(CITY, "escalate"), "w")
    settle(nodes)
    city.cases.act(second, AcceptCustody(CITY), "c")
    city.cases.act(second, Review(), "c")
    city.cases.act(second, Decide(False, "条件不符"), "c")
    third = errand(village)
    settle(nodes)
    county.cases.act(third, DeclineCustody(COUNTY, "不属本级"), "w")
    settle(nodes)
    # a cross-region case filed at this village, handled in the other county and sent back
    county_b = nodes[COUNTY_B]
    cross = errand(village, licence_item(division=COUNTY_B).implementation_code)
    settle(nodes)
    county_b.cases.act(cross, AcceptCustody(COUNTY_B), "b")
    settle(nodes)
    county_b.cases.act(cross, Accept(), "b")
    county_b.cases.act(cross, Decide(True), "b")
    county_b.cases.act(cross, OfferCustody(VILLAGE, "result"), "b")
    settle(nodes)
    village.cases.act(cross, AcceptCustody(VILLAGE), "agent-07")
    village.cases.act(cross, Deliver(), "agent-07")
    settle(nodes)
    # the province publishes a calendar that moves open due dates; a township's certificate revoked
    year = uncovered_year()
    nodes[PROVINCE].calendars.publish(make_calendar_year(year, [f"{year}-01-04"], []))
    identity = county.identity()
    assert identity is not None
    county.enrollment(identity, 0).revoke(TOWNSHIP, "key lost")
    settle(nodes)
    for code in (VILLAGE, COUNTY, CITY, PROVINCE, COUNTY_B, VILLAGE_B):
        assert_rebuilds_the_same(nodes[code])


def test_a_local_node_rebuilds_on_both_backends(governed: tuple[Node, Node], clock: Clock) -> None:
    province, any_node = governed
    code = seed(any_node)
    any_node.catalog.import_items([licence_item("3", promised=3)])
    from tests.test_services import PERSON as APPLICANT

    cases = any_node.cases.file_many([FileRequest(code, APPLICANT)] * 6, "窗口")
    nos = [c.case_no for c in cases]
    any_node.cases.act_many([(n, Accept()) for n in nos[:5]], "窗口")
    clock.now += dt.timedelta(days=3)
    any_node.cases.act_many(
        [(nos[0], Review()), (nos[1], RequestSupplement(("身份证",), "")), (nos[2], Decide(True))], "审查"
    )
    any_node.cases.act_many([(nos[2], Deliver()), (nos[2], Evaluate(5))], "窗口")
    year = uncovered_year()
    assert publish_calendar(province, any_node, make_calendar_year(year, [f"{year}-01-05"], [])) > 0
    assert_rebuilds_the_same(any_node)


def test_rebuild_from_the_cli_reports_equality(tmp_path: Path, clock: Clock) -> None:
    from tests.fedtools import cli

    home = tmp_path / "county"
    node = Node.init(home, COUNTY, clock=clock)
    seed(node)
    node.close()
    out = cli(home, "rebuild", "--check").stdout
    assert "equal the live ones" in out


def test_due_dates_moved_by_a_calendar_rebuild_the_same(governed: tuple[Node, Node], clock: Clock) -> None:
    """A case accepted late in the last year the built-in calendar covers, supplemented, then
    the next year published: the due dates the projection computed live come back exactly."""
    province, any_node = governed
    year = uncovered_year()
    clock.set_local(year - 1, 12, 24)
    code = seed(any_node)
    from tests.test_services import PERSON as APPLICANT

    nos = [c.case_no for c in any_node.cases.file_many([FileRequest(code, APPLICANT)] * 3, "窗口")]
    any_node.cases.act_many([(n, Accept()) for n in nos], "窗口")
    clock.set_local(year - 1, 12, 28)
    any_node.cases.act_many([(nos[0], RequestSupplement(("体检表",), "")), (nos[1], Decide(True))], "审查")
    clock.set_local(year - 1, 12, 29)
    any_node.cases.act(nos[0], Supplement(), "窗口")
    before = any_node.cases.get(nos[2])
    publish_calendar(province, any_node, make_calendar_year(year, [f"{year}-01-04", f"{year}-01-05"], []))
    assert any_node.cases.show(nos[2]).due_provisional is False and before.case_no == nos[2]
    assert_rebuilds_the_same(any_node)


def test_a_calendar_from_below_the_province_moves_no_due_date_anywhere(nodes: dict[str, Node]) -> None:
    """Only the province publishes the working-day calendar (issue 10): a county refuses to, and
    a calendar entry a county wrote anyway (older software, or a hostile node) reaches the city
    and the province, stays in their logs, changes no calendar, and raises an alarm at each."""
    year = uncovered_year()
    city, county, province = nodes[CITY], nodes[COUNTY], nodes[PROVINCE]
    with pytest.raises(Forbidden, match="only the province"):
        county.calendars.publish(make_calendar_year(year, [f"{year}-03-01"], []))
    body = calendar_to_pb(make_calendar_year(year, [f"{year}-03-01"], [])).SerializeToString()
    with county.store.transaction() as tx:
        county.journal.append(tx, "public", [Record("calendar_published", str(year), body)], 1)
    before = {n: tx_calendars(nodes[n]) for n in (CITY, PROVINCE, COUNTY)}
    settle(nodes)
    for code in (CITY, PROVINCE):
        node = nodes[code]
        assert tx_calendars(node) == before[code]
        with node.store.read() as tx:
            assert any(e.kind == "calendar_published" for e in tx.entries(COUNTY, "public"))
            assert any(a.kind == "EntryRefused" and a.peer == COUNTY for a in tx.alarms())
        assert_rebuilds_the_same(node)
    assert year not in tx_calendars(city) and year not in tx_calendars(province)


def tx_calendars(node: Node) -> dict[int, object]:
    with node.store.read() as tx:
        return dict(tx.calendars())


def test_entries_written_before_the_bounds_replay_as_they_were(any_node: Node, clock: Clock) -> None:
    """Bounds are the writer's to check (issue 10): a refusal reason longer than today's bound,
    with Windows line ends, written by an older version, still replays and rebuilds."""
    from federation.wire.codec_cases import case_entry
    from node.domain.lifecycle import Reject, apply

    code = seed(any_node)
    from tests.test_services import PERSON as APPLICANT

    (case,) = any_node.cases.file_many([FileRequest(code, APPLICANT)], "窗口")
    reject = Reject("材料不全\r\n" * 300)  # 2,100 characters: over the bound of 1,000
    with pytest.raises(Exception, match="reason"):
        any_node.cases.act(case.case_no, reject, "窗口")  # refused now at the write
    after = apply(case, reject, clock())
    kind, body = case_entry(reject, after, clock(), "窗口", any_node.code)
    with any_node.store.transaction() as tx:  # as the older version wrote it
        tail = any_node.journal.lock(tx, "case")
        entries = any_node.journal.append(tx, "case", [Record(kind, case.case_no, body)], 1, tail)
        any_node.projection.apply(tx, entries)
    assert any_node.cases.get(case.case_no).status == "not_accepted"
    assert_rebuilds_the_same(any_node)
