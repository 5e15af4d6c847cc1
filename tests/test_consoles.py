"""The village agent's page and the supervisors' dashboard in a real browser (issue 12): an
agent on a 390x844 screen files an errand for a consenting resident on an item the county
opened (filed locally, before any link carries it), the county takes and decides it, the agent
takes the result back, delivers it and records the resident's evaluation with its causes; a
province supervisor acknowledges an alarm and drills from the province to a village; the
figures export as CSV. Screenshots are kept under test-artefacts/."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from node.context import Node
from node.domain.lifecycle import Accept, AcceptCustody, Decide, OfferCustody, Reject
from node.domain.roles import Role
from node.web.server import WebServer
from tests.browser import browser_page, distinct_colours, keep, look
from tests.conftest import Clock, licence_item
from tests.test_custody import COUNTY, ITEM, PERSON, PROVINCE, VILLAGE, nodes, settle  # noqa: F401 - the fixture
from tests.test_workbench import SHOT, Session, open_step, submit

PHONE = {"width": 390, "height": 844}
AGENT, AGENT_PASSWORD = "代办员-李", "li-password-1"


@pytest.fixture
def web(nodes: dict[str, Node]) -> Iterator[dict[str, str]]:  # noqa: F811
    nodes[VILLAGE].principals.add_user(AGENT, frozenset({Role.AGENT}), AGENT_PASSWORD)
    nodes[PROVINCE].principals.add_user("监察-赵", frozenset({Role.SUPERVISOR}), "zhao-password-1")
    servers = {code: WebServer(nodes[code], "127.0.0.1:0") for code in (VILLAGE, PROVINCE)}
    try:
        yield {code: f"http://{s.start()}" for code, s in servers.items()}
    finally:
        for s in servers.values():
            s.stop()


def test_a_village_agent_on_a_phone_files_an_errand_takes_the_result_back_and_records_the_evaluation(
    nodes: dict[str, Node],  # noqa: F811
    web: dict[str, str],
) -> None:
    village, county = nodes[VILLAGE], nodes[COUNTY]
    base = web[VILLAGE]
    with browser_page(**PHONE) as (page, seen):
        page.goto(f"{base}/login")
        page.fill("#name", AGENT)
        page.fill("#password", AGENT_PASSWORD)
        submit(page, "#login-button")
        assert page.url.endswith("/errands") and page.inner_text("#title") == "我的代办"
        page.click("#new-errand")
        page.click("#items a >> text=教师资格认定")
        page.fill("#name", PERSON.name)
        page.fill("#id_number", PERSON.id_number)
        page.fill("#phone", PERSON.phone)
        page.set_input_files(
            "#files", files=[{"name": "体检表.jpg", "mimeType": "image/jpeg", "buffer": b"\xff\xd8 scan"}]
        )
        submit(page, "#file-errand")  # without the resident's consent: refused beside the box
        assert page.inner_text("#error-consent") == "代办须经群众同意" and page.input_value("#name") == PERSON.name
        look(page, seen, {**SHOT, "wide": "document.documentElement.scrollWidth"})
        keep("agent-consent-missing", seen.screenshot)
        assert seen.facts["wide"] <= PHONE["width"]  # no sideways scrolling on the phone
        page.set_input_files(
            "#files", files=[{"name": "体检表.jpg", "mimeType": "image/jpeg", "buffer": b"\xff\xd8 scan"}]
        )
        page.check("#consent")
        submit(page, "#file-errand")
        case_no = page.inner_text("#case-no")
        assert "已收件" in page.inner_text("#flash") and "代办员-李" in page.inner_text("#outline")
        assert county.cases.list() == []  # filed here alone: no link has carried it yet

        settle(nodes)  # the links come back: the county takes, accepts, decides, and hands the result back
        county.cases.act(case_no, AcceptCustody(COUNTY), "窗口-王")
        settle(nodes)
        county.cases.act(case_no, Accept(), "窗口-王")
        county.cases.act(case_no, Decide(True, result_ref="教资认定-2026-0001"), "窗口-王")
        county.cases.act(case_no, OfferCustody(VILLAGE, "result"), "窗口-王")
        settle(nodes)

        page.goto(f"{base}/errands")
        mine = page.inner_text("#errands")
        assert case_no in mine and "结果已返回, 请接收" in mine
        look(page, seen, {**SHOT, "wide": "document.documentElement.scrollWidth"})
        keep("agent-errands", seen.screenshot)
        assert seen.facts["wide"] <= PHONE["width"] and distinct_colours(seen.screenshot) > 8
        page.click(f"#errands a >> text={case_no}")
        open_step(page, "accept_custody")
        submit(page, "#step-accept_custody button[type=submit]")
        open_step(page, "deliver")
        submit(page, "#step-deliver button[type=submit]")
        assert page.inner_text("#status") == "办结"
        open_step(page, "evaluate")
        page.select_option("#level", "4")
        page.check("#step-evaluate input[value=extra_materials]")
        submit(page, "#step-evaluate button[type=submit]")
        assert page.inner_text("#status") == "已评价"
        look(page, seen, {**SHOT, "wide": "document.documentElement.scrollWidth"})
        keep("agent-case", seen.screenshot)
        page.goto(f"{base}/errands")
        assert "评价: 不满意" in page.inner_text("#errands")  # a closed errand shows its evaluation in words
    assert seen.errors == [] and seen.outside == []
    assert seen.facts["cjk_font"] is True and seen.facts["scripts"] == 0 and seen.facts["wide"] <= PHONE["width"]
    assert seen.facts["unlabelled"] == []
    state = village.cases.get(case_no)
    assert state.agent == AGENT and state.evaluation == 4  # the agent is the signed-in operator


def test_a_supervisor_acknowledges_an_alarm_drills_to_a_village_and_exports_csv(
    nodes: dict[str, Node],  # noqa: F811
    web: dict[str, str],
    clock: Clock,
) -> None:
    county, province = nodes[COUNTY], nodes[PROVINCE]
    from node.services.cases import FileRequest

    bare = county.cases.file(FileRequest(ITEM, PERSON), "窗口-王").case_no
    county.cases.act(bare, Reject("不符合"), "窗口-王")  # no reasons worth the name: carded
    county.supervision.scan()
    village = nodes[VILLAGE]
    village.catalog.import_items([licence_item(division=VILLAGE)])  # an item the village handles itself
    village.cases.file(FileRequest(licence_item(division=VILLAGE).implementation_code, PERSON), "村-周")
    settle(nodes)
    base = web[PROVINCE]
    with browser_page() as (page, seen):
        page.goto(f"{base}/login")
        page.fill("#name", "监察-赵")
        page.fill("#password", "zhao-password-1")
        submit(page, "#login-button")
        assert page.url.endswith("/stats")  # a supervisor starts at the figures
        page.click("header nav >> text=电子监察")
        alarms = page.inner_text("#alarms")
        assert bare in alarms and "黄牌" in alarms and "不予受理或不予许可未充分说明理由" in alarms
        page.fill("#alarms input[name=note]", "已约谈区行政审批局")
        submit(page, "#alarms button[type=submit]")
        assert page.inner_text("#flash") == "已确认预警"
        look(page, seen, SHOT)
        keep("supervision", seen.screenshot)
        assert seen.facts["unlabelled"] == []
        page.goto(f"{base}/stats")
        names = []
        for _ in range(4):  # province -> city -> county -> township -> village
            names.append(page.inner_text("#title").split(" ")[0])
            with page.expect_navigation():
                page.click("#regions a")
        names.append(page.inner_text("#title").split(" ")[0])
        look(page, seen, SHOT)
        keep("stats-village", seen.screenshot)
        csv_url = page.get_attribute("#csv", "href")
    assert seen.errors == [] and seen.outside == []
    assert names[0] == "四川省" and names[1] == "广安市" and names[2] == "广安区" and len(set(names)) == 5
    [alarm] = province.supervision.alarms(rule="reasons", open_only=False)
    assert alarm.ack_by == "监察-赵" and alarm.ack_note == "已约谈区行政审批局"
    session = Session(base)
    session.log_in("监察-赵", "zhao-password-1")
    with session.opener.open(base + str(csv_url), timeout=10) as answer:
        text = answer.read().decode("utf-8-sig")
        assert answer.headers["Content-Type"].startswith("text/csv")
    header, *rows = text.splitlines()
    assert header.startswith("division,filed,") and re.match(r"511602001001,1,", rows[0])
    agent = Session(web[VILLAGE])  # an agent acknowledges nothing
    agent.log_in(AGENT, AGENT_PASSWORD)
    fields = {"csrf": agent.token("/errands"), "origin": alarm.origin, "seq": str(alarm.seq)}
    assert agent.post("/supervision/ack", fields) == 403
