"""`yiwang stats [items | verify | rebuild]`: the subtree's case figures (issue 11)."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Annotated

import typer

from node.cli import maintenance
from node.cli.common import Actor, DataDir, JsonOut, _, acting, at_us, console, fmt_time, opened, print_json, table
from node.domain.counting import COUNTERS
from node.domain.indicators import Indicator
from node.domain.roles import Action
from node.domain.timelimits import local_date
from node.pages import words
from node.services.signoff import SignOffStatus
from node.services.stats import Period, Query, Report, write_csv

app = typer.Typer(help="Case figures of this node's subtree (统计).", invoke_without_command=True)


def label(counter: str) -> str:
    """A counter's column head in the operator's language."""
    if counter.startswith("cause_") and counter[6:] in words.CAUSE:
        return _(words.CAUSE_COUNTER) % {"cause": _(words.CAUSE[counter[6:]])}
    return _(words.COUNTER[counter])


assert all(c in words.COUNTER or c.startswith("cause_") for c in COUNTERS)
SHOWN = (
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
)

PeriodOpt = Annotated[str, typer.Option(help="YYYY, YYYY-MM, YYYY-Www or YYYY-MM-DD [default: this month, China time]")]
FromOpt = Annotated[str, typer.Option("--from", help="First day YYYY-MM-DD (with --to, instead of --period)")]
ToOpt = Annotated[str, typer.Option("--to", help="Last day YYYY-MM-DD")]
DivisionOpt = Annotated[str, typer.Option(help="A division of this node's subtree [default: this node's]")]


def _today() -> dt.date:
    return local_date(dt.datetime.now(dt.UTC))


@app.callback()
def stats(
    ctx: typer.Context,
    division: DivisionOpt = "",
    period: PeriodOpt = "",
    start: FromOpt = "",
    end: ToOpt = "",
    by: Annotated[bool, typer.Option("--by", help="One row per division a level down")] = False,
    item: Annotated[str, typer.Option(help="Only this item's implementation code")] = "",
    department: Annotated[str, typer.Option(help="Only the items of this department (its name)")] = "",
    power_type: Annotated[
        str, typer.Option("--power-type", help="Only items of this power type (01 行政许可 ...)")
    ] = "",
    channel: Annotated[str, typer.Option(help="Only cases filed on this channel (GB/T 39046 A.5: 1 窗口 ...)")] = "",
    csv_out: Annotated[bool, typer.Option("--csv", help="CSV on standard output")] = False,
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Counts of case changes (filed, accepted, delivered on time and late, evaluations ...)
    for the cases handled in a division of this node's subtree, over a period, with the
    indicators of docs/indicators.md, the open-case gauges and the 零办件 items."""
    if ctx.invoked_subcommand is not None:
        return
    today = _today()
    q = Query(Period.of(period, start, end, today), division, by, item, department, power_type, channel)
    with opened(data_dir) as node:
        report = node.stats.report(q, today)
    if json_out:
        print_json(report_json(report))
    elif csv_out:
        write_csv(report, sys.stdout)
    else:
        _print(report)


def report_json(r: Report) -> dict[str, object]:
    """The report as JSON (the CLI's --json, the Stats RPC's text)."""
    g = r.gauges
    return {
        "division": r.division,
        "from": r.query.period.first,
        "to": r.query.period.last,
        "rows": [{"division": f.division, **f.counts} for f in r.rows],
        "total": r.total,
        "for_other_provinces": r.peers,
        "gauges": {"open": g.open, "overdue": g.overdue, "warning": g.warning, "yellow": g.yellow, "red": g.red},
        "indicators": [{"name": i.name, "value": i.value, "unit": i.unit, "formula": i.formula} for i in r.indicators],
        "zero_case_items": [{"item_code": c, "name": n, "department": d} for c, n, d in r.zero_items],
        "zero_case_departments": [{"division": v, "department": d} for v, d in r.zero_departments],
    }


