"""`yiwang upgrade` and `yiwang rebuild`: the schema brought up to date, the derived tables
replayed from the log (DESIGN.md sections 3 and 12)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from node.cli.common import DataDir, JsonOut, _, console, data_dir, opened, print_json, process_alive
from node.config import load_settings
from node.domain.errors import SetupError
from node.store import open_engine, schema


def upgrade(data_dir_: DataDir = None, json_out: JsonOut = False) -> None:
    """Apply the schema migrations the node's database lacks (back it up first); `yiwang run`
    and every other command refuse a database that is behind."""
    settings = load_settings(data_dir(data_dir_))
    engine = open_engine(settings.effective_database_url)
    try:
        before, after = schema.upgrade(engine)
    finally:
        engine.dispose()
    replayed = 0
    if before is not None and schema.needs_replay(before, after):  # new derived tables: fill them from the log
        with opened(settings.data_dir) as node:
            replayed = node.rebuilder().rebuild().entries
    if json_out:
        print_json({"from": before, "to": after, "replayed": replayed})
    elif before == after:
        newest = _("the database is at the newest schema revision %(after)s; nothing to do")
        console.print(newest % {"after": after}, highlight=False)
    else:
        upgraded = _("the database was upgraded from schema revision %(before)s to %(after)s")
        console.print(upgraded % {"before": before or _("none"), "after": after}, highlight=False)
        if replayed:
            console.print(_("%(n)s log entries replayed into the new tables") % {"n": replayed}, highlight=False)


def rebuild(
    check: Annotated[
        bool, typer.Option("--check", help="Replay, compare with the tables as they were, and keep the old ones")
    ] = False,
    data_dir_: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Empty the derived tables (cases, catalog, calendars, revocations, roots) and replay the
    log into them; all or nothing. Run it with the node stopped."""
    from node.app.runfile import read_run_file

    running = read_run_file(data_dir(data_dir_))
    if not check and running is not None and process_alive(int(running["pid"])):
        raise SetupError(f"the node is running (pid {running['pid']}): stop `yiwang run` before a rebuild")
    columns = (TextColumn("replaying the log"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with opened(data_dir_) as node, Progress(*columns, console=console, disable=json_out) as bar:
        task = bar.add_task("rebuild", total=None)
        result = node.rebuilder().rebuild(lambda done, total: bar.update(task, completed=done, total=total), check)
    if json_out:
        print_json({"entries": result.entries, "differences": result.differences, "kept": check})
        return
    console.print(_("%(n)s entries replayed") % {"n": result.entries}, highlight=False)
    if check:
        for table, count in sorted(result.differences.items()):
            console.print("  " + _("%(table)s: %(n)s rows differ") % {"table": table, "n": count}, highlight=False)
        if not result.differences:
            console.print(_("the replayed tables equal the live ones, row for row"), highlight=False)
    if check and result.differences:
        raise typer.Exit(6)
