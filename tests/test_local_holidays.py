"""Local holidays delegated by the province (issue 10, DESIGN.md section 9): Liangshan, an
autonomous prefecture, publishes its 彝族年 days off once the province delegates them; they
apply to cases handled in Liangshan's subtree at every node that holds them, not elsewhere;
a division without the delegation is refused at the command, and an entry it wrote anyway
changes no calendar and raises an alarm. In-process, on real stores."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from federation.wire.codec_catalog import calendar_to_pb
from node.context import Node
from node.domain.calendar import make_calendar_year
from node.domain.divisions import DivisionCode as D
from node.domain.errors import Forbidden, InvalidInput
from node.domain.lifecycle import Accept
from node.journal import Record
from node.services.cases import Applicant, FileRequest
from tests.conftest import Clock, licence_item
from tests.helpers import counts
from tests.test_custody import settle
from tests.test_rebuild import assert_rebuilds_the_same
from tests.test_replica import enroll, province_node

PROVINCE, LIANGSHAN, XICHANG = "510000000000", "513400000000", "513401000000"
GUANGAN, GUANGAN_COUNTY = "511600000000", "511602000000"
PERSON = Applicant("1", "阿说木呷", "513401199001010019", "13888888888", "西昌市某村")
YI_NEW_YEAR = "2026-11-18..2026-11-20"  # Wednesday to Friday


@pytest.fixture
def nodes(tmp_path: Path, clock: Clock) -> Iterator[dict[str, Node]]:
    clock.set_local(2026, 11, 9)  # a Monday
    made = {PROVINCE: province_node(tmp_path / PROVINCE, PROVINCE, clock)}
    for code in (LIANGSHAN, XICHANG, GUANGAN, GUANGAN_COUNTY):
        parent = D(code).parent()
        assert parent is not None
        made[code] = enroll(made[parent.code], code, tmp_path, clock)
    made[XICHANG].catalog.import_items([licence_item(division=XICHANG)])
    settle(made)
    yield made
    for n in made.values():
        n.close()


def workday(node: Node, day: str) -> bool:
    d = dt.date.fromisoformat(day)
    return node.calendars.days(d, d)[0].workday


def due(node: Node, case_no: str) -> str:
    return node.cases.outline(case_no).due_date


def test_a_delegated_prefecture_publishes_local_holidays_for_its_subtree_only(nodes: dict[str, Node]) -> None:
    province, liangshan, xichang = nodes[PROVINCE], nodes[LIANGSHAN], nodes[XICHANG]
    item = licence_item(division=XICHANG).implementation_code
    case_no = xichang.cases.file(FileRequest(item, PERSON), "窗口-阿").case_no
    xichang.cases.act(case_no, Accept(), "窗口-阿")  # 10 working days from Monday 2026-11-09
    settle(nodes)
    before = due(xichang, case_no)
    assert before == "2026-11-23" and due(province, case_no) == before

    year = make_calendar_year(2026, [YI_NEW_YEAR], [], "凉山州彝族年放假规定")
    untouched = counts(liangshan)
    with pytest.raises(Forbidden, match="calendar delegate 513400000000"):
        liangshan.calendars.publish_local(year)
    assert counts(liangshan) == untouched
    for node, code, error in (
        (nodes[GUANGAN], LIANGSHAN, Forbidden),  # only the province delegates
        (province, "513499000000", InvalidInput),  # no such division
        (province, "520100000000", InvalidInput),  # not below this province
    ):
        with pytest.raises(error):
            node.calendars.delegate(code)

    province.calendars.delegate(LIANGSHAN, note="《凉山彝族自治州自治条例》")
    settle(nodes)
    liangshan.calendars.publish_local(year)
    settle(nodes)
    assert not workday(xichang, "2026-11-18") and not workday(liangshan, "2026-11-19")
    assert workday(nodes[GUANGAN_COUNTY], "2026-11-18") and workday(province, "2026-11-18")
    moved = due(xichang, case_no)
    assert moved == "2026-11-26"  # three working days later
    for code in (PROVINCE, LIANGSHAN):  # the same due date wherever the case is held
        assert due(nodes[code], case_no) == moved, code
    for code in (PROVINCE, LIANGSHAN, XICHANG):
        assert_rebuilds_the_same(nodes[code])

    province.calendars.delegate(LIANGSHAN, allowed=False)  # revoked: the days count again
    settle(nodes)
    assert workday(xichang, "2026-11-18") and due(xichang, case_no) == before == due(province, case_no)


def test_local_holidays_from_a_division_without_the_delegation_change_nothing(
    nodes: dict[str, Node],
) -> None:
    """A county that was never delegated writes a local calendar entry anyway (older software,
    or a hostile node): its parent and the province keep it in their logs, change no calendar,
    and raise an alarm."""
    county, city = nodes[GUANGAN_COUNTY], nodes[GUANGAN]
    with pytest.raises(Forbidden):
        county.calendars.publish_local(make_calendar_year(2026, ["2026-11-18"], []))
    body = calendar_to_pb(make_calendar_year(2026, ["2026-11-18"], [])).SerializeToString()
    with county.store.transaction() as tx:
        county.journal.append(tx, "public", [Record("local_calendar_published", "2026", body)], 1)
    settle(nodes)
    for node in (city, nodes[PROVINCE]):
        assert workday(node, "2026-11-18")
        with node.store.read() as tx:  # the calendar of cases handled at the county: unchanged
            assert tx.work_calendar().for_division(GUANGAN_COUNTY).is_workday(dt.date(2026, 11, 18))
            assert tx.local_calendars() == {}
        with node.store.read() as tx:
            assert any(a.kind == "EntryRefused" and a.peer == GUANGAN_COUNTY for a in tx.alarms())
    assert workday(county, "2026-11-18")  # not even at the county that wrote it
    for node in (city, nodes[PROVINCE]):
        assert_rebuilds_the_same(node)


def test_a_cross_region_case_filed_outside_the_subtree_counts_the_local_holidays_too(
    nodes: dict[str, Node],
) -> None:
    """A 通办 case of a Xichang item filed in Guang'an: its filing node never receives
    Liangshan's public stream, but the province passes the local holidays on in its own, so
    the filing node shows the same due date as the handling node."""
    from node.domain.lifecycle import AcceptCustody

    xichang, guangan = nodes[XICHANG], nodes[GUANGAN_COUNTY]
    item = licence_item("2", division=XICHANG, cross_region=True)
    xichang.catalog.import_items([item])
    settle(nodes)  # the province republishes the 通办 item to the whole province
    case_no = guangan.cases.file(FileRequest(item.implementation_code, PERSON), "窗口-王").case_no
    settle(nodes)
    xichang.cases.act(case_no, AcceptCustody(XICHANG), "窗口-阿")
    xichang.cases.act(case_no, Accept(), "窗口-阿")
    settle(nodes)
    assert due(guangan, case_no) == due(xichang, case_no) == "2026-11-23"
    nodes[PROVINCE].calendars.delegate(LIANGSHAN)
    settle(nodes)
    nodes[LIANGSHAN].calendars.publish_local(make_calendar_year(2026, [YI_NEW_YEAR], []))
    settle(nodes)
    assert due(xichang, case_no) == "2026-11-26"
    assert due(guangan, case_no) == "2026-11-26"  # through the province's endorsement
    with guangan.store.read() as tx:
        assert any(e.kind == "local_calendar_endorsed" for e in tx.entries(PROVINCE, "public"))
        assert not any(e.origin == LIANGSHAN for e in tx.entries(LIANGSHAN, "public"))
    assert workday(guangan, "2026-11-18")  # its own calendar is the province's
    for code in (PROVINCE, GUANGAN_COUNTY, XICHANG):
        assert_rebuilds_the_same(nodes[code])