def _print(r: Report) -> None:
    by = r.query.by_next_level
    table(
        _("Case figures %(period)s") % {"period": r.query.period.label},
        [_("Division"), *(label(c) for c in SHOWN)],
        [(_place(f.division, r.division, by), *(f.counts[c] for c in SHOWN)) for f in r.rows],
    )
    g = r.gauges
    gauges = _(
        "Open %(open)s, overdue %(overdue)s; supervision: "
        "warnings %(warning)s, yellow cards %(yellow)s, red cards %(red)s"
    )
    counts = {"open": g.open, "overdue": g.overdue, "warning": g.warning, "yellow": g.yellow, "red": g.red}
    console.print(gauges % counts, highlight=False)
    if r.peers["filed"] or r.peers["delivered"]:
        peers = _("Handled for other provinces: filed %(filed)s, delivered %(delivered)s")
        console.print(peers % {"filed": r.peers["filed"], "delivered": r.peers["delivered"]}, highlight=False)
    table(
        _("Indicators (docs/indicators.md)"),
        [_("Indicator"), _("Value"), _("Formula")],
        [(i.name, shown(i), i.formula) for i in r.indicators],
    )
    if r.zero_items:
        console.print(_("Items without cases: %(n)s") % {"n": len(r.zero_items)}, highlight=False)
    if r.zero_departments:
        names = "、".join(d for _v, d in r.zero_departments[:20])
        console.print(_("Departments without cases: %(n)s: %(names)s") % {"n": len(r.zero_departments), "names": names})


def _place(code: str, queried: str, by: bool) -> str:
    """A row's division; a level down, the queried division's own row is its cases handled at
    that level itself (本级)."""
    return code + " " + _("(own level)") if by and code == queried else code


def shown(i: Indicator) -> str:
    if i.value is None:
        return "-"
    if i.unit == "%":
        return f"{i.value:.2f}%"
    return f"{i.value} {i.unit}"


