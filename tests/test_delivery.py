"""Addressed entries, the catalog and cases across a wider running federation from `yiwang sim`:
two counties of two cities (广安区 511602 of 广安市 and 锦江区 510104 of 成都市), each down to one
village, every node a separate process, driven through the CLI only. A notice from one village
reaches the other through the province; a province item reaches both villages; a village errand
is handled at its county and comes back; a cross-region case filed in one city is handled in the
other with an electronic licence that is verified and cited later; a declined offer returns."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fedtools import cli, cli_json, has_item, wait_case, wait_for

BRANCHES = ["511602001000", "510104017000"]
VILLAGE_A, VILLAGE_B = "511602001001", "510104017001"
COUNTY_A, COUNTY_B = "511602000000", "510104000000"


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Two branches of Sichuan on the national suite (SM2 / SM3 / SM4-GCM, issue 15): every
    process, link, seal and licence of this module runs on it (the other real-process tests
    run P-256)."""
    folder = tmp_path_factory.mktemp("sim")
    args = [sys.executable, "-m", "node.cli.app", "sim", "--dir", str(folder), "--villages", "1", "--detach"]
    args += ["--json", "--suite", "sm2"]
    for b in BRANCHES:
        args += ["--branch", b]
    started = json.loads(subprocess.run(args, capture_output=True, text=True, timeout=300, check=True).stdout)
    try:
        yield {n["code"]: Path(n["data_dir"]) for n in started["nodes"]}
    finally:
        subprocess.run(
            [sys.executable, "-m", "node.cli.app", "sim", "stop", "--dir", str(folder)], capture_output=True, timeout=60
        )


def _villages(nodes: dict[str, Path]) -> list[str]:
    return [VILLAGE_A, VILLAGE_B]


def _received(home: Path) -> list[dict[str, Any]]:
    return [n for n in cli_json(home, "notice", "list") if n["state"] == "received"]


def test_the_sim_runs_two_counties_of_two_cities(sim: dict[str, Path]) -> None:
    assert sorted(sim) == sorted(
        ["510000000000", "510100000000", "511600000000", COUNTY_A, COUNTY_B, *BRANCHES, VILLAGE_A, VILLAGE_B]
    )
    assert {cli_json(home, "status")["suite"] for home in sim.values()} == {"sm2-sm3"}


def test_a_notice_reaches_a_village_in_another_city(sim: dict[str, Path]) -> None:
    a, b = _villages(sim)
    cli(sim[a], "notice", "send", "--to", b, "--title", "代办员培训", "周三上午在县政务中心")
    got = wait_for(lambda: _received(sim[b]), 60, "the notice at the other village")
    assert [(n["from"], n["title"]) for n in got] == [(a, "代办员培训")]
    # up to the province (the lowest common ancestor) and down the other city
    for relay in ("511600000000", "510000000000", "510100000000", COUNTY_B):
        states = [n["state"] for n in cli_json(sim[relay], "notice", "list") if n["from"] == a]
        assert states == ["relayed"], relay
    for home in sim.values():
        assert cli_json(home, "audit", "verify")["ok"], home.name


def test_a_province_item_reaches_both_villages(sim: dict[str, Path], tmp_path: Path) -> None:
    item = {
        "basic_code": "511A0138600000",
        "implementation_code": "511A0138600000-510000000000-000-1",
        "name": "教师资格认定",
        "power_type": "01",
        "department": "省教育厅",
        "division_code": "510000000000",
        "legal_limit_days": 20,
    }
    (tmp_path / "p.json").write_text(json.dumps([item]), encoding="utf-8")
    cli(sim["510000000000"], "catalog", "import", str(tmp_path / "p.json"))
    for v in _villages(sim):
        wait_for(functools.partial(has_item, sim[v], str(item["implementation_code"])), 60, f"the item at {v}")


# --- custody through the CLI ---------------------------------------------------------------

PERSON = {"name": "王大妈", "id": "440524188001010014", "phone": "13566667777"}


def _show(home: Path, case_no: str, *extra: str) -> dict[str, Any]:
    shown: dict[str, Any] = cli_json(home, "case", "show", case_no, *extra)
    return shown


