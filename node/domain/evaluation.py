"""好差评 (国办发〔2019〕51号, GB/T 39734-2020, GB/T 39735-2020): the cause tags a 差评 carries and
the sub-indicators each channel rates, and the rectification (整改) clock a 差评 starts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from node.domain.errors import InvalidInput

BAD_LEVELS = frozenset({4, 5})  # 不满意, 非常不满意

# Why a resident gave a 差评; the first three are Guangdong's commonest causes (July 2023:
# 429, 221 and 171 of 1,249), the rest the complaint categories of the 好差评 forms.
CAUSES: dict[str, str] = {
    "overdue": "无理由超过法定办理时间",
    "extra_conditions": "增设办理条件",
    "extra_materials": "增加申请材料",
    "repeat_visits": "多次跑动",
    "attitude": "服务态度差",
    "guide": "办事指南不准确",
    "platform": "平台操作不便",
    "other": "其他",
}

# The sub-indicators rated beside 整体满意度, per channel (DOMAIN.md): offline windows and
# agents, and the online channels (GB/T 39046 A.5 channels 2 and 3).
OFFLINE_SUB_INDICATORS: dict[str, str] = {
    "efficiency": "服务效率",
    "quality": "服务水平",
    "attitude": "服务态度",
}
ONLINE_SUB_INDICATORS: dict[str, str] = {
    "efficiency": "办事效率",
    "guide_accuracy": "办事指南精确度",
    "convenience": "办事便捷度",
    "usability": "平台操作性",
}
ONLINE_CHANNELS = frozenset({"2", "3"})  # GB/T 39046 A.5: 电脑端网上办理, 移动端网上申请


def sub_indicators(channel: str) -> Mapping[str, str]:
    return ONLINE_SUB_INDICATORS if channel in ONLINE_CHANNELS else OFFLINE_SUB_INDICATORS


def check_evaluation(level: int, causes: Sequence[str], scores: Mapping[str, int], channel: str) -> None:
    """Raise InvalidInput unless the causes and sub-indicator scores fit the level and channel:
    causes only with a 差评 and from CAUSES; scores 1..5 for the channel's sub-indicators."""
    unknown = [c for c in causes if c not in CAUSES]
    if unknown:
        raise InvalidInput("causes", f"unknown cause '{unknown[0][:20]}'; one of {', '.join(CAUSES)}")
    if len(set(causes)) != len(causes):
        raise InvalidInput("causes", "a cause is named twice")
    if causes and level not in BAD_LEVELS:
        raise InvalidInput("causes", "causes go with a 差评 (level 4 不满意 or 5 非常不满意) only")
    allowed = sub_indicators(channel)
    for name, value in scores.items():
        if name not in allowed:
            raise InvalidInput("scores", f"'{name[:20]}' is not rated on this channel; one of {', '.join(allowed)}")
        if not 1 <= value <= 5:
            raise InvalidInput("scores", f"{name} is rated 1 (非常满意) .. 5 (非常不满意)")