@app.command("items")
def items(
    division: DivisionOpt = "",
    period: PeriodOpt = "",
    start: FromOpt = "",
    end: ToOpt = "",
    limit: Annotated[int, typer.Option(help="At most this many items, most late deliveries first")] = 30,
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Per item: cases, late deliveries, and the working days used to a decision against the
    item's promised and legal limits."""
    when = Period.of(period, start, end, _today())
    with opened(data_dir) as node:
        found = node.stats.items(division, when)[: max(limit, 0)]
    rows = [
        {
            "item_code": f.item_code,
            "name": f.name,
            "department": f.department,
            "filed": f.counts["filed"],
            "delivered": f.counts["delivered"],
            "delivered_late": f.counts["delivered_late"],
            "mean_work_days": f.mean_work_days,
            "promised_days": f.promised_days,
            "legal_days": f.legal_days,
        }
        for f in found
    ]
    if json_out:
        print_json({"from": when.first, "to": when.last, "items": rows})
        return
    table(
        _("Working days per item %(period)s") % {"period": when.label},
        [
            _("Item"),
            _("Name"),
            _("Department"),
            label("filed"),
            label("delivered"),
            label("delivered_late"),
            _("Mean working days"),
            _("Promised limit"),
            _("Legal limit"),
        ],
        [
            (
                r["item_code"],
                r["name"],
                r["department"],
                r["filed"],
                r["delivered"],
                r["delivered_late"],
                "-" if r["mean_work_days"] is None else r["mean_work_days"],
                "-" if r["promised_days"] is None else r["promised_days"],
                "-" if r["legal_days"] is None else r["legal_days"],
            )
            for r in rows
        ],
    )


@app.command("reviewers")
def reviewers(
    division: DivisionOpt = "",
    period: PeriodOpt = "",
    start: FromOpt = "",
    end: ToOpt = "",
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Per co-reviewing department of the subtree (并联审批): the joint-review requests it got in
    the period, answered in time, silent, disagreeing, forwarded, and the working days it took."""
    when = Period.of(period, start, end, _today())
    with opened(data_dir) as node:
        found = node.joint_reviews.figures(division, when.first, when.last)
    rows = [{**vars(f), "mean_days": f.mean_days} for f in found]
    if json_out:
        print_json({"from": when.first, "to": when.last, "reviewers": rows})
        return
    table(
        _("Joint-review opinions per department %(period)s") % {"period": when.label},
        [
            _("Co-reviewing department"),
            _("Node"),
            _("Asked"),
            _("Answered"),
            _("Silent"),
            _("Disagreed"),
            _("Forwarded"),
            _("Mean working days"),
            _("Longest"),
        ],
        [
            (
                f.name,
                f.node,
                f.asked,
                f.answered,
                f.silent,
                f.disagreed,
                f.forwarded,
                "-" if f.mean_days is None else f.mean_days,
                f.longest,
            )
            for f in found
        ],
    )


@app.command("verify")
def verify(data_dir: DataDir = None, json_out: JsonOut = False) -> None:
    """Recount every figure from the log and compare with the counters (they must be equal)."""
    with opened(data_dir) as node:
        differences = node.stats.verify()
    if json_out:
        print_json({"equal": not differences, "differences": differences})
    elif differences:
        console.print(_("The figures differ from a recount of the log: %(d)s") % {"d": differences})
    else:
        console.print(_("The figures equal a recount of the log"))
    if differences:
        raise typer.Exit(6)


@app.command("rebuild")
def rebuild(data_dir: DataDir = None, json_out: JsonOut = False) -> None:
    """Recount every figure from the log. The counters are written with the cases, so this
    replays the whole log as `yiwang rebuild` does; stop `yiwang run` first."""
    maintenance.rebuild(False, data_dir, json_out)


@app.command("sign")
def sign(
    period: Annotated[str, typer.Option(help="The month YYYY-MM (it must be over)")],
    actor: Actor = None,
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Sign this node's subtree figures for a month into its public stream (after every child
    node signed it)."""
    with opened(data_dir) as node:
        by = acting(node, actor, Action.SIGN_OFF)
        row = node.signoff.sign(period, by)
    if json_out:
        print_json({"period": row.period, "division": row.division, "seq": row.seq, "by": row.signed_by})
    else:
        signed = _("%(division)s signed the figures of %(period)s (entry %(seq)s, %(by)s)")
        console.print(
            signed % {"division": row.division, "period": row.period, "seq": row.seq, "by": by}, highlight=False
        )


@app.command("status")
def status(
    period: Annotated[str, typer.Option(help="The month YYYY-MM")],
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Who signed a month's figures in this subtree, and whose have changed since."""
    with opened(data_dir) as node:
        found = node.signoff.status(period)
    rows = [
        {
            "division": s.division,
            "signed": s.signed is not None,
            "by": s.signed.signed_by if s.signed else "",
            "at": at_us(s.signed.signed_at_us) if s.signed else None,
            "changes_after": s.signed.changes_after if s.signed else 0,
            "changed": {k: list(v) for k, v in s.changed.items()},
            "uncovered_children": s.uncovered,
        }
        for s in found
    ]
    if json_out:
        print_json({"period": period, "nodes": rows})
        return
    table(
        _("Sign-off %(period)s") % {"period": period},
        [_("Division"), _("Signed"), _("Signed by"), _("Signed at"), _("Changed since")],
        [
            (
                s.division,
                _("signed") if s.signed else _("Not signed"),
                s.signed.signed_by if s.signed else "",
                fmt_time(at_us(s.signed.signed_at_us)) if s.signed else "",
                _changes(s),
            )
            for s in found
        ],
    )


def _changes(s: SignOffStatus) -> str:
    parts = []
    if (s.signed and s.signed.changes_after) or s.changed:
        changed = ", ".join(f"{label(k) if k in COUNTERS else k} {a}->{b}" for k, (a, b) in s.changed.items())
        parts.append(_("changed since the sign-off: %(changes)s") % {"changes": changed})
    if s.uncovered:
        parts.append(_("children's sign-offs differ: %(children)s") % {"children": ", ".join(s.uncovered)})
    return "; ".join(parts) or _("none")
