"""The statistics of a node's subtree (issue 11, DESIGN.md section 10): sums of the counters the
projection keeps (node.store.stats) for a division and a period, as a total or by the divisions
one level down, filtered by item, department, power type or channel; gauges of the open cases;
the items no case used; working days per item; and a recount from the log to prove them.

Whole months are read from the rollups (a province-wide month sums a few hundred rows); only
the days of a period outside whole months, and filters the rollups do not keep, read day rows.
"""

from __future__ import annotations

import calendar as month_days
import csv
import datetime as dt
from dataclasses import dataclass, field
from typing import TextIO

from node.domain.counting import COUNTERS
from node.domain.divisions import PREFIX_LEN, DivisionCode, Tier
from node.domain.errors import InvalidInput
from node.domain.indicators import Indicator, indicators
from node.domain.timelimits import CHINA_TZ
from node.services.rebuild import Rebuilder
from node.store import Store, Tx

Counts = dict[str, int]
MAX_DAYS = 3660  # a period spans at most ten years


@dataclass(frozen=True)
class Period:
    first: dt.date
    last: dt.date

    @classmethod
    def parse(cls, text: str, field: str = "--period") -> Period:
        """YYYY, YYYY-MM, YYYY-Www (an ISO week, Monday to Sunday) or YYYY-MM-DD."""
        raw = text.strip()
        parts = raw.split("-")
        try:
            if len(parts) == 1:
                year = int(parts[0])
                return cls(dt.date(year, 1, 1), dt.date(year, 12, 31))
            if len(parts) == 2 and parts[1][:1] in ("W", "w"):
                monday = dt.date.fromisocalendar(int(parts[0]), int(parts[1][1:]), 1)
                return cls(monday, monday + dt.timedelta(days=6))
            if len(parts) == 2:
                year, month = int(parts[0]), int(parts[1])
                return cls(dt.date(year, month, 1), dt.date(year, month, month_days.monthrange(year, month)[1]))
            day = dt.date.fromisoformat(raw)
            return cls(day, day)
        except ValueError:
            raise InvalidInput(field, f"'{text[:20]}' is not YYYY, YYYY-MM, YYYY-Www or YYYY-MM-DD") from None

    @classmethod
    def of(cls, period: str, start: str, end: str, today: dt.date) -> Period:
        """The period a request names: `period`, or `start` and `end` together, or this month."""
        if start or end:
            if period or not (start and end):
                raise InvalidInput("--from", "give --from and --to together, or --period")
            return cls(cls.parse(start, "--from").first, cls.parse(end, "--to").last)
        return cls.parse(period or today.strftime("%Y-%m"))

    @property
    def label(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first} .. {self.last}"

    def split(self) -> tuple[list[str], list[tuple[dt.date, dt.date]]]:
        """The whole months in the period (YYYY-MM) and the day ranges outside them."""
        months: list[str] = []
        ranges: list[tuple[dt.date, dt.date]] = []
        day = self.first
        while day <= self.last:
            end_of_month = day.replace(day=month_days.monthrange(day.year, day.month)[1])
            if day.day == 1 and end_of_month <= self.last:
                months.append(day.strftime("%Y-%m"))
            else:
                ranges.append((day, min(end_of_month, self.last)))
            day = end_of_month + dt.timedelta(days=1)
        return months, ranges


@dataclass(frozen=True)
class Query:
    """What `yiwang stats` and the Stats RPC ask: a division of the node's subtree (empty: the
    node's), a period, and filters (empty: all)."""

    period: Period
    division: str = ""
    by_next_level: bool = False
    item: str = ""
    department: str = ""
    power_type: str = ""
    channel: str = ""

    @property
    def item_filter(self) -> bool:
        return bool(self.item or self.department or self.power_type)


@dataclass(frozen=True)
class Figures:
    division: str  # the division (a row a level down: its code; the queried division's own row is 本级)
    counts: Counts


@dataclass(frozen=True)
class Gauges:
    """Open cases now, and those the supervision scans carded (open limit alarms)."""

    open: int
    overdue: int  # undecided open cases past their due date, from the cases themselves
    warning: int
    yellow: int
    red: int


@dataclass(frozen=True)
class ItemFigures:
    item_code: str
    name: str
    department: str
    counts: Counts
    promised_days: int | None
    legal_days: int | None

    @property
    def mean_work_days(self) -> float | None:
        timed = self.counts["timed"]
        return None if timed == 0 else round(self.counts["work_days"] / timed, 1)


