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
    formula: str  # 口径, as the provincial center reads it
    unit: str = "%"  # "%" for a rate, "件" for a count, "个工作日" for days


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(100.0 * part / whole, 2)


def indicators(c: Mapping[str, int], overdue_open: int) -> list[Indicator]:
    """The indicators of one row of counter sums; `overdue_open`: open cases past their due date
    now (a gauge, not a counter)."""
    evaluations = sum(c[f"eval_{level}"] for level in range(1, 6))
    satisfied = sum(c[f"eval_{level}"] for level in SATISFIED_LEVELS)
    return [
        Indicator("办件量", c["filed"], "申请件数", "件"),
        Indicator("受理量", c["accepted"], "受理件数", "件"),
        Indicator("办结量", c["delivered"], "办结(送达)件数", "件"),
        Indicator("办结率", _rate(c["delivered"], c["accepted"]), "办结量 / 受理量"),
        Indicator(
            "按时办结率", _rate(c["delivered_on_time"], c["delivered"]), "按时办结件数 / 办结量(决定或送达不晚于到期日)"
        ),
        Indicator("超期件数", overdue_open, "未决定且已过到期日的在办件", "件"),
        Indicator("网办率", _rate(c["online"], c["filed"]), "网上申请(电脑端、移动端) / 办件量"),
        Indicator("代办量", c["agent"], "代办员代办件数", "件"),
        Indicator("通办量", c["cross_region"], "在承办区划以外申请的件数", "件"),
        Indicator("满意率", _rate(satisfied, evaluations), "非常满意+满意+基本满意 / 评价总数"),
        Indicator("差评率", _rate(c["bad_reviews"], evaluations), "不满意+非常不满意 / 评价总数"),
        Indicator("差评回访率", _rate(c["called_back"], c["bad_reviews"]), "期内回访的差评 / 期内差评数"),
        Indicator("差评整改率", _rate(c["bad_rectified"], c["bad_reviews"]), "期内整改完成的差评 / 期内差评数"),
        Indicator(
            "平均办理用时",
            None if c["timed"] == 0 else round(c["work_days"] / c["timed"], 1),
            "有时限办结件从受理到决定所用工作日(不计中止) / 件数",
            "个工作日",
        ),
    ]
