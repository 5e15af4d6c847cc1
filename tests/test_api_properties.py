"""Random NodeService requests (issue 10): random and control characters, huge sizes, random
codes and random combinations of fields, sent over real gRPC to a node. Every answer is a
success or one of the documented refusal statuses (docs/protocol.md), never INTERNAL or
UNKNOWN, and a refused request changes no row."""

from __future__ import annotations

import os
from collections.abc import Iterator

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from yiwang.v1 import case_pb2, node_service_pb2, node_service_pb2_grpc

from federation.transport.local_api import NodeServicer, serve
from node.context import Node
from node.domain.roles import Role
from tests.conftest import licence_item
from tests.helpers import api_stub, counts

REFUSALS = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.PERMISSION_DENIED,
}
EXAMPLES = int(os.environ.get("YIWANG_API_EXAMPLES", "150"))
ITEM = licence_item().implementation_code

# text that a caller may send: any Unicode (control characters and surrogate-free planes
# included), sometimes long, sometimes one of the values that mean something
text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=900, max_size=5000),
    st.sampled_from(["", "%", "_", "\x00", "1", "511602000000", "000000000000", ITEM, "王小明", "11010519491231002X"]),
)
changes = st.sampled_from(
    [
        "accepted",
        "not_accepted",
        "review_started",
        "supplement_requested",
        "supplemented",
        "suspended",
        "resumed",
        "decided",
        "delivered",
        "withdrawn",
        "evaluated",
        "custody_offered",
        "custody_accepted",
        "custody_declined",
        "custody_withdrawn",
        "filed",
        "",
    ]
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Node, node_service_pb2_grpc.NodeServiceStub]]:
    node = Node.init(tmp_path_factory.mktemp("api-properties") / "county", "511602000000")
    node.catalog.import_items([licence_item()])
    server, port = serve(
        NodeServicer(node.catalog, node.cases, node.audit, node.principals, node.stats, node.joint_reviews)
    )
    _, token = node.principals.add_client("fuzzer", frozenset(Role))
    channel, api = api_stub(f"127.0.0.1:{port}", token)
    try:
        yield node, api
    finally:
        channel.close()
        server.stop(grace=None).wait()
        node.close()


def _change(kind: str, case_no: str, words: str, number: int) -> case_pb2.CaseEntry:
    entry = case_pb2.CaseEntry(case_no=case_no, actor=words[:80])
    if kind == "filed":
        entry.filed.outline.case_no = case_no
    elif kind:
        message = getattr(entry, kind)
        for field in message.DESCRIPTOR.fields:
            if field.type == field.TYPE_STRING and not field.is_repeated:
                setattr(message, field.name, words)
            elif field.type == field.TYPE_STRING:
                getattr(message, field.name).append(words)
            elif field.type in (field.TYPE_INT32, field.TYPE_INT64):
                setattr(message, field.name, number)
            elif field.type in (field.TYPE_UINT32, field.TYPE_UINT64):
                setattr(message, field.name, abs(number))
            elif field.type == field.TYPE_BOOL:
                setattr(message, field.name, bool(number % 2))
        if not message.DESCRIPTOR.fields:
            message.SetInParent()
    return entry


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    rpc=st.sampled_from(["FileCase", "ActOnCase", "GetCase", "ListItems", "ListCases", "GetItem"]),
    a=text,
    b=text,
    c=text,
    kind=changes,
    number=st.integers(-(2**31), 2**31 - 1),
    existing=st.booleans(),
)
def test_every_answer_is_documented_and_a_refusal_writes_nothing(
    served: tuple[Node, node_service_pb2_grpc.NodeServiceStub],
    rpc: str,
    a: str,
    b: str,
    c: str,
    kind: str,
    number: int,
    existing: bool,
) -> None:
    node, stub = served
    listed = node.cases.list(limit=1)
    case_no = listed[0].state.case_no if existing and listed else a
    before = counts(node)
    try:
        if rpc == "FileCase":
            request = node_service_pb2.FileCaseRequest(
                item_code=ITEM if existing else a,
                applicant_name=b,
                applicant_id=c if number % 3 else "11010519491231002X",
                channel=str(number % 10),
                actor=c[:100],
                agent=a if number % 5 == 0 else "",
                request_id=b[:70] if number % 7 == 0 else "",
            )
            stub.FileCase(request, timeout=30)
        elif rpc == "ActOnCase":
            change = _change(kind, case_no, b, number)
            stub.ActOnCase(node_service_pb2.ActOnCaseRequest(change=change, request_id=c[:70]), timeout=30)
        elif rpc == "GetCase":
            stub.GetCase(node_service_pb2.GetCaseRequest(case_no=case_no), timeout=30)
        elif rpc == "ListItems":
            stub.ListItems(node_service_pb2.ListItemsRequest(query=a, after=b, limit=abs(number) % 2000), timeout=30)
        elif rpc == "ListCases":
            stub.ListCases(node_service_pb2.ListCasesRequest(status=a, after=b, limit=abs(number) % 2000), timeout=30)
        else:
            stub.GetItem(node_service_pb2.GetItemRequest(implementation_code=a), timeout=30)
    except grpc.RpcError as exc:
        code, details = exc.code(), exc.details() or ""
        assert code in REFUSALS, f"{rpc}: {code} {details[:200]}"
        assert len(details) <= 300, details[:200]
        assert counts(node) == before


def test_docs_list_every_bound_as_the_code_has_it() -> None:
    """docs/protocol.md's table of bounds is the one in node/domain/bounds.py."""
    from node.domain.bounds import BOUNDS
    from tests.conftest import ROOT

    doc = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
    for name, bound in BOUNDS.items():
        assert f"| `{name}` | {bound.max_chars} | {bound.max_bytes} | {bound.chars.value} |" in doc, name


def test_each_refusal_class_has_its_documented_status() -> None:
    from federation.transport.errors_grpc import status_of
    from node.domain.errors import (
        CaseConflict,
        Forbidden,
        IllegalTransition,
        InvalidInput,
        NotCustodian,
        NotFound,
    )

    assert status_of(InvalidInput("f", "r")) == grpc.StatusCode.INVALID_ARGUMENT
    assert status_of(NotFound("case", "1")) == grpc.StatusCode.NOT_FOUND
    for conflict in (
        IllegalTransition("1", "filed", "deliver", []),
        NotCustodian("1", "a", "b"),
        CaseConflict("f", "r"),
    ):
        assert status_of(conflict) == grpc.StatusCode.FAILED_PRECONDITION
    assert status_of(Forbidden("no")) == grpc.StatusCode.PERMISSION_DENIED
