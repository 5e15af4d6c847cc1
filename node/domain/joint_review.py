"""Joint review (并联审批 / "王"型纵横联审, issue 14, DESIGN.md section 8): the plan an item
carries, who reviews one case, what an opinion may say, and when the lead may decide.

The node in custody stays the lead (主办) and the only writer of the case's state. It asks the
reviewers the item's plan names: departments at its own node (横向并联), nodes above or below it
(两级或三级联审) or in another region. Each answers once, within its own limit in working days,
with a signed opinion: 同意, 不同意 with reasons, or 同意但需转报 naming the body to forward to.
Silence past the limit counts as the plan says (agreement unless it says otherwise: the 协办
rule in DOMAIN.md), and so does a 不同意 without reasons.

All-sign (会签): the review is complete when every reviewer has answered or fallen silent.
Any-sign (或签): the first agreement completes it and the other requests lapse; until then it
waits for the rest as all-sign does. A reasoned 不同意 blocks approval unless the lead records
that it takes the responsibility; the lead may instead deny with the opinions attached, or stop
the clock for the applicant to fix the materials (补正).

The reviewer's node may answer up to and including its due date; from the next day on the lead
records its silence. The windows do not overlap (the same rule as custody offers,
node.services.offers). Every rule here is a pure function of the case's requests and opinions.
docs/joint-review.md has the plan's format and the protocol.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from node.domain.divisions import DivisionCode, Tier
from node.domain.errors import CaseConflict, InvalidInput
from node.domain.identifiers import validate_credit_code

# 行政许可法 art. 42: unified, joint or centralised handling within 45 working days.
JOINT_LIMIT_DAYS = 45
REVIEWER_LIMIT_DAYS = 10  # a reviewer's own limit when the plan names none
MAX_REVIEWERS = 30
MAX_DAYS = 366
MAX_TEXT = 500  # reasons, a forwarding body's name


class Verdict(StrEnum):
    AGREE = "agree"  # 同意
    DISAGREE = "disagree"  # 不同意 (with reasons)
    AGREE_FORWARD = "agree_forward"  # 同意但需转报 (naming the body to forward to)


class Mode(StrEnum):
    ALL = "all"  # 会签: every reviewer
    ANY = "any"  # 或签: the first agreement completes the review


# Where a plan's reviewer sits: the lead's own node, a tier (that tier's division on the
# filing division's line: the county and the city of a village's errand), or a fixed node.
HERE = "here"
_TIERS = {t.label: t for t in Tier}


@dataclass(frozen=True)
class ReviewerPlan:
    """One co-reviewer an item's plan names."""

    department: str  # GB 32100 credit code of the co-reviewing department
    name: str  # the department's name, as pages show it
    node: str = HERE  # HERE, a tier name (province .. township) or a 12-digit division code
    limit_days: int = REVIEWER_LIMIT_DAYS  # working days from the request
    silence: Verdict = Verdict.AGREE  # what no answer by the due date counts as


@dataclass(frozen=True)
class JointReviewPlan:
    """The joint-review extension of a catalog item (GB/T 39046 has no field for it)."""

    reviewers: tuple[ReviewerPlan, ...]
    mode: Mode = Mode.ALL
    limit_days: int = JOINT_LIMIT_DAYS  # the whole case's limit under joint handling

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode.value,
            "limit_days": self.limit_days,
            "reviewers": [
                {
                    "department": r.department,
                    "name": r.name,
                    "node": r.node,
                    "limit_days": r.limit_days,
                    "silence": r.silence.value,
                }
                for r in self.reviewers
            ],
        }


def _days(value: Any, field: str, default: int, upper: int) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().isdigit():
        raise InvalidInput(field, f"{value!r} is not a whole number of working days")
    days = int(str(value).strip())
    if not 1 <= days <= upper:
        raise InvalidInput(field, f"{days} is outside 1..{upper} working days")
    return days


def _choice(value: Any, field: str, enum: type[StrEnum], default: StrEnum) -> Any:
    if value is None or value == "":
        return default
    try:
        return enum(str(value).strip())
    except ValueError:
        raise InvalidInput(field, f"{value!r}: one of {', '.join(m.value for m in enum)}") from None


def _node(value: Any, field: str) -> str:
    text = str(value if value is not None else HERE).strip() or HERE
    if text == HERE or (text in _TIERS and text != Tier.VILLAGE.label):
        return text
    if text.isdigit():
        return DivisionCode.parse(text, field).code
    raise InvalidInput(field, f"{text!r}: '{HERE}', a tier (province, city, county, township) or a division code")


