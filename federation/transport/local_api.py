"""The local gRPC NodeService: window software and department systems use a node through it.

It binds 127.0.0.1 unless told otherwise and calls the same use cases as the CLI; the
applicant's data in FileCase is sealed by the case service before anything is stored and never
logged. Errors map to one gRPC status each (STATUS_OF below); the message is the same one line
the CLI prints.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent import futures
from typing import TypeVar

import grpc
from yiwang.v1 import catalog_pb2, node_service_pb2, node_service_pb2_grpc

from federation.transport.errors_grpc import abort_with
from federation.wire.codec import head_to_pb
from federation.wire.codec_cases import command_from_pb, outline_to_pb
from federation.wire.codec_catalog import item_to_pb
from node import logs
from node.domain.errors import (
    InvalidInput,
    SetupError,
    YiwangError,
)
from node.domain.lifecycle import CaseState, File
from node.services.audit import AuditService
from node.services.cases import Applicant, CaseService, FileRequest
from node.services.catalog import CatalogService

MAX_LIST = 1000
R = TypeVar("R")


class NodeServicer(node_service_pb2_grpc.NodeServiceServicer):
    def __init__(self, catalog: CatalogService, cases: CaseService, audit: AuditService) -> None:
        self.catalog, self.cases, self.audit = catalog, cases, audit
        self.log = logs.get("local_api")

    def _call(self, context: grpc.ServicerContext, rpc: str, fn: Callable[[], R]) -> R:
        try:
            return fn()
        except YiwangError as exc:
            self.log.info("local_api_refused", rpc=rpc, error=type(exc).__name__)
            abort_with(context, exc)

    @staticmethod
    def _outline(state: CaseState) -> node_service_pb2.CaseResponse:
        return node_service_pb2.CaseResponse(outline=outline_to_pb(state))

    def GetItem(
        self, request: node_service_pb2.GetItemRequest, context: grpc.ServicerContext
    ) -> catalog_pb2.CatalogItem:
        return self._call(context, "GetItem", lambda: item_to_pb(self.catalog.get(request.implementation_code)))

    def ListItems(
        self, request: node_service_pb2.ListItemsRequest, context: grpc.ServicerContext
    ) -> node_service_pb2.ListItemsResponse:
        limit = min(request.limit or 50, MAX_LIST)
        items = self._call(context, "ListItems", lambda: self.catalog.list(request.query, limit, request.after))
        return node_service_pb2.ListItemsResponse(items=[item_to_pb(i) for i in items])

    def FileCase(
        self, request: node_service_pb2.FileCaseRequest, context: grpc.ServicerContext
    ) -> node_service_pb2.CaseResponse:
        applicant = Applicant(
            request.applicant_kind or "1",
            request.applicant_name,
            request.applicant_id,
            request.applicant_phone,
            request.applicant_address,
        )
        file_request = FileRequest(request.item_code, applicant, request.channel or "1", request.agent, request.consent)
        state = self._call(context, "FileCase", lambda: self.cases.file(file_request, request.actor or "api"))
        return self._outline(state)

    def ActOnCase(
        self, request: node_service_pb2.ActOnCaseRequest, context: grpc.ServicerContext
    ) -> node_service_pb2.CaseResponse:
        def act() -> CaseState:
            cmd = command_from_pb(request.change)
            if cmd is None or isinstance(cmd, File):
                raise InvalidInput(
                    "change", "set exactly one state change (accepted ... evaluated); use FileCase to file"
                )
            return self.cases.act(request.change.case_no, cmd, request.change.actor or "api")

        return self._outline(self._call(context, "ActOnCase", act))

    def GetCase(
        self, request: node_service_pb2.GetCaseRequest, context: grpc.ServicerContext
    ) -> node_service_pb2.CaseResponse:
        view = self._call(context, "GetCase", lambda: self.cases.show(request.case_no))
        outline = outline_to_pb(view.state, view.due_date, view.due_provisional)
        return node_service_pb2.CaseResponse(outline=outline)

    def ListCases(
        self, request: node_service_pb2.ListCasesRequest, context: grpc.ServicerContext
    ) -> node_service_pb2.ListCasesResponse:
        limit = min(request.limit or 50, MAX_LIST)
        views = self._call(context, "ListCases", lambda: self.cases.list(request.status, limit, request.after))
        return node_service_pb2.ListCasesResponse(
            cases=[outline_to_pb(v.state, v.due_date, v.due_provisional) for v in views]
        )

    def GetHeads(
        self, request: node_service_pb2.GetHeadsRequest, context: grpc.ServicerContext
    ) -> node_service_pb2.GetHeadsResponse:
        heads = self._call(context, "GetHeads", self.audit.heads)
        return node_service_pb2.GetHeadsResponse(heads=[head_to_pb(h) for h in heads])


def serve(servicer: NodeServicer, address: str = "127.0.0.1:0", workers: int = 8) -> tuple[grpc.Server, int]:
    """Start the NodeService on `address`; returns the server and the bound port."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers))
    node_service_pb2_grpc.add_NodeServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port(address)
    if port == 0:
        raise SetupError(f"cannot bind the local API to {address}: is the port in use?")
    server.start()
    return server, port
