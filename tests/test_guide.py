"""Every command the operator guide shows exists as it is written (issue 13): each `yiwang ...`
line of the guide's code blocks names a command of the CLI, and every option it passes is one
that command has. What the commands do is tested where each is built."""

from __future__ import annotations

import re
from typing import Any

from node.cli.app import command as root_command
from tests.conftest import ROOT


def guide_commands() -> list[str]:
    text = (ROOT / "docs" / "operator-guide.md").read_text(encoding="utf-8")
    lines = []
    for block in re.findall(r"```\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("yiwang "):
                lines.append(line)
    return lines


def resolve(words: list[str]) -> tuple[Any, list[str]]:
    """The command a line names, and the words after its name."""
    command: Any = root_command()
    rest = list(words)
    while hasattr(command, "commands") and rest and not rest[0].startswith("-"):
        sub = command.commands.get(rest[0])
        if sub is None:
            break
        command, rest = sub, rest[1:]
    return command, rest


def test_every_command_of_the_guide_exists_with_the_options_it_is_shown_with() -> None:
    lines = guide_commands()
    assert len(lines) >= 30  # the guide shows its commands in code blocks
    problems = []
    for line in lines:
        command, rest = resolve(line.split()[1:])
        if hasattr(command, "commands") and not getattr(command, "invoke_without_command", False):
            problems.append(f"{line}: names no command")
            continue
        options = {o for p in command.params for o in [*p.opts, *getattr(p, "secondary_opts", [])]}
        options |= {"--help"}
        problems += [f"{line}: {w.split('=')[0]}" for w in rest if w.startswith("-") and w.split("=")[0] not in options]
    assert not problems, "\n".join(problems)
