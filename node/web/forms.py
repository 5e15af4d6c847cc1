"""The case steps of the workbench as forms: which steps the lifecycle allows now for this
operator and this node, and each posted form read into the lifecycle command the CLI would
send, or into errors beside the fields (the form is shown again with what was typed)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.datastructures import FormData

from node.domain.evaluation import CAUSES
from node.domain.lifecycle import (
    CUSTODY_PURPOSES,
    SPECIAL_PROCEDURES,
    Accept,
    AcceptCustody,
    CaseCommand,
    CaseState,
    Command,
    Decide,
    DeclineCustody,
    Deliver,
    Evaluate,
    OfferCustody,
    Reject,
    RequestReview,
    RequestSupplement,
    Resume,
    Review,
    Supplement,
    Suspend,
    Withdraw,
    WithdrawOffer,
    allowed_commands,
)
from node.domain.roles import Principal, action_of_command

# Steps that cannot be undone: the page asks to confirm them first.
FINAL = frozenset({Command.DECIDE_APPROVE, Command.DECIDE_DENY, Command.REJECT, Command.WITHDRAW})
DELIVERY = ("window", "post", "electronic")
MAX_TEXT = 500


@dataclass
class Posted:
    """A step's form as read: the command, or errors by field; `values` keeps what was typed."""

    step: str
    command: CaseCommand | None = None
    errors: dict[str, str] = field(default_factory=dict)
    values: dict[str, list[str]] = field(default_factory=dict)
    license: bool = False
    valid_until: dt.date | None = None


def steps_now(
    state: CaseState, me: str, principal: Principal, today: dt.date, joint_plan: bool = False
) -> list[Command]:
    """The steps this operator may take on the case here now: answering an offer made to this
    node up to its answer date, withdrawing this node's offer after it, or the lifecycle's next
    steps when this node holds the case and has not offered it (recording supplied materials
    only when some are awaited; opening a joint review once, when the item has a plan
    (`joint_plan`); no hand-over while one is open; silence is recorded by the scan)."""
    overdue_offer = bool(state.offer_answer_by) and today > dt.date.fromisoformat(state.offer_answer_by)
    if state.offered_to == me:
        candidates = [] if overdue_offer else [Command.ACCEPT_CUSTODY, Command.DECLINE_CUSTODY]
    elif state.custodian != me:
        candidates = []
    elif state.offered_to:
        candidates = [Command.WITHDRAW_OFFER] if overdue_offer else []
    else:
        candidates = [
            c
            for c in allowed_commands(state.status)
            if c not in (Command.ACCEPT_CUSTODY, Command.DECLINE_CUSTODY, Command.WITHDRAW_OFFER, Command.FILE)
        ]
        # a decision is one form with approve or deny
        if Command.DECIDE_DENY in candidates and Command.DECIDE_APPROVE in candidates:
            candidates.remove(Command.DECIDE_DENY)
        if Command.SUPPLEMENT in candidates and not (state.missing_materials or state.requested_materials):
            candidates.remove(Command.SUPPLEMENT)
        reviewing = state.review is not None and state.decided_at is None
        skip = {Command.LAPSE_REVIEW} | ({Command.OFFER_CUSTODY} if reviewing else set())
        if state.review is not None or not joint_plan:
            skip.add(Command.REQUEST_REVIEW)
        candidates = [c for c in candidates if c not in skip]
    return [c for c in candidates if principal.may(action_of_command(c))]


