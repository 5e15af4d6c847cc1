"""Electronic supervision (电子监察, DESIGN.md section 10, DOMAIN.md "Rules from law and
practice"): which alarms an open case, a refusal or a rectification task calls for today, and
when a case's alarms are resolved. Pure; node.services.supervision scans and writes them as
entries, node.services.projection keeps the table.

Levels: 预警 (warning) while a limit is near, 黄牌 (yellow) once it is passed, 红牌 (red) once it
is passed by more than a number of working days. Thresholds are settings with these defaults
(`[supervision]` in yiwang.toml).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from node.domain.calendar import WorkCalendar
from node.domain.divisions import DivisionCode
from node.domain.errors import InvalidInput
from node.domain.lifecycle import CLOCK_STOPPED, CaseState, Status
from node.domain.timelimits import local_date, working_days_between

RULES: dict[str, str] = {
    "limit": "超过承诺办理时限",  # the whole case against its due date
    "acceptance": "受理环节超时",  # 行政许可法 art. 32: accept or refuse within 5 days of filing
    "supplement": "补正环节超时",  # a supplement request unanswered past its limit
    "special": "特别程序超时",  # a special procedure past its own limit
    "reasons": "不予受理或不予许可未充分说明理由",  # art. 38: a refusal or denial states its reasons
    "zero_cases": "零办件",  # a department's items with no case in a month
    "rectification": "差评整改超期",  # a 差评 not called back and rectified in time
    "reviewer": "联审部门逾期未答复",  # a joint review's co-reviewer silent past its due date
}
LEVELS: dict[str, str] = {"warning": "预警", "yellow": "黄牌", "red": "红牌"}
LEVEL_ORDER = ("warning", "yellow", "red")
# Rules a supervisor's acknowledgement resolves (the others resolve when the case moves on).
CLEARED_BY_ACK = frozenset({"reasons", "zero_cases"})


@dataclass(frozen=True)
class Thresholds:
    warn_days_left: int = 2  # 预警 when at most this many working days are left
    red_days_late: int = 5  # 红牌 when more than this many working days late (黄牌 from the first)
    acceptance_days: int = 5  # 行政许可法 art. 32
    supplement_days: int = 20  # working days an applicant has to hand in what was asked for
    reason_min_chars: int = 6  # a refusal's or denial's reasons shorter than this are no reasons
    rectification_days: int = 15  # a 差评's callback and rectification (Suining; Dezhou uses 5)


@dataclass(frozen=True)
class Finding:
    rule: str
    level: str
    due: str  # ISO date of the limit passed or near (what makes a finding new: a new stage, a new due date)
    detail: str


def _late_level(calendar: WorkCalendar, due: dt.date, today: dt.date, th: Thresholds) -> str:
    """yellow or red for a limit passed on `due`, as of `today` (> due)."""
    return "red" if working_days_between(calendar, due, today) > th.red_days_late else "yellow"


def _stage(
    calendar: WorkCalendar, start: dt.date, days: int, today: dt.date, rule: str, what: str, th: Thresholds
) -> Finding | None:
    due, _ = calendar.add_working_days(start, days)
    if today <= due:
        return None
    return Finding(rule, _late_level(calendar, due, today, th), due.isoformat(), f"{what}, 应于 {due} 前完成")


def findings(state: CaseState, due_date: str, today: dt.date, calendar: WorkCalendar, th: Thresholds) -> list[Finding]:
    """What an open case calls for today: the whole-case limit, and the stage it is in."""
    if state.closed:
        return []
    cal = calendar.for_division(state.handling_division)
    out: list[Finding] = []
    if state.status == Status.FILED:
        found = _stage(
            cal, local_date(state.filed_at), th.acceptance_days, today, "acceptance", "申请后未受理也未不予受理", th
        )
        out += [found] if found else []
    if state.status == Status.AWAITING_SUPPLEMENT:
        start = next((s.start for s in reversed(state.stops) if s.kind == "supplement" and s.end is None), None)
        if start is not None:
            found = _stage(cal, start, th.supplement_days, today, "supplement", "一次性告知补正后申请人未补正", th)
            out += [found] if found else []
    if state.status == Status.SPECIAL_PROCEDURE:
        stop = next((s for s in reversed(state.stops) if s.end is None and s.limit_days), None)
        if stop is not None and stop.limit_days is not None:
            found = _stage(cal, stop.start, stop.limit_days, today, "special", f"特别程序({stop.kind})超过自身时限", th)
            out += [found] if found else []
    if due_date and state.decided_at is None and state.status not in CLOCK_STOPPED:
        # (while the clock is stopped the stored due date is provisional: the stage rules watch)
        due = dt.date.fromisoformat(due_date)
        if today > due:
            late = working_days_between(cal, due, today)
            level = _late_level(cal, due, today, th)
            out.append(Finding("limit", level, due_date, f"已超过到期日 {due_date} {late} 个工作日"))
        elif (left := working_days_between(cal, today, due)) <= th.warn_days_left:
            out.append(Finding("limit", "warning", due_date, f"距到期日 {due_date} 仅剩 {left} 个工作日"))
    return out


def thin_reasons(reason: str, th: Thresholds) -> bool:
    """A refusal's or denial's reasons too short to be reasons (art. 38 asks for them)."""
    return len("".join(reason.split())) < th.reason_min_chars


def resolved(state: CaseState) -> frozenset[str]:
    """The rules whose alarms on this case are resolved by its state: the limit by a decision,
    a stage by leaving it."""
    out: set[str] = set()
    if state.decided_at is not None or state.closed:
        out.update(("limit", "reviewer"))
    if state.status != Status.FILED:
        out.add("acceptance")
    if state.status != Status.AWAITING_SUPPLEMENT:
        out.add("supplement")
    if state.status != Status.SPECIAL_PROCEDURE:
        out.add("special")
    return frozenset(out)


def newer(level: str, raised: set[str]) -> bool:
    """Whether a finding at `level` is news given the levels raised already for the same rule and
    due date (a case seen first when red is not carded yellow too)."""
    rank = LEVEL_ORDER.index(level)
    return not any(LEVEL_ORDER.index(r) >= rank for r in raised)


@dataclass(frozen=True)
class Alarm:
    """A supervision alarm as written in a `supervision_alarm` entry."""

    rule: str
    level: str
    division: str  # the handling division (零办件: the division whose items had no case)
    case_no: str = ""
    item_code: str = ""
    custodian: str = ""
    due: str = ""
    detail: str = ""
    period: str = ""  # 零办件: YYYY-MM
    department: str = ""  # 零办件

    @property
    def subject(self) -> str:
        return self.case_no or self.period


@dataclass(frozen=True)
class Acknowledgement:
    """A supervisor's acknowledgement of the alarm written as entry (origin, seq)."""

    origin: str
    seq: int
    by: str
    note: str = ""


