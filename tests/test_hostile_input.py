"""Careless and hostile calls against running nodes (issue 10): a province, a city and a county
as `yiwang run` processes with their buses. Each attack goes through the county's local gRPC
API (a client built from the committed .proto files only), its enrollment port or the CLI; it is
refused with its documented status and a short message that shows no internals, the county's
tables keep their row counts, and a canary case filed afterwards reaches the province and the
province's bus: the node still serves and its link and bus relay are not wedged."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import nats
import pytest
from yiwang.v1 import case_pb2, federation_pb2, federation_pb2_grpc, node_service_pb2, node_service_pb2_grpc

from federation.wire.certs import dns_name
from tests.fedtools import (
    Running,
    bus_account,
    case_json,
    cli,
    cli_json,
    db_counts,
    portal_item,
    start_chain,
    wait_for,
)
from tests.helpers import api_stub

PROVINCE, CITY, COUNTY = "510000000000", "511600000000", "511602000000"
ITEM = f"511A0138600000-{COUNTY}-000-1"  # tests.fedtools.portal_item
GOOD = {"applicant_name": "王小明", "applicant_id": "11010519491231002X", "item_code": ITEM}


def file_request(**changes: str) -> node_service_pb2.FileCaseRequest:
    """A good FileCaseRequest with some text fields changed."""
    msg = node_service_pb2.FileCaseRequest()
    for name, value in {**GOOD, **changes}.items():
        setattr(msg, name, value)
    return msg


MAX_DETAIL = 300  # no refusal says more than this


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[Path, Running]]]:
    base = tmp_path_factory.mktemp("hostile")
    nodes: dict[str, tuple[Path, Running]] = {}
    try:
        start_chain(base, [(code, code) for code in (PROVINCE, CITY, COUNTY)], nodes)
        county = nodes[COUNTY][0]
        items = base / "items.json"
        items.write_text(json.dumps([portal_item(COUNTY)]), encoding="utf-8")
        cli(county, "catalog", "import", str(items))
        yield nodes
    finally:
        for _, running in reversed(list(nodes.values())):
            running.stop()


@pytest.fixture(scope="module")
def api(tree: dict[str, tuple[Path, Running]]) -> Iterator[node_service_pb2_grpc.NodeServiceStub]:
    """The county's local API as a window-software client with every role but admin."""
    roles = [arg for role in ("clerk", "reviewer", "decider", "supervisor") for arg in ("--role", role)]
    token = cli_json(tree[COUNTY][0], "users", "add", "window-software", "--client", *roles)["token"]
    channel, stub = api_stub(tree[COUNTY][1].ports["api"], token)
    try:
        yield stub
    finally:
        channel.close()


def refused(call: Callable[[], Any], status: grpc.StatusCode) -> str:
    with pytest.raises(grpc.RpcError) as err:
        call()
    rpc_error: Any = err.value
    details = rpc_error.details() or ""
    assert rpc_error.code() == status, details
    assert len(details) <= MAX_DETAIL and "SELECT" not in details and "Traceback" not in details, details
    return details


def canary(tree: dict[str, tuple[Path, Running]], api: node_service_pb2_grpc.NodeServiceStub) -> None:
    """A case filed now reaches the province and the province's bus."""
    filed = api.FileCase(file_request(), timeout=30)
    case_no = filed.outline.case_no
    province = tree[PROVINCE][0]
    wait_for(lambda: case_json(province, case_no), 60, f"canary {case_no} at the province")

    async def on_the_bus() -> bool:
        nc = await nats.connect(tree[PROVINCE][1].ports["nats"], **bus_account(tree[PROVINCE][0]))
        try:
            msg = await nc.jetstream().get_last_msg("YIWANG", f"yiwang.{COUNTY}.case.case_filed")
            body = case_pb2.CaseEntry.FromString(msg.data or b"")
            return bool(body.case_no == case_no)
        except Exception:
            return False
        finally:
            await nc.close()

    wait_for(lambda: asyncio.run(on_the_bus()), 60, f"canary {case_no} on the province's bus")


def attack_and_check(
    tree: dict[str, tuple[Path, Running]], api: node_service_pb2_grpc.NodeServiceStub, attack: Callable[[], None]
) -> None:
    home = tree[COUNTY][0]
    before = db_counts(home)
    attack()
    assert db_counts(home) == before
    canary(tree, api)


def _filed(api: node_service_pb2_grpc.NodeServiceStub) -> str:
    return str(api.FileCase(file_request(), timeout=30).outline.case_no)


