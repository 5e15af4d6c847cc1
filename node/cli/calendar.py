"""`yiwang calendar show | publish | delegate | local`."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer

from node.cli.common import DataDir, JsonOut, console, opened, print_json, table
from node.domain.calendar import make_calendar_year, parse_date
from node.domain.errors import InvalidInput

app = typer.Typer(help="The working-day calendar.", no_args_is_help=True)


@app.command("show")
def show(
    start: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD [default: today]")] = "",
    end: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD [default: 13 days later]")] = "",
    only_changes: Annotated[
        bool, typer.Option("--changes", help="Only holidays on weekdays and adjusted workdays")
    ] = False,
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Working days of a period; provisional answers rest on the Monday-Friday fallback."""
    first = parse_date(start, "--from") if start else dt.date.today()
    last = parse_date(end, "--to") if end else first + dt.timedelta(days=13)
    if last < first or (last - first).days > 800:
        raise InvalidInput("--to", "must be on or after --from and within 800 days")
    with opened(data_dir) as node:
        days = node.calendars.days(first, last)
        published = node.calendar().published_years
    if only_changes:
        days = [d for d in days if d.workday == (d.day.weekday() >= 5)]
    if json_out:
        print_json({"published_years": published, "days": days})
        return
    table(
        f"working days {first} .. {last}",
        ["date", "weekday", "working day", "provisional"],
        [(d.day, d.day.strftime("%a"), "yes" if d.workday else "no", "yes" if d.provisional else "") for d in days],
    )


@app.command("publish")
def publish(
    year: Annotated[int, typer.Argument(help="The year the calendar covers")],
    holidays: Annotated[list[str] | None, typer.Option("--holiday", help="YYYY-MM-DD or a range A..B; repeat")] = None,
    workdays: Annotated[list[str] | None, typer.Option("--workday", help="Adjusted (weekend) workday; repeat")] = None,
    file: Annotated[
        Path | None, typer.Option(help='JSON {"holidays": [...], "workdays": [...], "source": "..."}')
    ] = None,
    source: Annotated[str, typer.Option(help="Where the schedule comes from (notice number)")] = "",
    override: Annotated[
        bool, typer.Option(help="Replace a year the built-in calendar covers (the changed days are printed)")
    ] = False,
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Publish a year's holidays and adjusted workdays into the public stream."""
    hols, works = list(holidays or []), list(workdays or [])
    if file is not None:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise InvalidInput("--file", f"cannot read {file}: {exc}") from None
        hols += list(data.get("holidays", []))
        works += list(data.get("workdays", []))
        source = source or str(data.get("source", ""))
    calendar_year = make_calendar_year(year, hols, works, source)
    with opened(data_dir) as node:
        result = node.calendars.publish(calendar_year, override)
    if json_out:
        print_json(result)
        return
    console.print(
        f"calendar {year} published (public entry {result.seq}): {len(calendar_year.holidays)} holidays, "
        f"{len(calendar_year.workdays)} adjusted workdays; {result.due_dates_recomputed} due dates recomputed"
    )
    if result.changed_days:
        table(
            f"days that differ from the built-in calendar for {year}",
            ["date", "weekday", "now"],
            [(d, d.strftime("%a"), "working day" if w else "holiday") for d, w in result.changed_days],
        )


@app.command("delegate")
def delegate(
    division: Annotated[str, typer.Argument(help="12-digit code of a division of this province")],
    revoke: Annotated[bool, typer.Option("--revoke", help="Stop the delegation: its holidays lose effect")] = False,
    note: Annotated[str, typer.Option(help="Why (e.g. the regulation that grants the holidays)")] = "",
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """At the province: let a division (an autonomous prefecture or county) publish local
    holidays for its own subtree, such as Liangshan's 彝族年."""
    with opened(data_dir) as node:
        seq = node.calendars.delegate(division, not revoke, note)
    if json_out:
        print_json({"division": division, "allowed": not revoke, "seq": seq})
        return
    what = "no longer publishes" if revoke else "may publish"
    console.print(f"{division} {what} local holidays for its subtree (public entry {seq})")


@app.command("local")
def local(
    year: Annotated[int, typer.Argument(help="The year the local holidays fall in")],
    holidays: Annotated[list[str], typer.Option("--holiday", help="YYYY-MM-DD or a range A..B; repeat")],
    workdays: Annotated[list[str] | None, typer.Option("--workday", help="Adjusted (weekend) workday; repeat")] = None,
    source: Annotated[str, typer.Option(help="Where the holidays come from (regulation, notice number)")] = "",
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """At a division the province delegated local holidays to: publish them for its subtree;
    due dates of the open cases handled there move."""
    calendar_year = make_calendar_year(year, holidays, list(workdays or []), source)
    with opened(data_dir) as node:
        seq = node.calendars.publish_local(calendar_year)
    if json_out:
        print_json({"year": year, "seq": seq, "holidays": sorted(calendar_year.holidays)})
        return
    console.print(
        f"local holidays {year} published (public entry {seq}): {len(calendar_year.holidays)} days off "
        "for this division's subtree"
    )
