"""Working days: chinese-calendar 2024-2026, published overrides, the provisional fallback."""

from __future__ import annotations

import datetime as dt

import pytest

from node.domain.calendar import WorkCalendar, make_calendar_year
from node.domain.errors import InvalidInput
from node.domain.timelimits import ClockStop, Level, due_date, progress
from tests.conftest import next_weekday, uncovered_year, vectors

FACTS = {k: v for k, v in vectors()["workday_cn_chinese_calendar_1_11_0"].items() if k[:4].isdigit()}
D = dt.date.fromisoformat
U = uncovered_year()


@pytest.mark.parametrize(("day", "fact"), [(k, v) for k, v in FACTS.items() if int(k[:4]) < U])
def test_adjusted_workdays_and_holidays_2024_2026(day: str, fact: str) -> None:
    workday, provisional = WorkCalendar().lookup(D(day))
    assert not provisional
    assert workday == fact.startswith("workday")


def test_find_workday_vector() -> None:
    # "find_workday(5, 2024-09-30)": five working days after 2024-09-30 is 2024-10-12 (a Saturday)
    due = due_date(WorkCalendar(), D("2024-09-30"), 5)
    assert due.due_date == D("2024-10-12") and not due.provisional


def test_an_uncovered_year_falls_back_to_monday_to_friday_and_is_provisional() -> None:
    cal = WorkCalendar()
    assert not cal.covers(U) and cal.covers(U - 1)
    monday = dt.date(U, 1, 4) + dt.timedelta(days=(7 - dt.date(U, 1, 4).weekday()) % 7)
    assert cal.lookup(monday) == (True, True)
    assert cal.lookup(monday + dt.timedelta(days=5)) == (False, True)  # Saturday


def test_provisional_due_date_becomes_final_with_a_published_calendar() -> None:
    accepted = dt.date(U - 1, 12, 21)
    before = due_date(WorkCalendar(), accepted, 10)
    assert before.provisional and before.due_date.year == U
    # the province publishes U's calendar, in which the provisional due day is a holiday
    year = make_calendar_year(U, [before.due_date.isoformat()], [])
    after = due_date(WorkCalendar().with_year(year), accepted, 10)
    assert not after.provisional
    assert after.due_date == next_weekday(before.due_date)


@pytest.mark.skipif(U != 2027, reason="the installed chinese-calendar covers 2027 already")
def test_the_2027_example() -> None:
    accepted = D("2026-12-21")  # Monday
    before = due_date(WorkCalendar(), accepted, 10)
    assert (before.due_date, before.provisional) == (D("2027-01-04"), True)
    year = make_calendar_year(2027, ["2027-01-01", "2027-02-06..2027-02-12"], ["2027-02-14"])
    after = due_date(WorkCalendar().with_year(year), accepted, 10)
    assert (after.due_date, after.provisional) == (D("2027-01-05"), False)  # 2027-01-01 is a holiday now


def test_published_override_wins_over_the_library() -> None:
    year = make_calendar_year(2026, ["2026-03-03"], [])
    cal = WorkCalendar().with_year(year)
    assert cal.lookup(D("2026-03-03")) == (False, False)
    assert WorkCalendar().lookup(D("2026-03-03")) == (True, False)


@pytest.mark.parametrize(
    ("hols", "works", "field"),
    [
        (["2027-02-30"], [], "holidays"),
        (["2027-13-01"], [], "holidays"),
        (["2026-10-01"], [], "holidays"),
        (["2027-01-01"], ["2027-01-01"], "workdays"),
        (["2027-01-01"], ["2027-01-04"], "workdays"),
        (["2027-02-12..2027-02-06"], [], "holidays"),
        ([], [], "holidays"),
    ],
)
def test_impossible_calendars_are_refused(hols: list[str], works: list[str], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        make_calendar_year(2027, hols, works)
    assert err.value.field == field


def test_stopped_clock_moves_the_due_date() -> None:
    cal = WorkCalendar()
    accepted = D("2026-03-02")  # Monday
    plain = due_date(cal, accepted, 10).due_date
    assert plain == D("2026-03-16")
    # 补正 from Wednesday to the next Monday: Thu, Fri, Mon are stopped working days
    stop = ClockStop("supplement", D("2026-03-04"), D("2026-03-09"))
    assert due_date(cal, accepted, 10, [stop]).due_date == D("2026-03-19")


def test_special_procedure_stops_the_clock_only_up_to_its_limit() -> None:
    cal = WorkCalendar()
    accepted = D("2026-03-02")
    long_stop = ClockStop("hearing", D("2026-03-02"), D("2026-03-31"), limit_days=2)
    assert due_date(cal, accepted, 10, [long_stop]).due_date == D("2026-03-18")


def test_open_stop_is_counted_up_to_today() -> None:
    cal = WorkCalendar()
    stop = ClockStop("supplement", D("2026-03-04"))
    due = due_date(cal, D("2026-03-02"), 10, [stop], today=D("2026-03-06"))
    assert due.clock_stopped and due.due_date == D("2026-03-18")


def test_instant_case_is_due_on_the_day_of_acceptance() -> None:
    assert due_date(WorkCalendar(), D("2026-03-02"), 0).due_date == D("2026-03-02")


@pytest.mark.parametrize(
    ("today", "level", "used"),
    [
        ("2026-03-03", Level.NORMAL, 1),
        ("2026-03-11", Level.NORMAL, 7),  # 70 % used, 3 days left
        ("2026-03-12", Level.YELLOW, 8),
        ("2026-03-16", Level.YELLOW, 10),
        ("2026-03-17", Level.RED, 11),
    ],
)
def test_warning_levels(today: str, level: Level, used: int) -> None:
    p = progress(WorkCalendar(), D("2026-03-02"), 10, [], D(today))
    assert (p.level, p.used_days) == (level, used)


def test_yellow_when_one_day_left_of_a_short_limit() -> None:
    p = progress(WorkCalendar(), D("2026-03-02"), 3, [], D("2026-03-03"))
    assert p.level == Level.NORMAL and p.remaining_days == 2
    p = progress(WorkCalendar(), D("2026-03-02"), 3, [], D("2026-03-04"))
    assert p.level == Level.YELLOW and p.remaining_days == 1
