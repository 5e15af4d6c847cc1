"""Electronic supervision (电子监察) and 好差评 follow-up (issue 11), in-process on real stores:
each rule fires exactly once for a constructed case, moves on (预警 -> 黄牌 -> 红牌) as one alarm
per level, clears when the case resolves it, reaches every ancestor's table and gauges; a
supervisor's acknowledgement and the handling node's callback and rectification are entries; a
recount from the log equals the tables."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from node.context import Node
from node.domain.errors import InvalidInput, NotFound, StateConflict
from node.domain.lifecycle import (
    Accept,
    AcceptCustody,
    Decide,
    Deliver,
    Evaluate,
    OfferCustody,
    Reject,
    RequestSupplement,
    Resume,
    Review,
    Supplement,
    Suspend,
)
from node.domain.roles import Role
from node.domain.supervision import Thresholds, findings
from node.services.cases import FileRequest
from node.services.stats import Period, Query
from tests.conftest import Clock, licence_item
from tests.fedtools import cli, cli_json
from tests.helpers import counts
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

CASE_RULES = ("limit", "acceptance", "supplement", "special", "reasons", "rectification")


def scan(node: Node, rule: str = "") -> list[tuple[str, str, str]]:
    """(rule, level, case) of the alarms one scan wrote (only case rules, or one rule)."""
    wanted = (rule,) if rule else CASE_RULES
    return [(a.rule, a.level, a.case_no) for a in node.supervision.scan().alarms if a.rule in wanted]


def open_alarms(node: Node, case_no: str) -> list[tuple[str, str]]:
    return sorted((a.rule, a.level) for a in node.supervision.alarms(open_only=True) if a.case_no == case_no)


def county_case(county: Node, accept: bool = True) -> str:
    case_no = county.cases.file(FileRequest(ITEM, PERSON), "窗口-王").case_no
    if accept:
        county.cases.act(case_no, Accept(), "窗口-王")
    return case_no


def test_the_whole_case_limit_warns_then_cards_yellow_then_red_once_each_and_clears_at_the_decision(
    nodes: dict[str, Node],  # noqa: F811
    clock: Clock,
) -> None:
    county, province = nodes[COUNTY], nodes[PROVINCE]
    clock.set_local(2026, 11, 2)  # Monday; 10 working days: due Monday 2026-11-16
    case_no = county_case(county)
    assert county.cases.show(case_no).due_date == "2026-11-16"
    clock.set_local(2026, 11, 11)
    assert scan(county) == []  # three working days left
    clock.set_local(2026, 11, 12)
    assert scan(county) == [("limit", "warning", case_no)]
    assert scan(county) == []  # once
    clock.set_local(2026, 11, 17)
    assert scan(county) == [("limit", "yellow", case_no)]
    assert open_alarms(county, case_no) == [("limit", "yellow")]  # the card supersedes the warning
    clock.set_local(2026, 11, 24)  # 6 working days late: more than 5
    assert scan(county) == [("limit", "red", case_no)]
    assert scan(county) == []
    settle(nodes)
    for node in (county, nodes[CITY], province):
        assert open_alarms(node, case_no) == [("limit", "red")], node.code
        gauges = node.stats.gauges(COUNTY, dt.date(2026, 11, 24))
        assert (gauges.open, gauges.overdue, gauges.warning, gauges.yellow, gauges.red) == (1, 1, 0, 0, 1)
    red = next(a for a in province.supervision.alarms(rule="limit", level="red"))
    assert red.origin == COUNTY and "各级用时" in red.detail and COUNTY in red.detail  # delay per custodian
    county.cases.act(case_no, Review(), "窗口-王")
    county.cases.act(case_no, Decide(True, result_ref="R-1"), "窗口-王")
    settle(nodes)
    for node in (county, province):
        assert open_alarms(node, case_no) == []
        assert node.stats.gauges(COUNTY, dt.date(2026, 11, 24)).red == 0
        assert node.stats.verify() == {}


def test_a_stage_overrun_fires_even_when_the_case_is_not_late(nodes: dict[str, Node], clock: Clock) -> None:  # noqa: F811
    county, province = nodes[COUNTY], nodes[PROVINCE]
    clock.set_local(2026, 11, 2)
    unaccepted = county_case(county, accept=False)
    clock.set_local(2026, 11, 9)  # 5 working days after filing: still in time
    assert scan(county) == []
    clock.set_local(2026, 11, 10)
    assert scan(county) == [("acceptance", "yellow", unaccepted)]  # art. 32: accept or refuse in 5 days
    county.cases.act(unaccepted, Accept(), "窗口-王")
    assert open_alarms(county, unaccepted) == []

    clock.set_local(2026, 11, 2)
    waiting = county_case(county)
    county.cases.act(waiting, RequestSupplement(("体检表",), "体检表缺医院盖章"), "窗口-王")
    clock.set_local(2026, 11, 30)  # 20 working days after the request
    assert scan(county, "supplement") == []
    clock.set_local(2026, 12, 1)
    assert scan(county) == [("supplement", "yellow", waiting)]  # no limit alarm: the clock is stopped
    county.cases.act(waiting, Supplement(("体检表",)), "窗口-王")
    assert open_alarms(county, waiting) == []

    clock.set_local(2026, 11, 2)
    testing = county_case(county)
    county.cases.act(testing, Suspend("testing", 3, "委托检测"), "窗口-王")
    clock.set_local(2026, 11, 5)
    assert scan(county, "special") == []
    clock.set_local(2026, 11, 6)  # a fourth working day in testing, its own limit 3
    assert scan(county, "special") == [("special", "yellow", testing)]
    settle(nodes)
    assert ("special", "yellow") in open_alarms(province, testing)
    county.cases.act(testing, Resume(), "窗口-王")
    settle(nodes)
    assert ("special", "yellow") not in open_alarms(province, testing)
    assert province.stats.verify() == {}


def test_a_refusal_without_reasons_is_flagged_once_and_a_supervisor_acknowledges_it(
    nodes: dict[str, Node],  # noqa: F811
    clock: Clock,
) -> None:
    county, province = nodes[COUNTY], nodes[PROVINCE]
    clock.set_local(2026, 11, 2)
    bare = county_case(county, accept=False)
    county.cases.act(bare, Reject("不符合"), "窗口-王")
    reasoned = county_case(county, accept=False)
    county.cases.act(reasoned, Reject("申请人不具备教师资格认定条件: 学历不符合《教师法》第十一条"), "窗口-王")
    assert scan(county) == [("reasons", "yellow", bare)]
    assert scan(county) == []
    settle(nodes)
    [alarm] = [a for a in province.supervision.alarms(rule="reasons")]
    assert alarm.cleared_at_us is None
    before = counts(province)
    with pytest.raises(NotFound):
        province.supervision.acknowledge(COUNTY, 999_999, "监察-赵")
    assert counts(province) == before  # nothing written
    acked = province.supervision.acknowledge(alarm.origin, alarm.seq, "监察-赵", "已约谈")
    assert acked.ack_by == "监察-赵" and acked.cleared_at_us is not None  # reasons: resolved by the supervisor
    with pytest.raises(StateConflict):
        province.supervision.acknowledge(alarm.origin, alarm.seq, "监察-赵")
    assert province.stats.verify() == {}


def test_a_bad_review_opens_a_rectification_that_the_handling_node_closes_or_an_alarm_follows(
    nodes: dict[str, Node],  # noqa: F811
    clock: Clock,
) -> None:
    village, county, province = nodes[VILLAGE], nodes[COUNTY], nodes[PROVINCE]
    clock.set_local(2026, 11, 2)
    case_no = errand(village)
    settle(nodes)
    county.cases.act(case_no, AcceptCustody(COUNTY), "窗口-王")
    county.cases.act(case_no, Accept(), "窗口-王")
    county.cases.act(case_no, Decide(True, result_ref="R-2"), "窗口-王")
    county.cases.act(case_no, OfferCustody(VILLAGE, "result"), "窗口-王")
    settle(nodes)
    village.cases.act(case_no, AcceptCustody(VILLAGE), "代办员-李")
    village.cases.act(case_no, Deliver(), "代办员-李")
    with pytest.raises(InvalidInput, match="cause"):
        village.cases.act(case_no, Evaluate(2, causes=("attitude",)), "代办员-李")  # causes go with a 差评
    with pytest.raises(InvalidInput):
        village.cases.act(case_no, Evaluate(5, scores=(("guide_accuracy", 5),)), "代办员-李")  # an online sub-indicator
    village.cases.act(
        case_no, Evaluate(5, causes=("attitude", "repeat_visits"), scores=(("attitude", 5),)), "代办员-李"
    )
    settle(nodes)
    [task] = county.supervision.rectifications(open_only=True)
    assert (task.case_no, task.handling, task.level, task.causes) == (case_no, COUNTY, 5, "attitude,repeat_visits")
    with pytest.raises(StateConflict, match="handled by"):
        province.supervision.follow_up(case_no, "callback", "省-钱")  # not the handling node's
    with pytest.raises(StateConflict, match="call the resident back first"):
        county.supervision.follow_up(case_no, "rectified", "窗口-王", "已批评教育")
    clock.set_local(2026, 11, 23)  # 15 working days after 2026-11-02
    assert scan(county, "rectification") == []
    clock.set_local(2026, 11, 24)
    assert scan(county, "rectification") == [("rectification", "yellow", case_no)]
    county.supervision.follow_up(case_no, "callback", "窗口-王", "已电话回访")
    county.supervision.follow_up(case_no, "rectified", "窗口-王", "窗口人员已培训")
    settle(nodes)
    for node in (county, province):
        assert node.supervision.rectifications(open_only=True) == []
        assert open_alarms(node, case_no) == []
        report = node.stats.report(Query(Period.parse("2026-11"), COUNTY), dt.date(2026, 11, 24))
        assert report.total["bad_reviews"] == 1 and report.total["cause_attitude"] == 1
        assert report.total["called_back"] == 1 and report.total["bad_rectified"] == 1
        values = {i.name: i.value for i in report.indicators}
        assert values["差评整改率"] == 100.0 and values["差评回访率"] == 100.0
        assert node.stats.verify() == {}


def test_zero_case_departments_are_flagged_once_a_month(nodes: dict[str, Node], clock: Clock) -> None:  # noqa: F811
    county, province = nodes[COUNTY], nodes[PROVINCE]
    clock.set_local(2026, 11, 15)  # an item published during November is not a zero-case item of it
    county.catalog.import_items([licence_item("2", department="区民政局", basic_code="511A0138600001")])
    clock.set_local(2026, 12, 1)
    zero = [a for a in county.supervision.scan().alarms if a.rule == "zero_cases"]
    assert [(a.level, a.period, a.department) for a in zero] == [("yellow", "2026-11", "区教科体局")]
    clock.set_local(2027, 1, 4)
    december = [a for a in county.supervision.scan().alarms if a.rule == "zero_cases"]
    assert sorted(a.department for a in december) == ["区教科体局", "区民政局"]
    assert [a for a in county.supervision.scan().alarms if a.rule == "zero_cases"] == []
    settle(nodes)
    shown = sorted((a.period, a.department) for a in province.supervision.alarms(rule="zero_cases"))
    assert shown == [("2026-11", "区教科体局"), ("2026-12", "区教科体局"), ("2026-12", "区民政局")]


def test_findings_are_pure_and_thresholds_are_settings(nodes: dict[str, Node], clock: Clock) -> None:  # noqa: F811
    county = nodes[COUNTY]
    clock.set_local(2026, 11, 2)
    case_no = county_case(county)
    stored = county.cases.show(case_no)
    calendar = county.calendar_cache.get()
    strict = Thresholds(warn_days_left=5)
    assert [f.level for f in findings(stored.state, stored.due_date, dt.date(2026, 11, 9), calendar, strict)] == [
        "warning"
    ]
    assert findings(stored.state, stored.due_date, dt.date(2026, 11, 9), calendar, Thresholds()) == []


def test_the_cli_lists_scans_and_acknowledges_and_refuses_bad_requests(nodes: dict[str, Node], clock: Clock) -> None:  # noqa: F811
    county = nodes[COUNTY]
    home = county.settings.data_dir
    clock.set_local(2026, 11, 2)
    case_no = county_case(county, accept=False)
    county.cases.act(case_no, Reject("不行"), "窗口-王")
    scanned = cli_json(home, "alarms", "scan")
    assert [a["rule"] for a in scanned["alarms"] if a["rule"] == "reasons"] == ["reasons"]
    [shown] = cli_json(home, "alarms", "supervision", "--rule", "reasons")
    assert shown["rule_name"] == "不予受理或不予许可未充分说明理由" and shown["level_name"] == "黄牌"
    assert "黄牌" in cli(home, "alarms", "supervision", "--open", lang="zh_CN").stdout
    before = counts(county)
    bad = cli(home, "alarms", "supervision", "--rule", "nonsense", expect=2)  # exit 2: a bad request
    assert "--rule" in bad.stderr
    assert "ORIGIN:SEQ" in cli(home, "alarms", "ack", "12:x", expect=2).stderr
    assert counts(county) == before
    county.principals.add_user("zhao", frozenset({Role.SUPERVISOR}), "s3cret-pass-word")
    county.principals.add_user("wang", frozenset({Role.CLERK}), "s3cret-pass-word")
    before = counts(county)  # with the two accounts
    assert "may not acknowledge" in cli(home, "alarms", "ack", shown["id"], "--actor", "wang", expect=8).stderr
    own = cli(home, "alarms", "ack", shown["id"], "--actor", "zhao", expect=8)  # nobody clears their own card
    assert "above" in own.stderr and counts(county) == before  # refused: nothing written
    settle(nodes)
    city = nodes[CITY]
    city.principals.add_user("qian", frozenset({Role.SUPERVISOR}), "s3cret-pass-word")
    leaked = cli(city.settings.data_dir, "alarms", "ack", shown["id"], "--note", "电话13566667777", expect=2)
    assert "phone" in leaked.stderr  # notes go up: no resident's number in them
    acked = cli_json(city.settings.data_dir, "alarms", "ack", shown["id"], "--note", "已核实", "--actor", "qian")
    assert acked["acknowledged_by"] == "qian" and acked["cleared_at"] is not None
    settle(nodes)
    [at_province] = [a for a in nodes[PROVINCE].supervision.alarms(rule="reasons")]
    assert at_province.ack_by == "qian" and at_province.cleared_at_us is not None
    assert county.stats.verify() == {} and city.stats.verify() == {}


def test_supervision_entries_a_node_may_not_write_are_kept_without_effect(
    nodes: dict[str, Node],  # noqa: F811
    clock: Clock,
) -> None:
    """A village forges a red card on a county case, a follow-up of a county 差评 and the
    acknowledgement of its own card: each is kept in the log (the chain stays whole) and has no
    effect at any node, which raises an EntryRefused alarm."""
    from federation.wire.codec_supervision import ack_body, alarm_body, follow_up_body
    from node.domain.entries import Kind, Stream
    from node.domain.supervision import Acknowledgement, Alarm, FollowUp
    from node.journal import Record
    from node.services.ports import micros

    village, county, province = nodes[VILLAGE], nodes[COUNTY], nodes[PROVINCE]
    clock.set_local(2026, 11, 2)
    case_no = county_case(county)
    forged = [
        Record(Kind.SUPERVISION_ALARM, case_no, alarm_body(Alarm("limit", "red", COUNTY, case_no, ITEM, COUNTY))),
        Record(
            Kind.REVIEW_RECTIFIED,
            case_no,
            follow_up_body(FollowUp(case_no, "rectified", "x", "", COUNTY, COUNTY, ITEM, "1")),
        ),
        Record(Kind.SUPERVISION_ALARM, "2026-10", alarm_body(Alarm("zero_cases", "yellow", VILLAGE, period="2026-10"))),
    ]
    with village.store.transaction() as tx:
        entries = village.journal.append(tx, Stream.CASE, forged, micros(clock()))
        refused = village.projection.apply(tx, entries).refused
    assert [why for _, why in refused][:2] == [
        "a case's alarm is written by the case's custodian, naming itself",
        "a 差评's callback and rectification are written by the node that handled the case",
    ]
    [own] = village.supervision.alarms(rule="zero_cases")  # its own 零办件 alarm is a real one
    with village.store.transaction() as tx:  # ... which it may not acknowledge itself
        entries = village.journal.append(
            tx,
            Stream.CASE,
            [Record(Kind.ALARM_ACKNOWLEDGED, "", ack_body(Acknowledgement(VILLAGE, own.seq, "x")))],
            micros(clock()),
        )
        assert village.projection.apply(tx, entries).refused
    settle(nodes)
    for node in (county, province):
        assert [a.case_no for a in node.supervision.alarms(rule="limit")] == []
        report = node.stats.report(Query(Period.parse("2026-11"), COUNTY), dt.date(2026, 11, 3))
        assert report.total["bad_rectified"] == 0
        [zero] = node.supervision.alarms(rule="zero_cases", division=VILLAGE)
        assert zero.ack_by == "" and zero.cleared_at_us is None
        with node.store.read() as tx:
            assert sum(1 for a in tx.alarms(100) if a.kind == "EntryRefused" and a.peer == VILLAGE) == 3
        assert node.stats.verify() == {}


def test_supervision_settings_are_read_and_bad_ones_refused(tmp_path: Path, clock: Clock) -> None:
    from node.config import load_settings
    from node.domain.errors import SetupError
    from tests.conftest import make_node

    node = make_node(tmp_path, clock)
    home = node.settings.data_dir
    node.close()
    path = home / "yiwang.toml"
    text = path.read_text()
    path.write_text(text.replace("rectification_days = 15", "rectification_days = 5"))  # Dezhou's clock
    assert load_settings(home).supervision.rectification_days == 5
    for line, bad, said in (
        ("rectification_days = 15", "rectification_days = -1", "supervision.rectification_days"),
        ("rectification_days = 15", "rectification_days = true", "supervision.rectification_days"),
        ("interval_seconds = 300", "interval_seconds = 0", "supervision.interval_seconds"),
        ("rectification_days = 15", "colour = 3", "supervision.colour is not a setting"),
    ):
        assert line in text
        path.write_text(text.replace(line, bad))
        with pytest.raises(SetupError, match=said):
            load_settings(home)
