"""Identities and roles (issue 10): each role can do exactly what node.domain.roles' table says,
through the local API and the CLI; an unauthenticated or wrong-role call writes nothing; the
log's actor is the authenticated principal."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from yiwang.v1 import case_pb2, node_service_pb2, node_service_pb2_grpc

from federation.transport.local_api import NodeServicer, serve
from node.context import Node
from node.domain.errors import Unauthenticated
from node.domain.roles import ROLE_TABLE, Action, Role
from tests.conftest import licence_item
from tests.fedtools import cli, cli_json, portal_item
from tests.helpers import api_stub, counts

PERSON = {"applicant_name": "李雷", "applicant_id": "360426199101010071"}
ITEM = licence_item().implementation_code


@pytest.fixture
def served(node: Node) -> Iterator[tuple[Node, str]]:
    node.catalog.import_items([licence_item()])
    server, port = serve(
        NodeServicer(node.catalog, node.cases, node.audit, node.principals, node.stats, node.joint_reviews)
    )
    try:
        yield node, f"127.0.0.1:{port}"
    finally:
        server.stop(grace=None).wait()


def _filed(node: Node) -> str:
    return node.cases.file_many([_request()], "setup")[0].case_no


def _request() -> Any:
    from node.services.cases import Applicant, FileRequest

    return FileRequest(ITEM, Applicant("1", PERSON["applicant_name"], PERSON["applicant_id"]))


def _file_request() -> node_service_pb2.FileCaseRequest:
    return node_service_pb2.FileCaseRequest(
        item_code=ITEM, applicant_name=PERSON["applicant_name"], applicant_id=PERSON["applicant_id"]
    )


def _calls(case_no: str) -> dict[Action, Callable[[node_service_pb2_grpc.NodeServiceStub], object]]:
    """One call per action the local API offers."""

    def act(change: case_pb2.CaseEntry) -> Callable[[node_service_pb2_grpc.NodeServiceStub], object]:
        return lambda api: api.ActOnCase(node_service_pb2.ActOnCaseRequest(change=change))

    return {
        Action.READ_CATALOG: lambda api: api.ListItems(node_service_pb2.ListItemsRequest()),
        Action.READ_CASES: lambda api: api.GetCase(node_service_pb2.GetCaseRequest(case_no=case_no)),
        Action.READ_AUDIT: lambda api: api.GetHeads(node_service_pb2.GetHeadsRequest()),
        Action.READ_STATS: lambda api: api.GetStats(node_service_pb2.GetStatsRequest(period="2026")),
        Action.FILE: lambda api: api.FileCase(_file_request()),
        Action.ACCEPT: act(case_pb2.CaseEntry(case_no=case_no, accepted=case_pb2.Accepted())),
        Action.REVIEW: act(case_pb2.CaseEntry(case_no=case_no, review_started=case_pb2.ReviewStarted())),
        Action.DECIDE: act(case_pb2.CaseEntry(case_no=case_no, decided=case_pb2.Decided(approved=True))),
    }


@pytest.mark.parametrize("role", list(Role), ids=str)
def test_each_role_does_exactly_what_the_table_allows(served: tuple[Node, str], role: Role) -> None:
    node, address = served
    _, token = node.principals.add_client(f"client-{role}", frozenset({role}))
    channel, api = api_stub(address, token)
    try:
        for action, call in _calls(_filed(node)).items():
            before = counts(node)
            if action in ROLE_TABLE[role]:
                try:
                    call(api)
                except grpc.RpcError as exc:  # allowed, but the case may not be in that state
                    assert exc.code() == grpc.StatusCode.FAILED_PRECONDITION, (role, action, exc.details())
            else:
                with pytest.raises(grpc.RpcError) as err:
                    call(api)
                assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED, (role, action)
                assert f"client-{role}" in (err.value.details() or "")
                assert counts(node) == before
    finally:
        channel.close()


def test_no_token_a_bogus_one_or_a_disabled_client_is_refused(served: tuple[Node, str]) -> None:
    node, address = served
    _, token = node.principals.add_client("window", frozenset({Role.CLERK}))
    before = counts(node)
    file = _file_request()
    with grpc.insecure_channel(address) as plain:
        with pytest.raises(grpc.RpcError) as err:
            node_service_pb2_grpc.NodeServiceStub(plain).FileCase(file)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED and "Bearer" in (err.value.details() or "")
    for wrong in ("ywc1.not-a-token", token + "x", "Basic abc"):
        channel, api = api_stub(address, wrong)
        with pytest.raises(grpc.RpcError) as err:
            api.FileCase(file)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        channel.close()
    assert counts(node) == before
    channel, api = api_stub(address, token)
    filed = api.FileCase(file).outline.case_no
    node.principals.disable("window")
    with pytest.raises(grpc.RpcError) as err:
        api.GetCase(node_service_pb2.GetCaseRequest(case_no=filed))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    channel.close()
    # the log names the client that filed, whatever the request might have claimed
    assert [s.actor for s in node.cases.show(filed).timeline] == ["window"]


def test_passwords_are_argon2_hashes_and_logins_fail_alike(node: Node) -> None:
    node.principals.add_user("王芳", frozenset({Role.REVIEWER}), "correct horse")
    with node.store.read() as tx:
        row = tx.principal("王芳")
    assert row is not None and row.secret.startswith("$argon2id$") and "correct horse" not in row.secret
    assert node.principals.login("王芳", "correct horse").roles == {Role.REVIEWER}
    messages = set()
    for name, password in (("王芳", "wrong horse"), ("nobody", "correct horse")):
        with pytest.raises(Unauthenticated) as err:
            node.principals.login(name, password)
        messages.add(str(err.value))
    assert len(messages) == 1  # the same answer: no telling which accounts exist


def test_the_cli_acts_as_the_named_account_with_its_roles(tmp_path: Path) -> None:
    home = tmp_path / "county"
    cli(home, "init", "--code", "511602000000")
    items = tmp_path / "items.json"
    items.write_text(json.dumps([portal_item("511602000000")]), encoding="utf-8")
    cli(home, "catalog", "import", str(items))
    code = str(portal_item("511602000000")["implementation_code"])
    proc = cli(home, "users", "add", "王芳", "--role", "clerk", "--password-stdin", expect=2)
    assert "standard input is empty" in proc.stderr
    add = ["users", "add", "王芳", "--role", "clerk", "--password-stdin", "-d", str(home)]
    subprocess.run([sys.executable, "-m", "node.cli.app", *add], input="correct horse\n", text=True, check=True)
    person = ["--name", "李雷", "--id", PERSON["applicant_id"]]
    case_no = cli_json(home, "case", "file", "--item", code, *person, "--actor", "王芳")["case_no"]
    cli(home, "case", "accept", case_no, "--actor", "王芳")
    denied = cli(home, "case", "decide", case_no, "--approve", "--actor", "王芳", expect=8)
    assert "may not decide" in denied.stderr
    assert cli(home, "case", "review", case_no, "--actor", "someone-else", expect=3).stderr
    cli(home, "case", "review", case_no)  # the administrator, by file permissions
    actors = [s["actor"] for s in cli_json(home, "case", "show", case_no)["timeline"]]
    assert actors[:2] == ["王芳", "王芳"] and actors[2].startswith("admin:")
