"""The web application: log-in and log-out, and the statistics page of the node's subtree
(the figures, a level down with links to drill further, the gauges, the indicators and a chart
per day), readable by every role (statistics carry no personal data)."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from federation.transport.enrollment import Throttle
from node.context import Node
from node.domain.divisions import DivisionCode
from node.domain.errors import Forbidden, OperatorError, Unauthenticated
from node.domain.roles import ROLE_LABELS, Action, Principal, authorize
from node.domain.timelimits import local_date
from node.pages import charts
from node.pages.report import build, division_name, render
from node.services.stats import Period, Query

# No script, no frame, forms only to this node: what a page needs and nothing else.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'"
COOKIE = "yiwang_session"


def make_app(node: Node, secret: str, secure_cookies: bool) -> Starlette:
    """The application for `node`; `secret` signs session cookies, `secure_cookies` marks them
    HTTPS-only (the web port off loopback is served over TLS)."""
    templates = Jinja2Templates(directory=str(_templates()))
    throttle = Throttle(burst=10, per_minute=6.0)  # log-in attempts per client address
    templates.env.filters["rate"] = lambda v: "-" if v is None else f"{v:.2f}%"

    def page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
        context = {"me": node.settings.name or node.code, "user": request.session.get("user"), **context}
        context["csrf"] = _csrf(request)
        response = templates.TemplateResponse(request, name, context, status_code=status)
        return _headers(response)

    def signed_in(request: Request, action: Action) -> Principal:
        name = request.session.get("user")
        if not name:
            raise Unauthenticated("log in first")
        if not hmac.compare_digest(node.principals.stamp(str(name)), str(request.session.get("stamp", "-"))):
            request.session.clear()  # the password changed, or the account went, since this session began
            raise Unauthenticated("log in again")
        try:
            principal = node.principals.get(str(name))  # an account disabled since is refused here
        except OperatorError:
            request.session.clear()
            raise Unauthenticated("log in again") from None
        authorize(principal, action)
        return principal

    def login_form(request: Request) -> Response:
        return page(request, "login.html", {"error": ""})

    async def login(request: Request) -> Response:
        form = await request.form()
        if not _csrf_ok(request, str(form.get("csrf", ""))):
            return page(request, "login.html", {"error": "页面已过期, 请重新登录"}, 403)
        if not throttle.admit(request.client.host if request.client else "unknown"):
            return page(request, "login.html", {"error": "登录尝试过多, 请稍后再试"}, 429)
        name, password = str(form.get("name", ""))[:64], str(form.get("password", ""))[:200]
        try:  # Argon2 takes a while: off the event loop
            principal = await run_in_threadpool(node.principals.login, name, password)
        except OperatorError:
            return page(request, "login.html", {"error": "账号或密码不正确"}, 401)
        request.session.clear()  # a new session at log-in: no fixation
        request.session["user"] = principal.name
        request.session["stamp"] = await run_in_threadpool(node.principals.stamp, principal.name)
        request.session["csrf"] = secrets.token_urlsafe(32)
        return _headers(RedirectResponse("/stats", status_code=303))

    async def logout(request: Request) -> Response:
        form = await request.form()
        if _csrf_ok(request, str(form.get("csrf", ""))):
            request.session.clear()
        return _headers(RedirectResponse("/login", status_code=303))

    def stats(request: Request) -> Response:  # a plain function: Starlette runs it off the event loop
        principal = signed_in(request, Action.READ_STATS)
        today = local_date(node.clock())
        args = request.query_params
        try:
            period = Period.of(args.get("period", ""), args.get("from", ""), args.get("to", ""), today)
            division = args.get("division", "") or node.code
            report = node.stats.report(Query(period, division, by_next_level=True), today)
            days = node.stats.per_day(report.division, period) if (period.last - period.first).days < 92 else []
        except OperatorError as exc:
            return page(request, "error.html", {"message": str(exc)}, 400)
        code = DivisionCode(report.division)
        rows = [
            {
                "division": r.division,
                "name": division_name(node, r.division) + (" 本级" if r.division == code.code else ""),
                "counts": r.counts,
                "drill": r.division != code.code and code.tier < 5,
            }
            for r in report.rows
        ]
        chart = (
            charts.per_day(
                "每日办件量与办结量",
                [d.isoformat() for d, _ in days],
                [("办件量", [c["filed"] for _, c in days]), ("办结量", [c["delivered"] for _, c in days])],
            )
            if days
            else "<p class='muted'>期间超过一季度: 不画每日图</p>"
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
            "roles": "、".join(ROLE_LABELS[r] for r in sorted(principal.roles)),
        }
        return page(request, "stats.html", context)

    def report(request: Request) -> Response:
        signed_in(request, Action.READ_STATS)
        today = local_date(node.clock())
        try:
            period = Period.parse(request.query_params.get("period", "") or today.strftime("%Y-%m"))
            html = render(build(node, period, request.query_params.get("division", ""), today))
        except OperatorError as exc:
            return page(request, "error.html", {"message": str(exc)}, 400)
        return _headers(HTMLResponse(html))

    def home(request: Request) -> Response:
        return _headers(RedirectResponse("/stats", status_code=303))

    routes = [
        Route("/", home),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/stats", stats, methods=["GET"]),
        Route("/stats/report", report, methods=["GET"]),
    ]

    async def refused(request: Request, exc: Exception) -> Response:
        if isinstance(exc, Unauthenticated):
            return _headers(RedirectResponse("/login", status_code=303))
        return page(request, "error.html", {"message": "没有权限查看此页"}, 403)

    handlers: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
        Unauthenticated: refused,
        Forbidden: refused,
    }
    middleware = [
        Middleware(
            SessionMiddleware,
            secret_key=secret,
            session_cookie=COOKIE,
            max_age=8 * 3600,  # a working day
            same_site="strict",
            https_only=secure_cookies,
        )
    ]
    return Starlette(routes=routes, middleware=middleware, exception_handlers=handlers)


def _templates() -> Any:
    from importlib.resources import files

    return files("node.web") / "templates"


def _csrf(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


def _csrf_ok(request: Request, sent: str) -> bool:
    expected = str(request.session.get("csrf", ""))
    return bool(expected) and hmac.compare_digest(expected, sent)


def _headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response
