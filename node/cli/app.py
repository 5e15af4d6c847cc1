"""The `yiwang` root command: init, audit, and the command groups."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Annotated, Any

import typer

from federation.transport.enrollment import enroll_with_parent
from federation.wire.keys import NodeKey
from node import logs
from node.cli import (
    alarms,
    backup,
    bus,
    calendar,
    cases,
    catalog,
    config,
    divisions,
    federation,
    licenses,
    mail,
    maintenance,
    notices,
    report,
    review,
    sim,
    stats,
    users,
)
from node.cli.common import (
    DataDir,
    JsonOut,
    _,
    console,
    err_console,
    fmt_us,
    opened,
    print_json,
    run_cli,
    table,
)
from node.cli.common import data_dir as resolve_dir
from node.context import Node, settle_after_startup
from node.domain.divisions import DivisionCode
from node.domain.errors import InvalidInput, SetupError, YiwangError
from node.services.enrollment import Token

app = typer.Typer(
    help="yiwang (一网): the node of a five-tier government service federation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(catalog.app, name="catalog")
app.add_typer(cases.app, name="case")
app.add_typer(calendar.app, name="calendar")
app.add_typer(divisions.app, name="divisions")
app.add_typer(config.app, name="config")
audit_app = typer.Typer(help="Verify the log; who saw applicants in full.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
app.add_typer(federation.enroll_app, name="enroll")
app.add_typer(federation.keys_app, name="keys")
app.add_typer(alarms.app, name="alarms")
app.add_typer(review.app, name="review")
app.add_typer(federation.anchors_app, name="anchors")
app.add_typer(sim.sim_app, name="sim")
app.add_typer(notices.app, name="notice")
app.add_typer(mail.app, name="mail")
app.add_typer(stats.app, name="stats")
app.add_typer(licenses.app, name="license")
app.add_typer(users.app, name="users")
app.add_typer(bus.app, name="bus")
app.command("upgrade")(maintenance.upgrade)
app.command("backup")(backup.backup)
app.command("restore")(backup.restore)
app.command("rebuild")(maintenance.rebuild)
app.command("report")(report.report)
app.registered_commands.extend(federation.run_app.registered_commands)


@app.command("init")
def init(
    code: Annotated[str, typer.Option(help="12-digit division code this node serves")],
    parent: Annotated[str, typer.Option(help="HOST:PORT of the parent's federation port")] = "",
    token: Annotated[str, typer.Option(help="One-time enrollment token from the parent's operator")] = "",
    listen: Annotated[str, typer.Option(help="Federation port (mutual TLS); port 0 picks one")] = "127.0.0.1:7400",
    enroll_listen: Annotated[str, typer.Option(help="Enrollment port for this node's children")] = "127.0.0.1:7401",
    api_listen: Annotated[str, typer.Option(help="Local NodeService port")] = "127.0.0.1:7402",
    web_listen: Annotated[str, typer.Option(help="Web port (statistics page), e.g. 127.0.0.1:7403; empty: none")] = "",
    database_url: Annotated[str, typer.Option(help="PostgreSQL URL; empty: SQLite in the data directory")] = "",
    name: Annotated[str, typer.Option(help="Division name [default: from the division data]")] = "",
    profile: Annotated[str, typer.Option(help="province, city, county, township or village [default: the tier]")] = "",
    sync: Annotated[bool, typer.Option(help="After enrolling, fetch the ancestors' catalog from the parent")] = True,
    bus: Annotated[bool, typer.Option(help="Publish to the event bus (NATS) when running")] = True,
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Create a node: data directory, config, P-256 key, database; a province makes its root
    certificate, a child with --parent and --token enrolls with its parent."""
    path = resolve_dir(data_dir)
    division = DivisionCode.parse(code, "--code")
    key, chain = None, []
    if parent or token:
        if not (parent and token):
            raise InvalidInput("--parent", "--parent and --token go together")
        if (path / "yiwang.toml").exists():
            raise SetupError(f"{path} already holds a node; use another --data-dir or remove it")
        host = parent.rsplit(":", 1)[0]
        key = NodeKey.generate()
        chain = enroll_with_parent(host, Token.decode(token), division, key, dt.datetime.now(dt.UTC))
    fed = {
        "listen": listen,
        "enroll_listen": enroll_listen,
        "api_listen": api_listen,
        "web_listen": web_listen,
        "parent": parent,
    }
    node = Node.init(path, code, database_url, name, profile, key=key, chain=chain, federation=fed, bus=bus)
    identity = node.identity()
    info: dict[str, Any] = {
        "data_dir": str(path),
        "code": node.code,
        "name": node.name,
        "tier": node.settings.tier.label,
        "key_id": node.key.key_id.hex(),
        "database": node.settings.effective_database_url,
        "certificate_until": None if identity is None else identity.not_after.isoformat(),
    }
    try:
        if parent and sync:
            try:
                info["ancestor_entries"] = federation.sync_with_parent(node, 600.0, json_out)
            except YiwangError as exc:  # enrolled all the same: `yiwang run` catches up
                err_console.print(f"warning: {exc}; `yiwang sync` or `yiwang run` will fetch the catalog later")
    finally:
        node.close()
    if json_out:
        print_json(info)
    else:
        until = identity.not_after.date() if identity is not None else None
        enrolled = f", certified until {until}" if until else ""
        if "ancestor_entries" in info:
            enrolled += f"; {info['ancestor_entries']} ancestor entries fetched"
        console.print(
            f"node {info['code']} {info['name']} ({info['tier']}) initialised in {path}{enrolled}", highlight=False
        )


@audit_app.command("reveals")
def audit_reveals(
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


def main() -> None:
    settle_after_startup()
    run_cli(lambda: app(prog_name="yiwang"))
    sys.exit(0)


if __name__ == "__main__":
    main()