@dataclass(frozen=True)
class Report:
    """Everything `yiwang stats` shows for one query (and the HTML report reads)."""

    query: Query
    division: str
    rows: list[Figures]
    total: Counts
    peers: Counts  # of the total: cases handled here that were filed in another province
    gauges: Gauges
    indicators: list[Indicator]
    zero_items: list[tuple[str, str, str]] = field(default_factory=list)  # code, name, department
    zero_departments: list[tuple[str, str]] = field(default_factory=list)  # division, department


def write_csv(report: Report, out: TextIO) -> None:
    """The report's rows as CSV: the division, then every counter (the CLI's --csv, the page's
    export)."""
    writer = csv.writer(out)
    writer.writerow(["division", *COUNTERS])
    for r in report.rows:
        writer.writerow([r.division, *(r.counts[c] for c in COUNTERS)])


def _start_of(day: dt.date) -> int:
    """Microseconds since the epoch at the start of `day`, China time."""
    return int(dt.datetime.combine(day, dt.time(), CHINA_TZ).timestamp() * 1_000_000)


def _zero() -> Counts:
    return dict.fromkeys(COUNTERS, 0)


def _merge(into: dict[str, Counts], more: dict[str, Counts]) -> None:
    for key, counts in more.items():
        row = into.setdefault(key, _zero())
        for name, n in counts.items():
            row[name] += n