FOLLOW_UP_STEPS: dict[str, str] = {"callback": "回访", "rectified": "整改"}


@dataclass(frozen=True)
class FollowUp:
    """A step of a 差评's rectification at the handling node: callback (回访) or rectified (整改)."""

    case_no: str
    step: str  # a key of FOLLOW_UP_STEPS
    by: str
    note: str = ""
    # the case's statistics key (node.domain.counting.CountKey without the day)
    handling: str = ""
    filing: str = ""
    item_code: str = ""
    channel: str = ""


_BOUNDS = {"case_no": 50, "item_code": 64, "custodian": 12, "due": 10, "period": 7, "department": 600, "detail": 2000}


def alarm_problem(origin: str, a: Alarm) -> str | None:
    """Why an alarm entry of `origin` has no effect, or None: a known rule and level, fields
    within their bounds, and written by the node answerable for it (a case's custodian, which
    the scan names; for 零办件 the division itself)."""
    if a.rule not in RULES or a.level not in LEVELS:
        return "an alarm names a rule and a level of node.domain.supervision"
    if len(a.division) != 12 or not a.division.isdigit():
        return "an alarm names a 12-digit division"
    for name, most in _BOUNDS.items():
        if len(getattr(a, name)) > most:
            return f"an alarm's {name} is longer than {most} characters"
    if a.rule == "zero_cases":
        return None if a.division == origin and a.period else "a 零办件 alarm is its own division's, for a month"
    if not a.case_no or a.custodian != origin:
        return "a case's alarm is written by the case's custodian, naming itself"
    return None


def ack_problem(origin: str, ack: Acknowledgement, raised_by: str) -> str | None:
    """Why an acknowledgement of `origin` has no effect: only a node above the one that raised
    the alarm acknowledges it (nobody clears their own card)."""
    if len(ack.by) > 64 or len(ack.note) > 1000:
        return "an acknowledgement's account or note is too long"
    if not (raised_by.isdigit() and len(raised_by) == 12):
        return "an acknowledgement names an alarm of a node"
    if not DivisionCode(origin).is_ancestor_of(DivisionCode(raised_by)):
        return "an alarm is acknowledged by a node above the one that raised it"
    return None


def follow_up_problem(origin: str, f: FollowUp) -> str | None:
    """Why a 差评 follow-up step of `origin` has no effect: the node that handled the case
    writes it, with a case number and a statistics key within bounds."""
    if f.step not in FOLLOW_UP_STEPS or f.handling != origin:
        return "a 差评's callback and rectification are written by the node that handled the case"
    if not f.case_no or len(f.case_no) > 50 or len(f.item_code) > 64 or len(f.channel) > 2 or len(f.note) > 1000:
        return "a follow-up step's fields are out of bounds"
    if len(f.filing) != 12 or not f.filing.isdigit():
        return "a follow-up step names the case's 12-digit filing division"
    return None


_ID_OR_PHONE = re.compile(r"(?<!\d)(?:\d{17}[\dXx]|1[3-9]\d{9})(?!\d)")


def check_note(note: str) -> str:
    """A note that goes up to every ancestor (an acknowledgement, a callback, a rectification):
    InvalidInput when it holds what looks like an identity number or a mobile number."""
    if _ID_OR_PHONE.search(note):
        raise InvalidInput("note", "notes go up to every ancestor: leave out the resident's identity number and phone")
    return note