def test_a_village_errand_is_decided_at_the_county_and_delivered_at_the_village(
    sim: dict[str, Path], tmp_path: Path
) -> None:
    village = _villages(sim)[0]
    county, province = "511602000000", "510000000000"
    code = f"511A0138600000-{county}-000-115113010833722043-1-07"
    item = {
        "basic_code": "511A0138600000",
        "implementation_code": code,
        "name": "教师资格认定",
        "power_type": "01",
        "department": "区教科体局",
        "division_code": county,
        "legal_limit_days": 20,
        "promised_limit_days": 10,
        "agent_allowed": True,
    }
    (tmp_path / "c.json").write_text(json.dumps([item]), encoding="utf-8")
    cli(sim[county], "catalog", "import", str(tmp_path / "c.json"))
    scan = os.urandom(700 * 1024)  # a scanned document: three chunks on the way
    (tmp_path / "id-scan.bin").write_bytes(scan)
    wait_for(functools.partial(has_item, sim[village], code), 60, "the county item at the village")
    filed = cli_json(
        sim[village],
        "case",
        "file",
        "--item",
        code,
        "--name",
        PERSON["name"],
        "--id",
        PERSON["id"],
        "--phone",
        PERSON["phone"],
        "--agent",
        "agent-07",
        "--consent",
        "--material-file",
        f"身份证={tmp_path / 'id-scan.bin'}",
    )
    case_no = filed["case_no"]
    assert (filed["custodian"], filed["offered_to"]) == (village, county)  # offered at once
    wait_case(sim[county], case_no, "the offer at the county", offered_to=county)
    cli(sim[county], "case", "take", case_no)
    shown = wait_for(
        lambda: _show(sim[county], case_no, "--reveal").get("applicant"), 90, "the bundle re-sealed for the county"
    )
    assert shown["name"] == PERSON["name"]
    wait_for(lambda: all(m["held"] for m in cli_json(sim[county], "case", "materials", case_no)), 90, "the scan")
    cli(sim[county], "case", "material", case_no, "身份证", "--out", str(tmp_path / "at-county.bin"))
    assert (tmp_path / "at-county.bin").read_bytes() == scan
    for step in (["accept"], ["review"], ["decide", "--approve", "--result-ref", "教资-2026-07"]):
        cli(sim[county], "case", step[0], case_no, *step[1:])
    cli(sim[county], "case", "offer", case_no, "--to", village, "--purpose", "result")
    wait_case(sim[village], case_no, "the result back at the village", offered_to=village, status="approved")
    cli(sim[village], "case", "take", case_no)
    cli(sim[village], "case", "deliver", case_no)
    cli(sim[village], "case", "evaluate", case_no, "--level", "1")
    wait_case(sim[province], case_no, "the evaluation at the province", status="evaluated")
    timeline = _show(sim[village], case_no)["timeline"]
    assert [(s["kind"], s["writer"]) for s in timeline][3:6] == [
        ("case_accepted", county),
        ("case_review_started", county),
        ("case_decided", county),
    ]
    # the resident's data: only at the filing village and the processing county, in any file
    for code_, home in sim.items():
        blobs = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())
        holds = {k for k, v in PERSON.items() if v.encode() in blobs}
        if code_ not in (village, county):
            assert not holds, f"{code_} holds {holds}"


def _file(home: Path, code: str, *extra: str) -> dict[str, Any]:
    filed: dict[str, Any] = cli_json(
        home, "case", "file", "--item", code, "--name", PERSON["name"], "--id", PERSON["id"], "--phone",
        PERSON["phone"], "--agent", "agent-07", "--consent", *extra,
    )  # fmt: skip
    return filed


