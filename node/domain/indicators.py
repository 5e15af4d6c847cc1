"""The indicators of docs/indicators.md, from counter sums (issue 11). Pure: a rate is None
when its denominator is zero (shown as "-"), never a made-up 100 %."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

SATISFIED_LEVELS = (1, 2, 3)  # 非常满意, 满意, 基本满意 (GB/T 39734-2020); 4 and 5 are 差评


@dataclass(frozen=True)
class Indicator:
    name: str  # as the provincial center names it
    value: float | int | None
    formula: str


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(100.0 * part / whole, 2)


def indicators(c: Mapping[str, int], overdue_open: int) -> list[Indicator]:
    """The indicators of one row of counter sums; `overdue_open`: open cases past their due date
    now (a gauge, not a counter)."""
    evaluations = sum(c[f"eval_{level}"] for level in range(1, 6))
    satisfied = sum(c[f"eval_{level}"] for level in SATISFIED_LEVELS)
    return [
        Indicator("办件量", c["filed"], "filed"),
        Indicator("受理量", c["accepted"], "accepted"),
        Indicator("办结量", c["delivered"], "delivered"),
        Indicator("办结率", _rate(c["delivered"], c["accepted"]), "delivered / accepted"),
        Indicator("按时办结率", _rate(c["delivered_on_time"], c["delivered"]), "delivered on time / delivered"),
        Indicator("超期件数", overdue_open, "open cases past their due date now"),
        Indicator("网办率", _rate(c["online"], c["filed"]), "filed online (channels 2, 3) / filed"),
        Indicator("代办量", c["agent"], "filed by an agent"),
        Indicator("通办量", c["cross_region"], "filed outside the handling division"),
        Indicator("满意率", _rate(satisfied, evaluations), "levels 1-3 / evaluations"),
        Indicator("差评率", _rate(c["bad_reviews"], evaluations), "levels 4-5 / evaluations"),
    ]
