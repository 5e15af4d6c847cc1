"""The report's charts as inline SVG (pygal): no script, no font or style fetched from anywhere;
the labels in Chinese use the fonts the reader's machine has."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence

import pygal
from pygal.style import Style

FONTS = "'WenQuanYi Micro Hei', 'Noto Sans CJK SC', 'Microsoft YaHei', 'PingFang SC', sans-serif"
_STYLE = Style(
    font_family=FONTS,
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#333333",
    foreground_strong="#111111",
    foreground_subtle="#888888",
    colors=("#1f6fb2", "#e0862b", "#3a9d5d", "#c0392b"),
    label_font_size=12,
    major_label_font_size=12,
    legend_font_size=13,
    title_font_size=15,
)


def _svg(chart: pygal.graph.graph.Graph) -> str:
    """The chart's SVG without pygal's configuration script (the page runs no script)."""
    tree = chart.render_tree()
    for element in list(tree.iter()):
        for child in list(element):
            if isinstance(child.tag, str) and child.tag.endswith("script"):
                element.remove(child)
    return ElementTree.tostring(tree, encoding="unicode")


def per_day(title: str, days: Sequence[str], series: Sequence[tuple[str, Sequence[int]]]) -> str:
    """Bars per day (one series each), labelled with the day of the month."""
    chart = pygal.Bar(
        js=[], disable_xml_declaration=True, style=_STYLE, width=900, height=300, title=title, legend_at_bottom=True
    )
    chart.x_labels = [d[-2:] for d in days]
    for name, values in series:
        chart.add(name, list(values))
    return _svg(chart)


def rates_by_region(title: str, regions: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]]) -> str:
    """Horizontal bars of rates (%) per region; a region without a rate shows no bar."""
    height = max(220, 60 + 34 * len(regions) * max(len(series), 1))
    chart = pygal.HorizontalBar(
        js=[],
        disable_xml_declaration=True,
        style=_STYLE,
        width=900,
        height=height,
        title=title,
        range=(0, 100),
        legend_at_bottom=True,
    )
    chart.x_labels = list(regions)
    for name, values in series:
        chart.add(name, list(values))
    return _svg(chart)