def test_a_cross_region_case_is_handled_in_another_city_and_its_licence_reused(
    sim: dict[str, Path], tmp_path: Path
) -> None:
    code = f"511A0138600000-{COUNTY_B}-000-115113010833722043-1-08"
    item = {
        "basic_code": "511A0138600000",
        "implementation_code": code,
        "name": "教师资格认定",
        "power_type": "01",
        "department": "锦江区教育局",
        "division_code": COUNTY_B,
        "legal_limit_days": 20,
        "agent_allowed": True,
        "cross_region": True,
    }
    (tmp_path / "b.json").write_text(json.dumps([item]), encoding="utf-8")
    cli(sim[COUNTY_B], "catalog", "import", str(tmp_path / "b.json"))
    # the province republishes the 通办 item, so a village of the other city can file it
    wait_for(functools.partial(has_item, sim[VILLAGE_A], code), 90, "the cross-region item at village A")
    case_no = _file(sim[VILLAGE_A], code)["case_no"]
    wait_case(sim[COUNTY_B], case_no, "the offer in the other city", offered_to=COUNTY_B)
    cli(sim[COUNTY_B], "case", "take", case_no)
    wait_for(lambda: _show(sim[COUNTY_B], case_no, "--reveal").get("applicant"), 90, "the bundle at county B")
    cli(sim[COUNTY_B], "case", "accept", case_no)
    decided = cli_json(sim[COUNTY_B], "case", "decide", case_no, "--approve", "--license")
    cli(sim[COUNTY_B], "case", "offer", case_no, "--to", VILLAGE_A, "--purpose", "result")
    wait_case(sim[VILLAGE_A], case_no, "the result back at village A", offered_to=VILLAGE_A)
    cli(sim[VILLAGE_A], "case", "take", case_no)
    cli(sim[VILLAGE_A], "case", "deliver", case_no)
    cli(sim[VILLAGE_A], "case", "evaluate", case_no, "--level", "2")
    wait_case(sim[COUNTY_B], case_no, "the evaluation where the case was handled", status="evaluated")
    # the resident's licence: at the filing village, exported, verified offline elsewhere, cited again
    number = decided["license_no"]
    held = wait_for(lambda: cli_json(sim[VILLAGE_A], "license", "list"), 60, "the licence at village A")
    assert [h["license_no"] for h in held] == [number]
    cli(sim[VILLAGE_A], "license", "export", number, "--out", str(tmp_path / "lic.bin"))
    verified = cli_json(sim[VILLAGE_B], "license", "verify", str(tmp_path / "lic.bin"))
    assert verified["valid"] and verified["issuer"] == COUNTY_B and verified["holder_id"] != PERSON["id"]  # masked
    later = _file(sim[VILLAGE_A], code, "--license", str(tmp_path / "lic.bin"))
    filed = [s for s in _show(sim[VILLAGE_A], later["case_no"])["timeline"] if s["kind"] == "case_filed"]
    assert filed[0]["detail"]["cited_licenses"] == [number]
    # a forged licence is refused offline, with exit 7 and nothing written
    (tmp_path / "bad.bin").write_bytes((tmp_path / "lic.bin").read_bytes().replace(PERSON["name"].encode(), b"X" * 9))
    assert cli(sim[VILLAGE_B], "license", "verify", str(tmp_path / "bad.bin"), expect=7).stderr
    # the later case: county B declines it, and it returns to the village with the reason
    wait_case(sim[COUNTY_B], later["case_no"], "the second offer", offered_to=COUNTY_B)
    cli(sim[COUNTY_B], "case", "decline", later["case_no"], "--reason", "已办结同一事项")
    back = wait_case(sim[VILLAGE_A], later["case_no"], "the declined case back", offered_to="")
    assert back["custodian"] == VILLAGE_A
    assert any(s["kind"] == "case_custody_declined" for s in back["timeline"])
    # personal data: nowhere but the filing village and the handling county, in any file
    for code_, home in sim.items():
        blobs = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())
        holds = {k for k, v in PERSON.items() if v.encode() in blobs}
        assert code_ in (VILLAGE_A, COUNTY_A, COUNTY_B) or not holds, f"{code_} holds {holds}"


_ITEM_A = {
    "basic_code": "511A0138600000",
    "name": "教师资格认定",
    "power_type": "01",
    "department": "区教科体局",
    "division_code": COUNTY_A,
    "legal_limit_days": 20,
    "agent_allowed": True,
}