_REVIEWER_FIELDS = ("department", "name", "node", "limit_days", "silence")


def plan_from_dict(data: Any) -> JointReviewPlan:
    """A plan as the catalog file writes it (docs/catalog-format.md); raises InvalidInput naming
    the field at fault."""
    if not isinstance(data, Mapping):
        raise InvalidInput("joint_review", "is not an object")
    unknown = sorted(set(data) - {"mode", "limit_days", "reviewers"})
    if unknown:
        raise InvalidInput(f"joint_review.{unknown[0]}", "unknown field; the fields are mode, limit_days, reviewers")
    whole = _days(data.get("limit_days"), "joint_review.limit_days", JOINT_LIMIT_DAYS, MAX_DAYS)
    rows = data.get("reviewers")
    if not isinstance(rows, list) or not rows:
        raise InvalidInput("joint_review.reviewers", "list at least one co-reviewing department")
    if len(rows) > MAX_REVIEWERS:
        raise InvalidInput("joint_review.reviewers", f"at most {MAX_REVIEWERS} reviewers")
    reviewers = []
    for i, row in enumerate(rows, 1):
        at = f"joint_review.reviewers[{i}]"
        if not isinstance(row, Mapping):
            raise InvalidInput(at, "is not an object")
        extra = sorted(set(row) - set(_REVIEWER_FIELDS))
        if extra:
            raise InvalidInput(f"{at}.{extra[0]}", f"unknown field; the fields are {', '.join(_REVIEWER_FIELDS)}")
        name = str(row.get("name") or "").strip()
        if not name or len(name) > 100:
            raise InvalidInput(f"{at}.name", "the department's name, 1 to 100 characters")
        department = validate_credit_code(str(row.get("department") or ""), f"{at}.department").value
        limit = _days(row.get("limit_days"), f"{at}.limit_days", min(REVIEWER_LIMIT_DAYS, whole), whole)
        silence = _choice(row.get("silence"), f"{at}.silence", Verdict, Verdict.AGREE)
        if silence == Verdict.AGREE_FORWARD:
            raise InvalidInput(f"{at}.silence", "silence counts as agree or disagree")
        reviewers.append(ReviewerPlan(department, name, _node(row.get("node"), f"{at}.node"), limit, silence))
    seen = set()
    for r in reviewers:
        if (r.node, r.department) in seen:
            raise InvalidInput("joint_review.reviewers", f"department {r.department} at {r.node} is listed twice")
        seen.add((r.node, r.department))
    mode = _choice(data.get("mode"), "joint_review.mode", Mode, Mode.ALL)
    return JointReviewPlan(tuple(reviewers), mode, whole)


def reviewer_node(spec: str, lead: DivisionCode, filing: DivisionCode) -> DivisionCode:
    """The node a plan's reviewer sits at for a case the lead holds and `filing` filed."""
    if spec == HERE:
        return lead
    if spec in _TIERS:
        tier = _TIERS[spec]
        for code in (filing, *filing.ancestors()):
            if code.tier == tier:
                return code
        raise InvalidInput("joint_review", f"the case was filed at {filing}, which has no {spec} above it")
    return DivisionCode.parse(spec)


# --- one case's review --------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One reviewer asked about one case: a department at a node, answering by `due`."""

    node: str
    department: str
    name: str
    due: str  # ISO date, the last day the reviewer may answer
    silence: Verdict = Verdict.AGREE

    @property
    def key(self) -> tuple[str, str]:
        return (self.node, self.department)


@dataclass(frozen=True)
class Opinion:
    """A reviewer's answer, or its silence as the lead recorded it (`by_default`)."""

    node: str
    department: str
    verdict: Verdict
    reasons: str = ""
    forward_to: str = ""
    at_us: int = 0
    by_default: bool = False
    entry_hash: bytes = b""  # the reviewer's review_opinion entry; b"" for silence

    @property
    def key(self) -> tuple[str, str]:
        return (self.node, self.department)

    @property
    def blocks(self) -> bool:
        """A 不同意 that stops approval: with reasons, or the plan's reading of silence. A
        reasonless 不同意 from a reviewer counts as agreement (the 协办 rule)."""
        return self.verdict == Verdict.DISAGREE and (self.by_default or bool(self.reasons.strip()))


