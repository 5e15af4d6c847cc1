"""The `yiwang` root command: init, audit, and the command groups."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from node import logs
from node.cli import calendar, cases, catalog
from node.cli.common import (
    DataDir,
    JsonOut,
    console,
    err_console,
    opened,
    print_json,
    run_cli,
    table,
)
from node.cli.common import data_dir as resolve_dir
from node.context import Node, settle_after_startup

app = typer.Typer(
    help="yiwang (一网): the node of a five-tier government service federation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(catalog.app, name="catalog")
app.add_typer(cases.app, name="case")
app.add_typer(calendar.app, name="calendar")
audit_app = typer.Typer(help="Verify the log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@app.command("init")
def init(
    code: Annotated[str, typer.Option(help="12-digit division code this node serves")],
    database_url: Annotated[str, typer.Option(help="PostgreSQL URL; empty: SQLite in the data directory")] = "",
    name: Annotated[str, typer.Option(help="Division name [default: from the division data]")] = "",
    profile: Annotated[str, typer.Option(help="province, city, county, township or village [default: the tier]")] = "",
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Create a node: data directory, config file, P-256 key and database."""
    path = resolve_dir(data_dir)
    node = Node.init(path, code, database_url, name, profile)
    info = {
        "data_dir": str(path),
        "code": node.code,
        "name": node.settings.name,
        "tier": node.settings.tier.label,
        "key_id": node.key.key_id.hex(),
        "database": node.settings.effective_database_url,
    }
    node.close()
    if json_out:
        print_json(info)
    else:
        console.print(f"node {info['code']} {info['name']} ({info['tier']}) initialised in {path}", highlight=False)


@audit_app.command("verify")
def audit_verify(data_dir: DataDir = None, json_out: JsonOut = False) -> None:
    """Recompute every hash chain and check every signed head; exit 6 on the first fault."""
    with opened(data_dir) as node:
        reports = node.audit.verify()
    faults = [r.fault for r in reports if r.fault is not None]
    if json_out:
        print_json({"ok": not faults, "streams": reports})
    else:
        table(
            "audit",
            ["origin", "stream", "entries", "heads", "result"],
            [
                (
                    r.origin,
                    r.stream,
                    r.entries,
                    r.heads,
                    "ok" if r.fault is None else f"BAD at seq {r.fault.seq}: {r.fault.reason}",
                )
                for r in reports
            ],
        )
    if faults:
        f = faults[0]
        logs.get("audit").error("audit_failed", origin=f.origin, stream=f.stream, seq=f.seq, reason=f.reason)
        err_console.print(
            f"[red]error:[/red] first bad entry: {f.origin}/{f.stream}/{f.seq}: {f.reason}", highlight=False
        )
        raise typer.Exit(6)


def main() -> None:
    settle_after_startup()
    run_cli(lambda: app(prog_name="yiwang"))
    sys.exit(0)


if __name__ == "__main__":
    main()
