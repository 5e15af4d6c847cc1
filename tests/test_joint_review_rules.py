"""The rules of joint review (node.domain.joint_review): the plan's format, whom a case asks,
what an opinion may say, silence, and when the lead may decide."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from federation.wire.codec_catalog import item_from_body, item_to_pb
from node.context import Node
from node.domain.catalog import validate_item
from node.domain.divisions import DivisionCode
from node.domain.entries import Kind, Stream
from node.domain.errors import CaseConflict, ImportRejected, IntegrityError, InvalidInput
from node.domain.joint_review import (
    JOINT_LIMIT_DAYS,
    Mode,
    Opinion,
    Request,
    Verdict,
    check_answer,
    check_decision,
    check_opinion,
    default_opinion,
    plan_from_dict,
    requests_for,
    silent,
    standing,
)
from node.domain.lifecycle import (
    Accept,
    CaseState,
    Decide,
    File,
    LapseReview,
    OfferCustody,
    RequestReview,
    Status,
    apply,
)
from node.services.catalog_import import parse_catalog
from tests.conftest import licence_item

# Departments of 广安区 with their real credit codes (shared/data/catalog_sichuan_511602.csv).
JINGXIN = "11511301008778183N"  # 区经信局
ZHUJIAN = "11511301008778255F"  # 区住建局
NONGYE = "11511301008778423H"  # 区农业农村局
WEIJIAN = "11511301008778490F"  # 区卫健局
COUNTY = DivisionCode("511602000000")  # 广安区
VILLAGE = DivisionCode("511602001001")
CITY = DivisionCode("511600000000")  # 广安市

PLAN = {
    "mode": "all",
    "reviewers": [
        {"department": JINGXIN, "name": "区经信局", "limit_days": 5},
        {"department": ZHUJIAN, "name": "区住建局", "silence": "agree"},
        {"department": NONGYE, "name": "区农业农村局", "limit_days": 7},
        {"department": WEIJIAN, "name": "市卫健委", "node": "city", "limit_days": 20},
    ],
}


def test_a_plan_reads_with_its_defaults() -> None:
    plan = plan_from_dict(PLAN)
    assert plan.mode == Mode.ALL and plan.limit_days == JOINT_LIMIT_DAYS
    assert [r.limit_days for r in plan.reviewers] == [5, 10, 7, 20]
    assert [r.node for r in plan.reviewers] == ["here", "here", "here", "city"]
    assert {r.silence for r in plan.reviewers} == {Verdict.AGREE}
    assert plan_from_dict(plan.to_dict()) == plan


# One bad reviewer of a plan and the field its error names.
BAD_REVIEWERS = [
    ({"reviewers": [{"department": "11511301008778183X", "name": "区经信局"}]}, "department"),
    ({"reviewers": [{"department": JINGXIN, "name": ""}]}, "name"),
    ({"reviewers": [{"department": JINGXIN, "name": "a", "node": "village"}]}, "node"),
    ({"reviewers": [{"department": JINGXIN, "name": "a", "node": "5116"}]}, "node"),
    ({"reviewers": [{"department": JINGXIN, "name": "a", "limit_days": 46}]}, "limit_days"),
    ({"reviewers": [{"department": JINGXIN, "name": "a", "silence": "agree_forward"}]}, "silence"),
    ({"reviewers": [{"department": JINGXIN, "name": "a", "phone": "1"}]}, "phone"),
]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        *((reviewer, f"joint_review.reviewers[1].{field}") for reviewer, field in BAD_REVIEWERS),
        ({"mode": "some"}, "joint_review.mode"),
        ({"limit_days": 0}, "joint_review.limit_days"),
        ({"limit_days": "forty"}, "joint_review.limit_days"),
        ({"reviewers": []}, "joint_review.reviewers"),
        ({"owner": "x"}, "joint_review.owner"),
        (
            {"reviewers": [{"department": JINGXIN, "name": "a"}, {"department": JINGXIN, "name": "b"}]},
            "joint_review.reviewers",
        ),
    ],
)
def test_a_bad_plan_names_the_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        plan_from_dict({**PLAN, **change})
    assert err.value.field == field


def test_requests_resolve_tiers_on_the_filing_line() -> None:
    plan = plan_from_dict(PLAN)
    day = dt.date(2026, 12, 1)
    due = {d: day + dt.timedelta(days=d) for d in (5, 7, 10, 20)}
    requests = requests_for(plan, COUNTY, VILLAGE, due)
    assert [(q.node, q.due) for q in requests] == [
        (COUNTY.code, "2026-12-06"),
        (COUNTY.code, "2026-12-11"),
        (COUNTY.code, "2026-12-08"),
        (CITY.code, "2026-12-21"),
    ]
    with pytest.raises(InvalidInput):  # a city-filed case has no county on its line
        county = plan_from_dict({"reviewers": [{"department": JINGXIN, "name": "a", "node": "county"}]})
        requests_for(county, CITY, CITY, due)


def _requests() -> tuple[Request, ...]:
    return (
        Request(COUNTY.code, JINGXIN, "区经信局", "2026-12-07"),
        Request(COUNTY.code, ZHUJIAN, "区住建局", "2026-12-10"),
        Request(CITY.code, WEIJIAN, "市卫健委", "2026-12-20", Verdict.DISAGREE),
    )


def test_an_opinion_says_what_its_verdict_needs() -> None:
    check_opinion(Verdict.AGREE, "", "")
    check_opinion(Verdict.DISAGREE, "用地不符合规划", "")
    check_opinion(Verdict.AGREE_FORWARD, "", "市发展改革委")
    for verdict, reasons, forward, field in [
        (Verdict.DISAGREE, "  ", "", "reasons"),
        (Verdict.AGREE_FORWARD, "", "", "forward_to"),
        (Verdict.AGREE, "", "市发展改革委", "forward_to"),
        (Verdict.AGREE, "长" * 501, "", "reasons"),
    ]:
        with pytest.raises(InvalidInput) as err:
            check_opinion(verdict, reasons, forward)
        assert err.value.field == field


def test_only_a_reviewer_asked_answers_once_by_its_due_date() -> None:
    requests, day = _requests(), dt.date(2026, 12, 7)
    assert check_answer(requests, (), COUNTY.code, JINGXIN, day, False, "C1").department == JINGXIN
    refusals = [
        (requests, (), COUNTY.code, NONGYE, day, False, "has not asked"),
        (requests, (), VILLAGE.code, JINGXIN, day, False, "has not asked"),
        (requests, (Opinion(COUNTY.code, JINGXIN, Verdict.AGREE),), COUNTY.code, JINGXIN, day, False, "answered"),
        (requests, (), COUNTY.code, JINGXIN, day + dt.timedelta(days=1), False, "was due by 2026-12-07"),
        (requests, (), COUNTY.code, JINGXIN, day, True, "is decided"),
    ]
    for reqs, ops, node, dept, when, decided, words in refusals:
        with pytest.raises(CaseConflict, match=words):
            check_answer(reqs, ops, node, dept, when, decided, "C1")


def test_silence_counts_as_the_plan_says() -> None:
    requests = _requests()
    assert silent(requests, (), dt.date(2026, 12, 7)) == []
    late = silent(requests, (), dt.date(2026, 12, 21))
    assert [q.department for q in late] == [JINGXIN, ZHUJIAN, WEIJIAN]
    agree, disagree = default_opinion(late[0], 1), default_opinion(late[2], 1)
    assert agree.verdict == Verdict.AGREE and agree.by_default and not agree.blocks
    assert disagree.verdict == Verdict.DISAGREE and disagree.blocks and "逾期" in disagree.reasons
    answered = (Opinion(COUNTY.code, JINGXIN, Verdict.AGREE),)
    assert [q.department for q in silent(requests, answered, dt.date(2026, 12, 21))] == [ZHUJIAN, WEIJIAN]


def test_the_lead_decides_once_the_review_is_complete() -> None:
    requests = _requests()
    two = (Opinion(COUNTY.code, JINGXIN, Verdict.AGREE), Opinion(COUNTY.code, ZHUJIAN, Verdict.AGREE))
    with pytest.raises(CaseConflict, match="waits for the opinions of 市卫健委"):
        check_decision("C1", Mode.ALL, requests, two, True, False)
    reasoned = (*two, Opinion(CITY.code, WEIJIAN, Verdict.DISAGREE, "卫生条件不达标"))
    with pytest.raises(CaseConflict, match="responsibility"):
        check_decision("C1", Mode.ALL, requests, reasoned, True, False)
    assert check_decision("C1", Mode.ALL, requests, reasoned, False, False).blocking == (reasoned[2],)
    assert check_decision("C1", Mode.ALL, requests, reasoned, True, True).complete
    reasonless = (*two, Opinion(CITY.code, WEIJIAN, Verdict.DISAGREE))  # counts as agreement
    assert check_decision("C1", Mode.ALL, requests, reasonless, True, False).blocking == ()


def test_a_decision_carries_only_opinions_of_reviewers_asked() -> None:
    requests = _requests()
    stranger = (Opinion(VILLAGE.code, JINGXIN, Verdict.AGREE),)
    with pytest.raises(CaseConflict, match="was not asked"):
        check_decision("C1", Mode.ANY, requests, stranger, True, False)
    twice = (Opinion(COUNTY.code, JINGXIN, Verdict.AGREE), Opinion(COUNTY.code, JINGXIN, Verdict.DISAGREE, "x"))
    with pytest.raises(CaseConflict, match="twice"):
        check_decision("C1", Mode.ALL, requests, twice, False, False)


def test_any_sign_completes_with_the_first_agreement() -> None:
    requests = _requests()
    assert not standing(Mode.ANY, requests, ()).complete
    no = (Opinion(CITY.code, WEIJIAN, Verdict.DISAGREE, "不达标"),)
    assert not standing(Mode.ANY, requests, no).complete
    yes = (*no, Opinion(COUNTY.code, ZHUJIAN, Verdict.AGREE_FORWARD, forward_to="市发展改革委"))
    now = standing(Mode.ANY, requests, yes)
    assert now.complete and now.waiting == () and now.forward_to == ("市发展改革委",)


VERDICTS = st.sampled_from(list(Verdict))


@given(
    answers=st.lists(st.tuples(st.integers(0, 2), VERDICTS, st.booleans(), st.booleans()), max_size=4),
    mode=st.sampled_from(list(Mode)),
    approved=st.booleans(),
    responsibility=st.booleans(),
)
def test_no_approval_passes_over_a_reasoned_disagreement(
    answers: list[tuple[int, Verdict, bool, bool]], mode: Mode, approved: bool, responsibility: bool
) -> None:
    requests = _requests()
    opinions = tuple(
        Opinion(requests[i].node, requests[i].department, v, "理由" if reasoned else "", by_default=default)
        for i, v, reasoned, default in answers
    )
    try:
        now = check_decision("C1", mode, requests, opinions, approved, responsibility)
    except CaseConflict:
        return
    keys = [o.key for o in opinions]
    assert len(set(keys)) == len(keys) and set(keys) <= {q.key for q in requests}
    assert now.complete
    if mode == Mode.ALL:
        assert len(keys) == len(requests)
    if approved and not responsibility:
        assert not any(o.verdict == Verdict.DISAGREE and (o.reasons or o.by_default) for o in opinions)


# --- the plan in the catalog ------------------------------------------------------------------


def _item_row(plan: object) -> dict[str, object]:
    item = licence_item(name="企业投资项目核准", legal=45, promised=30)
    row: dict[str, object] = {
        k: getattr(item, k)
        for k in ("basic_code", "implementation_code", "name", "power_type", "division_code", "department")
    }
    return {**row, "promised_limit_days": 30, "legal_limit_days": 45, "joint_review": plan}


def test_a_catalog_file_carries_the_plan_to_every_node(any_node: Node) -> None:
    (item,) = parse_catalog("items.json", json.dumps({"items": [_item_row(PLAN)]}))
    assert item.joint_review == plan_from_dict(PLAN)
    header = ",".join(_item_row(PLAN))
    cells = io.StringIO()
    csv.writer(cells).writerow(
        [json.dumps(v, ensure_ascii=False) if k == "joint_review" else v for k, v in _item_row(PLAN).items()]
    )
    assert parse_catalog("items.csv", f"{header}\n{cells.getvalue()}") == [item]
    any_node.catalog.import_items([item])
    assert any_node.catalog.get(item.implementation_code).joint_review == item.joint_review
    with any_node.store.transaction() as tx:  # the entry a child receives
        body = [e.body for e in tx.entries(any_node.code, Stream.PUBLIC) if e.kind == Kind.ITEM_PUBLISHED][-1]
    assert item_from_body(body) == item


def test_a_bad_plan_is_refused_by_line() -> None:
    bad = {**PLAN, "reviewers": [{"department": JINGXIN, "name": "区经信局", "limit_days": 50}]}
    rows = [_item_row(PLAN), _item_row(bad), {**_item_row("{not json"), "implementation_code": "X-2"}]
    with pytest.raises(ImportRejected) as err:
        parse_catalog("items.json", json.dumps(rows))
    lines = [line for line, _ in err.value.problems]
    assert lines == [2, 3] and "joint_review.reviewers[1].limit_days" in err.value.problems[0][1]
    with pytest.raises(InvalidInput, match=r"20 is outside 1\.\.15"):
        plan_from_dict({**PLAN, "limit_days": 15})
    with pytest.raises(InvalidInput, match="instant"):
        validate_item(replace(licence_item(promised=0), case_type="1", joint_review=plan_from_dict(PLAN)))
    broken = item_to_pb(replace(licence_item(), joint_review=plan_from_dict(PLAN)))
    broken.joint_review.reviewers[0].department = "11511301008778183X"
    with pytest.raises(IntegrityError, match="department"):  # as a hostile peer might send it
        item_from_body(broken.SerializeToString())


# --- through the lifecycle: what every node checks when it applies a case's entries ----------

T0 = dt.datetime(2026, 12, 1, 2, tzinfo=dt.UTC)


def _at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T02:00:00+00:00")


def _reviewed() -> CaseState:
    filed = apply(None, File("C1", "ITEM", COUNTY.code, VILLAGE.code), T0)
    held = filed._replace(custodian=COUNTY.code)
    state = apply(held, Accept(), T0)
    return apply(state, RequestReview(_requests()), T0)


def test_a_case_under_joint_review_decides_with_its_opinions() -> None:
    state = _reviewed()
    assert state.status == Status.UNDER_REVIEW and state.review is not None
    with pytest.raises(CaseConflict, match="waits for the opinions"):
        apply(state, Decide(True), _at("2026-12-08"))
    with pytest.raises(CaseConflict, match="under joint review"):
        apply(state, OfferCustody(CITY.code, "escalate"), _at("2026-12-08"))
    with pytest.raises(CaseConflict, match="until 2026-12-07"):
        apply(state, LapseReview(COUNTY.code, JINGXIN), _at("2026-12-07"))
    state = apply(state, LapseReview(COUNTY.code, JINGXIN), _at("2026-12-08"))
    with pytest.raises(CaseConflict, match="recorded already"):
        apply(state, LapseReview(COUNTY.code, JINGXIN), _at("2026-12-09"))
    with pytest.raises(CaseConflict, match="has not asked"):
        apply(state, LapseReview(COUNTY.code, NONGYE), _at("2026-12-09"))
    opinions = (
        default_opinion(state.review.requests[0], 1),  # type: ignore[union-attr]
        Opinion(COUNTY.code, ZHUJIAN, Verdict.AGREE, entry_hash=b"z" * 32),
        Opinion(CITY.code, WEIJIAN, Verdict.DISAGREE, "卫生条件不达标", entry_hash=b"w" * 32),
    )
    with pytest.raises(CaseConflict, match="responsibility"):
        apply(state, Decide(True, opinions=opinions), _at("2026-12-21"))
    denied = apply(state, Decide(False, "卫生条件不达标", opinions=opinions), _at("2026-12-21"))
    assert denied.status == Status.DENIED
    approved = apply(state, Decide(True, opinions=opinions, responsibility=True), _at("2026-12-21"))
    assert approved.status == Status.APPROVED
    assert apply(approved, OfferCustody(VILLAGE.code, "result"), _at("2026-12-22")).offered_to == VILLAGE.code


def test_silence_a_decision_carries_must_be_due() -> None:
    state = _reviewed()
    early = tuple(default_opinion(q, 1) for q in _requests())
    with pytest.raises(CaseConflict, match="may still answer"):  # 市卫健委 is due on 2026-12-20
        apply(state, Decide(False, "x", opinions=early), _at("2026-12-15"))
    wrong = (*early[:2], replace(early[2], verdict=Verdict.AGREE, reasons=""))
    with pytest.raises(CaseConflict, match="counts as disagree"):
        apply(state, Decide(True, opinions=wrong), _at("2026-12-21"))


def test_a_review_opens_once_with_due_dates_ahead() -> None:
    state = _reviewed()
    with pytest.raises(CaseConflict, match="already"):
        apply(state, RequestReview(_requests()), T0)
    accepted = apply(apply(None, File("C2", "ITEM", COUNTY.code, COUNTY.code), T0), Accept(), T0)
    with pytest.raises(CaseConflict, match="due date has passed"):
        apply(accepted, RequestReview(_requests()), _at("2026-12-08"))
    with pytest.raises(CaseConflict, match="no joint review"):
        apply(accepted, Decide(True, opinions=(Opinion(COUNTY.code, JINGXIN, Verdict.AGREE),)), T0)
    with pytest.raises(InvalidInput, match="asked twice"):
        apply(accepted, RequestReview((_requests()[0], _requests()[0])), T0)


def test_a_jointly_reviewed_item_runs_against_the_promise_else_the_plans_whole_limit() -> None:
    plan = plan_from_dict(PLAN)
    assert replace(licence_item(promised=None, legal=20), joint_review=plan).limit_days == JOINT_LIMIT_DAYS
    assert replace(licence_item(promised=30, legal=45), joint_review=plan).limit_days == 30
    assert licence_item(promised=None, legal=20).limit_days == 20


def test_a_decision_carries_no_invented_opinion() -> None:
    state = apply(_reviewed(), LapseReview(COUNTY.code, JINGXIN), _at("2026-12-08"))
    rest = (
        Opinion(COUNTY.code, ZHUJIAN, Verdict.AGREE, entry_hash=b"z" * 32),
        Opinion(CITY.code, WEIJIAN, Verdict.AGREE, entry_hash=b"w" * 32),
    )
    invented = Opinion(COUNTY.code, JINGXIN, Verdict.AGREE, entry_hash=b"j" * 32)  # it was recorded silent
    with pytest.raises(CaseConflict, match="is recorded; it gave no opinion"):
        apply(state, Decide(True, opinions=(invented, *rest)), _at("2026-12-21"))
    silence = default_opinion(state.review.requests[0], 1)  # type: ignore[union-attr]
    without_entry = (silence, rest[0], replace(rest[1], entry_hash=b""))
    with pytest.raises(CaseConflict, match="names no entry of its own"):
        apply(state, Decide(True, opinions=without_entry), _at("2026-12-21"))
    assert apply(state, Decide(True, opinions=(silence, *rest)), _at("2026-12-21")).status == Status.APPROVED
