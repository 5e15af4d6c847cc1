"""The words operators read for the system's names, on the pages and in the CLI: statuses,
timeline entries and their details, queues, steps, procedures, purposes, delivery methods and
warning levels. Each is an English message marked with `N_` for the catalogs
(scripts/i18n.py) and translated where it is shown."""

from __future__ import annotations

from node.domain.entries import Kind
from node.domain.lifecycle import Command, Status
from node.domain.queues import Queue


def N_(message: str) -> str:
    """Marks a message for extraction; translated where it is shown."""
    return message


STATUS: dict[str, str] = {
    Status.FILED: N_("Filed"),
    Status.ACCEPTED: N_("Accepted"),
    Status.NOT_ACCEPTED: N_("Not accepted"),
    Status.UNDER_REVIEW: N_("Under review"),
    Status.AWAITING_SUPPLEMENT: N_("Awaiting supplement"),
    Status.SPECIAL_PROCEDURE: N_("Special procedure"),
    Status.APPROVED: N_("Approved"),
    Status.DENIED: N_("Denied"),
    Status.DELIVERED: N_("Delivered"),
    Status.WITHDRAWN: N_("Withdrawn"),
    Status.EVALUATED: N_("Evaluated"),
}

ENTRY: dict[str, str] = {
    Kind.CASE_FILED: N_("Application filed"),
    Kind.CASE_ACCEPTED: N_("Accepted"),
    Kind.CASE_NOT_ACCEPTED: N_("Not accepted"),
    Kind.CASE_REVIEW_STARTED: N_("Review started"),
    Kind.CASE_SUPPLEMENT_REQUESTED: N_("Supplement requested (told once)"),
    Kind.CASE_SUPPLEMENTED: N_("Materials supplied"),
    Kind.CASE_SUSPENDED: N_("Special procedure started (clock stopped)"),
    Kind.CASE_RESUMED: N_("Special procedure ended"),
    Kind.CASE_DECIDED: N_("Decided"),
    Kind.CASE_DELIVERED: N_("Result delivered"),
    Kind.CASE_WITHDRAWN: N_("Withdrawn by the applicant"),
    Kind.CASE_EVALUATED: N_("Evaluated by the applicant"),
    Kind.CASE_CUSTODY_OFFERED: N_("Handed over (offered)"),
    Kind.CASE_CUSTODY_ACCEPTED: N_("Taken over"),
    Kind.CASE_CUSTODY_DECLINED: N_("Hand-over declined"),
    Kind.CASE_CUSTODY_WITHDRAWN: N_("Hand-over withdrawn"),
    Kind.CASE_REVIEW_REQUESTED: N_("Joint review opened (并联审批)"),
    Kind.CASE_REVIEW_LAPSED: N_("A reviewer's silence recorded"),
}

QUEUE = {
    Queue.INTAKE: N_("To accept"),
    Queue.REVIEW: N_("Under review"),
    Queue.SUPPLEMENT: N_("Awaiting supplement"),
    Queue.SPECIAL: N_("Special procedure"),
    Queue.DELIVERY: N_("To deliver"),
    Queue.OFFERS: N_("Offered to us"),
}

STEP = {
    Command.ACCEPT: N_("Accept"),
    Command.REJECT: N_("Do not accept"),
    Command.REVIEW: N_("Start review"),
    Command.REQUEST_SUPPLEMENT: N_("Request a supplement"),
    Command.SUPPLEMENT: N_("Record supplied materials"),
    Command.SUSPEND: N_("Special procedure"),
    Command.RESUME: N_("End special procedure"),
    Command.DECIDE_APPROVE: N_("Decide"),
    Command.DECIDE_DENY: N_("Decide"),
    Command.DELIVER: N_("Deliver"),
    Command.WITHDRAW: N_("Withdraw"),
    Command.EVALUATE: N_("Record the evaluation"),
    Command.OFFER_CUSTODY: N_("Hand over or escalate"),
    Command.ACCEPT_CUSTODY: N_("Take the case"),
    Command.DECLINE_CUSTODY: N_("Decline the case"),
    Command.WITHDRAW_OFFER: N_("Withdraw the hand-over"),
    Command.REQUEST_REVIEW: N_("Open the joint review"),
    Command.LAPSE_REVIEW: N_("Record a reviewer's silence"),
}

PROCEDURE = {
    "hearing": N_("Hearing"),
    "testing": N_("Testing"),
    "expert_review": N_("Expert review"),
    "extension": N_("Extension"),
    "inspection": N_("On-site inspection"),
    "other": N_("Other"),
}