def requests_for(
    plan: JointReviewPlan, lead: DivisionCode, filing: DivisionCode, due: Mapping[int, dt.date]
) -> tuple[Request, ...]:
    """The requests a case's joint review opens: one per reviewer of the plan; `due` maps a
    reviewer's limit in working days to its last day (the lead's calendar counts them)."""
    out = []
    for r in plan.reviewers:
        node = reviewer_node(r.node, lead, filing)
        out.append(Request(node.code, r.department, r.name, due[r.limit_days].isoformat(), r.silence))
    keys = [q.key for q in out]
    if len(set(keys)) != len(keys):
        raise InvalidInput("joint_review", "two reviewers of the plan name the same department at the same node")
    return tuple(out)


def check_requests(requests: Sequence[Request]) -> None:
    """A request entry's reviewers as a writer must state them."""
    if not requests or len(requests) > MAX_REVIEWERS:
        raise InvalidInput("reviewers", f"1 to {MAX_REVIEWERS} reviewers")
    keys = set()
    for q in requests:
        DivisionCode.parse(q.node, "reviewer node")
        validate_credit_code(q.department, "reviewer department")
        try:
            dt.date.fromisoformat(q.due)
        except ValueError:
            raise InvalidInput("due", f"{q.due!r} is not a date YYYY-MM-DD") from None
        if q.key in keys:
            raise InvalidInput("reviewers", f"department {q.department} at {q.node} is asked twice")
        if q.silence == Verdict.AGREE_FORWARD:
            raise InvalidInput("silence", "silence counts as agree or disagree")
        keys.add(q.key)


def check_opinion(verdict: Verdict, reasons: str, forward_to: str) -> None:
    """What a reviewer's answer must say (the writer checks it before writing)."""
    if len(reasons) > MAX_TEXT or len(forward_to) > MAX_TEXT:
        raise InvalidInput("reasons", f"at most {MAX_TEXT} characters")
    if verdict == Verdict.DISAGREE and not reasons.strip():
        raise InvalidInput("reasons", "a 不同意 states its reasons (without them it counts as agreement)")
    if verdict == Verdict.AGREE_FORWARD and not forward_to.strip():
        raise InvalidInput("forward_to", "name the body the case must be forwarded to (同意但需转报)")
    if verdict != Verdict.AGREE_FORWARD and forward_to.strip():
        raise InvalidInput("forward_to", "only a 同意但需转报 names a body to forward to")


def _find(requests: Iterable[Request], node: str, department: str) -> Request | None:
    return next((q for q in requests if q.node == node and q.department == department), None)


def check_answer(
    requests: Sequence[Request],
    opinions: Sequence[Opinion],
    node: str,
    department: str,
    day: dt.date,
    decided: bool,
    case_no: str,
) -> Request:
    """The request a reviewer's opinion answers; raises CaseConflict when `department` at
    `node` was not asked, has answered (or its silence was recorded), answers after its due
    date or after the decision, or the review is complete already (any-sign)."""
    q = _find(requests, node, department)
    if q is None:
        raise CaseConflict("reviewer", f"case {case_no} has not asked department {department} at {node} for an opinion")
    if decided:
        raise CaseConflict("reviewer", f"case {case_no} is decided; its joint review is closed")
    if any(o.key == q.key for o in opinions):
        raise CaseConflict("reviewer", f"department {department} at {node} has answered on case {case_no} already")
    if day > dt.date.fromisoformat(q.due):
        raise CaseConflict(
            "reviewer",
            f"the opinion on case {case_no} was due by {q.due}; the lead records the silence as the plan says",
        )
    return q


def silent(requests: Sequence[Request], opinions: Sequence[Opinion], today: dt.date) -> list[Request]:
    """Reviewers past their due date with no answer: the lead records their silence."""
    answered = {o.key for o in opinions}
    return [q for q in requests if q.key not in answered and today > dt.date.fromisoformat(q.due)]


def default_opinion(q: Request, at_us: int) -> Opinion:
    reasons = "逾期未答复，按联审方案视为不同意" if q.silence == Verdict.DISAGREE else ""
    return Opinion(q.node, q.department, q.silence, reasons, "", at_us, by_default=True)


@dataclass(frozen=True)
class Standing:
    """Where a case's joint review stands."""

    complete: bool
    waiting: tuple[Request, ...]  # asked, not answered, not yet silent
    blocking: tuple[Opinion, ...]  # reasoned 不同意 (or silence read as 不同意)
    forward_to: tuple[str, ...]  # bodies a 同意但需转报 names


