"""The joint reviews waiting at this node (issue 14, docs/joint-review.md): every request its
departments have not answered, soonest due first, each with the form that answers it with the
department's opinion (同意; 不同意 with reasons; 同意但需转报 naming the body). A reviewer's
node may not hold the case itself, so the page shows what the request says of it."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from node.domain.errors import OperatorError
from node.domain.joint_review import Verdict
from node.domain.roles import Action
from node.web.base import Web, headers


def routes(web: Web) -> list[Route]:
    node = web.node

    def queue(request: Request) -> Response:
        principal = web.signed_in(request, Action.READ_CASES)
        rows = node.joint_reviews.queue(200)
        context = {
            "rows": rows,
            "may_answer": principal.may(Action.OPINE),
            "verdicts": [v.value for v in Verdict],
            "flash": request.session.pop("flash", ""),
        }
        return web.page(request, "reviews.html", context)

    async def answer(request: Request) -> Response:
        principal = web.signed_in(request, Action.OPINE)
        form = await web.form(request)
        _ = web.gettext(request)
        case_no = request.path_params["case_no"]
        department, verdict, reasons, forward_to = (
            str(form.get(k, "")).strip()[:600] for k in ("department", "verdict", "reasons", "forward_to")
        )
        problem = (
            _("Choose an opinion")
            if verdict not in {v.value for v in Verdict}
            else _("A disagreement states its reasons")
            if verdict == Verdict.DISAGREE and not reasons
            else _("Name the body to forward to")
            if verdict == Verdict.AGREE_FORWARD and not forward_to
            else ""
        )
        if problem:
            request.session["flash"] = problem
            return headers(RedirectResponse("/reviews", status_code=303))
        try:
            await run_in_threadpool(
                node.joint_reviews.answer, case_no, department, Verdict(verdict), reasons, forward_to, principal.name
            )
        except OperatorError as exc:
            request.session["flash"] = web.explain(request, exc)
        else:
            request.session["flash"] = _("Opinion sent to the lead office")
        return headers(RedirectResponse("/reviews", status_code=303))

    return [
        Route("/reviews", queue, methods=["GET"]),
        Route("/reviews/{case_no}/answer", answer, methods=["POST"]),
    ]
