"""The web application `yiwang run` serves (DESIGN.md sections 13 and 14): log-in with the
node's accounts, the language switch, and the consoles' pages, each module adding its routes:
the county workbench (node.web.workbench), the village agent's page (node.web.errands), the
supervisors' dashboard (node.web.supervision_page) and the statistics (node.web.stats_page). Every
action goes through the same services and role table as the CLI and the API, with the
signed-in operator as the actor."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from node import i18n
from node.context import Node
from node.domain.errors import Forbidden, OperatorError, Unauthenticated
from node.domain.roles import Action
from node.web import errand_list, errands, reviews_page, stats_page, supervision_page, workbench
from node.web.base import COOKIE, BodyLimit, CsrfRefused, Web, csrf_ok, headers, safe_next


def make_app(node: Node, secret: str, secure_cookies: bool) -> Starlette:
    """The application for `node`; `secret` signs session cookies, `secure_cookies` marks them
    HTTPS-only (the web port off loopback is served over TLS)."""
    web = Web(node)

    def login_form(request: Request) -> Response:
        return web.page(request, "login.html", {"error": ""})

    async def login(request: Request) -> Response:
        _ = web.gettext(request)
        form = await request.form(max_files=0, max_fields=10, max_part_size=4096)
        if not csrf_ok(request, str(form.get("csrf", ""))):
            return web.page(request, "login.html", {"error": _("The page expired; please log in again")}, 403)
        if not web.throttle.admit(request.client.host if request.client else "unknown"):
            return web.page(request, "login.html", {"error": _("Too many attempts; please try again later")}, 429)
        name, password = str(form.get("name", ""))[:64], str(form.get("password", ""))[:200]
        try:  # Argon2 takes a while: off the event loop
            principal = await run_in_threadpool(node.principals.login, name, password)
        except OperatorError:
            return web.page(request, "login.html", {"error": _("Wrong account or password"), "name": name}, 401)
        lang = request.session.get("lang")
        request.session.clear()  # a new session at log-in: no fixation
        if lang:
            request.session["lang"] = lang
        request.session["user"] = principal.name
        request.session["stamp"] = await run_in_threadpool(node.principals.stamp, principal.name)
        request.session["csrf"] = secrets.token_urlsafe(32)
        return headers(RedirectResponse("/", status_code=303))

    async def logout(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=10, max_part_size=4096)
        if csrf_ok(request, str(form.get("csrf", ""))):
            request.session.clear()
        return headers(RedirectResponse("/login", status_code=303))

    async def language(request: Request) -> Response:
        form = await web.form(request)
        request.session["lang"] = i18n.choose(str(form.get("lang", "")))
        return headers(RedirectResponse(safe_next(str(form.get("next", ""))), status_code=303))

    def home(request: Request) -> Response:
        principal = web.signed_in(request, Action.READ_STATS)
        desk = principal.may(Action.FILE) or principal.may(Action.ACCEPT) or principal.may(Action.DECIDE)
        start = "/work" if desk else "/errands" if principal.may(Action.FILE_ERRAND) else "/stats"
        return headers(RedirectResponse(start, status_code=303))

    routes = [
        Route("/", home),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/lang", language, methods=["POST"]),
        *stats_page.routes(web),
        *supervision_page.routes(web),
        *reviews_page.routes(web),
        *workbench.routes(web),
        *errands.routes(web),
        *errand_list.routes(web),
    ]

    async def refused(request: Request, exc: Exception) -> Response:
        _ = web.gettext(request)
        if isinstance(exc, Unauthenticated):
            return headers(RedirectResponse("/login", status_code=303))
        if isinstance(exc, CsrfRefused):
            return web.error(
                request,
                _("The form expired (its security token is missing or wrong); nothing was done. Open the page again."),
                403,
            )
        return web.error(request, _("You may not do this: your roles do not allow it"), 403)

    handlers: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
        Unauthenticated: refused,
        Forbidden: refused,
    }
    middleware = [
        Middleware(BodyLimit),
        Middleware(
            SessionMiddleware,
            secret_key=secret,
            session_cookie=COOKIE,
            max_age=8 * 3600,  # a working day
            same_site="strict",
            https_only=secure_cookies,
        ),
    ]
    return Starlette(routes=routes, middleware=middleware, exception_handlers=handlers)