def test_oversized_and_control_characters_are_refused(
    tree: dict[str, tuple[Path, Running]], api: node_service_pb2_grpc.NodeServiceStub
) -> None:
    case_no = _filed(api)
    bad = grpc.StatusCode.INVALID_ARGUMENT

    def attacks() -> None:
        huge = "理由" * 1_000_000  # 2 million characters, 6 MB: under gRPC's limit only when short
        reject = case_pb2.CaseEntry(case_no=case_no, not_accepted=case_pb2.NotAccepted(reason=huge[:1_200_000]))
        assert "reason: at most 1000 characters" in refused(
            lambda: api.ActOnCase(node_service_pb2.ActOnCaseRequest(change=reject)), bad
        )
        assert "actor" in refused(lambda: api.FileCase(file_request(actor="窗\x00口")), bad)
        assert "applicant name" in refused(lambda: api.FileCase(file_request(applicant_name="王\x00小明")), bad)
        refused(lambda: api.FileCase(file_request(actor="x\x1b[2J")), bad)
        query = "办" * 400_000
        assert "query" in refused(lambda: api.ListItems(node_service_pb2.ListItemsRequest(query=query)), bad)
        long_no = "5" * 10_000
        details = refused(lambda: api.GetCase(node_service_pb2.GetCaseRequest(case_no=long_no)), bad)
        assert long_no[:100] not in details  # never echoed

    attack_and_check(tree, api, attacks)


def test_wildcards_are_characters_and_invalid_utf8_is_a_bad_argument(
    tree: dict[str, tuple[Path, Running]], api: node_service_pb2_grpc.NodeServiceStub
) -> None:
    def attacks() -> None:
        assert api.ListItems(node_service_pb2.ListItemsRequest(query="%")).items == []
        assert api.ListItems(node_service_pb2.ListItemsRequest(query="_")).items == []
        assert len(api.ListItems(node_service_pb2.ListItemsRequest(query="")).items) == 1
        raw = node_service_pb2.GetCaseRequest(case_no="x").SerializeToString().replace(b"x", b"\xff")
        channel = grpc.insecure_channel(tree[COUNTY][1].ports["api"])
        try:
            call = channel.unary_unary(
                "/yiwang.v1.NodeService/GetCase",
                request_serializer=lambda b: b,
                response_deserializer=node_service_pb2.CaseResponse.FromString,
            )
            assert "does not decode" in refused(lambda: call(raw), grpc.StatusCode.INVALID_ARGUMENT)
        finally:
            channel.close()

    attack_and_check(tree, api, attacks)


def test_state_refusals_are_failed_precondition(
    tree: dict[str, tuple[Path, Running]], api: node_service_pb2_grpc.NodeServiceStub
) -> None:
    case_no = _filed(api)

    def attacks() -> None:
        decide = case_pb2.CaseEntry(case_no=case_no, decided=case_pb2.Decided(approved=True))
        details = refused(
            lambda: api.ActOnCase(node_service_pb2.ActOnCaseRequest(change=decide)), grpc.StatusCode.FAILED_PRECONDITION
        )
        assert "not allowed" in details

    attack_and_check(tree, api, attacks)


def test_a_retried_request_files_one_case_and_replies_show_the_due_date(
    tree: dict[str, tuple[Path, Running]], api: node_service_pb2_grpc.NodeServiceStub
) -> None:
    home = tree[COUNTY][0]
    before = db_counts(home)
    request = file_request(request_id="window-7:0001")
    first, again = api.FileCase(request), api.FileCase(request)
    assert first.outline.case_no == again.outline.case_no
    after = db_counts(home)
    assert after["cases"] == before["cases"] + 1 and after["client_requests"] == before["client_requests"] + 1
    other = file_request(channel="2", request_id="window-7:0001")
    assert "another request" in refused(lambda: api.FileCase(other), grpc.StatusCode.INVALID_ARGUMENT)
    accept = case_pb2.CaseEntry(case_no=first.outline.case_no, accepted=case_pb2.Accepted())
    reply = api.ActOnCase(node_service_pb2.ActOnCaseRequest(change=accept, request_id="window-7:0002"))
    shown = api.GetCase(node_service_pb2.GetCaseRequest(case_no=first.outline.case_no))
    assert reply.outline.due_date and reply.outline == shown.outline
    retry = api.ActOnCase(node_service_pb2.ActOnCaseRequest(change=accept, request_id="window-7:0002"))
    assert retry.outline == shown.outline  # not a second acceptance (which would be refused)
    canary(tree, api)


