"""Joint review across real stores in one process (docs/joint-review.md): a village errand
taken by its county, reviewed by four county departments and the city at the same time;
opinions travel as signed entries; silence is recorded as the plan says; the decision carries
every opinion and is checked wherever it arrives; a reviewer not asked, or answering late or
after the decision, is refused with nothing stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from federation.wire.codec_cases import case_entry, opinion_body
from node.context import Node
from node.domain.divisions import DivisionCode as D
from node.domain.entries import Kind, Stream
from node.domain.errors import CaseConflict, InvalidInput, NotFound, StateConflict
from node.domain.joint_review import Mode, Opinion, Verdict, plan_from_dict
from node.domain.lifecycle import Accept, AcceptCustody, Decide, OfferCustody, RequestReview, Status, Withdraw
from node.journal import Record
from node.services.catalog_import import FULL_COLUMNS
from node.services.stats import Period, Query
from node.store.catalog import item_row
from tests.conftest import Clock, licence_item
from tests.fedtools import cli, cli_json, db_counts
from tests.helpers import counts, stored_text
from tests.test_custody import CITY, COUNTY, COUNTY_B, PERSON, PROVINCE, TOWNSHIP, VILLAGE, errand, settle
from tests.test_replica import enroll, province_node, push_up

# 广安区 departments (real credit codes, shared/data/catalog_sichuan_511602.csv)
JINGXIN, ZHUJIAN, NONGYE = "11511301008778183N", "11511301008778255F", "11511301008778423H"
MINZHENG = "11511301008778298W"  # 区民政局
CITY_DEPT = "11511301008778490F"  # standing in for the city's health commission
PLAN = plan_from_dict(
    {
        "reviewers": [
            {"department": JINGXIN, "name": "区经信局", "limit_days": 5},
            {"department": ZHUJIAN, "name": "区住建局", "limit_days": 5},
            {"department": NONGYE, "name": "区农业农村局", "limit_days": 5},
            {"department": MINZHENG, "name": "区民政局", "limit_days": 5},
            {"department": CITY_DEPT, "name": "市卫健委", "node": "city", "limit_days": 10},
        ]
    }
)
ITEM = licence_item(name="企业投资项目核准", legal=45, promised=None, joint_review=PLAN)


@pytest.fixture
def nodes(tmp_path: Path, clock: Clock) -> Iterator[dict[str, Node]]:
    clock.set_local(2026, 3, 2)  # a Monday
    made = {PROVINCE: province_node(tmp_path / PROVINCE, PROVINCE, clock)}
    for code in (CITY, COUNTY, TOWNSHIP, VILLAGE, COUNTY_B):
        parent = D(code).parent()
        assert parent is not None
        made[code] = enroll(made[parent.code], code, tmp_path, clock)
    made[COUNTY].catalog.import_items([ITEM])
    settle(made)
    yield made
    for n in made.values():
        n.close()


def _under_review(nodes: dict[str, Node]) -> str:
    village, county = nodes[VILLAGE], nodes[COUNTY]
    case_no = errand(village, ITEM.implementation_code)
    settle(nodes)
    county.cases.act(case_no, AcceptCustody(COUNTY), "窗口-王")
    county.cases.act(case_no, Accept(), "窗口-王")
    with pytest.raises(StateConflict, match="sealed data has not reached"):
        county.joint_reviews.request(case_no, "审查-李")
    settle(nodes)  # the village hands the applicant's data over to the county
    state = county.joint_reviews.request(case_no, "审查-李")
    assert state.status == Status.UNDER_REVIEW and state.review is not None
    settle(nodes)
    return case_no


def test_four_reviewers_at_once_one_silent_one_disagreeing_and_the_lead_denies(
    nodes: dict[str, Node], clock: Clock
) -> None:
    county, city, village = nodes[COUNTY], nodes[CITY], nodes[VILLAGE]
    case_no = _under_review(nodes)
    # both tiers see the request at once: the county's departments and the city's queue
    assert [r.department for r in county.joint_reviews.queue()] == [JINGXIN, ZHUJIAN, MINZHENG, NONGYE]
    assert [(r.case_no, r.department, r.due) for r in city.joint_reviews.queue()] == [
        (case_no, CITY_DEPT, "2026-03-16")
    ]
    # the city reviews with the applicant's data, re-sealed for it by the county; above it, nothing
    assert city.cases.reveal(case_no, "卫健-孙", "cli").name == PERSON.name
    with pytest.raises(NotFound):
        nodes[PROVINCE].cases.applicant(case_no)
    for secret in (PERSON.name, PERSON.id_number, PERSON.phone):
        assert secret not in stored_text(nodes[PROVINCE])
    clock.set_local(2026, 3, 4)
    county.joint_reviews.answer(case_no, JINGXIN, Verdict.AGREE, "", "", "经信-赵")
    county.joint_reviews.answer(case_no, ZHUJIAN, Verdict.DISAGREE, "选址不符合国土空间规划", "", "住建-钱")
    county.joint_reviews.answer(case_no, MINZHENG, Verdict.AGREE, "", "", "民政-吴")
    city.joint_reviews.answer(case_no, CITY_DEPT, Verdict.AGREE_FORWARD, "", "省卫健委", "卫健-孙")
    settle(nodes)
    with pytest.raises(CaseConflict, match="区农业农村局"):  # still within its limit
        county.cases.act(case_no, Decide(False, "不符合规划"), "决定-周")
    clock.set_local(2026, 3, 10)  # 区农业农村局 was due on 2026-03-09
    scanned = county.supervision.scan().alarms  # electronic supervision cards it and records its silence
    assert [(a.rule, a.level, a.department, a.due) for a in scanned] == [("reviewer", "yellow", NONGYE, "2026-03-09")]
    assert "区农业农村局(511602000000) 未在 2026-03-09 前答复联审请求, 按联审方案视为同意" in scanned[0].detail
    assert county.supervision.scan().alarms == []  # once
    with pytest.raises(CaseConflict, match="responsibility"):
        county.cases.act(case_no, Decide(True), "决定-周")
    denied = county.cases.act(case_no, Decide(False, "选址不符合国土空间规划"), "决定-周")
    assert denied.status == Status.DENIED
    county.cases.act(case_no, OfferCustody(VILLAGE, "result"), "决定-周")
    settle(nodes)
    for code in (VILLAGE, COUNTY, CITY, PROVINCE):
        rows = {r.department: r for r in nodes[code].joint_reviews.show(case_no)}
        assert {d: (r.verdict, r.by_default, r.working_days) for d, r in rows.items()} == {
            JINGXIN: ("agree", False, 2),
            ZHUJIAN: ("disagree", False, 2),
            NONGYE: ("agree", True, 5),
            MINZHENG: ("agree", False, 2),
            CITY_DEPT: ("agree_forward", False, 2),
        }, code
        assert all(r.decided_at_us for r in rows.values()), code
        assert nodes[code].cases.get(case_no).status == Status.DENIED, code
    timeline = [(s.kind, s.writer) for s in village.cases.show(case_no).timeline]
    assert ("case_review_requested", COUNTY) in timeline and ("case_review_lapsed", COUNTY) in timeline
    decided = next(s for s in village.cases.show(case_no).timeline if s.kind == "case_decided")
    assert [o["verdict"] for o in decided.detail["opinions"]] == [
        "agree",
        "disagree",
        "agree",
        "agree",
        "agree_forward",
    ]
    json.dumps(decided.detail)  # the timeline's detail is plain data, as --json prints it
    assert city.joint_reviews.queue() == [] and county.joint_reviews.queue() == []
    for code in (VILLAGE, COUNTY, CITY, PROVINCE):  # the rows follow from the log alone
        assert nodes[code].rebuilder().rebuild(check=True).differences == {}, code
    # the province counts the joint case and each reviewer's answers and working days
    march = Period.parse("2026-03")
    assert nodes[PROVINCE].stats.report(Query(march), march.last).total["joint"] == 1
    figures = {f.department: f for f in nodes[PROVINCE].joint_reviews.figures("", march.first, march.last)}
    assert {d: (f.asked, f.answered, f.silent, f.disagreed, f.forwarded, f.mean_days) for d, f in figures.items()} == {
        JINGXIN: (1, 1, 0, 0, 0, 2.0),
        ZHUJIAN: (1, 1, 0, 1, 0, 2.0),
        NONGYE: (1, 0, 1, 0, 0, 5.0),
        MINZHENG: (1, 1, 0, 0, 0, 2.0),
        CITY_DEPT: (1, 1, 0, 0, 1, 2.0),
    }
    assert [f.department for f in nodes[CITY].joint_reviews.figures(COUNTY, march.first, march.last)] == sorted(
        [JINGXIN, ZHUJIAN, NONGYE, MINZHENG]
    )


def test_all_agree_and_the_lead_approves(nodes: dict[str, Node], clock: Clock) -> None:
    county, city = nodes[COUNTY], nodes[CITY]
    case_no = _under_review(nodes)
    clock.set_local(2026, 3, 3)
    for dept in (JINGXIN, ZHUJIAN, NONGYE, MINZHENG):
        county.joint_reviews.answer(case_no, dept, Verdict.AGREE, "", "", "审查")
    city.joint_reviews.answer(case_no, CITY_DEPT, Verdict.AGREE, "", "", "卫健-孙")
    settle(nodes)
    approved = county.cases.act(case_no, Decide(True, result_ref="核准-2026-001"), "决定-周")
    assert approved.status == Status.APPROVED
    settle(nodes)
    assert nodes[PROVINCE].cases.get(case_no).status == Status.APPROVED


def test_a_reviewer_not_asked_late_or_after_the_decision_is_refused_with_nothing_stored(
    nodes: dict[str, Node], clock: Clock
) -> None:
    county, city, county_b = nodes[COUNTY], nodes[CITY], nodes[COUNTY_B]
    case_no = _under_review(nodes)
    for node, dept, error in (
        (county, CITY_DEPT, CaseConflict),  # asked at the city, not at the county
        (county_b, JINGXIN, NotFound),  # county B holds no request
        (county, "11511301008778183X", InvalidInput),  # not a credit code
    ):
        before = counts(node)
        with pytest.raises(error):
            node.joint_reviews.answer(case_no, dept, Verdict.AGREE, "", "", "x")
        assert counts(node) == before
    with pytest.raises(InvalidInput, match="reasons"):
        county.joint_reviews.answer(case_no, JINGXIN, Verdict.DISAGREE, " ", "", "x")
    clock.set_local(2026, 3, 17)  # past every due date
    before = counts(city)
    with pytest.raises(CaseConflict, match="due by 2026-03-16"):
        city.joint_reviews.answer(case_no, CITY_DEPT, Verdict.AGREE, "", "", "卫健-孙")
    assert counts(city) == before
    # a rogue county B writes an opinion behind the service's back and sends it to the lead
    forged = Opinion(COUNTY_B, JINGXIN, Verdict.DISAGREE, "伪造", at_us=1)
    with county_b.store.transaction() as tx:
        county_b.journal.append(
            tx, Stream.CASE, [Record(Kind.REVIEW_OPINION, case_no, opinion_body(case_no, COUNTY, forged, "x"))], 1
        )
    settle(nodes)  # the city holds county B's stream: kept there without effect, with an alarm
    with city.store.read() as tx:
        alarms = [a for a in tx.alarms() if a.kind == "EntryRefused" and a.peer == COUNTY_B]
    assert len(alarms) == 1 and "has not asked" in alarms[0].detail
    for code in (COUNTY, CITY, PROVINCE):
        assert COUNTY_B not in {r.node for r in nodes[code].joint_reviews.show(case_no)}
    assert len(county.joint_reviews.lapse_due("监察")) == 5
    assert county.joint_reviews.lapse_due("监察") == []
    assert county.cases.act(case_no, Decide(True), "决定-周").status == Status.APPROVED  # silence: agreement
    assert {(r.verdict, r.by_default) for r in county.joint_reviews.show(case_no)} == {("agree", True)}
    with pytest.raises(CaseConflict, match="decided"):
        county.joint_reviews.answer(case_no, JINGXIN, Verdict.AGREE, "", "", "x")


def test_a_decision_with_opinions_nobody_gave_is_refused_where_it_arrives(nodes: dict[str, Node]) -> None:
    county, city = nodes[COUNTY], nodes[CITY]
    case_no = _under_review(nodes)
    before = counts(county)
    for cmd, error in (
        (Decide(True, opinions=(Opinion(COUNTY, JINGXIN, Verdict.AGREE),)), "send none"),
        (RequestReview(county.cases.get(case_no).review.requests), "name none"),  # type: ignore[union-attr]
    ):
        with pytest.raises(InvalidInput, match=error):
            county.cases.act(case_no, cmd, "x")
    with pytest.raises(CaseConflict, match="already"):
        county.joint_reviews.request(case_no, "x")
    assert counts(county) == before
    # a rogue lead writes a decision carrying an opinion of a department it never asked
    state = county.cases.get(case_no)
    forged = Decide(True, opinions=(Opinion(COUNTY_B, JINGXIN, Verdict.AGREE),))
    after = state._replace(status=Status.APPROVED, version=state.version + 1)
    kind, body = case_entry(forged, after, state.filed_at, "rogue", COUNTY)
    with county.store.transaction() as tx:
        county.journal.append(tx, Stream.CASE, [Record(kind, case_no, body)], 1)
    push_up(county, city)
    assert city.cases.get(case_no).status == Status.UNDER_REVIEW
    with city.store.read() as tx:
        alarms = [a for a in tx.alarms() if a.kind == "EntryRefused" and a.peer == COUNTY]
    assert len(alarms) == 1 and "was not asked" in alarms[0].detail


def test_the_cli_opens_answers_lists_and_decides_a_joint_review(tmp_path: Path) -> None:
    """The whole walk through `yiwang joint` on one county (all reviewers at its own node), with
    the refusals changing nothing, and the table in Chinese."""
    home = tmp_path / "county"
    cli(home, "init", "--code", COUNTY)
    here = {"reviewers": [r for r in PLAN.to_dict()["reviewers"] if r["node"] == "here"]}
    item = replace(ITEM, joint_review=plan_from_dict(here))
    row = {k: v for k, v in item_row(item, COUNTY, 0).items() if k in FULL_COLUMNS}
    (tmp_path / "items.json").write_text(json.dumps([{**row, "joint_review": here}], ensure_ascii=False))
    cli(home, "catalog", "import", str(tmp_path / "items.json"))
    person = ["--name", "王大妈", "--id", "440524188001010014"]
    case_no = cli_json(home, "case", "file", "--item", ITEM.implementation_code, *person)["case_no"]
    assert "joint review of case" in cli(home, "joint", "show", case_no, expect=3).stderr
    cli(home, "case", "accept", case_no)
    asked = cli_json(home, "joint", "request", case_no)
    assert [r["department"] for r in asked] == sorted([JINGXIN, ZHUJIAN, NONGYE, MINZHENG])
    assert {r["verdict"] for r in cli_json(home, "joint", "queue")} == {None}
    before = db_counts(home)
    for args, code in (
        (["--department", CITY_DEPT, "--verdict", "agree"], 4),  # not asked here
        (["--department", JINGXIN, "--verdict", "disagree"], 2),  # no reasons
        (["--department", JINGXIN, "--verdict", "maybe"], 2),
    ):
        cli(home, "joint", "answer", case_no, *args, expect=code)
    assert db_counts(home) == before
    cli(home, "joint", "answer", case_no, "--department", JINGXIN, "--verdict", "agree")
    cli(home, "joint", "answer", case_no, "--department", MINZHENG, "--verdict", "agree")
    cli(home, "joint", "answer", case_no, "--department", ZHUJIAN, "--verdict", "disagree", "--reasons", "不符合规划")
    cli(
        home,
        "joint",
        "answer",
        case_no,
        "--department",
        NONGYE,
        "--verdict",
        "agree_forward",
        "--forward-to",
        "市农业农村局",
    )
    cli(home, "case", "decide", case_no, "--approve", expect=4)  # a reasoned 不同意
    cli(home, "case", "decide", case_no, "--approve", "--take-responsibility")
    shown = cli(home, "joint", "show", case_no, lang="zh").stdout
    assert "不同意" in shown and "不符合规划" in shown and "转报 市农业农村局" in shown
    assert cli_json(home, "joint", "queue") == []
    figures = cli_json(home, "stats", "reviewers")["reviewers"]
    assert [(f["department"], f["answered"], f["disagreed"]) for f in figures] == [
        (JINGXIN, 1, 0),
        (ZHUJIAN, 1, 1),
        (MINZHENG, 1, 0),
        (NONGYE, 1, 0),
    ]
    assert "联审部门意见统计" in cli(home, "stats", "reviewers", lang="zh").stdout
    decided = [t for t in cli_json(home, "case", "show", case_no)["timeline"] if t["kind"] == "case_decided"]
    assert decided[0]["detail"]["responsibility"] is True and len(decided[0]["detail"]["opinions"]) == 4


def test_the_console_opens_the_review_answers_from_its_queue_and_decides(tmp_path: Path, clock: Clock) -> None:
    """In a real browser: the lead clerk opens the joint review on the case page; the county's
    queue page lists the four requests and answers them (a 不同意 without reasons is refused
    and writes nothing); the case page shows each opinion, and the lead approves taking the
    responsibility."""
    from node.domain.roles import Role
    from node.services.cases import Applicant, FileRequest
    from node.web.server import WebServer
    from tests.browser import browser_page, look
    from tests.test_workbench import CLERK, CLERK_PASSWORD, SHOT, _log_in, open_step, submit

    clock.set_local(2026, 3, 2)
    province = province_node(tmp_path / PROVINCE, PROVINCE, clock)
    city = enroll(province, CITY, tmp_path, clock)
    county = enroll(city, COUNTY, tmp_path, clock)
    here = {"reviewers": [r for r in PLAN.to_dict()["reviewers"] if r["node"] == "here"]}
    item = replace(ITEM, joint_review=plan_from_dict(here))
    county.catalog.import_items([item])
    county.principals.add_user(CLERK, frozenset({Role.CLERK, Role.REVIEWER, Role.DECIDER}), CLERK_PASSWORD)
    applicant = Applicant("1", "王大妈", "440524188001010014")
    case_no = county.cases.file(FileRequest(item.implementation_code, applicant), CLERK).case_no
    county.cases.act(case_no, Accept(), CLERK)
    server = WebServer(county, "127.0.0.1:0")
    base = f"http://{server.start()}"
    try:
        with browser_page() as (page, seen):
            _log_in(page, base, CLERK, CLERK_PASSWORD)
            page.goto(f"{base}/cases/{case_no}")
            open_step(page, "request_review")
            submit(page, "#step-request_review button[type=submit]")
            assert page.inner_text("#status") == "审查中"
            assert page.inner_text("#joint-review").count("待答复") == 4
            page.click("header nav >> text=联审")
            look(page, seen, SHOT)
            assert seen.facts["unlabelled"] == [] and seen.facts["scripts"] == 0
            assert page.locator("#review-queue tr.request").count() == 4
            before = counts(county)
            form = f"#answer-{case_no}-{ZHUJIAN}"
            page.check(f"{form} input[value=disagree]")
            submit(page, f"{form} button[type=submit]")
            assert page.inner_text("#flash").startswith("不同意须说明理由") and counts(county) == before
            page.fill(f"#reasons-{case_no}-{ZHUJIAN}", "选址不符合国土空间规划")
            page.check(f"{form} input[value=disagree]")
            submit(page, f"{form} button[type=submit]")
            assert page.inner_text("#flash") == "意见已发送主办单位"
            for dept in (JINGXIN, NONGYE, MINZHENG):
                page.check(f"#answer-{case_no}-{dept} input[value=agree]")
                submit(page, f"#answer-{case_no}-{dept} button[type=submit]")
            assert page.inner_text("#no-requests") == "本节点没有待答复的联审"
            page.goto(f"{base}/cases/{case_no}")
            table = page.inner_text("#joint-review")
            assert "不同意" in table and "选址不符合国土空间规划" in table and table.count("同意") == 4
            open_step(page, "decide_approve")
            page.check("#step-decide_approve input[value=approve]")
            page.check("#responsibility")
            submit(page, "#step-decide_approve button[type=submit]")
            submit(page, "#confirm-button")
            assert page.inner_text("#status") == "准予许可"
        assert seen.errors == [] and seen.outside == []
    finally:
        server.stop()
        for n in (county, city, province):
            n.close()


def test_a_department_system_answers_through_the_local_api(tmp_path: Path, clock: Clock) -> None:
    """The local NodeService: a client opens the review (ActOnCase with review_requested), lists
    the queue, answers for its department; a bad verdict or a reviewer not asked is refused with
    INVALID_ARGUMENT / FAILED_PRECONDITION and nothing written."""
    import grpc
    from yiwang.v1 import case_pb2, node_service_pb2

    from federation.transport.local_api import NodeServicer, serve
    from node.domain.roles import Role
    from tests.helpers import api_stub

    clock.set_local(2026, 3, 2)
    node = Node.init(tmp_path / "county", COUNTY, clock=clock)
    here = {"reviewers": [r for r in PLAN.to_dict()["reviewers"] if r["node"] == "here"]}
    node.catalog.import_items([replace(ITEM, joint_review=plan_from_dict(here))])
    server, port = serve(
        NodeServicer(node.catalog, node.cases, node.audit, node.principals, node.stats, node.joint_reviews)
    )
    _, token = node.principals.add_client("dept-system", frozenset({Role.CLERK, Role.REVIEWER, Role.DECIDER}))
    channel, api = api_stub(f"127.0.0.1:{port}", token)
    try:
        filing = node_service_pb2.FileCaseRequest(
            item_code=ITEM.implementation_code, applicant_name="李雷", applicant_id="360426199101010071"
        )
        case_no = api.FileCase(filing).outline
        opened = case_pb2.CaseEntry(review_requested=case_pb2.ReviewRequested())
        for change in (case_pb2.CaseEntry(accepted=case_pb2.Accepted()), opened):
            change.case_no = case_no.case_no
            api.ActOnCase(node_service_pb2.ActOnCaseRequest(change=change))
        queue = api.ListReviews(node_service_pb2.ListReviewsRequest()).rows
        assert sorted(r.department for r in queue) == sorted([JINGXIN, ZHUJIAN, NONGYE, MINZHENG])
        before = counts(node)
        for request, status in (
            (dict(department=JINGXIN, verdict="maybe"), grpc.StatusCode.INVALID_ARGUMENT),
            (dict(department=CITY_DEPT, verdict="agree"), grpc.StatusCode.FAILED_PRECONDITION),
        ):
            with pytest.raises(grpc.RpcError) as err:
                api.AnswerReview(node_service_pb2.AnswerReviewRequest(case_no=case_no.case_no, **request))
            assert err.value.code() == status
        assert counts(node) == before
        rows = api.AnswerReview(
            node_service_pb2.AnswerReviewRequest(case_no=case_no.case_no, department=JINGXIN, verdict="agree")
        ).rows
        answered = {r.department: (r.verdict, r.working_days) for r in rows if r.verdict}
        assert answered == {JINGXIN: ("agree", 0)}
    finally:
        channel.close()
        server.stop(grace=None).wait()
        node.close()


def test_any_sign_completes_with_the_first_agreement_and_the_rest_lapse(nodes: dict[str, Node], clock: Clock) -> None:
    county, city = nodes[COUNTY], nodes[CITY]
    item = licence_item("7", name="或签事项", legal=45, promised=None, joint_review=replace(PLAN, mode=Mode.ANY))
    county.catalog.import_items([item])
    settle(nodes)
    case_no = errand(nodes[VILLAGE], item.implementation_code)
    settle(nodes)
    county.cases.act(case_no, AcceptCustody(COUNTY), "窗口-王")
    settle(nodes)
    county.cases.act(case_no, Accept(), "窗口-王")
    county.joint_reviews.request(case_no, "审查-李")
    settle(nodes)
    assert len(city.joint_reviews.queue()) == 1
    county.joint_reviews.answer(case_no, ZHUJIAN, Verdict.DISAGREE, "不符合", "", "住建-钱")  # no agreement yet
    assert len(county.joint_reviews.queue()) == 3
    county.joint_reviews.answer(case_no, JINGXIN, Verdict.AGREE, "", "", "经信-赵")
    settle(nodes)
    assert county.joint_reviews.queue() == [] and city.joint_reviews.queue() == []  # the rest lapse
    clock.set_local(2026, 3, 20)  # every due date passed: nobody left to card
    assert [a.rule for a in county.supervision.scan().alarms if a.rule == "reviewer"] == []
    with pytest.raises(CaseConflict, match="responsibility"):  # the reasoned 不同意 still counts
        county.cases.act(case_no, Decide(True), "决定-周")
    assert county.cases.act(case_no, Decide(True, responsibility=True), "决定-周").status == Status.APPROVED


def test_the_leads_record_wins_whatever_arrives_first_and_a_withdrawal_closes_the_review(
    nodes: dict[str, Node], clock: Clock
) -> None:
    """The city answers on its due date, but the county records its silence the next day
    before the answer arrives: every node ends with the silence, the late copy is refused, and
    a rebuild gives the same rows. A second case withdrawn under review leaves no request in
    any queue and nobody to card."""
    county, city = nodes[COUNTY], nodes[CITY]
    case_no = _under_review(nodes)
    clock.set_local(2026, 3, 16)  # the city's due date
    city.joint_reviews.answer(case_no, CITY_DEPT, Verdict.AGREE, "", "", "卫健-孙")
    clock.set_local(2026, 3, 17)
    assert {r.department for r in county.joint_reviews.lapse_due("监察")} == {
        JINGXIN,
        ZHUJIAN,
        NONGYE,
        MINZHENG,
        CITY_DEPT,
    }
    settle(nodes)
    for code in (COUNTY, CITY, PROVINCE):
        rows = {r.department: (r.verdict, r.by_default) for r in nodes[code].joint_reviews.show(case_no)}
        assert rows[CITY_DEPT] == ("agree", True), code
        assert nodes[code].rebuilder().rebuild(check=True).differences == {}, code
    with city.store.read() as tx:
        assert [d.kind for d in tx.alarms() if d.kind == "DeadLetter"] == ["DeadLetter"]  # the answer came too late
    second = _under_review(nodes)
    assert any(r.case_no == second for r in city.joint_reviews.queue())
    county.cases.act(second, Withdraw("申请人撤回"), "窗口-王")
    settle(nodes)
    assert [r for r in city.joint_reviews.queue() if r.case_no == second] == []
    clock.set_local(2026, 4, 30)
    assert [a for a in county.supervision.scan().alarms if a.case_no == second] == []
    assert county.joint_reviews.lapse_due("监察") == []


def test_a_reviewer_in_another_city_asks_for_the_materials_and_reviews_with_them(tmp_path: Path, clock: Clock) -> None:
    """The lead holds no certificate of a county in another city, so the request goes without
    the materials; the reviewer's node asks for them (`review_received`, carrying its chain),
    the lead re-seals them for it, and the reviewer reads the applicant; asking twice, or
    asking about a case it was not asked on, sends nothing more."""
    clock.set_local(2026, 3, 2)
    other_city, other = "511300000000", "511302000000"  # 南充市顺庆区
    plan = plan_from_dict(
        {
            "reviewers": [
                {"department": JINGXIN, "name": "区经信局"},
                {"department": CITY_DEPT, "name": "顺庆区发改局", "node": other},
                {"department": ZHUJIAN, "name": "邻县住建局", "node": COUNTY_B},  # a sibling: its key is known
            ]
        }
    )
    item = licence_item("2", name="跨市联审事项", legal=45, promised=None, joint_review=plan)
    made = {PROVINCE: province_node(tmp_path / PROVINCE, PROVINCE, clock)}
    try:
        for code in (CITY, COUNTY, TOWNSHIP, VILLAGE, COUNTY_B, other_city, other):
            parent = D(code).parent()
            assert parent is not None
            made[code] = enroll(made[parent.code], code, tmp_path, clock)
        county, reviewer = made[COUNTY], made[other]
        county.catalog.import_items([item])
        settle(made)
        case_no = errand(made[VILLAGE], item.implementation_code)
        settle(made)
        county.cases.act(case_no, AcceptCustody(COUNTY), "窗口-王")
        county.cases.act(case_no, Accept(), "窗口-王")
        settle(made)
        county.joint_reviews.request(case_no, "审查-李")
        settle(made)
        assert [(r.case_no, r.department) for r in reviewer.joint_reviews.queue()] == [(case_no, CITY_DEPT)]
        assert reviewer.cases.reveal(case_no, "发改-郑", "cli").id_number == PERSON.id_number
        with reviewer.store.read() as tx:
            asked = [e for e in tx.entries(other, Stream.CASE) if e.kind == Kind.REVIEW_RECEIVED]
        assert [e.subject for e in asked] == [case_no]
        with made[COUNTY_B].store.read() as tx:  # the sibling got its bundle with the request: no ask
            assert [e for e in tx.entries(COUNTY_B, Stream.CASE) if e.kind == Kind.REVIEW_RECEIVED] == []
        assert made[COUNTY_B].cases.reveal(case_no, "住建-钱", "cli").id_number == PERSON.id_number
        with county.store.read() as tx:
            sent = [e for e in tx.entries(COUNTY, Stream.CASE) if e.kind == Kind.BUNDLE_SENT]
        assert len(sent) == 2  # to the sibling with the request, to the other city's county when it asked
        # the same ask again (a copy the reviewer's node sends after its bundle) sends nothing more
        reviewer.mail.send(COUNTY, Kind.REVIEW_RECEIVED, case_no, case_no.encode())
        made[other_city].mail.send(COUNTY, Kind.REVIEW_RECEIVED, case_no, case_no.encode())  # not asked
        settle(made)
        with county.store.read() as tx:
            assert len([e for e in tx.entries(COUNTY, Stream.CASE) if e.kind == Kind.BUNDLE_SENT]) == 2
        for secret in (PERSON.name, PERSON.id_number, PERSON.phone):
            assert secret not in stored_text(made[PROVINCE]) and secret not in stored_text(made[other_city])
        reviewer.joint_reviews.answer(case_no, CITY_DEPT, Verdict.AGREE, "", "", "发改-郑")
        made[COUNTY_B].joint_reviews.answer(case_no, ZHUJIAN, Verdict.AGREE, "", "", "住建-钱")
        county.joint_reviews.answer(case_no, JINGXIN, Verdict.AGREE, "", "", "经信-赵")
        settle(made)
        assert county.cases.act(case_no, Decide(True), "决定-周").status == Status.APPROVED
    finally:
        for n in made.values():
            n.close()