def test_a_county_escalates_an_errand_to_its_city_which_decides_it(sim: dict[str, Path], tmp_path: Path) -> None:
    city = "511600000000"
    code = f"511A0138600000-{COUNTY_A}-000-115113010833722043-1-06"
    item = {**_ITEM_A, "implementation_code": code}
    (tmp_path / "a.json").write_text(json.dumps([item]), encoding="utf-8")
    cli(sim[COUNTY_A], "catalog", "import", str(tmp_path / "a.json"))
    wait_for(functools.partial(has_item, sim[VILLAGE_A], code), 60, "the county item at the village")
    case_no = _file(sim[VILLAGE_A], code)["case_no"]
    wait_case(sim[COUNTY_A], case_no, "the offer at the county", offered_to=COUNTY_A)
    cli(sim[COUNTY_A], "case", "take", case_no)
    cli(sim[COUNTY_A], "case", "accept", case_no)
    wait_for(lambda: _show(sim[COUNTY_A], case_no, "--reveal").get("applicant"), 90, "the bundle at the county")
    cli(sim[COUNTY_A], "case", "offer", case_no, "--to", city, "--purpose", "escalate", "--reason", "需市级审批")
    wait_case(sim[city], case_no, "the escalation at the city", offered_to=city)
    cli(sim[city], "case", "take", case_no)
    shown = wait_for(lambda: _show(sim[city], case_no, "--reveal").get("applicant"), 90, "the bundle at the city")
    assert shown["id_number"] == PERSON["id"]  # re-sealed by the county for the city
    cli(sim[city], "case", "decide", case_no, "--deny", "--reason", "不符合条件")
    cli(sim[city], "case", "offer", case_no, "--to", VILLAGE_A, "--purpose", "result")
    wait_case(sim[VILLAGE_A], case_no, "the result at the village", offered_to=VILLAGE_A, status="denied")
    cli(sim[VILLAGE_A], "case", "take", case_no)
    cli(sim[VILLAGE_A], "case", "deliver", case_no)
    custody = [c["node"] for c in _show(sim[VILLAGE_A], case_no)["custody"]]
    assert custody == [VILLAGE_A, COUNTY_A, city, VILLAGE_A]


# --- joint review across running nodes (issue 14) ----------------------------------------------

_JOINT_PLAN: dict[str, list[dict[str, Any]]] = {
    "reviewers": [
        {"department": "11511301008778183N", "name": "区经信局"},
        {"department": "11511301008778255F", "name": "区住建局"},
        {"department": "11511301008778423H", "name": "区农业农村局", "limit_days": 2},
        {"department": "11511301008778298W", "name": "区民政局"},
        {"department": "11511301008778490F", "name": "市卫健委", "node": "city"},
    ]
}


def _applicant(home: Path, case_no: str) -> Any:
    return _show(home, case_no, "--reveal").get("applicant")


def _asked(home: Path, case_no: str) -> bool:
    return any(r["case_no"] == case_no for r in cli_json(home, "joint", "queue"))


def _answered(home: Path, case_no: str, n: int) -> bool:
    return sum(1 for r in cli_json(home, "joint", "show", case_no) if r["verdict"]) == n


