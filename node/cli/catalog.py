"""`yiwang catalog import | list | show`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from node.cli.common import DataDir, JsonOut, console, opened, print_json, table
from node.domain.codes import POWER_TYPES
from node.services.catalog_import import read_catalog_file

app = typer.Typer(help="The service item catalog (事项目录).", no_args_is_help=True)


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="Portal CSV, full-field CSV or JSON (docs/catalog-format.md)")],
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Publish the items of FILE into this node's public stream; all or nothing."""
    items = read_catalog_file(file)
    with (
        opened(data_dir) as node,
        Progress(
            TextColumn("importing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=json_out,
            transient=False,
        ) as bar,
    ):
        task = bar.add_task("import", total=len(items))
        result = node.catalog.import_items(items, lambda done, total: bar.update(task, completed=done))
    if json_out:
        print_json(
            {
                "file": str(file),
                "items": len(items),
                "published": result.published,
                "unchanged": result.unchanged,
                "warnings": list(result.warnings),
            }
        )
        return
    for w in result.warnings:
        console.print(f"[yellow]warning:[/yellow] {w}", highlight=False)
    console.print(f"{len(items)} items read: {result.published} published, {result.unchanged} unchanged")


@app.command("list")
def list_(
    query: Annotated[str, typer.Option("--query", "-q", help="Part of the item or department name")] = "",
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 50,
    after: Annotated[str, typer.Option(help="Continue after this implementation code")] = "",
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """List catalog items."""
    with opened(data_dir) as node:
        items = node.catalog.list(query, limit, after)
    if json_out:
        print_json(items)
        return
    table(
        f"catalog ({len(items)} shown)",
        ["implementation code", "name", "type", "department", "limit"],
        [
            (
                i.implementation_code,
                i.name,
                POWER_TYPES.get(i.power_type, i.power_type),
                i.department,
                "" if i.limit_days is None else f"{i.limit_days} wd",
            )
            for i in items
        ],
    )


@app.command("show")
def show(
    code: Annotated[str, typer.Argument(help="Implementation code")],
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Show every field of one item."""
    with opened(data_dir) as node:
        item = node.catalog.get(code)
    if json_out:
        print_json(item)
        return
    rows = [(k, v) for k, v in item.__dict__.items() if k != "warnings"]
    table(
        item.name,
        ["field", "value"],
        [
            (k, ", ".join(m.name if hasattr(m, "name") else str(m) for m in v) if isinstance(v, tuple) else v)
            for k, v in rows
        ],
    )