def test_the_enrollment_port_throttles_bogus_tokens(
    tree: dict[str, tuple[Path, Running]], api: node_service_pb2_grpc.NodeServiceStub
) -> None:
    home, running = tree[COUNTY]
    chain_pem = (home / "chain.pem").read_bytes()
    creds = grpc.ssl_channel_credentials(root_certificates=chain_pem)
    options = [("grpc.ssl_target_name_override", dns_name(COUNTY))]

    def alarms() -> int:
        with sqlite3.connect(home / "yiwang.db") as conn:
            return int(conn.execute("select count(*) from alarms").fetchone()[0])

    def attacks() -> None:
        before = alarms()
        statuses = []
        with grpc.secure_channel(running.ports["enroll"], creds, options=options) as channel:
            stub = federation_pb2_grpc.EnrollmentServiceStub(channel)
            for _ in range(40):
                request = federation_pb2.EnrollRequest(code="511602001001", token_secret="00" * 24, csr_der=b"x")
                try:
                    stub.Enroll(request, timeout=10)
                except grpc.RpcError as exc:
                    statuses.append(exc.code())
            huge = federation_pb2.EnrollRequest(code="5" * 1_200_000, token_secret="00", csr_der=b"x")
            with pytest.raises(grpc.RpcError) as err:
                stub.Enroll(huge, timeout=10)
            assert err.value.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED)
        assert grpc.StatusCode.RESOURCE_EXHAUSTED in statuses
        assert statuses.count(grpc.StatusCode.PERMISSION_DENIED) <= 10  # the burst, then throttled
        assert alarms() - before <= 11  # one per admitted bogus token, one for the throttling

    attack_and_check(tree, api, attacks)
    with sqlite3.connect(home / "yiwang.db") as conn:
        details = [d for (d,) in conn.execute("select detail from alarms")]
    assert all(len(d) <= MAX_DETAIL and "\x00" not in d for d in details)


def test_operations_mistakes_are_refused_and_change_nothing(
    tree: dict[str, tuple[Path, Running]], api: node_service_pb2_grpc.NodeServiceStub
) -> None:
    county, city = tree[COUNTY][0], tree[CITY][0]

    def attacks() -> None:
        run_file = (county / "run.json").read_text()
        second = cli(county, "run", expect=5)
        assert "another `yiwang run`" in second.stderr and (county / "run.json").read_text() == run_file
        calendar = cli(county, "calendar", "publish", "2025", "--holiday", "2025-01-01", expect=8)
        assert "only the province" in calendar.stderr
        token = cli(city, "enroll", "token", "--child", "511699000000", expect=2)
        assert "no division" in token.stderr

    attack_and_check(tree, api, attacks)


def test_an_offer_or_notice_to_no_reachable_division_is_refused(
    tree: dict[str, tuple[Path, Running]], api: node_service_pb2_grpc.NodeServiceStub
) -> None:
    """The finding that wedged a county's link: an offer to 000000000000, or to a province with
    no anchored root, or to a division no list knows, is refused at the command."""
    case_no = _filed(api)
    county = tree[COUNTY][0]

    def offer(to: str) -> node_service_pb2.ActOnCaseRequest:
        change = case_pb2.CaseEntry(case_no=case_no, custody_offered=case_pb2.CustodyOffered(to=to, purpose="process"))
        return node_service_pb2.ActOnCaseRequest(change=change)

    def attacks() -> None:
        for to in ("000000000000", "500000000000", "511602999999"):
            request = offer(to)
            refused(lambda: api.ActOnCase(request), grpc.StatusCode.INVALID_ARGUMENT)  # noqa: B023
        notice = cli(county, "notice", "send", "--to", "511602999999", "--title", "t", "x", expect=2)
        assert "no division" in notice.stderr, notice.stderr

    attack_and_check(tree, api, attacks)


