"""What every page of the consoles shares: templates rendered in the operator's language (the
message catalogs of node.i18n, zh-CN first), the signed-in operator authorised per action
through the role table, CSRF tokens on every form, and the security headers of every response.
"""

from __future__ import annotations

import functools
import hmac
import io
import secrets
from collections.abc import Callable
from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from federation.transport.enrollment import Throttle
from node import i18n
from node.context import Node
from node.domain.errors import Forbidden, OperatorError, Unauthenticated, YiwangError
from node.domain.roles import Action, Principal, authorize
from node.pages import words
from node.pages.errors import explain

# No script, no frame, forms only to this node: what a page needs and nothing else.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'"
COOKIE = "yiwang_session"

# The consoles' sections, each shown to whoever may do its action.
NAV = (
    ("/work", "Workbench", Action.READ_CASES),
    ("/file", "File at the window", Action.FILE),
    ("/errands", "Errands", Action.FILE_ERRAND),
    ("/stats", "Statistics", Action.READ_STATS),
    ("/reviews", "Joint reviews", Action.OPINE),
    ("/supervision", "Supervision", Action.READ_STATS),
    ("/catalog/errands", "Items open to errands", Action.MANAGE),
)


MAX_BODY = 60 * 1024 * 1024  # the largest request: a filing with its scans
MAX_FIELDS = 200
MAX_PART = 64 * 1024  # a form field other than a file


class BodyLimit:
    """ASGI middleware: a request body larger than MAX_BODY is refused (413) before a handler
    reads it, by its declared length or as it streams in."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > self.limit:
            await PlainTextResponse("请求过大 (request too large)", status_code=413)(scope, receive, send)
            return
        seen = 0

        async def bounded() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise HTTPException(413, "request too large")
            return message

        await self.app(scope, bounded, send)


class CsrfRefused(Forbidden):
    """A form without this session's CSRF token: nothing it asked for is done."""


class Web:
    """The node, its templates and the helpers of every page handler."""

    def __init__(self, node: Node) -> None:
        from importlib.resources import files

        self.node = node
        self.templates = Jinja2Templates(directory=str(files("node.web") / "templates"))
        self.throttle = Throttle(burst=10, per_minute=6.0)  # log-in attempts per client address
        self.templates.env.filters["rate"] = lambda v: "-" if v is None else f"{v:.2f}%"

    # -- language -------------------------------------------------------------------------

    def locale(self, request: Request) -> str:
        return i18n.choose(request.session.get("lang"))

    def gettext(self, request: Request) -> Callable[[str], str]:
        return i18n.translations(self.locale(request)).gettext

    # -- pages ----------------------------------------------------------------------------

    def page(self, request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
        lang = self.locale(request)
        tr = i18n.translations(lang)
        user = request.session.get("user")
        principal = self._principal(str(user)) if user else None
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        full = {
            "me": self.node.name or self.node.code,
            "user": user,
            "roles": "、".join(tr.gettext(words.ROLE[r]) for r in sorted(principal.roles)) if principal else "",
            "words": words,
            "nav": [(href, label) for href, label, action in NAV if principal is not None and principal.may(action)],
            "csrf": _csrf(request),
            "_": tr.gettext,
            "ngettext": tr.ngettext,
            "lang": lang,
            "lang_tag": "zh-CN" if lang == "zh_CN" else "en",
            "locales": i18n.LOCALES,
            "here": here,
            "d": functools.partial(i18n.day, locale=lang),
            "t": functools.partial(i18n.moment, locale=lang),
            "n": functools.partial(i18n.number, locale=lang),
            **context,
        }
        response = self.templates.TemplateResponse(request, name, full, status_code=status)
        return headers(response)

    def explain(self, request: Request, exc: YiwangError) -> str:
        """An error in the operator's words and language."""
        return explain(exc, self.gettext(request))

    def error(self, request: Request, message: str, status: int = 400) -> Response:
        return self.page(request, "error.html", {"message": message}, status)

    # -- who is asking --------------------------------------------------------------------

    def _principal(self, name: str) -> Principal | None:
        try:
            return self.node.principals.get(name)
        except OperatorError:
            return None

    def signed_in(self, request: Request, action: Action) -> Principal:
        """The operator of this session, authorised for `action` (Forbidden otherwise);
        Unauthenticated when there is none, or the password changed or the account was
        disabled since the session began."""
        name = request.session.get("user")
        if not name:
            raise Unauthenticated("log in first")
        if not hmac.compare_digest(self.node.principals.stamp(str(name)), str(request.session.get("stamp", "-"))):
            request.session.clear()
            raise Unauthenticated("log in again")
        principal = self._principal(str(name))
        if principal is None:
            request.session.clear()
            raise Unauthenticated("log in again")
        authorize(principal, action)
        return principal

    async def form(self, request: Request, files: int = 0, fields: int = MAX_FIELDS) -> FormData:
        """The posted form, read within bounds (`files` uploads and `fields` fields at most),
        refused (nothing done) without this session's CSRF token. Handlers authorise the session
        before they read it."""
        form = await request.form(max_files=files, max_fields=fields, max_part_size=MAX_PART)
        if not csrf_ok(request, str(form.get("csrf", ""))):
            raise CsrfRefused("the form's CSRF token is missing or wrong")
        return form


def _csrf(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


def csrf_ok(request: Request, sent: str) -> bool:
    expected = str(request.session.get("csrf", ""))
    return bool(expected) and hmac.compare_digest(expected, sent)


def headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def safe_next(value: str) -> str:
    """A local path to go back to (never another site): `/work` for anything else."""
    return value if value.startswith("/") and not value.startswith("//") and "\\" not in value else "/work"


def csv_download(write: Callable[[io.StringIO], None], filename: str) -> Response:
    """A CSV file to download: what `write` writes, with a BOM (so spreadsheet programs read the
    UTF-8), named `filename` (ASCII: division codes and dates)."""
    out = io.StringIO()
    write(out)
    response = Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f"attachment; filename={filename}"
    return headers(response)
