"""The local NodeService over real gRPC on 127.0.0.1: every RPC, error statuses, nothing
written on refusal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from yiwang.v1 import case_pb2, node_service_pb2, node_service_pb2_grpc

from federation.transport.errors_grpc import STATUS_OF
from federation.transport.local_api import NodeServicer, serve
from node.context import Node
from node.domain.roles import Role
from tests.conftest import licence_item
from tests.helpers import api_stub, counts

PERSON: dict[str, Any] = {
    "applicant_name": "李雷",
    "applicant_id": "360426199101010071",
    "applicant_phone": "13611112222",
}


@pytest.fixture
def stub(node: Node) -> Iterator[node_service_pb2_grpc.NodeServiceStub]:
    node.catalog.import_items([licence_item()])
    server, port = serve(
        NodeServicer(node.catalog, node.cases, node.audit, node.principals, node.stats, node.joint_reviews)
    )
    _, token = node.principals.add_client("window-software", frozenset(Role) - {Role.AGENT})
    channel, api = api_stub(f"127.0.0.1:{port}", token)
    try:
        yield api
    finally:
        channel.close()
        server.stop(grace=None).wait()


def test_the_servicer_implements_every_rpc_of_the_contract() -> None:
    service = node_service_pb2.DESCRIPTOR.services_by_name["NodeService"]
    for method in service.methods:
        assert method.name in NodeServicer.__dict__, f"NodeServicer lacks {method.name}"


def test_catalog_rpcs(stub: node_service_pb2_grpc.NodeServiceStub) -> None:
    code = licence_item().implementation_code
    assert stub.GetItem(node_service_pb2.GetItemRequest(implementation_code=code)).name == "教师资格认定"
    listed = stub.ListItems(node_service_pb2.ListItemsRequest(query="教师"))
    assert [i.implementation_code for i in listed.items] == [code]


def test_a_case_through_the_local_api(node: Node, stub: node_service_pb2_grpc.NodeServiceStub) -> None:
    code = licence_item().implementation_code
    filed = stub.FileCase(node_service_pb2.FileCaseRequest(item_code=code, actor="window-software", **PERSON)).outline
    assert filed.status == "filed" and filed.limit_days == 10
    for change in (
        case_pb2.CaseEntry(case_no=filed.case_no, accepted=case_pb2.Accepted()),
        case_pb2.CaseEntry(case_no=filed.case_no, decided=case_pb2.Decided(approved=True, result_ref="R")),
        case_pb2.CaseEntry(case_no=filed.case_no, delivered=case_pb2.Delivered(method="post")),
    ):
        stub.ActOnCase(node_service_pb2.ActOnCaseRequest(change=change))
    got = stub.GetCase(node_service_pb2.GetCaseRequest(case_no=filed.case_no)).outline
    assert got.status == "delivered" and got.due_date == "2026-03-16"
    listed = stub.ListCases(node_service_pb2.ListCasesRequest(status="delivered"))
    assert [c.case_no for c in listed.cases] == [filed.case_no]
    heads = stub.GetHeads(node_service_pb2.GetHeadsRequest()).heads
    assert {(h.stream, h.seq) for h in heads} == {("public", 1), ("case", 4)}
    assert all(h.signature.alg == "p256-sha256" for h in heads)
    assert node.cases.applicant(filed.case_no).name == "李雷"
    # every step is recorded as the authenticated client's
    assert {s.actor for s in node.cases.show(filed.case_no).timeline} == {"window-software"}


@pytest.mark.parametrize(
    ("call", "status"),
    [
        (lambda s: s.GetItem(node_service_pb2.GetItemRequest(implementation_code="nope")), grpc.StatusCode.NOT_FOUND),
        (
            lambda s: s.FileCase(
                node_service_pb2.FileCaseRequest(
                    item_code=licence_item().implementation_code, **{**PERSON, "applicant_id": "360426199101010072"}
                )
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            lambda s: s.ActOnCase(node_service_pb2.ActOnCaseRequest(change=case_pb2.CaseEntry(case_no="x"))),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            lambda s: s.ActOnCase(
                node_service_pb2.ActOnCaseRequest(
                    change=case_pb2.CaseEntry(case_no="x", delivered=case_pb2.Delivered())
                )
            ),
            grpc.StatusCode.NOT_FOUND,
        ),
    ],
)
def test_refusals_map_to_one_status_and_write_nothing(node: Node, stub, call, status) -> None:  # type: ignore[no-untyped-def]
    before = counts(node)
    with pytest.raises(grpc.RpcError) as err:
        call(stub)
    assert err.value.code() == status
    assert "360426199101010072" not in (err.value.details() or "")
    assert counts(node) == before


def test_an_illegal_transition_is_failed_precondition(node: Node, stub: node_service_pb2_grpc.NodeServiceStub) -> None:
    code = licence_item().implementation_code
    filed = stub.FileCase(node_service_pb2.FileCaseRequest(item_code=code, **PERSON)).outline
    before = counts(node)
    with pytest.raises(grpc.RpcError) as err:
        stub.ActOnCase(
            node_service_pb2.ActOnCaseRequest(
                change=case_pb2.CaseEntry(case_no=filed.case_no, delivered=case_pb2.Delivered())
            )
        )
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "allowed now: accept" in (err.value.details() or "")
    assert counts(node) == before


def test_every_error_class_has_a_status() -> None:
    from node.domain import errors

    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.YiwangError)]
    for cls in classes:
        assert any(issubclass(cls, mapped) for mapped, _ in STATUS_OF), cls
