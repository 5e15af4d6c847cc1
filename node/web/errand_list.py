"""The county's 代办事项清单 as a page (issue 12): the node's administrator searches the items
implemented in its division, ticks those village agents may file for residents, and publishes
the list (the same use case as `yiwang catalog errands open|close`, replicated down with the
catalog); the list also downloads as the CSV that command reads."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from node.domain.divisions import DivisionCode
from node.domain.errors import OperatorError
from node.domain.roles import Action
from node.services.catalog_import import write_codes_csv
from node.web.base import Web, csv_download, headers

SHOWN = 100  # items per search


def routes(web: Web) -> list[Route]:
    node = web.node
    me = DivisionCode(node.code)

    def page(request: Request) -> Response:
        web.signed_in(request, Action.MANAGE)
        query = request.query_params.get("q", "").strip()[:60]
        try:
            items = [i for i in node.catalog.list(query, limit=SHOWN * 4) if me.contains(DivisionCode(i.division_code))]
            opened = node.catalog.errands(limit=5000)
        except OperatorError as exc:
            return web.error(request, web.explain(request, exc))
        context = {
            "items": items[:SHOWN],
            "q": query,
            "opened": opened,
            "flash": request.session.pop("flash", ""),
        }
        return web.page(request, "errand_list.html", context)

    async def publish(request: Request) -> Response:
        web.signed_in(request, Action.MANAGE)
        form = await web.form(request, fields=3 * SHOWN + 10)
        _ = web.gettext(request)
        shown = [str(c) for c in form.getlist("shown")][:SHOWN]
        ticked = {str(c) for c in form.getlist("open")}
        was = {str(c) for c in form.getlist("was")}  # open when the page was loaded
        # only what the administrator changed on the page: a list changed elsewhere since is kept
        opening = [c for c in shown if c in ticked and c not in was]
        closing = [c for c in shown if c in was and c not in ticked]
        if not opening and not closing:
            request.session["flash"] = _("Nothing changed")
            return headers(RedirectResponse("/catalog/errands", status_code=303))
        try:
            result = await run_in_threadpool(node.catalog.update_errands, opening, closing)
        except OperatorError as exc:
            request.session["flash"] = web.explain(request, exc)
        else:
            request.session["flash"] = _("%(n)s item(s) changed; the villages receive the list over the links") % {
                "n": result.changed
            }
        query = str(form.get("q", ""))[:60]
        back = "/catalog/errands" + (f"?{urlencode({'q': query})}" if query else "")
        return headers(RedirectResponse(back, status_code=303))

    def download(request: Request) -> Response:
        web.signed_in(request, Action.READ_CATALOG)
        items = node.catalog.errands(limit=5000)
        return csv_download(lambda out: write_codes_csv(out, items), f"errands-{node.code}.csv")

    return [
        Route("/catalog/errands", page, methods=["GET"]),
        Route("/catalog/errands", publish, methods=["POST"]),
        Route("/catalog/errands.csv", download, methods=["GET"]),
    ]