def test_a_village_errand_is_reviewed_by_four_county_departments_and_the_city_at_once(
    sim: dict[str, Path], tmp_path: Path
) -> None:
    """The "王" shape on running nodes: the county takes a village errand and opens its joint
    review; four county departments and the city review at the same time; one disagrees with
    reasons, one stays silent past its limit (the sim's clock moves every node ten days ahead)
    and is recorded as agreeing with an alarm at the county, and the county denies with the
    opinions attached. A second case where all agree is approved with a licence. The village's
    timeline shows each opinion and its working days."""
    city = "511600000000"
    code = f"511Z07001006-{COUNTY_A}-000-11511301008778183N-1-01"
    item = {**_ITEM_A, "implementation_code": code, "basic_code": "511Z07001006", "name": "企业投资项目核准"}
    item = {**item, "legal_limit_days": 45, "joint_review": _JOINT_PLAN}
    (tmp_path / "joint.json").write_text(json.dumps([item], ensure_ascii=False), encoding="utf-8")
    cli(sim[COUNTY_A], "catalog", "import", str(tmp_path / "joint.json"))
    wait_for(functools.partial(has_item, sim[VILLAGE_A], code), 60, "the joint item at the village")
    county = sim[COUNTY_A]
    depts = [r["department"] for r in _JOINT_PLAN["reviewers"]]
    cases = []
    for answers in (["agree", "disagree", "", "agree", "agree_forward"], ["agree"] * 5):
        case_no = _file(sim[VILLAGE_A], code)["case_no"]
        wait_case(county, case_no, "the offer at the county", offered_to=COUNTY_A)
        cli(county, "case", "take", case_no)
        cli(county, "case", "accept", case_no)
        wait_for(functools.partial(_applicant, county, case_no), 90, "the bundle at the county")
        asked = cli_json(county, "joint", "request", case_no)
        assert {(r["node"], r["department"]) for r in asked} == {(COUNTY_A, d) for d in depts[:4]} | {(city, depts[4])}
        wait_for(functools.partial(_asked, sim[city], case_no), 90, "the request at the city")
        # the city reviews with the applicant's data, re-sealed for it by the county
        shown = wait_for(functools.partial(_applicant, sim[city], case_no), 90, "the bundle at the city")
        assert shown["id_number"] == PERSON["id"]
        for dept, verdict in zip(depts, answers, strict=True):
            if not verdict:
                continue  # silent
            extra = {"disagree": ["--reasons", "选址不符合国土空间规划"], "agree_forward": ["--forward-to", "省卫健委"]}
            at = sim[city] if dept == depts[4] else county
            cli(at, "joint", "answer", case_no, "--department", dept, "--verdict", verdict, *extra.get(verdict, []))
        said = sum(1 for a in answers if a)
        wait_for(functools.partial(_answered, county, case_no, said), 90, "the opinions at the county")
        cases.append(case_no)
    denied, approved = cases
    cli(county, "case", "decide", denied, "--deny", "--reason", "x", expect=4)  # 区农业农村局 has not answered
    silent = depts[2]
    moved = [sys.executable, "-m", "node.cli.app", "sim", "clock", "--advance-days", "10", "--dir", str(county.parent)]
    subprocess.run(moved, capture_output=True, timeout=60, check=True)  # every node, past its 2 working days
    cli(county, "alarms", "scan")  # or the running node's own scan, whichever comes first
    carded = cli_json(county, "alarms", "supervision", "--rule", "reviewer")
    assert [(a["case_no"], a["department"]) for a in carded] == [(denied, silent)]
    lapsed = {r["department"]: r for r in cli_json(county, "joint", "show", denied)}
    assert (lapsed[silent]["verdict"], lapsed[silent]["by_default"]) == ("agree", True)
    assert lapsed[silent]["working_days"] == 2  # silence is counted at its limit
    cli(county, "case", "decide", denied, "--approve", expect=4)  # a reasoned 不同意, no responsibility taken
    cli(county, "case", "decide", denied, "--deny", "--reason", "选址不符合国土空间规划")
    cli(county, "case", "decide", approved, "--approve", "--license")
    for case_no in cases:
        cli(county, "case", "offer", case_no, "--to", VILLAGE_A, "--purpose", "result")
        wait_case(sim[VILLAGE_A], case_no, "the result at the village", offered_to=VILLAGE_A)
    shown = _show(sim[VILLAGE_A], denied)
    assert shown["status"] == "denied"
    decided = next(t for t in shown["timeline"] if t["kind"] == "case_decided")
    opinions = {o["department"]: (o["verdict"], o["reasons"]) for o in decided["detail"]["opinions"]}
    assert opinions[depts[1]] == ("disagree", "选址不符合国土空间规划") and opinions[depts[4]][0] == "agree_forward"
    assert opinions[silent] == ("agree", "")  # silence, recorded as the plan says
    assert any(t["kind"] == "case_review_lapsed" for t in shown["timeline"])
    rows = cli_json(sim[VILLAGE_A], "joint", "show", denied)
    assert [(r["node"], r["verdict"], r["working_days"]) for r in rows if r["node"] == city] == [
        (city, "agree_forward", 0)
    ]
    assert _show(sim[VILLAGE_A], approved)["status"] == "approved"
    assert cli_json(sim["510000000000"], "joint", "show", approved)[0]["decided_at"]  # the province holds it too
