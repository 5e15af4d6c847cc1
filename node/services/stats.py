"""The statistics of a node's subtree (issue 11, DESIGN.md section 10): sums of the counters
the projection keeps (node.store.stats), for a division and a period, as a total or by the
divisions one level down; and a recount from the log to prove them.
"""

from __future__ import annotations

import calendar as month_days
import datetime as dt
from dataclasses import dataclass

from node.domain.counting import COUNTERS
from node.domain.divisions import DivisionCode, Tier
from node.domain.errors import InvalidInput
from node.domain.indicators import Indicator, indicators
from node.services.rebuild import Rebuilder
from node.store import Store

# Digits of a division code that name it, per tier: the prefix its subtree shares.
_DIGITS = {Tier.PROVINCE: 2, Tier.CITY: 4, Tier.COUNTY: 6, Tier.TOWNSHIP: 9, Tier.VILLAGE: 12}


@dataclass(frozen=True)
class Period:
    first: dt.date
    last: dt.date

    @classmethod
    def parse(cls, text: str, field: str = "--period") -> Period:
        """YYYY, YYYY-MM or YYYY-MM-DD."""
        parts = text.strip().split("-")
        try:
            if len(parts) == 1:
                year = int(parts[0])
                return cls(dt.date(year, 1, 1), dt.date(year, 12, 31))
            if len(parts) == 2:
                year, month = int(parts[0]), int(parts[1])
                return cls(dt.date(year, month, 1), dt.date(year, month, month_days.monthrange(year, month)[1]))
            day = dt.date.fromisoformat(text.strip())
            return cls(day, day)
        except ValueError:
            raise InvalidInput(field, f"'{text[:20]}' is not YYYY, YYYY-MM or YYYY-MM-DD") from None


@dataclass(frozen=True)
class Figures:
    division: str  # the division (or the group's code prefix, padded to 12 digits)
    counts: dict[str, int]


class StatsService:
    def __init__(self, me: DivisionCode, store: Store, rebuilder: Rebuilder) -> None:
        self.me, self.store, self.rebuilder = me, store, rebuilder

    def figures(self, division: str, period: Period, by_next_level: bool = False, item: str = "") -> list[Figures]:
        """Counters of the cases handled in `division`'s subtree (this node's, or a division
        below it) in `period`: one total, or one row per division a level down that has any."""
        code = DivisionCode.parse(division or self.me.code, "--division")
        if not self.me.contains(code):
            raise InvalidInput("--division", f"{code} is not in this node's subtree ({self.me}): ask its own node")
        if period.last < period.first or (period.last - period.first).days > 3660:
            raise InvalidInput("--to", "a period ends on or after it starts and spans at most ten years")
        digits = _DIGITS[code.tier]
        group = _DIGITS.get(Tier(code.tier + 1), 0) if by_next_level and code.tier < Tier.VILLAGE else 0
        with self.store.read() as tx:
            rows = tx.count_sums(code.code[:digits], period.first.isoformat(), period.last.isoformat(), group, item)
        if not group:
            totals = rows[0][1] if rows else dict.fromkeys(COUNTERS, 0)
            return [Figures(code.code, totals)]
        return [Figures(prefix.ljust(12, "0"), counts) for prefix, counts in rows]

    def indicators(self, division: str, period: Period, today: dt.date) -> list[Indicator]:
        """The indicators of docs/indicators.md for `division`'s subtree over `period`; the
        overdue gauge as of `today`."""
        [total] = self.figures(division, period)
        code = DivisionCode(total.division)
        with self.store.read() as tx:
            overdue = tx.count_overdue(code.code[: _DIGITS[code.tier]], today.isoformat())
        return indicators(total.counts, overdue)

    def zero_case_items(self, division: str, period: Period) -> list[tuple[str, str, str]]:
        """Catalog items of the subtree no case was filed for in `period` (零办件): code, name,
        department."""
        code = DivisionCode.parse(division or self.me.code, "--division")
        if not self.me.contains(code):
            raise InvalidInput("--division", f"{code} is not in this node's subtree ({self.me}): ask its own node")
        with self.store.read() as tx:
            prefix = code.code[: _DIGITS[code.tier]]
            return tx.zero_case_items(prefix, period.first.isoformat(), period.last.isoformat())

    def verify(self) -> dict[str, int]:
        """Recount every counter from the log (a rebuild that is rolled back) and compare with
        the table; {} when equal, else the tables and how many rows differ."""
        return self.rebuilder.rebuild(check=True).differences
