"""The statistics page of the node's subtree (issue 11): the figures, a level down with links
to drill further, the gauges, the indicators and a chart per day, and the HTML report; readable
by every role (statistics carry no personal data)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from node.domain.divisions import DivisionCode
from node.domain.errors import OperatorError
from node.domain.roles import Action
from node.domain.timelimits import local_date
from node.pages import charts
from node.pages.report import build, division_name, render
from node.services.stats import Period, Query
from node.web.base import Web, headers


def routes(web: Web) -> list[Route]:
    node = web.node

    def stats(request: Request) -> Response:  # a plain function: Starlette runs it off the event loop
        web.signed_in(request, Action.READ_STATS)
        _ = web.gettext(request)
        today = local_date(node.clock())
        args = request.query_params
        try:
            period = Period.of(args.get("period", ""), args.get("from", ""), args.get("to", ""), today)
            division = args.get("division", "") or node.code
            report = node.stats.report(Query(period, division, by_next_level=True), today)
            days = node.stats.per_day(report.division, period) if (period.last - period.first).days < 92 else []
        except OperatorError as exc:
            return web.error(request, web.explain(request, exc))
        code = DivisionCode(report.division)
        rows = [
            {
                "division": r.division,
                "name": division_name(node, r.division) + (_(" (own level)") if r.division == code.code else ""),
                "counts": r.counts,
                "drill": r.division != code.code and code.tier < 5,
            }
            for r in report.rows
        ]
        chart = (
            charts.per_day(
                _("Cases filed and delivered per day"),
                [d.isoformat() for d, _c in days],
                [
                    (_("Cases filed"), [c["filed"] for _d, c in days]),
                    (_("Delivered"), [c["delivered"] for _d, c in days]),
                ],
            )
            if days
            else ""
        )
        parent = code.parent() if code != node.settings.code else None
        context = {
            "r": report,
            "name": division_name(node, report.division),
            "rows": rows,
            "chart": chart,
            "period": period,
            "period_text": args.get("period", "") or period.first.strftime("%Y-%m"),
            "parent": parent.code if parent is not None and node.settings.code.contains(parent) else "",
        }
        return web.page(request, "stats.html", context)

    def report(request: Request) -> Response:
        web.signed_in(request, Action.READ_STATS)
        today = local_date(node.clock())
        try:
            period = Period.parse(request.query_params.get("period", "") or today.strftime("%Y-%m"))
            html = render(build(node, period, request.query_params.get("division", ""), today))
        except OperatorError as exc:
            return web.error(request, web.explain(request, exc))
        return headers(HTMLResponse(html))

    return [
        Route("/stats", stats, methods=["GET"]),
        Route("/stats/report", report, methods=["GET"]),
    ]
