"""`yiwang divisions import | show | list`: the province's division tree (DESIGN.md section 15)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from node.cli.common import DataDir, JsonOut, _, console, opened, print_json, table
from node.domain.divisions import DivisionCode
from node.domain.errors import NotFound

app = typer.Typer(
    help="The division tree: the national one to county level, the province's below.", no_args_is_help=True
)


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="CSV (or .csv.gz) with columns code,name[,level,parent_code]")],
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """At the province: publish its whole division tree into its public stream (only the parts
    that changed); every node of the province receives it by replication."""
    with opened(data_dir) as node:
        result = node.divisions.import_file(file)
    if json_out:
        print_json(result)
        return
    done = _("%(n)s divisions: %(published)s parts published, %(unchanged)s unchanged, %(removed)s removed")
    counts = {"published": result.published, "unchanged": result.unchanged, "removed": result.removed}
    console.print(done % {"n": result.divisions, **counts}, highlight=False)


@app.command("show")
def show(
    code: Annotated[str, typer.Argument(help="A 12-digit division code")],
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """One division as this node knows it; exit code 3 when it knows no such division."""
    division_code = DivisionCode.parse(code, "CODE")
    with opened(data_dir) as node:
        division = node.divisions.get(division_code)
    if division is None:
        raise NotFound("division", division_code.code)
    parent = division.parent.code if division.parent else ""
    if json_out:
        print_json({"code": division.code.code, "name": division.name, "level": division.level, "parent": parent})
        return
    console.print(f"{division.code.code} {division.name} ({division.code.tier.label}) {parent}", highlight=False)


@app.command("list")
def list_(
    code: Annotated[str, typer.Argument(help="The division whose children are listed [default: this node]")] = "",
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """The divisions right below one division."""
    with opened(data_dir) as node:
        parent = DivisionCode.parse(code, "CODE") if code else node.settings.code
        children = node.divisions.children(parent)
    if json_out:
        print_json([{"code": d.code.code, "name": d.name} for d in children])
        return
    title = _("divisions below %(code)s") % {"code": parent.code}
    table(title, [_("code"), _("name")], [(d.code.code, d.name) for d in children], nowrap=(0,))
