"""`yiwang init`: create a node, a province with its root certificate or a child enrolled with
its parent."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import typer
from cryptography import x509

from federation.transport.enrollment import enroll_with_parent
from federation.wire.keys import NodeKey
from node.cli import federation
from node.cli.common import DataDir, JsonOut, console, err_console, print_json
from node.cli.common import data_dir as resolve_dir
from node.context import Node
from node.domain.divisions import DivisionCode
from node.domain.errors import InvalidInput, SetupError, YiwangError
from node.services.enrollment import Token

SUITE_NAMES = {"p256": "p256-sha256", "sm2": "sm2-sm3"}  # --suite: the registry's ids


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
    suite: Annotated[
        str,
        typer.Option(
            help="A province's crypto suite: p256, or sm2 for the national SM2/SM3/SM4 (a child learns its parent's)"
        ),
    ] = "p256",
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Create a node: data directory, config, key, database; a province makes its root
    certificate (with --suite sm2, for the national algorithms), a child with --parent and
    --token enrolls with its parent and takes its province's suite."""
    if suite not in SUITE_NAMES:
        raise InvalidInput("--suite", f"one of {', '.join(SUITE_NAMES)}")
    path = resolve_dir(data_dir)
    division = DivisionCode.parse(code, "--code")
    key: NodeKey | None = None
    chain: list[x509.Certificate] = []
    if parent or token:
        if not (parent and token):
            raise InvalidInput("--parent", "--parent and --token go together")
        if (path / "yiwang.toml").exists():
            raise SetupError(f"{path} already holds a node; use another --data-dir or remove it")
        host = parent.rsplit(":", 1)[0]
        if suite != "p256":
            raise InvalidInput("--suite", "a child takes its province's suite from its parent; leave --suite out")
        chain, key = enroll_with_parent(
            host, Token.decode(token), division, NodeKey.generate(), dt.datetime.now(dt.UTC)
        )
    elif division.parent() is None:
        key = NodeKey.generate(SUITE_NAMES[suite])
    elif suite != "p256":
        raise InvalidInput("--suite", "only a province chooses its suite; a child takes its parent's at --parent")
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
