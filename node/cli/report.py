"""`yiwang report`: the statistics report of a period as one self-contained HTML file (issue 11)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from node.cli.common import DataDir, JsonOut, _, console, opened, print_json
from node.domain.errors import InvalidInput
from node.domain.timelimits import local_date
from node.services.stats import Period


def report(
    period: Annotated[str, typer.Option(help="YYYY-MM (or YYYY, YYYY-Www, YYYY-MM-DD)")],
    out: Annotated[Path, typer.Option("--out", help="The HTML file to write")],
    division: Annotated[str, typer.Option(help="A division of this node's subtree [default: this node's]")] = "",
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Write the statistics report (in Chinese, charts inline, nothing fetched when opened)."""
    from node.pages.report import build, render

    if out.suffix.lower() not in (".html", ".htm"):
        raise InvalidInput("--out", "the report is an HTML file: name it *.html")
    today = local_date(dt.datetime.now(dt.UTC))
    with opened(data_dir) as node:
        page = build(node, Period.parse(period), division, today)
    html = render(page)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    if json_out:
        print_json({"out": str(out), "bytes": len(html.encode()), "title": page.title})
    else:
        written = _("%(file)s written (%(kib)s KiB): %(title)s")
        console.print(written % {"file": out, "kib": len(html.encode()) // 1024, "title": page.title}, highlight=False)
