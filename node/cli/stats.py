"""`yiwang stats [verify]`: the subtree's case figures (issue 11)."""

from __future__ import annotations

import csv
import datetime as dt
import sys
from typing import Annotated

import typer

from node.cli.common import DataDir, JsonOut, console, opened, print_json, table
from node.domain.counting import COUNTERS
from node.domain.errors import InvalidInput
from node.domain.timelimits import local_date
from node.services.stats import Period

app = typer.Typer(help="Case figures of this node's subtree (统计).", invoke_without_command=True)

LABELS = {
    "filed": "办件量",
    "accepted": "受理",
    "not_accepted": "不予受理",
    "approved": "准予",
    "denied": "不予许可",
    "delivered": "办结",
    "delivered_on_time": "按时办结",
    "delivered_late": "超期办结",
    "withdrawn": "撤回",
    "instant": "即办件",
    "online": "网办",
    "agent": "代办",
    "cross_region": "通办",
    "eval_1": "非常满意",
    "eval_2": "满意",
    "eval_3": "基本满意",
    "eval_4": "不满意",
    "eval_5": "非常不满意",
    "bad_reviews": "差评",
}
assert set(LABELS) == set(COUNTERS)


@app.callback()
def stats(
    ctx: typer.Context,
    division: Annotated[str, typer.Option(help="A division of this node's subtree [default: this node's]")] = "",
    period: Annotated[str, typer.Option(help="YYYY, YYYY-MM or YYYY-MM-DD [default: this month, China time]")] = "",
    start: Annotated[str, typer.Option("--from", help="First day YYYY-MM-DD (with --to, instead of --period)")] = "",
    end: Annotated[str, typer.Option("--to", help="Last day YYYY-MM-DD")] = "",
    by: Annotated[bool, typer.Option("--by", help="One row per division a level down")] = False,
    item: Annotated[str, typer.Option(help="Only this item's implementation code")] = "",
    csv_out: Annotated[bool, typer.Option("--csv", help="CSV on standard output")] = False,
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Counts of case changes (filed, accepted, delivered on time and late, evaluations ...)
    for the cases handled in a division of this node's subtree, over a period."""
    if ctx.invoked_subcommand is not None:
        return
    if start or end:
        if period or not (start and end):
            raise InvalidInput("--from", "give --from and --to together, or --period")
        when = Period(Period.parse(start, "--from").first, Period.parse(end, "--to").last)
    else:
        when = Period.parse(period or local_date(dt.datetime.now(dt.UTC)).strftime("%Y-%m"))
    today = local_date(dt.datetime.now(dt.UTC))
    with opened(data_dir) as node:
        node_code = node.code
        rows = node.stats.figures(division, when, by, item)
        shown_indicators = [] if item else node.stats.indicators(division, when, today)
        zero = [] if item else node.stats.zero_case_items(division, when)
    if json_out:
        print_json(
            {
                "from": when.first,
                "to": when.last,
                "rows": [{"division": r.division, **r.counts} for r in rows],
                "indicators": [{"name": i.name, "value": i.value, "formula": i.formula} for i in shown_indicators],
                "zero_case_items": [{"item_code": c, "name": n, "department": d} for c, n, d in zero],
            }
        )
        return
    if csv_out:
        out = csv.writer(sys.stdout)
        out.writerow(["division", *COUNTERS])
        for r in rows:
            out.writerow([r.division, *(r.counts[c] for c in COUNTERS)])
        return
    shown = [
        "filed",
        "accepted",
        "not_accepted",
        "delivered",
        "delivered_on_time",
        "delivered_late",
        "online",
        "agent",
        "cross_region",
        "bad_reviews",
    ]
    table(
        f"办件统计 {when.first} .. {when.last}",
        ["区划", *(LABELS[c] for c in shown)],
        [(_place(r.division, division or node_code, by), *(r.counts[c] for c in shown)) for r in rows],
    )
    if shown_indicators:
        table(
            "指标 (docs/indicators.md)",
            ["指标", "值", "口径"],
            [(i.name, _shown(i.value), i.formula) for i in shown_indicators],
        )
    if zero:
        departments = sorted({d for _, _, d in zero})
        console.print(f"零办件事项 {len(zero)} 项, 涉及部门: {'、'.join(departments[:20])}")


def _place(code: str, queried: str, by: bool) -> str:
    """A row's division; a level down, the queried division's own row is its cases handled at
    that level itself (本级)."""
    return f"{code} 本级" if by and code == queried else code


def _shown(value: float | int | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}%" if isinstance(value, float) else str(value)


@app.command("verify")
def verify(data_dir: DataDir = None, json_out: JsonOut = False) -> None:
    """Recount every figure from the log and compare with the counters (they must be equal)."""
    with opened(data_dir) as node:
        differences = node.stats.verify()
    if json_out:
        print_json({"equal": not differences, "differences": differences})
    elif differences:
        console.print(f"统计与日志重算不一致: {differences}")
    else:
        console.print("统计与日志重算一致 (figures equal a recount from the log)")
    if differences:
        raise typer.Exit(6)
