"""The HTML report (issue 11): `yiwang report` writes one self-contained file in Chinese with
the headline figures, the regions, inline SVG charts, overdue items, 零办件 departments, bad
reviews and sign-off; opened in headless chromium from 127.0.0.1 it renders (a screenshot that
is not blank, the charts drawn, the CJK font used), logs no error and asks nothing of any other
host."""

from __future__ import annotations

import re
from pathlib import Path

from node.context import Node
from tests.browser import distinct_colours, served, visit
from tests.fedtools import cli, cli_json
from tests.test_custody import CITY, PROVINCE, nodes  # noqa: F401 - the fixture
from tests.test_stats import worked  # noqa: F401 - the fixture

CHECKS = {
    "title": "document.title",
    "day_bars": "document.querySelectorAll('#chart-days svg .bar rect, #chart-days svg rect.rect').length",
    "rate_bars": "document.querySelectorAll('#chart-rates svg .bar rect, #chart-rates svg rect.rect').length",
    "chart_height": "document.querySelector('#chart-days svg').getBoundingClientRect().height",
    "cjk_font": "document.fonts.check(\"16px 'WenQuanYi Micro Hei'\")",
    "regions": "Array.from(document.querySelectorAll('#regions td.t')).map(td => td.textContent)",
    "headline": "document.querySelector('#headline').innerText",
    "text_width": (
        "(() => { const s = document.createElement('span'); s.style.fontFamily = \"'WenQuanYi Micro Hei'\";"
        " s.style.fontSize = '20px'; s.textContent = '政务服务'; document.body.appendChild(s);"
        " const w = s.getBoundingClientRect().width; s.remove(); return w; })()"
    ),
}


def test_the_report_is_one_chinese_file_that_renders_offline_in_chromium(
    worked: dict[str, Node],  # noqa: F811
    tmp_path: Path,
) -> None:
    province = worked[PROVINCE]
    out = tmp_path / "site" / "report.html"
    out.parent.mkdir()
    written = cli_json(province.settings.data_dir, "report", "--period", "2026-11", "--out", str(out))
    assert written["title"].endswith("政务服务统计报告 2026-11-01 .. 2026-11-30")
    html = out.read_text(encoding="utf-8")
    assert not re.search(r"(?:src|href)\s*=\s*[\"']?(?:https?:)?//", html)  # nothing to fetch
    assert "<script" not in html
    for text in (
        "主要指标",
        "分地区情况",
        "每日办件",
        "超期办结较多的事项",
        "零办件部门",
        "好差评与差评整改",
        "统计签署",
    ):
        assert text in html, text
    assert "教师资格认定" in html  # the late item
    with served(out.parent) as base:
        seen = visit(f"{base}/report.html", CHECKS)
    assert seen.errors == [] and seen.outside == []
    facts = seen.facts
    assert "政务服务统计报告" in facts["title"]
    assert facts["day_bars"] >= 30 and facts["rate_bars"] >= 1 and facts["chart_height"] > 100
    assert facts["cjk_font"] is True and facts["text_width"] > 60  # four glyphs of 20px, not empty boxes
    assert facts["regions"] == ["广安市"]  # the city a level down, by its name
    assert "办结率" in facts["headline"] and "100.00%" in facts["headline"]  # 1 delivered of 1 accepted
    assert distinct_colours(seen.screenshot) > 20  # not blank


def test_a_bad_report_request_is_refused_and_writes_nothing(worked: dict[str, Node], tmp_path: Path) -> None:  # noqa: F811
    home = worked[PROVINCE].settings.data_dir
    out = tmp_path / "out"
    out.mkdir()
    assert "HTML" in cli(home, "report", "--period", "2026-11", "--out", str(out / "r.pdf"), expect=2).stderr
    assert "YYYY" in cli(home, "report", "--period", "2026-13", "--out", str(out / "r.html"), expect=2).stderr
    assert list(out.iterdir()) == []
