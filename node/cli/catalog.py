"""`yiwang catalog import | list | show | errands`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from node.cli.common import Actor, DataDir, JsonOut, _, acting, console, opened, print_json, table
from node.domain.codes import POWER_TYPES
from node.domain.roles import Action
from node.services.catalog_import import read_catalog_file, read_codes_csv, states_errands, write_codes_csv

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
        result = node.catalog.import_items(
            items, lambda done, total: bar.update(task, completed=done), keep_errands=not states_errands(file)
        )
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
    warning = _("warning:")
    for w in result.warnings:
        console.print(f"[yellow]{warning}[/yellow] {w}", highlight=False)
    read = _("%(n)s items read: %(published)s published, %(unchanged)s unchanged")
    console.print(read % {"n": len(items), "published": result.published, "unchanged": result.unchanged})


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
        _("Catalog (%(n)s shown)") % {"n": len(items)},
        [_("Implementation code"), _("Name"), _("Power type"), _("Department"), _("Time limit")],
        [
            (
                i.implementation_code,
                i.name,
                POWER_TYPES.get(i.power_type, i.power_type),
                i.department,
                _limit(i.limit_days),
            )
            for i in items
        ],
        nowrap=(0,),
    )


def _limit(days: int | None) -> str:
    return "" if days is None else _("%(n)s working days") % {"n": days}


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
        [_("Field"), _("Value")],
        [
            (k, ", ".join(m.name if hasattr(m, "name") else str(m) for m in v) if isinstance(v, tuple) else v)
            for k, v in rows
        ],
    )


errands = typer.Typer(
    help="Items open to village agents' errands (代办事项清单): this division publishes its list.",
    no_args_is_help=True,
)
app.add_typer(errands, name="errands")
Codes = Annotated[list[str] | None, typer.Argument(help="Implementation codes of this division's items")]
CodesCsv = Annotated[
    Path | None,
    typer.Option("--csv", help="A CSV with an implementation_code column (as `errands list --csv` writes)"),
]


def _codes(codes: list[str] | None, csv_file: Path | None) -> list[str]:
    found = list(codes or [])
    if csv_file is not None:
        found += read_codes_csv(csv_file)
    return found


def _set_errands(codes: list[str], open_: bool, data_dir: Path | None, actor: str | None, json_out: bool) -> None:
    with opened(data_dir) as node:
        acting(node, actor, Action.MANAGE)
        result = node.catalog.set_errands(codes, open_)
    if json_out:
        print_json(result)
        return
    done = (
        _(
            "%(changed)s item(s) opened to errands, %(unchanged)s already so; "
            "the villages receive the list over the links"
        )
        if open_
        else _(
            "%(changed)s item(s) closed to errands, %(unchanged)s already so; "
            "the villages receive the list over the links"
        )
    )
    console.print(done % {"changed": result.changed, "unchanged": result.unchanged})


@errands.command("open")
def errands_open(
    codes: Codes = None,
    csv_file: CodesCsv = None,
    actor: Actor = None,
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Open items to errands: village agents may file them for residents (`case file --agent`)."""
    _set_errands(_codes(codes, csv_file), True, data_dir, actor, json_out)


@errands.command("close")
def errands_close(
    codes: Codes = None,
    csv_file: CodesCsv = None,
    actor: Actor = None,
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Close items to errands again; cases already filed keep running."""
    _set_errands(_codes(codes, csv_file), False, data_dir, actor, json_out)


@errands.command("list")
def errands_list(
    query: Annotated[str, typer.Option("--query", "-q", help="Part of the item or department name")] = "",
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 200,
    after: Annotated[str, typer.Option(help="Continue after this implementation code")] = "",
    csv_out: Annotated[bool, typer.Option("--csv", help="Print CSV (for `errands open --csv`)")] = False,
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """The items open to errands held here (a village sees its county's list)."""
    with opened(data_dir) as node:
        items = node.catalog.errands(query, limit, after)
    if json_out:
        print_json(items)
        return
    if csv_out:
        write_codes_csv(sys.stdout, items)
        return
    table(
        _("Items open to errands (%(n)s shown)") % {"n": len(items)},
        [_("Implementation code"), _("Name"), _("Department"), _("Time limit")],
        [(i.implementation_code, i.name, i.department, _limit(i.limit_days)) for i in items],
        nowrap=(0,),
    )