PURPOSE = {
    "process": N_("For handling"),
    "escalate": N_("Escalate for a decision"),
    "result": N_("Result back to the filing office"),
    "return": N_("Return"),
    "reroute": N_("Re-route"),
}

DELIVERY = {"window": N_("At the window"), "post": N_("By post"), "electronic": N_("Electronically")}

LEVEL = {
    "normal": N_("On track"),
    "yellow": N_("Due soon"),
    "red": N_("Overdue"),
    "on_time": N_("Finished on time"),
    "late": N_("Finished late"),
}

# The details of a timeline entry an operator reads, by the command field that holds them.
DETAIL = {
    "reason": N_("reason"),
    "materials": N_("materials"),
    "missing_materials": N_("promised later (容缺)"),
    "procedure": N_("procedure"),
    "limit_days": N_("working days"),
    "result_ref": N_("result document"),
    "method": N_("delivered"),
    "level": N_("satisfaction"),
    "causes": N_("causes"),
    "to": N_("to"),
    "purpose": N_("purpose"),
    "agent": N_("agent"),
    "cited_licenses": N_("licences cited"),
    "approved": N_("decision"),
}

# Official code tables (node/domain): their Chinese names are the zh_CN translations.
SATISFACTION: dict[int, str] = {
    1: N_("Very satisfied"),
    2: N_("Satisfied"),
    3: N_("Fairly satisfied"),
    4: N_("Dissatisfied"),
    5: N_("Very dissatisfied"),
}

# A joint review's opinions (协办意见, node.domain.joint_review.Verdict).
VERDICT = {
    "agree": N_("Agree"),
    "disagree": N_("Disagree"),
    "agree_forward": N_("Agree, to be forwarded"),
}
CAUSE = {
    "overdue": N_("Past the legal time limit without reason"),
    "extra_conditions": N_("Conditions added"),
    "extra_materials": N_("Materials added"),
    "repeat_visits": N_("Several trips needed"),
    "attitude": N_("Poor service attitude"),
    "guide": N_("Inaccurate service guide"),
    "platform": N_("Platform hard to use"),
    "other": N_("Other"),
}

SERVICE_OBJECT = {
    "1": N_("Natural person"),
    "2": N_("Enterprise legal person"),
    "3": N_("Public institution legal person"),
    "4": N_("Social organisation legal person"),
    "5": N_("Administrative organ"),
    "6": N_("Other organisation"),
}

ROLE = {
    "clerk": N_("Window clerk"),
    "reviewer": N_("Reviewer"),
    "decider": N_("Decider"),
    "supervisor": N_("Supervisor"),
    "agent": N_("Village agent"),
    "admin": N_("Administrator"),
}

RULE = {
    "limit": N_("Past the promised time limit"),
    "acceptance": N_("Acceptance overdue"),
    "supplement": N_("Supplement overdue"),
    "special": N_("Special procedure overdue"),
    "reasons": N_("Refusal or denial without sufficient reasons"),
    "zero_cases": N_("No cases"),
    "rectification": N_("Bad review not rectified in time"),
    "reviewer": N_("Co-reviewer silent past its due date"),
}

ALARM_LEVEL = {"warning": N_("Warning"), "yellow": N_("Yellow card"), "red": N_("Red card")}

# The statistics' counters (node.domain.counting.COUNTERS) as column heads; each 差评 cause's
# counter is headed by CAUSE_COUNTER with the cause's words.
COUNTER = {
    "filed": N_("Cases filed"),
    "accepted": N_("Accepted"),
    "not_accepted": N_("Not accepted"),
    "approved": N_("Approved"),
    "denied": N_("Denied"),
    "delivered": N_("Delivered"),
    "delivered_on_time": N_("On time"),
    "delivered_late": N_("Late"),
    "withdrawn": N_("Withdrawn"),
    "instant": N_("Instant"),
    "online": N_("Online"),
    "agent": N_("Errands"),
    "cross_region": N_("Cross-region"),
    "joint": N_("Joint reviews"),
    "eval_1": N_("Very satisfied"),
    "eval_2": N_("Satisfied"),
    "eval_3": N_("Fairly satisfied"),
    "eval_4": N_("Dissatisfied"),
    "eval_5": N_("Very dissatisfied"),
    "bad_reviews": N_("Bad reviews"),
    "timed": N_("Finished with a time limit"),
    "work_days": N_("Working days used"),
    "called_back": N_("Bad reviews called back"),
    "bad_rectified": N_("Bad reviews rectified"),
}
CAUSE_COUNTER = N_("Bad review cause: %(cause)s")
