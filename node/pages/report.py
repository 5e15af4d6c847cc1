"""The monthly (or any period's) statistics report as one self-contained HTML file, in Chinese
(`yiwang report`): headline indicators, a table and charts per region, cases per day, the
worst overdue items, 零办件 departments, bad reviews and their rectification, supervision
alarms and the sign-off status. Everything it shows comes from the node's services."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from node.context import Node
from node.domain.counting import COUNTERS
from node.domain.divisions import DivisionCode
from node.domain.evaluation import CAUSES
from node.domain.indicators import indicators
from node.domain.supervision import LEVELS, RULES
from node.pages import charts
from node.services.signoff import SignOffStatus
from node.services.stats import ItemFigures, Period, Query, Report

TIERS = {1: "省", 2: "市", 3: "县(区)", 4: "乡镇(街道)", 5: "村(社区)"}


@dataclass(frozen=True)
class RegionRow:
    division: str
    name: str
    counts: dict[str, int]
    rates: dict[str, float | None]


@dataclass(frozen=True)
class ReportPage:
    title: str
    division: str
    name: str
    period: Period
    generated: str
    report: Report
    regions: list[RegionRow]
    day_chart: str
    rate_chart: str
    items: list[ItemFigures]
    causes: list[tuple[str, int]]
    tasks: tuple[int, int, int]
    alarms: list[tuple[str, str, int]]
    signoffs: list[SignOffStatus]
    names: dict[str, str]  # division code -> name, for what the page lists by code


def division_name(node: Node, code: str) -> str:
    """A division's name from the node's division list, else its code."""
    if code == node.code and node.settings.name:
        return node.settings.name
    return node.divisions.name(code) or code


def build(node: Node, period: Period, division: str, today: dt.date) -> ReportPage:
    """Read everything the report shows."""
    report = node.stats.report(Query(period, division, by_next_level=True), today)
    code = DivisionCode(report.division)
    regions = []
    for row in report.rows:
        values = {i.name: i.value for i in indicators(row.counts, 0)}
        name = division_name(node, row.division)
        if row.division == code.code:
            name += " 本级"
        rates = {
            k: None if values[k] is None else float(values[k] or 0)
            for k in ("办结率", "按时办结率", "网办率", "满意率")
        }
        regions.append(RegionRow(row.division, name, row.counts, rates))
    days = node.stats.per_day(report.division, period)
    day_chart = charts.per_day(
        "每日办件量与办结量",
        [d.isoformat() for d, _ in days],
        [("办件量", [c["filed"] for _, c in days]), ("办结量", [c["delivered"] for _, c in days])],
    )
    rate_chart = charts.rates_by_region(
        "各地区办结率与按时办结率 (%)",
        [r.name for r in regions],
        [("办结率", [r.rates["办结率"] for r in regions]), ("按时办结率", [r.rates["按时办结率"] for r in regions])],
    )
    items = [f for f in node.stats.items(report.division, period) if f.counts["delivered_late"]][:10]
    causes = [(label, report.total[f"cause_{code}"]) for code, label in CAUSES.items() if report.total[f"cause_{code}"]]
    alarm_counts, tasks = node.supervision.summary(report.division, period.first, period.last)
    alarms = [(RULES.get(r, r), LEVELS.get(lv, lv), n) for (r, lv), n in sorted(alarm_counts.items())]
    months = period.split()[0]
    signoffs = node.signoff.status(months[0]) if len(months) == 1 and period.first.day == 1 else []
    name = division_name(node, report.division)
    listed = {d for d, _ in report.zero_departments} | {s.division for s in signoffs}
    names = {code: division_name(node, code) for code in listed}
    return ReportPage(
        f"{name} 政务服务统计报告 {period.label}",
        report.division,
        name,
        period,
        today.isoformat(),
        report,
        regions,
        day_chart,
        rate_chart,
        items,
        causes,
        tasks,
        alarms,
        signoffs,
        names,
    )


def render(page: ReportPage) -> str:
    env = Environment(
        loader=PackageLoader("node.pages", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["rate"] = lambda v: "-" if v is None else f"{v:.2f}%"
    template = env.get_template("report.html")
    return template.render(page=page, r=page.report, counters=COUNTERS, fonts=charts.FONTS, tiers=TIERS)
