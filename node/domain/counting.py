"""What a case change adds to the statistics (issue 11, DESIGN.md section 10): the counters a
case entry moves, by the day it happened, under the case's key (handling division, filing
division, item, channel). Pure: the projection applies it to every case entry it applies,
local or received, once per node, in the entry's transaction; a rebuild recounts the same from
the log. The department is the item's (the catalog says which): a query joins it, so a count
never depends on whether the item arrived before the case.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from node.domain.calendar import WorkCalendar
from node.domain.divisions import DivisionCode
from node.domain.evaluation import BAD_LEVELS, CAUSES, ONLINE_CHANNELS
from node.domain.lifecycle import CaseCommand, CaseState, Command, Decide, Evaluate
from node.domain.timelimits import local_date, progress

INSTANT = "1"  # GB/T 39046 case type 即办件

COUNTERS = (
    "filed",
    "accepted",
    "not_accepted",
    "approved",
    "denied",
    "delivered",
    "delivered_on_time",
    "delivered_late",
    "withdrawn",
    "instant",
    "online",
    "agent",
    "cross_region",
    "joint",  # joint reviews opened (并联审批), on the day the lead asked
    "eval_1",
    "eval_2",
    "eval_3",
    "eval_4",
    "eval_5",
    "bad_reviews",
    "timed",  # delivered cases that ran against a time limit
    "work_days",  # their working days used up to the decision (clock stops not counted)
    "called_back",  # 差评 called back (回访) by the handling node
    "bad_rectified",  # 差评 rectified (整改)
    *(f"cause_{code}" for code in CAUSES),  # 差评 per cause tag
)
FOLLOW_UPS = {"review_called_back": "called_back", "review_rectified": "bad_rectified"}


@dataclass(frozen=True)
class CountKey:
    day: str  # ISO date of the change, China time
    handling: str
    filing: str
    item_code: str
    channel: str


def counted(
    after: CaseState, cmd: CaseCommand, at: dt.datetime, due: str, calendar: WorkCalendar
) -> tuple[tuple[str, int], ...]:
    """The counters one change moves, and by how much (one, or the working days used). `due`:
    the case's due date before the change (a delivery is on time when the decision, or the
    delivery where there was none, came on or before it; a case without a time limit is on
    time). `calendar`: the one due dates are computed with, for the working days used."""
    return tuple((name, 1) for name in _moved(after, cmd, at, due)) + _work_days(after, cmd, at, calendar)


def _work_days(
    after: CaseState, cmd: CaseCommand, at: dt.datetime, calendar: WorkCalendar
) -> tuple[tuple[str, int], ...]:
    if cmd.command != Command.DELIVER or after.limit_days is None or after.accepted_at is None:
        return ()
    finished = local_date(after.decided_at or at)
    cal = calendar.for_division(after.handling_division)
    used = progress(cal, local_date(after.accepted_at), after.limit_days, after.stops, finished).used_days
    return (("timed", 1), ("work_days", used))


def _moved(after: CaseState, cmd: CaseCommand, at: dt.datetime, due: str) -> tuple[str, ...]:
    c = cmd.command
    if c == Command.FILE:
        out = ["filed"]
        if after.case_type == INSTANT:
            out.append("instant")
        if after.channel in ONLINE_CHANNELS:
            out.append("online")
        if after.agent:
            out.append("agent")
        if not DivisionCode(after.handling_division).contains(DivisionCode(after.filing_division)):
            out.append("cross_region")  # 通办: filed outside the handling division
        return tuple(out)
    if c == Command.ACCEPT:
        return ("accepted",)
    if c == Command.REJECT:
        return ("not_accepted",)
    if isinstance(cmd, Decide):
        return ("approved",) if cmd.approved else ("denied",)
    if c == Command.DELIVER:
        finished = local_date(after.decided_at or at)
        late = bool(due) and finished > dt.date.fromisoformat(due)
        return ("delivered", "delivered_late" if late else "delivered_on_time")
    if c == Command.WITHDRAW:
        return ("withdrawn",)
    if c == Command.REQUEST_REVIEW:
        return ("joint",)
    if isinstance(cmd, Evaluate):
        if cmd.level not in BAD_LEVELS:
            return (f"eval_{cmd.level}",)
        return (f"eval_{cmd.level}", "bad_reviews", *(f"cause_{code}" for code in cmd.causes))
    return ()


def key_of(state: CaseState, at: dt.datetime) -> CountKey:
    return CountKey(
        local_date(at).isoformat(), state.handling_division, state.filing_division, state.item_code, state.channel
    )
