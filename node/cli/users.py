"""`yiwang users add | list | disable | passwd`: the node's operator accounts and API clients.

The CLI runs on the node's machine with access to its data directory and so acts as the
administrator; it makes accounts (a password, Argon2id-hashed) and API clients (a token shown
once, for window software and department systems).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from node.cli.common import DataDir, JsonOut, _, console, opened, print_json, table
from node.domain.errors import InvalidInput
from node.domain.roles import ROLE_LABELS, Role, parse_roles
from node.pages import words

app = typer.Typer(help="Operator accounts and API clients of this node, with their roles.", no_args_is_help=True)

Roles = Annotated[
    list[str],
    typer.Option("--role", help=f"Repeat: {', '.join(f'{r.value} ({ROLE_LABELS[r]})' for r in Role)}"),
]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from the first line of standard input")
]


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise InvalidInput("--password-stdin", "standard input is empty")
        return line.rstrip("\n")
    if not sys.stdin.isatty():
        raise InvalidInput("password", "no terminal to ask on: use --password-stdin")
    return str(typer.prompt("password", hide_input=True, confirmation_prompt=True))


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The account's or client's name, recorded as the actor")],
    roles: Roles,
    client: Annotated[bool, typer.Option("--client", help="An API client: prints its token, once")] = False,
    password_stdin: PasswordStdin = False,
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Add an operator account, or with --client an API client and its bearer token."""
    granted = parse_roles(roles)
    with opened(data_dir) as node:
        if client:
            principal, token = node.principals.add_client(name, granted)
        else:
            principal, token = node.principals.add_user(name, granted, _password(password_stdin)), ""
    result = {"name": principal.name, "kind": principal.kind, "roles": sorted(principal.roles), "token": token}
    if json_out:
        print_json(result)
    elif token:
        console.print(_("client %(name)s added; its token, shown this once:") % {"name": name}, highlight=False)
        console.print(token, highlight=False)
    else:
        held = "、".join(_(words.ROLE[r]) for r in sorted(granted))
        console.print(_("account %(name)s added (%(roles)s)") % {"name": name, "roles": held}, highlight=False)


@app.command("list")
def list_(data_dir: DataDir = None, json_out: JsonOut = False) -> None:
    """Every account and client, its roles and whether it is disabled."""
    with opened(data_dir) as node:
        rows = node.principals.list()
    if json_out:
        print_json([{"name": p.name, "kind": p.kind, "roles": sorted(p.roles), "disabled": off} for p, off in rows])
        return
    table(
        _("Accounts and clients"),
        [_("Name"), _("Kind"), _("Roles"), _("Disabled")],
        [
            (
                p.name,
                _("client") if p.kind == "client" else _("operator"),
                "、".join(f"{_(words.ROLE[r])} ({r})" for r in sorted(p.roles)),
                _("yes") if off else "",
            )
            for p, off in rows
        ],
    )


@app.command("disable")
def disable(name: Annotated[str, typer.Argument()], data_dir: DataDir = None) -> None:
    """Disable an account or client: its password stops working at once, a running node refuses its token within 5 s."""
    with opened(data_dir) as node:
        node.principals.disable(name)
    console.print(_("%(name)s disabled") % {"name": name}, highlight=False)


@app.command("passwd")
def passwd(
    name: Annotated[str, typer.Argument()], password_stdin: PasswordStdin = False, data_dir: DataDir = None
) -> None:
    """Set an operator account's password."""
    with opened(data_dir) as node:
        node.principals.passwd(name, _password(password_stdin))
    console.print(_("password of %(name)s changed") % {"name": name}, highlight=False)
