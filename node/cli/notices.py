"""`yiwang notice send | list`: addressed notices between offices, anywhere in the federation."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from node.cli.common import DataDir, JsonOut, _, console, opened, print_json, table

app = typer.Typer(help="Notices addressed to another node (delivered through the federation).", no_args_is_help=True)


@app.command("send")
def send(
    to: Annotated[str, typer.Option("--to", help="The addressee's 12-digit division code")],
    title: Annotated[str, typer.Option("--title", help="One line")],
    text: Annotated[str, typer.Argument(help="The notice's text (no personal data)")] = "",
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Write a notice addressed to another node; the running node hands it on."""
    with opened(data_dir) as node:
        sent = node.mail.send_notice(to, title, text)
    result = {"from": sent.origin, "to": to, "seq": sent.seq}
    if json_out:
        print_json(result)
        return
    console.print(
        _("notice %(seq)s to %(to)s written; it leaves with the next link exchange") % {"seq": sent.seq, "to": to}
    )


@app.command("list")
def list_(
    limit: Annotated[int, typer.Option(help="At most this many, newest first")] = 50,
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Notices this node sent, relayed or received, and where each one is."""
    with opened(data_dir) as node:
        notices = node.mail.notices(limit)
    if json_out:
        print_json(notices)
        return
    table(
        _("Notices"),
        [_("Sent"), _("From"), _("To"), _("State"), _("Title")],
        [
            (
                dt.datetime.fromtimestamp(n["sent_at_us"] / 1e6, dt.UTC).strftime("%Y-%m-%d %H:%M"),
                n["from"],
                n["to"],
                n["state"] + (f" (waiting for {n['waiting_for']})" if n["waiting_for"] else ""),
                n["title"],
            )
            for n in notices
        ],
    )
