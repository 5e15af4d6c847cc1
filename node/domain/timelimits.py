"""Time limits: due dates in working days with stopped clocks, and warning levels.

The clock starts the working day after acceptance. A working day counts toward the limit unless
a clock stop covers it: a stop started on day S and ended on day E covers the days after S up
to and including E (an open stop covers everything after S). A special procedure stops the clock
only up to its own limit of working days. Due = the working day on which the limit is used up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from node.domain.calendar import WorkCalendar

_MAX_SCAN_DAYS = 3 * 366 * 2  # safety bound: limits are <= 366 working days
# Working days are days of China Standard Time (UTC+8, no daylight saving).
CHINA_TZ = dt.timezone(dt.timedelta(hours=8), "CST")


def local_date(at: dt.datetime) -> dt.date:
    """The calendar day in China of an aware timestamp."""
    return at.astimezone(CHINA_TZ).date()


class Level(StrEnum):
    NORMAL = "normal"
    YELLOW = "yellow"
    RED = "red"


@dataclass(frozen=True)
class ClockStop:
    kind: str  # "supplement" or a special procedure's name
    start: dt.date
    end: dt.date | None = None
    limit_days: int | None = None  # special procedure: at most this many working days stopped


@dataclass(frozen=True)
class Due:
    due_date: dt.date
    provisional: bool  # some day up to the due date was answered by the Mon-Fri fallback
    clock_stopped: bool  # a stop is open now: the due date moves while it lasts


@dataclass(frozen=True)
class Progress:
    used_days: int
    remaining_days: int
    level: Level


def _stopped_on(day: dt.date, stops: Sequence[ClockStop], stop_counts: list[int], today: dt.date) -> bool:
    for i, stop in enumerate(stops):
        end = stop.end if stop.end is not None else max(today, stop.start)
        if stop.start < day <= end and (stop.limit_days is None or stop_counts[i] < stop.limit_days):
            stop_counts[i] += 1
            return True
    return False


def due_date(
    calendar: WorkCalendar,
    accepted: dt.date,
    limit_days: int,
    stops: Sequence[ClockStop] = (),
    today: dt.date | None = None,
) -> Due:
    """The due date of a case accepted on `accepted` with `limit_days` working days.

    An open stop is assumed to end `today` (or on its start day when today is earlier)."""
    if not stops:
        day, prov = calendar.add_working_days(accepted, limit_days)
        return Due(day, prov, False)
    now = today or accepted
    provisional = False
    counts = [0] * len(stops)
    used = 0
    day = accepted
    for _ in range(_MAX_SCAN_DAYS):
        if used >= limit_days:
            break
        day += dt.timedelta(days=1)
        workday, prov = calendar.lookup(day)
        provisional = provisional or prov
        if workday and not _stopped_on(day, stops, counts, now):
            used += 1
    open_stop = any(s.end is None for s in stops)
    return Due(day, provisional, open_stop)


def progress(
    calendar: WorkCalendar,
    accepted: dt.date,
    limit_days: int,
    stops: Sequence[ClockStop],
    today: dt.date,
) -> Progress:
    """Working days used and left as of `today`, and the warning level.

    Yellow: 80 % of the limit used, or at most one working day left; red: past the due date."""
    due = due_date(calendar, accepted, limit_days, stops, today)
    counts = [0] * len(stops)
    used = 0
    day = accepted
    while day < today:
        day += dt.timedelta(days=1)
        if calendar.is_workday(day) and not _stopped_on(day, stops, counts, today):
            used += 1
    remaining = max(limit_days - used, 0)
    if today > due.due_date:
        level = Level.RED
    elif used >= 0.8 * limit_days or remaining <= 1:
        level = Level.YELLOW
    else:
        level = Level.NORMAL
    return Progress(used, remaining, level)


def working_days_between(calendar: WorkCalendar, start: dt.date, end: dt.date) -> int:
    """Working days after `start` up to and including `end` (0 when end <= start): how long a
    node held a case it took on `start` and passed on on `end`."""
    days, day = 0, start
    while day < end:
        day += dt.timedelta(days=1)
        days += calendar.is_workday(day)
    return days
