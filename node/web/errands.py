"""The village agent's page (代办, issue 12): made for a phone (390x844) on a slow link (no
script, small pages): pick an item the county opened to errands, enter the resident's data
with their consent, attach scans, file (locally: it works while the parent link is down, the
case goes up when the link is back); "my errands" with who holds each and the working days
left; the result taken back, delivered and evaluated on the case page. The agent recorded on
the case is the signed-in operator, never a value the form supplies."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from node.domain.codes import SERVICE_OBJECTS
from node.domain.errors import OperatorError
from node.domain.roles import Action, Principal
from node.pages import words
from node.web.base import Web, headers
from node.web.filing import MAX_FILES, file_from_form, read_scans


def routes(web: Web) -> list[Route]:
    node = web.node

    def mine(request: Request) -> Response:
        principal = web.signed_in(request, Action.FILE_ERRAND)
        raw = request.query_params.get("page", "1") or "1"
        page = int(raw) if raw.isascii() and raw.isdigit() else 0
        try:
            views, more = node.queues.errands(principal.name, page)
        except OperatorError as exc:
            return web.error(request, web.explain(request, exc))
        offers = {v.state.case_no for v in views if v.state.offered_to == node.code}
        context = {"views": views, "more": more, "page": page, "offers": offers, "words": words}
        return web.page(request, "errands.html", context)

    def items(request: Request) -> Response:
        web.signed_in(request, Action.FILE_ERRAND)
        query = request.query_params.get("q", "").strip()[:60]
        try:
            found = node.catalog.errands(query, limit=50)
        except OperatorError as exc:
            return web.error(request, web.explain(request, exc))
        return web.page(request, "errand_items.html", {"items": found, "q": query})

    def form_page(request: Request, code: str, values: dict[str, str], errors: dict[str, str]) -> Response:
        try:
            item = node.catalog.get(code)
        except OperatorError as exc:
            return web.error(request, web.explain(request, exc), 404)
        kinds = {k: v for k, v in SERVICE_OBJECTS.items() if not item.service_objects or k in item.service_objects}
        context = {"item": item, "values": values, "errors": errors, "kinds": kinds}
        return web.page(request, "errand_form.html", context)

    def new(request: Request) -> Response:
        web.signed_in(request, Action.FILE_ERRAND)
        return form_page(request, request.path_params["item"], {}, {})

    async def file_errand(request: Request) -> Response:
        principal = web.signed_in(request, Action.FILE_ERRAND)
        form = await web.form(request, files=MAX_FILES)
        files, problem = await read_scans(form, web.gettext(request))
        return await run_in_threadpool(filed, request, principal, form, files, problem)

    def filed(
        request: Request, principal: Principal, form: FormData, scans: tuple[tuple[str, bytes], ...], problem: str
    ) -> Response:
        _ = web.gettext(request)
        code = request.path_params["item"]
        filing = file_from_form(node, principal, code, form, scans, problem, _, errand=True)
        if not filing.case_no:
            return form_page(request, code, filing.values, filing.errors)
        request.session["flash"] = _("Filed as %(no)s") % {"no": filing.case_no}
        return headers(RedirectResponse(f"/cases/{filing.case_no}", status_code=303))

    return [
        Route("/errands", mine, methods=["GET"]),
        Route("/errands/items", items, methods=["GET"]),
        Route("/errands/new/{item}", new, methods=["GET"]),
        Route("/errands/new/{item}", file_errand, methods=["POST"]),
    ]
