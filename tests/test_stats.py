"""Statistics counted by the projection (issue 11, step one): counters in the entry's
transaction at every node, local or received, the same at the county and the province for the
county's subtree, never twice for an entry delivered twice, equal to a recount from the log;
`yiwang stats` by period and a level down. In-process on real stores, plus the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from node.context import Node
from node.domain.errors import InvalidInput
from node.domain.evaluation import CAUSES
from node.domain.lifecycle import Accept, AcceptCustody, Decide, Deliver, Evaluate, OfferCustody, Reject, Review
from node.services.cases import FileRequest
from node.services.stats import Period, Query
from tests.conftest import Clock
from tests.fedtools import cli, cli_json
from tests.test_custody import (
    CITY,
    COUNTY,
    ITEM,
    PERSON,
    PROVINCE,
    VILLAGE,
    errand,
    nodes,  # noqa: F401 - the fixture
    settle,
)

NOVEMBER = Period.parse("2026-11")


@pytest.fixture
def worked(nodes: dict[str, Node], clock: Clock) -> Iterator[dict[str, Node]]:  # noqa: F811
    """A village errand handled at the county, delivered late and rated 不满意; a county case
    not accepted; all in November 2026."""
    clock.set_local(2026, 11, 2)  # a Monday
    village, county = nodes[VILLAGE], nodes[COUNTY]
    case_no = errand(village)
    settle(nodes)
    county.cases.act(case_no, AcceptCustody(COUNTY), "窗口-王")
    county.cases.act(case_no, Accept(), "窗口-王")  # 10 working days: due 2026-11-16
    clock.set_local(2026, 11, 20)
    county.cases.act(case_no, Review(), "窗口-王")
    county.cases.act(case_no, Decide(True, result_ref="R-1"), "窗口-王")
    county.cases.act(case_no, OfferCustody(VILLAGE, "result"), "窗口-王")
    settle(nodes)
    village.cases.act(case_no, AcceptCustody(VILLAGE), "代办员-李")
    village.cases.act(case_no, Deliver(), "代办员-李")
    village.cases.act(case_no, Evaluate(4), "代办员-李")
    other = county.cases.file(FileRequest(ITEM, PERSON), "窗口-王").case_no
    county.cases.act(other, Reject("材料不全且无法补正"), "窗口-王")
    settle(nodes)
    yield nodes


EXPECTED = {
    "filed": 2,
    "accepted": 1,
    "not_accepted": 1,
    "approved": 1,
    "denied": 0,
    "delivered": 1,
    "delivered_on_time": 0,
    "delivered_late": 1,
    "withdrawn": 0,
    "instant": 0,
    "online": 0,
    "agent": 1,
    "cross_region": 0,
    "joint": 0,
    "eval_1": 0,
    "eval_2": 0,
    "eval_3": 0,
    "eval_4": 1,
    "eval_5": 0,
    "bad_reviews": 1,
    "timed": 1,
    "work_days": 14,  # accepted Monday 2026-11-02, decided Friday 2026-11-20: 3 weeks less a day
    "called_back": 0,
    "bad_rectified": 0,
    **{f"cause_{code}": 0 for code in CAUSES},
}


def test_every_tier_counts_its_subtree_the_same_and_a_recount_agrees(worked: dict[str, Node]) -> None:
    for code in (COUNTY, CITY, PROVINCE):
        [total] = worked[code].stats.figures(Query(NOVEMBER, COUNTY))
        assert total.counts == EXPECTED, code
        assert worked[code].stats.verify() == {}, code
    [city_row] = worked[PROVINCE].stats.figures(Query(NOVEMBER, by_next_level=True))
    assert city_row.division == CITY and city_row.counts == EXPECTED
    [county_row] = worked[CITY].stats.figures(Query(NOVEMBER, by_next_level=True))
    assert county_row.division == COUNTY
    [october] = worked[PROVINCE].stats.figures(Query(Period.parse("2026-10")))
    assert set(october.counts.values()) == {0}


def test_an_entry_delivered_twice_is_counted_once(worked: dict[str, Node]) -> None:
    """A batch sent again from the start (a lost acknowledgement, a parent restored from a
    backup of its cursors): the city applies every entry it holds already once more."""
    from node.domain.cursors import CursorSet

    county, city = worked[COUNTY], worked[CITY]
    out = county.replica.outgoing(city.settings.code, up=True, theirs=CursorSet([]), max_entries=500)
    assert any(e.kind == "case_delivered" for e in out.entries)
    city.replica.apply_batch(out.entries, out.heads)
    [total] = city.stats.figures(Query(NOVEMBER, COUNTY))
    assert total.counts == EXPECTED
    assert city.stats.verify() == {}


def test_bad_stats_requests_are_refused(worked: dict[str, Node]) -> None:
    county = worked[COUNTY]
    with pytest.raises(InvalidInput, match="not in this node's subtree"):
        county.stats.figures(Query(NOVEMBER, CITY))
    with pytest.raises(InvalidInput):
        Period.parse("2026-13")
    with pytest.raises(InvalidInput):
        county.stats.figures(Query(NOVEMBER, "5116"))


def test_the_cli_shows_figures_by_division_and_as_json(worked: dict[str, Node]) -> None:
    home = worked[PROVINCE].settings.data_dir
    shown = cli_json(home, "stats", "--period", "2026-11", "--by")
    assert shown["rows"] == [{"division": CITY, **EXPECTED}]
    text = cli(home, "stats", "--period", "2026-11", lang="zh_CN").stdout
    assert "办件量" in text and "超期办结" in text
    assert "2026-11-01" in text
    assert "一致" in cli(home, "stats", "verify", lang="zh_CN").stdout
    assert "equal a recount" in cli(home, "stats", "verify").stdout  # in English when asked
    bad = cli(home, "stats", "--period", "2026-11", "--from", "2026-11-01", expect=2)
    assert "--from" in bad.stderr


def test_indicators_follow_their_formulas_and_zero_case_items_are_listed(worked: dict[str, Node], clock: Clock) -> None:
    import datetime as dt

    from tests.conftest import licence_item
    from tests.test_custody import COUNTY_B

    county, province = worked[COUNTY], worked[PROVINCE]
    late = county.cases.file(FileRequest(ITEM, PERSON), "窗口-王").case_no  # filed 2026-11-20
    county.cases.act(late, Accept(), "窗口-王")  # due ten working days later: 2026-12-04
    settle(worked)
    values = {i.name: i.value for i in province.stats.report(Query(NOVEMBER), dt.date(2026, 12, 7)).indicators}
    assert values["办件量"] == 3 and values["受理量"] == 2 and values["办结量"] == 1
    assert values["办结率"] == 50.0 and values["按时办结率"] == 0.0
    assert values["超期件数"] == 1  # the open case, past 2026-12-04 on 2026-12-07
    assert values["网办率"] == 0.0 and values["代办量"] == 1 and values["通办量"] == 0
    assert values["满意率"] == 0.0 and values["差评率"] == 100.0
    october_report = province.stats.report(Query(Period.parse("2026-10")), dt.date(2026, 10, 31))
    october = {i.name: i.value for i in october_report.indicators}
    assert october["办结率"] is None and october["满意率"] is None  # nothing to divide: no rate
    assert values["平均办理用时"] == 14.0 and values["差评整改率"] == 0.0
    report = province.stats.report(Query(NOVEMBER), dt.date(2026, 12, 7))
    zero = report.zero_items
    assert [code for code, _, _ in zero] == [licence_item(division=COUNTY_B, cross_region=True).implementation_code]
    assert report.zero_departments == [(COUNTY_B, zero[0][2])]  # county B's department had no case at all
    assert county.stats.report(Query(NOVEMBER), dt.date(2026, 12, 7)).zero_items == []
    assert report.gauges.open == 1 and report.gauges.overdue == 1


def test_the_stats_rpc_answers_as_the_cli_and_refuses_a_bad_period(worked: dict[str, Node]) -> None:
    import grpc
    from yiwang.v1 import node_service_pb2

    from federation.transport.local_api import NodeServicer, serve
    from node.domain.roles import Role
    from tests.helpers import api_stub, counts

    province = worked[PROVINCE]
    _, token = province.principals.add_client("dashboard", frozenset({Role.SUPERVISOR}))
    server, port = serve(
        NodeServicer(
            province.catalog,
            province.cases,
            province.audit,
            province.principals,
            province.stats,
            province.joint_reviews,
        )
    )
    channel, api = api_stub(f"127.0.0.1:{port}", token)
    try:
        answer = api.GetStats(node_service_pb2.GetStatsRequest(period="2026-11", by_next_level=True))
        assert [(r.division, dict(r.counts)) for r in answer.rows] == [(CITY, EXPECTED)]
        assert dict(answer.total) == EXPECTED and answer.first_day == "2026-11-01" and answer.last_day == "2026-11-30"
        rates = {i.name: (i.defined, i.value, i.unit) for i in answer.indicators}
        assert rates["按时办结率"] == (True, 0.0, "%") and rates["办件量"] == (True, 2.0, "件")
        ranged = api.GetStats(
            node_service_pb2.GetStatsRequest(division=COUNTY, first_day="2026-10-15", last_day="2026-11-30")
        )
        assert dict(ranged.total) == EXPECTED  # October's days come from the day rows, November from the rollups
        before = counts(province)
        for bad in (
            node_service_pb2.GetStatsRequest(period="2026-13"),
            node_service_pb2.GetStatsRequest(division="5116"),
            node_service_pb2.GetStatsRequest(period="2026-11", last_day="2026-11-30"),
        ):
            try:
                api.GetStats(bad)
                raise AssertionError(f"{bad} was answered")
            except grpc.RpcError as exc:
                assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT, exc.details()
        assert counts(province) == before
    finally:
        channel.close()
        server.stop(grace=None).wait()


def test_months_from_the_rollups_equal_the_sum_of_their_days(worked: dict[str, Node]) -> None:
    """Whole months are read from the rollups, single days from the day rows: the same figures,
    for the total, a level down, and with item, department, power-type and channel filters."""
    import datetime as dt

    province = worked[PROVINCE]
    days = [dt.date(2026, 11, 1) + dt.timedelta(days=i) for i in range(30)]

    def summed(**filters: object) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for day in days:
            for f in province.stats.figures(Query(Period(day, day), **filters)):  # type: ignore[arg-type]
                row = out.setdefault(f.division, dict.fromkeys(f.counts, 0))
                for name, n in f.counts.items():
                    row[name] += n
        return {k: v for k, v in out.items() if any(v.values())}

    for filters in (
        {},
        {"by_next_level": True},
        {"division": COUNTY, "by_next_level": True},
        {"item": ITEM},
        {"department": "区教科体局", "by_next_level": True},
        {"power_type": "01"},
        {"channel": "1"},
    ):
        month = {f.division: f.counts for f in province.stats.figures(Query(NOVEMBER, **filters))}
        assert {k: v for k, v in month.items() if any(v.values())} == summed(**filters), filters
    assert province.stats.figures(Query(NOVEMBER, department="无此部门"))[0].counts["filed"] == 0


def test_statistics_supervision_and_sign_off_on_each_database(database_url: str, tmp_path: Path, clock: Clock) -> None:
    """The same statements on SQLite and PostgreSQL: counters, rollups, filters, an alarm, a
    rectification, a sign-off and a recount."""
    import datetime as dt

    from tests.conftest import licence_item, make_node

    node = make_node(tmp_path, clock, database_url)
    try:
        node.catalog.import_items([licence_item()])
        clock.set_local(2026, 11, 2)
        [a, b] = node.cases.file_many([FileRequest(ITEM, PERSON, "2"), FileRequest(ITEM, PERSON)], "窗口-王")
        node.cases.act_many(
            [(a.case_no, Accept()), (a.case_no, Decide(True, result_ref="R")), (a.case_no, Deliver())], "w"
        )
        node.cases.act_many([(b.case_no, Reject("不行")), (b.case_no, Evaluate(5, causes=("attitude",)))], "w")
        assert [x.rule for x in node.supervision.scan().alarms if x.case_no] == ["reasons"]
        node.supervision.follow_up(b.case_no, "callback", "w")
        clock.set_local(2026, 12, 1)
        month = node.stats.figures(Query(NOVEMBER))[0].counts
        assert (month["filed"], month["delivered"], month["online"], month["cause_attitude"]) == (2, 1, 1, 1)
        assert month["called_back"] == 1
        assert node.stats.figures(Query(NOVEMBER, channel="2"))[0].counts["filed"] == 1
        assert node.stats.figures(Query(NOVEMBER, department="区教科体局"))[0].counts["filed"] == 2
        day = node.stats.figures(Query(Period.parse("2026-11-02"), by_next_level=True))
        assert [(f.division, f.counts["filed"]) for f in day] == [(COUNTY, 2)]
        assert node.stats.report(Query(NOVEMBER), dt.date(2026, 12, 1)).gauges.open == 0
        row = node.signoff.sign("2026-11", "监察-赵")
        assert row.counts["filed"] == 2
        clock.set_local(2026, 11, 30)
        [late] = node.cases.file_many([FileRequest(ITEM, PERSON)], "w")  # changes to the signed month,
        node.cases.act(late.case_no, Accept(), "w")  # one command at a time (a replay batches them)
        [status] = node.signoff.status("2026-11")
        assert status.changed["filed"] == (2, 3) and status.signed is not None and status.signed.changes_after == 2
        assert node.stats.verify() == {}
    finally:
        node.close()


def test_cases_handled_for_another_province_are_counted_and_shown_apart(worked: dict[str, Node]) -> None:
    """A case filed in Chongqing (50) and handled in the county (跨省通办): in the province's
    figures, and again apart as handled for peer provinces, for months (rollups) and days."""
    import datetime as dt

    from node.domain.counting import CountKey

    province = worked[PROVINCE]
    with province.store.transaction() as tx:  # the counters a cross-province case's filing moves
        tx.add_counts({CountKey("2026-11-20", COUNTY, "500101001001", ITEM, "2"): {"filed": 1, "cross_region": 1}})
    whole = province.stats.report(Query(NOVEMBER), dt.date(2026, 12, 1))
    assert whole.total["filed"] == EXPECTED["filed"] + 1 and whole.peers["filed"] == 1
    days = province.stats.report(Query(Period.parse("2026-11-20")), dt.date(2026, 12, 1))
    assert days.peers["filed"] == 1 and days.peers["cross_region"] == 1
    week = Period.parse("2026-W47")  # Monday 2026-11-16 to Sunday 2026-11-22
    assert (week.first, week.last) == (dt.date(2026, 11, 16), dt.date(2026, 11, 22))
    assert province.stats.report(Query(week), dt.date(2026, 12, 1)).peers["filed"] == 1
