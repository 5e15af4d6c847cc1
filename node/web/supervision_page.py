"""The province's and supervisors' dashboard (issue 12): electronic supervision's alarms of the
subtree with the acknowledgement a supervisor above the raising node gives, the 差评 follow-up
(callback and rectification) with the handling node's buttons, the monthly sign-off status,
and the figures as CSV (the statistics page and the HTML report carry the rest)."""

from __future__ import annotations

import datetime as dt

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from node.domain.divisions import DivisionCode
from node.domain.errors import OperatorError
from node.domain.roles import Action
from node.domain.timelimits import CHINA_TZ, local_date
from node.pages.report import division_name
from node.services.stats import Period, Query, write_csv
from node.web.base import Web, csv_download, headers


def _at(us: int | None) -> dt.datetime | None:
    return None if us is None else dt.datetime.fromtimestamp(us / 1_000_000, CHINA_TZ)


def routes(web: Web) -> list[Route]:
    node = web.node

    def dashboard(request: Request) -> Response:
        principal = web.signed_in(request, Action.READ_STATS)
        args = request.query_params
        today = local_date(node.clock())
        last_month = (today.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
        try:
            division = args.get("division", "") or node.code
            alarms = node.supervision.alarms(
                division, args.get("rule", ""), args.get("level", ""), open_only=args.get("all") != "1", limit=200
            )
            tasks = node.supervision.rectifications(division, open_only=False, limit=100)
            month = args.get("month", "") or last_month
            signoffs = node.signoff.status(month)
        except OperatorError as exc:
            return web.error(request, web.explain(request, exc))
        me = DivisionCode(node.code)
        context = {
            "alarms": alarms,
            "tasks": tasks,
            "signoffs": signoffs,
            "month": month,
            "division": division,
            "name": division_name(node, division),
            "may_ack": principal.may(Action.ACKNOWLEDGE),
            "may_follow": principal.may(Action.FOLLOW_UP),
            "above": lambda origin: me.is_ancestor_of(DivisionCode(origin)),
            "at": _at,
            "flash": request.session.pop("flash", ""),
            "rule_choice": args.get("rule", ""),
            "level_choice": args.get("level", ""),
            "show_all": args.get("all") == "1",
            "me_code": node.code,
        }
        return web.page(request, "supervision.html", context)

    async def acknowledge(request: Request) -> Response:
        principal = web.signed_in(request, Action.ACKNOWLEDGE)
        form = await web.form(request)
        _ = web.gettext(request)
        origin, seq, note = (str(form.get(k, "")).strip() for k in ("origin", "seq", "note"))
        try:
            if not (seq.isascii() and seq.isdigit()):
                raise ValueError(seq)
            await run_in_threadpool(node.supervision.acknowledge, origin, int(seq), principal.name, note)
        except ValueError:
            return web.error(request, _("Unknown alarm"))
        except OperatorError as exc:
            request.session["flash"] = web.explain(request, exc)
        else:
            request.session["flash"] = _("Alarm acknowledged")
        return headers(RedirectResponse("/supervision", status_code=303))

    async def follow_up(request: Request) -> Response:
        principal = web.signed_in(request, Action.FOLLOW_UP)
        form = await web.form(request)
        _ = web.gettext(request)
        step, case_no, note = (str(form.get(k, "")).strip() for k in ("step", "case_no", "note"))
        try:
            await run_in_threadpool(node.supervision.follow_up, case_no, step, principal.name, note)
        except OperatorError as exc:
            request.session["flash"] = web.explain(request, exc)
        else:
            request.session["flash"] = _("Recorded")
        return headers(RedirectResponse("/supervision", status_code=303))

    def stats_csv(request: Request) -> Response:
        web.signed_in(request, Action.READ_STATS)
        args = request.query_params
        today = local_date(node.clock())
        try:
            period = Period.of(args.get("period", ""), args.get("from", ""), args.get("to", ""), today)
            report = node.stats.report(Query(period, args.get("division", "") or node.code, by_next_level=True), today)
        except OperatorError as exc:
            return web.error(request, web.explain(request, exc))
        name = f"stats-{report.division}-{period.first.isoformat()}-{period.last.isoformat()}.csv"
        return csv_download(lambda out: write_csv(report, out), name)

    return [
        Route("/supervision", dashboard, methods=["GET"]),
        Route("/supervision/ack", acknowledge, methods=["POST"]),
        Route("/supervision/follow-up", follow_up, methods=["POST"]),
        Route("/stats.csv", stats_csv, methods=["GET"]),
    ]
