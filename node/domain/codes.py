"""GB/T 39046-2020 code sets (Appendix A) used by the catalog and cases.

Transcribed from ../shared/data/codelists_gbt39046.json; the test suite checks they agree.
"""

from __future__ import annotations

POWER_TYPES: dict[str, str] = {
    "00": "行政权力事项",
    "01": "行政许可",
    "02": "行政处罚",
    "03": "行政强制",
    "04": "行政征收",
    "05": "行政给付",
    "06": "行政检查",
    "07": "行政确认",
    "08": "行政奖励",
    "09": "行政裁决",
    "10": "其他行政权力",
    "20": "公共服务事项",
}
USE_LEVELS: dict[str, str] = {
    "1": "国家级",
    "2": "省级",
    "3": "市级",
    "4": "县级",
    "5": "镇(乡、街道)级",
    "6": "村(社区)级",
    "7": "分级管理",
}
SERVICE_OBJECTS: dict[str, str] = {
    "1": "自然人",
    "2": "企业法人",
    "3": "事业法人",
    "4": "社会组织法人",
    "5": "行政机关",
    "6": "其他组织",
}
HANDLING_FORMS: dict[str, str] = {
    "1": "窗口办理",
    "2": "电脑端网上办理",
    "3": "移动端网上申请",
    "4": "快递申请",
    "9": "其他",
}
CASE_TYPES: dict[str, str] = {"1": "即办件", "2": "承诺件", "9": "其他"}
SATISFACTION: dict[int, str] = {
    1: "非常满意",
    2: "满意",
    3: "基本满意",
    4: "不满意",
    5: "非常不满意",
}


def power_type_code(raw: str) -> str:
    """Normalise '1' -> '01' as the portal data writes single digits; '20' stays '20'."""
    text = raw.strip()
    return text.zfill(2) if text.isdigit() else text
