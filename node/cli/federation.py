"""`yiwang run | status | enroll | keys | alarms`: the federation commands."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from node.cli.common import (
    DataDir,
    JsonOut,
    _,
    at_us,
    console,
    data_dir,
    fmt_time,
    opened,
    print_json,
    process_alive,
    table,
)
from node.domain.cursors import UNCHECKED
from node.domain.errors import InvalidInput, SetupError

if TYPE_CHECKING:
    from federation.wire.identity import Identity
    from node.context import Node

run_app = typer.Typer()
enroll_app = typer.Typer(help="Certify children: one-time tokens and revocations.", no_args_is_help=True)
keys_app = typer.Typer(help="The node's key and certificate.", no_args_is_help=True)


@run_app.command("run")
def run(
    ping_every: Annotated[float, typer.Option(help="Seconds between pings on the parent link")] = 5.0,
    data_dir_: DataDir = None,
) -> None:
    """Serve the federation, enrollment and local API ports and keep the link to the parent,
    until SIGTERM or Ctrl-C."""
    # the serving process is node.cli.serve in this one's place (the same PID): it holds none
    # of the command line's libraries
    path = data_dir(data_dir_)
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, "-m", "node.cli.serve", str(path), repr(ping_every)])


def sync_with_parent(node: Node, timeout: float, quiet: bool) -> int:
    """Fetch the ancestors' public streams from the parent once, with a progress bar."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from node.app.bootstrap import catch_up

    if not node.settings.parent:
        raise InvalidInput("sync", "this node has no parent (federation.parent) to fetch from")
    columns = (TextColumn("fetching the ancestors' catalog"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, disable=quiet) as bar:
        task = bar.add_task("sync", total=None)
        return catch_up(
            node, node.settings.parent, lambda done, total: bar.update(task, completed=done, total=total), timeout
        )


@run_app.command("sync")
def sync(
    timeout: Annotated[float, typer.Option(help="Give up after this many seconds")] = 600.0,
    data_dir_: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Fetch everything the parent holds of this node's ancestors' public streams (catalog,
    calendars, certificates), then return; `yiwang run` keeps it current afterwards."""
    with opened(data_dir_) as node:
        entries = sync_with_parent(node, timeout, json_out)
        with node.store.read() as tx:
            items = tx.row_counts()["catalog_items"]
    if json_out:
        print_json({"entries": entries, "catalog_items": items})
    else:
        console.print(
            _("caught up: %(entries)s ancestor entries, %(items)s catalog items held")
            % {"entries": entries, "items": items}
        )


@run_app.command("versions")
def versions(
    within: Annotated[str, typer.Option(help="Only this division's subtree [default: this node's]")] = "",
    version: Annotated[str, typer.Option(help="Only the nodes that run this version")] = "",
    data_dir_: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """The yiwang version each node of this node's subtree runs, as each announced it (the
    province: every node of the province that has run since it was installed)."""
    from node.domain.divisions import DivisionCode

    with opened(data_dir_) as node:
        root = DivisionCode.parse(within, "--within") if within else None
        found = [v for v in node.software.versions(root) if not version or v.version == version]
    if json_out:
        print_json(found)
        return
    counts: dict[str, int] = {}
    for v in found:
        counts[v.version] = counts.get(v.version, 0) + 1
    summary = ", ".join(f"{k}: {n}" for k, n in sorted(counts.items()))
    table(
        _("Versions (%(summary)s)") % {"summary": summary or _("none announced")},
        [_("Code"), _("Division"), _("Version"), _("Announced")],
        [(v.code, v.name, v.version, fmt_time(v.since)) for v in found],
        nowrap=(0,),
    )


def recovering(behind: dict[str, int]) -> str:
    """What `status` says of a node that may not write yet (node.domain.cursors.behind_problem)."""
    if UNCHECKED in behind:
        return _("refused: restored from a backup, not yet checked with the parent")
    streams = ", ".join(f"{s} ≤ {q}" for s, q in sorted(behind.items()))
    return _("refused: getting its own entries back from the parent (%(streams)s)") % {"streams": streams}


@run_app.command("status")
def status(data_dir_: DataDir = None, json_out: JsonOut = False) -> None:
    """The node, its certificate, the parent link and the children last seen."""
    from node.app.runfile import read_run_file

    with opened(data_dir_) as node:
        identity = node.identity()
        health = node.health.snapshot()
        alarms, bus_lag = sum(health.alarms.values()), health.bus_unpublished
        run_file = read_run_file(node.settings.data_dir)
    running = run_file is not None and process_alive(int(run_file["pid"]))
    info: dict[str, Any] = {
        "code": node.code,
        "name": node.name,
        "tier": node.settings.tier.label,
        "version": health.version,
        "suite": node.key.suite.alg,
        "running": running,
        "ports": {k: v for k, v in (run_file or {}).items() if k not in ("pid", "started_at")},
        "certificate": None
        if identity is None
        else {
            "not_after": identity.not_after,
            "root": identity.root.subject.rfc4514_string(),
            "days_left": (identity.not_after - node.now()).days,
        },
        "parent": node.settings.parent,
        "peers": [
            {
                "code": p.code,
                "role": p.role,
                "state": p.state,
                "last_seen": at_us(p.last_seen_us),
                "error": p.error,
                "address": p.address,
                "last_batch_sent": at_us(p.sent_at_us),
                "last_acknowledged": at_us(p.acked_at_us),
                "lag_entries": p.lag_entries,
                "lag_seconds": p.lag_seconds,
                "restarts": p.restarts,
                "certificate_until": at_us(p.certificate_until_us),
                "software": p.software,
            }
            for p in health.links
        ],
        "alarms": alarms,
        "recovering": health.recovering,
        "outbox": health.outbox,
        "dead_letters": health.dead_letters,
        "bus": {
            "enabled": node.settings.bus_enabled and node.settings.profile != "village",
            "url": (run_file or {}).get("nats") or node.settings.nats_url,
            "unpublished_entries": bus_lag,  # entries the relay has not yet seen acknowledged
        },
    }
    if json_out:
        print_json(info)
        return
    cert = info["certificate"]
    ports = ", ".join(f"{k} {v}" for k, v in info["ports"].items())
    valid = _("valid until %(day)s (%(n)s days)")
    bus = _("%(url)s, %(n)s entries not yet published")
    rows = [
        (_("node"), f"{node.code} {node.name} ({node.settings.tier.label})"),
        (_("running"), _("yes") + " " + ports if running else _("no")),
        (
            _("certificate"),
            _("none (not enrolled)")
            if cert is None
            else valid % {"day": f"{cert['not_after']:%Y-%m-%d}", "n": cert["days_left"]},
        ),
        (_("crypto suite"), node.key.suite.label + (_(" (TLS: P-256)") if node.key.national else "")),
        (_("alarms"), str(alarms)),
        *([(_("writes"), recovering(health.recovering))] if health.recovering else []),
        (_("version"), str(info["version"])),
        (
            _("addressed copies"),
            _("%(n)s waiting, %(dead)s dead letters") % {"n": info["outbox"], "dead": info["dead_letters"]},
        ),
        (
            _("event bus"),
            bus % {"url": info["bus"]["url"] or _("not running"), "n": bus_lag} if info["bus"]["enabled"] else _("off"),
        ),
    ]
    table(_("Status of %(code)s") % {"code": node.code}, ["", ""], rows, header=False)
    table(
        _("Links"),
        [
            _("Peer"),
            _("Role"),
            _("State"),
            _("Last seen"),
            _("Sent"),
            _("Acknowledged"),
            _("Lag"),
            _("Restarts"),
            _("Version"),
            _("Error"),
        ],
        [
            (
                p["code"],
                p["role"],
                p["state"],
                fmt_time(p["last_seen"]),
                fmt_time(p["last_batch_sent"]),
                fmt_time(p["last_acknowledged"]),
                "" if p["lag_entries"] is None else f"{p['lag_entries']} / {p['lag_seconds']:.0f} s",
                str(p["restarts"]),
                p["software"],
                p["error"],
            )
            for p in info["peers"]
        ],
    )


def _issuer(node: Node) -> Identity:
    identity = node.identity()
    if identity is None:
        raise SetupError("this node has no certificate, so it cannot certify children")
    return identity


@enroll_app.command("token")
def token(
    child: Annotated[str, typer.Option(help="12-digit code of the child to enroll")],
    ttl_hours: Annotated[float, typer.Option("--ttl-hours", help="Hours the token stays valid")] = 24.0,
    data_dir_: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Make a one-time enrollment token for CHILD (give it to the child's operator)."""
    from node.app.runfile import read_run_file

    with opened(data_dir_) as node:
        identity = _issuer(node)
        run_file = read_run_file(node.settings.data_dir) or {}
        port = int(str(run_file.get("enroll") or node.settings.enroll_listen).rsplit(":", 1)[1])
        made = node.enrollment(identity, port).make_token(child, dt.timedelta(hours=ttl_hours))
    text = made.encode()
    if json_out:
        print_json({"child": made.child, "token": text, "expires_at": made.expires_at, "enroll_port": port})
    else:
        console.print(text, highlight=False, soft_wrap=True)


@enroll_app.command("revoke")
def revoke(
    code: Annotated[str, typer.Argument(help="Child whose certificates to revoke")],
    reason: Annotated[str, typer.Option()] = "",
    data_dir_: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Revoke every certificate this node issued to CODE; its running link ends and every
    handshake from then on is refused."""

    with opened(data_dir_) as node:
        identity = _issuer(node)
        count = node.enrollment(identity, 0).revoke(code, reason)
    if json_out:
        print_json({"code": code, "revoked": count})
    else:
        console.print(_("revoked %(n)s certificate(s) of %(code)s") % {"n": count, "code": code}, highlight=False)


@keys_app.command("rotate")
def rotate(data_dir_: DataDir = None, json_out: JsonOut = False) -> None:
    """Renew this node's certificate through its parent with a new key; a running node uses it
    from its next connection."""
    from node.app.renewal import rotate_key

    with opened(data_dir_) as node:
        not_after = rotate_key(node)
    if json_out:
        print_json({"code": node.code, "not_after": not_after})
    else:
        renewed = _("new key and certificate for %(code)s, valid until %(day)s")
        console.print(renewed % {"code": node.code, "day": f"{not_after:%Y-%m-%d}"}, highlight=False)


anchors_app = typer.Typer(help="Peer provinces whose roots this province trusts.", no_args_is_help=True)


@keys_app.command("root")
def root(data_dir_: DataDir = None) -> None:
    """Print this node's province root certificate (PEM), to give to peer provinces."""
    from federation.wire.certs import to_pem

    with opened(data_dir_) as node:
        identity = _issuer(node)
    typer.echo(to_pem([identity.root]).decode(), nl=False)


@anchors_app.command("add")
def anchors_add(
    file: Annotated[Path, typer.Argument(help="The peer province's root certificate (PEM)")],
    dial: Annotated[str, typer.Option(help="Also dial that province: CODE@HOST:PORT of its federation port")] = "",
    data_dir_: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Trust a peer province's root; restart `yiwang run` to take it into TLS."""
    import dataclasses

    from federation.wire.certs import code_of, from_pem
    from federation.wire.identity import add_anchor
    from node.config import load_settings, write_settings
    from node.domain.divisions import DivisionCode, Tier

    try:
        (cert,) = from_pem(file.read_bytes())
    except (OSError, ValueError):
        raise InvalidInput("FILE", f"{file} is not one PEM certificate") from None
    with opened(data_dir_) as node:
        if node.settings.tier != Tier.PROVINCE:
            raise InvalidInput("anchors", "only a province trusts peer provinces")
        peer = code_of(cert)
        if peer == node.settings.code:
            raise InvalidInput("FILE", "that is this province's own root")
        if dial and DivisionCode.parse(dial.partition("@")[0], "--dial") != peer:
            raise InvalidInput("--dial", f"the certificate is {peer}'s root, not {dial.partition('@')[0]}'s")
        fp = add_anchor(node.settings.data_dir, cert)
        settings = load_settings(node.settings.data_dir, environ={})  # the file's: never a YIWANG_* override
        anchors = settings.anchors if fp in settings.anchors else (*settings.anchors, fp)
        peers = tuple(p for p in settings.peers if not p.startswith(peer.code + "@")) + ((dial,) if dial else ())
        write_settings(dataclasses.replace(settings, anchors=anchors, peers=peers))
        identity = node.identity()
        assert identity is not None  # a province has its root
        node.enrollment(identity, 0).publish_anchor(cert)  # for every node of the province
    if json_out:
        print_json({"province": peer.code, "fingerprint": fp, "dial": dial})
    else:
        console.print(
            f"trusting {peer.code}'s root {fp[:16]}...{' and dialling ' + dial if dial else ''}", highlight=False
        )


@anchors_app.command("list")
def anchors_list(data_dir_: DataDir = None, json_out: JsonOut = False) -> None:
    """The peer provinces this province trusts and dials."""
    with opened(data_dir_) as node:
        identity = node.identity()
        roots = [] if identity is None else list(identity.peer_roots)
        peers = node.settings.peers
    from federation.wire.certs import code_of, fingerprint

    items = [
        {
            "province": code_of(r).code,
            "fingerprint": fingerprint(r),
            "dial": next((p for p in peers if p.startswith(code_of(r).code + "@")), ""),
        }
        for r in roots
    ]
    if json_out:
        print_json(items)
        return
    table(
        "anchors",
        ["province", "root fingerprint", "dial"],
        [(i["province"], i["fingerprint"], i["dial"]) for i in items],
    )
