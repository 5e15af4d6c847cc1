"""`yiwang backup` and `yiwang restore`: a node in one file, made while it runs, and brought
back into an empty data directory (node.services.backup)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from node.cli.common import DataDir, JsonOut, _, console, data_dir, print_json
from node.config import load_settings


def backup(
    out: Annotated[Path, typer.Option("--out", help="The backup file to write (a new file)")],
    data_dir_: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Back up the node while it runs: its database as of one moment, key, certificates and
    settings. The file holds the node's key: keep it as safe as the key."""
    from node.services.backup import make_backup

    result = make_backup(load_settings(data_dir(data_dir_)), out)
    if json_out:
        print_json(result)
        return
    done = _("%(file)s written: node %(code)s, schema revision %(revision)s, %(rows)s rows, %(size)s bytes")
    values = {"file": result.file, "code": result.code, "revision": result.revision, "rows": result.rows}
    console.print(done % {**values, "size": result.bytes}, highlight=False)


def restore(
    file: Annotated[Path, typer.Argument(help="A file written by `yiwang backup`")],
    target: Annotated[Path, typer.Option("--data-dir", "-d", help="A new or empty data directory")],
    database_url: Annotated[
        str | None,
        typer.Option(
            help='Restore the database there (an empty one) [default: as the backup\'s settings; "" for SQLite]'
        ),
    ] = None,
    json_out: JsonOut = False,
) -> None:
    """Bring a node back from a backup into a new or empty data directory; every member is
    checked before anything is written."""
    from node.services.backup import restore_backup

    result = restore_backup(file, target, database_url)
    if json_out:
        print_json(result)
        return
    done = _("node %(code)s restored into %(dir)s from the backup of %(at)s (%(rows)s rows, database %(db)s)")
    values = {"code": result.code, "dir": result.data_dir, "at": result.made_at, "rows": result.rows}
    console.print(done % {**values, "db": result.database}, highlight=False)
