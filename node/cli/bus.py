"""`yiwang bus user add | list`: subscribe-only accounts on the nats-server this node starts."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Annotated

import typer

from federation.wire.certs import to_pem
from node.app.bus_accounts import BusAccounts
from node.app.runfile import read_run_file
from node.cli.common import DataDir, JsonOut, console, opened, print_json, process_alive

app = typer.Typer(help="Accounts on the node's event bus (NATS).", no_args_is_help=True)
user_app = typer.Typer(help="Subscribe-only accounts for department systems.", no_args_is_help=True)
app.add_typer(user_app, name="user")


@user_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The department system's account name")],
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Add a subscribe-only account: it reads the YIWANG stream and publishes nothing on yiwang.>.
    Its password is shown this once; a running node's server takes it at once."""
    with opened(data_dir) as node:
        folder = node.settings.data_dir / "nats"
        accounts = BusAccounts.load(folder)
        password = accounts.add_subscriber(name)
        accounts.save(folder)
        run = read_run_file(node.settings.data_dir)
    url = ""
    if run is not None and "nats" in run and "nats_pid" in run and process_alive(int(run["pid"])):
        url = str(run["nats"])
        port = int(url.rsplit(":", 1)[1])
        conf = accounts.write_config(port, folder)
        pid = int(run["nats_pid"])
        try:  # only a nats-server of this data directory: a stale pid may belong to anyone now
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            cmdline = b""
        if b"nats-server" in cmdline and str(conf).encode() in cmdline:
            os.kill(pid, signal.SIGHUP)  # the server reloads its accounts
    result = {"user": name, "password": password, "url": url}
    if json_out:
        print_json(result)
    else:
        console.print(f"bus account {name} added; its password, shown this once:\n{password}", highlight=False)


@user_app.command("list")
def list_(data_dir: DataDir = None, json_out: JsonOut = False) -> None:
    """The subscribe-only accounts (names only)."""
    with opened(data_dir) as node:
        names = sorted(BusAccounts.load(node.settings.data_dir / "nats").subscribers)
    if json_out:
        print_json(names)
    else:
        for name in names:
            console.print(name, highlight=False)


@app.command("cert")
def cert(data_dir: DataDir = None) -> None:
    """The node's certificate chain (PEM, leaf first): its key verifies the signatures on the
    node's bus messages (docs/protocol.md, "Checking a bus message"). A node not enrolled yet
    prints its public key."""
    with opened(data_dir) as node:
        identity = node.identity()
        if identity is None:
            typer.echo("# no certificate yet: the node's public key", err=True)
            typer.echo(node.key.public_key.pem.decode(), nl=False)
            return
    typer.echo(to_pem(list(identity.chain)).decode(), nl=False)
