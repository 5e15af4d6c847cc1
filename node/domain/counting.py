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

from node.domain.divisions import DivisionCode
from node.domain.lifecycle import CaseCommand, CaseState, Command, Decide, Evaluate
from node.domain.timelimits import local_date

ONLINE_CHANNELS = frozenset({"2", "3"})  # GB/T 39046 A.5: 电脑端网上办理, 移动端网上申请
INSTANT = "1"  # GB/T 39046 case type 即办件
BAD_LEVELS = frozenset({4, 5})  # 不满意, 非常不满意

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
    "eval_1",
    "eval_2",
    "eval_3",
    "eval_4",
    "eval_5",
    "bad_reviews",
)


@dataclass(frozen=True)
class CountKey:
    day: str  # ISO date of the change, China time
    handling: str
    filing: str
    item_code: str
    channel: str


def counted(after: CaseState, cmd: CaseCommand, at: dt.datetime, due: str) -> tuple[str, ...]:
    """The counters one change moves by one. `due`: the case's due date before the change
    (a delivery is on time when the decision, or the delivery where there was none, came on
    or before it; a case without a time limit is on time)."""
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
    if isinstance(cmd, Evaluate):
        return (f"eval_{cmd.level}", *(("bad_reviews",) if cmd.level in BAD_LEVELS else ()))
    return ()


def key_of(state: CaseState, at: dt.datetime) -> CountKey:
    return CountKey(
        local_date(at).isoformat(), state.handling_division, state.filing_division, state.item_code, state.channel
    )
