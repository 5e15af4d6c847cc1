"""The working-day calendar: `chinese-calendar` plus calendars the province publishes, plus
local holidays of divisions the province delegated them to.

Lookup order for a date: a published calendar of its year (holidays, adjusted workdays, other
days by weekday); else `chinese-calendar` where it covers the year; else Monday-Friday, and the
answer is marked provisional so due dates that rest on it are recomputed when a calendar arrives.

Local holidays (an autonomous prefecture's 彝族年, DESIGN.md section 9) apply to the delegated
division's subtree only: `for_division(code)` is the calendar of a case handled at `code`, with
the local days of every delegated division that contains it (the deepest first) over the
province's. Every node computes a case's due dates with the calendar of its handling division,
so they are the same everywhere.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import chinese_calendar

from node.domain.divisions import DivisionCode
from node.domain.errors import InvalidInput


@dataclass(frozen=True)
class CalendarYear:
    """A published calendar for one whole year."""

    year: int
    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date]
    source: str = ""


def parse_date(text: str, field: str = "date") -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(field, f"{text!r} is not a real date (YYYY-MM-DD)") from None


def _expand(texts: Iterable[str], field: str) -> list[dt.date]:
    """Dates from 'YYYY-MM-DD' or 'YYYY-MM-DD..YYYY-MM-DD' (inclusive range) strings."""
    out: list[dt.date] = []
    for text in texts:
        text = text.strip()
        if not text:
            continue
        if ".." in text:
            first_text, last_text = text.split("..", 1)
            first, last = parse_date(first_text, field), parse_date(last_text, field)
            if last < first:
                raise InvalidInput(field, f"range {text} ends before it starts")
            out.extend(first + dt.timedelta(days=i) for i in range((last - first).days + 1))
        else:
            out.append(parse_date(text, field))
    return out


def make_calendar_year(year: int, holidays: Iterable[str], workdays: Iterable[str], source: str = "") -> CalendarYear:
    """Validate a calendar to publish; raises InvalidInput on an impossible or misplaced date."""
    if not 2000 <= year <= 2200:
        raise InvalidInput("year", f"{year} is outside 2000..2200")
    hols = _expand(holidays, "holidays")
    works = _expand(workdays, "workdays")
    for name, dates in (("holidays", hols), ("workdays", works)):
        for d in dates:
            if d.year != year:
                raise InvalidInput(name, f"{d} is not in {year}")
    both = sorted(set(hols) & set(works))
    if both:
        raise InvalidInput("workdays", f"{both[0]} is listed both as a holiday and as a workday")
    weekdays = [d for d in works if d.weekday() < 5]
    if weekdays:
        raise InvalidInput("workdays", f"{weekdays[0]} is a weekday already; adjusted workdays are weekend days")
    if not hols:
        raise InvalidInput("holidays", f"a calendar for {year} lists no holidays")
    return CalendarYear(year, frozenset(hols), frozenset(works), source)


class WorkCalendar:
    """Answers 'is this a working day, and is that answer final?' for any date."""

    def __init__(
        self,
        published: Mapping[int, CalendarYear] | None = None,
        local: Mapping[str, Mapping[int, CalendarYear]] | None = None,
        base: WorkCalendar | None = None,
        overlays: tuple[Mapping[int, CalendarYear], ...] = (),
    ) -> None:
        self._published = dict(published or {})
        self._local = {code: dict(years) for code, years in (local or {}).items()}  # delegated division -> years
        self._base = base  # for a division's calendar: the province's, under `overlays`
        self._overlays = overlays  # local years of the delegated divisions containing it, deepest first
        self._divisions: dict[str, WorkCalendar] = {}
        self._cache: dict[dt.date, tuple[bool, bool]] = {}
        self._after: dict[tuple[dt.date, int], tuple[dt.date, bool]] = {}

    @property
    def published_years(self) -> list[int]:
        return sorted(self._published)

    def with_year(self, year: CalendarYear) -> WorkCalendar:
        return WorkCalendar({**self._published, year.year: year}, self._local)

    def with_local(self, division: str, year: CalendarYear | None = None) -> WorkCalendar:
        """With `division`'s local year (or only marked delegated, with no year yet)."""
        years = dict(self._local.get(division, {}))
        if year is not None:
            years[year.year] = year
        return WorkCalendar(self._published, {**self._local, division: years})

    def for_division(self, code: str) -> WorkCalendar:
        """The calendar of cases handled at `code`: this one when no delegated division's
        local holidays cover it."""
        if not self._local or self._base is not None:
            return self
        hit = self._divisions.get(code)
        if hit is None:
            here = DivisionCode(code)
            within = [d for d in self._local if self._local[d] and DivisionCode(d).contains(here)]
            within.sort(key=lambda d: DivisionCode(d).tier, reverse=True)
            hit = self if not within else WorkCalendar(base=self, overlays=tuple(self._local[d] for d in within))
            self._divisions[code] = hit
        return hit

    @property
    def local_divisions(self) -> list[str]:
        return sorted(self._local)

    def lookup(self, day: dt.date) -> tuple[bool, bool]:
        """(is_workday, provisional) for `day`."""
        hit = self._cache.get(day)
        if hit is None:
            hit = self._lookup(day)
            self._cache[day] = hit
        return hit

    def _lookup(self, day: dt.date) -> tuple[bool, bool]:
        if self._base is not None:
            for years in self._overlays:
                local = years.get(day.year)
                if local is not None and day in local.holidays:
                    return False, False
                if local is not None and day in local.workdays:
                    return True, False
            return self._base.lookup(day)
        published = self._published.get(day.year)
        if published is not None:
            if day in published.holidays:
                return False, False
            if day in published.workdays:
                return True, False
            return day.weekday() < 5, False
        covered = _library_workday(day)
        if covered is not None:
            return covered, False
        return day.weekday() < 5, True

    def add_working_days(self, start: dt.date, days: int) -> tuple[dt.date, bool]:
        """(the `days`-th working day after `start`, provisional); `start` itself for 0."""
        key = (start, days)
        hit = self._after.get(key)
        if hit is None:
            day, used, provisional = start, 0, False
            while used < days:
                day += dt.timedelta(days=1)
                workday, prov = self.lookup(day)
                provisional = provisional or prov
                used += workday
            hit = (day, provisional)
            self._after[key] = hit
        return hit

    def is_workday(self, day: dt.date) -> bool:
        return self.lookup(day)[0]

    def covers(self, year: int) -> bool:
        """True when dates of `year` are answered from a real calendar, not the fallback."""
        return year in self._published or _library_workday(dt.date(year, 6, 1)) is not None


def builtin_covers(year: int) -> bool:
    """True when the built-in calendar (chinese-calendar) knows `year`."""
    return _library_workday(dt.date(year, 6, 1)) is not None


def changes_against_builtin(year: CalendarYear) -> list[tuple[dt.date, bool]]:
    """The days of a covered year that `year` answers differently from the built-in calendar:
    (day, working day as published)."""
    published = WorkCalendar({year.year: year})
    day, out = dt.date(year.year, 1, 1), []
    while day.year == year.year:
        mine, builtin = published.is_workday(day), _library_workday(day)
        if builtin is not None and mine != builtin:
            out.append((day, mine))
        day += dt.timedelta(days=1)
    return out


@lru_cache(maxsize=8192)
def _library_workday(day: dt.date) -> bool | None:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None