class StatsService:
    def __init__(self, me: DivisionCode, store: Store, rebuilder: Rebuilder) -> None:
        self.me, self.store, self.rebuilder = me, store, rebuilder

    def _division(self, division: str) -> DivisionCode:
        code = DivisionCode.parse(division or self.me.code, "--division")
        if not self.me.contains(code):
            raise InvalidInput("--division", f"{code} is not in this node's subtree ({self.me}): ask its own node")
        return code

    @staticmethod
    def _check(period: Period) -> None:
        if period.last < period.first or (period.last - period.first).days > MAX_DAYS:
            raise InvalidInput("--to", "a period ends on or after it starts and spans at most ten years")

    def figures(self, q: Query) -> list[Figures]:
        """Counters of the cases handled in the division's subtree in the period: one total, or
        one row per division a level down that has any."""
        code = self._division(q.division)
        self._check(q.period)
        with self.store.read() as tx:
            return self.figures_in(tx, code, q)

    def figures_in(self, tx: Tx, code: DivisionCode, q: Query, peers_only: bool = False) -> list[Figures]:
        """`figures` in the caller's transaction (a sign-off reads what it signs under its locks)."""
        group = Tier(code.tier + 1) if q.by_next_level and code.tier < Tier.VILLAGE else None
        prefix = code.prefix
        months, ranges = q.period.split()
        sums: dict[str, Counts] = {}
        if q.item_filter:
            items = tx.item_codes(q.department, q.power_type, q.item)
            rollup_items = group is None or group <= Tier.COUNTY
            if rollup_items and code.tier <= Tier.COUNTY and months and not peers_only:
                digits = PREFIX_LEN[group] if group is not None else 0
                _merge(
                    sums,
                    {
                        k.ljust(12, "0"): v
                        for k, v in tx.item_rollup_sums(digits, prefix, months, items, q.channel).items()
                    },
                )
            else:
                ranges = [(dt.date.fromisoformat(m + "-01"), Period.parse(m).last) for m in months] + ranges
            for first, last in ranges:
                digits = PREFIX_LEN[group] if group is not None else 0
                found = tx.day_sums(digits, prefix, first.isoformat(), last.isoformat(), items, q.channel, peers_only)
                _merge(sums, {k.ljust(12, "0"): v for k, v in found.items()})
        else:
            level = group if group is not None else code.tier
            if months:
                _merge(sums, tx.rollup_sums(level, prefix, months, q.channel, peers_only))
            for first, last in ranges:
                digits = PREFIX_LEN[Tier(level)]
                found = tx.day_sums(digits, prefix, first.isoformat(), last.isoformat(), None, q.channel, peers_only)
                _merge(sums, {k.ljust(12, "0"): v for k, v in found.items()})
        if group is None:
            total = _zero()
            for counts in sums.values():
                for name, n in counts.items():
                    total[name] += n
            return [Figures(code.code, total)]
        return [Figures(division, sums[division]) for division in sorted(sums)]

    def gauges(self, division: str, today: dt.date) -> Gauges:
        """Open cases of the subtree now: all, overdue, and carded by supervision."""
        code = self._division(division)
        with self.store.read() as tx:
            return self._gauges(tx, code, today)

    @staticmethod
    def _gauges(tx: Tx, code: DivisionCode, today: dt.date) -> Gauges:
        opened = _zero()
        for counts in tx.rollup_sums(code.tier, code.prefix, None).values():
            for name, n in counts.items():
                opened[name] += n
        still_open = opened["filed"] - opened["not_accepted"] - opened["delivered"] - opened["withdrawn"]
        cards = tx.open_limit_alarms(code.prefix)
        return Gauges(
            max(still_open, 0),
            tx.count_overdue(code.prefix, today.isoformat()),
            cards.get("warning", 0),
            cards.get("yellow", 0),
            cards.get("red", 0),
        )

    def report(self, q: Query, today: dt.date) -> Report:
        """The figures, gauges, indicators and 零办件 of one query."""
        code = self._division(q.division)
        self._check(q.period)
        with self.store.read() as tx:
            rows = self.figures_in(tx, code, q)
            whole = Query(q.period, code.code, False, q.item, q.department, q.power_type, q.channel)
            total = self.figures_in(tx, code, whole)[0].counts
            peers = self.figures_in(tx, code, whole, peers_only=True)[0].counts
            gauges = self._gauges(tx, code, today)
            zero_items: list[tuple[str, str, str]] = []
            zero_departments: list[tuple[str, str]] = []
            if not q.item_filter and not q.channel:
                zero_items, zero_departments = self._zero_cases(tx, code, q.period)
        shown = indicators(total, gauges.overdue)
        return Report(q, code.code, rows, total, peers, gauges, shown, zero_items, zero_departments)

    def _zero_cases(
        self, tx: Tx, code: DivisionCode, period: Period
    ) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
        """Catalog items of the subtree with no case filed in the period, and the departments
        (of a division) none of whose items had one (零办件); items published during the
        period are left out."""
        filed = {item for item, counts in self._per_item(tx, code, period).items() if counts["filed"]}
        catalog = tx.catalog_under(code.prefix, _start_of(period.first))  # items there all along
        zero = [(item, name, department) for item, name, department, _ in catalog if item not in filed]
        busy = {(division, department) for item, _, department, division in catalog if item in filed}
        return zero, sorted({(division, department) for _, _, department, division in catalog} - busy)

    @staticmethod
    def _per_item(tx: Tx, code: DivisionCode, period: Period) -> dict[str, Counts]:
        months, ranges = period.split()
        sums: dict[str, Counts] = {}
        if code.tier > Tier.COUNTY:
            ranges = [(dt.date.fromisoformat(m + "-01"), Period.parse(m).last) for m in months] + ranges
        elif months:
            _merge(sums, tx.item_rollup_by_item(code.prefix, months))
        for first, last in ranges:
            _merge(sums, tx.item_sums(code.prefix, first.isoformat(), last.isoformat()))
        return sums

    def per_day(self, division: str, period: Period) -> list[tuple[dt.date, Counts]]:
        """The counters of every day of the period (days without a case count zero)."""
        code = self._division(division)
        self._check(period)
        with self.store.read() as tx:
            found = tx.day_series(code.prefix, period.first.isoformat(), period.last.isoformat())
        days = [period.first + dt.timedelta(days=i) for i in range((period.last - period.first).days + 1)]
        return [(day, found.get(day.isoformat(), _zero())) for day in days]

    def items(self, division: str, period: Period) -> list[ItemFigures]:
        """Per item of the cases handled in the subtree: counters, the mean working days used to
        a decision, and the item's promised and legal limits; most late deliveries first."""
        code = self._division(division)
        self._check(period)
        with self.store.read() as tx:
            per_item = self._per_item(tx, code, period)
            limits = tx.item_limits(per_item)
        out = []
        for item, counts in per_item.items():
            name, department, promised, legal = limits.get(item, ("", "", None, None))
            out.append(ItemFigures(item, name, department, counts, promised, legal))
        return sorted(out, key=lambda f: (-f.counts["delivered_late"], -f.counts["filed"], f.item_code))

    def verify(self) -> dict[str, int]:
        """Recount every counter from the log (a rebuild that is rolled back) and compare with
        the tables; {} when equal, else the tables and how many rows differ."""
        return self.rebuilder.rebuild(check=True).differences
