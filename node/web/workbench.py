"""The county workbench (窗口工作台, issue 12): the work queues by the step each case waits for,
soonest due first; the case page (outline, applicant for roles that may see it, each reveal
recorded, materials, the timeline in words, custody spans, and the steps the lifecycle allows
now as forms, the irreversible ones confirmed first); filing at the window from the catalog.
Every step goes through node.cases with the signed-in operator as the actor."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from node.domain.codes import SERVICE_OBJECTS
from node.domain.errors import InvalidInput, NotFound, OperatorError
from node.domain.lifecycle import CaseState, Command
from node.domain.queues import Queue
from node.domain.roles import Action, Principal, action_of
from node.domain.timelimits import local_date
from node.pages import words
from node.services.cases import Applicant
from node.web.base import Web, headers
from node.web.filing import MAX_FILES, file_from_form, read_scans
from node.web.forms import DELIVERY, FINAL, Posted, read, steps_now


def routes(web: Web) -> list[Route]:
    node = web.node
    me = node.code

    def queues(request: Request) -> Response:
        web.signed_in(request, Action.READ_CASES)
        args = request.query_params
        try:
            page = node.queues.page(args.get("q", ""), _int(args.get("page", "1")), args.get("overdue") == "1")
        except OperatorError as exc:
            return web.error(request, web.explain(request, exc))
        sizes = node.queues.sizes()
        return web.page(
            request,
            "work.html",
            {
                "page": page,
                "sizes": sizes,
                "queues": [(q, words.QUEUE[q], sizes.by_queue[q]) for q in Queue],
                "words": words,
                "today": local_date(node.clock()),
            },
        )

    def case_page(
        request: Request,
        principal: Principal,
        case_no: str,
        posted: Posted | None = None,
        applicant: Applicant | None = None,
        status: int = 200,
    ) -> Response:
        try:
            view = node.cases.show(case_no)
        except OperatorError as exc:
            return web.error(request, web.explain(request, exc), 404 if isinstance(exc, NotFound) else 400)
        state = view.state
        try:
            item = node.catalog.get(state.item_code)
        except NotFound:
            item = None
        held = node.cases.applicant_if_held(case_no)
        shown = applicant or (held.masked() if held is not None else None)
        materials = node.cases.materials(case_no, held) if held is not None else []
        joint = item is not None and item.joint_review is not None
        steps = steps_now(state, me, principal, local_date(node.clock()), joint)
        try:
            reviewers = node.joint_reviews.show(case_no) if state.review is not None else []
        except NotFound:  # the request has not reached this node's rows (a relay)
            reviewers = []
        return web.page(
            request,
            "case.html",
            {
                "v": view,
                "s": state,
                "item": item,
                "applicant": shown,
                "revealed": applicant is not None,
                "may_reveal": held is not None and principal.may(Action.REVEAL),
                "materials": materials,
                "steps": steps,
                "posted": posted,
                "confirm": posted is not None and not posted.errors and _final(posted),
                "flash": request.session.pop("flash", ""),
                "words": words,
                "Command": Command,
                "procedures": words.PROCEDURE,
                "purposes": words.PURPOSE,
                "delivery": {k: words.DELIVERY[k] for k in DELIVERY},
                "neighbours": _neighbours(node.settings.code.code, state),
                "reviewers": reviewers,
            },
            status,
        )

    def case(request: Request) -> Response:
        principal = web.signed_in(request, Action.READ_CASES)
        return case_page(request, principal, request.path_params["case_no"])

    async def reveal(request: Request) -> Response:
        principal = web.signed_in(request, Action.REVEAL)
        await web.form(request)
        return await run_in_threadpool(revealed, request, principal, request.path_params["case_no"])

    def revealed(request: Request, principal: Principal, case_no: str) -> Response:
        try:
            applicant = node.cases.reveal(case_no, principal.name, "web")
        except OperatorError as exc:
            return web.error(request, web.explain(request, exc))
        return case_page(request, principal, case_no, applicant=applicant)

    async def material(request: Request) -> Response:
        principal = web.signed_in(request, Action.REVEAL)
        form = await web.form(request)
        case_no, name = request.path_params["case_no"], str(form.get("name", ""))[:200]
        try:
            data = await run_in_threadpool(node.cases.reveal_material, case_no, name, principal.name, "web")
        except OperatorError as exc:
            return web.error(request, web.explain(request, exc), 404)
        response = Response(data, media_type="application/octet-stream")
        response.headers["Content-Disposition"] = "attachment; filename*=UTF-8''" + _quote(name)
        return headers(response)

    async def act(request: Request) -> Response:
        principal = web.signed_in(request, Action.READ_CASES)
        form = await web.form(request)
        return await run_in_threadpool(acted, request, principal, form)

    def acted(request: Request, principal: Principal, form: FormData) -> Response:
        _ = web.gettext(request)
        case_no = request.path_params["case_no"]
        step = str(form.get("step", ""))
        try:
            state = node.cases.get(case_no)
        except OperatorError as exc:
            return web.error(request, web.explain(request, exc), 404)
        posted = read(step, form, state, me, _)
        if posted.command is None:  # shown again with the errors beside the fields (a page, not a failure)
            return case_page(request, principal, case_no, posted, status=400 if "step" in posted.errors else 200)
        who = web.signed_in(request, action_of(posted.command))  # Forbidden: nothing done
        if _final(posted) and form.get("confirmed") != "1":
            return case_page(request, who, case_no, posted)  # the page asks to confirm
        try:
            if posted.license:
                _s, lic = node.licenses.approve_with_license(
                    case_no, who.name, posted.valid_until, getattr(posted.command, "reason", "")
                )
                request.session["flash"] = _("Approved; licence %(no)s issued") % {"no": lic.license_no}
            else:
                after = node.cases.act(case_no, posted.command, who.name)
                request.session["flash"] = _("Done: %(status)s") % {"status": _(words.STATUS[after.status])}
        except OperatorError as exc:
            posted.errors["step"] = web.explain(request, exc)
            return case_page(request, who, case_no, posted)
        return headers(RedirectResponse(f"/cases/{case_no}", status_code=303))

    def catalog(request: Request) -> Response:
        web.signed_in(request, Action.FILE)
        query = request.query_params.get("q", "").strip()[:60]
        try:
            items = node.catalog.list(query, limit=30)
        except OperatorError as exc:
            return web.error(request, web.explain(request, exc))
        return web.page(request, "file_search.html", {"items": items, "q": query})

    def filing_page(
        request: Request, code: str, values: dict[str, str], errors: dict[str, str], status: int = 200
    ) -> Response:
        try:
            item = node.catalog.get(code)
        except OperatorError as exc:
            return web.error(request, web.explain(request, exc), 404)
        kinds = {k: v for k, v in SERVICE_OBJECTS.items() if not item.service_objects or k in item.service_objects}
        context = {"item": item, "values": values, "errors": errors, "kinds": kinds}
        return web.page(request, "file_form.html", context, status)

    def filing(request: Request) -> Response:
        web.signed_in(request, Action.FILE)
        return filing_page(request, request.path_params["item"], {}, {})

    async def file_case(request: Request) -> Response:
        principal = web.signed_in(request, Action.FILE)
        form = await web.form(request, files=MAX_FILES)
        files, problem = await read_scans(form, web.gettext(request))
        return await run_in_threadpool(filed, request, principal, form, files, problem)

    def filed(
        request: Request, principal: Principal, form: FormData, scans: tuple[tuple[str, bytes], ...], problem: str
    ) -> Response:
        _ = web.gettext(request)
        code = request.path_params["item"]
        filing = file_from_form(node, principal, code, form, scans, problem, _, errand=False)
        if not filing.case_no:
            return filing_page(request, code, filing.values, filing.errors)
        request.session["flash"] = _("Filed as %(no)s") % {"no": filing.case_no}
        return headers(RedirectResponse(f"/cases/{filing.case_no}", status_code=303))

    return [
        Route("/work", queues, methods=["GET"]),
        Route("/cases/{case_no}", case, methods=["GET"]),
        Route("/cases/{case_no}/reveal", reveal, methods=["POST"]),
        Route("/cases/{case_no}/material", material, methods=["POST"]),
        Route("/cases/{case_no}/act", act, methods=["POST"]),
        Route("/file", catalog, methods=["GET"]),
        Route("/file/{item}", filing, methods=["GET"]),
        Route("/file/{item}", file_case, methods=["POST"]),
    ]


def _final(posted: Posted) -> bool:
    return posted.command is not None and posted.command.command in FINAL


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise InvalidInput("page", "a whole number") from None


def _neighbours(me: str, state: CaseState) -> list[str]:
    """Nodes a case is usually handed to from here: the filing and handling divisions."""
    return [c for c in dict.fromkeys((state.handling_division, state.filing_division)) if c != me]


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")
