"""`yiwang audit`: verify the log's hash chains and signed heads; who saw applicants in full."""

from __future__ import annotations

from typing import Annotated

import typer

from node import logs
from node.cli.common import DataDir, JsonOut, _, err_console, fmt_us, opened, print_json, table

app = typer.Typer(help="Verify the log; who saw applicants in full.", no_args_is_help=True)


@app.command("reveals")
def reveals(
    case_no: Annotated[str, typer.Option("--case", help="Only this case")] = "",
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 100,
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Who saw an applicant's data or material files in full, when and through what (cli, web)."""
    with opened(data_dir) as node:
        reveals = node.cases.reveals(case_no, limit)
    if json_out:
        print_json(reveals)
        return
    table(
        _("Reveals (%(n)s shown)") % {"n": len(reveals)},
        [_("When"), _("Case"), _("By"), _("What"), _("Through")],
        [(fmt_us(r.at_us), r.case_no, r.actor, r.what, r.via) for r in reveals],
    )


@app.command("verify")
def verify(data_dir: DataDir = None, json_out: JsonOut = False) -> None:
    """Recompute every hash chain and check every signed head; exit 6 on the first fault."""
    with opened(data_dir) as node:
        reports = node.audit.verify()
    faults = [r.fault for r in reports if r.fault is not None]
    if json_out:
        print_json({"ok": not faults, "streams": reports})
    else:
        table(
            _("Audit"),
            [_("Origin"), _("Stream"), _("Entries"), _("Signed heads"), _("Result")],
            [
                (
                    r.origin,
                    r.stream,
                    r.entries,
                    r.heads,
                    _("ok")
                    if r.fault is None
                    else _("BAD at seq %(seq)s: %(reason)s") % {"seq": r.fault.seq, "reason": r.fault.reason},
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
