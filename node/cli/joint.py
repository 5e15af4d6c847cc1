"""`yiwang joint`: joint review (并联审批 / 纵横联审, docs/joint-review.md): the lead opens a
case's review as the item's plan says and records the silence of reviewers past their due
date; a co-reviewing department answers with its opinion; every node shows a case's review and
the queue of requests it has not answered."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from node.cli.common import Actor, DataDir, JsonOut, _, acting, at_us, console, fmt_time, opened, print_json, table
from node.domain.joint_review import Verdict
from node.domain.roles import Action
from node.pages import words

if TYPE_CHECKING:  # the store loads when a command runs, not for its help
    from node.store.tables import JointReviewRow

app = typer.Typer(
    help="Joint review (并联审批 / 纵横联审): open a case's review, answer as a co-reviewing department, the queue.",
    no_args_is_help=True,
)


def row_json(r: JointReviewRow) -> dict[str, object]:
    return {
        "case_no": r.case_no,
        "lead": r.lead,
        "node": r.node,
        "department": r.department,
        "name": r.name,
        "item_code": r.item_code,
        "mode": r.mode,
        "due": r.due,
        "silence": r.silence,
        "requested_at": at_us(r.requested_at_us),
        "verdict": r.verdict or None,
        "reasons": r.reasons,
        "forward_to": r.forward_to,
        "by_default": r.by_default,
        "answered_at": at_us(r.answered_at_us),
        "working_days": r.working_days,
        "decided_at": at_us(r.decided_at_us),
    }


def _verdict(r: JointReviewRow) -> str:
    if not r.verdict:
        return _("closed") if r.decided_at_us else _("waiting")
    said = _(words.VERDICT[r.verdict])
    return _("{verdict} (silence past the due date)").format(verdict=said) if r.by_default else said


def _table(title: str, rows: list[JointReviewRow], with_case: bool = False) -> None:
    """The rows as a table; `with_case`: rows of several cases (a queue)."""
    heads = [_("Co-reviewing department"), _("Node"), _("Due"), _("Opinion"), _("Reasons"), _("Working days")]
    table(
        title,
        [_("Case"), *heads] if with_case else heads,
        [
            (
                *((r.case_no,) if with_case else ()),
                r.name,
                r.node,
                r.due,
                _verdict(r),
                r.reasons or (_("Forward to {body}").format(body=r.forward_to) if r.forward_to else ""),
                "" if r.working_days is None else r.working_days,
            )
            for r in rows
        ],
    )


@app.command("request")
def request(case_no: str, actor: Actor = None, data_dir_: DataDir = None, json_out: JsonOut = False) -> None:
    """Open a case's joint review as its item's plan says: every co-reviewer gets a request with
    its due date (this node must hold the case)."""
    with opened(data_dir_) as node:
        by = acting(node, actor, Action.REVIEW)
        node.joint_reviews.request(case_no, by)
        rows = node.joint_reviews.show(case_no)
    _print_review(case_no, rows, json_out)


@app.command("answer")
def answer(
    case_no: str,
    department: Annotated[str, typer.Option(help="The answering department's credit code (GB 32100)")],
    verdict: Annotated[Verdict, typer.Option(help="agree 同意, disagree 不同意, agree_forward 同意但需转报")],
    reasons: Annotated[str, typer.Option(help="Why (required with disagree); never a resident's personal data")] = "",
    forward_to: Annotated[str, typer.Option(help="The body to forward to (required with agree_forward)")] = "",
    actor: Actor = None,
    data_dir_: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Answer a joint review's request to a department of this node with its signed opinion,
    sent to the lead; once, by the due date."""
    with opened(data_dir_) as node:
        by = acting(node, actor, Action.OPINE)
        opinion = node.joint_reviews.answer(case_no, department, verdict, reasons, forward_to, by)
    if json_out:
        print_json({"case_no": case_no, "department": opinion.department, "verdict": opinion.verdict.value})
        return
    console.print(f"{case_no}: {_(words.VERDICT[opinion.verdict.value])} ({opinion.department}, {by})", highlight=False)


@app.command("lapse")
def lapse(actor: Actor = None, data_dir_: DataDir = None, json_out: JsonOut = False) -> None:
    """Record the silence of every reviewer past its due date on the cases this node leads,
    as each plan reads it (the supervision scan does this too)."""
    with opened(data_dir_) as node:
        by = acting(node, actor, Action.REVIEW)
        rows = node.joint_reviews.lapse_due(by)
    if json_out:
        print_json([row_json(r) for r in rows])
        return
    console.print(_("Silence recorded: {n}").format(n=len(rows)), highlight=False)


@app.command("show")
def show(case_no: str, data_dir_: DataDir = None, json_out: JsonOut = False) -> None:
    """A case's joint review: who was asked, by when, what each answered and how many working
    days it took."""
    with opened(data_dir_) as node:
        rows = node.joint_reviews.show(case_no)
    _print_review(case_no, rows, json_out)


def _print_review(case_no: str, rows: list[JointReviewRow], json_out: bool) -> None:
    if json_out:
        print_json([row_json(r) for r in rows])
        return
    _table(_("Joint review of case {case_no}").format(case_no=case_no), rows)


@app.command("queue")
def queue(
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 100, data_dir_: DataDir = None, json_out: JsonOut = False
) -> None:
    """The requests this node's departments have not answered, soonest due first."""
    with opened(data_dir_) as node:
        rows = node.joint_reviews.queue(limit)
    if json_out:
        print_json([row_json(r) for r in rows])
        return
    _table(_("Joint reviews waiting here"), rows, with_case=True)
    if rows:
        console.print(_("Oldest request: {at}").format(at=fmt_time(at_us(rows[0].requested_at_us))), highlight=False)
