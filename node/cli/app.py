"""The `yiwang` root command. It imports a command's module only when that command runs: the
root's help comes from the table below, so `yiwang --help` and a command's start-up import only
what that command needs (a village node runs on one small machine, issue 13).
tests/test_cli_startup.py checks the table against the commands it names."""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from typing import Any

import typer
from typer.core import DEFAULT_MARKUP_MODE, TyperCommand, TyperGroup

from node.domain.errors import YiwangError
from node.startup import settle_after_startup

HELP = "yiwang (一网): the node of a five-tier government service federation."


@dataclass(frozen=True)
class Entry:
    """A root command: its name, where it is defined (a function or a typer.Typer group) and the
    one line the root's help shows for it (the same line its own help starts with)."""

    name: str
    module: str
    attr: str
    summary: str


COMMANDS = (
    Entry(
        "init",
        "node.cli.init",
        "init",
        "Create a node: data directory, config, key, database; a province makes its root certificate (with --suite sm2, for the national algorithms), a child with --parent and --token enrolls with its parent and takes its province's suite.",  # noqa: E501
    ),
    Entry(
        "run",
        "node.cli.federation",
        "run",
        "Serve the federation, enrollment and local API ports and keep the link to the parent, until SIGTERM or Ctrl-C.",  # noqa: E501
    ),
    Entry(
        "status",
        "node.cli.federation",
        "status",
        "The node, its certificate, the parent link and the children last seen.",
    ),
    Entry(
        "versions",
        "node.cli.federation",
        "versions",
        "The yiwang version each node of this node's subtree runs, as each announced it (the province: every node of the province that has run since it was installed).",  # noqa: E501
    ),
    Entry(
        "sync",
        "node.cli.federation",
        "sync",
        "Fetch everything the parent holds of this node's ancestors' public streams (catalog, calendars, certificates), then return; `yiwang run` keeps it current afterwards.",  # noqa: E501
    ),
    Entry(
        "upgrade",
        "node.cli.maintenance",
        "upgrade",
        "Apply the schema migrations the node's database lacks (back it up first); `yiwang run` and every other command refuse a database that is behind.",  # noqa: E501
    ),
    Entry(
        "backup",
        "node.cli.backup",
        "backup",
        "Back up the node while it runs: its database as of one moment, key, certificates and settings.",
    ),
    Entry(
        "restore",
        "node.cli.backup",
        "restore",
        "Bring a node back from a backup into a new or empty data directory; every member is checked before anything is written.",  # noqa: E501
    ),
    Entry(
        "rebuild",
        "node.cli.maintenance",
        "rebuild",
        "Empty the derived tables (cases, catalog, calendars, revocations, roots) and replay the log into them; all or nothing.",  # noqa: E501
    ),
    Entry(
        "report",
        "node.cli.report",
        "report",
        "Write the statistics report (in Chinese, charts inline, nothing fetched when opened).",
    ),
    Entry("catalog", "node.cli.catalog", "app", "The service item catalog (事项目录)."),
    Entry("case", "node.cli.cases", "app", "Cases (办件): file, move through the lifecycle, follow."),
    Entry("calendar", "node.cli.calendar", "app", "The working-day calendar."),
    Entry(
        "divisions",
        "node.cli.divisions",
        "app",
        "The division tree: the national one to county level, the province's below.",
    ),
    Entry("config", "node.cli.config", "app", "The node's settings (yiwang.toml and YIWANG_* variables)."),
    Entry("audit", "node.cli.audit", "app", "Verify the log; who saw applicants in full."),
    Entry("enroll", "node.cli.federation", "enroll_app", "Certify children: one-time tokens and revocations."),
    Entry("keys", "node.cli.federation", "keys_app", "The node's key and certificate."),
    Entry("anchors", "node.cli.federation", "anchors_app", "Peer provinces whose roots this province trusts."),
    Entry("alarms", "node.cli.alarms", "app", "Alarms: this node's own, and electronic supervision (电子监察)."),
    Entry("review", "node.cli.review", "app", "好差评 follow-up: 差评 callbacks (回访) and rectifications (整改)."),
    Entry(
        "joint",
        "node.cli.joint",
        "app",
        "Joint review (并联审批 / 纵横联审): open a case's review, answer as a co-reviewing department, the queue.",
    ),
    Entry("sim", "node.cli.sim", "sim_app", "A local federation of real processes for a branch of the division tree."),
    Entry("notice", "node.cli.notices", "app", "Notices addressed to another node (delivered through the federation)."),
    Entry("mail", "node.cli.mail", "app", "Addressed copies the next hop refused (dead letters)."),
    Entry("stats", "node.cli.stats", "app", "Case figures of this node's subtree (统计)."),
    Entry("license", "node.cli.licenses", "app", "Electronic licences: list, export, verify offline."),
    Entry("users", "node.cli.users", "app", "Operator accounts and API clients of this node, with their roles."),
    Entry("bus", "node.cli.bus", "app", "Accounts on the node's event bus (NATS)."),
)


def load(entry: Entry) -> Any:
    """The command `entry` names, imported now (a click command of the click typer vendors)."""
    target = getattr(importlib.import_module(entry.module), entry.attr)
    wrapper = typer.Typer(add_completion=False)
    if isinstance(target, typer.Typer):
        wrapper.add_typer(target, name=entry.name)
        group = typer.main.get_command(wrapper)
        assert isinstance(group, TyperGroup)
        return group.commands[entry.name]
    wrapper.command(entry.name)(target)  # a one-command app is that command
    return typer.main.get_command(wrapper)


class Root(TyperGroup):
    """The root group: each command a placeholder with its summary until it is the one invoked."""

    def __init__(self) -> None:
        super().__init__(name="yiwang", help=HELP, no_args_is_help=True, rich_markup_mode=DEFAULT_MARKUP_MODE)
        self.entries = {e.name: e for e in COMMANDS}
        self.loaded: set[str] = set()
        for e in COMMANDS:
            self.add_command(TyperCommand(e.name, help=e.summary), e.name)

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        entry = self.entries.get(args[0]) if args else None
        if entry is not None and entry.name not in self.loaded:
            self.commands[entry.name] = load(entry)
            self.loaded.add(entry.name)
            settle_after_startup()
        return super().resolve_command(ctx, args)


def command() -> TyperGroup:
    """The root with every command loaded (for tests and tools that walk the whole CLI)."""
    root = Root()
    for e in COMMANDS:
        root.commands[e.name] = load(e)
        root.loaded.add(e.name)
    return root


def main() -> None:
    try:
        Root().main(prog_name="yiwang")
    except YiwangError as exc:
        from node.cli.common import fail

        fail(exc)
    sys.exit(0)


if __name__ == "__main__":
    main()