def test_a_copy_the_next_hop_refuses_is_a_dead_letter_and_never_blocks_the_link(
    tree: dict[str, tuple[Path, Running]], api: node_service_pb2_grpc.NodeServiceStub
) -> None:
    """A copy the city will never store (written by an older or broken version: its origin's
    signature names another addressee) is parked at the county with an alarm; the notice sent
    after it arrives, and an admin retries or discards the dead letter from the CLI."""
    county, city = tree[COUNTY][0], tree[CITY][0]
    cli(county, "notice", "send", "--to", CITY, "--title", "先发", "x")
    wait_for(lambda: any(n["title"] == "先发" for n in cli_json(city, "notice", "list")), 60, "the first notice")
    with sqlite3.connect(county / "yiwang.db") as conn:
        seq, wire, at_us = conn.execute(
            "select seq, wire, received_at_us from addressed where origin=? and addressee=? order by seq desc",
            (COUNTY, CITY),
        ).fetchone()
        forged = federation_pb2.AddressedEntry.FromString(wire)
        forged.addressee = PROVINCE  # signed for the city: the signature no longer verifies
        conn.execute(
            "insert into addressed (origin, stream, seq, addressee, next_hop, state, kind, subject,"
            " received_at_us, wire, held_ns, refusal)"
            " values (?, 'case', ?, ?, ?, 'outbox', 'notice_sent', '', ?, ?, 0, '')",
            (COUNTY, seq, PROVINCE, CITY, at_us + 1, forged.SerializeToString()),
        )
    copy = f"{COUNTY}/case/{seq}/{PROVINCE}"
    cli(county, "notice", "send", "--to", CITY, "--title", "后发", "y")
    wait_for(lambda: any(n["title"] == "后发" for n in cli_json(city, "notice", "list")), 60, "the notice behind it")
    [dead] = wait_for(lambda: cli_json(county, "mail", "dead"), 30, "the dead letter")
    assert dead["copy"] == copy and dead["next_hop"] == CITY
    assert dead["reason"].startswith("BadSignature") and "signature does not verify" in dead["reason"]
    alarms = [a for a in cli_json(county, "alarms", "list") if a["kind"] == "DeadLetter"]
    assert alarms and alarms[0]["peer"] == CITY and copy.rsplit("/", 1)[0] in alarms[0]["detail"]
    shown = cli(county, "mail", "dead").stdout
    assert "Refused by" in shown and copy in shown.replace("\n", "").replace("│", "").replace(" ", "")
    # retried: sent again, refused again, dead again (a second alarm)
    assert cli_json(county, "mail", "retry", copy) == {"retried": 1}
    wait_for(
        lambda: len([a for a in cli_json(county, "alarms", "list") if a["kind"] == "DeadLetter"]) == 2,
        60,
        "the retried copy refused again",
    )
    assert [d["copy"] for d in cli_json(county, "mail", "dead")] == [copy]
    bad = cli(county, "mail", "retry", "no-such-copy", expect=2)
    assert "ORIGIN/STREAM/SEQ/ADDRESSEE" in bad.stderr
    assert cli_json(county, "mail", "discard", copy) == {"discarded": 1}
    assert cli_json(county, "mail", "dead") == [] and cli_json(county, "mail", "retry", "--all") == {"retried": 0}
    canary(tree, api)


def test_an_offer_is_withdrawn_only_after_its_answer_date(
    tree: dict[str, tuple[Path, Running]], api: node_service_pb2_grpc.NodeServiceStub
) -> None:
    """Before the offer's answer date (custody.answer_days working days) the offering county
    cannot withdraw it, through the API or the CLI; the city can still take it."""
    case_no = _filed(api)
    county, city = tree[COUNTY][0], tree[CITY][0]
    offer = case_pb2.CaseEntry(case_no=case_no, custody_offered=case_pb2.CustodyOffered(to=CITY, purpose="escalate"))
    api.ActOnCase(node_service_pb2.ActOnCaseRequest(change=offer), timeout=30)
    shown = case_json(county, case_no)
    assert shown is not None and shown["offered_to"] == CITY

    def attacks() -> None:
        withdraw = case_pb2.CaseEntry(case_no=case_no, custody_withdrawn=case_pb2.CustodyWithdrawn(to=CITY))
        request = node_service_pb2.ActOnCaseRequest(change=withdraw)
        details = refused(lambda: api.ActOnCase(request), grpc.StatusCode.FAILED_PRECONDITION)
        assert "may answer the offer until" in details
        shown = cli(county, "case", "withdraw-offer", case_no, expect=4)
        assert "withdraw it after that day" in shown.stderr

    attack_and_check(tree, api, attacks)
    wait_for(lambda: case_json(city, case_no), 60, "the offer at the city")
    cli(city, "case", "take", case_no)  # within the window
    wait_for(lambda: (case_json(county, case_no) or {}).get("custodian") == CITY, 60, "the county to see it taken")
