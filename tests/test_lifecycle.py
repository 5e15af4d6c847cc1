"""Every row of the lifecycle table, every illegal (status, command) pair, and the guards."""

from __future__ import annotations

import datetime as dt

import pytest

from node.domain.errors import IllegalTransition, InvalidInput, NotCustodian
from node.domain.joint_review import JointReview, Mode, Request
from node.domain.lifecycle import (
    CLOCK_STOPPED,
    TRANSITIONS,
    Accept,
    AcceptCustody,
    CaseCommand,
    CaseState,
    Command,
    Decide,
    DeclineCustody,
    Deliver,
    Evaluate,
    File,
    LapseReview,
    OfferCustody,
    Reject,
    RequestReview,
    RequestSupplement,
    Resume,
    Review,
    Status,
    Supplement,
    Suspend,
    Withdraw,
    WithdrawOffer,
    apply,
    check_writer,
)
from node.domain.timelimits import ClockStop

T0 = dt.datetime(2026, 3, 2, 2, tzinfo=dt.UTC)
LATER = T0 + dt.timedelta(days=3)
CITY = "511600000000"
MATERIAL = "户口簿复印件"
REVIEWER = "11511301008778183N"  # a department's credit code


def command(cmd: Command) -> CaseCommand:
    commands: dict[Command, CaseCommand] = {
        Command.FILE: File("C1", "ITEM", "511602000000", "511602100201", agent="a1", consent=True),
        Command.ACCEPT: Accept((MATERIAL,)),
        Command.REJECT: Reject("材料不属于本机关职权范围"),
        Command.REVIEW: Review(),
        Command.REQUEST_SUPPLEMENT: RequestSupplement(("体检表",), "不清晰"),
        Command.SUPPLEMENT: Supplement((MATERIAL,)),
        Command.SUSPEND: Suspend("expert_review", 10, "专家评审"),
        Command.RESUME: Resume(),
        Command.DECIDE_APPROVE: Decide(True, result_ref="R-1"),
        Command.DECIDE_DENY: Decide(False, "不符合条件"),
        Command.DELIVER: Deliver(),
        Command.WITHDRAW: Withdraw("申请人撤回"),
        Command.EVALUATE: Evaluate(2),
        Command.OFFER_CUSTODY: OfferCustody(CITY, "escalate", "需市级审批"),
        Command.ACCEPT_CUSTODY: AcceptCustody(CITY),
        Command.DECLINE_CUSTODY: DeclineCustody(CITY, "不属于本级权限"),
        Command.WITHDRAW_OFFER: WithdrawOffer(CITY, "逾期未答复"),
        Command.REQUEST_REVIEW: RequestReview((Request(CITY, REVIEWER, "市经信局", "2026-03-20"),)),
        Command.LAPSE_REVIEW: LapseReview(CITY, REVIEWER),
    }
    return commands[cmd]


def state_in(status: Status, missing: tuple[str, ...] = ()) -> CaseState:
    stops: tuple[ClockStop, ...] = ()
    if status == Status.AWAITING_SUPPLEMENT:
        stops = (ClockStop("supplement", T0.date()),)
    elif status == Status.SPECIAL_PROCEDURE:
        stops = (ClockStop("hearing", T0.date(), None, 5),)
    return CaseState(
        case_no="C1",
        item_code="ITEM",
        status=status,
        handling_division="511602000000",
        filing_division="511602000000",
        custodian="511602000000",
        channel="1",
        case_type="2",
        limit_days=10,
        filed_at=T0,
        accepted_at=None if status == Status.FILED else T0,
        missing_materials=missing,
        stops=stops,
    )


ROWS = sorted(TRANSITIONS.items(), key=lambda kv: (str(kv[0][0]), kv[0][1].value))


@pytest.mark.parametrize(("key", "target"), ROWS, ids=[f"{k[0]}-{k[1].value}" for k, _ in ROWS])
def test_every_row_of_the_table(key: tuple[Status | None, Command], target: Status) -> None:
    status, cmd = key
    before = None if status is None else state_in(status, (MATERIAL,) if cmd == Command.SUPPLEMENT else ())
    if before is not None and cmd in (Command.ACCEPT_CUSTODY, Command.DECLINE_CUSTODY, Command.WITHDRAW_OFFER):
        before = before._replace(offered_to=CITY)  # an answer needs an open offer
    if before is not None and cmd == Command.LAPSE_REVIEW:  # a lapse needs a request past its due date
        before = before._replace(review=JointReview(Mode.ALL, (Request(CITY, REVIEWER, "市经信局", "2026-03-02"),)))
    after = apply(before, command(cmd), LATER)
    assert after.status == target
    if before is not None:
        assert after.case_no == before.case_no and after.filed_at == before.filed_at


ILLEGAL = [(s, c) for s in [None, *Status] for c in Command if (s, c) not in TRANSITIONS]


@pytest.mark.parametrize(("status", "cmd"), ILLEGAL, ids=[f"{s}-{c.value}" for s, c in ILLEGAL])
def test_every_illegal_pair_raises_and_changes_nothing(status: Status | None, cmd: Command) -> None:
    before = None if status is None else state_in(status)
    snapshot = before._replace() if before is not None else None
    with pytest.raises(IllegalTransition) as err:
        apply(before, command(cmd), LATER)
    assert before == snapshot
    assert cmd.value in str(err.value)