def read(step: str, form: FormData, state: CaseState, me: str, _: Callable[[str], str]) -> Posted:
    """The command a step's form asks for, or the errors beside its fields."""
    values = {k: [str(v) for v in form.getlist(k)] for k in form if k != "csrf"}
    posted = Posted(step, values=values)

    def text(name: str, required: bool = False) -> str:
        value = str(form.get(name, "")).strip()
        if required and not value:
            posted.errors[name] = _("Required")
        elif len(value) > MAX_TEXT:
            posted.errors[name] = _("At most 500 characters")
        return value

    def listed(name: str) -> tuple[str, ...]:
        picked = [str(v).strip() for v in form.getlist(name) if str(v).strip()]
        extra = [line.strip() for line in str(form.get(f"{name}_other", "")).splitlines() if line.strip()]
        return tuple(dict.fromkeys(picked + extra))

    if step == Command.ACCEPT:
        posted.command = Accept(listed("missing"))
    elif step == Command.REJECT:
        posted.command = Reject(text("reason", required=True))
    elif step == Command.REVIEW:
        posted.command = Review()
    elif step == Command.REQUEST_REVIEW:
        posted.command = RequestReview(())  # the item's plan names the reviewers
    elif step == Command.REQUEST_SUPPLEMENT:
        materials = listed("materials")
        if not materials:
            posted.errors["materials"] = _("List everything missing at once (一次性告知)")
        posted.command = RequestSupplement(materials, text("reason"))
    elif step == Command.SUPPLEMENT:
        posted.command = Supplement(listed("materials"))
    elif step == Command.SUSPEND:
        procedure = text("procedure")
        if procedure not in SPECIAL_PROCEDURES:
            posted.errors["procedure"] = _("Choose a procedure")
        days = text("limit_days")
        whole = re.fullmatch(r"[0-9]{1,3}", days) is not None
        if not whole or not 1 <= int(days) <= 366:
            posted.errors["limit_days"] = _("A whole number of working days, 1 to 366")
        posted.command = Suspend(procedure, int(days) if whole else 0, text("reason"))
    elif step == Command.RESUME:
        posted.command = Resume()
    elif step in (Command.DECIDE_APPROVE, Command.DECIDE_DENY, "decide"):
        outcome = text("outcome")
        if outcome not in ("approve", "deny"):
            posted.errors["outcome"] = _("Choose approve or deny")
        approve = outcome == "approve"
        reason = text("reason", required=not approve)
        posted.license = approve and form.get("license") == "1"
        until = text("valid_until")
        if until:
            try:
                posted.valid_until = dt.date.fromisoformat(until)
            except ValueError:
                posted.errors["valid_until"] = _("A date such as 2031-12-31")
        responsibility = approve and form.get("responsibility") == "1"
        posted.command = Decide(approve, reason, "" if posted.license else text("result_ref"), (), responsibility)
    elif step == Command.DELIVER:
        method = text("method") or "window"
        if method not in DELIVERY:
            posted.errors["method"] = _("Choose how it is delivered")
        posted.command = Deliver(method)
    elif step == Command.WITHDRAW:
        posted.command = Withdraw(text("reason"))
    elif step == Command.EVALUATE:
        level = text("level")
        if level not in ("1", "2", "3", "4", "5"):
            posted.errors["level"] = _("Choose a level")
        causes = tuple(c for c in form.getlist("causes") if str(c) in CAUSES)
        posted.command = Evaluate(
            int(level) if level in ("1", "2", "3", "4", "5") else 0, "", tuple(str(c) for c in causes)
        )
    elif step == Command.OFFER_CUSTODY:
        to = text("to", required=True)
        purpose = text("purpose") or "process"
        if purpose not in CUSTODY_PURPOSES:
            posted.errors["purpose"] = _("Choose a purpose")
        posted.command = OfferCustody(to, purpose, text("reason"))
    elif step == Command.ACCEPT_CUSTODY:
        posted.command = AcceptCustody(me)
    elif step == Command.DECLINE_CUSTODY:
        posted.command = DeclineCustody(me, text("reason", required=True))
    elif step == Command.WITHDRAW_OFFER:
        posted.command = WithdrawOffer(state.offered_to, text("reason"))
    else:
        posted.errors["step"] = _("Unknown step")
    if posted.errors:
        posted.command = None
    return posted