def standing(mode: Mode, requests: Sequence[Request], opinions: Sequence[Opinion]) -> Standing:
    answered = {o.key for o in opinions}
    waiting = tuple(q for q in requests if q.key not in answered)
    agreed = any(o.verdict != Verdict.DISAGREE or not o.blocks for o in opinions)
    complete = not waiting or (mode == Mode.ANY and agreed)
    return Standing(
        complete,
        () if complete else waiting,
        tuple(o for o in opinions if o.blocks),
        tuple(o.forward_to for o in opinions if o.verdict == Verdict.AGREE_FORWARD),
    )


def check_decision(
    case_no: str,
    mode: Mode,
    requests: Sequence[Request],
    opinions: Sequence[Opinion],
    approved: bool,
    responsibility: bool,
) -> Standing:
    """Raise CaseConflict unless the lead may decide now: every opinion comes from a reviewer
    asked, once; the review is complete; an approval over a reasoned 不同意 records that the
    lead takes the responsibility. Every node that applies a decision checks the opinions it
    carries with this function."""
    seen = set()
    for o in opinions:
        if _find(requests, o.node, o.department) is None:
            raise CaseConflict("opinions", f"department {o.department} at {o.node} was not asked about case {case_no}")
        if o.key in seen:
            raise CaseConflict("opinions", f"department {o.department} at {o.node} answers case {case_no} twice")
        seen.add(o.key)
    now = standing(mode, requests, opinions)
    if not now.complete:
        names = "、".join(f"{q.name}({q.node}, {q.due})" for q in now.waiting)
        raise CaseConflict("opinions", f"case {case_no} waits for the opinions of {names}")
    if approved and now.blocking and not responsibility:
        names = "、".join(o.department for o in now.blocking)
        raise CaseConflict(
            "responsibility",
            f"case {case_no}: {names} disagreed with reasons; deny with the opinions attached, request a "
            "supplement, or approve recording that the lead takes the responsibility",
        )
    return now


@dataclass(frozen=True)
class JointReview:
    """The joint review a case's lead opened, as the case's state holds it at every node: whom
    it asked and whose silence it has recorded. Opinions are not part of the state (each comes
    from its reviewer's own log); the decision carries them."""

    mode: Mode
    requests: tuple[Request, ...]
    lapsed: tuple[tuple[str, str], ...] = ()  # (node, department) whose silence is recorded

    def request(self, node: str, department: str) -> Request | None:
        return _find(self.requests, node, department)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode.value,
            "requests": [[q.node, q.department, q.name, q.due, q.silence.value] for q in self.requests],
            "lapsed": [list(k) for k in self.lapsed],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JointReview:
        return cls(
            Mode(data["mode"]),
            tuple(Request(n, d, name, due, Verdict(s)) for n, d, name, due, s in data["requests"]),
            tuple((n, d) for n, d in data.get("lapsed", ())),
        )


def check_lapse(review: JointReview, node: str, department: str, day: dt.date, case_no: str) -> None:
    """The lead may record a reviewer's silence from the day after its due date, once."""
    q = review.request(node, department)
    if q is None:
        raise CaseConflict("reviewer", f"case {case_no} has not asked department {department} at {node}")
    if (node, department) in review.lapsed:
        raise CaseConflict("reviewer", f"the silence of {department} at {node} on case {case_no} is recorded already")
    if day <= dt.date.fromisoformat(q.due):
        raise CaseConflict("reviewer", f"department {department} at {node} may answer case {case_no} until {q.due}")


def check_carried(review: JointReview, opinions: Sequence[Opinion], day: dt.date, case_no: str) -> None:
    """Silence a decision carries was recorded (by a lapse, or now past its due date), and an
    opinion it carries is one the reviewer wrote (an entry of its own), not a recorded silence."""
    for o in opinions:
        if not o.by_default:
            if o.key in review.lapsed:
                raise CaseConflict(
                    "opinions", f"the silence of {o.department} at {o.node} is recorded; it gave no opinion"
                )
            if not o.entry_hash:
                raise CaseConflict("opinions", f"the opinion of {o.department} at {o.node} names no entry of its own")
            continue
        q = review.request(o.node, o.department)
        if q is not None and (o.key not in review.lapsed and day <= dt.date.fromisoformat(q.due)):
            raise CaseConflict("opinions", f"department {o.department} at {o.node} may still answer case {case_no}")
        if q is not None and o.verdict != q.silence:
            raise CaseConflict("opinions", f"the silence of {o.department} at {o.node} counts as {q.silence.value}")
