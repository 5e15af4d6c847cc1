"""`yiwang mail dead | retry | discard`: addressed copies the next hop refused for good (dead
letters, issue 10). Each waits here with the reason and an alarm; nothing behind it waits."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from node.cli.common import DataDir, JsonOut, _, console, fmt_us, opened, print_json, table
from node.domain.errors import InvalidInput, excerpt
from node.store.mail import Key

app = typer.Typer(help="Addressed copies the next hop refused (dead letters).", no_args_is_help=True)

COPY_HELP = "A copy as `yiwang mail dead` shows it: ORIGIN/STREAM/SEQ/ADDRESSEE"


def key_text(key: Key) -> str:
    return "/".join(str(part) for part in key)


def parse_key(text: str) -> Key:
    parts = text.split("/")
    if len(parts) != 4 or not parts[2].isdigit():
        raise InvalidInput(
            "COPY", f"'{excerpt(text)}' is not ORIGIN/STREAM/SEQ/ADDRESSEE as `yiwang mail dead` shows it"
        )
    return (parts[0], parts[1], int(parts[2]), parts[3])


@app.command("dead")
def dead(
    limit: Annotated[int, typer.Option(help="At most this many, newest first")] = 100,
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Copies the next hop refused for good, with its reason."""
    with opened(data_dir) as node:
        rows = node.mail.dead_letters(limit)
    found: list[dict[str, Any]] = [
        {
            "copy": key_text((r.origin, r.stream, r.seq, r.addressee)),
            "kind": r.kind,
            "subject": r.subject,
            "next_hop": r.next_hop,
            "refused_at_us": r.done_at_us,
            "reason": r.refusal,
        }
        for r in rows
    ]
    if json_out:
        print_json(found)
        return
    if not found:
        console.print(_("no dead letters"))
        return
    table(
        _("Dead letters"),
        [_("Copy"), _("Kind"), _("Refused by"), _("When"), _("Reason")],
        [(f["copy"], f["kind"], f["next_hop"], fmt_us(f["refused_at_us"]), f["reason"]) for f in found],
    )


@app.command("retry")
def retry(
    copies: Annotated[list[str] | None, typer.Argument(help=COPY_HELP)] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every dead letter")] = False,
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Send dead letters again (after the cause is fixed, e.g. a peer province's root anchored)."""
    if bool(copies) == all_:
        raise InvalidInput("COPY", "name the copies to retry, or give --all")
    keys = None if all_ else [parse_key(c) for c in copies or []]
    with opened(data_dir) as node:
        n = node.mail.retry(keys)
    if json_out:
        print_json({"retried": n})
    else:
        console.print(
            _("%(n)s dead letter(s) back in the outbox; a running node sends them with its next exchange") % {"n": n}
        )


@app.command("discard")
def discard(
    copies: Annotated[list[str], typer.Argument(help=COPY_HELP)],
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Give dead letters up: kept on record, never sent again."""
    keys = [parse_key(c) for c in copies]
    with opened(data_dir) as node:
        n = node.mail.discard(keys)
    if json_out:
        print_json({"discarded": n})
    else:
        console.print(_("%(n)s dead letter(s) discarded") % {"n": n})
