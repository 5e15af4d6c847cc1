"""The county workbench (窗口工作台, issue 12): the work queues by the step each case waits for,
soonest due first; the case page (outline, applicant for roles that may see it, each reveal
recorded, materials, the timeline in words, custody spans, and the steps the lifecycle allows
now as forms, the irreversible ones confirmed first); filing at the window from the catalog.
Every step goes through node.cases with the signed-in operator as the actor."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from node.domain.codes import SATISFACTION, SERVICE_OBJECTS
from node.domain.errors import InvalidInput, NotFound, OperatorError
from node.domain.evaluation import CAUSES
from node.domain.lifecycle import CaseState, Command
from node.domain.roles import Action, Principal, action_of
from node.domain.timelimits import local_date
from node.services.cases import Applicant, FileRequest
from node.services.queues import Queue
from node.web import words
from node.web.base import Web, headers
from node.web.forms import DELIVERY, FINAL, Posted, read, steps_now

MAX_UPLOAD = 10 * 1024 * 1024  # a scanned material
MAX_FILES = 20
# Which field of the filing form an error of the case service is about.
FILING_FIELDS = {"applicant name": "name", "phone": "phone", "applicant kind": "kind", "channel": "channel"}


def routes(web: Web) -> list[Route]:
    node = web.node
    me = node.code

    def queues(request: Request) -> Response:
        web.signed_in(request, Action.READ_CASES)
        args = request.query_params
        try:
            page = node.queues.page(args.get("q", ""), _int(args.get("page", "1")), args.get("overdue") == "1")
        except OperatorError as exc:
            return web.error(request, str(exc))
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
            return web.error(request, str(exc), 404 if isinstance(exc, NotFound) else 400)
        state = view.state
        try:
            item = node.catalog.get(state.item_code)
        except NotFound:
            item = None
        held = node.cases.applicant_if_held(case_no)
        shown = applicant or (held.masked() if held is not None else None)
        materials = node.cases.materials(case_no) if held is not None else []
        steps = steps_now(state, me, principal)
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
                "causes": CAUSES,
                "satisfaction": SATISFACTION,
                "neighbours": _neighbours(node.settings.code.code, state),
            },
            status,
        )

    def case(request: Request) -> Response:
        principal = web.signed_in(request, Action.READ_CASES)
        return case_page(request, principal, request.path_params["case_no"])

    async def reveal(request: Request) -> Response:
        await web.form(request)
        principal = web.signed_in(request, Action.REVEAL)
        case_no = request.path_params["case_no"]
        try:
            applicant = node.cases.reveal(case_no, principal.name, "web")
        except OperatorError as exc:
            return web.error(request, str(exc))
        return case_page(request, principal, case_no, applicant=applicant)

    def material(request: Request) -> Response:
        principal = web.signed_in(request, Action.REVEAL)
        case_no, name = request.path_params["case_no"], request.query_params.get("name", "")
        try:
            data = node.cases.reveal_material(case_no, name, principal.name, "web")
        except OperatorError as exc:
            return web.error(request, str(exc), 404)
        response = Response(data, media_type="application/octet-stream")
        response.headers["Content-Disposition"] = "attachment; filename*=UTF-8''" + _quote(name)
        return headers(response)

    async def act(request: Request) -> Response:
        form = await web.form(request)
        principal = web.signed_in(request, Action.READ_CASES)
        _ = web.gettext(request)
        case_no = request.path_params["case_no"]
        step = str(form.get("step", ""))
        try:
            state = node.cases.get(case_no)
        except OperatorError as exc:
            return web.error(request, str(exc), 404)
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
            posted.errors["step"] = str(exc)
            return case_page(request, who, case_no, posted)
        return headers(RedirectResponse(f"/cases/{case_no}", status_code=303))

    def catalog(request: Request) -> Response:
        web.signed_in(request, Action.FILE)
        query = request.query_params.get("q", "").strip()[:60]
        try:
            items = node.catalog.list(query, limit=30)
        except OperatorError as exc:
            return web.error(request, str(exc))
        return web.page(request, "file_search.html", {"items": items, "q": query})

    def filing_page(
        request: Request, code: str, values: dict[str, str], errors: dict[str, str], status: int = 200
    ) -> Response:
        try:
            item = node.catalog.get(code)
        except OperatorError as exc:
            return web.error(request, str(exc), 404)
        kinds = {k: v for k, v in SERVICE_OBJECTS.items() if not item.service_objects or k in item.service_objects}
        context = {"item": item, "values": values, "errors": errors, "kinds": kinds}
        return web.page(request, "file_form.html", context, status)

    def filing(request: Request) -> Response:
        web.signed_in(request, Action.FILE)
        return filing_page(request, request.path_params["item"], {}, {})

    async def file_case(request: Request) -> Response:
        form = await web.form(request)
        principal = web.signed_in(request, Action.FILE)
        _ = web.gettext(request)
        code = request.path_params["item"]
        values = {k: str(form.get(k, "")).strip() for k in ("kind", "name", "id_number", "phone", "address")}
        errors: dict[str, str] = {}
        for k in ("name", "id_number"):
            if not values[k]:
                errors[k] = _("Required")
        files, problem = await _files(form, _)
        if problem:
            errors["files"] = problem
        if not errors:
            applicant = Applicant(
                values["kind"] or "1", values["name"], values["id_number"], values["phone"], values["address"]
            )
            try:
                state = node.cases.file(FileRequest(code, applicant, "1", files=files), principal.name)
            except InvalidInput as exc:
                field = FILING_FIELDS.get(
                    exc.field, "id_number" if "id" in exc.field or "credit" in exc.field else "form"
                )
                errors[field] = _("Check this entry") + f": {exc.reason}"
            except OperatorError as exc:
                errors["form"] = str(exc)
            else:
                request.session["flash"] = _("Filed as %(no)s") % {"no": state.case_no}
                return headers(RedirectResponse(f"/cases/{state.case_no}", status_code=303))
        return filing_page(request, code, values, errors)

    return [
        Route("/work", queues, methods=["GET"]),
        Route("/cases/{case_no}", case, methods=["GET"]),
        Route("/cases/{case_no}/reveal", reveal, methods=["POST"]),
        Route("/cases/{case_no}/material", material, methods=["GET"]),
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


async def _files(form: FormData, _: Any) -> tuple[tuple[tuple[str, bytes], ...], str]:
    """The scans attached to a filing, bounded in number and size."""
    uploads = [f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename]
    if len(uploads) > MAX_FILES:
        return (), _("At most 20 files")
    out = []
    for f in uploads:
        data = await f.read(MAX_UPLOAD + 1)
        if len(data) > MAX_UPLOAD:
            return (), _("A file is larger than 10 MB")
        out.append((str(f.filename)[:80], data))
    return tuple(out), ""