def test_the_table_covers_every_status() -> None:
    reachable = {t for t in TRANSITIONS.values()}
    assert reachable == set(Status)


def test_rongque_materials_block_approval_until_supplied() -> None:
    s = apply(state_in(Status.FILED), Accept((MATERIAL,)), LATER)
    with pytest.raises(InvalidInput, match="容缺"):
        apply(s, Decide(True), LATER)
    s = apply(s, Supplement((MATERIAL,)), LATER)
    assert s.missing_materials == () and s.status == Status.ACCEPTED
    assert apply(s, Decide(True), LATER).status == Status.APPROVED


def test_supplement_of_material_not_outstanding_is_refused() -> None:
    with pytest.raises(InvalidInput, match="not outstanding"):
        apply(state_in(Status.UNDER_REVIEW), Supplement(("身份证",)), LATER)


def test_supplement_request_stops_and_supplement_restarts_the_clock() -> None:
    s = apply(state_in(Status.UNDER_REVIEW), RequestSupplement(("体检表",)), LATER)
    assert s.status in CLOCK_STOPPED and s.stops[-1].end is None
    s2 = apply(s, Supplement(), LATER + dt.timedelta(days=2))
    assert s2.stops[-1].end == (LATER + dt.timedelta(days=2)).date()


@pytest.mark.parametrize(
    ("cmd", "field"),
    [
        (Reject(" "), "reason"),
        (Decide(False, ""), "reason"),
        (Evaluate(6), "level"),
        (Evaluate(0), "level"),
        (Suspend("party", 5), "procedure"),
        (Suspend("hearing", 0), "limit_days"),
        (RequestSupplement(()), "materials"),
    ],
)
def test_guards_refuse_bad_command_data(cmd: CaseCommand, field: str) -> None:
    status = {Command.REJECT: Status.FILED, Command.EVALUATE: Status.DELIVERED}.get(cmd.command, Status.UNDER_REVIEW)
    with pytest.raises(InvalidInput) as err:
        apply(state_in(status), cmd, LATER)
    assert err.value.field == field


def test_an_errand_needs_consent() -> None:
    with pytest.raises(InvalidInput, match="consent"):
        apply(None, File("C2", "ITEM", "511602000000", "511602100201", agent="a1", consent=False), T0)


def test_no_change_before_filing_time() -> None:
    with pytest.raises(InvalidInput):
        apply(state_in(Status.FILED), Accept(), T0 - dt.timedelta(seconds=1))


COUNTY = "511602000000"


def test_custody_moves_by_offer_and_answer_and_the_case_waits_meanwhile() -> None:
    filed = state_in(Status.FILED)
    offered = apply(filed, OfferCustody(CITY, "escalate"), LATER)
    assert (offered.status, offered.custodian, offered.offered_to) == (Status.FILED, COUNTY, CITY)
    with pytest.raises(IllegalTransition, match="offered to 511600000000"):
        apply(offered, Accept(), LATER)  # nobody changes a case while an offer is open
    with pytest.raises(IllegalTransition):
        apply(offered, OfferCustody("511621000000"), LATER)  # one offer at a time
    taken = apply(offered, AcceptCustody(CITY), LATER)
    assert (taken.custodian, taken.offered_to) == (CITY, "")
    declined = apply(offered, DeclineCustody(CITY, "不属于本级权限"), LATER)
    assert (declined.custodian, declined.offered_to) == (COUNTY, "")


@pytest.mark.parametrize(
    ("cmd", "field"),
    [
        (OfferCustody(CITY, "holiday"), "purpose"),
        (OfferCustody("5116"), "to"),
        (OfferCustody(COUNTY), "to"),  # the custodian itself
    ],
)
def test_bad_offers_are_refused(cmd: CaseCommand, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        apply(state_in(Status.FILED), cmd, LATER)
    assert err.value.field == field


def test_answers_need_an_open_offer_to_the_answering_node() -> None:
    offered = apply(state_in(Status.FILED), OfferCustody(CITY), LATER)
    with pytest.raises(InvalidInput, match="open to 511600000000"):
        apply(offered, AcceptCustody("511621000000"), LATER)
    with pytest.raises(InvalidInput, match="reason"):
        apply(offered, DeclineCustody(CITY, " "), LATER)
    with pytest.raises(IllegalTransition, match="not offered"):
        apply(state_in(Status.FILED), AcceptCustody(CITY), LATER)


def test_only_the_custodian_writes_and_only_the_named_node_answers() -> None:
    filed = state_in(Status.FILED)
    check_writer(filed, Accept(), COUNTY)
    with pytest.raises(NotCustodian, match="custody of 511602000000"):
        check_writer(filed, Accept(), CITY)
    offered = apply(filed, OfferCustody(CITY), LATER)
    check_writer(offered, AcceptCustody(CITY), CITY)
    with pytest.raises(NotCustodian):
        check_writer(offered, AcceptCustody(CITY), COUNTY)
    check_writer(None, command(Command.FILE), "511602100201")
    with pytest.raises(NotCustodian):
        check_writer(None, command(Command.FILE), COUNTY)  # a case is filed by its filing node
