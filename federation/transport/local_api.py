"""The local gRPC NodeService: window software and department systems use a node through it.

It binds 127.0.0.1 unless told otherwise and calls the same use cases as the CLI; the
applicant's data in FileCase is sealed by the case service before anything is stored and never
logged. Errors map to one gRPC status each (errors_grpc.STATUS_OF; docs/protocol.md); the
message is the same one line the CLI prints. A request that does not decode (a text field with
invalid UTF-8) is INVALID_ARGUMENT; a fault of ours is INTERNAL with no detail, which goes to
the node's log by type only: no SQL, stack or echoed input reaches a caller.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent import futures
from typing import Any, TypeVar

import grpc
from google.protobuf import message_factory
from google.protobuf.message import DecodeError, Message
from yiwang.v1 import catalog_pb2, node_service_pb2, node_service_pb2_grpc

from federation.transport.errors_grpc import abort_with
from federation.wire.codec import head_to_pb
from federation.wire.codec_cases import command_from_pb, outline_to_pb
from federation.wire.codec_catalog import item_to_pb
from node import logs
from node.domain.errors import InvalidInput, SetupError, Unauthenticated, YiwangError
from node.domain.joint_review import Verdict
from node.domain.lifecycle import CaseState, File
from node.domain.roles import Action, Principal, Role, action_of, authorize
from node.domain.timelimits import local_date
from node.services.audit import AuditService
from node.services.cases import Applicant, CaseService, FileRequest
from node.services.catalog import CatalogService
from node.services.joint_reviews import JointReviewService
from node.services.principals import PrincipalService
from node.services.stats import Period, Query, Report, StatsService
from node.store.tables import JointReviewRow

MAX_LIST = 1000
R = TypeVar("R")


AUTH_OFF = None  # NodeServicer(principals=AUTH_OFF): no authentication (bench/local_api.py's baseline only)


class NodeServicer(node_service_pb2_grpc.NodeServiceServicer):
    """Every call is authenticated by the client's bearer token (metadata `authorization:
    Bearer ywc1....`, made by `yiwang users add NAME --client`) and authorised by the role table
    (node.domain.roles); the actor recorded is the client's name, not the request's `actor`."""

    def __init__(
        self,
        catalog: CatalogService,
        cases: CaseService,
        audit: AuditService,
        principals: PrincipalService | None,
        stats: StatsService,
        reviews: JointReviewService,
    ) -> None:
        self.catalog, self.cases, self.audit, self.principals = catalog, cases, audit, principals
        self.stats, self.reviews = stats, reviews
        self.log = logs.get("local_api")

    def _principal(self, context: grpc.ServicerContext) -> Principal:
        if self.principals is None:
            return _ANYONE
        for key, value in context.invocation_metadata() or ():
            if key == "authorization" and isinstance(value, str) and value.startswith("Bearer "):
                return self.principals.by_token(value.removeprefix("Bearer ").strip())
        raise Unauthenticated(
            "no client token: send metadata authorization: Bearer ywc1.... (yiwang users add NAME --client)"
        )

    def _call(
        self, context: grpc.ServicerContext, rpc: str, action: Action, fn: Callable[[str], R], claimed: str = ""
    ) -> R:
        """Authenticate, authorise `action`, then run `fn` with the actor to record: the client's
        name. A request that names another actor (`claimed`) is refused, not silently rewritten."""
        try:
            actor = authorize(self._principal(context), action)
            if claimed and claimed != actor:
                raise InvalidInput("actor", "is the authenticated client's name; leave it empty")
            return fn(actor)
        except YiwangError as exc:
            self.log.info("local_api_refused", rpc=rpc, error=type(exc).__name__)
            abort_with(context, exc)

    def _outline(self, state: CaseState) -> node_service_pb2.CaseResponse:
        """A write's reply: the case as GetCase shows it, due date included."""
        stored = self.cases.outline(state.case_no)
        return node_service_pb2.CaseResponse(
            outline=outline_to_pb(stored.state, stored.due_date, stored.due_provisional)
        )

    def GetItem(
        self, request: node_service_pb2.GetItemRequest, context: grpc.ServicerContext
    ) -> catalog_pb2.CatalogItem:
        item = self._call(
            context, "GetItem", Action.READ_CATALOG, lambda _: self.catalog.get(request.implementation_code)
        )
        return item_to_pb(item)

    def ListItems(
        self, request: node_service_pb2.ListItemsRequest, context: grpc.ServicerContext
    ) -> node_service_pb2.ListItemsResponse:
        limit = min(request.limit or 50, MAX_LIST)
        items = self._call(
            context, "ListItems", Action.READ_CATALOG, lambda _: self.catalog.list(request.query, limit, request.after)
        )
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
        action = Action.FILE_ERRAND if request.agent else Action.FILE
        state = self._call(
            context,
            "FileCase",
            action,
            lambda actor: self.cases.file(file_request, actor, request.request_id),
            claimed=request.actor,
        )
        return self._outline(state)

    def ActOnCase(
        self, request: node_service_pb2.ActOnCaseRequest, context: grpc.ServicerContext
    ) -> node_service_pb2.CaseResponse:
        try:
            self._principal(context)  # who asks comes first: no token, no other answer
            cmd = command_from_pb(request.change)
            if cmd is None or isinstance(cmd, File):
                raise InvalidInput(
                    "change", "set exactly one state change (accepted ... evaluated); use FileCase to file"
                )
        except YiwangError as exc:
            abort_with(context, exc)
        state = self._call(
            context,
            "ActOnCase",
            action_of(cmd),
            lambda actor: self.cases.act(request.change.case_no, cmd, actor, request.request_id),
            claimed=request.change.actor,
        )
        return self._outline(state)

    def GetCase(
        self, request: node_service_pb2.GetCaseRequest, context: grpc.ServicerContext
    ) -> node_service_pb2.CaseResponse:
        view = self._call(context, "GetCase", Action.READ_CASES, lambda _: self.cases.show(request.case_no))
        outline = outline_to_pb(view.state, view.due_date, view.due_provisional)
        return node_service_pb2.CaseResponse(outline=outline)

    def ListCases(
        self, request: node_service_pb2.ListCasesRequest, context: grpc.ServicerContext
    ) -> node_service_pb2.ListCasesResponse:
        limit = min(request.limit or 50, MAX_LIST)
        views = self._call(
            context, "ListCases", Action.READ_CASES, lambda _: self.cases.list(request.status, limit, request.after)
        )
        return node_service_pb2.ListCasesResponse(
            cases=[outline_to_pb(v.state, v.due_date, v.due_provisional) for v in views]
        )

    def GetHeads(
        self, request: node_service_pb2.GetHeadsRequest, context: grpc.ServicerContext
    ) -> node_service_pb2.GetHeadsResponse:
        heads = self._call(context, "GetHeads", Action.READ_AUDIT, lambda _: self.audit.heads())
        return node_service_pb2.GetHeadsResponse(heads=[head_to_pb(h) for h in heads])

    def GetStats(
        self, request: node_service_pb2.GetStatsRequest, context: grpc.ServicerContext
    ) -> node_service_pb2.GetStatsResponse:
        def run(_: str) -> Report:
            today = local_date(self.cases.clock())
            period = Period.of(request.period, request.first_day, request.last_day, today)
            query = Query(
                period,
                request.division,
                request.by_next_level,
                request.item_code,
                request.department,
                request.power_type,
                request.channel,
            )
            return self.stats.report(query, today)

        return _report_pb(self._call(context, "GetStats", Action.READ_STATS, run))

    def AnswerReview(
        self, request: node_service_pb2.AnswerReviewRequest, context: grpc.ServicerContext
    ) -> node_service_pb2.ReviewsResponse:
        def run(actor: str) -> list[JointReviewRow]:
            try:
                verdict = Verdict(request.verdict)
            except ValueError:
                raise InvalidInput("verdict", "agree, disagree or agree_forward") from None
            self.reviews.answer(
                request.case_no, request.department, verdict, request.reasons, request.forward_to, actor
            )
            return self.reviews.show(request.case_no)

        rows = self._call(context, "AnswerReview", Action.OPINE, run, claimed=request.actor)
        return node_service_pb2.ReviewsResponse(rows=[_review_pb(r) for r in rows])

    def ListReviews(
        self, request: node_service_pb2.ListReviewsRequest, context: grpc.ServicerContext
    ) -> node_service_pb2.ReviewsResponse:
        limit = min(request.limit or 50, MAX_LIST)

        def run(_: str) -> list[JointReviewRow]:
            return self.reviews.show(request.case_no) if request.case_no else self.reviews.queue(limit)

        rows = self._call(context, "ListReviews", Action.READ_CASES, run)
        return node_service_pb2.ReviewsResponse(rows=[_review_pb(r) for r in rows])


def _review_pb(r: JointReviewRow) -> node_service_pb2.ReviewRow:
    row = node_service_pb2.ReviewRow(
        case_no=r.case_no,
        lead=r.lead,
        node=r.node,
        department=r.department,
        name=r.name,
        item_code=r.item_code,
        due=r.due,
        silence=r.silence,
        verdict=r.verdict,
        reasons=r.reasons,
        forward_to=r.forward_to,
        by_default=r.by_default,
        decided=r.decided_at_us is not None,
    )
    if r.working_days is not None:
        row.working_days = r.working_days
    return row


def _report_pb(r: Report) -> node_service_pb2.GetStatsResponse:
    g = r.gauges
    return node_service_pb2.GetStatsResponse(
        division=r.division,
        first_day=r.query.period.first.isoformat(),
        last_day=r.query.period.last.isoformat(),
        rows=[node_service_pb2.StatsRow(division=f.division, counts=f.counts) for f in r.rows],
        total=r.total,
        for_other_provinces=r.peers,
        gauges=node_service_pb2.StatsGauges(
            open=g.open, overdue=g.overdue, warning=g.warning, yellow=g.yellow, red=g.red
        ),
        indicators=[
            node_service_pb2.IndicatorValue(
                name=i.name, defined=i.value is not None, value=float(i.value or 0), unit=i.unit, formula=i.formula
            )
            for i in r.indicators
        ],
        zero_case_items=[node_service_pb2.ZeroCaseItem(item_code=c, name=n, department=d) for c, n, d in r.zero_items],
        zero_case_departments=[
            node_service_pb2.ZeroCaseDepartment(division=v, department=d) for v, d in r.zero_departments
        ],
    )


_ANYONE = Principal("api", frozenset({Role.ADMIN}), "client")  # only with authentication off


class _Undecodable:
    """What the deserializer hands on for bytes that are not the request message."""


def _lenient(cls: type[Message]) -> Callable[[bytes], object]:
    def parse(data: bytes) -> object:
        try:
            return cls.FromString(data)
        except DecodeError:
            return _Undecodable()

    return parse


def _guarded(rpc: str, method: Callable[[Any, grpc.ServicerContext], Any]) -> Callable[..., Any]:
    log = logs.get("local_api")

    def handle(request: object, context: grpc.ServicerContext) -> Any:
        if isinstance(request, _Undecodable):
            log.info("local_api_refused", rpc=rpc, error="Undecodable")
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "InvalidInput: the request does not decode (a text field holds invalid UTF-8, or it is damaged)",
            )
        try:
            return method(request, context)
        except Exception as exc:
            if context.code() is not None:  # aborted on purpose, with its own status
                raise
            log.error("local_api_fault", rpc=rpc, error=type(exc).__name__)
            context.abort(grpc.StatusCode.INTERNAL, "InternalError: the node failed; its log says where")

    return handle


def add_node_service(servicer: NodeServicer, server: grpc.Server) -> None:
    """Register every NodeService RPC, as the generated code would, but with a deserializer that
    does not crash on bad bytes and a guard that turns any fault of ours into a bare INTERNAL."""
    service = node_service_pb2.DESCRIPTOR.services_by_name["NodeService"]
    handlers = {
        m.name: grpc.unary_unary_rpc_method_handler(
            _guarded(m.name, getattr(servicer, m.name)),
            request_deserializer=_lenient(message_factory.GetMessageClass(m.input_type)),
            response_serializer=lambda msg: msg.SerializeToString(),
        )
        for m in service.methods
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service.full_name, handlers),))


def serve(servicer: NodeServicer, address: str = "127.0.0.1:0", workers: int = 8) -> tuple[grpc.Server, int]:
    """Start the NodeService on `address`; returns the server and the bound port."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers), options=[("grpc.so_reuseport", 0)])
    add_node_service(servicer, server)
    port = server.add_insecure_port(address)
    if port == 0:
        raise SetupError(f"cannot bind the local API to {address}: is the port in use?")
    server.start()
    return server, port
